//! The `bridge` scenario: N concurrent calls through a Twilio <-> ElevenLabs bridge.
//!
//! The load generator plays both ends of every call on one thread: the Twilio side
//! ([`twilio_side`]) streams a stamped 160-byte mu-law frame every 20 ms per call, the
//! simulated agent ([`agent`]) echoes each one with its hold time stamped in, so the
//! added latency of a frame is exactly its round trip minus the agent's hold. It must be
//! lean: each echoed frame costs it the same two sends and two receives as it costs the
//! bridge, so its own CPU is reported with every result.
//!
//! Phases: calls connect over `ramp` seconds; a call counts as established when the
//! agent's greeting reaches the Twilio side, and only then may it stream (a bridge may
//! drop caller audio while it connects to the agent; those frames would not be the
//! bridge's steady-state work). Then every established call streams for `seconds`: the
//! window in which CPU is measured. Then no new frames, while echoes in flight drain;
//! then every call says `stop` and closes.
mod agent;
mod frame;
mod parley;
mod pin;
mod shared;
mod stats;
mod ticks;
mod twilio_side;

use crate::proc_stats::{self, Pid};
use crate::report::{figure, Row};
use crate::BenchError;
use serde::{Deserialize, Serialize};
use shared::{Phase, Shared};
use stats::percentile_ms;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};
use twilio_side::{StreamAuth, Target};

pub const SCENARIO: &str = "bridge";
pub const DEFAULT_CALLS: u64 = 100;
pub const MAX_CALLS: u64 = 20_000;
pub const DEFAULT_SECONDS: f64 = 10.0;
pub const DEFAULT_RAMP: f64 = 2.0;
/// How long calls may take to be established after the ramp.
const SETUP_GRACE: Duration = Duration::from_secs(30);
/// How long echoes in flight may take to arrive after the last frame.
const DRAIN: Duration = Duration::from_secs(2);
const STOP_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct BridgeOptions {
    pub calls: usize,
    /// Length of the measured streaming window.
    pub seconds: f64,
    /// Calls are started evenly over this many seconds.
    pub ramp: f64,
    /// A bridge's media WebSocket (`ws://host:port/path`); `None` measures Parley's own.
    pub target: Option<String>,
    /// Where the simulated agent listens (signed URLs and its WebSocket).
    pub agent_listen: SocketAddr,
    /// The process to sample when measuring a `target`.
    pub bridge_pid: Option<u32>,
    /// Pin the bridge (when started here) to core 0 and the load generator to core 1.
    pub pin: bool,
    /// The `parley` binary, started as `parley serve` when there is no target.
    pub parley_exe: PathBuf,
}

/// The scenario's one result, printed flat as the JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeResult {
    pub scenario: String,
    /// `parley` or the target URL.
    pub target: String,
    pub calls: usize,
    pub established: usize,
    /// Calls that failed to connect or broke before the end.
    pub calls_failed: usize,
    pub seconds: f64,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub frames_lost: u64,
    pub frames_out_of_order: u64,
    /// Round trip minus the agent's hold, per echoed frame.
    pub latency_ms: Latency,
    /// From opening the Twilio socket to the agent's first audio.
    pub setup_ms: Setup,
    pub greetings_received: u64,
    pub interruptions_sent: u64,
    pub clears_received: u64,
    pub pings_sent: u64,
    pub pongs_ok: u64,
    /// Pings with no pong by the time the next was due (2 s).
    pub pongs_missed: u64,
    /// The bridge's CPU over the streaming window, % of one core; null when no process
    /// is known.
    pub bridge_cpu_pct: Option<f64>,
    /// The bridge's peak resident memory (VmHWM).
    pub bridge_rss_mb: Option<f64>,
    /// The bridge's resident memory before the first call.
    pub bridge_idle_rss_mb: Option<f64>,
    /// (peak - idle) / established calls.
    pub bridge_kib_per_call: Option<f64>,
    /// This process (both simulated sides) over the streaming window, % of one core.
    pub loadgen_cpu_pct: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub p50: f64,
    pub p99: f64,
}

impl BridgeResult {
    /// The result as one line of JSON: the flat object the issue specifies.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a result always serializes")
    }
}

impl Row for BridgeResult {
    fn headings() -> &'static [&'static str] {
        &[
            "calls",
            "established",
            "frames sent",
            "lost",
            "out of order",
            "p50 ms",
            "p99 ms",
            "max ms",
            "setup p50 ms",
            "setup p99 ms",
            "clears",
            "pongs missed",
            "bridge CPU %",
            "bridge RSS MB",
            "KiB/call",
            "loadgen CPU %",
        ]
    }

    fn cells(&self) -> Vec<String> {
        let optional = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), figure);
        vec![
            self.calls.to_string(),
            self.established.to_string(),
            self.frames_sent.to_string(),
            self.frames_lost.to_string(),
            self.frames_out_of_order.to_string(),
            figure(self.latency_ms.p50),
            figure(self.latency_ms.p99),
            figure(self.latency_ms.max),
            figure(self.setup_ms.p50),
            figure(self.setup_ms.p99),
            self.clears_received.to_string(),
            self.pongs_missed.to_string(),
            optional(self.bridge_cpu_pct),
            optional(self.bridge_rss_mb),
            optional(self.bridge_kib_per_call),
            figure(self.loadgen_cpu_pct),
        ]
    }
}

/// Runs the scenario on a current-thread runtime of its own: the load generator is this
/// one thread.
pub fn run(options: &BridgeOptions) -> Result<BridgeResult, BenchError> {
    if options.pin {
        pin::check()?;
        pin::this_process(pin::LOADGEN_CORE)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&runtime, measure(options))
}

/// The system under test.
enum Bridge {
    Parley(Box<parley::ParleyBridge>),
    Other { pid: Option<u32> },
}

impl Bridge {
    fn pid(&self) -> Option<u32> {
        match self {
            Bridge::Parley(p) => Some(p.pid),
            Bridge::Other { pid } => *pid,
        }
    }
}

async fn measure(options: &BridgeOptions) -> Result<BridgeResult, BenchError> {
    let shared = Rc::new(Shared::new(options.calls));
    let listener = tokio::net::TcpListener::bind(options.agent_listen).await?;
    let agent_addr = listener.local_addr()?;
    tokio::task::spawn_local(agent::serve(listener, shared.clone()));
    for ticks in [0, 1] {
        let shared = shared.clone();
        tokio::task::spawn_local(async move {
            match ticks {
                0 => shared.frame_ticks.run().await,
                _ => shared.ping_ticks.run().await,
            }
        });
    }

    let (bridge, target_url, streams) = match &options.target {
        Some(url) => {
            let streams = (0..options.calls)
                .map(|i| StreamAuth {
                    call_id: (i + 1).to_string(),
                    token: format!("bench-token-{}", i + 1),
                })
                .collect();
            (
                Bridge::Other {
                    pid: options.bridge_pid,
                },
                url.clone(),
                streams,
            )
        }
        None => {
            let core = options.pin.then_some(pin::BRIDGE_CORE);
            let (parley, streams) =
                parley::ParleyBridge::start(&options.parley_exe, agent_addr, options.calls, core)
                    .await?;
            let url = parley.media_url.clone();
            (Bridge::Parley(Box::new(parley)), url, streams)
        }
    };
    let measured = drive(options, &shared, &bridge, &target_url, streams).await;
    if let Bridge::Parley(parley) = bridge {
        parley.stop().await;
    }
    measured
}

/// Readings of one process at one moment.
struct Sample {
    at: Instant,
    bridge_cpu: Option<Duration>,
    own_cpu: Duration,
}

impl Sample {
    fn take(bridge: Option<u32>) -> Result<Sample, BenchError> {
        Ok(Sample {
            at: Instant::now(),
            bridge_cpu: bridge
                .map(|pid| proc_stats::cpu_time(Pid::Other(pid)))
                .transpose()?,
            own_cpu: proc_stats::cpu_time(Pid::This)?,
        })
    }
}

fn cpu_pct(cpu: Duration, wall: Duration) -> f64 {
    100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
}

async fn drive(
    options: &BridgeOptions,
    shared: &Rc<Shared>,
    bridge: &Bridge,
    target_url: &str,
    streams: Vec<StreamAuth>,
) -> Result<BridgeResult, BenchError> {
    let target = Rc::new(target_of(target_url)?);
    let pid = bridge.pid();
    let idle_rss = pid
        .map(|pid| proc_stats::memory(Pid::Other(pid)))
        .transpose()?
        .map(|m| m.rss);

    // Ramp: calls start evenly spread over `ramp` seconds.
    let started = tokio::time::Instant::now();
    let spacing = Duration::from_secs_f64(options.ramp) / options.calls.max(1) as u32;
    let mut calls = Vec::with_capacity(options.calls);
    for (index, auth) in streams.into_iter().enumerate() {
        tokio::time::sleep_until(started + spacing * index as u32).await;
        calls.push(tokio::task::spawn_local(twilio_side::run_call(
            shared.clone(),
            target.clone(),
            index,
            auth,
        )));
    }
    let all_settled = async {
        loop {
            let settled = {
                let s = shared.stats.borrow();
                s.established + s.failed >= options.calls
            };
            if settled {
                break;
            }
            shared.progress.notified().await;
        }
    };
    let _ = tokio::time::timeout(SETUP_GRACE, all_settled).await;
    if shared.stats.borrow().established == 0 {
        return Err(BenchError::Wrong(format!(
            "no call through {target_url} was established (no agent audio reached the Twilio side)"
        )));
    }

    // The measured window.
    let before = Sample::take(pid)?;
    shared.phase.send_replace(Phase::Streaming);
    tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
    shared.phase.send_replace(Phase::Draining);
    let after = Sample::take(pid)?;

    let drained = async {
        loop {
            let done = {
                let s = shared.stats.borrow();
                s.frames_received >= s.frames_sent
            };
            if done {
                break;
            }
            shared.progress.notified().await;
        }
    };
    let _ = tokio::time::timeout(DRAIN, drained).await;
    shared.phase.send_replace(Phase::Stopping);
    let _ = tokio::time::timeout(STOP_WAIT, futures::future::join_all(calls)).await;
    let peak_rss = pid
        .map(|pid| proc_stats::memory(Pid::Other(pid)))
        .transpose()
        .ok()
        .flatten()
        .map(|m| m.peak_rss);

    let wall = after.at - before.at;
    let stats = shared.stats.borrow();
    let mut setup = stats.setup.clone();
    setup.sort_unstable();
    let kib_per_call = match (peak_rss, idle_rss) {
        (Some(peak), Some(idle)) => {
            Some(peak.saturating_sub(idle) as f64 / 1024.0 / stats.established as f64)
        }
        _ => None,
    };
    Ok(BridgeResult {
        scenario: SCENARIO.to_owned(),
        target: options
            .target
            .clone()
            .unwrap_or_else(|| "parley".to_owned()),
        calls: options.calls,
        established: stats.established,
        calls_failed: stats.failed,
        seconds: wall.as_secs_f64(),
        frames_sent: stats.frames_sent,
        frames_received: stats.frames_received,
        frames_lost: stats.frames_sent.saturating_sub(stats.frames_received),
        frames_out_of_order: stats.frames_out_of_order,
        latency_ms: Latency {
            p50: stats.latency.quantile_ms(0.50),
            p99: stats.latency.quantile_ms(0.99),
            max: stats.latency.max_ms(),
        },
        setup_ms: Setup {
            p50: percentile_ms(&setup, 0.50),
            p99: percentile_ms(&setup, 0.99),
        },
        greetings_received: stats.greetings_received,
        interruptions_sent: stats.interruptions_sent,
        clears_received: stats.clears_received,
        pings_sent: stats.pings_sent,
        pongs_ok: stats.pongs_ok,
        pongs_missed: stats.pongs_missed,
        bridge_cpu_pct: match (before.bridge_cpu, after.bridge_cpu) {
            (Some(b), Some(a)) => Some(cpu_pct(a.saturating_sub(b), wall)),
            _ => None,
        },
        bridge_rss_mb: peak_rss.map(proc_stats::mib),
        bridge_idle_rss_mb: idle_rss.map(proc_stats::mib),
        bridge_kib_per_call: kib_per_call,
        loadgen_cpu_pct: cpu_pct(after.own_cpu.saturating_sub(before.own_cpu), wall),
    })
}

/// Checks a `ws://host:port/path` URL and finds the address to connect to.
fn target_of(url: &str) -> Result<Target, BenchError> {
    let parsed =
        url::Url::parse(url).map_err(|e| BenchError::Wrong(format!("bad --target {url}: {e}")))?;
    if parsed.scheme() != "ws" {
        return Err(BenchError::Wrong(format!(
            "--target must be a ws:// URL (the load generator speaks plain WebSocket): {url}"
        )));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| BenchError::Wrong(format!("--target has no host: {url}")))?;
    let port = parsed.port().unwrap_or(80);
    Ok(Target {
        url: url.to_owned(),
        addr: format!("{host}:{port}"),
    })
}

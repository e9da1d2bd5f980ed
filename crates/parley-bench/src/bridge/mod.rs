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
mod conn;
mod event_loop;
mod frame;
mod http;
mod parley;
mod pin;
mod stats;
mod twilio_side;
mod ws;

use crate::proc_stats::{self, AnonPeak, Pid};
use crate::report::{figure, Row};
use crate::BenchError;
use event_loop::EventLoop;
use serde::{Deserialize, Serialize};
pub(crate) use stats::percentile_ms;
use stats::Stats;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use twilio_side::{StreamAuth, Target};

pub const SCENARIO: &str = "bridge";
pub const DEFAULT_CALLS: u64 = 100;
pub const MAX_CALLS: u64 = 20_000;
pub const DEFAULT_SECONDS: f64 = 10.0;
pub const DEFAULT_RAMP: f64 = 2.0;
/// How long calls may take to be established after the ramp.
const SETUP_GRACE: Duration = Duration::from_secs(30);
/// The largest message either side accepts; every message here is far smaller.
const MAX_MESSAGE: usize = 16 * 1024;
/// How long echoes in flight may take to arrive after the last frame.
const DRAIN: Duration = Duration::from_secs(2);
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How often the bridge's anonymous memory is read while calls run (a read costs the
/// load generator some tens of microseconds).
const ANON_SAMPLE_EVERY: Duration = Duration::from_millis(100);

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
    /// Start Parley with `metrics.enabled = false` (no recorder: what the instrumentation
    /// costs is the difference to a run with it).
    pub no_metrics: bool,
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
    /// The bridge's highest anonymous memory (RssAnon: heap and stacks) while calls ran.
    pub bridge_anon_mb: Option<f64>,
    /// Its anonymous memory before the first call.
    pub bridge_idle_anon_mb: Option<f64>,
    /// (anon - idle anon) / established calls: what each call holds. Not from RSS, which
    /// also counts the executable's pages, read in once (some of them while the first
    /// calls run) however many calls there are.
    pub bridge_kib_per_call: Option<f64>,
    /// This process (both simulated sides) over the streaming window, % of one core.
    pub loadgen_cpu_pct: f64,
    /// How late the load generator's 1 ms clock ran while streaming: its own delay on
    /// the frames it sends, a sign of it nearing saturation.
    pub loadgen_lag_ms: Lag,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    pub p99: f64,
    pub max: f64,
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
            "loadgen lag p99 ms",
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
            figure(self.loadgen_lag_ms.p99),
        ]
    }
}

/// Runs the scenario. Parley's bridge is prepared and started on a small tokio runtime;
/// the load generator itself is [`event_loop::EventLoop`] on this one thread.
pub fn run(options: &BridgeOptions) -> Result<BridgeResult, BenchError> {
    if options.pin {
        pin::check()?;
        pin::this_process(pin::LOADGEN_CORE)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind(options.agent_listen)?;
    let agent_addr = listener.local_addr()?;
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
            let (parley, streams) = runtime.block_on(parley::ParleyBridge::start(
                &options.parley_exe,
                agent_addr,
                options.calls,
                core,
                !options.no_metrics,
            ))?;
            let url = parley.media_url.clone();
            (Bridge::Parley(Box::new(parley)), url, streams)
        }
    };
    let measured = measure(options, listener, &bridge, &target_url, streams);
    if let Bridge::Parley(parley) = bridge {
        runtime.block_on(parley.stop());
    }
    measured
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

/// Time zero of every timestamp in a payload.
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// What a message handler may touch besides its own connection.
pub struct Ctx<'a> {
    pub stats: &'a mut Stats,
    /// The message being written; empty between messages.
    pub out: &'a mut Vec<u8>,
    pub clock: &'a Clock,
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Calls connect; no caller audio yet.
    Connecting,
    /// Every established call sends a frame every 20 ms: what is measured.
    Streaming,
    /// No new frames; echoes still in flight are counted.
    Draining,
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

fn measure(
    options: &BridgeOptions,
    listener: std::net::TcpListener,
    bridge: &Bridge,
    target_url: &str,
    streams: Vec<StreamAuth>,
) -> Result<BridgeResult, BenchError> {
    let target = target_of(target_url)?;
    let pid = bridge.pid();
    let idle = pid
        .map(|pid| proc_stats::memory(Pid::Other(pid)))
        .transpose()?;
    let anon = pid.map(|pid| AnonPeak::new(Pid::Other(pid), ANON_SAMPLE_EVERY));
    let observe = || {
        if let Some(anon) = &anon {
            anon.observe();
        }
    };

    // Ramp: calls start evenly spread over `ramp` seconds.
    let ramp = Duration::from_secs_f64(options.ramp);
    let mut calls = EventLoop::new(listener, target, streams, ramp, Clock::new())?;
    calls.begin_ramp();
    calls.run_until(Instant::now() + ramp + SETUP_GRACE, |l| {
        observe();
        l.all_settled()
    })?;
    if calls.stats.established == 0 {
        return Err(BenchError::Wrong(format!(
            "no call through {target_url} was established (no agent audio reached the Twilio side)"
        )));
    }

    // The measured window.
    let before = Sample::take(pid)?;
    calls.start_streaming();
    let window = Duration::from_secs_f64(options.seconds);
    calls.run_until(Instant::now() + window, |_| {
        observe();
        false
    })?;
    calls.stop_streaming();
    let peak_anon = anon.as_ref().map(AnonPeak::peak);
    let after = Sample::take(pid)?;

    calls.run_until(Instant::now() + DRAIN, |l| {
        l.stats.frames_received >= l.stats.frames_sent
    })?;
    calls.stop_calls();
    calls.run_until(Instant::now() + STOP_WAIT, |l| l.open_calls == 0)?;
    let peak_rss = pid
        .map(|pid| proc_stats::memory(Pid::Other(pid)))
        .transpose()
        .ok()
        .flatten()
        .map(|m| m.peak_rss);

    let wall = after.at - before.at;
    let stats = &mut calls.stats;
    stats.setup.sort_unstable();
    let kib_per_call = match (peak_anon, idle) {
        (Some(peak), Some(idle)) => {
            Some(peak.saturating_sub(idle.anon) as f64 / 1024.0 / stats.established as f64)
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
            p50: percentile_ms(&stats.setup, 0.50),
            p99: percentile_ms(&stats.setup, 0.99),
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
        bridge_idle_rss_mb: idle.map(|m| proc_stats::mib(m.rss)),
        bridge_anon_mb: peak_anon.map(proc_stats::mib),
        bridge_idle_anon_mb: idle.map(|m| proc_stats::mib(m.anon)),
        bridge_kib_per_call: kib_per_call,
        loadgen_cpu_pct: cpu_pct(after.own_cpu.saturating_sub(before.own_cpu), wall),
        loadgen_lag_ms: Lag {
            p99: stats.tick_lag.quantile_ms(0.99),
            max: stats.tick_lag.max_ms(),
        },
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
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| BenchError::Wrong(format!("--target host {host} has no address")))?;
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    Ok(Target {
        addr,
        host: format!("{host}:{port}"),
        path,
    })
}

//! The `pickup` scenario: the dead air a callee hears after answering, before the agent's
//! first word.
//!
//! Calls are placed the way sandbox mode places them, through the Twilio and ElevenLabs
//! simulators, each behind a simulated network with a one-way delay (REST and WebSocket;
//! see [`parley_sim::net_delay`]). Per call, the Twilio simulator records when it requested
//! the TwiML and when the first frame of agent audio reached it; the agent simulator
//! records its own time from the initiation data to its first audio, which no bridge can
//! save and is subtracted. What is left is the dead air the bridge is answerable for, plus
//! the part Twilio's own network takes whatever the bridge does (`floor_ms`: the TwiML
//! answer, the stream's handshake, `start` on its way in and audio on its way out).
//!
//! Calls run one after another, so each measures the path alone. With `--target` the
//! calls are placed on the Twilio simulator directly with that TwiML URL, for another
//! bridge configured to use the simulators (see the README).
use crate::report::{figure, Row};
use crate::server::{BenchServer, Launch};
use crate::{bridge::percentile_ms, BenchError, Db};
use parley_domain::campaign::MachinePolicy;
use parley_engine::calls::place::PlaceCall;
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig, RunningElevenLabsSim};
use parley_sim::net_delay::NetworkDelay;
use parley_sim::twilio::{RunningTwilioSim, SimCall, TwilioSim, TwilioSimConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

pub const SCENARIO: &str = "pickup";
pub const DEFAULT_CALLS: usize = 20;
pub const DEFAULT_DELAYS_MS: [u64; 3] = [0, 25, 75];
/// The simulators' credentials, for a `--target` bridge to be configured with.
pub const TWILIO_ACCOUNT_SID: &str = "AC000000000000000000000000000000be";
pub const TWILIO_AUTH_TOKEN: &str = "bench-auth-token";
pub const ELEVENLABS_API_KEY: &str = "bench-api-key";
pub const AGENT_ID: &str = "agent_bench";
/// Every call reaches this persona: it answers and listens.
const CALLEE: &str = "+15550100001";
const CALLER_ID: &str = "+15005550006";
/// Ringing and the callee's script run this much faster than real time (the network and
/// the agent do not): a person answers after 1.25 s.
const TWILIO_SPEED: f64 = 2.0;
/// How long one call may take to be heard.
const CALL_WAIT: Duration = Duration::from_secs(30);
/// How often a call's record is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(2);

#[derive(Debug, Clone)]
pub struct PickupOptions {
    pub launch: Launch,
    /// Calls at each delay.
    pub calls: usize,
    /// One-way delays to the agent to measure at, in milliseconds.
    pub delays_ms: Vec<u64>,
    /// Twilio's one-way delay; `None`: the same as the agent's at each step.
    pub twilio_delay_ms: Option<u64>,
    /// Parley only: when its agent conversation starts.
    pub agent_start: AgentStart,
    /// Another bridge's TwiML URL; `None` measures Parley.
    pub target: Option<String>,
    /// Where the simulators listen (fixed ports for a target to be pointed at).
    pub agent_listen: SocketAddr,
    pub twilio_listen: SocketAddr,
}

/// When Parley starts the agent's conversation (for comparing the ways it can).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStart {
    /// The socket opened at the TwiML fetch; the initiation sent at the stream's signed
    /// handshake (the default).
    AtHandshake,
    /// The socket opened at the TwiML fetch; the initiation sent on `start`
    /// (`calls.agent_starts_at_handshake = false`).
    OnStart,
    /// The socket opened on `start` (`calls.agent_early_connect_secs = 0`).
    ConnectOnStart,
}

impl AgentStart {
    /// The `target` the results carry.
    fn label(self) -> &'static str {
        match self {
            AgentStart::AtHandshake => "parley",
            AgentStart::OnStart => "parley (initiation on start)",
            AgentStart::ConnectOnStart => "parley (connect on start)",
        }
    }
}

/// The result at one delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickupResult {
    /// `parley`, `parley (initiation on start)`, `parley (connect on start)` or the
    /// target URL.
    pub target: String,
    pub one_way_ms: u64,
    pub twilio_one_way_ms: u64,
    pub calls: usize,
    /// Calls whose agent audio reached the Twilio side.
    pub heard: usize,
    /// TwiML request to the first agent audio at the Twilio side, minus the agent's own
    /// time to first audio.
    pub dead_air_ms: Quantiles,
    /// The part of it Twilio's side takes whatever the bridge does.
    pub floor_ms: Quantiles,
    /// `dead_air_ms - floor_ms` per call: what the bridge adds.
    pub added_ms: Quantiles,
    /// `added_ms.p50` in round trips to the agent (`2 * one_way_ms`); null at 0 ms.
    pub added_round_trips_p50: Option<f64>,
    /// The simulated agent's own time from initiation data to first audio, p50.
    pub agent_first_audio_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
}

impl Quantiles {
    fn of(mut values: Vec<Duration>) -> Quantiles {
        values.sort_unstable();
        Quantiles {
            p50: percentile_ms(&values, 0.50),
            p99: percentile_ms(&values, 0.99),
        }
    }
}

impl Row for PickupResult {
    fn headings() -> &'static [&'static str] {
        &[
            "bridge",
            "one-way ms",
            "calls",
            "heard",
            "dead air p50",
            "dead air p99",
            "floor p50",
            "added p50",
            "added p99",
            "added RTTs",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.target.clone(),
            self.one_way_ms.to_string(),
            self.calls.to_string(),
            self.heard.to_string(),
            figure(self.dead_air_ms.p50),
            figure(self.dead_air_ms.p99),
            figure(self.floor_ms.p50),
            figure(self.added_ms.p50),
            figure(self.added_ms.p99),
            self.added_round_trips_p50
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
        ]
    }
}

/// Runs the scenario at each delay in turn.
pub async fn run(options: &PickupOptions) -> Result<Vec<PickupResult>, BenchError> {
    let mut results = Vec::with_capacity(options.delays_ms.len());
    for &one_way in &options.delays_ms {
        let twilio = options.twilio_delay_ms.unwrap_or(one_way);
        results.push(run_at(options, one_way, twilio).await?);
    }
    Ok(results)
}

fn delay(ms: u64) -> NetworkDelay {
    NetworkDelay::one_way(Duration::from_millis(ms))
}

async fn run_at(
    options: &PickupOptions,
    one_way: u64,
    twilio_one_way: u64,
) -> Result<PickupResult, BenchError> {
    let twilio = TwilioSim::spawn(
        TwilioSimConfig {
            account_sid: TWILIO_ACCOUNT_SID.to_owned(),
            auth_token: TWILIO_AUTH_TOKEN.to_owned(),
            speed: TWILIO_SPEED,
            callee: Some(parley_sim::personas::persona_for(CALLEE)),
            network_delay: delay(twilio_one_way),
            ..TwilioSimConfig::default()
        },
        options.twilio_listen,
    )
    .await?;
    let agent = ElevenLabsSim::spawn(
        ElevenLabsSimConfig {
            api_key: ELEVENLABS_API_KEY.to_owned(),
            network_delay: delay(one_way),
            ..ElevenLabsSimConfig::default()
        },
        options.agent_listen,
    )
    .await?;
    let measured = match &options.target {
        Some(url) => measure_target(options.calls, &twilio, url).await,
        None => measure_parley(options, &twilio, &agent).await,
    };
    let agent_times: Vec<Duration> = agent
        .sim
        .conversations()
        .iter()
        .filter_map(|c| c.first_audio_ms)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    twilio.stop().await;
    agent.stop().await;
    let calls = measured?;
    let agent_first_audio = Quantiles::of(agent_times).p50;
    let target = match &options.target {
        Some(url) => url.clone(),
        None => options.agent_start.label().to_owned(),
    };
    Ok(summarise(
        target,
        (one_way, twilio_one_way),
        options.calls,
        &calls,
        agent_first_audio,
    ))
}

/// What the Twilio simulator recorded of one heard call, in microseconds of Unix time.
struct Heard {
    twiml_requested: i64,
    stream_started: i64,
    first_audio: i64,
}

fn summarise(
    target: String,
    (one_way, twilio_one_way): (u64, u64),
    calls: usize,
    heard: &[Heard],
    agent_first_audio_ms: f64,
) -> PickupResult {
    let agent = Duration::from_secs_f64(agent_first_audio_ms / 1000.0);
    let twilio_round_trip = Duration::from_millis(2 * twilio_one_way);
    let span = |from: i64, to: i64| Duration::from_micros(u64::try_from(to - from).unwrap_or(0));
    let dead_air: Vec<Duration> = heard
        .iter()
        .map(|h| span(h.twiml_requested, h.first_audio).saturating_sub(agent))
        .collect();
    let floor: Vec<Duration> = heard
        .iter()
        .map(|h| span(h.twiml_requested, h.stream_started) + twilio_round_trip)
        .collect();
    let added: Vec<Duration> = dead_air
        .iter()
        .zip(&floor)
        .map(|(d, f)| d.saturating_sub(*f))
        .collect();
    let added_ms = Quantiles::of(added);
    PickupResult {
        target,
        one_way_ms: one_way,
        twilio_one_way_ms: twilio_one_way,
        calls,
        heard: heard.len(),
        dead_air_ms: Quantiles::of(dead_air),
        floor_ms: Quantiles::of(floor),
        added_ms,
        added_round_trips_p50: (one_way > 0).then(|| added_ms.p50 / (2 * one_way) as f64),
        agent_first_audio_ms,
    }
}

/// Parley, in this process, wired to the simulators as production wires it to the real
/// services, on a fresh SQLite database.
async fn measure_parley(
    options: &PickupOptions,
    twilio: &RunningTwilioSim,
    agent: &RunningElevenLabsSim,
) -> Result<Vec<Heard>, BenchError> {
    let early_secs = match options.agent_start {
        AgentStart::ConnectOnStart => 0,
        _ => parley_engine::settings::CallSettings::default().agent_early_connect_secs,
    };
    let at_handshake = options.agent_start == AgentStart::AtHandshake;
    let url = |base: &str| {
        url::Url::parse(&format!("{base}/")).map_err(|e| BenchError::Wrong(e.to_string()))
    };
    let (twilio_url, agent_url) = (url(&twilio.base_url)?, url(&agent.base_url)?);
    let server = BenchServer::start_with(options.launch, Db::Sqlite, "", |s| {
        s.twilio.account_sid = Some(TWILIO_ACCOUNT_SID.to_owned());
        s.twilio.auth_token = Some(TWILIO_AUTH_TOKEN.to_owned().into());
        s.twilio.api_base_url = twilio_url;
        s.twilio.caller_id = Some(CALLER_ID.to_owned());
        s.elevenlabs.api_key = Some(ELEVENLABS_API_KEY.to_owned().into());
        s.elevenlabs.api_base_url = agent_url;
        s.elevenlabs.agent_id = Some(AGENT_ID.to_owned());
        s.dialer.enabled = false;
        s.calls.agent_early_connect_secs = early_secs;
        s.calls.agent_starts_at_handshake = at_handshake;
    })
    .await?;
    let measured = place_through_parley(&server, options.calls, twilio).await;
    server.stop().await?;
    measured
}

async fn place_through_parley(
    server: &BenchServer,
    calls: usize,
    twilio: &RunningTwilioSim,
) -> Result<Vec<Heard>, BenchError> {
    let engine = server.engine();
    let mut heard = Vec::with_capacity(calls);
    for _ in 0..calls {
        let mut request = PlaceCall {
            to: Some(
                CALLEE
                    .parse()
                    .map_err(|_| BenchError::Wrong("callee".into()))?,
            ),
            actor: "bench".to_owned(),
            ..PlaceCall::default()
        };
        request.options.answering_machine.policy = MachinePolicy::Off;
        let call = engine
            .place_call(request)
            .await
            .map_err(|e| BenchError::Wrong(format!("placing a call failed: {e}")))?;
        let Some(sid) = call.twilio_call_sid else {
            continue;
        };
        if let Some(h) = wait_heard(&twilio.sim, &sid).await {
            heard.push(h);
        }
        hang_up(twilio, &sid).await?;
        // Its status callback settles it before the next call starts (and before the
        // server stops).
        let deadline = tokio::time::Instant::now() + CALL_WAIT;
        while !engine.store.get_call(call.id).await?.status.is_final()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(heard)
}

/// Another bridge: calls are created on the Twilio simulator with its TwiML URL.
async fn measure_target(
    calls: usize,
    twilio: &RunningTwilioSim,
    twiml_url: &str,
) -> Result<Vec<Heard>, BenchError> {
    let http = reqwest::Client::new();
    let mut heard = Vec::with_capacity(calls);
    for _ in 0..calls {
        let created = http
            .post(calls_url(twilio, None))
            .basic_auth(TWILIO_ACCOUNT_SID, Some(TWILIO_AUTH_TOKEN))
            .form(&[("To", CALLEE), ("From", CALLER_ID), ("Url", twiml_url)])
            .send()
            .await?;
        let status = created.status().as_u16();
        let body: serde_json::Value = created.json().await?;
        let Some(sid) = body["sid"].as_str() else {
            return Err(BenchError::Status {
                status,
                body: body.to_string(),
            });
        };
        if let Some(h) = wait_heard(&twilio.sim, sid).await {
            heard.push(h);
        }
        hang_up(twilio, sid).await?;
    }
    Ok(heard)
}

fn calls_url(twilio: &RunningTwilioSim, sid: Option<&str>) -> String {
    let base = &twilio.base_url;
    match sid {
        Some(sid) => format!("{base}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls/{sid}.json"),
        None => format!("{base}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls.json"),
    }
}

/// Ends a call as an app would, through the REST API.
async fn hang_up(twilio: &RunningTwilioSim, sid: &str) -> Result<(), BenchError> {
    reqwest::Client::new()
        .post(calls_url(twilio, Some(sid)))
        .basic_auth(TWILIO_ACCOUNT_SID, Some(TWILIO_AUTH_TOKEN))
        .form(&[("Status", "completed")])
        .send()
        .await?;
    Ok(())
}

/// Waits until the call's first agent audio reached the Twilio side; `None` if it ended
/// (or the wait ran out) without.
async fn wait_heard(twilio: &TwilioSim, sid: &str) -> Option<Heard> {
    let deadline = tokio::time::Instant::now() + CALL_WAIT;
    while tokio::time::Instant::now() < deadline {
        let call = twilio.call(sid)?;
        if let Some(heard) = heard(&call) {
            return Some(heard);
        }
        if call.ended.is_some() {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
    None
}

fn heard(call: &SimCall) -> Option<Heard> {
    Some(Heard {
        twiml_requested: call.twiml_requested?.timestamp_micros(),
        stream_started: call.stream_started?.timestamp_micros(),
        first_audio: call.first_app_audio?.timestamp_micros(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_and_the_agent_come_off_the_dead_air() {
        let at = |ms: i64| ms * 1000;
        let heard = [Heard {
            twiml_requested: at(0),
            stream_started: at(300),
            first_audio: at(700),
        }];
        let r = summarise("x".into(), (75, 25), 1, &heard, 20.0);
        assert_eq!(r.dead_air_ms.p50, 680.0);
        assert_eq!(r.floor_ms.p50, 350.0);
        assert_eq!(r.added_ms.p50, 330.0);
        assert_eq!(r.added_round_trips_p50, Some(2.2));
    }
}

//! Simulator settings.

use std::time::Duration;

use parley_elevenlabs::AudioFormat;

use crate::net_delay::NetworkDelay;

/// How the ElevenLabs simulator behaves. `Default` gives the sandbox values.
#[derive(Debug, Clone)]
pub struct ElevenLabsSimConfig {
    /// Expected in the `xi-api-key` header; anything else gets the real API's 401.
    pub api_key: String,
    /// Where post-call webhooks go (Parley's `/elevenlabs/webhook`); `None`: none sent.
    pub webhook_url: Option<String>,
    /// HMAC secret for the `ElevenLabs-Signature` header.
    pub webhook_secret: String,
    /// 1.0 is real time; speech durations and pauses divide by it. Audio chunks still
    /// carry real 20 ms frames.
    pub speed: f64,
    /// How long a signed URL may be used to start a conversation (reference F.1: 15 min).
    pub signed_url_ttl: Duration,
    /// Announced in `conversation_initiation_metadata` and used for `audio` events:
    /// `ulaw_8000` or `pcm_<rate>`.
    pub agent_output_format: String,
    /// What `user_audio_chunk`s carry: `ulaw_8000` or `pcm_<rate>`.
    pub user_input_format: String,
    /// Interval between `ping`s to the client.
    pub ping_interval: Duration,
    /// How long after the client's initiation data the agent announces its formats
    /// (`conversation_initiation_metadata`); the platform takes a moment to set up. Audio
    /// the client sends meanwhile is read (and recorded) after the announcement.
    pub metadata_delay: Duration,
    /// Server (webhook) tools, which agent `agent_server_tools` calls instead of client
    /// tools; `None`: that agent uses client tools too.
    pub server_tools: Option<ServerTools>,
    /// The account's agents, as `GET /v1/convai/agents` lists them.
    pub agents: Vec<SimAgent>,
    /// The network between the simulator and its clients: signed-URL requests, the
    /// conversation handshake and every message on it pay it.
    pub network_delay: NetworkDelay,
}

/// An agent of the simulated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAgent {
    pub agent_id: String,
    pub name: String,
}

impl SimAgent {
    pub fn new(agent_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            agent_id: agent_id.into(),
            name: name.into(),
        }
    }

    /// The sandbox's agent (`sandbox-agent`).
    pub fn sandbox() -> Self {
        Self::new("sandbox-agent", "Sandbox agent")
    }

    /// The sandbox account's second agent (`sandbox-agent-b`), for A/B variants.
    pub fn sandbox_second() -> Self {
        Self::new("sandbox-agent-b", "Sandbox agent B")
    }
}

/// Where the agent's server tools live: `POST {base_url}/{name}` with
/// `Authorization: Bearer {secret}` and the parameters (plus the `call_id` dynamic
/// variable, when the conversation has one) as a JSON object.
#[derive(Debug, Clone)]
pub struct ServerTools {
    pub base_url: String,
    /// Bearer secret per tool name; a tool missing here is called without one.
    pub secrets: std::collections::BTreeMap<String, String>,
}

impl Default for ElevenLabsSimConfig {
    fn default() -> Self {
        Self {
            api_key: "sandbox-xi-api-key".into(),
            webhook_url: None,
            webhook_secret: "sandbox-webhook-secret".into(),
            speed: 1.0,
            signed_url_ttl: Duration::from_secs(15 * 60),
            agent_output_format: "ulaw_8000".into(),
            user_input_format: "ulaw_8000".into(),
            ping_interval: DEFAULT_PING_INTERVAL,
            metadata_delay: Duration::ZERO,
            server_tools: None,
            agents: vec![SimAgent::sandbox(), SimAgent::sandbox_second()],
            network_delay: NetworkDelay::default(),
        }
    }
}

const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(2);

impl ElevenLabsSimConfig {
    /// Sets `speed` and scales the ping interval with it (2 s / speed).
    pub fn with_speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self.ping_interval = DEFAULT_PING_INTERVAL.div_f64(sanitize_speed(speed));
        self
    }

    /// `speed`, guarded against zero, negative and non-finite values.
    pub(crate) fn effective_speed(&self) -> f64 {
        sanitize_speed(self.speed)
    }

    /// `real` shortened by the speed factor.
    pub(crate) fn scaled(&self, real: Duration) -> Duration {
        real.div_f64(self.effective_speed())
    }

    pub(crate) fn output_format(&self) -> AudioFormat {
        supported_format(&self.agent_output_format, "agent_output_format")
    }

    pub(crate) fn input_format(&self) -> AudioFormat {
        supported_format(&self.user_input_format, "user_input_format")
    }

    /// Pings no more often than every 10 ms, so a zero interval cannot spin.
    pub(crate) fn effective_ping_interval(&self) -> Duration {
        self.ping_interval.max(Duration::from_millis(10))
    }
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

/// Formats the simulator can synthesise and decode; anything else falls back to
/// `ulaw_8000` rather than announcing audio it would not send.
fn supported_format(name: &str, field: &str) -> AudioFormat {
    match AudioFormat::from(name.to_owned()) {
        AudioFormat::Pcm(rate) if (8000..=48000).contains(&rate) => AudioFormat::Pcm(rate),
        AudioFormat::Ulaw8000 => AudioFormat::Ulaw8000,
        other => {
            tracing::warn!(%other, field, "unsupported audio format, using ulaw_8000");
            AudioFormat::Ulaw8000
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_sandbox_values() {
        let config = ElevenLabsSimConfig::default();
        assert_eq!(config.api_key, "sandbox-xi-api-key");
        assert_eq!(config.signed_url_ttl, Duration::from_secs(900));
        assert_eq!(config.output_format(), AudioFormat::Ulaw8000);
        assert_eq!(config.ping_interval, Duration::from_secs(2));
    }

    #[test]
    fn speed_scales_pauses_and_pings() {
        let config = ElevenLabsSimConfig::default().with_speed(5.0);
        assert_eq!(config.ping_interval, Duration::from_millis(400));
        assert_eq!(
            config.scaled(Duration::from_millis(300)),
            Duration::from_millis(60)
        );
        let broken = ElevenLabsSimConfig {
            speed: 0.0,
            ..ElevenLabsSimConfig::default()
        };
        assert_eq!(broken.effective_speed(), 1.0);
    }

    #[test]
    fn unsupported_formats_fall_back_to_ulaw() {
        let config = ElevenLabsSimConfig {
            agent_output_format: "pcm_24000".into(),
            user_input_format: "mp3_44100".into(),
            ..ElevenLabsSimConfig::default()
        };
        assert_eq!(config.output_format(), AudioFormat::Pcm(24000));
        assert_eq!(config.input_format(), AudioFormat::Ulaw8000);
    }
}

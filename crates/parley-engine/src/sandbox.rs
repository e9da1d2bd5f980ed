//! Sandbox mode: with no Twilio or ElevenLabs credentials, Parley starts the built-in
//! simulators on loopback ports and talks to them exactly as it would to the real
//! services; only the base URLs and credentials differ.
use crate::settings::Settings;
use crate::telephony::{sandbox_credentials as creds, SimulatorUrls};
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig, RunningElevenLabsSim};
use parley_sim::twilio::{RunningTwilioSim, TwilioSim, TwilioSimConfig};
use std::net::SocketAddr;

/// The running simulators; [`Sandbox::stop`] stops them.
pub struct Sandbox {
    pub twilio: RunningTwilioSim,
    pub elevenlabs: RunningElevenLabsSim,
}

impl Sandbox {
    /// Starts both simulators. `settings.public_base_url` must already be the URL at
    /// which this Parley is reachable: the agent simulator posts its webhooks there.
    pub async fn start(settings: &Settings) -> std::io::Result<Sandbox> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let speed = settings.sandbox.speed;
        let twilio = TwilioSim::spawn(
            TwilioSimConfig {
                account_sid: creds::TWILIO_ACCOUNT_SID.into(),
                auth_token: creds::TWILIO_AUTH_TOKEN.into(),
                speed,
                ..TwilioSimConfig::default()
            },
            loopback,
        )
        .await?;
        let webhook = format!(
            "{}/elevenlabs/webhook",
            settings.public_base_url().as_str().trim_end_matches('/')
        );
        let elevenlabs = ElevenLabsSim::spawn(
            ElevenLabsSimConfig {
                api_key: creds::ELEVENLABS_API_KEY.into(),
                webhook_url: Some(webhook),
                webhook_secret: creds::ELEVENLABS_WEBHOOK_SECRET.into(),
                ..ElevenLabsSimConfig::default()
            }
            .with_speed(speed),
            loopback,
        )
        .await?;
        Ok(Sandbox { twilio, elevenlabs })
    }

    pub async fn stop(self) {
        self.twilio.stop().await;
        self.elevenlabs.stop().await;
    }

    pub fn urls(&self) -> SimulatorUrls {
        SimulatorUrls {
            twilio: self.twilio.base_url.clone(),
            elevenlabs: self.elevenlabs.base_url.clone(),
        }
    }
}

//! Simulator settings and the time scaling every scripted duration goes through.

use crate::net_delay::NetworkDelay;
use crate::personas::Persona;
use std::time::Duration;

/// Settings of one simulated Twilio account.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioSimConfig {
    /// `AC` + 32 hex; REST requests for any other account get 404 (20404).
    pub account_sid: String,
    /// Basic-auth password, and the key that signs every webhook (`X-Twilio-Signature`).
    pub auth_token: String,
    /// 1.0 is real time. Scripted durations (ringing, speech, pauses, timeouts) are divided
    /// by it; media frames stay 20 ms apart in real time.
    pub speed: f64,
    /// Calls dialled per second; creates beyond it wait in `queued`, like Twilio's CPS.
    pub calls_per_second: f64,
    /// `Some`: now and then deliver a status callback twice, or two adjacent ones swapped
    /// (deterministic from the seed). `None`: every callback once, in order.
    pub chaos_seed: Option<u64>,
    /// `Some`: every call reaches this persona, whatever number it dials (load tests:
    /// the busy persona at a high speed ends each call at once). `None`: by number.
    pub callee: Option<&'static Persona>,
    /// Numbers bought from Twilio (`IncomingPhoneNumbers`), all voice-capable.
    pub numbers: Vec<String>,
    /// Numbers verified as caller IDs (`OutgoingCallerIds`).
    pub verified_caller_ids: Vec<String>,
    /// The network between Twilio and the app: the REST API's requests, TwiML and
    /// callback requests, the media stream's handshake and every message on it pay it.
    pub network_delay: NetworkDelay,
}

impl Default for TwilioSimConfig {
    fn default() -> Self {
        Self {
            account_sid: "AC00000000000000000000000000000000".to_owned(),
            auth_token: "sandbox-auth-token".to_owned(),
            speed: 1.0,
            calls_per_second: 10.0,
            chaos_seed: None,
            callee: None,
            numbers: vec!["+15005550006".to_owned()],
            verified_caller_ids: Vec::new(),
            network_delay: NetworkDelay::default(),
        }
    }
}

impl TwilioSimConfig {
    /// A scripted duration (milliseconds at speed 1) as real time at the configured speed.
    pub(crate) fn scaled(&self, ms: u64) -> Duration {
        Duration::from_secs_f64(ms as f64 / 1000.0 / self.speed_factor())
    }

    /// Guards against a zero, negative or NaN speed, which would stall every call.
    pub(crate) fn speed_factor(&self) -> f64 {
        if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        }
    }

    /// Real time between two dialled calls.
    pub(crate) fn dial_interval(&self) -> Duration {
        if self.calls_per_second.is_finite() && self.calls_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / self.calls_per_second)
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_scripted_time_and_survives_bad_values() {
        let config = TwilioSimConfig {
            speed: 5.0,
            ..TwilioSimConfig::default()
        };
        assert_eq!(config.scaled(1000), Duration::from_millis(200));
        let broken = TwilioSimConfig {
            speed: 0.0,
            calls_per_second: f64::NAN,
            ..TwilioSimConfig::default()
        };
        assert_eq!(broken.scaled(1000), Duration::from_secs(1));
        assert_eq!(broken.dial_interval(), Duration::ZERO);
        assert_eq!(
            TwilioSimConfig::default().dial_interval(),
            Duration::from_millis(100)
        );
    }
}

//! Agent audio formats (`agent_output_audio_format`, `user_input_audio_format`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ElevenLabs audio format name such as `ulaw_8000` or `pcm_16000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum AudioFormat {
    /// G.711 mu-law at 8 kHz: byte-compatible with Twilio Media Streams.
    Ulaw8000,
    /// Raw signed 16-bit little-endian mono PCM at the given rate.
    Pcm(u32),
    /// A name this crate does not know; kept so it can be reported.
    Other(String),
}

impl AudioFormat {
    pub fn sample_rate(&self) -> Option<u32> {
        match self {
            Self::Ulaw8000 => Some(8000),
            Self::Pcm(rate) => Some(*rate),
            Self::Other(_) => None,
        }
    }

    /// True when audio can be passed to and from Twilio without transcoding.
    pub fn is_twilio_native(&self) -> bool {
        *self == Self::Ulaw8000
    }
}

impl From<String> for AudioFormat {
    fn from(name: String) -> Self {
        if name == "ulaw_8000" {
            return Self::Ulaw8000;
        }
        match name.strip_prefix("pcm_").map(str::parse) {
            Some(Ok(rate)) => Self::Pcm(rate),
            _ => Self::Other(name),
        }
    }
}

impl From<AudioFormat> for String {
    fn from(format: AudioFormat) -> Self {
        format.to_string()
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ulaw8000 => f.write_str("ulaw_8000"),
            Self::Pcm(rate) => write!(f, "pcm_{rate}"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_format() {
        assert_eq!(
            AudioFormat::from("ulaw_8000".to_owned()),
            AudioFormat::Ulaw8000
        );
        for rate in [8000, 16000, 22050, 24000, 44100, 48000] {
            let format = AudioFormat::from(format!("pcm_{rate}"));
            assert_eq!(format, AudioFormat::Pcm(rate));
            assert_eq!(format.sample_rate(), Some(rate));
            assert_eq!(format.to_string(), format!("pcm_{rate}"));
            assert!(!format.is_twilio_native());
        }
        assert!(AudioFormat::Ulaw8000.is_twilio_native());
    }

    #[test]
    fn keeps_unknown_names() {
        let format: AudioFormat = serde_json::from_str(r#""opus_48000""#).unwrap();
        assert_eq!(format, AudioFormat::Other("opus_48000".into()));
        assert_eq!(format.sample_rate(), None);
        assert_eq!(serde_json::to_string(&format).unwrap(), r#""opus_48000""#);
        assert_eq!(
            AudioFormat::from("pcm_fast".to_owned()),
            AudioFormat::Other("pcm_fast".into())
        );
    }
}

//! The agent's "speech": a tone at [`voice::AGENT_VOICE_HZ`] in the agent output format,
//! cut into [`CHUNK`]-long `audio` events.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use parley_audio::{mulaw, pcm};
use parley_elevenlabs::AudioFormat;

use crate::voice;

/// Audio per `audio` event. 100 ms of a 1500 Hz tone is a whole number of cycles at any
/// sample rate, so identical chunks join without clicks and one encoding serves them all.
pub(crate) const CHUNK: Duration = Duration::from_millis(100);

/// Encoded agent speech, shared by all conversations of a simulator.
#[derive(Debug, Clone)]
pub(crate) struct AgentVoice {
    format: AudioFormat,
    full_chunk: Arc<str>,
}

impl AgentVoice {
    pub(crate) fn new(format: AudioFormat) -> Self {
        let full_chunk = encode(&format, CHUNK).into();
        Self { format, full_chunk }
    }

    /// Base64 audio of one chunk lasting `length` (at most [`CHUNK`]).
    pub(crate) fn chunk(&self, length: Duration) -> Cow<'_, str> {
        if length >= CHUNK {
            Cow::Borrowed(&self.full_chunk)
        } else {
            Cow::Owned(encode(&self.format, length))
        }
    }
}

/// How many chunks `length` of speech takes, and the length of the last one.
pub(crate) fn chunking(length: Duration) -> (u32, Duration) {
    let chunk_ms = CHUNK.as_millis();
    let ms = length.as_millis().max(1);
    let count = ms.div_ceil(chunk_ms);
    let last = ms - (count - 1) * chunk_ms;
    (
        u32::try_from(count).unwrap_or(u32::MAX),
        Duration::from_millis(u64::try_from(last).unwrap_or(0)),
    )
}

fn encode(format: &AudioFormat, length: Duration) -> String {
    let rate = format.sample_rate().unwrap_or(voice::SAMPLE_RATE);
    let ms = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
    let samples = voice::tone(voice::AGENT_VOICE_HZ, ms, rate);
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    match format {
        AudioFormat::Pcm(_) => pcm::samples_to_le_bytes(&samples, &mut bytes),
        _ => mulaw::encode_into(&samples, &mut bytes),
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(b64: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    #[test]
    fn ulaw_chunks_sound_like_the_agent() {
        let agent = AgentVoice::new(AudioFormat::Ulaw8000);
        let bytes = decode(&agent.chunk(CHUNK));
        assert_eq!(bytes.len(), 800);
        let hz = voice::frequency_mulaw(&bytes[..160]).unwrap();
        assert!((hz - voice::AGENT_VOICE_HZ as f32).abs() < 30.0);
        assert_eq!(decode(&agent.chunk(Duration::from_millis(40))).len(), 320);
    }

    #[test]
    fn pcm_chunks_use_the_format_rate() {
        let agent = AgentVoice::new(AudioFormat::Pcm(24_000));
        let bytes = decode(&agent.chunk(CHUNK));
        assert_eq!(bytes.len(), 2400 * 2);
        let mut samples = Vec::new();
        pcm::le_bytes_to_samples(&bytes, &mut samples);
        let hz = voice::frequency(&samples, 24_000).unwrap();
        assert!((hz - voice::AGENT_VOICE_HZ as f32).abs() < 30.0);
    }

    #[test]
    fn chunking_covers_the_whole_length() {
        assert_eq!(chunking(Duration::from_millis(600)), (6, CHUNK));
        assert_eq!(
            chunking(Duration::from_millis(250)),
            (3, Duration::from_millis(50))
        );
        assert_eq!(
            chunking(Duration::from_millis(80)),
            (1, Duration::from_millis(80))
        );
        assert_eq!(chunking(Duration::ZERO), (1, Duration::from_millis(1)));
    }
}

//! Call recording: both directions captured as mu-law, one 20 ms frame per tick, so the
//! channels stay aligned; rendered to a 16-bit PCM WAV (as Twilio serves) on download.
//! Dual: channel 0 is the callee (inbound), channel 1 what the app played to the callee.
//! Mono: the two mixed.

use chrono::{DateTime, Utc};
use parley_audio::{mulaw, pcm, wav};

/// A recording stops growing after an hour, so one long call cannot exhaust memory.
const MAX_RECORDED_BYTES: usize = 8000 * 3600;

pub(crate) struct Recorder {
    pub sid: String,
    pub dual: bool,
    pub started: DateTime<Utc>,
    inbound: Vec<u8>,
    outbound: Vec<u8>,
}

impl Recorder {
    pub fn new(sid: String, dual: bool) -> Self {
        Self {
            sid,
            dual,
            started: Utc::now(),
            inbound: Vec::new(),
            outbound: Vec::new(),
        }
    }

    /// Records one frame of each direction (equal lengths keep the channels aligned).
    pub fn push(&mut self, inbound: &[u8], outbound: &[u8]) {
        if self.inbound.len() + inbound.len() > MAX_RECORDED_BYTES {
            return;
        }
        self.inbound.extend_from_slice(inbound);
        self.outbound.extend_from_slice(outbound);
    }

    pub fn finish(self, call_sid: String) -> StoredRecording {
        StoredRecording {
            sid: self.sid,
            call_sid,
            dual: self.dual,
            started: self.started,
            inbound: self.inbound,
            outbound: self.outbound,
        }
    }
}

/// A finished recording.
pub(crate) struct StoredRecording {
    pub sid: String,
    pub call_sid: String,
    pub dual: bool,
    pub started: DateTime<Utc>,
    inbound: Vec<u8>,
    outbound: Vec<u8>,
}

impl StoredRecording {
    pub fn channels(&self) -> u16 {
        if self.dual {
            2
        } else {
            1
        }
    }

    /// Whole seconds of audio, rounded up.
    pub fn duration_secs(&self) -> u32 {
        self.inbound.len().div_ceil(8000) as u32
    }

    pub fn to_wav(&self) -> Result<Vec<u8>, wav::WavError> {
        let mut callee = Vec::with_capacity(self.inbound.len());
        mulaw::decode_into(&self.inbound, &mut callee);
        let mut app = Vec::with_capacity(self.outbound.len());
        mulaw::decode_into(&self.outbound, &mut app);
        let samples = if self.dual {
            wav::interleave(&callee, &app)
        } else {
            callee
                .iter()
                .zip(&app)
                .map(|(a, b)| a.saturating_add(*b))
                .collect()
        };
        let mut bytes = Vec::with_capacity(samples.len() * 2);
        pcm::samples_to_le_bytes(&samples, &mut bytes);
        let spec = wav::WavSpec {
            format: wav::WavFormat::Pcm16,
            channels: self.channels(),
            sample_rate: 8000,
        };
        wav::encode(spec, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice;

    #[test]
    fn dual_recording_keeps_each_side_on_its_channel() {
        let mut recorder = Recorder::new("RE1".into(), true);
        let callee = voice::tone_mulaw(400, 20);
        let agent = voice::tone_mulaw(voice::AGENT_VOICE_HZ, 20);
        for _ in 0..50 {
            recorder.push(&callee, &agent);
        }
        let stored = recorder.finish("CA1".into());
        assert_eq!(stored.duration_secs(), 1);
        let decoded = wav::decode(&stored.to_wav().unwrap()).unwrap();
        assert_eq!(decoded.spec.channels, 2);
        assert_eq!(decoded.frames(), 8000);
        let left = voice::frequency(&decoded.channel_samples(0), 8000).unwrap();
        let right = voice::frequency(&decoded.channel_samples(1), 8000).unwrap();
        assert!((left - 400.0).abs() < 30.0, "{left}");
        assert!(
            (right - voice::AGENT_VOICE_HZ as f32).abs() < 30.0,
            "{right}"
        );
    }

    #[test]
    fn mono_recording_mixes() {
        let mut recorder = Recorder::new("RE1".into(), false);
        recorder.push(&[mulaw::SILENCE; 160], &voice::tone_mulaw(400, 20));
        let decoded = wav::decode(&recorder.finish("CA1".into()).to_wav().unwrap()).unwrap();
        assert_eq!(decoded.spec.channels, 1);
        assert_eq!(decoded.frames(), 160);
    }
}

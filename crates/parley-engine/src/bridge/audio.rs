//! Converting audio between Twilio (mu-law, 8 kHz) and an agent that speaks PCM16 at
//! another rate. Only used when the agent's formats are not `ulaw_8000`; otherwise the
//! bridge passes payloads through untouched. Buffers are reused from frame to frame.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use parley_audio::resample::Resampler;
use parley_audio::{mulaw, pcm};
use parley_elevenlabs::AudioFormat;

#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("audio format {0} is not supported")]
    Unsupported(String),
    #[error("invalid base64 audio: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("cannot resample: {0}")]
    Resample(String),
}

/// One direction of conversion, with its state and scratch space.
pub struct Direction {
    resampler: Resampler,
    bytes: Vec<u8>,
    samples: Vec<i16>,
    resampled: Vec<i16>,
}

impl Direction {
    fn new(from_hz: u32, to_hz: u32) -> Result<Self, TranscodeError> {
        Ok(Direction {
            resampler: Resampler::new(from_hz, to_hz)
                .map_err(|e| TranscodeError::Resample(e.to_string()))?,
            bytes: Vec::with_capacity(1024),
            samples: Vec::with_capacity(512),
            resampled: Vec::with_capacity(1024),
        })
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.samples.clear();
        self.resampled.clear();
    }

    /// Twilio mu-law (base64) -> agent PCM16 LE (base64), appended to `out`.
    pub fn mulaw_to_pcm(&mut self, payload: &str, out: &mut String) -> Result<(), TranscodeError> {
        self.clear();
        B64.decode_vec(payload.as_bytes(), &mut self.bytes)?;
        mulaw::decode_into(&self.bytes, &mut self.samples);
        self.resampler.process(&self.samples, &mut self.resampled);
        self.bytes.clear();
        pcm::samples_to_le_bytes(&self.resampled, &mut self.bytes);
        B64.encode_string(&self.bytes, out);
        Ok(())
    }

    /// Agent PCM16 LE (base64) -> Twilio mu-law (base64), appended to `out`.
    pub fn pcm_to_mulaw(&mut self, payload: &str, out: &mut String) -> Result<(), TranscodeError> {
        self.clear();
        B64.decode_vec(payload.as_bytes(), &mut self.bytes)?;
        pcm::le_bytes_to_samples(&self.bytes, &mut self.samples);
        self.resampler.process(&self.samples, &mut self.resampled);
        self.bytes.clear();
        mulaw::encode_into(&self.resampled, &mut self.bytes);
        B64.encode_string(&self.bytes, out);
        Ok(())
    }
}

/// How audio crosses the bridge in each direction: `None` means pass-through.
///
/// Each direction is boxed: its resampler and scratch buffers take over 200 bytes, which
/// every pass-through call (the usual case) would otherwise carry in its relay for nothing.
#[derive(Default)]
pub struct Transcoding {
    pub to_agent: Option<Box<Direction>>,
    pub from_agent: Option<Box<Direction>>,
}

impl Transcoding {
    pub fn for_formats(
        user_input: &AudioFormat,
        agent_output: &AudioFormat,
    ) -> Result<Self, TranscodeError> {
        let direction = |format: &AudioFormat,
                         to_agent: bool|
         -> Result<Option<Box<Direction>>, TranscodeError> {
            match format {
                AudioFormat::Ulaw8000 => Ok(None),
                AudioFormat::Pcm(rate) if to_agent => {
                    Direction::new(8000, *rate).map(|d| Some(Box::new(d)))
                }
                AudioFormat::Pcm(rate) => Direction::new(*rate, 8000).map(|d| Some(Box::new(d))),
                AudioFormat::Other(name) => Err(TranscodeError::Unsupported(name.clone())),
            }
        };
        Ok(Transcoding {
            to_agent: direction(user_input, true)?,
            from_agent: direction(agent_output, false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone_mulaw(hz: f32, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                let s = ((i as f32 * std::f32::consts::TAU * hz / 8000.0).sin() * 8000.0) as i16;
                mulaw::encode(s)
            })
            .collect()
    }

    #[test]
    fn pass_through_needs_no_transcoder() {
        let t = Transcoding::for_formats(&AudioFormat::Ulaw8000, &AudioFormat::Ulaw8000).unwrap();
        assert!(t.to_agent.is_none() && t.from_agent.is_none());
        assert!(Transcoding::for_formats(
            &AudioFormat::Other("mp3_44100".into()),
            &AudioFormat::Ulaw8000
        )
        .is_err());
    }

    #[test]
    fn a_round_trip_through_16k_keeps_length_and_level() {
        let mut t =
            Transcoding::for_formats(&AudioFormat::Pcm(16_000), &AudioFormat::Pcm(16_000)).unwrap();
        let input = tone_mulaw(440.0, 1600);
        let mut to_agent = String::new();
        let (mut back, mut total_pcm_bytes) = (Vec::new(), 0);
        for frame in input.chunks(160) {
            to_agent.clear();
            t.to_agent
                .as_mut()
                .unwrap()
                .mulaw_to_pcm(&B64.encode(frame), &mut to_agent)
                .unwrap();
            total_pcm_bytes += B64.decode(&to_agent).unwrap().len();
            let mut to_twilio = String::new();
            t.from_agent
                .as_mut()
                .unwrap()
                .pcm_to_mulaw(&to_agent, &mut to_twilio)
                .unwrap();
            back.extend(B64.decode(&to_twilio).unwrap());
        }
        // 8 kHz mu-law (1 byte/sample) -> 16 kHz PCM16 (2 bytes/sample, twice the samples).
        let expected = input.len() * 4;
        assert!(
            total_pcm_bytes.abs_diff(expected) <= 64,
            "{total_pcm_bytes} vs {expected}"
        );
        assert!(back.len().abs_diff(input.len()) <= 16);
        let level = |b: &[u8]| {
            b.iter()
                .map(|c| mulaw::decode(*c).unsigned_abs() as u64)
                .sum::<u64>()
                / b.len() as u64
        };
        let (a, z) = (level(&input[400..]), level(&back[400..back.len() - 16]));
        assert!(z * 10 > a * 7 && z * 10 < a * 13, "level {a} became {z}");
    }
}

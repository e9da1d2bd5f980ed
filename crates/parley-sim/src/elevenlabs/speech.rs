//! Hearing the callee: decodes `user_audio_chunk`s and finds bursts of "speech" (tones).
//!
//! Audio is judged in 20 ms frames by [`voice::frequency`]. A burst starts after
//! [`MIN_VOICED_FRAMES`] voiced frames in a row and ends after a run of silent frames
//! lasting the silence window (300 ms / speed). Silence is counted in audio time, not
//! wall time, so network jitter cannot split or merge bursts.

use std::time::Duration;

use base64::Engine as _;
use parley_audio::{mulaw, pcm};
use parley_elevenlabs::AudioFormat;

use crate::voice;

/// Consecutive voiced frames that make a burst (rejects clicks).
const MIN_VOICED_FRAMES: u32 = 2;
/// Frame estimates kept per burst for its median voice (about 5 s of speech).
const MAX_ESTIMATES: usize = 256;
/// Frames this close to the agent's own voice are echo, not the callee.
const ECHO_TOLERANCE_HZ: f32 = 50.0;

/// Why a `user_audio_chunk` could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AudioError {
    #[error("user_audio_chunk is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Turns base64 chunks in the user input format into PCM16 samples.
#[derive(Debug)]
pub(crate) struct InputDecoder {
    format: AudioFormat,
    bytes: Vec<u8>,
    /// A PCM byte left over from a chunk of odd length.
    carry: Option<u8>,
}

impl InputDecoder {
    pub(crate) fn new(format: AudioFormat) -> Self {
        Self {
            format,
            bytes: Vec::new(),
            carry: None,
        }
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        self.format.sample_rate().unwrap_or(voice::SAMPLE_RATE)
    }

    /// Replaces `out` with the samples of `chunk`; returns the format the chunk was in,
    /// as far as its length tells (see [`chunk_format`]).
    pub(crate) fn decode_chunk(
        &mut self,
        chunk: &str,
        out: &mut Vec<i16>,
    ) -> Result<AudioFormat, AudioError> {
        self.decode(chunk, out)?;
        let bytes = self.bytes.len() + usize::from(self.carry.is_some());
        Ok(chunk_format(&self.format, bytes))
    }

    /// Replaces `out` with the samples of `chunk`.
    pub(crate) fn decode(&mut self, chunk: &str, out: &mut Vec<i16>) -> Result<(), AudioError> {
        out.clear();
        self.bytes.clear();
        if let Some(byte) = self.carry.take() {
            self.bytes.push(byte);
        }
        base64::engine::general_purpose::STANDARD.decode_vec(chunk, &mut self.bytes)?;
        match self.format {
            AudioFormat::Pcm(_) => {
                if self.bytes.len() % 2 == 1 {
                    self.carry = self.bytes.pop();
                }
                pcm::le_bytes_to_samples(&self.bytes, out);
            }
            // Config guarantees mu-law otherwise.
            _ => mulaw::decode_into(&self.bytes, out),
        }
        Ok(())
    }
}

/// The format a chunk of `bytes` bytes is in, for an agent that announced `announced`.
/// Telephone audio comes in 20 ms frames (160 bytes of `ulaw_8000`, 640 of `pcm_16000`):
/// a chunk that is a whole number of the announced format's frames is taken to be in it;
/// otherwise the first format whose frames it is a whole number of (mu-law first: what a
/// bridge forwarding Twilio's frames untouched sends); else `unknown_<bytes>`.
pub(crate) fn chunk_format(announced: &AudioFormat, bytes: usize) -> AudioFormat {
    fn frame_bytes(format: &AudioFormat) -> usize {
        match format {
            AudioFormat::Pcm(rate) => (*rate as usize / 50) * 2,
            _ => voice::FRAME_SAMPLES,
        }
    }
    let whole = |format: &AudioFormat| bytes > 0 && bytes % frame_bytes(format) == 0;
    if whole(announced) {
        return announced.clone();
    }
    [
        AudioFormat::Ulaw8000,
        AudioFormat::Pcm(16_000),
        AudioFormat::Pcm(8000),
    ]
    .into_iter()
    .find(whole)
    .unwrap_or_else(|| AudioFormat::Other(format!("unknown_{bytes}")))
}

/// A finished burst of callee speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Burst {
    /// Median frequency of its voiced frames (robust to the partial frames at its edges).
    pub hz: f32,
    /// Voiced length, in audio time.
    pub duration: Duration,
}

/// What the detector noticed in the audio just fed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SpeechEvent {
    Started,
    Ended(Burst),
}

/// Finds bursts of speech in a stream of samples.
#[derive(Debug)]
pub(crate) struct BurstDetector {
    rate: u32,
    frame_len: usize,
    frame: Vec<i16>,
    silence_frames_to_end: u32,
    /// Voiced frames in a row while not yet in a burst, with their frequencies.
    onset: Vec<f32>,
    burst: Option<BurstState>,
}

#[derive(Debug)]
struct BurstState {
    voiced_frames: u32,
    estimates: Vec<f32>,
    silent_run: u32,
}

impl BurstDetector {
    pub(crate) fn new(rate: u32, silence_window: Duration) -> Self {
        let frame_len = (rate / 50) as usize;
        let frames = silence_window.as_millis().div_ceil(20).max(1);
        Self {
            rate,
            frame_len,
            frame: Vec::with_capacity(frame_len),
            silence_frames_to_end: u32::try_from(frames).unwrap_or(u32::MAX),
            onset: Vec::new(),
            burst: None,
        }
    }

    pub(crate) fn in_burst(&self) -> bool {
        self.burst.is_some()
    }

    /// Feeds samples; events are appended to `events` in order.
    pub(crate) fn push(&mut self, mut samples: &[i16], events: &mut Vec<SpeechEvent>) {
        while !samples.is_empty() {
            let take = (self.frame_len - self.frame.len()).min(samples.len());
            self.frame.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.frame.len() == self.frame_len {
                let heard = self.callee_frequency();
                self.frame.clear();
                if let Some(event) = self.on_frame(heard) {
                    events.push(event);
                }
            }
        }
    }

    /// Ends a burst whose silence never arrived (the client stopped sending audio).
    pub(crate) fn end_now(&mut self) -> Option<Burst> {
        self.onset.clear();
        self.burst.take().map(finish)
    }

    fn callee_frequency(&self) -> Option<f32> {
        voice::frequency(&self.frame, self.rate)
            .filter(|hz| (hz - voice::AGENT_VOICE_HZ as f32).abs() >= ECHO_TOLERANCE_HZ)
    }

    fn on_frame(&mut self, heard: Option<f32>) -> Option<SpeechEvent> {
        match (&mut self.burst, heard) {
            (Some(burst), Some(hz)) => {
                burst.voiced_frames += 1;
                if burst.estimates.len() < MAX_ESTIMATES {
                    burst.estimates.push(hz);
                }
                burst.silent_run = 0;
                None
            }
            (Some(burst), None) => {
                burst.silent_run += 1;
                if burst.silent_run < self.silence_frames_to_end {
                    return None;
                }
                self.burst.take().map(|b| SpeechEvent::Ended(finish(b)))
            }
            (None, Some(hz)) => {
                self.onset.push(hz);
                if self.onset.len() < MIN_VOICED_FRAMES as usize {
                    return None;
                }
                self.burst = Some(BurstState {
                    voiced_frames: MIN_VOICED_FRAMES,
                    estimates: std::mem::take(&mut self.onset),
                    silent_run: 0,
                });
                Some(SpeechEvent::Started)
            }
            (None, None) => {
                self.onset.clear();
                None
            }
        }
    }
}

fn finish(mut burst: BurstState) -> Burst {
    burst.estimates.sort_by(f32::total_cmp);
    Burst {
        hz: burst.estimates[burst.estimates.len() / 2],
        duration: Duration::from_millis(u64::from(burst.voiced_frames) * 20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_told_apart_by_their_frame_length() {
        let pcm = AudioFormat::Pcm(16_000);
        assert_eq!(chunk_format(&pcm, 640), pcm);
        assert_eq!(chunk_format(&pcm, 1280), pcm);
        assert_eq!(chunk_format(&pcm, 160), AudioFormat::Ulaw8000);
        assert_eq!(
            chunk_format(&AudioFormat::Ulaw8000, 160),
            AudioFormat::Ulaw8000
        );
        assert_eq!(
            chunk_format(&pcm, 7),
            AudioFormat::Other("unknown_7".into())
        );
    }

    fn feed(detector: &mut BurstDetector, samples: &[i16]) -> Vec<SpeechEvent> {
        let mut events = Vec::new();
        // Uneven chunk sizes: frames must be reassembled across chunks.
        for chunk in samples.chunks(333) {
            detector.push(chunk, &mut events);
        }
        events
    }

    #[test]
    fn finds_a_burst_and_its_voice() {
        let mut detector = BurstDetector::new(8000, Duration::from_millis(60));
        let mut events = feed(&mut detector, &voice::tone(400, 300, 8000));
        assert_eq!(events, [SpeechEvent::Started]);
        assert!(detector.in_burst());
        events = feed(&mut detector, &[0; 8000 * 60 / 1000]);
        let [SpeechEvent::Ended(burst)] = events[..] else {
            panic!("{events:?}");
        };
        assert!((burst.hz - 400.0).abs() < 30.0, "{burst:?}");
        assert_eq!(burst.duration, Duration::from_millis(300));
        assert!(!detector.in_burst());
    }

    #[test]
    fn short_gaps_do_not_split_a_burst_and_echo_is_ignored() {
        let mut detector = BurstDetector::new(16_000, Duration::from_millis(100));
        let mut audio = voice::tone(900, 200, 16_000);
        audio.extend(vec![0; 16_000 * 40 / 1000]);
        audio.extend(voice::tone(900, 200, 16_000));
        assert_eq!(feed(&mut detector, &audio), [SpeechEvent::Started]);
        let echo = voice::tone(voice::AGENT_VOICE_HZ, 200, 16_000);
        let events = feed(&mut detector, &echo);
        assert!(matches!(events[..], [SpeechEvent::Ended(_)]), "{events:?}");
        assert!(feed(&mut detector, &echo).is_empty());
    }

    #[test]
    fn partial_edge_frames_do_not_skew_the_voice() {
        let mut detector = BurstDetector::new(8000, Duration::from_millis(60));
        // 210 ms: ten full frames and a half-filled one, starting mid-frame.
        let mut audio = vec![0; 80];
        audio.extend(voice::tone(400, 210, 8000));
        audio.extend(vec![0; 800]);
        let events = feed(&mut detector, &audio);
        let [SpeechEvent::Started, SpeechEvent::Ended(burst)] = events[..] else {
            panic!("{events:?}");
        };
        assert!((burst.hz - 400.0).abs() < 30.0, "{burst:?}");
    }

    #[test]
    fn a_click_is_not_speech() {
        let mut detector = BurstDetector::new(8000, Duration::from_millis(60));
        let mut audio = voice::tone(400, 20, 8000);
        audio.extend(vec![0; 800]);
        assert!(feed(&mut detector, &audio).is_empty());
        assert_eq!(detector.end_now(), None);
    }

    #[test]
    fn decodes_mulaw_and_split_pcm() {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        let mut ulaw = InputDecoder::new(AudioFormat::Ulaw8000);
        ulaw.decode(&engine.encode([0xFF, 0x00]), &mut out).unwrap();
        assert_eq!(out, [mulaw::decode(0xFF), mulaw::decode(0x00)]);

        let mut pcm16 = InputDecoder::new(AudioFormat::Pcm(16_000));
        assert_eq!(pcm16.sample_rate(), 16_000);
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x05];
        pcm16.decode(&engine.encode(&bytes[..3]), &mut out).unwrap();
        assert_eq!(out, [0x0201]);
        pcm16.decode(&engine.encode(&bytes[3..]), &mut out).unwrap();
        assert_eq!(out, [0x0403]);
        assert!(pcm16.decode("***", &mut out).is_err());
    }
}

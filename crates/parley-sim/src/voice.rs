//! In-band "speech" for the simulators: a persona speaks a line as a tone at its voice
//! frequency; the agent speaks as a tone at [`AGENT_VOICE_HZ`]. The listener estimates the
//! frequency of what it hears from zero crossings, which survives mu-law coding and
//! resampling, so what a simulator understands is what really crossed the bridge.
use parley_audio::mulaw;

pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz (Twilio's frame size).
pub const FRAME_SAMPLES: usize = 160;
pub const AGENT_VOICE_HZ: u32 = 1500;
/// Peak amplitude of spoken tones (about -12 dBFS).
const AMPLITUDE: f32 = 8000.0;
/// Below this mean absolute amplitude a frame counts as silence.
const SILENCE_LEVEL: f32 = 500.0;

/// How long speaking `text` takes: 60 ms a character, 0.4-3 s.
pub fn speaking_ms(text: &str) -> u64 {
    (text.chars().count() as u64 * 60).clamp(400, 3000)
}

/// PCM16 samples of a tone at `hz` lasting `ms`, at `rate` samples per second.
pub fn tone(hz: u32, ms: u64, rate: u32) -> Vec<i16> {
    let n = (rate as u64 * ms / 1000) as usize;
    let step = std::f32::consts::TAU * hz as f32 / rate as f32;
    (0..n)
        .map(|i| ((i as f32 * step).sin() * AMPLITUDE) as i16)
        .collect()
}

/// The same tone as mu-law bytes at 8 kHz, as Twilio carries it.
pub fn tone_mulaw(hz: u32, ms: u64) -> Vec<u8> {
    tone(hz, ms, SAMPLE_RATE)
        .into_iter()
        .map(mulaw::encode)
        .collect()
}

/// Estimated frequency of a block of samples, or `None` for silence.
pub fn frequency(samples: &[i16], rate: u32) -> Option<f32> {
    if samples.len() < 2 {
        return None;
    }
    let level: f32 = samples.iter().map(|s| (*s as f32).abs()).sum::<f32>() / samples.len() as f32;
    if level < SILENCE_LEVEL {
        return None;
    }
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let seconds = samples.len() as f32 / rate as f32;
    Some(crossings as f32 / 2.0 / seconds)
}

/// Frequency of a mu-law frame at 8 kHz.
pub fn frequency_mulaw(frame: &[u8]) -> Option<f32> {
    let pcm: Vec<i16> = frame.iter().map(|b| mulaw::decode(*b)).collect();
    frequency(&pcm, SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_are_heard_back_at_their_frequency() {
        for hz in [400, 800, 1200, AGENT_VOICE_HZ] {
            let frame = &tone_mulaw(hz, 20)[..FRAME_SAMPLES];
            let heard = frequency_mulaw(frame).unwrap();
            assert!((heard - hz as f32).abs() < 30.0, "{hz} heard as {heard}");
        }
        assert!(frequency_mulaw(&[mulaw::SILENCE; FRAME_SAMPLES]).is_none());
    }

    #[test]
    fn tones_survive_16k_sampling() {
        let pcm = tone(900, 20, 16_000);
        let heard = frequency(&pcm, 16_000).unwrap();
        assert!((heard - 900.0).abs() < 30.0, "{heard}");
    }
}

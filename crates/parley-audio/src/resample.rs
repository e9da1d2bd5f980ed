//! Streaming PCM16 sample-rate conversion.
//!
//! Method (chosen for low, predictable CPU on speech rather than hi-fi quality):
//! linear interpolation between input samples at exact rational positions, with a
//! Hann-windowed-sinc FIR low-pass at the higher of the two rates — before
//! interpolation when downsampling (anti-aliasing), after it when upsampling
//! (removes the images linear interpolation leaves). The cutoff is 90 % of the lower
//! rate's Nyquist frequency (3.6 kHz for 8 kHz telephony). The filter length grows with
//! the rate ratio so the transition band stays about the same in Hz; 8 <-> 16 kHz uses
//! 25 taps, i.e. about 0.75 ms of delay at 16 kHz.
//!
//! State (filter history, last sample, interpolation phase) is carried across calls to
//! [`Resampler::process`], so feeding 20 ms frames one by one gives the same output as
//! feeding the whole signal at once.

/// Why a resampler could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    #[error("sample rate must be between 1000 and 192000 Hz, got {0}")]
    UnsupportedRate(u32),
}

const MIN_RATE: u32 = 1_000;
const MAX_RATE: u32 = 192_000;
/// Fraction of the lower Nyquist frequency kept by the low-pass.
const PASSBAND: f64 = 0.9;
/// Taps per unit of rate ratio; about 25 taps for a 2x conversion.
const TAPS_PER_RATIO: f64 = 12.0;

/// Converts a stream of mono PCM16 samples from one rate to another.
#[derive(Debug, Clone)]
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    /// Input step per output sample is `step / denom` input samples.
    step: u64,
    denom: u64,
    /// Position of the next output sample after `prev`, in units of `1 / denom`.
    phase: u64,
    prev: f32,
    pre_filter: Option<Fir>,
    post_filter: Option<Fir>,
}

impl Resampler {
    /// Builds a resampler from `from_hz` to `to_hz` (both 1 kHz..=192 kHz).
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        for rate in [from_hz, to_hz] {
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return Err(ResampleError::UnsupportedRate(rate));
            }
        }
        let divisor = gcd(from_hz, to_hz);
        let (low, high) = (from_hz.min(to_hz), from_hz.max(to_hz));
        let filter = (from_hz != to_hz).then(|| {
            let cutoff = 0.5 * PASSBAND * f64::from(low) / f64::from(high);
            let ratio = f64::from(high) / f64::from(low);
            let taps = (TAPS_PER_RATIO * ratio).ceil() as usize | 1;
            Fir::low_pass(cutoff, taps)
        });
        let (pre_filter, post_filter) = if from_hz > to_hz {
            (filter, None)
        } else {
            (None, filter)
        };
        Ok(Self {
            from_hz,
            to_hz,
            step: u64::from(from_hz / divisor),
            denom: u64::from(to_hz / divisor),
            phase: 0,
            prev: 0.0,
            pre_filter,
            post_filter,
        })
    }

    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Upper bound of the number of samples [`process`](Self::process) appends for `input_len`.
    pub fn max_output_len(&self, input_len: usize) -> usize {
        (input_len as u64 * self.denom).div_ceil(self.step) as usize + 1
    }

    /// Forgets all history, as if newly built.
    pub fn reset(&mut self) {
        self.phase = 0;
        self.prev = 0.0;
        for filter in [&mut self.pre_filter, &mut self.post_filter]
            .into_iter()
            .flatten()
        {
            filter.reset();
        }
    }

    /// Resamples `input`, appending the converted samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.from_hz == self.to_hz {
            out.extend_from_slice(input);
            return;
        }
        out.reserve(self.max_output_len(input.len()));
        for &sample in input {
            let mut current = f32::from(sample);
            if let Some(filter) = &mut self.pre_filter {
                current = filter.push(current);
            }
            while self.phase < self.denom {
                let fraction = self.phase as f32 / self.denom as f32;
                let mut value = self.prev + (current - self.prev) * fraction;
                if let Some(filter) = &mut self.post_filter {
                    value = filter.push(value);
                }
                out.push(to_i16(value));
                self.phase += self.step;
            }
            self.phase -= self.denom;
            self.prev = current;
        }
    }
}

fn to_i16(value: f32) -> i16 {
    value
        .round()
        .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Symmetric FIR filter with a contiguous history window.
#[derive(Debug, Clone)]
struct Fir {
    coefficients: Vec<f32>,
    /// Every sample is written twice (`pos` and `pos + len`) so the last `len` samples are
    /// always one contiguous slice: no modulo in the inner loop.
    history: Vec<f32>,
    pos: usize,
}

impl Fir {
    /// Hann-windowed sinc low-pass; `cutoff` in cycles per sample (0..0.5), unity DC gain.
    fn low_pass(cutoff: f64, taps: usize) -> Self {
        let middle = (taps - 1) as f64 / 2.0;
        let mut coefficients: Vec<f64> = (0..taps)
            .map(|n| {
                let x = n as f64 - middle;
                let sinc = if x == 0.0 {
                    2.0 * cutoff
                } else {
                    (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
                };
                let window =
                    0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / (taps - 1) as f64).cos();
                sinc * window
            })
            .collect();
        let sum: f64 = coefficients.iter().sum();
        for c in &mut coefficients {
            *c /= sum;
        }
        Self {
            coefficients: coefficients.into_iter().map(|c| c as f32).collect(),
            history: vec![0.0; taps * 2],
            pos: 0,
        }
    }

    fn reset(&mut self) {
        self.history.fill(0.0);
        self.pos = 0;
    }

    fn push(&mut self, sample: f32) -> f32 {
        let len = self.coefficients.len();
        self.history[self.pos] = sample;
        self.history[self.pos + len] = sample;
        self.pos = (self.pos + 1) % len;
        let window = &self.history[self.pos..self.pos + len];
        // The filter is symmetric, so the order of the window does not matter.
        window
            .iter()
            .zip(&self.coefficients)
            .map(|(s, c)| s * c)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, amplitude: f64, len: usize) -> Vec<i16> {
        (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len() as f64).sqrt()
    }

    fn resample_all(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let mut resampler = Resampler::new(from, to).unwrap();
        let mut out = Vec::new();
        resampler.process(input, &mut out);
        out
    }

    #[test]
    fn output_length_follows_the_rate_ratio() {
        let frame = vec![0i16; 160]; // 20 ms at 8 kHz
        assert_eq!(resample_all(8000, 16000, &frame).len(), 320);
        assert_eq!(resample_all(8000, 24000, &frame).len(), 480);
        assert_eq!(resample_all(8000, 44100, &frame).len(), 882);
        assert_eq!(resample_all(16000, 8000, &vec![0; 320]).len(), 160);
        assert_eq!(resample_all(24000, 8000, &vec![0; 480]).len(), 160);
        assert_eq!(resample_all(44100, 8000, &vec![0; 882]).len(), 160);
    }

    #[test]
    fn rejects_unsupported_rates() {
        assert_eq!(
            Resampler::new(0, 8000).unwrap_err(),
            ResampleError::UnsupportedRate(0)
        );
        assert!(Resampler::new(8000, 400_000).is_err());
    }

    #[test]
    fn equal_rates_pass_samples_through() {
        let input = sine(8000, 440.0, 1000.0, 100);
        assert_eq!(resample_all(8000, 8000, &input), input);
    }

    #[test]
    fn constant_signal_keeps_its_level_after_warm_up() {
        for (from, to) in [(8000, 16000), (16000, 8000), (8000, 24000), (44100, 8000)] {
            let out = resample_all(from, to, &vec![1000i16; 4000]);
            let tail = &out[out.len() / 2..];
            assert!(
                tail.iter().all(|&s| (s - 1000).abs() <= 1),
                "{from}->{to}: {:?}",
                &tail[..8]
            );
        }
    }

    #[test]
    fn speech_band_tone_keeps_its_amplitude() {
        for (from, to) in [
            (8000, 16000),
            (16000, 8000),
            (8000, 24000),
            (24000, 8000),
            (8000, 44100),
        ] {
            let input = sine(from, 1000.0, 10000.0, from as usize / 2);
            let out = resample_all(from, to, &input);
            let ratio = rms(&out[out.len() / 4..]) / rms(&input[input.len() / 4..]);
            assert!((0.95..1.05).contains(&ratio), "{from}->{to}: ratio {ratio}");
        }
    }

    #[test]
    fn downsampling_suppresses_tones_above_the_new_nyquist() {
        // A 6 kHz tone cannot exist at 8 kHz; without the low-pass it would alias to 2 kHz.
        let input = sine(16000, 6000.0, 10000.0, 8000);
        let out = resample_all(16000, 8000, &input);
        let ratio = rms(&out[out.len() / 4..]) / rms(&input);
        assert!(ratio < 0.02, "residual {ratio}");
    }

    #[test]
    fn upsampling_suppresses_images() {
        // Linear interpolation of a 3 kHz tone at 8 kHz leaves an image at 5 kHz (8 - 3).
        let out = resample_all(8000, 16000, &sine(8000, 3000.0, 10000.0, 8000));
        let steady = &out[out.len() / 4..];
        // Project onto the 5 kHz image frequency; a clean tone has ~zero energy there.
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in steady.iter().enumerate() {
            let angle = 2.0 * std::f64::consts::PI * 5000.0 * i as f64 / 16000.0;
            re += f64::from(s) * angle.cos();
            im += f64::from(s) * angle.sin();
        }
        let image_amplitude = 2.0 * (re * re + im * im).sqrt() / steady.len() as f64;
        assert!(image_amplitude < 200.0, "image amplitude {image_amplitude}");
    }

    #[test]
    fn chunked_processing_matches_one_shot() {
        let input = sine(8000, 700.0, 8000.0, 1600);
        for (from, to) in [(8000, 16000), (8000, 44100), (16000, 8000)] {
            let whole = resample_all(from, to, &input);
            let mut resampler = Resampler::new(from, to).unwrap();
            let mut chunked = Vec::new();
            for frame in input.chunks(160) {
                resampler.process(frame, &mut chunked);
            }
            assert_eq!(whole, chunked, "{from}->{to}");
        }
    }

    #[test]
    fn reset_forgets_history() {
        let mut resampler = Resampler::new(8000, 16000).unwrap();
        let mut first = Vec::new();
        resampler.process(&[5000; 50], &mut first);
        resampler.reset();
        let mut second = Vec::new();
        resampler.process(&[5000; 50], &mut second);
        assert_eq!(first, second);
    }

    #[test]
    fn output_never_exceeds_the_length_hint() {
        let resampler = Resampler::new(44100, 8000).unwrap();
        for len in [0usize, 1, 7, 441, 882, 1000] {
            let mut r = resampler.clone();
            let mut out = Vec::new();
            r.process(&vec![0; len], &mut out);
            assert!(out.len() <= resampler.max_output_len(len));
        }
    }
}

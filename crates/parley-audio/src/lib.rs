//! Audio primitives for the call bridge and recordings.
//!
//! - [`mulaw`]: G.711 mu-law <-> linear PCM16 (the Twilio wire format).
//! - [`pcm`]: little-endian PCM16 byte <-> sample conversion (the ElevenLabs `pcm_*` formats).
//! - [`resample`]: streaming PCM16 sample-rate conversion (8 kHz <-> 16/22.05/24/44.1/48 kHz).
//! - [`wav`]: minimal RIFF/WAVE reader and writer for PCM16 and mu-law, mono or stereo.
#![forbid(unsafe_code)]

pub mod mulaw;
pub mod pcm;
pub mod resample;
pub mod wav;

pub use resample::Resampler;
pub use wav::{WavError, WavFormat, WavSpec, WavWriter};

//! Minimal RIFF/WAVE support: PCM16 (format 1) and G.711 mu-law (format 7), 1 or 2 channels.
//!
//! Only what recordings need: a streaming writer that patches the sizes when finished,
//! an in-memory encoder, and a tolerant reader (skips unknown chunks, accepts
//! WAVE_FORMAT_EXTENSIBLE, clamps a data chunk whose size was never patched).

use std::io::{Seek, SeekFrom, Write};

use crate::{mulaw, pcm};

const FORMAT_PCM: u16 = 1;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Sample encoding of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// Signed 16-bit little-endian linear PCM.
    Pcm16,
    /// 8-bit G.711 mu-law.
    MuLaw,
}

impl WavFormat {
    fn tag(self) -> u16 {
        match self {
            Self::Pcm16 => FORMAT_PCM,
            Self::MuLaw => FORMAT_MULAW,
        }
    }

    /// Bytes per sample of one channel.
    pub fn sample_bytes(self) -> u16 {
        match self {
            Self::Pcm16 => 2,
            Self::MuLaw => 1,
        }
    }
}

/// Format, channel count and sample rate of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    pub format: WavFormat,
    pub channels: u16,
    pub sample_rate: u32,
}

impl WavSpec {
    /// Twilio's native stream format: mu-law, 8 kHz, mono.
    pub const MULAW_8K_MONO: Self = Self {
        format: WavFormat::MuLaw,
        channels: 1,
        sample_rate: 8000,
    };

    /// Bytes per sample frame (one sample of every channel).
    pub fn block_align(&self) -> u16 {
        self.format.sample_bytes() * self.channels
    }

    pub fn byte_rate(&self) -> u32 {
        self.sample_rate * u32::from(self.block_align())
    }

    fn validate(&self) -> Result<(), WavError> {
        if !(1..=2).contains(&self.channels) {
            return Err(WavError::UnsupportedChannels(self.channels));
        }
        if self.sample_rate == 0 {
            return Err(WavError::InvalidSampleRate);
        }
        Ok(())
    }

    /// Size of the `fmt ` chunk body: non-PCM formats carry a (zero) extension size.
    fn fmt_len(&self) -> u32 {
        match self.format {
            WavFormat::Pcm16 => 16,
            WavFormat::MuLaw => 18,
        }
    }

    /// Non-PCM formats need a `fact` chunk holding the number of sample frames.
    fn has_fact(&self) -> bool {
        self.format != WavFormat::Pcm16
    }

    fn header_len(&self) -> u32 {
        12 + 8 + self.fmt_len() + if self.has_fact() { 12 } else { 0 } + 8
    }
}

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a RIFF/WAVE file")]
    NotWave,
    #[error("file is truncated")]
    Truncated,
    #[error("missing `{0}` chunk")]
    MissingChunk(&'static str),
    #[error("unsupported wav format tag {tag} with {bits} bits per sample")]
    UnsupportedFormat { tag: u16, bits: u16 },
    #[error("unsupported channel count {0} (1 or 2 supported)")]
    UnsupportedChannels(u16),
    #[error("sample rate must be positive")]
    InvalidSampleRate,
    #[error("audio data exceeds the 4 GiB WAV limit")]
    TooLarge,
}

/// Writes a WAV file incrementally; sizes are patched in by [`finish`](Self::finish).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    spec: WavSpec,
    start: u64,
    data_len: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes a header (with zero sizes) at the current position of `inner`.
    pub fn new(mut inner: W, spec: WavSpec) -> Result<Self, WavError> {
        spec.validate()?;
        let start = inner.stream_position()?;
        inner.write_all(&header(&spec, 0))?;
        Ok(Self {
            inner,
            spec,
            start,
            data_len: 0,
        })
    }

    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// Appends already-encoded, interleaved sample bytes (e.g. mu-law straight off the wire).
    pub fn write_encoded(&mut self, bytes: &[u8]) -> Result<(), WavError> {
        self.inner.write_all(bytes)?;
        self.data_len += bytes.len() as u64;
        Ok(())
    }

    /// Appends interleaved linear samples, encoding them to the file's format.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let mut encoded = Vec::with_capacity(samples.len() * 2);
        match self.spec.format {
            WavFormat::Pcm16 => pcm::samples_to_le_bytes(samples, &mut encoded),
            WavFormat::MuLaw => mulaw::encode_into(samples, &mut encoded),
        }
        self.write_encoded(&encoded)
    }

    /// Pads the data to an even length, patches the chunk sizes and returns the writer.
    pub fn finish(mut self) -> Result<W, WavError> {
        let data_len = u32::try_from(self.data_len).map_err(|_| WavError::TooLarge)?;
        if data_len % 2 == 1 {
            // RIFF chunks are word aligned; the pad byte is not counted in the data size.
            self.inner.write_all(&[0])?;
        }
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(self.start))?;
        self.inner.write_all(&header(&self.spec, data_len))?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Encodes a complete WAV file in memory from interleaved, already-encoded sample bytes.
pub fn encode(spec: WavSpec, data: &[u8]) -> Result<Vec<u8>, WavError> {
    let capacity = spec.header_len() as usize + data.len() + 1;
    let mut writer = WavWriter::new(std::io::Cursor::new(Vec::with_capacity(capacity)), spec)?;
    writer.write_encoded(data)?;
    Ok(writer.finish()?.into_inner())
}

fn header(spec: &WavSpec, data_len: u32) -> Vec<u8> {
    let padded = data_len + data_len % 2;
    let riff_len = spec.header_len() - 8 + padded;
    let mut out = Vec::with_capacity(spec.header_len() as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&spec.fmt_len().to_le_bytes());
    out.extend_from_slice(&spec.format.tag().to_le_bytes());
    out.extend_from_slice(&spec.channels.to_le_bytes());
    out.extend_from_slice(&spec.sample_rate.to_le_bytes());
    out.extend_from_slice(&spec.byte_rate().to_le_bytes());
    out.extend_from_slice(&spec.block_align().to_le_bytes());
    out.extend_from_slice(&(spec.format.sample_bytes() * 8).to_le_bytes());
    if spec.fmt_len() == 18 {
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    if spec.has_fact() {
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        let frames = data_len / u32::from(spec.block_align());
        out.extend_from_slice(&frames.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

/// A decoded WAV file: its spec and the raw interleaved sample bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    pub spec: WavSpec,
    pub data: Vec<u8>,
}

impl Wav {
    /// Number of sample frames.
    pub fn frames(&self) -> usize {
        self.data.len() / usize::from(self.spec.block_align())
    }

    /// All samples as linear PCM16, interleaved.
    pub fn samples(&self) -> Vec<i16> {
        let mut out = Vec::with_capacity(self.frames() * usize::from(self.spec.channels));
        match self.spec.format {
            WavFormat::Pcm16 => pcm::le_bytes_to_samples(&self.data, &mut out),
            WavFormat::MuLaw => mulaw::decode_into(&self.data, &mut out),
        }
        out
    }

    /// Linear PCM16 samples of one channel (0-based); empty if the channel does not exist.
    pub fn channel_samples(&self, channel: u16) -> Vec<i16> {
        if channel >= self.spec.channels {
            return Vec::new();
        }
        self.samples()
            .into_iter()
            .skip(usize::from(channel))
            .step_by(usize::from(self.spec.channels))
            .collect()
    }
}

/// Interleaves two mono channels into stereo frames; the shorter one is padded with silence.
pub fn interleave(left: &[i16], right: &[i16]) -> Vec<i16> {
    let frames = left.len().max(right.len());
    let mut out = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        out.push(left.get(i).copied().unwrap_or(0));
        out.push(right.get(i).copied().unwrap_or(0));
    }
    out
}

/// Parses a WAV file held in memory.
pub fn decode(bytes: &[u8]) -> Result<Wav, WavError> {
    if bytes.len() < 12 {
        return Err(WavError::Truncated);
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWave);
    }
    let mut spec = None;
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let id = &rest[0..4];
        let declared = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let body_start = 8;
        match id {
            b"fmt " => {
                let body = rest
                    .get(body_start..body_start + declared)
                    .ok_or(WavError::Truncated)?;
                spec = Some(parse_fmt(body)?);
            }
            b"data" => {
                let spec = spec.ok_or(WavError::MissingChunk("fmt "))?;
                // A writer that crashed never patched the size: take what is there.
                let available = rest.len() - body_start;
                let len = declared.min(available);
                let len = len - len % usize::from(spec.block_align());
                let data = rest[body_start..body_start + len].to_vec();
                return Ok(Wav { spec, data });
            }
            _ => {}
        }
        let advance = body_start + declared + declared % 2;
        rest = rest.get(advance..).unwrap_or(&[]);
    }
    Err(WavError::MissingChunk(if spec.is_some() {
        "data"
    } else {
        "fmt "
    }))
}

fn parse_fmt(body: &[u8]) -> Result<WavSpec, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated);
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let bits = u16_at(14);
    if tag == FORMAT_EXTENSIBLE {
        // The real format tag is the first two bytes of the sub-format GUID.
        if body.len() < 26 {
            return Err(WavError::Truncated);
        }
        tag = u16_at(24);
    }
    let format = match (tag, bits) {
        (FORMAT_PCM, 16) => WavFormat::Pcm16,
        (FORMAT_MULAW, 8) => WavFormat::MuLaw,
        (tag, bits) => return Err(WavError::UnsupportedFormat { tag, bits }),
    };
    let spec = WavSpec {
        format,
        channels,
        sample_rate,
    };
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(bytes: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap())
    }

    #[test]
    fn pcm16_mono_header_is_canonical() {
        let spec = WavSpec {
            format: WavFormat::Pcm16,
            channels: 1,
            sample_rate: 16000,
        };
        let file = encode(spec, &[1, 0, 2, 0]).unwrap();
        assert_eq!(file.len(), 44 + 4);
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(u32_at(&file, 4), 40);
        assert_eq!(&file[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(&file, 16), 16);
        assert_eq!(&file[20..22], &[1, 0]); // PCM
        assert_eq!(&file[22..24], &[1, 0]); // mono
        assert_eq!(u32_at(&file, 24), 16000);
        assert_eq!(u32_at(&file, 28), 32000); // byte rate
        assert_eq!(&file[32..36], &[2, 0, 16, 0]); // block align, bits
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32_at(&file, 40), 4);
        assert_eq!(&file[44..], &[1, 0, 2, 0]);
    }

    #[test]
    fn mulaw_header_has_extension_and_fact_chunk() {
        let file = encode(WavSpec::MULAW_8K_MONO, &[0xFF; 160]).unwrap();
        assert_eq!(&file[20..22], &[7, 0]);
        assert_eq!(u32_at(&file, 16), 18);
        assert_eq!(&file[34..36], &[8, 0]); // bits per sample
        assert_eq!(&file[38..42], b"fact");
        assert_eq!(u32_at(&file, 46), 160);
        assert_eq!(&file[50..54], b"data");
        assert_eq!(u32_at(&file, 54), 160);
        assert_eq!(u32_at(&file, 4) as usize, file.len() - 8);
    }

    #[test]
    fn round_trips_every_supported_layout() {
        for format in [WavFormat::Pcm16, WavFormat::MuLaw] {
            for channels in [1, 2] {
                let spec = WavSpec {
                    format,
                    channels,
                    sample_rate: 8000,
                };
                let data: Vec<u8> = (0..(spec.block_align() as usize * 5))
                    .map(|i| i as u8)
                    .collect();
                let wav = decode(&encode(spec, &data).unwrap()).unwrap();
                assert_eq!(wav.spec, spec);
                assert_eq!(wav.data, data);
                assert_eq!(wav.frames(), 5);
            }
        }
    }

    #[test]
    fn odd_data_is_padded_but_not_counted() {
        let spec = WavSpec::MULAW_8K_MONO;
        let file = encode(spec, &[1, 2, 3]).unwrap();
        assert_eq!(file.len() % 2, 0);
        assert_eq!(u32_at(&file, 54), 3);
        assert_eq!(u32_at(&file, 4) as usize, file.len() - 8);
        assert_eq!(decode(&file).unwrap().data, vec![1, 2, 3]);
    }

    #[test]
    fn streaming_writer_encodes_samples_and_patches_sizes() {
        let spec = WavSpec {
            format: WavFormat::MuLaw,
            channels: 2,
            sample_rate: 8000,
        };
        let mut writer = WavWriter::new(std::io::Cursor::new(Vec::new()), spec).unwrap();
        let stereo = interleave(&[0, 32124, -32124], &[8, -8]);
        assert_eq!(stereo, vec![0, 8, 32124, -8, -32124, 0]);
        writer.write_samples(&stereo).unwrap();
        writer.write_encoded(&[0xFF, 0xFF]).unwrap();
        let file = writer.finish().unwrap().into_inner();
        let wav = decode(&file).unwrap();
        assert_eq!(wav.frames(), 4);
        assert_eq!(
            wav.data,
            vec![0xFF, 0xFE, 0x80, 0x7E, 0x00, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(wav.channel_samples(0), vec![0, 32124, -32124, 0]);
        assert_eq!(wav.channel_samples(1), vec![8, -8, 0, 0]);
        assert!(wav.channel_samples(2).is_empty());
        assert_eq!(u32_at(&file, 46), 4); // fact: frames
    }

    #[test]
    fn pcm_samples_are_decoded_little_endian() {
        let spec = WavSpec {
            format: WavFormat::Pcm16,
            channels: 1,
            sample_rate: 8000,
        };
        let mut writer = WavWriter::new(std::io::Cursor::new(Vec::new()), spec).unwrap();
        writer.write_samples(&[-2, 300]).unwrap();
        let file = writer.finish().unwrap().into_inner();
        assert_eq!(&file[44..], &[0xFE, 0xFF, 0x2C, 0x01]);
        assert_eq!(decode(&file).unwrap().samples(), vec![-2, 300]);
    }

    #[test]
    fn reader_skips_unknown_chunks_and_reads_extensible_format() {
        let mut file = Vec::new();
        file.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        file.extend_from_slice(b"LIST");
        file.extend_from_slice(&3u32.to_le_bytes());
        file.extend_from_slice(&[9, 9, 9, 0]); // odd size + pad byte
        file.extend_from_slice(b"fmt ");
        file.extend_from_slice(&40u32.to_le_bytes());
        file.extend_from_slice(&FORMAT_EXTENSIBLE.to_le_bytes());
        file.extend_from_slice(&1u16.to_le_bytes());
        file.extend_from_slice(&8000u32.to_le_bytes());
        file.extend_from_slice(&16000u32.to_le_bytes());
        file.extend_from_slice(&2u16.to_le_bytes());
        file.extend_from_slice(&16u16.to_le_bytes());
        file.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        file.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        file.extend_from_slice(&4u32.to_le_bytes()); // channel mask
        file.extend_from_slice(&FORMAT_PCM.to_le_bytes());
        file.extend_from_slice(&[0; 14]); // rest of the GUID
        file.extend_from_slice(b"data");
        file.extend_from_slice(&2u32.to_le_bytes());
        file.extend_from_slice(&[0x10, 0x00]);
        let wav = decode(&file).unwrap();
        assert_eq!(wav.spec.format, WavFormat::Pcm16);
        assert_eq!(wav.samples(), vec![16]);
    }

    #[test]
    fn unpatched_data_size_is_clamped_to_the_file() {
        let mut file = encode(WavSpec::MULAW_8K_MONO, &[1, 2, 3, 4]).unwrap();
        file[54..58].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&file).unwrap().data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(decode(b"RIFF"), Err(WavError::Truncated)));
        assert!(matches!(
            decode(b"RIFX\0\0\0\0WAVE"),
            Err(WavError::NotWave)
        ));
        assert!(matches!(
            decode(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::MissingChunk("fmt "))
        ));
        let mut float = encode(WavSpec::MULAW_8K_MONO, &[0]).unwrap();
        float[20] = 3; // IEEE float
        assert!(matches!(
            decode(&float),
            Err(WavError::UnsupportedFormat { tag: 3, bits: 8 })
        ));
        let no_data = &encode(WavSpec::MULAW_8K_MONO, &[]).unwrap()[..50];
        assert!(matches!(
            decode(no_data),
            Err(WavError::MissingChunk("data"))
        ));
        let three = WavSpec {
            channels: 3,
            ..WavSpec::MULAW_8K_MONO
        };
        assert!(matches!(
            encode(three, &[]),
            Err(WavError::UnsupportedChannels(3))
        ));
    }
}

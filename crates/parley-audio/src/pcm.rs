//! Little-endian PCM16 byte buffers <-> samples.
//!
//! ElevenLabs `pcm_*` formats are raw signed 16-bit mono; little-endian is what every
//! known client uses (the reference marks the endianness as assumed).

/// Converts little-endian PCM16 bytes to samples, appending to `out`.
/// A trailing odd byte (half a sample) is ignored.
pub fn le_bytes_to_samples(bytes: &[u8], out: &mut Vec<i16>) {
    out.reserve(bytes.len() / 2);
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
    );
}

/// Converts samples to little-endian PCM16 bytes, appending to `out`.
pub fn samples_to_le_bytes(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_little_endian() {
        let samples = [0i16, 1, -1, i16::MAX, i16::MIN, 0x1234];
        let mut bytes = Vec::new();
        samples_to_le_bytes(&samples, &mut bytes);
        assert_eq!(&bytes[..4], &[0, 0, 1, 0]);
        assert_eq!(&bytes[10..12], &[0x34, 0x12]);
        let mut back = Vec::new();
        le_bytes_to_samples(&bytes, &mut back);
        assert_eq!(back, samples);
    }

    #[test]
    fn odd_trailing_byte_is_ignored() {
        let mut out = Vec::new();
        le_bytes_to_samples(&[0xFF, 0xFF, 0x01], &mut out);
        assert_eq!(out, vec![-1]);
    }
}

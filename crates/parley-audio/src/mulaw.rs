//! G.711 mu-law codec (ITU-T G.711, the classic "bias 0x84 / clip 32635" formulation).
//!
//! Decoding is a 256-entry table built at compile time. Encoding uses a 256-entry
//! segment (exponent) table, which is exact and avoids a 64 KiB lookup table.

/// Added to the magnitude before segment lookup so every segment starts on a power of two.
const BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top segment once the bias is added.
const CLIP: i32 = 32635;

/// mu-law byte for digital silence (linear 0). `0x7F` also decodes to 0 ("negative zero").
pub const SILENCE: u8 = 0xFF;

/// Linear value of every mu-law code.
static DECODE_TABLE: [i16; 256] = build_decode_table();

/// Segment number for `(biased magnitude >> 7)`: the position of its highest set bit.
static SEGMENT_TABLE: [u8; 256] = build_segment_table();

const fn build_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        // Codes are transmitted inverted so that silence is 0xFF.
        let inverted = !(code as u8);
        let negative = inverted & 0x80 != 0;
        let segment = ((inverted >> 4) & 0x07) as i32;
        let mantissa = (inverted & 0x0F) as i32;
        let magnitude = (((mantissa << 3) + BIAS) << segment) - BIAS;
        table[code] = if negative {
            -magnitude as i16
        } else {
            magnitude as i16
        };
        code += 1;
    }
    table
}

const fn build_segment_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 1;
    while i < 256 {
        // Highest set bit position of i (0 for i == 0 or 1).
        table[i] = (7 - (i as u8).leading_zeros()) as u8;
        i += 1;
    }
    table
}

/// Decodes one mu-law byte to a linear 16-bit sample.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE_TABLE[code as usize]
}

/// Encodes one linear 16-bit sample to mu-law.
#[inline]
pub fn encode(sample: i16) -> u8 {
    let sample = i32::from(sample);
    let sign: u8 = if sample < 0 { 0x80 } else { 0x00 };
    let magnitude = sample.unsigned_abs().min(CLIP as u32) as i32 + BIAS;
    let segment = SEGMENT_TABLE[((magnitude >> 7) & 0xFF) as usize];
    let mantissa = ((magnitude >> (segment + 3)) & 0x0F) as u8;
    !(sign | (segment << 4) | mantissa)
}

/// Decodes a mu-law buffer, appending the samples to `out`.
pub fn decode_into(codes: &[u8], out: &mut Vec<i16>) {
    out.reserve(codes.len());
    out.extend(codes.iter().map(|&c| decode(c)));
}

/// Encodes samples to mu-law, appending the codes to `out`.
pub fn encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len());
    out.extend(samples.iter().map(|&s| encode(s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes_decode_to_zero() {
        assert_eq!(decode(SILENCE), 0);
        assert_eq!(decode(0x7F), 0);
        assert_eq!(encode(0), SILENCE);
    }

    #[test]
    fn known_values_match_the_standard() {
        // Extremes of the scale.
        assert_eq!(decode(0x80), 32124);
        assert_eq!(decode(0x00), -32124);
        // First step of the smallest segment: (1<<3)+0x84-0x84 = 8.
        assert_eq!(decode(0xFE), 8);
        assert_eq!(decode(0x7E), -8);
        // Start of segment 1: ((0<<3)+0x84)<<1 - 0x84 = 132.
        assert_eq!(decode(0xEF), 132);
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN), 0x00);
        assert_eq!(encode(-1), 0x7F);
        assert_eq!(encode(8), 0xFE);
        assert_eq!(encode(132), 0xEF);
    }

    #[test]
    fn every_code_round_trips_except_negative_zero() {
        for code in 0..=255u8 {
            let back = encode(decode(code));
            if code == 0x7F {
                // Both zero codes decode to 0, which encodes to the canonical 0xFF.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn decode_is_monotonic_within_each_sign() {
        // Codes 0x80..=0xFF are positive with magnitude decreasing as the code grows.
        for code in 0x80..0xFFu8 {
            assert!(decode(code) > decode(code + 1));
        }
        for code in 0x00..0x7Fu8 {
            assert!(decode(code) < decode(code + 1));
        }
    }

    #[test]
    fn encoding_error_is_within_half_a_quantisation_step() {
        for sample in i16::MIN..=i16::MAX {
            let decoded = i32::from(decode(encode(sample)));
            let clipped = i32::from(sample).clamp(-CLIP, CLIP);
            let segment = i32::from(SEGMENT_TABLE[(((clipped.abs() + BIAS) >> 7) & 0xFF) as usize]);
            let step = 1 << (segment + 3);
            assert!(
                (decoded - clipped).abs() <= step,
                "sample {sample} decoded {decoded} step {step}"
            );
        }
    }

    #[test]
    fn buffer_helpers_append() {
        let mut pcm = vec![7];
        decode_into(&[0xFF, 0x80], &mut pcm);
        assert_eq!(pcm, vec![7, 0, 32124]);
        let mut codes = vec![1];
        encode_into(&[0, 32124], &mut codes);
        assert_eq!(codes, vec![1, 0xFF, 0x80]);
    }
}

//! Just enough RFC 6455 for the load generator: unfragmented text, close, ping and pong
//! frames, written around a message already in the output buffer and read in place.
//!
//! A message is written at [`HEADER_ROOM`] into an empty buffer, then its header is put
//! right before it, so framing never moves the payload; [`Frames::next`] unmasks and
//! hands back each complete frame of a read buffer without copying it.

/// The largest header: 2 bytes, a 64-bit length, a 4-byte mask.
pub const HEADER_ROOM: usize = 14;

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Which end of the connection this is: a client masks what it sends (RFC 6455 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client { mask: [u8; 4] },
    Server,
}

/// Starts a message in `out`, which must be empty: room for the header, then the payload
/// is appended by the caller, then [`finish`] frames it.
pub fn begin(out: &mut Vec<u8>) {
    debug_assert!(out.is_empty());
    out.resize(HEADER_ROOM, 0);
}

/// Frames the payload appended after [`begin`] as one final frame with `opcode`; returns
/// where the frame starts in `out` (it ends at `out.len()`).
pub fn finish(out: &mut [u8], opcode: u8, side: Side) -> usize {
    let len = out.len() - HEADER_ROOM;
    let mut header = [0u8; HEADER_ROOM];
    header[0] = 0x80 | opcode;
    let masked = matches!(side, Side::Client { .. });
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut n = match len {
        0..=125 => {
            header[1] = mask_bit | len as u8;
            2
        }
        126..=0xFFFF => {
            header[1] = mask_bit | 126;
            header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            header[1] = mask_bit | 127;
            header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    if let Side::Client { mask } = side {
        header[n..n + 4].copy_from_slice(&mask);
        n += 4;
        apply_mask(&mut out[HEADER_ROOM..], mask);
    }
    let start = HEADER_ROOM - n;
    out[start..HEADER_ROOM].copy_from_slice(&header[..n]);
    start
}

/// XORs `data` with the repeating 4-byte `mask` (its own inverse).
fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    if mask == [0; 4] {
        return;
    }
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(mask) {
        *b ^= m;
    }
}

/// One frame found in a read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub fin: bool,
    pub opcode: u8,
    pub payload: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("a frame of {0} bytes is larger than any message of this benchmark")]
    TooLarge(u64),
}

/// The frames of a read buffer, in order; what is left at the end is an incomplete frame.
pub struct Frames<'a> {
    buf: &'a mut [u8],
    at: usize,
    limit: usize,
}

impl<'a> Frames<'a> {
    /// Frames larger than `limit` bytes are refused.
    pub fn new(buf: &'a mut [u8], limit: usize) -> Frames<'a> {
        Frames { buf, at: 0, limit }
    }

    /// Bytes taken by the complete frames returned so far.
    pub fn consumed(&self) -> usize {
        self.at
    }

    /// The next complete frame, unmasked in place; `None` when only a partial frame (or
    /// nothing) is left.
    #[allow(clippy::should_implement_trait)] // frames borrow the buffer: not an Iterator
    pub fn next(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        let rest = &self.buf[self.at..];
        if rest.len() < 2 {
            return None;
        }
        let (fin, opcode) = (rest[0] & 0x80 != 0, rest[0] & 0x0F);
        let masked = rest[1] & 0x80 != 0;
        let (len, mut head) = match rest[1] & 0x7F {
            126 => (
                u64::from(u16::from_be_bytes(rest.get(2..4)?.try_into().ok()?)),
                4,
            ),
            127 => (u64::from_be_bytes(rest.get(2..10)?.try_into().ok()?), 10),
            n => (u64::from(n), 2),
        };
        if len > self.limit as u64 {
            return Some(Err(FrameError::TooLarge(len)));
        }
        let mask = if masked {
            let mask: [u8; 4] = rest.get(head..head + 4)?.try_into().ok()?;
            head += 4;
            Some(mask)
        } else {
            None
        };
        let total = head + len as usize;
        if rest.len() < total {
            return None;
        }
        let start = self.at + head;
        let end = self.at + total;
        self.at = end;
        let payload = &mut self.buf[start..end];
        if let Some(mask) = mask {
            apply_mask(payload, mask);
        }
        Some(Ok(Frame {
            fin,
            opcode,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8], opcode: u8, side: Side) -> Vec<u8> {
        let mut out = Vec::new();
        begin(&mut out);
        out.extend_from_slice(payload);
        let start = finish(&mut out, opcode, side);
        out.split_off(start)
    }

    #[test]
    fn frames_of_every_length_form_read_back() {
        for len in [0, 5, 125, 126, 300, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for side in [
                Side::Server,
                Side::Client {
                    mask: [1, 2, 3, 0xFF],
                },
            ] {
                let mut wire = framed(&payload, OP_TEXT, side);
                // Two frames back to back and all but the last byte of a third.
                let second = wire.clone();
                wire.extend_from_slice(&second);
                wire.extend_from_slice(&second[..second.len() - 1]);
                let mut frames = Frames::new(&mut wire, 1 << 20);
                for _ in 0..2 {
                    let frame = frames.next().unwrap().unwrap();
                    assert!(frame.fin);
                    assert_eq!(frame.opcode, OP_TEXT);
                    assert_eq!(frame.payload, payload.as_slice(), "len {len} {side:?}");
                }
                assert!(frames.next().is_none());
                assert_eq!(frames.consumed(), 2 * second.len());
            }
        }
    }

    #[test]
    fn a_client_frame_is_masked_and_a_server_frame_is_not() {
        let client = framed(b"hi", OP_TEXT, Side::Client { mask: [9, 9, 9, 9] });
        assert_eq!(client[..2], [0x81, 0x82]);
        assert_eq!(client[6..], [b'h' ^ 9, b'i' ^ 9]);
        assert_eq!(
            framed(b"hi", OP_CLOSE, Side::Server),
            [0x88, 0x02, b'h', b'i']
        );
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut wire = framed(&[0; 300], OP_TEXT, Side::Server);
        let mut frames = Frames::new(&mut wire, 200);
        assert_eq!(frames.next(), Some(Err(FrameError::TooLarge(300))));
    }
}

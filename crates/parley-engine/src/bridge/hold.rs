//! Caller audio that arrives before the agent has said which input format it wants
//! (`conversation_initiation_metadata`). Sending it as it came could hand an agent that
//! asked for PCM a few hundred milliseconds of mu-law, so it waits here, bounded: past
//! [`HOLD_FRAMES`] the oldest frames go (and are counted). Once the format is known the
//! buffer is released and never used again, so the relay's frame path pays nothing.
//!
//! Frames are kept decoded and back to back in one buffer (160 bytes a 20 ms frame, not
//! a base64 string per frame): every call holds some while its agent connects, and
//! memory per call is a target.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::collections::VecDeque;

/// One second of Twilio's 20 ms frames.
pub const HOLD_FRAMES: usize = 50;

#[derive(Default)]
pub struct Held {
    /// The frames' mu-law bytes, oldest first.
    bytes: Vec<u8>,
    /// Each frame's length in `bytes`, oldest first.
    lengths: VecDeque<u16>,
    dropped: u32,
}

impl Held {
    /// Keeps one frame (its base64 payload), dropping the oldest when full. A payload
    /// that is not base64 is no audio to keep.
    pub fn push(&mut self, payload: &str) {
        let before = self.bytes.len();
        if B64.decode_vec(payload.as_bytes(), &mut self.bytes).is_err() {
            self.bytes.truncate(before);
            return;
        }
        let Ok(length) = u16::try_from(self.bytes.len() - before) else {
            self.bytes.truncate(before);
            return;
        };
        self.lengths.push_back(length);
        if self.lengths.len() > HOLD_FRAMES {
            let oldest = self.lengths.pop_front().map_or(0, usize::from);
            self.bytes.drain(..oldest);
            self.dropped += 1;
        }
    }

    /// Takes the frames held, oldest first, and how many were dropped; leaves nothing
    /// behind (the memory goes with the returned frames).
    pub fn release(&mut self) -> (HeldFrames, u32) {
        let dropped = std::mem::take(&mut self.dropped);
        let frames = HeldFrames {
            bytes: std::mem::take(&mut self.bytes),
            lengths: std::mem::take(&mut self.lengths),
            at: 0,
            payload: String::new(),
        };
        (frames, dropped)
    }
}

/// Released frames, handed out one at a time as base64 payloads.
pub struct HeldFrames {
    bytes: Vec<u8>,
    lengths: VecDeque<u16>,
    at: usize,
    payload: String,
}

impl HeldFrames {
    /// The next frame's base64 payload (in a buffer reused from frame to frame).
    pub fn next_payload(&mut self) -> Option<&str> {
        let length = usize::from(self.lengths.pop_front()?);
        let frame = &self.bytes[self.at..self.at + length];
        self.at += length;
        self.payload.clear();
        B64.encode_string(frame, &mut self.payload);
        Some(&self.payload)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lengths.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(i: usize) -> String {
        B64.encode(format!("frame{i}"))
    }

    #[test]
    fn holds_up_to_a_second_and_drops_the_oldest_beyond() {
        let mut held = Held::default();
        held.push("not base64!");
        for i in 0..HOLD_FRAMES + 7 {
            held.push(&payload(i));
        }
        let (mut frames, dropped) = held.release();
        assert_eq!(dropped, 7);
        assert_eq!(frames.len(), HOLD_FRAMES);
        let all: Vec<String> =
            std::iter::from_fn(|| frames.next_payload().map(str::to_owned)).collect();
        let expected: Vec<String> = (7..HOLD_FRAMES + 7).map(payload).collect();
        assert_eq!(all, expected, "oldest first, the first 7 dropped");
        let (left, dropped) = held.release();
        assert!(
            left.len() == 0 && dropped == 0,
            "all of it went with the first release"
        );
    }
}

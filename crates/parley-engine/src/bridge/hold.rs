//! Caller audio that arrives before the agent has said which input format it wants
//! (`conversation_initiation_metadata`). Sending it as it came could hand an agent that
//! asked for PCM a few hundred milliseconds of mu-law, so it waits here, bounded: past
//! [`HOLD_FRAMES`] the oldest frames go (and are counted). Once the format is known the
//! buffer is released and never used again, so the relay's frame path pays nothing.
use std::collections::VecDeque;

/// One second of Twilio's 20 ms frames.
pub const HOLD_FRAMES: usize = 50;

#[derive(Default)]
pub struct Held {
    frames: VecDeque<String>,
    dropped: u32,
}

impl Held {
    /// Keeps a copy of one frame's base64 payload, dropping the oldest when full.
    pub fn push(&mut self, payload: &str) {
        if self.frames.len() == HOLD_FRAMES {
            // The oldest frame's buffer is reused for the newest.
            let mut oldest = self.frames.pop_front().unwrap_or_default();
            oldest.clear();
            oldest.push_str(payload);
            self.frames.push_back(oldest);
            self.dropped += 1;
        } else {
            self.frames.push_back(payload.to_owned());
        }
    }

    /// The frames held, oldest first, and how many were dropped; leaves nothing behind
    /// (the memory goes with the returned frames).
    pub fn release(&mut self) -> (VecDeque<String>, u32) {
        let dropped = std::mem::take(&mut self.dropped);
        (std::mem::take(&mut self.frames), dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_a_second_and_drops_the_oldest_beyond() {
        let mut held = Held::default();
        for i in 0..HOLD_FRAMES + 7 {
            held.push(&format!("frame{i}"));
        }
        let (frames, dropped) = held.release();
        assert_eq!(dropped, 7);
        assert_eq!(frames.len(), HOLD_FRAMES);
        assert_eq!(frames.front().map(String::as_str), Some("frame7"));
        assert_eq!(
            frames.back().map(String::as_str),
            Some(format!("frame{}", HOLD_FRAMES + 6).as_str())
        );
        let (left, dropped) = held.release();
        assert!(
            left.is_empty() && dropped == 0,
            "all of it went with the first release"
        );
    }
}

//! The far end of an answered call: the playback queue of audio the app sent (drained in
//! real time, 160 bytes per 20 ms, with marks), and the simulated callee who listens to
//! what plays out and speaks its persona's lines as tones.

use std::collections::VecDeque;

use parley_audio::mulaw;

use crate::personas::{Persona, Pickup};
use crate::voice::{self, FRAME_SAMPLES};

/// Pause between the agent falling silent and the callee replying (at speed 1).
const REPLY_PAUSE_MS: u64 = 300;
/// A voicemail beep: frequency and length (at speed 1).
pub(crate) const BEEP_HZ: u32 = 1400;
pub(crate) const BEEP_MS: u64 = 300;
/// Buffered app audio beyond this (two minutes) is dropped: Twilio's limit is unknown, and
/// memory must stay bounded.
const MAX_QUEUED_BYTES: usize = 8000 * 120;
/// Frequency tolerance when recognising the agent's voice.
const VOICE_TOLERANCE_HZ: f32 = 50.0;

pub(crate) type Frame = [u8; FRAME_SAMPLES];

/// Audio the app sent, played to the callee in order, in real time (reference E.4).
#[derive(Default)]
pub(crate) struct Playback {
    queue: VecDeque<u8>,
    /// Bytes ever queued / played (cleared bytes count as played, so marks line up).
    queued: u64,
    played: u64,
    /// Marks and the byte position they sit at.
    marks: VecDeque<(u64, String)>,
}

impl Playback {
    pub fn push_audio(&mut self, bytes: &[u8]) {
        let room = MAX_QUEUED_BYTES.saturating_sub(self.queue.len());
        let take = bytes.len().min(room);
        if take < bytes.len() {
            tracing::warn!(
                dropped = bytes.len() - take,
                "twilio sim: playback buffer full"
            );
        }
        self.queue.extend(&bytes[..take]);
        self.queued += take as u64;
    }

    /// Queues a mark; returns it if it is reached already (nothing buffered): echo at once.
    pub fn push_mark(&mut self, name: String) -> Option<String> {
        if self.queue.is_empty() {
            return Some(name);
        }
        self.marks.push_back((self.queued, name));
        None
    }

    /// Drops all buffered audio; every pending mark is returned to be echoed now.
    pub fn clear(&mut self) -> Vec<String> {
        self.played += self.queue.len() as u64;
        self.queue.clear();
        self.marks.drain(..).map(|(_, name)| name).collect()
    }

    /// Plays the next 20 ms into `out` (silence-padded); false if nothing was queued.
    pub fn next_frame(&mut self, out: &mut Frame) -> bool {
        let n = self.queue.len().min(out.len());
        for (slot, byte) in out.iter_mut().zip(self.queue.drain(..n)) {
            *slot = byte;
        }
        out[n..].fill(mulaw::SILENCE);
        self.played += n as u64;
        n > 0
    }

    /// Marks that playback has now passed, in order.
    pub fn reached_marks(&mut self) -> Vec<String> {
        let mut reached = Vec::new();
        while self
            .marks
            .front()
            .is_some_and(|(position, _)| *position <= self.played)
        {
            if let Some((_, name)) = self.marks.pop_front() {
                reached.push(name);
            }
        }
        reached
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The simulated callee's turn-taking.
pub(crate) struct Callee {
    persona: &'static Persona,
    speed: f64,
    /// What the callee is saying now, not yet sent.
    speech: VecDeque<u8>,
    next_line: usize,
    /// The agent has spoken since the callee last started a line.
    heard_agent: bool,
    /// Ticks since agent audio was last heard.
    quiet_ticks: u64,
    pause_ticks: u64,
    lines_spoken: u32,
}

impl Callee {
    pub fn new(persona: &'static Persona, speed: f64) -> Self {
        let pause_ms = REPLY_PAUSE_MS as f64 / speed;
        let mut callee = Self {
            persona,
            speed,
            speech: VecDeque::new(),
            next_line: 0,
            heard_agent: false,
            quiet_ticks: 0,
            pause_ticks: (pause_ms / 20.0).ceil() as u64,
            lines_spoken: 0,
        };
        if persona.pickup == Pickup::Machine {
            // A voicemail plays its greeting and beep whoever is listening.
            for line in persona.lines {
                callee.say(line);
            }
            let beep_ms = callee.scaled_ms(BEEP_MS);
            callee.speech.extend(voice::tone_mulaw(BEEP_HZ, beep_ms));
            callee.next_line = persona.lines.len();
        }
        callee
    }

    fn scaled_ms(&self, ms: u64) -> u64 {
        ((ms as f64 / self.speed).ceil() as u64).max(20)
    }

    fn say(&mut self, line: &str) {
        let ms = self.scaled_ms(voice::speaking_ms(line));
        self.speech
            .extend(voice::tone_mulaw(self.persona.voice_hz, ms));
        self.lines_spoken += 1;
    }

    /// The greeting plus beep of a machine, in ms at speed 1 (for AMD timing).
    pub fn machine_greeting_ms(persona: &Persona) -> u64 {
        persona
            .lines
            .iter()
            .map(|line| voice::speaking_ms(line))
            .sum::<u64>()
            + BEEP_MS
    }

    pub fn lines_spoken(&self) -> u32 {
        self.lines_spoken
    }

    /// Listens to one frame of what played out. `audible` is false for pure padding
    /// (skips the frequency estimate); `drained` says the playback queue is now empty.
    pub fn hear(&mut self, frame: &Frame, audible: bool, drained: bool) {
        let agent_spoke = audible
            && voice::frequency_mulaw(frame)
                .is_some_and(|hz| (hz - voice::AGENT_VOICE_HZ as f32).abs() < VOICE_TOLERANCE_HZ);
        if agent_spoke {
            self.heard_agent = true;
            self.quiet_ticks = 0;
        } else {
            self.quiet_ticks += 1;
        }
        let my_turn = self.heard_agent
            && drained
            && self.speech.is_empty()
            && self.quiet_ticks >= self.pause_ticks
            && self.next_line < self.persona.lines.len();
        if my_turn {
            let line = self.persona.lines[self.next_line];
            self.next_line += 1;
            self.heard_agent = false;
            self.say(line);
        }
    }

    /// The callee's next 20 ms: its speech, or silence.
    pub fn speak(&mut self, out: &mut Frame) {
        let n = self.speech.len().min(out.len());
        for (slot, byte) in out.iter_mut().zip(self.speech.drain(..n)) {
            *slot = byte;
        }
        out[n..].fill(mulaw::SILENCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personas::{persona_for, CONVERSES};

    fn frame_of(bytes: &[u8]) -> Frame {
        let mut frame = [mulaw::SILENCE; FRAME_SAMPLES];
        frame[..bytes.len()].copy_from_slice(bytes);
        frame
    }

    #[test]
    fn marks_echo_when_playback_reaches_them_and_on_clear() {
        let mut playback = Playback::default();
        assert_eq!(playback.push_mark("early".into()), Some("early".into()));
        playback.push_audio(&[0x10; 320]);
        assert_eq!(playback.push_mark("a".into()), None);
        playback.push_audio(&[0x10; 160]);
        assert_eq!(playback.push_mark("b".into()), None);
        let mut out = [0; FRAME_SAMPLES];
        assert!(playback.next_frame(&mut out));
        assert!(playback.reached_marks().is_empty());
        assert!(playback.next_frame(&mut out));
        assert_eq!(playback.reached_marks(), ["a"]);
        assert_eq!(playback.clear(), ["b"]);
        assert!(!playback.next_frame(&mut out));
        assert_eq!(out, [mulaw::SILENCE; FRAME_SAMPLES]);
    }

    #[test]
    fn callee_answers_after_the_agent_speaks_and_falls_silent() {
        let mut callee = Callee::new(&CONVERSES, 5.0);
        let mut out = [0; FRAME_SAMPLES];
        // Silence: the callee waits for the agent's greeting.
        for _ in 0..10 {
            callee.hear(&[mulaw::SILENCE; FRAME_SAMPLES], false, true);
            callee.speak(&mut out);
            assert!(voice::frequency_mulaw(&out).is_none());
        }
        let agent = voice::tone_mulaw(voice::AGENT_VOICE_HZ, 100);
        for chunk in agent.chunks(FRAME_SAMPLES) {
            callee.hear(&frame_of(chunk), true, false);
            callee.speak(&mut out);
        }
        let mut heard = None;
        for _ in 0..10 {
            callee.hear(&[mulaw::SILENCE; FRAME_SAMPLES], false, true);
            callee.speak(&mut out);
            if let Some(hz) = voice::frequency_mulaw(&out) {
                heard = Some(hz);
                break;
            }
        }
        let hz = heard.expect("callee replied");
        assert!((hz - CONVERSES.voice_hz as f32).abs() < 30.0, "{hz}");
        assert_eq!(callee.lines_spoken(), 1);
    }

    #[test]
    fn machine_greets_and_beeps_unprompted() {
        let persona = persona_for("+15550100002");
        let mut callee = Callee::new(persona, 5.0);
        let mut out = [0; FRAME_SAMPLES];
        callee.speak(&mut out);
        let hz = voice::frequency_mulaw(&out).unwrap();
        assert!((hz - persona.voice_hz as f32).abs() < 30.0);
        let mut last = 0.0;
        while !callee.speech.is_empty() {
            callee.speak(&mut out);
            if let Some(hz) = voice::frequency_mulaw(&out) {
                last = hz;
            }
        }
        assert!((last - BEEP_HZ as f32).abs() < 40.0, "{last}");
    }
}

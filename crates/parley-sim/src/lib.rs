//! Faithful simulators of Twilio and ElevenLabs, and the simulated people they call.
//! They play the other side of the same wire formats Parley speaks (see
//! `shared/reference/twilio.md` and `elevenlabs.md`), over real HTTP and WebSockets.
#![forbid(unsafe_code)]

pub mod elevenlabs;
pub mod fakes;
pub mod net_delay;
pub mod personas;
pub mod twilio;
pub mod voice;

//! What Twilio and ElevenLabs send us. Every request is verified (Twilio signature,
//! ElevenLabs HMAC) before anything in it is read; a bad signature gets 403 and stores
//! nothing.
pub mod elevenlabs;
pub(crate) mod media_socket;
pub mod tools;
pub mod twilio;

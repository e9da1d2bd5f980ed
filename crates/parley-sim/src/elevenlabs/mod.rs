//! ElevenLabs simulator (being written).

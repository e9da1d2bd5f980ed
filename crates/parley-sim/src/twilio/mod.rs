//! Twilio simulator (being written).

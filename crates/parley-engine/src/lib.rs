//! The running system: dialer, call bridge, post-call pipeline, webhook outbox, event
//! bus, agent tools, and the settings that configure them.
#![forbid(unsafe_code)]

pub mod settings;

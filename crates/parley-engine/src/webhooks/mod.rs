//! Outbound webhooks to CRMs. Events are written to the outbox by the store, in the
//! transaction of the change that caused them; the [`WebhookWorker`] on every node sends
//! the due deliveries, signed, retried on a schedule, and logged attempt by attempt.
pub mod signature;
mod worker;

pub use worker::WebhookWorker;

/// A fresh signing secret for a subscription.
pub fn new_secret() -> String {
    format!("whsec_{}", crate::secrets::random_token())
}

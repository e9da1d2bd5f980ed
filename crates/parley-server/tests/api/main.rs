//! API tests over real HTTP against a server on a random port with a fresh database.
mod analytics;
mod auth;
mod calls_e2e;
mod calls_failures;
mod campaign_dialer;
mod campaigns;
mod contacts;
mod dashboard;
mod dnc_calls;
mod events;
mod harness;
mod import;
mod privacy;
mod spreadsheets;
mod tools;
mod webhooks;

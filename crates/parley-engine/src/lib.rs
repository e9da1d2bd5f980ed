//! The running system: placing calls, the live audio bridge, what Twilio and ElevenLabs
//! report about calls, the event bus, agent tools, and the settings that configure them.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod activity;
pub mod background;
pub mod bridge;
pub mod calls;
pub mod credentials;
pub mod dialer;
pub mod directory;
pub mod doctor;
pub mod egress;
pub mod events;
pub mod exports;
pub mod import;
pub mod log_throttle;
pub mod oauth;
pub mod private_files;
pub mod retention;
pub mod sandbox_secrets;
pub mod secrets;
pub mod settings;
pub mod sheet_writes;
pub mod sheets;
pub mod telemetry;
pub mod telephony;
pub mod tools;
pub mod webhooks;

use background::Background;
use events::EventBus;
use parley_store::Store;
use settings::Settings;
use std::path::PathBuf;
use std::sync::Arc;
use telephony::Telephony;
use tools::ToolRegistry;

/// Everything a running Parley shares. Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub telephony: Telephony,
    pub events: EventBus,
    pub tools: ToolRegistry,
    /// Google Sheets, for contact import and writing results back.
    pub sheets: sheets::Sheets,
    /// The calls bridged on this node, closed with 1001 when it shuts down.
    pub bridges: bridge::live::Bridges,
    /// Places for the exports running on this node.
    pub exports: exports::ExportSlots,
    /// The agents and numbers of the connected accounts.
    pub directory: directory::Directory,
    /// This node's name in logs, spans, claims and leases.
    pub node: String,
}

impl std::ops::Deref for Engine {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Engine {
    pub fn new(settings: Arc<Settings>, store: Store, telephony: Telephony) -> Engine {
        Self::with_events(settings, store, telephony, EventBus::default())
    }

    /// An engine whose live events also reach the other nodes on the same database.
    pub async fn connected(settings: Arc<Settings>, store: Store, telephony: Telephony) -> Engine {
        let events = EventBus::connected(&store).await;
        Self::with_events(settings, store, telephony, events)
    }

    fn with_events(
        settings: Arc<Settings>,
        store: Store,
        telephony: Telephony,
        events: EventBus,
    ) -> Engine {
        Engine(Arc::new_cyclic(|shared| {
            let tools = ToolRegistry::builtin(shared, &settings.tools);
            let sheets = sheets::Sheets::from_settings(&settings.google);
            Shared {
                store,
                settings,
                telephony,
                events,
                tools,
                sheets,
                bridges: bridge::live::Bridges::default(),
                exports: exports::ExportSlots::default(),
                directory: directory::Directory::default(),
                node: format!("node-{}", &secrets::random_token()[..12]),
            }
        }))
    }

    /// Where recordings are kept.
    pub fn recordings_dir(&self) -> PathBuf {
        self.settings.data_dir.join(private_files::RECORDINGS_DIR)
    }

    /// Starts the background work: looking for post-call analyses that did not arrive,
    /// deleting recordings and webhook events past their retention, delivering webhooks,
    /// writing results back to Google Sheets, dialling.
    /// They stop with [`Background::stop`].
    pub fn spawn_background(&self) -> Background {
        let mut background = Background::new();
        let engine = self.clone();
        background.spawn("post-call fallback", |stopping| {
            calls::post_call::run_fallback_fetcher(engine, stopping)
        });
        let engine = self.clone();
        background.spawn("retention", |stopping| retention::run(engine, stopping));
        let worker = webhooks::WebhookWorker::new(self.clone());
        background.spawn("webhook worker", |stopping| worker.run(stopping));
        let writer = sheet_writes::SheetWriter::new(self.clone());
        background.spawn("sheet writer", |stopping| writer.run(stopping));
        if self.settings.dialer.enabled {
            let dialer = dialer::Dialer::new(self.clone());
            background.spawn("dialer", |stopping| dialer.run(stopping));
        }
        background
    }
}

//! `parley serve`.
use crate::{app, database, shutdown};
use anyhow::Context;
use parley_engine::settings::Settings;
use tracing::info;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Also holds recordings, so it is needed even when the database is elsewhere.
    parley_engine::private_files::create_private_dir(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let store = database::open(&settings).await?;

    let mut public_url = settings.public_base_url();
    // A base URL should not carry credentials; if it does, keep them out of the log.
    let _ = public_url.set_password(None);
    info!(
        listen = %settings.listen,
        public_base_url = %public_url,
        database = %database::describe(&settings.database_url()),
        version = env!("CARGO_PKG_VERSION"),
        calling_rules = %parley_domain::jurisdiction::RuleBook::shipped().version,
        "starting parley"
    );
    if settings.sandbox() {
        info!("sandbox mode: Twilio or ElevenLabs credentials are missing, so the built-in simulators stand in for them");
    }

    app::run(settings, store.clone(), shutdown::signal()).await?;
    store.close().await;
    info!("stopped");
    Ok(())
}

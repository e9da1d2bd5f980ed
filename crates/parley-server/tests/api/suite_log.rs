//! With `PARLEY_TEST_LOG_DIR` set (scripts/test sets it), everything the API tests log,
//! at debug level, goes to a file there, so that scripts/test can check the whole suite's
//! logs for unmasked phone numbers. Unset, nothing is installed.
use std::sync::Once;

pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let Some(dir) = std::env::var_os("PARLEY_TEST_LOG_DIR") else {
            return;
        };
        let path = std::path::Path::new(&dir).join(format!("api-{}.log", std::process::id()));
        let file = std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        // A test that installs its own subscriber (privacy.rs) still gets its own.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

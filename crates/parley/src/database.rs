//! Opening the store from settings, and describing the database without its secrets.
use anyhow::Context;
use parley_engine::settings::Settings;
use parley_store::Store;

/// Connects and applies migrations. Creates the data directory first when the database
/// is the default SQLite file inside it.
pub async fn open(settings: &Settings) -> anyhow::Result<Store> {
    let store = connect(settings).await?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate {}", describe(&settings.database_url())))?;
    Ok(store)
}

/// Connects without migrating.
pub async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    if settings.database_url.is_none() {
        parley_engine::private_files::create_private_dir(&settings.data_dir).with_context(
            || {
                format!(
                    "cannot create data directory {}",
                    settings.data_dir.display()
                )
            },
        )?;
    }
    let url = settings.database_url();
    Store::connect(&url)
        .await
        .with_context(|| format!("cannot connect to {}", describe(&url)))
}

/// "sqlite database ./parley-data/parley.db" or "postgres database db.internal:5432/parley":
/// enough to tell which database is meant, never the credentials.
pub fn describe(url: &str) -> String {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return format!("sqlite database {path}");
    }
    match url::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("localhost");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{} database {host}{port}{}", parsed.scheme(), parsed.path())
        }
        Err(_) => "database (unparsable url)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn describe_never_shows_credentials() {
        assert_eq!(
            describe("postgres://parley:hunter2@db.internal:5432/parley?sslmode=require"),
            "postgres database db.internal:5432/parley"
        );
        assert_eq!(
            describe("sqlite://./parley-data/parley.db"),
            "sqlite database ./parley-data/parley.db"
        );
        assert_eq!(describe("sqlite:x.db?mode=rwc"), "sqlite database x.db");
        assert!(!describe("postgres://u:hunter2@[::1").contains("hunter2"));
    }
}

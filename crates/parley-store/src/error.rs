use parley_domain::campaign::{CampaignState, IllegalTransition};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken; the text names what already exists.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// The campaign's state does not allow this change (e.g. editing a running campaign).
    #[error("{message} (the campaign is {state})")]
    CampaignState {
        state: CampaignState,
        message: &'static str,
    },
    /// The stored settings do not allow this change (e.g. starting a campaign whose first
    /// message lacks its required disclosures); each error names the setting to change.
    #[error("{0}")]
    Invalid(parley_domain::FieldErrors),
    #[error("database URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    /// Stored data that no longer parses (e.g. settings JSON written by a newer version).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A failure injected at a write point by a test (see `faults`); never in production.
    #[error("injected failure at write point `{0}`")]
    Injected(&'static str),
    /// A batch of an import written at the same time as the one before it did not
    /// commit, because that one failed (its own error says why).
    #[error("an earlier batch of this import failed, so this one was not written")]
    EarlierBatchFailed,
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(what)`, anything else unchanged.
    pub(crate) fn unique(err: sqlx::Error, what: &str) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(what.to_string())
            }
            _ => StoreError::Database(err),
        }
    }
}

pub(crate) trait OptionalExt<T> {
    fn found(self) -> Result<T, StoreError>;
}

impl<T> OptionalExt<T> for Option<T> {
    fn found(self) -> Result<T, StoreError> {
        self.ok_or(StoreError::NotFound)
    }
}

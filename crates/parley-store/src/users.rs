//! Users, sign-in sessions and API keys. Only hashes of secrets are stored.
use crate::error::OptionalExt;
use crate::tx::{on_conn, own_tx};
use crate::{on_reader, on_writer, Result, Store, StoreError, Tx};
use parley_domain::time::now_millis;
use parley_domain::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    password_hash: String,
    role: String,
    disabled: bool,
    created_at: i64,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown role `{s}`")))
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            id: r.id,
            role: parse_role(&r.role)?,
            email: r.email,
            password_hash: r.password_hash,
            disabled: r.disabled,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    name: String,
    prefix: String,
    role: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, shown so people can tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl ApiKey {
    pub fn is_usable_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> Result<ApiKey> {
        Ok(ApiKey {
            id: r.id,
            role: parse_role(&r.role)?,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}

const USER_COLUMNS: &str = "id, email, password_hash, role, disabled, created_at";
const API_KEY_COLUMNS: &str =
    "id, name, prefix, role, created_at, expires_at, revoked_at, last_used_at";

/// PostgreSQL advisory lock key under which role and enabled changes take turns.
const ADMIN_CHANGE_LOCK: i64 = 0x5041_524c_4559_0001;

impl Tx {
    /// Creates a user; the email is stored lowercase and must be unique.
    pub async fn create_user(
        &mut self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User> {
        self.point("create_user")?;
        let now = now_millis();
        let row: UserRow = on_conn!(self, c => sqlx::query_as(&format!(
            "INSERT INTO users (email, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"
        ))
        .bind(email.trim().to_lowercase())
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(c)
        .await)
        .map_err(|e| StoreError::unique(e, "a user with this email already exists"))?;
        row.try_into()
    }

    /// Creates an API key from its hash (the key itself is never stored).
    pub async fn create_api_key(
        &mut self,
        name: &str,
        prefix: &str,
        key_hash: &str,
        role: Role,
        created_by: Option<i64>,
        expires_at: Option<i64>,
    ) -> Result<ApiKey> {
        self.point("create_api_key")?;
        let row: ApiKeyRow = on_conn!(self, c => sqlx::query_as(&format!(
            "INSERT INTO api_keys (name, prefix, key_hash, role, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(role.as_str())
        .bind(created_by)
        .bind(now_millis())
        .bind(expires_at)
        .fetch_one(c)
        .await)?;
        row.try_into()
    }
}

own_tx! {
    /// Creates a user; the email is stored lowercase and must be unique.
    fn create_user(email: &str, password_hash: &str, role: Role) -> User;
    /// Creates an API key from its hash (the key itself is never stored).
    fn create_api_key(
        name: &str,
        prefix: &str,
        key_hash: &str,
        role: Role,
        created_by: Option<i64>,
        expires_at: Option<i64>,
    ) -> ApiKey;
}

impl Store {
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_optional(pool)
        .await)?;
        row.map(User::try_from).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY id"
        ))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// Changes a user's role and/or whether they may sign in. Refused with `Conflict` when
    /// it would leave no enabled admin, so nobody can lock everyone out of administration.
    /// Disabling a user also ends their sessions and revokes the API keys they created,
    /// in the same transaction: nothing they made keeps working after they are gone.
    pub async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User> {
        let postgres = self.backend() == crate::Backend::Postgres;
        let row: Option<UserRow> = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                // Two admins demoting each other at once would each see the other still
                // an admin; taking turns, the second sees the first's change. (SQLite
                // has one writer, so its updates take turns already.)
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(ADMIN_CHANGE_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query_as(&format!(
                "UPDATE users SET role = COALESCE($2, role), disabled = COALESCE($3, disabled), \
                        updated_at = $4 \
                 WHERE id = $1 AND ( \
                     (COALESCE($2, role) = 'admin' AND NOT COALESCE($3, disabled)) \
                     OR EXISTS (SELECT 1 FROM users o \
                                WHERE o.id <> $1 AND o.role = 'admin' AND NOT o.disabled)) \
                 RETURNING {USER_COLUMNS}"
            ))
            .bind(id)
            .bind(role.map(Role::as_str))
            .bind(disabled)
            .bind(now_millis())
            .fetch_optional(&mut *tx)
            .await?;
            if row.is_some() && disabled == Some(true) {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE created_by = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        match row {
            Some(row) => row.try_into(),
            None if self.user_exists(id).await? => Err(StoreError::Conflict(
                "that would leave no enabled admin; make someone else an admin first".into(),
            )),
            None => Err(StoreError::NotFound),
        }
    }

    async fn user_exists(&self, id: i64) -> Result<bool> {
        let found: Option<i64> = on_reader!(self, pool => sqlx::query_scalar(
            "SELECT id FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn count_users(&self) -> Result<i64> {
        let (n,): (i64,) = on_reader!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: i64,
    ) -> Result<()> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now_millis())
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The live session for this token hash with its user, if it has not expired and the
    /// user is not disabled.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            csrf_token: String,
            expires_at: i64,
        }
        let row: Option<Row> = on_reader!(self, pool => sqlx::query_as(
            "SELECT u.id, u.email, u.password_hash, u.role, u.disabled, u.created_at, \
                    s.csrf_token, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        )
        .bind(token_hash)
        .bind(now_millis())
        .fetch_optional(pool)
        .await)?;
        row.map(|r| {
            Ok(Session {
                user: r.user.try_into()?,
                csrf_token: r.csrf_token,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }

    /// Replaces a user's password hash and ends every session of theirs but `keep` (the
    /// one that made the change), in one transaction: whoever knew the old password is
    /// signed out. Returns how many sessions ended.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<u64> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(user_id)
            .bind(password_hash)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            let ended = sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> COALESCE($2, '')",
            )
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(ended)
        })
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        on_writer!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let affected = on_writer!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected)
    }

    /// The key with this hash, whatever its state; callers check [`ApiKey::is_usable_at`].
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(pool)
        .await)?;
        row.map(ApiKey::try_from).transpose()
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id"
        ))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    /// Revokes a key; revoking twice keeps the first revocation time.
    pub async fn revoke_api_key(&self, id: i64) -> Result<ApiKey> {
        let row: Option<ApiKeyRow> = on_writer!(self, pool => sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
             RETURNING {API_KEY_COLUMNS}"
        ))
        .bind(id)
        .bind(now_millis())
        .fetch_optional(pool)
        .await)?;
        row.found()?.try_into()
    }

    pub async fn touch_api_key(&self, id: i64, at: i64) -> Result<()> {
        on_writer!(self, pool => sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

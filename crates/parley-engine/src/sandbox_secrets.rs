//! The credentials Parley and its simulators share in sandbox mode.
//!
//! Parley checks the Twilio and ElevenLabs signatures of the callbacks it receives even
//! in sandbox mode. On loopback only this machine can reach it, so the fixed, published
//! credentials of [`crate::telephony::sandbox_credentials`] keep tests and the laptop
//! flow simple. On any other address anyone could forge callbacks with them, so each
//! data directory gets its own random ones, generated once and kept in a 0600 file.
use crate::private_files;
use crate::settings::Settings;
use crate::telephony::sandbox_credentials as fixed;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The file in the data directory that holds generated sandbox credentials.
pub const FILE_NAME: &str = "sandbox-secrets.json";

#[derive(Clone)]
pub struct SandboxCredentials {
    pub twilio_account_sid: String,
    pub twilio_auth_token: SecretString,
    pub elevenlabs_api_key: SecretString,
    pub elevenlabs_webhook_secret: SecretString,
    /// True for the published loopback credentials.
    pub well_known: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxSecretsError {
    #[error("cannot read or create the sandbox secrets file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the sandbox secrets file {0} is damaged; delete it to generate new secrets")]
    Damaged(PathBuf),
}

impl From<SandboxSecretsError> for io::Error {
    fn from(e: SandboxSecretsError) -> io::Error {
        io::Error::other(e)
    }
}

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Stored {
    twilio_auth_token: String,
    elevenlabs_api_key: String,
    elevenlabs_webhook_secret: String,
}

impl SandboxCredentials {
    /// The published credentials, for a Parley only this machine can reach.
    pub fn well_known() -> Self {
        SandboxCredentials {
            twilio_account_sid: fixed::TWILIO_ACCOUNT_SID.into(),
            twilio_auth_token: fixed::TWILIO_AUTH_TOKEN.into(),
            elevenlabs_api_key: fixed::ELEVENLABS_API_KEY.into(),
            elevenlabs_webhook_secret: fixed::ELEVENLABS_WEBHOOK_SECRET.into(),
            well_known: true,
        }
    }

    /// The well-known credentials when Parley listens on loopback, else this data
    /// directory's own.
    pub fn for_settings(settings: &Settings) -> Result<Self, SandboxSecretsError> {
        if settings.listen.ip().is_loopback() {
            return Ok(Self::well_known());
        }
        let credentials = Self::of_data_dir(&settings.data_dir)?;
        tracing::info!(
            listen = %settings.listen,
            file = %settings.data_dir.join(FILE_NAME).display(),
            "sandbox mode on a non-loopback address: callbacks are signed with secrets generated for this data directory"
        );
        Ok(credentials)
    }

    /// The credentials kept in `data_dir`, generated (and stored 0600) the first time.
    pub fn of_data_dir(data_dir: &Path) -> Result<Self, SandboxSecretsError> {
        let path = data_dir.join(FILE_NAME);
        let io_error = |source| SandboxSecretsError::Io {
            path: path.clone(),
            source,
        };
        let generated = Stored {
            twilio_auth_token: crate::secrets::random_token(),
            elevenlabs_api_key: crate::secrets::random_token(),
            elevenlabs_webhook_secret: crate::secrets::random_token(),
        };
        let text = serde_json::to_vec_pretty(&generated).map_err(|e| io_error(e.into()))?;
        private_files::create_private_dir(data_dir).map_err(io_error)?;
        let stored = match private_files::create_private_file(&path, &text) {
            Ok(()) => generated,
            // Kept from an earlier start (or written by a process that won a race).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = std::fs::read(&path).map_err(io_error)?;
                let stored: Stored = serde_json::from_slice(&text)
                    .map_err(|_| SandboxSecretsError::Damaged(path.clone()))?;
                let usable = |s: &str| s.len() >= 16;
                if !(usable(&stored.twilio_auth_token)
                    && usable(&stored.elevenlabs_api_key)
                    && usable(&stored.elevenlabs_webhook_secret))
                {
                    return Err(SandboxSecretsError::Damaged(path));
                }
                stored
            }
            Err(e) => return Err(io_error(e)),
        };
        Ok(SandboxCredentials {
            twilio_account_sid: fixed::TWILIO_ACCOUNT_SID.into(),
            twilio_auth_token: stored.twilio_auth_token.into(),
            elevenlabs_api_key: stored.elevenlabs_api_key.into(),
            elevenlabs_webhook_secret: stored.elevenlabs_webhook_secret.into(),
            well_known: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn settings(listen: &str, dir: &Path) -> Settings {
        Settings {
            listen: listen.parse().unwrap(),
            data_dir: dir.to_path_buf(),
            ..Settings::default()
        }
    }

    #[test]
    fn loopback_keeps_the_well_known_credentials() {
        let dir = tempfile::tempdir().unwrap();
        for listen in ["127.0.0.1:8080", "[::1]:8080"] {
            let creds = SandboxCredentials::for_settings(&settings(listen, dir.path())).unwrap();
            assert!(creds.well_known);
            assert_eq!(
                creds.elevenlabs_webhook_secret.expose_secret(),
                fixed::ELEVENLABS_WEBHOOK_SECRET
            );
        }
        assert!(!dir.path().join(FILE_NAME).exists(), "nothing written");
    }

    #[test]
    fn other_addresses_get_random_secrets_kept_per_data_directory() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = SandboxCredentials::for_settings(&settings("0.0.0.0:8080", a.path())).unwrap();
        assert!(!first.well_known);
        let secret = |c: &SandboxCredentials| {
            (
                c.twilio_auth_token.expose_secret().to_owned(),
                c.elevenlabs_api_key.expose_secret().to_owned(),
                c.elevenlabs_webhook_secret.expose_secret().to_owned(),
            )
        };
        let (token, key, webhook) = secret(&first);
        assert_ne!(token, fixed::TWILIO_AUTH_TOKEN);
        assert_ne!(key, fixed::ELEVENLABS_API_KEY);
        assert_ne!(webhook, fixed::ELEVENLABS_WEBHOOK_SECRET);
        assert!(token != key && key != webhook && token.len() >= 32);
        // The same directory gives the same secrets after a restart; another, others.
        let again = SandboxCredentials::for_settings(&settings("10.1.2.3:80", a.path())).unwrap();
        assert_eq!(secret(&again), secret(&first));
        let other = SandboxCredentials::of_data_dir(b.path()).unwrap();
        assert_ne!(secret(&other), secret(&first));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(a.path().join(FILE_NAME)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_silent_reset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            b"{\"twilio_auth_token\": \"x\"}",
        )
        .unwrap();
        let err = SandboxCredentials::of_data_dir(dir.path()).err().unwrap();
        assert!(matches!(err, SandboxSecretsError::Damaged(_)), "{err}");
    }
}

//! Reading the layers: defaults, then the TOML file, then `PARLEY_*` variables, with
//! warnings for unknown keys and errors that name the key and where it came from.

use super::keys::{known_keys, SECRET_KEYS};
use super::{Settings, SettingsError};
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use std::path::{Path, PathBuf};

/// Prefix of every environment variable Parley reads.
const ENV_PREFIX: &str = "PARLEY_";
/// Names the config file; read before the other variables, so it is not a setting itself.
const CONFIG_ENV: &str = "PARLEY_CONFIG";
/// Reserved for test harnesses (e.g. `PARLEY_TEST_POSTGRES_URL`); never a setting.
const TEST_ENV_PREFIX: &str = "PARLEY_TEST_";
/// Read when no file is named and it exists in the working directory.
const DEFAULT_CONFIG_FILE: &str = "parley.toml";

impl Settings {
    /// Defaults, then the TOML file (`config_file`, else `$PARLEY_CONFIG`, else
    /// `./parley.toml` if it exists), then `PARLEY_*` environment variables. Returns the
    /// settings and warnings about unknown keys.
    pub fn load(config_file: Option<&Path>) -> Result<(Settings, Vec<String>), SettingsError> {
        // Non-UTF-8 variables cannot be Parley settings; skipping them is safe.
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Settings::load_from(config_file, &env)
    }

    /// Like [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_from(
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<(Settings, Vec<String>), SettingsError> {
        let mut warnings = Vec::new();
        let mut figment = Figment::new();

        if let Some(path) = choose_config_file(config_file, env) {
            // Read it ourselves: figment silently treats a missing file as empty.
            std::fs::metadata(&path).map_err(|source| SettingsError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let file = Toml::file_exact(&path);
            let origin = path.display().to_string();
            let data = file.data().map_err(|e| convert_error(e, &origin, None))?;
            if let Some(dict) = data.get(&Profile::Default) {
                for key in unknown_keys(dict) {
                    warnings.push(format!(
                        "unknown setting `{key}` in {origin} (ignored){}",
                        hint(&key)
                    ));
                }
            }
            figment = figment.merge(file);
        }

        for (name, value) in env {
            let Some(path) = env_key_path(name) else {
                continue;
            };
            if !known_keys().contains(&path) {
                warnings.push(format!(
                    "unknown environment variable {name} (ignored){}",
                    hint(&path)
                ));
                continue;
            }
            // `VAR=` (as compose files often produce) means "not set", not "empty string".
            if value.is_empty() {
                continue;
            }
            figment = figment.merge(EnvVar {
                name: name.clone(),
                path,
                value: value.clone(),
            });
        }

        // Lossy: environment values are strings, and `"8080"` must still read as a number.
        let settings: Settings = figment
            .extract_lossy()
            .map_err(|e| convert_error(e, "defaults", Some(&figment)))?;
        settings.validate()?;
        Ok((settings, warnings))
    }
}

/// One `PARLEY_*` variable as a figment provider, named so errors point at it.
struct EnvVar {
    name: String,
    path: String,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        // A list (`["10.0.0.1", "10.0.0.2"]`) is parsed as one, as in the TOML file;
        // anything else stays a string, read lossily into its setting's type.
        let value = if self.value.trim_start().starts_with('[') {
            self.value
                .parse::<Value>()
                .unwrap_or_else(|never| match never {})
        } else {
            Value::from(self.value.clone())
        };
        let nested = figment::util::nest(&self.path, value);
        let dict = nested
            .into_dict()
            .expect("a non-empty path nests into a dict");
        Ok(Map::from([(Profile::Default, dict)]))
    }
}

/// The file to read: the one given, else `$PARLEY_CONFIG`, else `./parley.toml` if present.
fn choose_config_file(given: Option<&Path>, env: &[(String, String)]) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_path_buf());
    }
    let from_env = env
        .iter()
        .find(|(name, value)| name == CONFIG_ENV && !value.is_empty());
    if let Some((_, value)) = from_env {
        return Some(PathBuf::from(value));
    }
    let default = PathBuf::from(DEFAULT_CONFIG_FILE);
    default.is_file().then_some(default)
}

/// `PARLEY_TWILIO__ACCOUNT_SID` -> `twilio.account_sid`; `None` for variables that are
/// not settings (other prefixes, `PARLEY_CONFIG`, `PARLEY_TEST_*`).
fn env_key_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    if name == CONFIG_ENV || name.starts_with(TEST_ENV_PREFIX) || rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// Dotted paths in `dict` that are not settings. Known sections are descended into;
/// a known leaf given the wrong shape is left for deserialization to report.
fn unknown_keys(dict: &Dict) -> Vec<String> {
    fn walk(prefix: &str, dict: &Dict, out: &mut Vec<String>) {
        for (key, value) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if known_keys().contains(&path) {
                continue;
            }
            let is_section = known_keys()
                .iter()
                .any(|known| known.starts_with(&format!("{path}.")));
            match value.as_dict() {
                Some(inner) if is_section => walk(&path, inner, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    walk("", dict, &mut out);
    out
}

/// " (did you mean `twilio.account_sid`?)" when a known key ends the same way.
fn hint(unknown: &str) -> String {
    let leaf = unknown.rsplit('.').next().unwrap_or(unknown);
    known_keys()
        .iter()
        .find(|known| known.rsplit('.').next() == Some(leaf))
        .map(|known| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default()
}

/// Turns figment's error into ours, naming the key and where its value came from, and
/// quoting the bad value unless it is a secret.
fn convert_error(
    error: figment::Error,
    fallback_origin: &str,
    figment: Option<&Figment>,
) -> SettingsError {
    let origin = error
        .metadata
        .as_ref()
        .map(|md| match &md.source {
            Some(source) => source.to_string(),
            None => md.name.to_string(),
        })
        .unwrap_or_else(|| fallback_origin.to_owned());
    if error.path.is_empty() {
        return SettingsError::Malformed {
            origin,
            message: error.kind.to_string(),
        };
    }
    let key = error.path.join(".");
    let message = if SECRET_KEYS.contains(&key.as_str()) {
        "invalid value (not shown: it is a secret)".to_owned()
    } else {
        // Some parsers (e.g. socket addresses) do not quote the value they rejected.
        let kind = error.kind.to_string();
        let value = figment.and_then(|f| f.find_value(&key).ok());
        let quoted = value.as_ref().and_then(|v| serde_json::to_string(v).ok());
        let raw = value.as_ref().and_then(|v| v.as_str().map(str::to_owned));
        match quoted {
            Some(quoted) if !raw.is_some_and(|raw| kind.contains(&raw)) => {
                format!("{kind} (got {quoted})")
            }
            _ => kind,
        }
    };
    SettingsError::Invalid {
        key,
        origin,
        message,
    }
}

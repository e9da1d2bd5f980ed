use super::keys::{known_keys, SECRET_KEYS};
use super::*;
use secrecy::ExposeSecret;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

/// Loads with no file at all (an explicit empty one, so a stray ./parley.toml in the
/// test's working directory cannot interfere).
fn load_env(pairs: &[(&str, &str)]) -> Result<(Settings, Vec<String>), SettingsError> {
    let empty = config_file("");
    Settings::load_from(Some(empty.path()), &env(pairs))
}

fn secret(value: &Option<SecretString>) -> Option<&str> {
    value.as_ref().map(|s| s.expose_secret())
}

/// Field-by-field equality; `SecretString` deliberately has no `PartialEq`.
fn assert_same(a: &Settings, b: &Settings) {
    assert_eq!(a.listen, b.listen);
    assert_eq!(a.public_base_url, b.public_base_url);
    assert_eq!(a.data_dir, b.data_dir);
    assert_eq!(a.database_url, b.database_url);
    assert_eq!(a.bootstrap_admin_email, b.bootstrap_admin_email);
    assert_eq!(
        secret(&a.bootstrap_admin_password),
        secret(&b.bootstrap_admin_password)
    );
    assert_eq!(a.log, b.log);
    assert_eq!(a.http, b.http);
    assert_eq!(a.twilio.account_sid, b.twilio.account_sid);
    assert_eq!(secret(&a.twilio.auth_token), secret(&b.twilio.auth_token));
    assert_eq!(a.twilio.api_base_url, b.twilio.api_base_url);
    assert_eq!(secret(&a.elevenlabs.api_key), secret(&b.elevenlabs.api_key));
    assert_eq!(a.elevenlabs.api_base_url, b.elevenlabs.api_base_url);
    assert_eq!(
        secret(&a.elevenlabs.webhook_secret),
        secret(&b.elevenlabs.webhook_secret)
    );
    assert_eq!(a.auth, b.auth);
    assert_eq!(a.import, b.import);
    assert_eq!(a.twilio.caller_id, b.twilio.caller_id);
    assert_eq!(a.elevenlabs.agent_id, b.elevenlabs.agent_id);
    assert_eq!(a.calls, b.calls);
    assert_eq!(a.sandbox, b.sandbox);
    assert_eq!(a.dialer, b.dialer);
    assert_eq!(a.analytics, b.analytics);
    assert_eq!(a.tools.public_base_url, b.tools.public_base_url);
    for tool in crate::tools::NAMES {
        assert_eq!(
            a.tools.secrets.get(tool).map(|s| s.expose_secret()),
            b.tools.secrets.get(tool).map(|s| s.expose_secret())
        );
    }
    let (ca, cb) = (&a.tools.calcom, &b.tools.calcom);
    assert_eq!(secret(&ca.api_key), secret(&cb.api_key));
    assert_eq!(ca.api_base_url, cb.api_base_url);
    assert_eq!(ca.event_type_id, cb.event_type_id);
    let (ea, eb) = (&a.tools.email, &b.tools.email);
    assert_eq!(ea.transport, eb.transport);
    assert_eq!(ea.graph_login_base_url, eb.graph_login_base_url);
    assert_eq!(ea.graph_api_base_url, eb.graph_api_base_url);
    assert_eq!(ea.graph_tenant_id, eb.graph_tenant_id);
    assert_eq!(ea.graph_client_id, eb.graph_client_id);
    assert_eq!(
        secret(&ea.graph_client_secret),
        secret(&eb.graph_client_secret)
    );
    assert_eq!(ea.graph_sender, eb.graph_sender);
    assert_eq!(ea.smtp_host, eb.smtp_host);
    assert_eq!(ea.smtp_port, eb.smtp_port);
    assert_eq!(ea.smtp_tls, eb.smtp_tls);
    assert_eq!(ea.smtp_user, eb.smtp_user);
    assert_eq!(secret(&ea.smtp_password), secret(&eb.smtp_password));
    assert_eq!(ea.smtp_from, eb.smtp_from);
    assert_eq!(a.tools.transfer, b.tools.transfer);
    assert_eq!(a.webhooks, b.webhooks);
    assert_eq!(secret(&a.google.api_key), secret(&b.google.api_key));
    assert_eq!(
        a.google.service_account_key_file,
        b.google.service_account_key_file
    );
    assert_eq!(a.google.sheets_api_base_url, b.google.sheets_api_base_url);
    assert_eq!(a.http, b.http);
}

#[test]
fn defaults() {
    let (s, warnings) = load_env(&[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_same(&s, &Settings::default());
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.data_dir, PathBuf::from("./parley-data"));
    assert_eq!(s.database_url(), "sqlite://./parley-data/parley.db");
    assert_eq!(s.public_base_url().as_str(), "http://127.0.0.1:8080/");
    assert_eq!(s.log.format, LogFormat::Text);
    assert_eq!(s.log.level, "info");
    assert_eq!(s.twilio.api_base_url.as_str(), "https://api.twilio.com/");
    assert_eq!(
        s.elevenlabs.api_base_url.as_str(),
        "https://api.elevenlabs.io/"
    );
    assert_eq!(s.auth.session_ttl_hours, 12);
    assert_eq!(s.auth.sign_in_attempts_per_minute, 10);
    assert_eq!(s.import.default_region, "US");
    assert_eq!(s.import.max_upload_mb, 100);
    assert!(s.sandbox());
}

#[test]
fn file_overrides_defaults() {
    let file = config_file(
        r#"
        listen = "0.0.0.0:9000"
        data_dir = "/var/lib/parley"
        [log]
        format = "json"
        [twilio]
        account_sid = "AC123"
        auth_token = "tok"
        [elevenlabs]
        api_key = "key"
        [auth]
        session_ttl_hours = 2
        "#,
    );
    let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(s.database_url(), "sqlite:///var/lib/parley/parley.db");
    assert_eq!(s.public_base_url().as_str(), "http://127.0.0.1:9000/");
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.log.level, "info", "untouched keys keep their defaults");
    assert_eq!(s.twilio.account_sid.as_deref(), Some("AC123"));
    assert_eq!(s.auth.session_ttl_hours, 2);
    assert_eq!(s.auth.sign_in_attempts_per_minute, 10);
    assert!(!s.sandbox());
}

#[test]
fn env_overrides_file() {
    let file = config_file("listen = \"127.0.0.1:9000\"\n[auth]\nsession_ttl_hours = 2\n");
    let vars = env(&[
        ("PARLEY_LISTEN", "127.0.0.1:9100"),
        ("PARLEY_AUTH__SESSION_TTL_HOURS", "5"),
        ("PARLEY_DATABASE_URL", "postgres://u:p@db/parley"),
        ("PARLEY_PUBLIC_BASE_URL", "https://calls.example.com"),
    ]);
    let (s, _) = Settings::load_from(Some(file.path()), &vars).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:9100");
    assert_eq!(s.auth.session_ttl_hours, 5);
    assert_eq!(s.database_url(), "postgres://u:p@db/parley");
    assert_eq!(s.public_base_url().as_str(), "https://calls.example.com/");
}

#[test]
fn double_underscore_nests() {
    let (s, warnings) = load_env(&[
        ("PARLEY_TWILIO__ACCOUNT_SID", "AC999"),
        ("PARLEY_TWILIO__AUTH_TOKEN", "12345"),
        ("PARLEY_ELEVENLABS__API_KEY", "el-key"),
        ("PARLEY_LOG__FORMAT", "json"),
        ("PARLEY_IMPORT__MAX_UPLOAD_MB", "7"),
        ("PARLEY_BOOTSTRAP_ADMIN_EMAIL", "a@example.com"),
    ])
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.twilio.account_sid.as_deref(), Some("AC999"));
    // A numeric-looking secret stays a string.
    assert_eq!(secret(&s.twilio.auth_token), Some("12345"));
    assert_eq!(secret(&s.elevenlabs.api_key), Some("el-key"));
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.import.max_upload_mb, 7);
    assert_eq!(s.bootstrap_admin_email.as_deref(), Some("a@example.com"));
    assert!(!s.sandbox());
}

#[test]
fn config_file_from_env_and_empty_values() {
    let file = config_file("listen = \"127.0.0.1:9000\"\n");
    let path = file.path().to_str().unwrap();
    let (s, warnings) = Settings::load_from(
        None,
        &env(&[("PARLEY_CONFIG", path), ("PARLEY_DATABASE_URL", "")]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(s.database_url, None, "an empty variable counts as unset");
}

#[test]
fn unknown_keys_warn() {
    let file = config_file(
        "listn = \"x\"\n[twilio]\nsid = \"AC1\"\naccount_sid = \"AC2\"\n[extra]\na = 1\n",
    );
    let vars = env(&[
        ("PARLEY_TWILIO__ACOUNT_SID", "x"),
        ("PARLEY_LOG", "debug"),
        ("PARLEY_ACCOUNT_SID", "x"),
        ("PARLEY_TEST_POSTGRES_URL", "postgres://ignored"),
        ("HOME", "/root"),
    ]);
    let (s, warnings) = Settings::load_from(Some(file.path()), &vars).unwrap();
    assert_eq!(s.twilio.account_sid.as_deref(), Some("AC2"));
    assert_eq!(warnings.len(), 6, "{warnings:#?}");
    let all = warnings.join("\n");
    for needle in [
        "`listn`",
        "`twilio.sid`",
        "`extra`",
        "PARLEY_TWILIO__ACOUNT_SID",
        "PARLEY_LOG ",
        "PARLEY_ACCOUNT_SID (ignored) (did you mean `twilio.account_sid`?)",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in {all}");
    }
}

#[test]
fn bad_values_give_clear_errors() {
    let file = config_file("listen = \"nope\"\n");
    let err = Settings::load_from(Some(file.path()), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`listen`"), "{err}");
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains(&file.path().display().to_string()), "{err}");

    let err = load_env(&[("PARLEY_AUTH__SESSION_TTL_HOURS", "soon")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`auth.session_ttl_hours`"), "{err}");
    assert!(err.contains("PARLEY_AUTH__SESSION_TTL_HOURS"), "{err}");

    let err = load_env(&[("PARLEY_LOG__FORMAT", "xml")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`log.format`") && err.contains("xml"), "{err}");
    assert_eq!(err.matches("xml").count(), 1, "value quoted once: {err}");

    let err = load_env(&[("PARLEY_DATABASE_URL", "mysql://u:hunter2@db/x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`database_url`"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let err = load_env(&[("PARLEY_IMPORT__DEFAULT_REGION", "usa")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`import.default_region`"), "{err}");

    let err = load_env(&[("PARLEY_ANALYTICS__COST_PER_MINUTE_USD", "-1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`analytics.cost_per_minute_usd`"), "{err}");

    let err = load_env(&[("PARLEY_CALLS__RECORD_RETENTION_DAYS", "30")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`calls.record_retention_days`"),
        "call records may not outlive the recording retention's deletion of their files: {err}"
    );
    assert!(load_env(&[("PARLEY_CALLS__RECORD_RETENTION_DAYS", "90")]).is_ok());

    let file = config_file("[twilio]\nauth_token = 12345\n");
    let err = Settings::load_from(Some(file.path()), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`twilio.auth_token`"), "{err}");
    assert!(!err.contains("12345"), "secret leaked: {err}");

    let file = config_file("listen = [\n");
    let err = Settings::load_from(Some(file.path()), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains(&file.path().display().to_string()), "{err}");

    let missing = Path::new("/nonexistent/parley.toml");
    let err = Settings::load_from(Some(missing), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/parley.toml"), "{err}");
}

#[test]
fn example_toml_parses_back_to_the_defaults() {
    let file = config_file(&Settings::example_toml());
    let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_same(&s, &Settings::default());
}

/// Uncommenting the `# key = value` lines must give valid settings with every key set:
/// A service account's JSON key file with a fresh RSA key, as settings read it.
fn service_account_key(client_email: &str, token_uri: &str) -> String {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    serde_json::json!({
        "type": "service_account",
        "private_key": pem.as_str(),
        "client_email": client_email,
        "token_uri": token_uri,
    })
    .to_string()
}

/// the example shows all settings, and only real ones.
#[test]
fn example_toml_lists_every_setting() {
    let uncommented: String = Settings::example_toml()
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // The key file is read when settings load, so the example's path must hold one.
    let key_file = tempfile::NamedTempFile::new().unwrap();
    let key = service_account_key(
        "parley@example.iam.gserviceaccount.com",
        "http://127.0.0.1:9/token",
    );
    std::fs::write(key_file.path(), key).unwrap();
    let uncommented = uncommented.replace(
        "/etc/parley/google-service-account.json",
        &key_file.path().display().to_string(),
    );
    let file = config_file(&uncommented);
    let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(s.public_base_url.is_some());
    assert!(s.database_url.is_some());
    assert!(s.bootstrap_admin_email.is_some());
    assert!(s.bootstrap_admin_password.is_some());
    assert!(!s.sandbox());
    assert!(s.elevenlabs.webhook_secret.is_some());
    assert!(s.google.api_key.is_some());
    assert!(s.google.service_account_key_file.is_some());

    let text = Settings::example_toml();
    for key in known_keys() {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(text.contains(&format!("{leaf} = ")), "{key} missing");
    }
}

/// The derived key list must match the structs' fields listed section by section here,
/// or real settings would warn as unknown (or unknown ones would pass silently).
#[test]
fn known_keys_match_the_struct_fields() {
    let sections: &[(&str, &[&str])] = &[
        ("log", fields::<LogSettings>()),
        ("http", fields::<HttpSettings>()),
        ("twilio", fields::<TwilioSettings>()),
        ("elevenlabs", fields::<ElevenLabsSettings>()),
        ("auth", fields::<AuthSettings>()),
        ("import", fields::<ImportSettings>()),
        ("import.xlsx", fields::<XlsxLimits>()),
        ("calls", fields::<CallSettings>()),
        ("sandbox", fields::<SandboxSettings>()),
        ("dialer", fields::<DialerSettings>()),
        ("analytics", fields::<AnalyticsSettings>()),
        ("tools", fields::<ToolSettings>()),
        ("tools.secrets", fields::<ToolSecrets>()),
        ("tools.calcom", fields::<CalcomSettings>()),
        ("tools.email", fields::<EmailSettings>()),
        ("tools.transfer", fields::<TransferSettings>()),
        ("webhooks", fields::<WebhookSettings>()),
        ("egress", fields::<EgressSettings>()),
        ("google", fields::<GoogleSettings>()),
        ("http", fields::<HttpSettings>()),
        ("metrics", fields::<MetricsSettings>()),
    ];
    fn expand(path: String, sections: &[(&str, &[&str])], out: &mut Vec<String>) {
        match sections.iter().find(|(name, _)| *name == path) {
            Some((_, inner)) => {
                for leaf in *inner {
                    expand(format!("{path}.{leaf}"), sections, out);
                }
            }
            None => out.push(path),
        }
    }
    let mut expected = Vec::new();
    for field in fields::<Settings>() {
        expand(field.to_string(), sections, &mut expected);
    }
    let mut known = known_keys().to_vec();
    expected.sort();
    known.sort();
    assert_eq!(known, expected);
    for key in SECRET_KEYS {
        assert!(known_keys().iter().any(|k| k == key), "{key}");
    }
}

/// The field names serde's derive hands to `deserialize_struct`.
fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Capture(std::cell::Cell<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &Capture {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.set(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let capture = Capture(std::cell::Cell::new(&[]));
    let _ = T::deserialize(&capture);
    capture.0.get()
}

#[test]
fn debug_hides_secrets() {
    let (s, _) = load_env(&[
        (
            "PARLEY_DATABASE_URL",
            "postgres://parley:db-pass-123@db:5432/parley",
        ),
        ("PARLEY_BOOTSTRAP_ADMIN_PASSWORD", "admin-pass-123"),
        ("PARLEY_TWILIO__AUTH_TOKEN", "twilio-token-123"),
        ("PARLEY_ELEVENLABS__API_KEY", "el-key-123"),
        ("PARLEY_ELEVENLABS__WEBHOOK_SECRET", "whsec-123"),
        ("PARLEY_GOOGLE__API_KEY", "google-key-123"),
        (
            "PARLEY_PUBLIC_BASE_URL",
            "https://user:url-pass-123@example.com",
        ),
    ])
    .unwrap();
    let debug = format!("{s:?} {s:#?}");
    for secret in [
        "db-pass-123",
        "admin-pass-123",
        "twilio-token-123",
        "el-key-123",
        "whsec-123",
        "google-key-123",
        "url-pass-123",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(
        debug.contains("postgres://parley:***@db:5432/parley"),
        "{debug}"
    );
}

#[test]
fn database_url_escapes_path_characters() {
    let s = Settings {
        data_dir: PathBuf::from("/tmp/a?b#c%d"),
        ..Settings::default()
    };
    assert_eq!(s.database_url(), "sqlite:///tmp/a%3Fb%23c%25d/parley.db");
}

#[test]
fn a_list_setting_can_be_given_in_an_environment_variable() {
    let (s, warnings) = load_env(&[
        (
            "PARLEY_HTTP__TRUSTED_PROXIES",
            r#"["127.0.0.1", "10.0.0.0/8"]"#,
        ),
        (
            "PARLEY_DIALER__OPT_OUT_PHRASES",
            r#"["take me off", "no more calls"]"#,
        ),
    ])
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.http.trusted_proxies.len(), 2);
    assert_eq!(s.dialer.opt_out_phrases, ["take me off", "no more calls"]);
}

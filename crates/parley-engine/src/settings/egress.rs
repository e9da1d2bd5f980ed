//! The `[egress]` section: what requests to users' URLs may reach (see `crate::egress`).
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EgressSettings {
    /// Hosts (names or IP addresses, matched exactly) that user-supplied URLs may reach
    /// even though they are internal, e.g. `["crm.internal", "127.0.0.1"]`. A list in
    /// TOML; comma-separated in `PARLEY_EGRESS__ALLOWED_HOSTS`.
    #[serde(deserialize_with = "list_or_commas")]
    pub allowed_hosts: Vec<String>,
}

/// A list, or one comma-separated string (how an environment variable gives a list).
fn list_or_commas<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Given::deserialize(deserializer)? {
        Given::List(list) => list,
        Given::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::settings::Settings;
    use std::io::Write;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, crate::settings::SettingsError> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(toml.as_bytes()).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(Some(file.path()), &env).map(|(s, _)| s)
    }

    #[test]
    fn allowed_hosts_come_as_a_list_or_comma_separated() {
        let s = load("[egress]\nallowed_hosts = [\"crm.internal\"]\n", &[]).unwrap();
        assert_eq!(s.egress.allowed_hosts, ["crm.internal"]);
        let s = load(
            "",
            &[("PARLEY_EGRESS__ALLOWED_HOSTS", "crm.internal, 127.0.0.1")],
        )
        .unwrap();
        assert_eq!(s.egress.allowed_hosts, ["crm.internal", "127.0.0.1"]);
        assert!(Settings::default().egress.allowed_hosts.is_empty());
    }

    #[test]
    fn email_templates_load_and_broken_ones_stop_startup() {
        let s = load(
            "[tools.email.templates.details]\nsubject = \"Hi {{name}}\"\ntext = \"Hello {{name}}\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.tools.email.templates["details"].subject, "Hi {{name}}");
        assert_eq!(s.tools.email.max_per_call, 2);
        let broken = load(
            "[tools.email.templates.details]\nsubject = \"Hi {{first name}}\"\ntext = \"x\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(broken.contains("tools.email.templates"), "{broken}");
        assert!(broken.contains("first name"), "{broken}");
    }
}

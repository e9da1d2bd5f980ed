//! The dotted paths of every setting, and which of them hold secrets.

use super::Settings;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

/// Every settable key, as a dotted path in field order. Derived from the structs'
/// `Deserialize` impls, so a new field is known (and an old one forgotten) by itself.
pub(super) fn known_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Vec::new();
        walk(&mut Vec::new(), String::new(), &mut keys);
        keys
    })
}

/// Adds the leaves under the field reached by `route` (indexes into each level's
/// fields) to `out`; a field whose type is not a struct is a leaf.
fn walk(route: &mut Vec<usize>, path: String, out: &mut Vec<String>) {
    match fields_at(route) {
        Some(fields) => {
            for (index, field) in fields.iter().enumerate() {
                route.push(index);
                let inner = if path.is_empty() {
                    (*field).to_owned()
                } else {
                    format!("{path}.{field}")
                };
                walk(route, inner, out);
                route.pop();
            }
        }
        None => out.push(path),
    }
}

/// The field names of the struct at `route`, or `None` if it is not a struct. Runs
/// `Settings`' derived `Deserialize` against a probe that feeds it one key per level
/// and notes the field list serde hands to `deserialize_struct` at the end.
fn fields_at(route: &[usize]) -> Option<&'static [&'static str]> {
    let found = Cell::new(None);
    // Always fails: the probe stops every deserialization once it has looked.
    let _ = <Settings as de::Deserialize>::deserialize(Probe {
        route,
        found: &found,
    });
    found.get()
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe stopped")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Stop
    }
}

#[derive(Clone, Copy)]
struct Probe<'a> {
    route: &'a [usize],
    found: &'a Cell<Option<&'static [&'static str]>>,
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        match self.route.split_first() {
            None => {
                self.found.set(Some(fields));
                Err(Stop)
            }
            Some((&index, rest)) => visitor.visit_map(OneField {
                key: Some(fields.get(index).copied().ok_or(Stop)?),
                value: Probe {
                    route: rest,
                    found: self.found,
                },
            }),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// A map with one key, whose value is the next level's probe.
struct OneField<'a> {
    key: Option<&'static str>,
    value: Probe<'a>,
}

impl<'de, 'a> MapAccess<'de> for OneField<'a> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Stop> {
        seed.deserialize(self.value)
    }
}

/// Keys whose values must never appear in messages, not even inside an error.
pub(super) const SECRET_KEYS: &[&str] = &[
    "database_url",
    "bootstrap_admin_password",
    "twilio.auth_token",
    "elevenlabs.api_key",
    "elevenlabs.webhook_secret",
    "tools.secrets.get_current_time",
    "tools.secrets.schedule_consultation",
    "tools.secrets.send_email",
    "tools.secrets.opt_out",
    "tools.secrets.schedule_callback",
    "tools.secrets.transfer_to_human",
    "tools.calcom.api_key",
    "tools.email.graph_client_secret",
    "tools.email.smtp_password",
    "google.api_key",
    "metrics.token",
];

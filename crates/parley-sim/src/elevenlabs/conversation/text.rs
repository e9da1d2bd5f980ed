//! What the agent says: the greeting with its variables filled in, and replies cut where
//! an interruption stopped them.

use super::*;

/// The opening line: the override's `first_message` with `{{variables}}` filled in, or
/// the sandbox greeting. An empty `first_message` means the agent waits for the callee.
pub(super) fn greeting(
    initiation: &InitiationClientData,
    conversation_id: &str,
    agent_id: &str,
) -> Option<String> {
    let first_message = initiation
        .conversation_config_override
        .as_ref()
        .and_then(|o| o.agent.as_ref())
        .and_then(|a| a.first_message.as_deref());
    let text = match first_message {
        Some("") => return None,
        Some(text) => text,
        None => personas::AGENT_GREETING,
    };
    let mut variables: BTreeMap<&str, String> = initiation
        .dynamic_variables
        .iter()
        .map(|(name, value)| (name.as_str(), dynamic_text(value)))
        .collect();
    variables.insert("system__conversation_id", conversation_id.to_owned());
    variables.insert("system__agent_id", agent_id.to_owned());
    Some(fill_placeholders(text, &variables))
}

pub(super) fn dynamic_text(value: &DynamicValue) -> String {
    match value {
        DynamicValue::Bool(b) => b.to_string(),
        DynamicValue::Integer(i) => i.to_string(),
        DynamicValue::Number(n) => n.to_string(),
        DynamicValue::String(s) => s.clone(),
    }
}

/// Replaces `{{ name }}` with known variables; unknown placeholders stay as written.
pub(super) fn fill_placeholders(text: &str, variables: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        let name = rest[open + 2..open + 2 + close].trim();
        out.push_str(&rest[..open]);
        match variables.get(name) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[open..open + close + 4]),
        }
        rest = &rest[open + close + 4..];
    }
    out.push_str(rest);
    out
}

/// The words of `text` spoken in `spoken` out of `length`.
pub(super) fn truncate_spoken(text: &str, spoken: Duration, length: Duration) -> String {
    let fraction = if length.is_zero() {
        1.0
    } else {
        spoken.as_secs_f64() / length.as_secs_f64()
    };
    let keep = (text.chars().count() as f64 * fraction).floor() as usize;
    let cut: String = text.chars().take(keep).collect();
    // Whole words only, like a transcript of what was heard.
    match cut.rfind(' ') {
        Some(space) if keep < text.chars().count() => format!("{}…", cut[..space].trim_end()),
        _ if keep < text.chars().count() => String::new(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_elevenlabs::ws::{AgentOverride, ConfigOverride};

    #[test]
    fn greeting_fills_variables_and_respects_empty_first_message() {
        let mut init = InitiationClientData::default().dynamic_variable("customer_name", "Ann");
        assert_eq!(
            greeting(&init, "conv_1", "agent_1").as_deref(),
            Some(personas::AGENT_GREETING)
        );
        init.conversation_config_override = Some(ConfigOverride {
            agent: Some(AgentOverride {
                first_message: Some(
                    "Hi {{customer_name}}, {{ missing }} ({{system__conversation_id}})".into(),
                ),
                ..AgentOverride::default()
            }),
            ..ConfigOverride::default()
        });
        assert_eq!(
            greeting(&init, "conv_1", "agent_1").as_deref(),
            Some("Hi Ann, {{ missing }} (conv_1)")
        );
        init.conversation_config_override = Some(ConfigOverride {
            agent: Some(AgentOverride {
                first_message: Some(String::new()),
                ..AgentOverride::default()
            }),
            ..ConfigOverride::default()
        });
        assert_eq!(greeting(&init, "conv_1", "agent_1"), None);
        assert_eq!(fill_placeholders("a {{b", &BTreeMap::new()), "a {{b");
    }

    #[test]
    fn interrupted_text_is_cut_at_a_word() {
        let text = "We have a new plan that could save you money.";
        let second = Duration::from_secs(1);
        assert_eq!(
            truncate_spoken(text, second / 2, second),
            "We have a new plan…"
        );
        assert_eq!(truncate_spoken(text, second, second), text);
        assert_eq!(truncate_spoken(text, Duration::ZERO, second), "");
    }
}

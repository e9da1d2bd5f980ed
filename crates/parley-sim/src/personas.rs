//! The simulated callees, chosen by the number dialled, so anyone can aim a call at a
//! behaviour. Both simulators read this table: the Twilio side to decide how the line
//! answers and what the callee "says", the ElevenLabs side to understand it.
//!
//! Callee speech travels in-band: each persona speaks as a tone of its own frequency
//! (see [`crate::voice`]), so the agent simulator learns who is talking from the audio
//! that actually crossed Parley's bridge, and each burst of speech is the persona's next
//! scripted line.

/// How the line behaves when dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pickup {
    /// A person answers.
    Human,
    /// A voicemail greeting, then a beep.
    Machine,
    /// Rings until the caller's `Timeout`: status `no-answer`.
    NoAnswer,
    /// Status `busy`.
    Busy,
    /// Twilio refuses the create request with error 21211.
    InvalidNumber,
    /// Rings, then the carrier fails the call: status `failed`.
    CarrierFailure,
}

/// A tool the agent calls during this persona's conversation, and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolUse {
    pub tool: &'static str,
    /// JSON object text.
    pub parameters: &'static str,
    /// After which callee line (0-based) the agent calls it.
    pub after_line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Persona {
    pub number: &'static str,
    /// Short stable name, for logs and docs.
    pub name: &'static str,
    pub pickup: Pickup,
    /// Frequency of this callee's "voice" tone; unique per persona.
    pub voice_hz: u32,
    /// What the callee says, one line per turn, in order. For a machine: the greeting.
    pub lines: &'static [&'static str],
    /// The callee hangs up this many milliseconds after answering (at speed 1).
    pub hangs_up_after_ms: Option<u64>,
    /// What the agent replies to each callee line (same index); the last reply is
    /// followed by the agent ending the call when `agent_ends` is set.
    pub agent_replies: &'static [&'static str],
    pub agent_ends: bool,
    pub tool: Option<ToolUse>,
    /// The verdict the agent's post-call analysis gives (`success`, `failure`, `unknown`).
    pub call_successful: &'static str,
}

/// The agent's opening line for every sandbox conversation.
pub const AGENT_GREETING: &str = "Hello! This is Parley's demo assistant. Do you have a minute?";

pub const CONVERSES: Persona = Persona {
    number: "+15550100001",
    name: "converses",
    pickup: Pickup::Human,
    voice_hz: 400,
    lines: &[
        "Hi, yes, I have a minute.",
        "What is it about?",
        "Sounds good. Thanks, goodbye!",
    ],
    hangs_up_after_ms: None,
    agent_replies: &[
        "Great. I'm calling about your account.",
        "We have a new plan that could save you money. Shall I send details by email?",
        "Thank you for your time. Goodbye!",
    ],
    agent_ends: true,
    tool: None,
    call_successful: "success",
};

pub const PERSONAS: [Persona; 13] = [
    CONVERSES,
    Persona {
        number: "+15550100002",
        name: "voicemail",
        pickup: Pickup::Machine,
        voice_hz: 500,
        lines: &["Hi, you've reached Sam. Please leave a message after the beep."],
        hangs_up_after_ms: Some(30_000),
        agent_replies: &[],
        agent_ends: false,
        tool: None,
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100003",
        name: "no-answer",
        pickup: Pickup::NoAnswer,
        voice_hz: 600,
        lines: &[],
        hangs_up_after_ms: None,
        agent_replies: &[],
        agent_ends: false,
        tool: None,
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100004",
        name: "busy",
        pickup: Pickup::Busy,
        voice_hz: 700,
        lines: &[],
        hangs_up_after_ms: None,
        agent_replies: &[],
        agent_ends: false,
        tool: None,
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100005",
        name: "hangs-up",
        pickup: Pickup::Human,
        voice_hz: 800,
        lines: &["Hello? Who is this?"],
        hangs_up_after_ms: Some(3_000),
        agent_replies: &["Hi, I'm calling from Parley about your account."],
        agent_ends: false,
        tool: None,
        call_successful: "failure",
    },
    Persona {
        number: "+15550100006",
        name: "call-back-later",
        pickup: Pickup::Human,
        voice_hz: 900,
        lines: &[
            "I'm busy right now. Can you call me back tomorrow afternoon?",
            "Great, bye.",
        ],
        hangs_up_after_ms: None,
        agent_replies: &[
            "Of course. I'll call you back tomorrow at 3 pm.",
            "Talk to you then. Goodbye!",
        ],
        agent_ends: true,
        tool: Some(ToolUse {
            tool: "schedule_callback",
            parameters: r#"{"when": "tomorrow 15:00", "reason": "callee busy"}"#,
            after_line: 0,
        }),
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100007",
        name: "opts-out",
        pickup: Pickup::Human,
        voice_hz: 1000,
        lines: &["Stop calling me. Take me off your list."],
        hangs_up_after_ms: None,
        agent_replies: &["I'm sorry. You won't be called again. Goodbye."],
        agent_ends: true,
        tool: Some(ToolUse {
            tool: "opt_out",
            parameters: r#"{"reason": "callee asked not to be called"}"#,
            after_line: 0,
        }),
        call_successful: "failure",
    },
    Persona {
        number: "+15550100008",
        name: "invalid-number",
        pickup: Pickup::InvalidNumber,
        voice_hz: 1100,
        lines: &[],
        hangs_up_after_ms: None,
        agent_replies: &[],
        agent_ends: false,
        tool: None,
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100009",
        name: "carrier-failure",
        pickup: Pickup::CarrierFailure,
        voice_hz: 1200,
        lines: &[],
        hangs_up_after_ms: None,
        agent_replies: &[],
        agent_ends: false,
        tool: None,
        call_successful: "unknown",
    },
    Persona {
        number: "+15550100010",
        name: "asks-the-time",
        pickup: Pickup::Human,
        voice_hz: 1300,
        lines: &[
            "Before we start: what day is it where I am?",
            "Thanks. Bye.",
        ],
        hangs_up_after_ms: None,
        agent_replies: &[
            "Let me check your local time. It is a weekday afternoon where you are.",
            "Goodbye!",
        ],
        agent_ends: true,
        tool: Some(ToolUse {
            tool: "get_current_time",
            parameters: "{}",
            after_line: 0,
        }),
        call_successful: "success",
    },
    Persona {
        number: "+15550100011",
        name: "books-consultation",
        pickup: Pickup::Human,
        voice_hz: 1700,
        lines: &[
            "I'd like a consultation, tomorrow at 10 if you can. I'm Ada Lovelace, ada@example.com.",
            "Perfect, thank you. Bye.",
        ],
        hangs_up_after_ms: None,
        agent_replies: &["Let me look at the calendar for you.", "You're welcome. Goodbye!"],
        agent_ends: true,
        tool: Some(ToolUse {
            tool: "schedule_consultation",
            parameters: r#"{"when": "tomorrow 10:00", "name": "Ada Lovelace", "email": "ada@example.com", "notes": "pricing questions"}"#,
            after_line: 0,
        }),
        call_successful: "success",
    },
    Persona {
        number: "+15550100012",
        name: "wants-email",
        pickup: Pickup::Human,
        voice_hz: 1900,
        lines: &[
            "Can you email me the details? It's grace@example.com.",
            "Got it, thanks. Goodbye.",
        ],
        hangs_up_after_ms: None,
        agent_replies: &["Done, the details are on their way to your inbox.", "Goodbye!"],
        agent_ends: true,
        tool: Some(ToolUse {
            tool: "send_email",
            // The sandbox's `plan_details` template, to the address the callee just gave.
            parameters: r#"{"to": "grace@example.com", "template": "plan_details", "fields": {"name": "Grace", "plan": "new plan"}}"#,
            after_line: 0,
        }),
        call_successful: "success",
    },
    Persona {
        number: "+15550100013",
        name: "wants-a-human",
        pickup: Pickup::Human,
        voice_hz: 2100,
        lines: &["I'd rather talk to a real person, please."],
        hangs_up_after_ms: None,
        agent_replies: &["Of course. I'm transferring you to a colleague now."],
        agent_ends: false,
        tool: Some(ToolUse {
            tool: "transfer_to_human",
            parameters: r#"{"reason": "callee asked for a person"}"#,
            after_line: 0,
        }),
        call_successful: "unknown",
    },
];

/// The persona a number reaches; any number not in the table converses.
pub fn persona_for(number: &str) -> &'static Persona {
    PERSONAS
        .iter()
        .find(|p| p.number == number)
        .unwrap_or(&PERSONAS[0])
}

/// The persona whose voice is nearest `hz`, if any is within half the spacing (50 Hz).
pub fn persona_by_voice(hz: f32) -> Option<&'static Persona> {
    PERSONAS
        .iter()
        .min_by(|a, b| {
            let da = (a.voice_hz as f32 - hz).abs();
            let db = (b.voice_hz as f32 - hz).abs();
            da.total_cmp(&db)
        })
        .filter(|p| (p.voice_hz as f32 - hz).abs() < 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_voices_are_unique() {
        for (i, a) in PERSONAS.iter().enumerate() {
            for b in &PERSONAS[i + 1..] {
                assert_ne!(a.number, b.number);
                assert!(a.voice_hz.abs_diff(b.voice_hz) >= 100);
            }
            assert!(a.voice_hz.abs_diff(crate::voice::AGENT_VOICE_HZ) >= 100);
            assert!(a.agent_replies.len() <= a.lines.len().max(1));
        }
    }

    #[test]
    fn unknown_numbers_converse_and_voices_map_back() {
        assert_eq!(persona_for("+14155550100").name, "converses");
        assert_eq!(persona_for("+15550100004").pickup, Pickup::Busy);
        assert_eq!(persona_by_voice(1012.0).unwrap().name, "opts-out");
        assert!(persona_by_voice(2000.0).is_none());
    }
}

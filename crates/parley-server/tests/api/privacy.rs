//! Personal data stays out of logs.
use crate::calls_e2e::{place, sandbox, wait_for};
use parley_engine::events::LiveEvent;
use reqwest::Method;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything the tracing subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// Every `+` (or `%2B`) followed by 7 or more digits: an E.164 number left unmasked.
fn unmasked_e164(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let plus = text.match_indices('+').map(|(i, _)| i + 1);
    let encoded = text.match_indices("%2B").map(|(i, _)| i + 3);
    for start in plus.chain(encoded) {
        let rest = &text[start..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() >= 7 {
            found.push(format!("+{digits}"));
        }
    }
    found
}

// One thread, so that every task of the app (server, engine, simulators) logs to the
// subscriber installed for this test only.
#[tokio::test(flavor = "current_thread")]
async fn a_refused_number_never_reaches_the_logs_unmasked() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    // The sandbox carrier refuses this number with Twilio's 21211, quoting it.
    let id = place(&app, serde_json::json!({"to": "+15550100008"})).await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["error_code"], "21211", "{call}");
    let stored = call["error_message"].as_str().unwrap_or_default();
    assert!(stored.contains("+1********08"), "{stored}");
    app.stop().await;

    let text = logs.text();
    assert!(
        text.contains("carrier refused the call") && text.contains("+1********08"),
        "the refusal was logged, masked: {text}"
    );
    assert_eq!(unmasked_e164(&text), Vec::<String>::new(), "{text}");
}

#[test]
fn the_log_check_finds_unmasked_numbers() {
    assert_eq!(
        unmasked_e164("to=+15550100008 q=%2B15005550006 masked +1********08 code +21211"),
        ["+15550100008", "+15005550006"]
    );
}

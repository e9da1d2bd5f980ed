//! Requests that pretend: webhook subscriptions aimed inside the network (README,
//! "Egress"), Twilio callbacks with a bad `X-Twilio-Signature`, and ElevenLabs post-call
//! webhooks that are forged, stale, from the future, or a valid one sent twice.
use crate::node::{assert_error, read, Node, ELEVENLABS_WEBHOOK_SECRET, TWILIO_ACCOUNT_SID};
use crate::Tally;
use reqwest::Method;
use serde_json::{json, Value};

/// Every spelling of an internal target the issue names, and the reason the 422 gives.
const SSRF: &[(&str, &str)] = &[
    ("http://127.0.0.1:8080/hook", "is a loopback address"),
    ("http://localhost/hook", "resolves to a loopback address"),
    ("http://0.0.0.0:8080/hook", "is an unspecified address"),
    ("http://[::1]:8080/hook", "is a loopback address"),
    ("http://[::]/hook", "is an unspecified address"),
    ("http://2130706433/hook", "is a loopback address"),
    ("http://0x7f.1/hook", "is a loopback address"),
    ("http://017700000001/hook", "is a loopback address"),
    ("http://127.1/hook", "is a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "is a loopback address"),
    (
        "https://user:secret@crm.example.com/hook",
        "must not contain a user name or password",
    ),
    (
        "http://admin@169.254.169.254/",
        "must not contain a user name or password",
    ),
    ("http://10.0.0.1/hook", "is a private address"),
    ("http://172.16.0.1/hook", "is a private address"),
    ("http://192.168.1.1/hook", "is a private address"),
    ("http://[::ffff:10.0.0.1]/hook", "is a private address"),
    (
        "http://169.254.169.254/latest/meta-data/",
        "is a link-local address",
    ),
    ("http://[fe80::1]/hook", "is a link-local address"),
    ("http://100.64.0.1/hook", "is a carrier-grade NAT address"),
    ("http://[fd00::1]/hook", "is a unique-local address"),
    ("http://224.0.0.1/hook", "is a multicast address"),
    (
        "gopher://crm.example.com/",
        "must be an http:// or https:// URL",
    ),
];

async fn ssrf(node: &Node, tally: &mut Tally) {
    let answers = futures::future::join_all(SSRF.iter().map(|(url, reason)| async move {
        let body = json!({"url": url, "event_types": ["call.completed"]});
        let (status, answer) = node
            .api(&node.admin, Method::POST, "/webhooks", Some(body))
            .await;
        (*url, *reason, status, answer)
    }))
    .await;
    for (url, reason, status, body) in answers {
        assert_error(url, status, &body, (422, "validation_failed"));
        let message = body["error"]["details"]["fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["field"] == "url"))
            .and_then(|f| f["message"].as_str())
            .unwrap_or_else(|| panic!("{url}: no error on url in {body}"));
        assert!(message.contains(reason), "{url}: {message}");
        tally.add("internal webhook target: 422 validation_failed on url");
    }
    let (_, list) = node.api(&node.admin, Method::GET, "/webhooks", None).await;
    assert_eq!(list["items"], json!([]), "nothing refused was saved");
}

/// A Twilio callback about a live call (`completed`, which would end it), signed with a
/// token that is not Parley's.
async fn forged_twilio(node: &Node, path: &str, sid: &str) -> (u16, Value) {
    let params: Vec<(String, String)> = [
        ("AccountSid", TWILIO_ACCOUNT_SID),
        ("CallSid", sid),
        ("CallStatus", "completed"),
        ("SequenceNumber", "99"),
        ("CallDuration", "1"),
        ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        ("RecordingStatus", "completed"),
        ("AnsweredBy", "machine_start"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sig = parley_twilio::signature::sign("not-the-auth-token", &node.url(path), &params);
    let resp = node
        .http
        .post(node.url(path))
        .header("x-twilio-signature", sig)
        .form(&params)
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// A post-call record for `conversation_id` that would rewrite its call: a transcript
/// the callee never said and a failed outcome.
pub fn rewritten_record(conversation_id: &str) -> String {
    json!({"type": "post_call_transcription", "event_timestamp": chrono::Utc::now().timestamp(),
        "data": {"agent_id": "sandbox-agent", "conversation_id": conversation_id, "status": "done",
                 "transcript": [{"role": "user", "message": "rewritten by a replay", "time_in_call_secs": 1}],
                 "metadata": {"call_duration_secs": 1},
                 "analysis": {"call_successful": "failure", "transcript_summary": "rewritten by a replay"}}})
    .to_string()
}

async fn post_call(node: &Node, signature: String, body: String) -> (u16, Value) {
    let resp = node
        .http
        .post(node.url("/elevenlabs/webhook"))
        .header("ElevenLabs-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// The live calls: (id, Twilio call SID, conversation id).
pub type LiveCall = (i64, String, String);

/// Forged callbacks for every live call, and for every live conversation post-call
/// records with a bad signature, a wrong secret, a timestamp over 5 minutes old and one
/// ahead of the clock: each 403 `forbidden`, and each call then ends as if none came.
async fn forged_callbacks(node: &Node, live: &[LiveCall], tally: &mut Tally) {
    use parley_elevenlabs::webhook::sign;
    let mut requests = Vec::new();
    for (id, sid, conversation) in live {
        for kind in ["status", "recording", "amd", "twiml"] {
            let path = format!("/twilio/{kind}/{id}");
            requests.push(futures::future::Either::Left(async move {
                (
                    format!("Twilio {kind} callback, bad signature"),
                    forged_twilio(node, &path, sid).await,
                )
            }));
        }
        let now = chrono::Utc::now().timestamp();
        let body = rewritten_record(conversation);
        for (what, header) in [
            ("bad signature", format!("t={now},v0={}", "0".repeat(64))),
            (
                "wrong secret",
                sign("not-the-webhook-secret", now, body.as_bytes()),
            ),
            (
                "older than 5 minutes",
                sign(
                    ELEVENLABS_WEBHOOK_SECRET,
                    now - 5 * 60 - 30,
                    body.as_bytes(),
                ),
            ),
            (
                "in the future",
                sign(ELEVENLABS_WEBHOOK_SECRET, now + 120, body.as_bytes()),
            ),
        ] {
            let body = body.clone();
            requests.push(futures::future::Either::Right(async move {
                (
                    format!("ElevenLabs post-call, {what}"),
                    post_call(node, header, body).await,
                )
            }));
        }
    }
    for (what, (status, body)) in futures::future::join_all(requests).await {
        assert_error(&what, status, &body, (403, "forbidden"));
        tally.add(&format!("{what}: 403 forbidden"));
    }
}

/// A valid post-call record (right secret, current time) for the witness call, whose
/// own record was applied already, sent twice: each answered 204 and neither applied.
async fn valid_record_twice(node: &Node, conversation: &str, tally: &mut Tally) {
    let body = rewritten_record(conversation);
    let now = chrono::Utc::now().timestamp();
    let header = parley_elevenlabs::webhook::sign(ELEVENLABS_WEBHOOK_SECRET, now, body.as_bytes());
    for _ in 0..2 {
        let (status, answer) = post_call(node, header.clone(), body.clone()).await;
        assert_eq!(
            (status, &answer),
            (204, &Value::Null),
            "a replay is acknowledged"
        );
        tally.add("valid post-call record again: 204, not applied");
    }
}

pub async fn attack(node: &Node, live: &[LiveCall], witness: &str) -> Tally {
    let (mut a, mut b, mut c) = (Tally::default(), Tally::default(), Tally::default());
    futures::join!(
        ssrf(node, &mut a),
        forged_callbacks(node, live, &mut b),
        valid_record_twice(node, witness, &mut c),
    );
    a.merge(b);
    a.merge(c);
    a
}

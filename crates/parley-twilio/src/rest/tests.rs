//! Exercises the real HTTP client against a local axum server that plays Twilio.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use secrecy::SecretString;

use super::*;

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const CALL: &str = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    authorization: Option<String>,
    content_type: Option<String>,
    form: Vec<(String, String)>,
}

type Log = Arc<Mutex<Vec<Captured>>>;

fn call_json(status: &str) -> String {
    format!(
        r#"{{"sid":"{CALL}","account_sid":"{ACCOUNT}","to":"+15558675310","from":"+15017122661",
            "status":"{status}","duration":null,"queue_time":"0","price":null,"direction":"outbound-api"}}"#
    )
}

async fn fake_twilio(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decode = |bytes: &[u8]| -> Vec<(String, String)> {
        form_urlencoded::parse(bytes).into_owned().collect()
    };
    let captured = Captured {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: decode(uri.query().unwrap_or("").as_bytes()),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
        content_type: headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        form: decode(&body),
    };
    log.lock().unwrap().push(captured.clone());
    let calls = format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json");
    let one_call = format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json");
    let json = |status: StatusCode, body: String| {
        (status, [("content-type", "application/json")], body).into_response()
    };
    match (method, captured.path.as_str()) {
        (Method::POST, path) if path == calls => {
            if captured.form.contains(&("To".into(), "+1invalid".into())) {
                return json(
                    StatusCode::BAD_REQUEST,
                    r#"{"code":21211,"message":"The 'To' number +1invalid is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#.into(),
                );
            }
            json(StatusCode::CREATED, call_json("queued"))
        }
        (Method::POST, path) if path == one_call => json(StatusCode::OK, call_json("completed")),
        (Method::GET, path) if path == one_call => json(StatusCode::OK, call_json("in-progress")),
        (Method::GET, path) if path == calls => {
            let next = if captured.query.iter().any(|(k, _)| k == "Page") {
                "null".to_owned()
            } else {
                format!(r#""{calls}?PageSize=1&Page=1&PageToken=PA1""#)
            };
            json(
                StatusCode::OK,
                format!(r#"{{"calls":[{}],"next_page_uri":{next},"page":0,"page_size":1}}"#, call_json("completed")),
            )
        }
        (Method::GET, path) if path.ends_with("/Recordings/RE1.wav") => {
            (StatusCode::OK, [("content-type", "audio/x-wav")], b"RIFF....WAVE".to_vec()).into_response()
        }
        _ => json(
            StatusCode::NOT_FOUND,
            r#"{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#.into(),
        ),
    }
}

#[tokio::test]
async fn client_speaks_twilio_http() {
    let log = Log::default();
    let app = Router::new().fallback(fake_twilio).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = TwilioClient::new(ACCOUNT, SecretString::from("tok3n"))
        .with_base_url(format!("http://{addr}/"));
    let expected_auth = {
        use base64::Engine as _;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:tok3n"));
        format!("Basic {credentials}")
    };

    // Create.
    let request = CreateCall::new(
        "+15558675310",
        "+15017122661",
        CallInstructions::Url("https://app.example.com/twiml/c_1?x=1&y=2".into()),
    )
    .with_status_callback("https://app.example.com/twilio/status");
    let call = client.create_call(&request).await.unwrap();
    assert_eq!(call.sid, CALL);
    assert_eq!(call.status, crate::callbacks::CallStatus::Queued);
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.authorization.as_deref(), Some(expected_auth.as_str()));
    assert_eq!(
        sent.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(sent.form, request.form_params());

    // Validation error from Twilio keeps code, status and message.
    let bad = CreateCall::new(
        "+1invalid",
        "+15017122661",
        CallInstructions::Url("https://a".into()),
    );
    let err = client.create_call(&bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!((err.code(), err.status()), (Some(21211), Some(400)));

    // Hang up, fetch.
    assert_eq!(
        client.hang_up(CALL).await.unwrap().status,
        crate::callbacks::CallStatus::Completed
    );
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        sent.form,
        vec![("Status".to_owned(), "completed".to_owned())]
    );
    assert_eq!(
        client.fetch_call(CALL).await.unwrap().status,
        crate::callbacks::CallStatus::InProgress
    );
    let missing = client.fetch_call("CA0000").await.unwrap_err();
    assert_eq!(missing.code(), Some(20404));

    // List with paging.
    let filter = CallFilter {
        to: Some("+15558675310".into()),
        started_on_or_after: Some("2025-11-24T10:00:00Z".parse().unwrap()),
        ..CallFilter::default()
    };
    let first = client.list_calls(&filter).await.unwrap();
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent.query, filter.query_params());
    assert_eq!(first.calls.len(), 1);
    let second = client.next_calls_page(&first).await.unwrap().unwrap();
    assert!(second.next_page_uri.is_none());
    assert!(client.next_calls_page(&second).await.unwrap().is_none());
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert!(sent.query.contains(&("PageToken".into(), "PA1".into())));

    // Recording download.
    let wav = client.download_recording_wav("RE1").await.unwrap();
    assert_eq!(&wav[..], b"RIFF....WAVE");
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent.authorization.as_deref(), Some(expected_auth.as_str()));
}

#[tokio::test]
async fn connection_refused_is_retryable_and_known_unsent() {
    // Bind then drop to get a port nobody listens on.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client =
        TwilioClient::new(ACCOUNT, SecretString::from("t")).with_base_url(format!("http://{addr}"));
    let err = client.fetch_call(CALL).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.status(), None);
    assert!(!err.failure().outcome_unknown);
}

#[tokio::test]
async fn refuses_bad_input_before_sending() {
    let client =
        TwilioClient::new(ACCOUNT, SecretString::from("t")).with_base_url("http://127.0.0.1:9");
    let err = client.fetch_call("../../Accounts").await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    let page = CallPage {
        calls: vec![],
        next_page_uri: Some("https://evil.example/steal".into()),
        page: None,
        page_size: None,
    };
    assert!(client.next_calls_page(&page).await.is_err());
}

#[test]
fn debug_output_never_contains_the_token() {
    let client = TwilioClient::new(ACCOUNT, SecretString::from("super-secret-token"));
    let debug = format!("{client:?}");
    assert!(!debug.contains("super-secret-token"));
    assert!(debug.contains(ACCOUNT));
    assert_eq!(client.base_url(), DEFAULT_BASE_URL);
    assert_eq!(
        client.recording_wav_url("RE1"),
        format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1.wav")
    );
}

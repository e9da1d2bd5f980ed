//! Exercises the real HTTP client against a local axum server that plays ElevenLabs.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use secrecy::SecretString;

use super::*;

#[derive(Debug, Clone)]
struct Captured {
    uri: String,
    api_key: Option<String>,
}

type Log = Arc<Mutex<Vec<Captured>>>;

async fn fake_elevenlabs(
    axum::extract::State(log): axum::extract::State<Log>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let api_key = headers
        .get(API_KEY_HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    log.lock().unwrap().push(Captured {
        uri: uri.to_string(),
        api_key: api_key.clone(),
    });
    if api_key.as_deref() != Some("xi-test-key") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
        )
            .into_response();
    }
    match uri.path() {
        "/v1/convai/conversation/get-signed-url" | "/v1/convai/conversation/get_signed_url" => {
            let agent = uri
                .query()
                .and_then(|q| q.strip_prefix("agent_id="))
                .unwrap_or_default()
                .to_owned();
            let body = format!(
                r#"{{"signed_url":"wss://api.elevenlabs.io/v1/convai/conversation?agent_id={agent}&conversation_signature=sig123"}}"#
            );
            (StatusCode::OK, body).into_response()
        }
        "/v1/convai/conversations/conv_01jx" => (
            StatusCode::OK,
            crate::conversation::tests::REFERENCE_DATA.to_owned(),
        )
            .into_response(),
        "/v1/convai/conversations/conv_01jx/audio" => (
            StatusCode::OK,
            [("content-type", "audio/mpeg")],
            b"ID3mp3".to_vec(),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#).into_response(),
    }
}

#[tokio::test]
async fn client_speaks_elevenlabs_http() {
    let log = Log::default();
    let app = Router::new()
        .fallback(fake_elevenlabs)
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let client = ElevenLabsClient::new(SecretString::from("xi-test-key"))
        .with_base_url(&base)
        .unwrap();

    let signed = client.get_signed_url("agent_01").await.unwrap();
    assert_eq!(
        signed,
        "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_01&conversation_signature=sig123"
    );
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        sent.uri,
        "/v1/convai/conversation/get-signed-url?agent_id=agent_01"
    );
    assert_eq!(sent.api_key.as_deref(), Some("xi-test-key"));

    client
        .get_signed_url_from("agent_01", SignedUrlEndpoint::Legacy)
        .await
        .unwrap();
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        sent.uri,
        "/v1/convai/conversation/get_signed_url?agent_id=agent_01"
    );

    let conversation = client.get_conversation("conv_01jx").await.unwrap();
    assert_eq!(conversation.transcript.len(), 2);
    let audio = client.get_conversation_audio("conv_01jx").await.unwrap();
    assert_eq!(&audio[..], b"ID3mp3");

    let missing = client.get_conversation("conv_missing").await.unwrap_err();
    assert!(matches!(missing, ElevenLabsError::NotFound { .. }));
    // Ids are path-encoded, never interpreted as paths.
    client.get_conversation("../audio").await.unwrap_err();
    let sent = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent.uri, "/v1/convai/conversations/..%2Faudio");

    let wrong_key = ElevenLabsClient::new(SecretString::from("nope"))
        .with_base_url(&base)
        .unwrap();
    let err = wrong_key.get_signed_url("agent_01").await.unwrap_err();
    assert_eq!(
        err,
        ElevenLabsError::Unauthorized {
            status: 401,
            message: "invalid_api_key: Invalid API key".into()
        }
    );
}

#[test]
fn request_urls_are_encoded_and_respect_a_base_path() {
    let client = ElevenLabsClient::new(SecretString::from("k"))
        .with_base_url("http://sim.local:9000/elevenlabs/")
        .unwrap();
    assert_eq!(
        client
            .signed_url_request_url("agent a&b", SignedUrlEndpoint::Current)
            .as_str(),
        "http://sim.local:9000/elevenlabs/v1/convai/conversation/get-signed-url?agent_id=agent+a%26b"
    );
    let default = ElevenLabsClient::new(SecretString::from("k"));
    assert_eq!(
        default
            .signed_url_request_url("agent_1", SignedUrlEndpoint::Legacy)
            .as_str(),
        "https://api.elevenlabs.io/v1/convai/conversation/get_signed_url?agent_id=agent_1"
    );
    assert!(ElevenLabsClient::new(SecretString::from("k"))
        .with_base_url("not a url")
        .is_err());
}

#[test]
fn debug_output_never_contains_the_key() {
    let client = ElevenLabsClient::new(SecretString::from("sk_live_very_secret"));
    assert!(!format!("{client:?}").contains("sk_live_very_secret"));
}

#[tokio::test]
async fn empty_agent_id_is_refused_locally() {
    let client = ElevenLabsClient::new(SecretString::from("k"))
        .with_base_url("http://127.0.0.1:9")
        .unwrap();
    assert!(matches!(
        client.get_signed_url("").await,
        Err(ElevenLabsError::Local(_))
    ));
}

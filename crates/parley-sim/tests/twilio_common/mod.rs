//! A tiny "Parley" for the Twilio simulator tests: serves TwiML, accepts the media
//! WebSocket, and hands every request to the test through channels, with its
//! `X-Twilio-Signature` checked by parley-twilio's validator.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::Router;
use base64::Engine as _;
use parley_sim::twilio::{RunningTwilioSim, TwilioSim, TwilioSimConfig};
use parley_twilio::signature::{validate_form, validate_websocket};
use parley_twilio::TwilioClient;
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(10);
/// The simulated account's number (a `From` it does not own is refused, 21210).
pub const FROM: &str = "+15005550006";

/// A webhook request as the app received it.
#[derive(Debug, Clone)]
pub struct Hook {
    pub params: Vec<(String, String)>,
    pub signed: bool,
}

impl Hook {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Socket {
    pub ws: WebSocket,
    pub signed: bool,
}

struct AppState {
    token: String,
    base: String,
    twiml: Mutex<String>,
    status: mpsc::Sender<Hook>,
    twiml_requests: mpsc::Sender<Hook>,
    amd: mpsc::Sender<Hook>,
    recording: mpsc::Sender<Hook>,
    sockets: mpsc::Sender<Socket>,
}

pub struct FakeParley {
    pub base: String,
    pub ws_url: String,
    state: Arc<AppState>,
    pub status: mpsc::Receiver<Hook>,
    pub twiml_requests: mpsc::Receiver<Hook>,
    pub amd: mpsc::Receiver<Hook>,
    pub recording: mpsc::Receiver<Hook>,
    pub sockets: mpsc::Receiver<Socket>,
}

/// The TwiML Parley answers with: a bidirectional stream carrying `call_id=7`.
pub fn connect_twiml(ws_url: &str) -> String {
    parley_twilio::twiml::Response::new()
        .connect(parley_twilio::twiml::Stream::new(ws_url).parameter("call_id", "7"))
        .to_xml()
}

impl FakeParley {
    pub async fn start(token: &str) -> FakeParley {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let ws_url = format!("ws://{addr}/media");
        let (status_tx, status) = mpsc::channel(64);
        let (twiml_tx, twiml_requests) = mpsc::channel(64);
        let (amd_tx, amd) = mpsc::channel(64);
        let (recording_tx, recording) = mpsc::channel(64);
        let (socket_tx, sockets) = mpsc::channel(16);
        let state = Arc::new(AppState {
            token: token.to_owned(),
            base: base.clone(),
            twiml: Mutex::new(connect_twiml(&ws_url)),
            status: status_tx,
            twiml_requests: twiml_tx,
            amd: amd_tx,
            recording: recording_tx,
            sockets: socket_tx,
        });
        let app = Router::new()
            .route("/twiml", post(twiml))
            .route("/status", post(status_hook))
            .route("/amd", post(amd_hook))
            .route("/recording", post(recording_hook))
            .route("/media", any(media))
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeParley {
            base,
            ws_url,
            state,
            status,
            twiml_requests,
            amd,
            recording,
            sockets,
        }
    }

    pub fn set_twiml(&self, twiml: String) {
        *self.state.twiml.lock().unwrap() = twiml;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn checked(state: &AppState, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Hook {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let url = format!("{}{}", state.base, uri);
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let signed = validate_form(&state.token, &url, &params, signature);
    Hook { params, signed }
}

async fn twiml(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let _ = state
        .twiml_requests
        .send(checked(&state, &uri, &headers, &body))
        .await;
    let twiml = state.twiml.lock().unwrap().clone();
    ([("content-type", "text/xml")], twiml)
}

async fn status_hook(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) {
    let _ = state
        .status
        .send(checked(&state, &uri, &headers, &body))
        .await;
}

async fn amd_hook(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap, body: Bytes) {
    let _ = state.amd.send(checked(&state, &uri, &headers, &body)).await;
}

async fn recording_hook(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) {
    let _ = state
        .recording
        .send(checked(&state, &uri, &headers, &body))
        .await;
}

async fn media(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let url = format!("{}/media", state.base);
    let signed = validate_websocket(&state.token, &url, &signature);
    upgrade.on_upgrade(move |ws| async move {
        let _ = state.sockets.send(Socket { ws, signed }).await;
    })
}

pub async fn recv<T>(rx: &mut mpsc::Receiver<T>, what: &str) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("channel closed waiting for {what}"))
}

/// The next status callback whose `CallStatus` is terminal.
pub async fn final_status(parley: &mut FakeParley, sid: &str) -> Hook {
    loop {
        let hook = recv(&mut parley.status, "final status callback").await;
        let terminal = matches!(
            hook.get("CallStatus"),
            Some("completed" | "busy" | "no-answer" | "failed" | "canceled")
        );
        if terminal && hook.get("CallSid") == Some(sid) {
            return hook;
        }
    }
}

/// The next JSON message on the media socket (`None` once closed).
pub async fn next_json(ws: &mut WebSocket) -> Option<serde_json::Value> {
    loop {
        let message = tokio::time::timeout(WAIT, ws.recv())
            .await
            .expect("timed out waiting for a stream message");
        match message {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(text.as_str()).unwrap())
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until a message with this `event`, returning it (panics if the socket closes).
pub async fn until_event(ws: &mut WebSocket, event: &str) -> serde_json::Value {
    loop {
        let message = next_json(ws)
            .await
            .unwrap_or_else(|| panic!("socket closed before {event}"));
        if message["event"] == event {
            return message;
        }
    }
}

pub fn payload_bytes(message: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(message["media"]["payload"].as_str().unwrap())
        .unwrap()
}

/// Sends agent-voice audio (the sandbox agent's tone) as outbound media messages.
pub async fn send_agent_speech(ws: &mut WebSocket, stream_sid: &str, ms: u64) {
    let audio = parley_sim::voice::tone_mulaw(parley_sim::voice::AGENT_VOICE_HZ, ms);
    for chunk in audio.chunks(160) {
        let payload = base64::engine::general_purpose::STANDARD.encode(chunk);
        let mut text = String::new();
        parley_twilio::media::write_media(&mut text, stream_sid, &payload);
        ws.send(Message::Text(text.into())).await.unwrap();
    }
}

pub struct Harness {
    pub sim: RunningTwilioSim,
    pub parley: FakeParley,
    pub client: TwilioClient,
}

pub async fn harness(config: TwilioSimConfig) -> Harness {
    let token = config.auth_token.clone();
    let account = config.account_sid.clone();
    let sim = TwilioSim::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let parley = FakeParley::start(&token).await;
    let client = TwilioClient::new(account, token.into()).with_base_url(sim.base_url.clone());
    Harness {
        sim,
        parley,
        client,
    }
}

pub fn fast() -> TwilioSimConfig {
    TwilioSimConfig {
        speed: 5.0,
        calls_per_second: 50.0,
        ..TwilioSimConfig::default()
    }
}

//! Twilio's side of a Media Streams WebSocket (reference E): Twilio is the client. Opens
//! the socket with a signed handshake, sends `connected` and `start`, then one `media`
//! frame per 20 ms tick, `mark` echoes, and `stop` before closing.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use parley_twilio::media::{self, FramePosition, InboundMessage, MediaFormat, StartInfo, StopInfo};
use parley_twilio::signature::{sign, SIGNATURE_HEADER};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::net_delay::{self, Io, NetworkDelay};

use super::callbacks::CallFacts;
use super::callee::Frame;
use super::store::new_sid;
use super::twiml::StreamSpec;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// 20 ms frames are small; tungstenite's 128 KiB default read buffer per socket is waste.
const READ_BUFFER: usize = 8 * 1024;
/// How long the app has to answer Twilio's close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
/// RFC 6455, 7.1.5: no close frame at all (never sent on the wire).
pub(crate) const ABNORMAL_CLOSE: u16 = 1006;

/// The code a close frame carried; 1005 (RFC 6455, 7.1.5) when it had none.
pub(crate) fn close_code(
    frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>,
) -> u16 {
    frame.map_or(1005, |f| f.code.into())
}

/// Frames a fork may lag behind before frames are dropped.
const FORK_QUEUE: usize = 50;

pub(crate) type Ws = WebSocketStream<Box<dyn Io>>;
pub(crate) type WsReader = SplitStream<Ws>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    /// Twilio error 31920: handshake failed, or a URL Twilio refuses.
    #[error("stream handshake failed (31920): {0}")]
    Handshake(String),
    #[error("stream socket error: {0}")]
    Socket(#[from] tokio_tungstenite::tungstenite::Error),
}

/// The write side of an open stream plus Twilio's counters.
pub(crate) struct MediaStream {
    sink: SplitSink<Ws, Message>,
    pub stream_sid: String,
    account_sid: String,
    call_sid: String,
    /// Last `sequenceNumber` used (`start` is 1).
    sequence: u64,
    chunk: u64,
    json: String,
    payload: String,
}

/// Opens the socket and sends `connected` and `start`.
pub(crate) async fn open(
    spec: &StreamSpec,
    facts: &CallFacts,
    auth_token: &str,
    delay: NetworkDelay,
) -> Result<(MediaStream, WsReader), StreamError> {
    let url = &spec.url;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("wss://") || lower.starts_with("ws://")) || url.contains('?') {
        return Err(StreamError::Handshake(format!(
            "unsupported stream url {url:?}"
        )));
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| StreamError::Handshake(e.to_string()))?;
    let signature = sign::<&str, &str>(auth_token, url, &[]);
    let value =
        HeaderValue::from_str(&signature).map_err(|e| StreamError::Handshake(e.to_string()))?;
    request.headers_mut().insert(SIGNATURE_HEADER, value);
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let uri = request.uri();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    if lower.starts_with("wss://") {
        // As before the delay: no TLS is built in.
        return Err(StreamError::Handshake("wss:// is not supported".into()));
    }
    let port = uri.port_u16().unwrap_or(80);
    let connect = async {
        let io = net_delay::connect(&host, port, delay)
            .await
            .map_err(|e| StreamError::Handshake(e.to_string()))?;
        tokio_tungstenite::client_async_with_config(request, io, Some(config))
            .await
            .map_err(|e| StreamError::Handshake(e.to_string()))
    };
    let (ws, _) = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect)
        .await
        .map_err(|_| StreamError::Handshake("timed out".into()))??;
    let (sink, reader) = ws.split();
    let mut stream = MediaStream {
        sink,
        stream_sid: new_sid("MZ"),
        account_sid: facts.account_sid.clone(),
        call_sid: facts.sid.clone(),
        sequence: 0,
        chunk: 0,
        json: String::with_capacity(320),
        payload: String::with_capacity(216),
    };
    stream.send_start(&spec.parameters).await?;
    Ok((stream, reader))
}

impl MediaStream {
    async fn send_start(&mut self, parameters: &[(String, String)]) -> Result<(), StreamError> {
        let connected = InboundMessage::Connected {
            protocol: "Call".into(),
            version: "1.0.0".into(),
        };
        self.sink.feed(Message::text(connected.to_json())).await?;
        let custom_parameters: BTreeMap<String, String> = parameters.iter().cloned().collect();
        let start = InboundMessage::Start {
            sequence_number: self.next_sequence().to_string(),
            start: StartInfo {
                account_sid: self.account_sid.clone(),
                stream_sid: self.stream_sid.clone(),
                call_sid: self.call_sid.clone(),
                tracks: vec!["inbound".into()],
                custom_parameters,
                media_format: MediaFormat {
                    encoding: "audio/x-mulaw".into(),
                    sample_rate: 8000,
                    channels: 1,
                },
            },
            stream_sid: self.stream_sid.clone(),
        };
        self.sink.send(Message::text(start.to_json())).await?;
        Ok(())
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// One 20 ms frame of the callee's audio.
    pub async fn send_media(&mut self, frame: &Frame) -> Result<(), StreamError> {
        self.chunk += 1;
        let position = FramePosition {
            sequence_number: self.next_sequence(),
            chunk: self.chunk,
            timestamp_ms: (self.chunk - 1) * 20,
        };
        self.payload.clear();
        base64::engine::general_purpose::STANDARD.encode_string(frame, &mut self.payload);
        media::write_inbound_media(&mut self.json, &self.stream_sid, position, &self.payload);
        self.sink.send(Message::text(self.json.as_str())).await?;
        Ok(())
    }

    /// Echoes a mark the app sent, now that playback reached it.
    pub async fn send_mark(&mut self, name: String) -> Result<(), StreamError> {
        let mark = InboundMessage::Mark {
            sequence_number: self.next_sequence().to_string(),
            mark: media::Mark { name },
            stream_sid: self.stream_sid.clone(),
        };
        self.sink.send(Message::text(mark.to_json())).await?;
        Ok(())
    }

    /// The app closed the socket: sends the library's queued echo of its close frame
    /// (RFC 6455, 5.5.1) before the socket goes.
    pub async fn answer_close(mut self) {
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, self.sink.flush()).await;
    }

    /// Sends `stop` and closes the socket (the call or the `<Connect>` ended on our side);
    /// returns the code of the app's answering close frame (1005 without one, 1006 if
    /// the app sent none in time).
    pub async fn stop(mut self, reader: Option<WsReader>) -> u16 {
        let stop = InboundMessage::Stop {
            sequence_number: self.next_sequence().to_string(),
            stop: StopInfo {
                account_sid: self.account_sid.clone(),
                call_sid: self.call_sid.clone(),
            },
            stream_sid: self.stream_sid.clone(),
        };
        let _ = self.sink.send(Message::text(stop.to_json())).await;
        let _ = self.sink.close().await;
        let Some(mut reader) = reader else {
            return ABNORMAL_CLOSE;
        };
        let answer = tokio::time::timeout(CLOSE_HANDSHAKE, async {
            while let Some(Ok(message)) = reader.next().await {
                if let Message::Close(frame) = message {
                    return close_code(frame.as_ref());
                }
            }
            ABNORMAL_CLOSE
        })
        .await;
        answer.unwrap_or(ABNORMAL_CLOSE)
    }
}

/// A `<Start><Stream>` fork: listen-only, fed the callee's frames; `stop` when the call
/// ends (the sender is dropped).
pub(crate) fn spawn_fork(
    spec: StreamSpec,
    facts: CallFacts,
    (auth_token, delay): (String, NetworkDelay),
) -> mpsc::Sender<Frame> {
    let (tx, mut rx) = mpsc::channel::<Frame>(FORK_QUEUE);
    tokio::spawn(async move {
        let (mut stream, mut reader) = match open(&spec, &facts, &auth_token, delay).await {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, "twilio sim: fork stream failed");
                return;
            }
        };
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(frame) => {
                        if stream.send_media(&frame).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                // A fork ignores what the server sends, but notices it closing (and
                // answers its close frame).
                message = reader.next() => match message {
                    Some(Ok(Message::Close(_))) => return stream.answer_close().await,
                    Some(Ok(_)) => {}
                    _ => return,
                },
            }
        }
        stream.stop(Some(reader)).await;
    });
    tx
}

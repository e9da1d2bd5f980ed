//! A node's live events (`/api/v1/events`), read in the background for as long as the
//! test holds them: tests wait on them instead of polling the node, and count them
//! afterwards (one `call_analyzed` per call, say).
use futures::StreamExt;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const HELLO_WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Seen {
    events: Vec<Value>,
    /// Why the socket ended, if it did.
    ended: Option<String>,
}

#[derive(Clone)]
pub struct Live {
    seen: Arc<Mutex<Seen>>,
    arrived: Arc<Notify>,
}

impl Live {
    pub async fn connect(url: &str, key: &str) -> Live {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the live events socket opens");
        let live = Live {
            seen: Arc::default(),
            arrived: Arc::default(),
        };
        let me = live.clone();
        tokio::spawn(async move {
            let ended = loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let event: Value = serde_json::from_str(&text).unwrap();
                        me.seen.lock().unwrap().events.push(event);
                        me.arrived.notify_waiters();
                    }
                    Some(Ok(Message::Close(frame))) => break format!("closed: {frame:?}"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("failed: {e}"),
                    None => break "ended".to_string(),
                }
            };
            me.seen.lock().unwrap().ended = Some(ended);
            me.arrived.notify_waiters();
        });
        // The node subscribes before its hello: every event after it reaches this socket.
        live.until("the node says hello", HELLO_WAIT, |e| {
            e.iter().any(|e| e["type"] == "hello").then_some(())
        })
        .await;
        live
    }

    /// Waits until `pick` finds something in the events so far; fails after `limit`, or
    /// if events were lost (`resync`) or the socket ended.
    pub async fn until<T>(
        &self,
        what: &str,
        limit: Duration,
        pick: impl Fn(&[Value]) -> Option<T>,
    ) -> T {
        tokio::time::timeout(limit, async {
            loop {
                let notified = self.arrived.notified();
                {
                    let seen = self.seen.lock().unwrap();
                    if let Some(found) = pick(&seen.events) {
                        return found;
                    }
                    assert!(
                        !seen.events.iter().any(|e| e["type"] == "resync"),
                        "live events were lost while waiting until {what}"
                    );
                    if let Some(why) = &seen.ended {
                        panic!("the live events socket {why} while waiting until {what}");
                    }
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("not within {limit:?}: {what}"))
    }

    /// How many events so far are of `kind` about `call_id`.
    pub fn count(&self, kind: &str, call_id: i64) -> usize {
        self.count_where(|e| e["type"] == kind && e["call_id"] == call_id)
    }

    /// How many events so far `matches` accepts.
    pub fn count_where(&self, matches: impl Fn(&Value) -> bool) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.events.iter().filter(|e| matches(e)).count()
    }
}

/// Whether `events` hold one of `kind` about `call_id` that `also` accepts.
pub fn has(events: &[Value], kind: &str, call_id: i64, also: impl Fn(&Value) -> bool) -> bool {
    events
        .iter()
        .any(|e| e["type"] == kind && e["call_id"] == call_id && also(e))
}

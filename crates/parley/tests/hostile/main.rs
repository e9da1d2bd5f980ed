//! The hostile-input suite (issue 13): one `parley serve` in sandbox mode carries live
//! calls while every hostile input the README's "Security" section defends against is
//! fired at it at once: crafted workbooks (a huge declared range, a zip bomb) and CSV, a
//! slow-header flood and stalled bodies, oversized WebSocket frames before and after
//! authentication, a burst of unauthenticated sockets, webhook subscriptions aimed at
//! internal addresses in every spelling, forged Twilio callbacks, and forged, stale,
//! future and replayed ElevenLabs post-call webhooks.
//!
//! It asserts that every live call completes like a clean call, that the node's resident
//! memory stays under a stated bound, and that each hostile request got its documented
//! answer; it prints the figures (memory before and during, calls completed, answers).
//!
//! CI size: 8 live calls. More: `PARLEY_HOSTILE_CALLS=50 cargo test --test hostile`.
#[path = "../common/mod.rs"]
mod common;
mod forged;
mod http;
mod media;
mod node;
mod uploads;

use common::live::{has, Live};
use node::{memory, Node};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How fast the simulated callees and agent talk: slow enough that a conversation
/// outlasts the attack (a few seconds), fast enough for CI.
const SPEED: f64 = 1.0;
const CALL_WAIT: Duration = Duration::from_secs(120);
/// How much the attack may add to the node's resident memory (its peak before the attack
/// plus this bounds every sample during it and the peak after). Measured at CI size (8
/// calls, 2 cores): 49.5 MiB before, 56.3 MiB peak during, +7 MiB; the bound is about
/// twice that peak. Without the defences the same inputs take far more: one of the
/// three zip bombs unpacked is 300 MiB, far.xlsx's dense range 512 GiB (an abort), and a
/// handful of 64 MiB WebSocket messages moved RSS from 35 to 292 MB (issue 13).
const MAX_GROWTH_KIB: u64 = 64 * 1024;

/// Hostile requests by the answer they got.
#[derive(Default)]
pub struct Tally(BTreeMap<String, usize>);

impl Tally {
    pub fn add(&mut self, answer: &str) {
        *self.0.entry(answer.to_owned()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (answer, n) in other.0 {
            *self.0.entry(answer).or_default() += n;
        }
    }

    fn total(&self) -> usize {
        self.0.values().sum()
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The callee's lines in a call's transcript.
fn user_lines(call: &Value) -> Vec<&str> {
    call["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "user")
        .map(|t| t["text"].as_str().unwrap())
        .collect()
}

/// A call that went as a clean sandbox conversation goes: completed, ended by the agent
/// after its goodbye, a success by outcome and analysis, the callee's every line heard,
/// and its post-call record applied once.
fn assert_clean(call: &Value) {
    let id = &call["id"];
    assert_eq!(call["status"], "completed", "call {id}: {call}");
    assert_eq!(call["termination_source"], "agent", "call {id}: {call}");
    assert_eq!(call["outcome"], "success", "call {id}: {call}");
    assert_eq!(
        call["analysis"]["call_successful"], "success",
        "call {id}: {call}"
    );
    assert!(call["error_message"].is_null(), "call {id}: {call}");
    assert_eq!(
        user_lines(call),
        parley_sim::personas::CONVERSES.lines.to_vec(),
        "call {id}: the callee was heard"
    );
    let post_call = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "post_call")
        .count();
    assert_eq!(post_call, 1, "call {id}: one post-call record applied");
}

/// Samples the server's resident memory until stopped; the highest sample, in KiB.
fn sample_memory(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let peak = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        while !stop.load(Ordering::SeqCst) {
            tick.tick().await;
            // Gone: the server died, which the suite reports where it notices.
            let Some((rss, _)) = memory(pid) else { break };
            peak.fetch_max(rss, Ordering::SeqCst);
        }
        peak.load(Ordering::SeqCst)
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_leaves_live_calls_and_memory_alone() {
    let calls = env_number("PARLEY_HOSTILE_CALLS", 8);
    let files = tokio::task::spawn_blocking(uploads::Files::build);
    let mut node = Node::start(SPEED);
    let live = Live::connect(&node.ws_url("/api/v1/events"), &node.operator).await;

    // The witness: a call over before the attack, whose post-call record the attack
    // replays.
    let witness = node.place("+15550100001").await;
    live.until("the witness call is analysed", CALL_WAIT, |e| {
        has(e, "call_analyzed", witness, |_| true).then_some(())
    })
    .await;
    let witness_before = node.call(witness).await;
    assert_clean(&witness_before);
    let witness_conversation = witness_before["conversation_id"].as_str().unwrap();

    // The live calls, each bridged and the callee heard before the attack starts.
    let mut ids = Vec::new();
    for i in 0..calls {
        ids.push(node.place(&format!("+1555020{i:04}")).await);
    }
    for &id in &ids {
        live.until(&format!("call {id} is bridged"), CALL_WAIT, |e| {
            has(e, "transcript", id, |t| t["role"] == "user").then_some(())
        })
        .await;
    }
    let mut live_calls = Vec::new();
    for &id in &ids {
        let call = node.call(id).await;
        let field = |name: &str| {
            call[name]
                .as_str()
                .unwrap_or_else(|| panic!("call {id} has no {name}: {call}"))
                .to_string()
        };
        live_calls.push((id, field("twilio_call_sid"), field("conversation_id")));
    }
    let files = files.await.unwrap();

    let pid = node.pid();
    let (rss_before, peak_before) = memory(pid).expect("the server runs");
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_memory(pid, stop.clone());
    let started = Instant::now();
    let ended_before = ids
        .iter()
        .filter(|&&id| live.count("call_ended", id) > 0)
        .count();
    assert_eq!(ended_before, 0, "every call is live when the attack starts");
    let (imports, slow, sockets, forged) = futures::join!(
        uploads::attack(&node, &files),
        http::attack(&node),
        media::attack(&node),
        forged::attack(&node, &live_calls, witness_conversation),
    );
    let attack_time = started.elapsed();
    let still_live = ids
        .iter()
        .filter(|&&id| live.count("call_ended", id) == 0)
        .count();
    stop.store(true, Ordering::SeqCst);
    let rss_during = sampler.await.unwrap();
    let (rss_after, peak) = memory(pid).expect("the server still runs");
    let mut answers = Tally::default();
    for tally in [imports, slow, sockets, forged] {
        answers.merge(tally);
    }

    // Every live call completes as a clean call does.
    for &id in &ids {
        live.until(&format!("call {id} is analysed"), CALL_WAIT, |e| {
            has(e, "call_analyzed", id, |_| true).then_some(())
        })
        .await;
        assert_clean(&node.call(id).await);
    }
    // The replayed record changed nothing and announced nothing.
    let witness_after = node.call(witness).await;
    assert_clean(&witness_after);
    assert_eq!(witness_after["transcript"], witness_before["transcript"]);
    assert_eq!(witness_after["analysis"], witness_before["analysis"]);
    assert_eq!(live.count("call_analyzed", witness), 1, "one call_analyzed");
    let bound = peak_before + MAX_GROWTH_KIB;
    assert!(
        rss_during <= bound && peak <= bound,
        "memory grew past {:.1} MiB: {:.1} MiB sampled, peak {:.1} MiB",
        mib(bound),
        mib(rss_during),
        mib(peak)
    );
    assert!(node.running(), "the server is still running");
    let log = node.log.lock().unwrap();
    let panics: Vec<&String> = log.iter().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "the server panicked: {panics:?}");
    // Numbers dialled and numbers in the refused files are masked wherever logged.
    let unmasked: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("+1555020") || l.contains("+1415555") || l.contains("+1555010"))
        .collect();
    assert!(
        unmasked.is_empty(),
        "full phone numbers logged: {unmasked:?}"
    );
    drop(log);

    eprintln!(
        "hostile: {} live calls + 1 witness, all completed clean ({still_live} of {} still \
         live when the attack's last answer came, {:.1} s after it started)",
        ids.len(),
        ids.len(),
        attack_time.as_secs_f64()
    );
    eprintln!("hostile: inputs {}", files.sizes());
    eprintln!(
        "hostile: RSS before {:.1} MiB (peak so far {:.1} MiB); during the attack up to \
         {:.1} MiB sampled, peak {:.1} MiB (bound {:.1} MiB); after {:.1} MiB",
        mib(rss_before),
        mib(peak_before),
        mib(rss_during),
        mib(peak),
        mib(bound),
        mib(rss_after)
    );
    eprintln!("hostile: {} hostile requests, answered:", answers.total());
    for (answer, n) in &answers.0 {
        eprintln!("hostile:   {n:>4} x {answer}");
    }
}

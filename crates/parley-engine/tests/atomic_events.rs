//! One event, one transaction, proven by fault injection. For each kind of event, a clean
//! run records the write points the event passes; then, for every one of those points in
//! turn, a fresh database fails the event there. The failed event must change nothing
//! (unless it failed after its commit), and the same event delivered again, as Twilio or
//! ElevenLabs would redeliver it, must end in exactly the state of the clean run: the
//! call, the contact's progress, the campaign's counters, the analytics counters, one
//! outbox event per logical event, the audit rows. A third delivery changes nothing.
//!
//! Runs on SQLite and PostgreSQL. Every write point of every event runs on both; set
//! `PARLEY_FAULT_POINTS=N` to try only the first N points of each event (0: all).
use parley_domain::call::{Call, CallStatus, TerminationSource, TurnRole};
use parley_domain::campaign::{CampaignAction, CampaignSettings};
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::tool::ToolVia;
use parley_domain::webhook::EventType;
use parley_domain::Phone;
use parley_engine::calls::place::DialOptions;
use parley_engine::settings::Settings;
use parley_engine::telephony::{SimulatorUrls, Telephony};
use parley_engine::Engine;
use parley_store::testing::TestDatabase;
use parley_store::ClaimLimits;
use parley_store::{
    AttemptRefused, ClaimedContact, ContactSelector, NewCall, NewCampaign, NewSubscription,
    StatusChange, Store, StoreError,
};
use serde_json::json;
use std::sync::Arc;

const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";
const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const PHONE: &str = "+14155550123";
const CONVERSATION: &str = "conv_atomic_1";

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where the contact and its call stand when the event arrives; each stage is the one
/// before it plus one step.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    /// Enrolled in a running campaign, not yet claimed by a dialer.
    Pending,
    /// Claimed by this node's dialer, no call written yet.
    Claimed,
    /// Its attempt written (`queued`), and then its number put on the do-not-call list
    /// before the carrier was asked.
    QueuedThenBlocked,
    /// Dialled, ringing.
    Ringing,
    /// Answered (with no agent conversation on record, so nothing waits for an analysis).
    Answered,
    /// Over, its agent conversation known, the analysis not yet in.
    AwaitingAnalysis,
    /// Answered, and then the campaign paused.
    AnsweredInPausedCampaign,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    /// Twilio: the callee hung up after 42 s.
    StatusCompleted,
    /// Twilio: nobody answered (the contact is scheduled for a retry).
    StatusNoAnswer,
    /// Twilio: answered (not final).
    StatusInProgress,
    /// Twilio: answering-machine detection heard a machine.
    AmdMachine,
    /// Twilio: the recording is ready.
    RecordingCompleted,
    /// ElevenLabs: the post-call transcription webhook.
    PostCall,
    /// The agent's `opt_out` tool.
    OptOut,
    /// An operator pauses the campaign.
    PauseCampaign,
    /// An operator resumes a paused campaign.
    ResumeCampaign,
    /// An operator stops the campaign while a call is live.
    StopCampaign,
    /// The dialer claims the due contact.
    DialerClaim,
    /// The dialer writes the claimed contact's attempt.
    DialStart,
    /// The dialer finds the number blocked just before dialling: cancelled undialled.
    DialBlocked,
    /// The bridge stores a turn of the live transcript.
    TranscriptTurn,
    /// The agent ends the conversation: the bridge records who ended the call.
    BridgeEnded,
    /// The agent's `schedule_callback` tool.
    ScheduleCallback,
}

impl Event {
    fn stage(self) -> Stage {
        match self {
            Event::StatusNoAnswer | Event::StatusInProgress | Event::AmdMachine => Stage::Ringing,
            Event::PostCall => Stage::AwaitingAnalysis,
            Event::ResumeCampaign => Stage::AnsweredInPausedCampaign,
            Event::DialerClaim => Stage::Pending,
            Event::DialStart => Stage::Claimed,
            Event::DialBlocked => Stage::QueuedThenBlocked,
            _ => Stage::Answered,
        }
    }
}

struct World {
    store: Store,
    engine: Engine,
    /// The attempt's call (0 before the attempt is written).
    call_id: i64,
    campaign_id: i64,
    contact_id: i64,
    /// The dialer's claim, from [`Stage::Claimed`] on.
    claim: Option<ClaimedContact>,
    db: Db,
    /// Dropped last, after the pools are closed.
    _pg: Option<TestDatabase>,
    _dir: tempfile::TempDir,
}

/// A raw connection to the same database, to read what the store wrote.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

macro_rules! rows {
    ($db:expr, $sql:expr) => {
        match &$db {
            Db::Sqlite(p) => sqlx::query_as($sql).fetch_all(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_as($sql).fetch_all(p).await.unwrap(),
        }
    };
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = vec![
        ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
        ("CallSid".to_string(), CALL_SID.to_string()),
    ];
    form.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    form
}

fn post_call_body() -> Vec<u8> {
    serde_json::json!({
        "type": "post_call_transcription",
        "event_timestamp": 1739537297,
        "data": {
            "agent_id": "agent_test",
            "conversation_id": CONVERSATION,
            "status": "done",
            "transcript": [
                {"role": "agent", "message": "Hi, this is Maya.", "time_in_call_secs": 0},
                {"role": "user", "message": "Hello.", "time_in_call_secs": 2}
            ],
            "metadata": {"call_duration_secs": 40, "cost": 120, "termination_reason": ""},
            "analysis": {
                "call_successful": "success",
                "transcript_summary": "The callee listened and agreed.",
                "evaluation_criteria_results": {
                    "goal_met": {"criteria_id": "goal_met", "result": "success", "rationale": "agreed"}
                },
                "data_collection_results": {
                    "interested": {"data_collection_id": "interested", "value": "yes"}
                }
            }
        }
    })
    .to_string()
    .into_bytes()
}

impl World {
    async fn new(backend: Backend, stage: Stage) -> World {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create("parley_atomic").await),
        };
        let url = match &pg {
            None => format!("sqlite://{}", dir.path().join("p.db").display()),
            Some(pg) => pg.url.clone(),
        };
        let store = Store::open(&url).await.unwrap();
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap()),
            Backend::Postgres => Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap()),
        };
        let settings = Settings::default();
        // A carrier that is not there: nothing in these events may need it.
        let nowhere = SimulatorUrls::unreachable();
        let engine = Engine::new(
            Arc::new(settings.clone()),
            store.clone(),
            Telephony::sandbox(&settings, &nowhere).unwrap(),
        );
        store
            .create_subscription(
                &NewSubscription {
                    url: "https://crm.example.com/parley".into(),
                    secret: "whsec_test".into(),
                    event_types: EventType::ALL.to_vec(),
                    description: None,
                    enabled: true,
                },
                "test",
            )
            .await
            .unwrap();
        let campaign = store
            .create_campaign(
                &NewCampaign {
                    name: "atomic".into(),
                    description: None,
                    settings: CampaignSettings {
                        // Consent is not what this tests.
                        required_consent: parley_domain::consent::ConsentType::None,
                        ..Default::default()
                    },
                },
                "test",
            )
            .await
            .unwrap();
        let contact = store
            .create_contact(&NewContact {
                phone: Phone::from_e164(PHONE).unwrap(),
                fields: ContactFields::default(),
            })
            .await
            .unwrap();
        store
            .add_campaign_contacts(campaign.id, &ContactSelector::Ids(vec![contact.id]))
            .await
            .unwrap();
        store
            .transition_campaign(campaign.id, CampaignAction::Start, "test", None)
            .await
            .unwrap();
        let mut world = World {
            store,
            engine,
            call_id: 0,
            campaign_id: campaign.id,
            contact_id: contact.id,
            claim: None,
            db,
            _pg: pg,
            _dir: dir,
        };
        if stage >= Stage::Claimed {
            world.claim = Some(world.claim().await.remove(0));
        }
        if stage >= Stage::QueuedThenBlocked {
            world.call_id = world.start_attempt().await.unwrap().unwrap().id;
        }
        if stage == Stage::QueuedThenBlocked {
            let phone = Phone::from_e164(PHONE).unwrap();
            world
                .store
                .add_dnc(&phone, None, Some("asked by email"), "api")
                .await
                .unwrap();
            return world;
        }
        if stage >= Stage::Ringing {
            world.ring_and_answer(stage).await;
        }
        if stage == Stage::AnsweredInPausedCampaign {
            world
                .store
                .transition_campaign(world.campaign_id, CampaignAction::Pause, "ops", None)
                .await
                .unwrap();
        }
        world
    }

    async fn claim(&self) -> Vec<ClaimedContact> {
        let now = parley_domain::time::now_millis();
        self.store
            .claim_due_contacts(
                self.campaign_id,
                "node-test",
                now,
                now + 60_000,
                1,
                ClaimLimits::campaign(10),
            )
            .await
            .unwrap()
    }

    async fn start_attempt(&self) -> Result<Result<Call, AttemptRefused>, StoreError> {
        let claim = self.claim.as_ref().expect("claimed first");
        // The agent talks to machines too, so no event here needs Twilio after its commit.
        let overrides = serde_json::json!({"answering_machine": {"policy": "agent_talks"}});
        self.store
            .start_attempt(
                claim,
                "node-test",
                "2026-12-02",
                &NewCall {
                    campaign_id: Some(self.campaign_id),
                    contact_id: Some(self.contact_id),
                    to: PHONE.into(),
                    from: "+15005550006".into(),
                    overrides,
                    dynamic_variables: serde_json::json!({}),
                    ..Default::default()
                },
            )
            .await
    }

    async fn ring_and_answer(&self, stage: Stage) {
        let (store, id) = (&self.store, self.call_id);
        store.set_call_sid(id, CALL_SID).await.unwrap();
        let advance = |status| StatusChange {
            status,
            duration_seconds: None,
            error_code: None,
            error_message: None,
        };
        store
            .advance_call_status(id, &advance(CallStatus::Ringing))
            .await
            .unwrap();
        if stage == Stage::Ringing {
            return;
        }
        store
            .advance_call_status(id, &advance(CallStatus::InProgress))
            .await
            .unwrap();
        if stage == Stage::AwaitingAnalysis {
            store.set_conversation_id(id, CONVERSATION).await.unwrap();
            let ended = StatusChange {
                duration_seconds: Some(40),
                ..advance(CallStatus::Completed)
            };
            store.advance_call_status(id, &ended).await.unwrap();
            store
                .set_termination(id, TerminationSource::Agent, None)
                .await
                .unwrap();
        }
    }

    async fn deliver(&self, event: Event) -> Result<(), String> {
        let e = &self.engine;
        let id = self.call_id;
        let done = match event {
            Event::StatusCompleted => {
                let f = form(&[
                    ("CallStatus", "completed"),
                    ("CallDuration", "42"),
                    ("SequenceNumber", "3"),
                ]);
                e.on_status_callback(id, &f)
                    .await
                    .map_err(|e| e.to_string())
            }
            Event::StatusNoAnswer => {
                let f = form(&[
                    ("CallStatus", "no-answer"),
                    ("CallDuration", "0"),
                    ("SequenceNumber", "2"),
                ]);
                e.on_status_callback(id, &f)
                    .await
                    .map_err(|e| e.to_string())
            }
            Event::StatusInProgress => {
                let f = form(&[("CallStatus", "in-progress"), ("SequenceNumber", "1")]);
                e.on_status_callback(id, &f)
                    .await
                    .map_err(|e| e.to_string())
            }
            Event::AmdMachine => {
                let f = form(&[
                    ("AnsweredBy", "machine_end_beep"),
                    ("MachineDetectionDuration", "4100"),
                ]);
                e.on_amd_callback(id, &f).await.map_err(|e| e.to_string())
            }
            Event::RecordingCompleted => {
                let f = form(&[
                    ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
                    ("RecordingStatus", "completed"),
                    ("RecordingDuration", "40"),
                    ("RecordingChannels", "1"),
                ]);
                e.on_recording_callback(id, &f)
                    .await
                    .map_err(|e| e.to_string())
            }
            Event::PostCall => e
                .on_post_call_webhook(&post_call_body())
                .await
                .map_err(|e| e.to_string()),
            Event::OptOut => {
                self.tool("opt_out", json!({"reason": "stop calling me"}))
                    .await
            }
            Event::PauseCampaign => self.operator(CampaignAction::Pause).await,
            Event::ResumeCampaign => self.operator(CampaignAction::Resume).await,
            Event::StopCampaign => self.operator(CampaignAction::Stop).await,
            // Claimed once, the contact is not due again.
            Event::DialerClaim => {
                let now = parley_domain::time::now_millis();
                self.store
                    .claim_due_contacts(
                        self.campaign_id,
                        "node-test",
                        now,
                        now + 60_000,
                        1,
                        ClaimLimits::campaign(10),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            // A claim already used starts nothing more.
            Event::DialStart => self
                .start_attempt()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Event::DialBlocked => {
                let call = self.store.get_call(id).await.map_err(|e| e.to_string())?;
                let phone = Phone::from_e164(PHONE).unwrap();
                e.dial_attempt(call, &phone, &DialOptions::default())
                    .await
                    .map_err(|e| e.to_string())
            }
            Event::TranscriptTurn => self
                .store
                .add_transcript_turn(id, TurnRole::User, "Call me tomorrow.", Some(3.5), Some(6))
                .await
                .map_err(|e| e.to_string()),
            Event::BridgeEnded => self
                .store
                .set_termination(id, TerminationSource::Agent, None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Event::ScheduleCallback => {
                let params = json!({"when": "tomorrow 15:00", "reason": "driving"});
                self.tool("schedule_callback", params).await
            }
        };
        done
    }

    /// The agent calls a tool, as ElevenLabs calls a server tool.
    async fn tool(&self, name: &str, parameters: serde_json::Value) -> Result<(), String> {
        let ctx = self
            .engine
            .tool_context(Some(self.call_id))
            .await
            .map_err(|e| e.to_string())?;
        self.engine
            .run_tool(name, ctx, parameters, ToolVia::Server)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The operator's retry of a transition that took effect is a no-op.
    async fn operator(&self, action: CampaignAction) -> Result<(), String> {
        match self
            .store
            .transition_campaign(self.campaign_id, action, "ops", None)
            .await
        {
            Ok(_) | Err(StoreError::IllegalTransition(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Everything the events may change, without times.
    async fn snapshot(&self) -> Vec<String> {
        // No ids: PostgreSQL does not give back a sequence number a rolled-back insert took.
        type CallRow = (String, String, String, String, i64, i64, String);
        let calls: Vec<CallRow> = rows!(
            self.db,
            "SELECT status, COALESCE(outcome, ''), COALESCE(termination_source, ''), \
             COALESCE(answered_by, ''), COALESCE(duration_seconds, -1), \
             CAST(CASE WHEN analysis IS NULL THEN 0 ELSE 1 END AS BIGINT), COALESCE(summary, '') \
             FROM calls ORDER BY id"
        );
        type ProgressRow = (i64, String, i64, String, i64, String, i64);
        let progress: Vec<ProgressRow> = rows!(
            self.db,
            "SELECT contact_id, state, attempts, COALESCE(reason, ''), \
             CAST(CASE WHEN next_attempt_at IS NULL THEN 0 ELSE 1 END AS BIGINT), COALESCE(last_outcome, ''), \
             CAST(CASE WHEN attempt_call_id IS NULL THEN 0 ELSE 1 END AS BIGINT) \
             FROM campaign_contacts ORDER BY contact_id"
        );
        type CampaignRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);
        let campaigns: Vec<CampaignRow> = rows!(
            self.db,
            "SELECT state, total, pending, scheduled, in_progress, completed, failed, \
             cancelled, attempts FROM campaigns ORDER BY id"
        );
        type StatsRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
        let stats: Vec<StatsRow> = rows!(
            self.db,
            "SELECT campaign_id, dialed, answered, human, machine, conversations, successful, \
             failed, no_answer, voicemail, duration_seconds FROM call_stats_hourly \
             ORDER BY campaign_id, hour"
        );
        let outbox: Vec<(String, i64)> = rows!(
            self.db,
            "SELECT event_type, COUNT(*) FROM webhook_events GROUP BY event_type ORDER BY event_type"
        );
        let deliveries: Vec<(i64,)> = rows!(self.db, "SELECT COUNT(*) FROM webhook_deliveries");
        let events: Vec<(String, i64)> = rows!(
            self.db,
            "SELECT kind, COUNT(*) FROM call_events GROUP BY kind ORDER BY kind"
        );
        let recordings: Vec<(String, String)> = rows!(
            self.db,
            "SELECT recording_sid, status FROM recordings ORDER BY id"
        );
        let turns: Vec<(String, String)> = rows!(
            self.db,
            "SELECT role, text FROM transcript_turns ORDER BY id"
        );
        let dnc: Vec<(String, String)> =
            rows!(self.db, "SELECT phone, source FROM dnc_entries ORDER BY id");
        let blocked: Vec<(i64, String, String)> = rows!(
            self.db,
            "SELECT contact_id, reason, rule FROM blocked_dials ORDER BY contact_id, reason"
        );
        let results: Vec<(String, String, Option<String>)> = rows!(
            self.db,
            "SELECT kind, name, value FROM call_results ORDER BY call_id, kind, name"
        );
        // Which tools answered successfully: an agent that calls a tool again after a
        // failure makes a second row, but never a second success for one change.
        let tools: Vec<(String,)> = rows!(
            self.db,
            "SELECT DISTINCT tool FROM tool_calls WHERE NOT is_error ORDER BY tool"
        );
        let audit: Vec<(String, i64)> = rows!(
            self.db,
            "SELECT action, COUNT(*) FROM audit_log GROUP BY action ORDER BY action"
        );
        vec![
            format!("calls {calls:?}"),
            format!("progress {progress:?}"),
            format!("campaigns {campaigns:?}"),
            format!("stats {stats:?}"),
            format!("outbox {outbox:?} deliveries {deliveries:?}"),
            format!("call events {events:?}"),
            format!("recordings {recordings:?}"),
            format!("transcript {turns:?}"),
            format!("dnc {dnc:?}"),
            format!("blocked dials {blocked:?}"),
            format!("results {results:?}"),
            format!("tools answered {tools:?}"),
            format!("audit {audit:?}"),
        ]
    }

    async fn stop(self) {
        self.store.close().await;
        match self.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

fn points_to_try(passed: usize) -> usize {
    match std::env::var("PARLEY_FAULT_POINTS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) if n > 0 => n.min(passed),
        _ => passed,
    }
}

/// The whole matrix for one event on one backend; returns the write points it passed.
async fn fails_whole_at_every_write_point(backend: Backend, event: Event) -> Vec<&'static str> {
    let world = World::new(backend, event.stage()).await;
    let before = world.snapshot().await;
    world.store.faults().record();
    world
        .deliver(event)
        .await
        .unwrap_or_else(|e| panic!("{event:?} on {backend:?}, clean run: {e}"));
    let points = world.store.faults().passed();
    world.store.faults().reset();
    let clean = world.snapshot().await;
    assert_ne!(before, clean, "{event:?} changed nothing on {backend:?}");
    world.deliver(event).await.unwrap();
    assert_eq!(
        world.snapshot().await,
        clean,
        "{event:?} on {backend:?}: delivered twice, it must count once"
    );
    world.stop().await;
    assert_eq!(
        &points[points.len() - 2..],
        ["commit", "after commit"],
        "{event:?}: one commit, at the end: {points:?}"
    );

    for n in 1..=points_to_try(points.len()) {
        let point = points[n - 1];
        let world = World::new(backend, event.stage()).await;
        world.store.faults().fail_at(n as u64);
        let failed = world.deliver(event).await;
        assert!(
            failed.is_err(),
            "{event:?} on {backend:?}: failing point {n} ({point}) was not reported"
        );
        assert!(world.store.faults().fired());
        world.store.faults().reset();
        if point != "after commit" {
            assert_eq!(
                world.snapshot().await,
                before,
                "{event:?} on {backend:?} failed at point {n} ({point}) but changed something"
            );
        }
        world
            .deliver(event)
            .await
            .unwrap_or_else(|e| panic!("{event:?} on {backend:?}, redelivered after {point}: {e}"));
        assert_eq!(
            world.snapshot().await,
            clean,
            "{event:?} on {backend:?}, failed at point {n} ({point}) then redelivered"
        );
        world.stop().await;
    }
    points
}

macro_rules! every_event_is_one_transaction {
    ($($name:ident => $event:expr, $points:expr;)+) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let points = fails_whole_at_every_write_point(Backend::Sqlite, $event).await;
                    for p in $points {
                        assert!(points.contains(&p), "{:?} passes {p}: {points:?}", $event);
                    }
                }
            )+
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    fails_whole_at_every_write_point(Backend::Postgres, $event).await;
                }
            )+
        }
    };
}

every_event_is_one_transaction! {
    a_hang_up_callback_ends_settles_and_notifies_at_once =>
        Event::StatusCompleted, ["add_call_event", "advance_call_status", "set_termination", "settle_attempt", "outbox"];
    a_no_answer_callback_schedules_the_retry_at_once =>
        Event::StatusNoAnswer, ["add_call_event", "advance_call_status", "settle_attempt"];
    an_answer_callback_is_recorded_whole =>
        Event::StatusInProgress, ["add_call_event", "advance_call_status"];
    a_machine_verdict_is_recorded_whole =>
        Event::AmdMachine, ["add_call_event", "answered_by"];
    a_recording_callback_is_recorded_whole =>
        Event::RecordingCompleted, ["add_call_event", "upsert_recording"];
    a_post_call_webhook_stores_analysis_outcome_and_settlement_at_once =>
        Event::PostCall, ["add_call_event", "record_post_call", "record_call_results", "outbox", "settle_attempt"];
    an_opt_out_blocks_cancels_and_records_at_once =>
        Event::OptOut, ["add_dnc", "outbox", "cancel_waiting_for_phone", "add_call_event", "add_tool_call"];
    a_campaign_transition_is_audited_and_notified_at_once =>
        Event::PauseCampaign, ["transition_campaign", "audit", "outbox"];
    resuming_a_campaign_is_audited_and_notified_at_once =>
        Event::ResumeCampaign, ["transition_campaign", "audit", "outbox"];
    stopping_a_campaign_is_audited_and_notified_at_once =>
        Event::StopCampaign, ["transition_campaign", "audit", "outbox"];
    a_dialer_claim_is_taken_whole =>
        Event::DialerClaim, ["claim_due_contacts"];
    an_attempt_is_written_with_its_progress_at_once =>
        Event::DialStart, ["start_attempt"];
    a_number_blocked_before_dialling_is_cancelled_and_settled_at_once =>
        Event::DialBlocked, ["advance_call_status", "settle_attempt", "record_blocked_dial"];
    a_transcript_turn_is_stored_once =>
        Event::TranscriptTurn, ["add_transcript_turn"];
    the_end_of_a_bridged_call_is_recorded_whole =>
        Event::BridgeEnded, ["set_termination"];
    a_callback_request_is_recorded_once =>
        Event::ScheduleCallback, ["add_call_event", "add_tool_call"];
}

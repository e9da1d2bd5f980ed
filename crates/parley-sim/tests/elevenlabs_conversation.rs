//! Conversations over the real WebSocket, the simulator playing the agent and the test
//! playing Parley's bridge (reference F.3–F.5, H, I.2).

mod elevenlabs_common;

use std::time::Duration;

use elevenlabs_common::{
    agent_audio, agent_text, api, fast_config, start, transcript_text, BridgeClient, Event, AGENT,
    WAIT,
};
use parley_elevenlabs::conversation::{ConversationStatus, Role, Verdict};
use parley_elevenlabs::ws::{
    AgentOverride, ClientEvent, ConfigOverride, DynamicValue, InitiationClientData, ServerMessage,
};
use parley_elevenlabs::AudioFormat;
use parley_sim::elevenlabs::{magic, ElevenLabsSimConfig, EndedBy, RunningElevenLabsSim};
use parley_sim::personas::{self, PERSONAS};
use parley_sim::voice;

fn persona(name: &str) -> &'static personas::Persona {
    PERSONAS.iter().find(|p| p.name == name).unwrap()
}

/// Connects, initiates with a dynamic variable, reads the metadata and starts the audio.
async fn open(
    sim: &RunningElevenLabsSim,
    agent: &str,
    init: InitiationClientData,
) -> (BridgeClient, String) {
    let url = api(sim).get_signed_url(agent).await.unwrap();
    let mut client = BridgeClient::connect(&url, true).await;
    client.initiate(init);
    let metadata = client
        .expect(|m| match m {
            ServerMessage::ConversationInitiationMetadata {
                conversation_initiation_metadata_event,
            } => Some(conversation_initiation_metadata_event.clone()),
            _ => None,
        })
        .await;
    assert!(metadata.conversation_id.starts_with("conv_"));
    let input = metadata.user_input_audio_format.clone();
    client.start_audio(input);
    (client, metadata.conversation_id)
}

fn contact_init() -> InitiationClientData {
    InitiationClientData::default()
        .dynamic_variable("customer_name", "Ann")
        .dynamic_variable("attempt", 2i64)
}

/// Reads one agent turn to its end: the text, and every audio chunk (checked to be the
/// agent's voice, with increasing event ids).
async fn agent_turn(client: &mut BridgeClient, format: &AudioFormat) -> String {
    let text = client.expect(agent_text).await;
    let expected_ms = voice::speaking_ms(&text) / 5;
    let mut heard_ms = 0;
    let mut last_id = 0;
    while heard_ms + 20 < expected_ms {
        let (samples, event_id) = client.expect(|m| agent_audio(m, format)).await;
        assert!(event_id > last_id, "event ids increase");
        last_id = event_id;
        let rate = format.sample_rate().unwrap();
        let hz = voice::frequency(&samples, rate).unwrap();
        assert!((hz - voice::AGENT_VOICE_HZ as f32).abs() < 30.0, "{hz}");
        heard_ms += samples.len() as u64 * 1000 / u64::from(rate);
    }
    text
}

#[tokio::test]
async fn greets_transcribes_and_replies() {
    let sim = start(fast_config()).await;
    let (mut client, conversation_id) = open(&sim, AGENT, contact_init()).await;
    let text = agent_turn(&mut client, &AudioFormat::Ulaw8000).await;
    assert_eq!(text, personas::AGENT_GREETING);

    let converses = &personas::CONVERSES;
    client.say(
        converses.voice_hz,
        voice::speaking_ms(converses.lines[0]) / 5,
    );
    let heard = client.expect(transcript_text).await;
    assert_eq!(heard, converses.lines[0]);
    let reply = client.expect(agent_text).await;
    assert_eq!(reply, converses.agent_replies[0]);

    // Pings were answered by the client; the simulator saw the right ids.
    let conversation = sim
        .sim
        .wait_for(WAIT, |all| {
            all.iter()
                .find(|c| c.conversation_id == conversation_id && c.pongs_ok >= 2)
                .cloned()
        })
        .await
        .expect("pongs recorded");
    assert_eq!(conversation.pongs_unexpected, 0);
    assert_eq!(conversation.agent_id, AGENT);
    assert!(conversation.socket_open);
    assert_eq!(conversation.status, ConversationStatus::InProgress);
    assert_eq!(
        conversation.initiation.dynamic_variables["customer_name"],
        DynamicValue::from("Ann")
    );
    let roles: Vec<Role> = conversation.transcript.iter().map(|t| t.role).collect();
    assert_eq!(roles[..3], [Role::Agent, Role::User, Role::Agent]);

    // While running, REST reports it in progress.
    let live = api(&sim).get_conversation(&conversation_id).await.unwrap();
    assert_eq!(live.status, ConversationStatus::InProgress);
    assert!(live.analysis.is_none());

    client.close();
    let done = sim
        .sim
        .wait_for(WAIT, |all| {
            all.iter()
                .find(|c| c.status == ConversationStatus::Done)
                .cloned()
        })
        .await
        .expect("conversation done");
    assert_eq!(done.ended_by, Some(EndedBy::Client { code: Some(1000) }));
    assert!(!done.socket_open);
}

#[tokio::test]
async fn full_script_ends_with_the_agent_closing() {
    let sim = start(fast_config()).await;
    let init = InitiationClientData {
        conversation_config_override: Some(ConfigOverride {
            agent: Some(AgentOverride {
                first_message: Some("Hi {{customer_name}}, this is Parley.".into()),
                language: Some("en".into()),
                ..AgentOverride::default()
            }),
            ..ConfigOverride::default()
        }),
        ..contact_init()
    };
    let (mut client, conversation_id) = open(&sim, AGENT, init).await;
    let ulaw = AudioFormat::Ulaw8000;
    assert_eq!(
        agent_turn(&mut client, &ulaw).await,
        "Hi Ann, this is Parley."
    );
    let converses = &personas::CONVERSES;
    for (line, reply) in converses.lines.iter().zip(converses.agent_replies) {
        // Answer only once the agent's turn is all sent (no barge-in here).
        client.say(converses.voice_hz, voice::speaking_ms(line) / 5);
        assert_eq!(client.expect(transcript_text).await, *line);
        assert_eq!(agent_turn(&mut client, &ulaw).await, *reply);
    }
    let (end, seen) = client.until_end().await;
    assert!(matches!(end, Event::Closed(Some(1000))), "{end:?}");
    assert!(seen.iter().any(|m| matches!(
        m,
        ServerMessage::AgentToolResponse { agent_tool_response } if agent_tool_response.is_end_call()
    )));

    let conversation = api(&sim).get_conversation(&conversation_id).await.unwrap();
    assert!(matches!(
        conversation.status,
        ConversationStatus::Processing | ConversationStatus::Done
    ));
    sim.sim
        .wait_for(WAIT, |all| {
            (all[0].status == ConversationStatus::Done).then_some(())
        })
        .await
        .expect("done");
    let conversation = api(&sim).get_conversation(&conversation_id).await.unwrap();
    assert_eq!(conversation.status, ConversationStatus::Done);
    let messages: Vec<&str> = conversation
        .transcript
        .iter()
        .filter_map(|t| t.message.as_deref())
        .collect();
    assert_eq!(messages.len(), 7);
    assert_eq!(messages[0], "Hi Ann, this is Parley.");
    assert_eq!(messages[1], converses.lines[0]);
    assert_eq!(messages[6], converses.agent_replies[2]);
    let analysis = conversation.analysis.clone().unwrap();
    assert_eq!(analysis.call_successful, Verdict::Success);
    assert!(!analysis.evaluation_criteria_results.is_empty());
    assert!(!analysis.data_collection_results.is_empty());
    assert_eq!(
        conversation.metadata.termination_reason.as_deref(),
        Some("end_call tool was called.")
    );
    assert!(conversation.metadata.cost.unwrap() > 0);
    assert_eq!(
        conversation
            .initiation_client_data()
            .unwrap()
            .dynamic_variables["attempt"],
        DynamicValue::Integer(2)
    );
    assert_eq!(sim.sim.conversations()[0].ended_by, Some(EndedBy::Agent));

    // The recording has both sides: the callee's voice left, the agent's right.
    let audio = api(&sim)
        .get_conversation_audio(&conversation_id)
        .await
        .unwrap();
    let wav = parley_audio::wav::decode(&audio).unwrap();
    assert_eq!(wav.spec.channels, 2);
    let heard = |channel: u16, hz: u32| {
        let samples = wav.channel_samples(channel);
        samples.chunks(160).any(|frame| {
            voice::frequency(frame, 8000).is_some_and(|f| (f - hz as f32).abs() < 30.0)
        })
    };
    assert!(heard(0, converses.voice_hz));
    assert!(heard(1, voice::AGENT_VOICE_HZ));
}

#[tokio::test]
async fn opt_out_calls_the_client_tool() {
    let sim = start(fast_config()).await;
    let (mut client, _) = open(&sim, AGENT, contact_init()).await;
    agent_turn(&mut client, &AudioFormat::Ulaw8000).await;
    let opts_out = persona("opts-out");
    client.say(opts_out.voice_hz, voice::speaking_ms(opts_out.lines[0]) / 5);
    assert_eq!(client.expect(transcript_text).await, opts_out.lines[0]);
    let call = client
        .expect(|m| match m {
            ServerMessage::ClientToolCall { client_tool_call } => Some(client_tool_call.clone()),
            ServerMessage::AgentResponse { .. } => panic!("replied before the tool result"),
            _ => None,
        })
        .await;
    assert_eq!(call.tool_name, "opt_out");
    assert_eq!(call.parameters["reason"], "callee asked not to be called");
    client.send_event(ClientEvent::ClientToolResult {
        tool_call_id: call.tool_call_id.clone(),
        result: r#"{"opted_out":true}"#.into(),
        is_error: false,
    });
    assert_eq!(client.expect(agent_text).await, opts_out.agent_replies[0]);
    let (end, _) = client.until_end().await;
    assert!(matches!(end, Event::Closed(Some(1000))), "{end:?}");

    let done = sim
        .sim
        .wait_for(WAIT, |all| {
            all.iter()
                .find(|c| c.status == ConversationStatus::Done)
                .cloned()
        })
        .await
        .unwrap();
    let recorded = &done.tool_calls[0];
    assert_eq!(recorded.tool_call_id, call.tool_call_id);
    let result = recorded.result.as_ref().unwrap();
    assert_eq!(result.result, r#"{"opted_out":true}"#);
    assert!(!result.is_error && !recorded.timed_out);
    let tool_turn = done
        .transcript
        .iter()
        .find(|t| t.tool_calls.is_some())
        .unwrap();
    assert_eq!(
        tool_turn.tool_results.as_ref().unwrap()[0]
            .result_value
            .as_deref(),
        Some(r#"{"opted_out":true}"#)
    );
    assert_eq!(done.analysis.unwrap().call_successful, Verdict::Failure);
}

#[tokio::test]
async fn talking_over_the_agent_interrupts_it() {
    let sim = start(fast_config()).await;
    let (mut client, _) = open(&sim, AGENT, contact_init()).await;
    client.expect(agent_text).await;
    let (_, first_audio_id) = client
        .expect(|m| agent_audio(m, &AudioFormat::Ulaw8000))
        .await;
    // Barge in as soon as the greeting starts playing.
    client.say(personas::CONVERSES.voice_hz, 300);
    let mut last_audio_id = first_audio_id;
    let interruption = client
        .expect(|m| match m {
            ServerMessage::Interruption { interruption_event } => Some(interruption_event.event_id),
            other => {
                if let Some((_, id)) = other.audio() {
                    last_audio_id = id.unwrap();
                }
                None
            }
        })
        .await;
    assert_eq!(interruption, last_audio_id);
    let correction = client
        .expect(|m| match m {
            ServerMessage::AgentResponseCorrection {
                agent_response_correction_event,
            } => Some(agent_response_correction_event.clone()),
            ServerMessage::Audio { .. } => panic!("audio after the interruption"),
            _ => None,
        })
        .await;
    assert_eq!(correction.original_agent_response, personas::AGENT_GREETING);
    assert!(correction.corrected_agent_response.len() < personas::AGENT_GREETING.len());
    // The interrupting line is still heard and answered.
    assert_eq!(
        client.expect(transcript_text).await,
        personas::CONVERSES.lines[0]
    );
    assert_eq!(
        client.expect(agent_text).await,
        personas::CONVERSES.agent_replies[0]
    );
    let conversation = &sim.sim.conversations()[0];
    assert_eq!(conversation.interruptions, 1);
    assert_eq!(conversation.transcript[0].interrupted, Some(true));
}

#[tokio::test]
async fn pcm_formats_are_announced_and_used() {
    let sim = start(ElevenLabsSimConfig {
        agent_output_format: "pcm_16000".into(),
        user_input_format: "pcm_16000".into(),
        ..fast_config()
    })
    .await;
    let url = api(&sim).get_signed_url(AGENT).await.unwrap();
    let mut client = BridgeClient::connect(&url, true).await;
    client.initiate(InitiationClientData::default());
    let metadata = client
        .expect(|m| match m {
            ServerMessage::ConversationInitiationMetadata {
                conversation_initiation_metadata_event,
            } => Some(conversation_initiation_metadata_event.clone()),
            _ => None,
        })
        .await;
    assert_eq!(metadata.agent_output_audio_format, AudioFormat::Pcm(16_000));
    assert_eq!(metadata.user_input_audio_format, AudioFormat::Pcm(16_000));
    client.start_audio(AudioFormat::Pcm(16_000));
    agent_turn(&mut client, &AudioFormat::Pcm(16_000)).await;
    let line = persona("call-back-later").lines[0];
    client.say(
        persona("call-back-later").voice_hz,
        voice::speaking_ms(line) / 5,
    );
    assert_eq!(client.expect(transcript_text).await, line);
    // This persona's tool; an error result still lets the conversation go on.
    let call = client
        .expect(|m| match m {
            ServerMessage::ClientToolCall { client_tool_call } => Some(client_tool_call.clone()),
            _ => None,
        })
        .await;
    assert_eq!(call.tool_name, "schedule_callback");
    client.send_event(ClientEvent::ClientToolResult {
        tool_call_id: call.tool_call_id,
        result: "calendar unavailable".into(),
        is_error: true,
    });
    assert_eq!(
        client.expect(agent_text).await,
        persona("call-back-later").agent_replies[0]
    );
    let recorded = sim.sim.conversations()[0].tool_calls[0].clone();
    assert!(recorded.result.unwrap().is_error);
}

#[tokio::test]
async fn unanswered_pings_are_counted_as_missed() {
    let sim = start(ElevenLabsSimConfig {
        ping_interval: Duration::from_millis(50),
        ..fast_config()
    })
    .await;
    let url = api(&sim).get_signed_url(AGENT).await.unwrap();
    let client = BridgeClient::connect(&url, false).await;
    client.initiate(InitiationClientData::default());
    let conversation = sim
        .sim
        .wait_for(WAIT, |all| {
            all.first().filter(|c| c.pongs_missed >= 2).cloned()
        })
        .await
        .expect("missed pongs recorded");
    assert_eq!(conversation.pongs_ok, 0);
    // A pong for a ping never sent is noticed too.
    client.send_event(ClientEvent::Pong { event_id: 999_999 });
    sim.sim
        .wait_for(WAIT, |all| (all[0].pongs_unexpected == 1).then_some(()))
        .await
        .expect("unexpected pong recorded");
}

#[tokio::test]
async fn magic_agent_drops_the_connection_after_the_greeting() {
    let sim = start(fast_config()).await;
    let (mut client, _) = open(&sim, magic::DROPS, InitiationClientData::default()).await;
    assert_eq!(client.expect(agent_text).await, personas::AGENT_GREETING);
    let (end, seen) = client.until_end().await;
    assert!(matches!(end, Event::Dropped), "{end:?}");
    let audio_ms: usize = seen
        .iter()
        .filter_map(|m| agent_audio(m, &AudioFormat::Ulaw8000))
        .map(|(samples, _)| samples.len() / 8)
        .sum();
    assert!(audio_ms > 0);
    let done = sim
        .sim
        .wait_for(WAIT, |all| {
            all.iter()
                .find(|c| c.status == ConversationStatus::Done)
                .cloned()
        })
        .await
        .unwrap();
    assert_eq!(done.ended_by, Some(EndedBy::AgentDropped));
}

#[tokio::test]
async fn unknown_voices_and_messages_are_tolerated() {
    let sim = start(fast_config()).await;
    let (mut client, _) = open(&sim, AGENT, InitiationClientData::default()).await;
    agent_turn(&mut client, &AudioFormat::Ulaw8000).await;
    for event in [
        ClientEvent::UserActivity,
        ClientEvent::ContextualUpdate {
            text: "caller is driving".into(),
        },
    ] {
        client.send_event(event);
    }
    client.send_raw(r#"{"type":"mcp_tool_approval_result","tool_call_id":"x","is_approved":true}"#);
    client.send_raw("not json at all");
    client.say(2500, 300);
    assert_eq!(client.expect(transcript_text).await, "Mm-hmm.");
    client.expect(agent_text).await;
    let conversation = &sim.sim.conversations()[0];
    assert!(conversation.socket_open);
}

#[tokio::test]
async fn stopping_the_simulator_closes_live_conversations() {
    let sim = start(fast_config()).await;
    let (mut client, _) = open(&sim, AGENT, InitiationClientData::default()).await;
    client.expect(agent_text).await;
    let handle = sim.sim.clone();
    tokio::time::timeout(WAIT, sim.stop())
        .await
        .expect("stop returns");
    let (end, _) = client.until_end().await;
    assert!(matches!(end, Event::Closed(Some(1001))), "{end:?}");
    handle
        .wait_for(WAIT, |all| {
            (all[0].ended_by == Some(EndedBy::SimulatorStopped)).then_some(())
        })
        .await
        .expect("end recorded");
}

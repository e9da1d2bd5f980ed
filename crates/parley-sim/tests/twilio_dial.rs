//! `<Dial>` in the Twilio simulator: the dialled person answers (or not) as the persona
//! of their number does, hears the `<Number url>` whisper fetched with a signed request,
//! and the `<Dial action>` gets `DialCallStatus`; malformed `<Dial>` is refused.

mod twilio_common;

use parley_sim::twilio::EndReason;
use parley_twilio::rest::{CallInstructions, CreateCall};
use twilio_common::*;

/// A call to a person (converses) that at once dials `number`, whispering from and
/// reporting to the fake app's `/twiml`.
fn dialling(parley: &FakeParley, number: &str, timeout: u32) -> CreateCall {
    let twiml = format!(
        "<Response><Dial timeout=\"{timeout}\" callerId=\"{FROM}\" action=\"{}\">\
         <Number url=\"{}\">{number}</Number></Dial></Response>",
        parley.url("/twiml?step=action"),
        parley.url("/twiml?step=whisper"),
    );
    CreateCall::new("+15550100001", FROM, CallInstructions::Twiml(twiml))
        .with_status_callback(parley.url("/status"))
}

#[tokio::test]
async fn an_answered_dial_whispers_then_reports_completed() {
    let Harness {
        sim,
        mut parley,
        client,
    } = harness(fast()).await;
    parley.set_twiml("<Response><Say>Call from Ada</Say></Response>".into());
    let call = client
        .create_call(&dialling(&parley, "+15550109901", 10))
        .await
        .unwrap();
    let whisper = recv(&mut parley.twiml_requests, "whisper request").await;
    assert!(whisper.signed, "the whisper request is signed");
    assert_eq!(whisper.get("ParentCallSid"), Some(call.sid.as_str()));
    assert_ne!(
        whisper.get("CallSid"),
        Some(call.sid.as_str()),
        "the child leg's own"
    );
    assert_eq!(whisper.get("Direction"), Some("outbound-dial"));
    assert_eq!(whisper.get("To"), Some("+15550109901"));
    assert_eq!(whisper.get("From"), Some(FROM));
    let action = recv(&mut parley.twiml_requests, "dial action").await;
    assert!(action.signed);
    assert_eq!(action.get("CallSid"), Some(call.sid.as_str()));
    assert_eq!(action.get("DialCallStatus"), Some("completed"));
    assert_eq!(action.get("DialCallSid"), whisper.get("CallSid"));
    assert!(action
        .get("DialCallDuration")
        .is_some_and(|d| d.parse::<u32>().unwrap() >= 1));
    final_status(&mut parley, &call.sid).await;
    let done = sim.sim.call(&call.sid).unwrap();
    assert_eq!(done.dialed, ["+15550109901"]);
    assert_eq!(done.whispers, ["Call from Ada"]);
    assert_eq!(done.dial_results, ["completed"]);
    // The action's TwiML (a <Say>) ran, then the document ended.
    assert_eq!(done.end_reason, Some(EndReason::TwimlEnded));
}

#[tokio::test]
async fn unanswered_and_busy_lines_skip_the_whisper() {
    let Harness {
        sim,
        mut parley,
        client,
    } = harness(fast()).await;
    parley.set_twiml("<Response><Hangup/></Response>".into());
    for (number, status) in [("+15550100003", "no-answer"), ("+15550100004", "busy")] {
        let call = client
            .create_call(&dialling(&parley, number, 5))
            .await
            .unwrap();
        let action = recv(&mut parley.twiml_requests, "dial action").await;
        assert_eq!(action.get("DialCallStatus"), Some(status), "{number}");
        assert!(action.get("DialCallDuration").is_none());
        final_status(&mut parley, &call.sid).await;
        let done = sim.sim.call(&call.sid).unwrap();
        assert!(done.whispers.is_empty(), "{number}: no one heard a whisper");
        assert_eq!(done.dial_results, [status]);
        assert_eq!(done.end_reason, Some(EndReason::TwimlHangUp));
    }
}

#[tokio::test]
async fn malformed_dials_are_application_errors() {
    let Harness {
        sim,
        mut parley,
        client,
    } = harness(fast()).await;
    for twiml in [
        "<Response><Dial timeout=\"2\">+15550109901</Dial></Response>",
        "<Response><Dial>not a number</Dial></Response>",
    ] {
        let create = CreateCall::new("+15550100001", FROM, CallInstructions::Twiml(twiml.into()))
            .with_status_callback(parley.url("/status"));
        let call = client.create_call(&create).await.unwrap();
        final_status(&mut parley, &call.sid).await;
        let done = sim.sim.call(&call.sid).unwrap();
        assert_eq!(
            done.end_reason,
            Some(EndReason::ApplicationError),
            "{twiml}"
        );
        assert!(done.dialed.is_empty(), "{twiml}: nothing was rung");
    }
}

//! `schedule_consultation`: books the callee into the configured Cal.com event type at the
//! time they ask for. When that time is taken or not offered, the answer is a sentence the
//! agent can say, with the nearest free times.
use super::calcom::{Attendee, Calcom, CalcomError};
use super::params::{optional_str, required_str};
use super::{Tool, ToolContext, ToolError, ToolResult};
use crate::calls::AfterCommit;
use crate::Engine;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::future::BoxFuture;
use parley_domain::callback::parse_callback_time;
use serde_json::{json, Value};
use std::sync::Arc;

/// Call event recording a booked consultation.
pub const CONSULTATION_EVENT: &str = "consultation_booked";
/// How many free times are offered instead of a taken one.
const ALTERNATIVES: usize = 3;
/// How far ahead alternatives are looked for.
const SEARCH_DAYS: u64 = 7;

pub struct ScheduleConsultation {
    pub(crate) engine: std::sync::Weak<crate::Shared>,
    pub(crate) calcom: Arc<Calcom>,
}

/// "Tuesday 25 November at 10:00".
pub(crate) fn spoken(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%A %-d %B at %H:%M")
        .to_string()
}

/// Up to [`ALTERNATIVES`] free times nearest `wanted`, in order.
fn nearest(free: &[DateTime<Utc>], wanted: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut by_distance: Vec<DateTime<Utc>> =
        free.iter().copied().filter(|t| *t != wanted).collect();
    // Equally near: the later time, since the callee wanted a time that has not come.
    by_distance.sort_by_key(|t| ((*t - wanted).abs(), *t < wanted));
    by_distance.truncate(ALTERNATIVES);
    by_distance.sort();
    by_distance
}

fn unavailable(wanted: DateTime<Utc>, free: &[DateTime<Utc>], zone: Tz) -> Value {
    let alternatives = nearest(free, wanted);
    let spoken_list: Vec<String> = alternatives.iter().map(|t| spoken(*t, zone)).collect();
    let message = match spoken_list.as_slice() {
        [] => format!(
            "{} is not available, and there is nothing free in the following week.",
            spoken(wanted, zone)
        ),
        list => format!(
            "{} is not available. The nearest free times are {}.",
            spoken(wanted, zone),
            list.join(", ")
        ),
    };
    json!({
        "booked": false,
        "message": message,
        "alternatives": alternatives.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>(),
        "timezone": zone.name(),
    })
}

impl Tool for ScheduleConsultation {
    fn name(&self) -> &'static str {
        "schedule_consultation"
    }

    fn description(&self) -> &'static str {
        "Book a consultation for the callee at the time they ask for. If that time is not \
         free the answer says so and offers the nearest free times; ask the callee to pick \
         one and call again."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "when": {"type": "string", "description": "The time the callee wants, e.g. 'tomorrow 10:00' or '2026-12-01 14:30' (their local time)"},
                "name": {"type": "string", "description": "The callee's full name"},
                "email": {"type": "string", "description": "Where the confirmation goes"},
                "timezone": {"type": "string", "description": "IANA time zone of the callee if they named one; leave empty otherwise"},
                "notes": {"type": "string", "description": "What the consultation is about"}
            },
            "required": ["when", "name", "email"]
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let engine = self.engine.clone();
        let calcom = self.calcom.clone();
        Box::pin(async move {
            let engine = Engine(engine.upgrade().ok_or("Parley is shutting down")?);
            let when = required_str(&parameters, "when", "say when, e.g. 'tomorrow 10:00'")?;
            let name = required_str(&parameters, "name", "the callee's name is needed")?;
            let email = required_str(&parameters, "email", "an email address is needed")?;
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(ToolError::invalid("email", "is not an email address"));
            }
            let notes = optional_str(&parameters, "notes")?;
            let zone = engine.tool_zone(&ctx, &parameters).await?;
            let wanted = parse_callback_time(when, Utc::now(), zone)
                .map_err(|e| ToolError::invalid("when", e.to_string()))?;
            let first = wanted.with_timezone(&zone).date_naive();
            let last = first + chrono::Days::new(SEARCH_DAYS);
            let free = calcom.free_slots(first, last, zone).await.map_err(failed)?;
            if !free.contains(&wanted) {
                return Ok(unavailable(wanted, &free, zone));
            }
            let attendee = Attendee {
                name,
                email,
                zone,
                notes,
            };
            let booking = match calcom.book(wanted, &attendee).await {
                Ok(booking) => booking,
                // Taken between the look-up and the booking.
                Err(CalcomError::Refused(_)) => return Ok(unavailable(wanted, &free, zone)),
                Err(e) => return Err(failed(e)),
            };
            let answer = json!({
                "booked": true,
                "message": format!(
                    "Booked for {} ({}). A confirmation goes to {email}.",
                    spoken(wanted, zone),
                    zone.name()
                ),
                "booking_uid": booking.uid,
                "start": booking.start.to_rfc3339(),
            });
            // The booking is made; its record on the call and the tool call's log row are
            // one change.
            if let Some(call_id) = ctx.call_id {
                let data = json!({ "uid": booking.uid, "start": booking.start.to_rfc3339() });
                let mut tx = engine.store.begin().await.map_err(|e| e.to_string())?;
                tx.add_call_event(call_id, CONSULTATION_EVENT, None, &data)
                    .await
                    .map_err(|e| e.to_string())?;
                engine
                    .commit_tool(tx, AfterCommit::default(), &ctx, &answer)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(answer)
        })
    }
}

fn failed(e: CalcomError) -> ToolError {
    tracing::warn!(error = %e, "cal.com request failed");
    ToolError::Failed(
        "The calendar cannot be reached right now; offer to call back instead.".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn offers_the_nearest_free_times_in_order() {
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
        let free = [at(9, 0), at(9, 30), at(10, 30), at(11, 0), at(15, 0)];
        assert_eq!(
            nearest(&free, at(10, 0)),
            vec![at(9, 30), at(10, 30), at(11, 0)]
        );
        let answer = unavailable(at(10, 0), &free, Tz::UTC);
        assert_eq!(answer["booked"], false);
        assert_eq!(
            answer["message"],
            "Wednesday 25 November at 10:00 is not available. The nearest free times are \
             Wednesday 25 November at 09:30, Wednesday 25 November at 10:30, Wednesday 25 \
             November at 11:00."
        );
    }
}

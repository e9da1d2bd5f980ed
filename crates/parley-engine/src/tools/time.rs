//! `get_current_time`: the date and time where the callee is (or in a given zone), with
//! the dates the agent needs to talk about "tomorrow" or "next Tuesday", and whether it
//! is business hours there.
use super::{Tool, ToolContext, ToolResult};
use crate::Engine;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use futures::future::BoxFuture;
use parley_domain::campaign::CallingWindow;
use parley_domain::window::CallingRules;
use serde_json::{json, Value};

pub struct GetCurrentTime(pub(crate) std::sync::Weak<crate::Shared>);

/// Business hours: weekdays 09:00-17:00 local.
fn business_hours() -> CallingRules {
    CallingRules {
        window: CallingWindow {
            end: NaiveTime::from_hms_opt(17, 0, 0).expect("valid time"),
            ..CallingWindow::default()
        },
        allow_outside_legal_hours: false,
        start_date: None,
        end_date: None,
        law: Vec::new(),
    }
}

/// What `get_current_time` answers for `now` in `zone`.
pub fn describe_time(now: DateTime<Utc>, zone: Tz) -> Value {
    let local = now.with_timezone(&zone);
    let today = local.date_naive();
    let day = |date: chrono::NaiveDate| json!({ "weekday": weekday_name(date.weekday()), "date": date.to_string() });
    let to_next_monday = 7 - i64::from(today.weekday().num_days_from_monday());
    let next_week: Vec<Value> = (0..7)
        .map(|i| day(today + Duration::days(to_next_monday + i)))
        .collect();
    let open = business_hours().is_callable(zone, now);
    json!({
        "timezone": zone.name(),
        "now": local.to_rfc3339(),
        "date": today.to_string(),
        "time": local.format("%H:%M").to_string(),
        "weekday": weekday_name(today.weekday()),
        "tomorrow": day(today + Duration::days(1)),
        "next_week": next_week,
        "business_hours": open,
        "summary": format!(
            "It is {} {}, {} in {}; {}.",
            weekday_name(today.weekday()),
            local.format("%-d %B %Y"),
            local.format("%H:%M"),
            zone.name(),
            if open { "within business hours" } else { "outside business hours (weekdays 9:00-17:00)" },
        ),
    })
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

impl Tool for GetCurrentTime {
    fn name(&self) -> &'static str {
        "get_current_time"
    }

    fn description(&self) -> &'static str {
        "The current date and time where the callee is (or in a given time zone): weekday, \
         tomorrow's date, the dates of next week's days, and whether it is business hours. \
         Use before talking about dates or times."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone such as Europe/Berlin; leave empty for the callee's own zone"
                }
            },
            "required": []
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let shared = self.0.clone();
        Box::pin(async move {
            let engine = Engine(shared.upgrade().ok_or("Parley is shutting down")?);
            let zone = engine.tool_zone(&ctx, &parameters).await?;
            Ok(describe_time(Utc::now(), zone))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn describes_the_local_day_and_business_hours() {
        // Tuesday 24 November 2026, 15:30 UTC = 10:30 in New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 30, 0).unwrap();
        let ny = describe_time(now, Tz::America__New_York);
        assert_eq!(ny["weekday"], "Tuesday");
        assert_eq!(ny["time"], "10:30");
        assert_eq!(ny["tomorrow"]["date"], "2026-11-25");
        assert_eq!(
            ny["next_week"][0],
            json!({"weekday": "Monday", "date": "2026-11-30"})
        );
        assert_eq!(ny["next_week"][6]["date"], "2026-12-06");
        assert_eq!(ny["business_hours"], true);
        // Already 00:30 Wednesday in Tokyo: outside business hours.
        let tokyo = describe_time(now, Tz::Asia__Tokyo);
        assert_eq!(tokyo["weekday"], "Wednesday");
        assert_eq!(tokyo["business_hours"], false);
        assert!(tokyo["summary"].as_str().unwrap().contains("Asia/Tokyo"));
    }
}

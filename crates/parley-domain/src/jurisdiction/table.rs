//! The rules file as a Markdown table, for the README's Compliance section (a test checks
//! that the README holds exactly this table, so the two cannot drift apart).
use super::{Cited, HoursLaw, RuleBook};
use chrono::{NaiveTime, Weekday};

/// Where the table sits in the README.
pub const TABLE_BEGIN: &str =
    "<!-- rules-table:begin (generated from rules.toml; see jurisdiction/table.rs) -->";
pub const TABLE_END: &str = "<!-- rules-table:end -->";

/// One row per rule: jurisdiction, rule, citation, source, date checked.
pub fn markdown_table(book: &RuleBook) -> String {
    let mut out = format!(
        "Rules version `{}`.\n\n| jurisdiction | rule | citation | source | checked |\n|---|---|---|---|---|\n",
        book.version
    );
    let mut row = |name: &str, rule: String, cited: &Cited| {
        out.push_str(&format!(
            "| {name} | {rule} | {} | [{}]({}) | {} |\n",
            cited.citation,
            host(&cited.source),
            cited.source,
            cited.checked
        ));
    };
    for j in &book.jurisdictions {
        if let Some(law) = &j.hours {
            // Hours entries first, then holidays, as the file lists them.
            for cited in j.hour_citations.iter().take(1) {
                row(&j.name, hours_text(law), cited);
            }
            for (date, cited) in law.holidays.iter().zip(j.hour_citations.iter().skip(1)) {
                row(&j.name, format!("no calls on {date}"), cited);
            }
        }
        for cap in &j.caps {
            let within = cap.within.num_hours();
            row(
                &j.name,
                format!(
                    "at most {} calls to a number in a rolling {within} hours, across campaigns",
                    cap.calls
                ),
                &cap.cited,
            );
        }
        if let Some(r) = &j.recording {
            let rule = if r.all_party_consent {
                "recording needs the consent of every party"
            } else {
                "recording needs one party's consent"
            };
            row(&j.name, rule.to_string(), &r.cited);
        }
    }
    out
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// "calls only 08:00-20:00 local, every day" (or the days, when they differ).
fn hours_text(law: &HoursLaw) -> String {
    const DAYS: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    // (the hours, the days that have them)
    type Span = (Option<(NaiveTime, NaiveTime)>, Vec<Weekday>);
    let mut spans: Vec<Span> = Vec::new();
    for (day, hours) in DAYS.iter().zip(law.days.iter()) {
        match spans.iter_mut().find(|(h, _)| h == hours) {
            Some((_, days)) => days.push(*day),
            None => spans.push((*hours, vec![*day])),
        }
    }
    let parts: Vec<String> = spans
        .iter()
        .map(|(hours, days)| {
            let when = if days.len() == 7 {
                "every day".to_string()
            } else {
                days.iter()
                    .map(|d| d.to_string().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match hours {
                Some((start, end)) => format!("{}-{} local time, {when}", hm(*start), hm(*end)),
                None => format!("no calls on {when}"),
            }
        })
        .collect();
    let lifted = if law.lifted_by_permission {
        " (not for calls the person invited or permitted)"
    } else {
        ""
    };
    format!("calls only {}{lifted}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_holds_the_table_of_the_shipped_rules() {
        let table = markdown_table(RuleBook::shipped());
        assert_eq!(
            crate::readme::section(TABLE_BEGIN, TABLE_END),
            table.trim(),
            "the README's rules table is stale: paste this between the markers:\n{table}"
        );
    }

    #[test]
    fn hours_read_as_a_sentence() {
        let book = RuleBook::shipped();
        let fl = book.get("US-FL").unwrap().hours.as_ref().unwrap();
        assert_eq!(
            hours_text(fl),
            "calls only 08:00-20:00 local time, every day"
        );
        let us = book.get("US").unwrap().hours.as_ref().unwrap();
        assert!(hours_text(us).contains("08:00-21:00 local time, every day (not for calls"));
        assert_eq!(host("https://flsenate.gov/Session/Bill"), "flsenate.gov");
    }
}

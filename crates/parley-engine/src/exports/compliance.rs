//! The compliance report as rows: its summary first (one row per figure, named by
//! `section`), then every blocked dial of the range, newest first, page by page.
use super::Cell;
use parley_domain::compliance::{BlockedDial, ComplianceReport};

/// The columns of a compliance export.
pub const COMPLIANCE_COLUMNS: &[&str] = &[
    "section",
    "jurisdiction",
    "reason",
    "rule",
    "rules_version",
    "at",
    "contact_id",
    "phone",
    "count",
    "value",
];

fn time(t: chrono::DateTime<chrono::Utc>) -> Cell {
    Cell::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A summary row: `section`, then the cells that apply, the rest empty.
#[derive(Default)]
struct Row {
    jurisdiction: Option<String>,
    reason: Option<String>,
    rule: Option<String>,
    version: Option<String>,
    at: Option<chrono::DateTime<chrono::Utc>>,
    contact_id: Option<i64>,
    phone: Option<String>,
    count: Option<i64>,
    value: Option<Cell>,
}

impl Row {
    fn cells(self, section: &str) -> Vec<Cell> {
        vec![
            Cell::text(section),
            Cell::opt_text(self.jurisdiction),
            Cell::opt_text(self.reason),
            Cell::opt_text(self.rule),
            Cell::opt_text(self.version),
            self.at.map_or(Cell::Empty, time),
            Cell::opt_int(self.contact_id),
            Cell::opt_text(self.phone),
            Cell::opt_int(self.count),
            self.value.unwrap_or(Cell::Empty),
        ]
    }
}

/// The report's figures, one row each.
pub(super) fn summary_rows(r: &ComplianceReport) -> Vec<Vec<Cell>> {
    let mut rows = vec![Row {
        version: Some(r.rules_version.clone()),
        at: Some(r.from),
        value: Some(time(r.to)),
        ..Row::default()
    }
    .cells("report")];
    for v in &r.rules_versions_recorded {
        rows.push(
            Row {
                version: Some(v.clone()),
                ..Row::default()
            }
            .cells("rules_version_recorded"),
        );
    }
    for j in &r.calls_by_jurisdiction {
        rows.push(
            Row {
                jurisdiction: Some(j.jurisdiction.clone().unwrap_or_else(|| j.name.clone())),
                rule: Some(j.rules.join("; ")),
                count: Some(j.calls),
                ..Row::default()
            }
            .cells("calls_by_jurisdiction"),
        );
    }
    for b in &r.blocked {
        rows.push(
            Row {
                jurisdiction: b.jurisdiction.clone(),
                reason: Some(b.reason.as_str().into()),
                count: Some(b.blocked),
                value: Some(Cell::int(b.contacts)),
                ..Row::default()
            }
            .cells("blocked"),
        );
    }
    let c = &r.consent;
    rows.push(
        Row {
            reason: Some(format!("requires {}", c.required.as_str())),
            count: Some(c.contacts),
            value: Some(Cell::int(c.satisfying)),
            ..Row::default()
        }
        .cells("consent_coverage"),
    );
    for t in &c.by_type {
        rows.push(
            Row {
                reason: Some(
                    t.consent_type
                        .map_or("none in force", |t| t.as_str())
                        .into(),
                ),
                count: Some(t.contacts),
                ..Row::default()
            }
            .cells("consent_by_type"),
        );
    }
    let a = &r.abandonment;
    rows.push(
        Row {
            rule: Some(format!(
                "47 CFR 64.1200(a)(7), rolling {} days",
                a.window_days
            )),
            count: Some(a.abandoned),
            value: a.abandonment_rate.map(Cell::Number),
            ..Row::default()
        }
        .cells("abandonment"),
    );
    rows.push(
        Row {
            count: Some(r.opt_outs.count),
            value: r.opt_outs.max_lag_ms.map(Cell::int),
            ..Row::default()
        }
        .cells("opt_outs"),
    );
    for o in &r.opt_outs.items {
        rows.push(
            Row {
                at: Some(o.opted_out_at),
                contact_id: o.contact_id,
                phone: Some(o.phone.clone()),
                count: Some(o.calls_after),
                value: o.lag_ms.map(Cell::int),
                ..Row::default()
            }
            .cells("opt_out"),
        );
    }
    rows
}

/// One blocked dial.
pub(super) fn blocked_row(b: BlockedDial) -> Vec<Cell> {
    Row {
        jurisdiction: b.jurisdiction,
        reason: Some(b.reason.as_str().into()),
        rule: Some(b.rule),
        version: Some(b.rules_version),
        at: Some(b.blocked_at),
        contact_id: Some(b.contact_id),
        phone: Some(b.phone),
        count: None,
        value: b.held_until.map(time),
    }
    .cells("blocked_dial")
}

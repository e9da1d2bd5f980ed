//! Google Sheets write-back: which results of a campaign's calls are written to the sheet
//! row each contact was imported from, and under which header. The values are text, as
//! the sheet will hold them (written with `valueInputOption=RAW`, so nothing a callee said
//! is ever run as a formula).
use crate::time::from_millis;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// At most this many columns are written back per campaign.
pub const MAX_COLUMNS: usize = 50;
/// A header is at most this long (in characters).
pub const MAX_HEADER_CHARS: usize = 100;
/// Google Sheets holds at most 50,000 characters in a cell; longer values are cut to it.
pub const MAX_CELL_CHARS: usize = 50_000;

/// A campaign's write-back: off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SheetWriteBack {
    /// Write each settled call's results to the row of the Google Sheet its contact was
    /// imported from (contacts from elsewhere are left alone).
    pub enabled: bool,
    /// The columns to write, in order. Each is matched to a header cell of the sheet by
    /// name (case and surrounding spaces aside); a missing header is created after the
    /// last used header column. No other cell is written.
    pub columns: Vec<WriteBackColumn>,
}

/// One column written back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteBackColumn {
    pub field: WriteBackField,
    /// The data-collection item's name, when `field` is `data_collection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The header cell's text; by default the field's name (or the item's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteBackField {
    /// Where the contact stands in the campaign: `completed`, `scheduled`, `failed`, `cancelled`.
    Status,
    /// The call's outcome, e.g. `success`, `no_answer`, `voicemail`.
    Outcome,
    /// When the call ended (or was placed), UTC, RFC 3339.
    LastCallAt,
    /// The agent's summary of the conversation.
    Summary,
    /// When the next attempt is due, UTC, RFC 3339; empty when none is.
    NextAttemptAt,
    /// A data-collection item of the agent's analysis, by `name`.
    DataCollection,
}

impl WriteBackField {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteBackField::Status => "status",
            WriteBackField::Outcome => "outcome",
            WriteBackField::LastCallAt => "last_call_at",
            WriteBackField::Summary => "summary",
            WriteBackField::NextAttemptAt => "next_attempt_at",
            WriteBackField::DataCollection => "data_collection",
        }
    }
}

impl WriteBackColumn {
    pub fn of(field: WriteBackField) -> WriteBackColumn {
        WriteBackColumn {
            field,
            name: None,
            header: None,
        }
    }

    /// The header cell's text.
    pub fn header(&self) -> &str {
        match (&self.header, &self.name) {
            (Some(header), _) => header.trim(),
            (None, Some(name)) if self.field == WriteBackField::DataCollection => name.trim(),
            _ => self.field.as_str(),
        }
    }
}

/// What a settled call left, from which the cells are made.
#[derive(Debug, Clone, Default)]
pub struct WriteBackFacts {
    pub status: String,
    pub outcome: Option<String>,
    /// Epoch milliseconds.
    pub last_call_at: Option<i64>,
    pub summary: Option<String>,
    /// Epoch milliseconds.
    pub next_attempt_at: Option<i64>,
    /// Data-collection items by name; `None` for a null.
    pub data_collection: HashMap<String, Option<String>>,
}

fn timestamp(ms: Option<i64>) -> String {
    ms.map(|ms| from_millis(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_CELL_CHARS).collect()
}

impl SheetWriteBack {
    /// The `(header, value)` pairs to write for `facts`, in column order.
    pub fn cells(&self, facts: &WriteBackFacts) -> Vec<(String, String)> {
        self.columns
            .iter()
            .map(|column| {
                let value = match column.field {
                    WriteBackField::Status => facts.status.clone(),
                    WriteBackField::Outcome => facts.outcome.clone().unwrap_or_default(),
                    WriteBackField::LastCallAt => timestamp(facts.last_call_at),
                    WriteBackField::Summary => facts.summary.clone().unwrap_or_default(),
                    WriteBackField::NextAttemptAt => timestamp(facts.next_attempt_at),
                    WriteBackField::DataCollection => column
                        .name
                        .as_deref()
                        .and_then(|n| facts.data_collection.get(n.trim()).cloned().flatten())
                        .unwrap_or_default(),
                };
                (column.header().to_owned(), bounded(&value))
            })
            .collect()
    }

    /// Whether any column reads the agent's data collection.
    pub fn reads_data_collection(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.field == WriteBackField::DataCollection)
    }

    pub fn validate(&self, e: &mut FieldErrors) {
        const FIELD: &str = "sheet_write_back.columns";
        if self.enabled && self.columns.is_empty() {
            e.add(FIELD, "choose at least one column to write back");
        }
        if self.columns.len() > MAX_COLUMNS {
            e.add(FIELD, format!("at most {MAX_COLUMNS} columns"));
            return;
        }
        let mut seen: Vec<String> = Vec::with_capacity(self.columns.len());
        for (i, column) in self.columns.iter().enumerate() {
            let at = format!("{FIELD}[{i}]");
            let name = column.name.as_deref().map(str::trim);
            match (column.field, name) {
                (WriteBackField::DataCollection, None | Some("")) => {
                    e.add(format!("{at}.name"), "name the data-collection item");
                }
                (WriteBackField::DataCollection, _) | (_, None) => {}
                (_, Some(_)) => e.add(
                    format!("{at}.name"),
                    "only a data_collection column takes a name",
                ),
            }
            let header = column.header();
            if header.is_empty() || header.chars().any(char::is_control) {
                e.add(
                    format!("{at}.header"),
                    "must not be blank or hold control characters",
                );
            } else if header.chars().count() > MAX_HEADER_CHARS {
                e.add(
                    format!("{at}.header"),
                    format!("must be at most {MAX_HEADER_CHARS} characters"),
                );
            }
            let key = header_key(header);
            if seen.contains(&key) {
                e.add(format!("{at}.header"), "two columns have this header");
            }
            seen.push(key);
        }
    }
}

/// How headers are matched: case and surrounding spaces aside.
pub fn header_key(header: &str) -> String {
    header.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_back(columns: Vec<WriteBackColumn>) -> SheetWriteBack {
        SheetWriteBack {
            enabled: true,
            columns,
        }
    }

    #[test]
    fn cells_follow_the_columns_in_order_with_their_headers() {
        let mut interested = WriteBackColumn::of(WriteBackField::DataCollection);
        interested.name = Some("interested".into());
        let mut when = WriteBackColumn::of(WriteBackField::LastCallAt);
        when.header = Some("Called at".into());
        let w = write_back(vec![
            WriteBackColumn::of(WriteBackField::Status),
            when,
            interested,
            WriteBackColumn::of(WriteBackField::NextAttemptAt),
        ]);
        let facts = WriteBackFacts {
            status: "completed".into(),
            last_call_at: Some(1_764_763_200_000),
            data_collection: [("interested".to_owned(), Some("yes".to_owned()))].into(),
            ..Default::default()
        };
        assert_eq!(
            w.cells(&facts),
            vec![
                ("status".to_owned(), "completed".to_owned()),
                ("Called at".to_owned(), "2025-12-03T12:00:00Z".to_owned()),
                ("interested".to_owned(), "yes".to_owned()),
                ("next_attempt_at".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn a_cell_holds_at_most_what_google_accepts() {
        let w = write_back(vec![WriteBackColumn::of(WriteBackField::Summary)]);
        let facts = WriteBackFacts {
            summary: Some("x".repeat(MAX_CELL_CHARS + 10)),
            ..Default::default()
        };
        assert_eq!(w.cells(&facts)[0].1.len(), MAX_CELL_CHARS);
    }

    #[test]
    fn columns_need_names_and_distinct_headers() {
        let errors = |w: &SheetWriteBack| {
            let mut e = FieldErrors::new();
            w.validate(&mut e);
            e.into_result().err().map(|e| format!("{e:?}"))
        };
        assert!(errors(&SheetWriteBack::default()).is_none());
        assert!(errors(&write_back(vec![]))
            .unwrap()
            .contains("at least one"));
        let unnamed = write_back(vec![WriteBackColumn::of(WriteBackField::DataCollection)]);
        assert!(errors(&unnamed).unwrap().contains("columns[0].name"));
        let mut named_status = WriteBackColumn::of(WriteBackField::Status);
        named_status.name = Some("x".into());
        assert!(errors(&write_back(vec![named_status])).is_some());
        let mut same = WriteBackColumn::of(WriteBackField::Outcome);
        same.header = Some(" STATUS ".into());
        let twice = write_back(vec![WriteBackColumn::of(WriteBackField::Status), same]);
        assert!(errors(&twice).unwrap().contains("columns[1].header"));
        let mut blank = WriteBackColumn::of(WriteBackField::Outcome);
        blank.header = Some("  ".into());
        assert!(errors(&write_back(vec![blank])).is_some());
    }
}

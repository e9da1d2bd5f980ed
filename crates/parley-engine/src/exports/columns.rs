//! The columns of each export and the rows, page by page from the database.
use super::compliance::{self, COMPLIANCE_COLUMNS};
use super::{Cell, Dataset, ExportError, PAGE_ROWS, PAGE_ROWS_WITH_TRANSCRIPT};
use parley_domain::call::TranscriptTurn;
use parley_domain::consent::{current_type, ConsentRecord, ConsentSource};
use parley_domain::quality::CallQuality;
use parley_domain::vocabulary::Worded;
use parley_store::{AnalysisKeys, CallExportRow, ContactExportRow, Store};
use serde_json::Value;

/// The fixed columns of a calls export; data-collection (`data_collection.<key>`) and
/// evaluation (`evaluation.<key>`) columns follow, then `transcript` when asked for.
pub const CALL_COLUMNS: &[&str] = &[
    "call_id",
    "created_at",
    "answered_at",
    "ended_at",
    "campaign_id",
    "campaign",
    // The A/B variant the call used (empty without variants): rates split by it.
    "variant",
    "contact_id",
    "contact_name",
    "contact_number",
    "status",
    "answered_by",
    "outcome",
    // The outcome in the glossary's words.
    "outcome_label",
    "duration_seconds",
    "ended_by",
    "termination_reason",
    "call_successful",
    "summary",
    // What the bridge measured (see `parley_domain::quality::CallQuality`).
    "first_audio_ms",
    "abandoned",
    "frames_from_caller",
    "frames_to_caller",
    "caller_gaps",
    "interruptions",
    "response_ms_mean",
    "added_latency_p50_us",
    "added_latency_p99_us",
    // `true` for a test call (only exported when asked for: `include_test`).
    "test",
];

/// The fixed columns of a contacts export; one column per custom field follows, named
/// as the field (so the file imports back), or `custom.<name>` where that would clash.
pub const CONTACT_COLUMNS: &[&str] = &[
    "contact_id",
    "phone",
    "first_name",
    "last_name",
    "email",
    "company",
    "timezone",
    "tags",
    "do_not_call",
    "last_outcome",
    // Where the contact stands, in the glossary's words.
    "standing",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
    // The consent in force, under the import's column names (the file imports back).
    "consent_type",
    "consent_at",
    "consent_text",
    "consent_url",
    "consent_source",
];

/// The columns of a consent history export, one row per record, newest first.
pub const CONSENT_COLUMNS: &[&str] = &[
    "consent_record_id",
    "contact_id",
    "phone",
    "kind",
    "consent_type",
    "source",
    "source_detail",
    "captured_at",
    "consent_text",
    "consent_url",
    "recorded_at",
    "recorded_by",
];

/// `kind: detail` of a consent's source, as one cell.
fn source_cell(s: &ConsentSource) -> Cell {
    Cell::text(format!("{}: {}", s.kind, s.detail))
}

/// The rows of one export: the header is known when this is opened (the JSON keys that
/// become columns are read first), then pages follow until the data runs out.
pub struct Rows {
    store: Store,
    dataset: Dataset,
    header: Vec<String>,
    analysis: AnalysisKeys,
    custom_fields: Vec<String>,
    /// The last id returned; the next page starts below it.
    before_id: Option<i64>,
    /// Rows computed when the export opened, returned before any page (a report's figures).
    opening: Vec<Vec<Cell>>,
    done: bool,
    _slot: super::ExportSlot,
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Cell {
    t.map_or(Cell::Empty, |t| {
        Cell::Text(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// A JSON value as a cell: numbers stay numbers, strings as they are, other values as
/// compact JSON.
fn json_cell(v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::String(s)) => Cell::text(s.as_str()),
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Some(Value::Bool(b)) => Cell::Text(b.to_string()),
        Some(other) => Cell::text(other.to_string()),
    }
}

/// The quality columns: empty for a call that was never bridged.
fn quality_cells(cells: &mut Vec<Cell>, q: Option<&CallQuality>) {
    let Some(q) = q else {
        cells.extend((0..9).map(|_| Cell::Empty));
        return;
    };
    cells.extend([
        Cell::opt_int(q.first_audio_ms),
        Cell::Text(q.abandoned.to_string()),
        Cell::int(q.frames_from_caller),
        Cell::int(q.frames_to_caller),
        Cell::int(q.caller_gaps),
        Cell::int(q.interruptions),
        q.response_ms_mean
            .map_or(Cell::Empty, |ms| Cell::Number((ms * 10.0).round() / 10.0)),
        Cell::opt_int(q.added_latency_p50_us),
        Cell::opt_int(q.added_latency_p99_us),
    ]);
}

fn transcript_text(turns: &[TranscriptTurn]) -> String {
    turns
        .iter()
        .map(|t| format!("{}: {}", t.role.as_str(), t.text))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Rows {
    /// Reads the keys that become columns (one query per kind over the selected rows).
    pub async fn open(
        store: Store,
        dataset: Dataset,
        slot: super::ExportSlot,
    ) -> Result<Rows, ExportError> {
        let mut header: Vec<String>;
        let mut analysis = AnalysisKeys::default();
        let mut custom_fields = Vec::new();
        let mut opening = Vec::new();
        match &dataset {
            Dataset::Calls { filter, transcript } => {
                analysis = store.call_analysis_keys(filter).await?;
                header = CALL_COLUMNS.iter().map(|c| c.to_string()).collect();
                header.extend(
                    analysis
                        .data_collection
                        .iter()
                        .map(|k| format!("data_collection.{k}")),
                );
                header.extend(
                    analysis
                        .evaluation_criteria
                        .iter()
                        .map(|k| format!("evaluation.{k}")),
                );
                if *transcript {
                    header.push("transcript".into());
                }
            }
            Dataset::Consent { .. } => {
                header = CONSENT_COLUMNS.iter().map(|c| c.to_string()).collect();
            }
            Dataset::Compliance { range } => {
                header = COMPLIANCE_COLUMNS.iter().map(|c| c.to_string()).collect();
                let report = store.compliance_report(*range).await?;
                opening = compliance::summary_rows(&report);
            }
            Dataset::Contacts { filter } => {
                custom_fields = store.contact_custom_field_keys(filter).await?;
                header = CONTACT_COLUMNS.iter().map(|c| c.to_string()).collect();
                for k in &custom_fields {
                    let clashes = CONTACT_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(k));
                    header.push(if clashes {
                        format!("custom.{k}")
                    } else {
                        k.clone()
                    });
                }
            }
        }
        // Header names are user data too (analysis keys, custom field names).
        let header = header.into_iter().map(super::neutralise).collect();
        Ok(Rows {
            store,
            dataset,
            header,
            analysis,
            custom_fields,
            before_id: None,
            opening,
            done: false,
            _slot: slot,
        })
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The next page of rows, or `None` when every row has been returned.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ExportError> {
        if !self.opening.is_empty() {
            return Ok(Some(std::mem::take(&mut self.opening)));
        }
        if self.done {
            return Ok(None);
        }
        let (rows, last, limit) = match &self.dataset {
            Dataset::Calls { filter, transcript } => {
                let limit = if *transcript {
                    PAGE_ROWS_WITH_TRANSCRIPT
                } else {
                    PAGE_ROWS
                };
                let page = self
                    .store
                    .export_calls_page(filter, self.before_id, limit)
                    .await?;
                let ids: Vec<i64> = page.iter().map(|r| r.call.id).collect();
                let mut qualities = self.store.qualities_of(&ids).await?;
                let mut transcripts = if *transcript {
                    self.store.transcripts_of(&ids).await?
                } else {
                    Default::default()
                };
                let last = page.last().map(|r| r.call.id);
                let rows = page
                    .into_iter()
                    .map(|r| {
                        let turns = transcript.then(|| transcripts.remove(&r.call.id));
                        let quality = qualities.remove(&r.call.id);
                        self.call_cells(r, quality, turns)
                    })
                    .collect::<Vec<_>>();
                (rows, last, limit)
            }
            Dataset::Contacts { filter } => {
                let page = self
                    .store
                    .export_contacts_page(filter, self.before_id, PAGE_ROWS)
                    .await?;
                let last = page.last().map(|r| r.contact.id);
                let rows = page.into_iter().map(|r| self.contact_cells(r)).collect();
                (rows, last, PAGE_ROWS)
            }
            Dataset::Consent { contact_id } => {
                let page = self
                    .store
                    .export_consent_page(*contact_id, self.before_id, PAGE_ROWS)
                    .await?;
                let last = page.last().map(|(r, _)| r.id);
                let rows = page.into_iter().map(consent_cells).collect();
                (rows, last, PAGE_ROWS)
            }
            Dataset::Compliance { range } => {
                let page = self
                    .store
                    .blocked_dials_page(
                        range.campaign_id,
                        (range.from, range.to),
                        self.before_id,
                        i64::from(PAGE_ROWS),
                    )
                    .await?;
                let last = page.last().map(|b| b.id);
                let rows = page.into_iter().map(compliance::blocked_row).collect();
                (rows, last, PAGE_ROWS)
            }
        };
        self.before_id = last;
        self.done = last.is_none() || rows.len() < limit as usize;
        Ok((!rows.is_empty()).then_some(rows))
    }

    fn call_cells(
        &self,
        r: CallExportRow,
        quality: Option<CallQuality>,
        turns: Option<Option<Vec<TranscriptTurn>>>,
    ) -> Vec<Cell> {
        let c = r.call;
        let analysis = c.analysis.as_ref();
        let field = |name: &str| analysis.and_then(|a| a.get(name));
        let mut cells = vec![
            Cell::int(c.id),
            time(Some(c.created_at)),
            time(c.answered_at),
            time(c.ended_at),
            Cell::opt_int(c.campaign_id),
            Cell::opt_text(r.campaign_name),
            Cell::opt_text(c.variant),
            Cell::opt_int(c.contact_id),
            Cell::opt_text(r.contact_name),
            Cell::text(c.to),
            Cell::Text(c.status.as_str().into()),
            Cell::opt_text(c.answered_by),
            Cell::opt_text(c.outcome.map(|o| o.as_str())),
            Cell::opt_text(c.outcome_label),
            Cell::opt_int(c.duration_seconds),
            Cell::opt_text(c.termination_source.map(|t| t.as_str())),
            json_cell(field("termination_reason")),
            json_cell(field("call_successful")),
            Cell::opt_text(c.summary),
        ];
        quality_cells(&mut cells, quality.as_ref());
        cells.push(Cell::Text(c.is_test.to_string()));
        let results = field("data_collection_results");
        for k in &self.analysis.data_collection {
            cells.push(json_cell(
                results.and_then(|d| d.get(k)).and_then(|d| d.get("value")),
            ));
        }
        let results = field("evaluation_criteria_results");
        for k in &self.analysis.evaluation_criteria {
            cells.push(json_cell(
                results.and_then(|d| d.get(k)).and_then(|d| d.get("result")),
            ));
        }
        if let Some(turns) = turns {
            cells.push(Cell::text(transcript_text(&turns.unwrap_or_default())));
        }
        cells
    }

    fn contact_cells(&self, r: ContactExportRow) -> Vec<Cell> {
        let c = r.contact;
        let mut cells = vec![
            Cell::int(c.id),
            Cell::text(c.phone),
            Cell::opt_text(c.first_name),
            Cell::opt_text(c.last_name),
            Cell::opt_text(c.email),
            Cell::opt_text(c.company),
            Cell::opt_text(c.timezone),
            Cell::text(c.tags.join(", ")),
            Cell::Text(c.do_not_call.to_string()),
            Cell::opt_text(r.last_outcome),
            Cell::opt_text(r.standing.map(|s| s.label())),
            Cell::int(r.attempts),
            time(r.next_attempt_at),
            time(Some(c.created_at)),
            time(Some(c.updated_at)),
        ];
        let consent = c.consent.as_ref();
        cells.extend([
            Cell::Text(current_type(consent).as_str().into()),
            time(consent.map(|r| r.captured_at)),
            Cell::opt_text(consent.and_then(|r| r.text.clone())),
            Cell::opt_text(consent.and_then(|r| r.url.clone())),
            consent.map_or(Cell::Empty, |r| source_cell(&r.source)),
        ]);
        for k in &self.custom_fields {
            cells.push(Cell::opt_text(c.custom_fields.get(k).cloned()));
        }
        cells
    }
}

fn consent_cells((r, phone): (ConsentRecord, String)) -> Vec<Cell> {
    vec![
        Cell::int(r.id),
        Cell::int(r.contact_id),
        Cell::text(phone),
        Cell::Text(r.kind.as_str().into()),
        Cell::opt_text(r.consent_type.map(|t| t.as_str())),
        Cell::Text(r.source.kind.as_str().into()),
        Cell::text(r.source.detail),
        time(Some(r.captured_at)),
        Cell::opt_text(r.text),
        Cell::opt_text(r.url),
        time(Some(r.recorded_at)),
        Cell::text(r.recorded_by),
    ]
}

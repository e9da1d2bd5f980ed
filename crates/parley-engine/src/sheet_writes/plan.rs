//! Which cells a batch of write-backs becomes on one sheet: each value goes to the column
//! whose header has its name (case and surrounding spaces aside); a header the sheet lacks
//! is created after the last used header column. Nothing else is written: no other
//! column, and never the header row but for the headers created.
use crate::sheets::CellWrite;
use parley_domain::write_back::header_key;
use parley_store::ClaimedSheetWrite;
use std::collections::HashMap;

/// The cells of one sheet to write, and the headers that had to be created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SheetPlan {
    pub cells: Vec<CellWrite>,
    pub created_headers: Vec<String>,
}

/// Plans `writes` (all on `sheet`, with their header on `header_row`) against the header
/// row as the sheet has it now.
pub fn plan_sheet(
    sheet: &str,
    header_row: i64,
    existing: &[String],
    writes: &[&ClaimedSheetWrite],
) -> SheetPlan {
    let mut columns: HashMap<String, u32> = HashMap::new();
    for (i, header) in existing.iter().enumerate() {
        if !header.trim().is_empty() {
            columns.entry(header_key(header)).or_insert(i as u32 + 1);
        }
    }
    // After the last used header column (Google leaves trailing blanks out).
    let last_used = existing
        .iter()
        .rposition(|h| !h.trim().is_empty())
        .map_or(0, |i| i as u32 + 1);
    let mut next = last_used + 1;
    let mut plan = SheetPlan::default();
    for write in writes {
        if write.row_number <= header_row {
            continue; // a row at or above its header is no contact's row
        }
        for (header, value) in &write.cells {
            let column = *columns.entry(header_key(header)).or_insert_with(|| {
                let column = next;
                next += 1;
                plan.cells
                    .push(CellWrite::at(sheet, column, header_row, header.clone()));
                plan.created_headers.push(header.clone());
                column
            });
            plan.cells.push(CellWrite::at(
                sheet,
                column,
                write.row_number,
                value.clone(),
            ));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(row: i64, cells: &[(&str, &str)]) -> ClaimedSheetWrite {
        ClaimedSheetWrite {
            id: row,
            campaign_id: 1,
            contact_id: row,
            spreadsheet_id: "s".into(),
            sheet_name: "Sheet1".into(),
            row_number: row,
            header_row: 1,
            cells: cells
                .iter()
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
            version: 1,
            attempts: 1,
        }
    }

    fn ranges(plan: &SheetPlan) -> Vec<(&str, &str)> {
        plan.cells
            .iter()
            .map(|c| (c.range.as_str(), c.value.as_str()))
            .collect()
    }

    #[test]
    fn existing_headers_are_matched_by_name_and_missing_ones_appended() {
        let existing: Vec<String> = ["phone", "", "Status ", "notes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = write(2, &[("status", "completed"), ("outcome", "success")]);
        let b = write(5, &[("status", "failed"), ("outcome", "no_answer")]);
        let plan = plan_sheet("Sheet1", 1, &existing, &[&a, &b]);
        assert_eq!(plan.created_headers, vec!["outcome".to_owned()]);
        assert_eq!(
            ranges(&plan),
            vec![
                ("'Sheet1'!C2", "completed"),
                ("'Sheet1'!E1", "outcome"),
                ("'Sheet1'!E2", "success"),
                ("'Sheet1'!C5", "failed"),
                ("'Sheet1'!E5", "no_answer"),
            ]
        );
    }

    #[test]
    fn an_empty_header_row_starts_at_column_a_and_the_header_row_is_never_a_contact() {
        let header = write(1, &[("status", "x")]);
        let row = write(3, &[("status", "completed")]);
        let plan = plan_sheet("Sheet1", 1, &[], &[&header, &row]);
        assert_eq!(
            ranges(&plan),
            vec![("'Sheet1'!A1", "status"), ("'Sheet1'!A3", "completed")]
        );
    }
}

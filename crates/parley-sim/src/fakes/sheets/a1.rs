//! Ranges in A1 notation as Google Sheets reads them: a sheet name (quoted or not), cells
//! or whole columns and rows, resolved against the sheet's grid.
use super::{Sheet, DEFAULT_GRID};

/// A range to write reaches past the sheet's grid.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BeyondGrid {
    pub max_rows: u32,
    pub max_cols: u32,
}

/// A range in A1 notation, resolved against the spreadsheet: 1-based, inclusive.
#[derive(Debug, PartialEq)]
pub(super) struct A1Range {
    pub sheet: usize,
    pub cols: (u32, u32),
    pub rows: (u32, u32),
}

/// A sheet's grid: how many columns and rows it has (cells outside it do not exist).
pub(super) fn grid(sheet: &Sheet) -> (u32, u32) {
    let cols = DEFAULT_GRID
        .0
        .max(sheet.rows.iter().map(Vec::len).max().unwrap_or(0) as u32);
    (cols, DEFAULT_GRID.1.max(sheet.rows.len() as u32))
}

impl A1Range {
    /// `Sheet1`, `'My list'!A2:D`, `A:C`, `B3`, `2:10`; without a sheet name, the first
    /// sheet. Bounds beyond the grid are clipped to it, as reads are.
    pub(super) fn parse(range: &str, sheets: &[Sheet]) -> Option<A1Range> {
        Self::resolve(range, sheets, true).ok()
    }

    /// As Google resolves a range to write: bounds beyond the grid are an error
    /// ([`BeyondGrid`], with the grid's size), not clipped.
    pub(super) fn resolve(
        range: &str,
        sheets: &[Sheet],
        clip: bool,
    ) -> Result<A1Range, Option<BeyondGrid>> {
        // A sheet name may be quoted ('Bob''s list'), with or without cells after it.
        let find = |name: &str| {
            let title = match name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')) {
                Some(quoted) => quoted.replace("''", "'"),
                None => name.to_owned(),
            };
            sheets.iter().position(|s| s.title == title)
        };
        let (sheet, cells) = match range.rsplit_once('!') {
            Some((name, cells)) => (find(name).ok_or(None)?, Some(cells)),
            None => match find(range) {
                Some(sheet) => (sheet, None),
                None => (0, Some(range)),
            },
        };
        let (grid_cols, grid_rows) = grid(sheets.get(sheet).ok_or(None)?);
        let (start, end) = match cells {
            None => ((Some(1), Some(1)), (Some(grid_cols), Some(grid_rows))),
            Some(cells) => {
                let (a, b) = cells.split_once(':').unwrap_or((cells, cells));
                (cell_ref(a).ok_or(None)?, cell_ref(b).ok_or(None)?)
            }
        };
        let (end_col, end_row) = (end.0.unwrap_or(grid_cols), end.1.unwrap_or(grid_rows));
        let beyond = start.0.unwrap_or(1).max(end_col) > grid_cols
            || start.1.unwrap_or(1).max(end_row) > grid_rows;
        if beyond && !clip {
            return Err(Some(BeyondGrid {
                max_rows: grid_rows,
                max_cols: grid_cols,
            }));
        }
        let cols = (start.0.unwrap_or(1), end_col.min(grid_cols));
        let rows = (start.1.unwrap_or(1), end_row.min(grid_rows));
        (cols.0 <= cols.1 && rows.0 <= rows.1)
            .then_some(A1Range { sheet, cols, rows })
            .ok_or(None)
    }

    pub(super) fn to_string(&self, title: &str) -> String {
        let simple = title.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let title = if simple {
            title.to_owned()
        } else {
            format!("'{}'", title.replace('\'', "''"))
        };
        format!(
            "{title}!{}{}:{}{}",
            column_name(self.cols.0),
            self.rows.0,
            column_name(self.cols.1),
            self.rows.1
        )
    }
}

/// `B12` → (2, 12); `B` → (2, none); `12` → (none, 12).
fn cell_ref(s: &str) -> Option<(Option<u32>, Option<u32>)> {
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() && digits.is_empty() {
        return None;
    }
    let col = if letters.is_empty() {
        None
    } else {
        let mut n: u32 = 0;
        for c in letters.chars() {
            if !c.is_ascii_alphabetic() {
                return None;
            }
            n = n.checked_mul(26)? + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1);
        }
        Some(n)
    };
    let row = if digits.is_empty() {
        None
    } else {
        Some(digits.parse::<u32>().ok().filter(|&r| r > 0)?)
    };
    Some((col, row))
}

pub(super) fn column_name(mut n: u32) -> String {
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheets() -> Vec<Sheet> {
        vec![
            Sheet {
                title: "Sheet1".into(),
                rows: vec![],
            },
            Sheet {
                title: "Bob's list".into(),
                rows: vec![],
            },
        ]
    }

    #[test]
    fn a1_ranges_resolve_as_google_reads_them() {
        let s = sheets();
        let r = |range: &str| A1Range::parse(range, &s);
        let range = |sheet, cols, rows| Some(A1Range { sheet, cols, rows });
        assert_eq!(r("Sheet1"), range(0, (1, 26), (1, 1000)));
        assert_eq!(r("'Bob''s list'"), range(1, (1, 26), (1, 1000)));
        assert_eq!(r("'Bob''s list'!A2:D"), range(1, (1, 4), (2, 1000)));
        assert_eq!(r("B3"), range(0, (2, 2), (3, 3)));
        assert_eq!(r("A:C"), range(0, (1, 3), (1, 1000)));
        assert_eq!(r("2:10"), range(0, (1, 26), (2, 10)));
        assert_eq!(r("Nope!A1"), None);
        assert_eq!(r("A0"), None);
        assert_eq!(r("C1:A1"), None);
        assert_eq!(
            range(1, (1, 28), (2, 9)).unwrap().to_string("Bob's list"),
            "'Bob''s list'!A2:AB9"
        );
    }

    #[test]
    fn a_write_past_the_grid_is_refused_not_clipped() {
        let s = sheets();
        let beyond = Err(Some(BeyondGrid {
            max_rows: 1000,
            max_cols: 26,
        }));
        assert_eq!(A1Range::resolve("Sheet1!AA1", &s, false), beyond);
        assert_eq!(A1Range::resolve("Sheet1!A1001", &s, false), beyond);
        assert_eq!(
            A1Range::resolve("Sheet1!Z1000", &s, false),
            Ok(A1Range {
                sheet: 0,
                cols: (26, 26),
                rows: (1000, 1000)
            })
        );
        assert_eq!(A1Range::resolve("Nope!A1", &s, false), Err(None));
    }

    #[test]
    fn columns_are_named_in_base_26_without_zero() {
        assert_eq!(column_name(1), "A");
        assert_eq!(column_name(26), "Z");
        assert_eq!(column_name(27), "AA");
        assert_eq!(column_name(702), "ZZ");
        assert_eq!(cell_ref("ZZ"), Some((Some(702), None)));
    }
}

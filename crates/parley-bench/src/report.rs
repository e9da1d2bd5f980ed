//! A scenario's results, as a table for people or as one JSON object for scripts.
use serde::{Deserialize, Serialize};

/// One result row of a scenario, e.g. one backend's run.
pub trait Row {
    /// Column headings, in the order of [`Row::cells`].
    fn headings() -> &'static [&'static str];
    /// The row's values, already formatted.
    fn cells(&self) -> Vec<String>;
}

/// `{"scenario": "...", "results": [...]}`: what `--json` prints, and what a parent
/// process reads back from a child run of one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report<R> {
    pub scenario: String,
    pub results: Vec<R>,
}

impl<R: Row + Serialize> Report<R> {
    pub fn new(scenario: &str, results: Vec<R>) -> Report<R> {
        Report {
            scenario: scenario.to_owned(),
            results,
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }

    /// The results as an aligned text table: the first column left-aligned (it names the
    /// run), the figures right-aligned.
    pub fn to_table(&self) -> String {
        let rows: Vec<Vec<String>> = std::iter::once(
            R::headings()
                .iter()
                .map(|h| (*h).to_owned())
                .collect::<Vec<_>>(),
        )
        .chain(self.results.iter().map(Row::cells))
        .collect();
        let columns = R::headings().len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| {
                    if c == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// A figure with a precision that suits its size: 12345, 123.4, 1.23.
pub fn figure(value: f64) -> String {
    if value >= 1000.0 {
        format!("{value:.0}")
    } else if value >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R(&'static str, u32);

    impl Row for R {
        fn headings() -> &'static [&'static str] {
            &["db", "rows"]
        }
        fn cells(&self) -> Vec<String> {
            vec![self.0.to_owned(), self.1.to_string()]
        }
    }

    #[test]
    fn table_aligns_columns() {
        let report = Report::new("x", vec![R("sqlite", 5), R("postgres", 12345)]);
        assert_eq!(
            report.to_table(),
            "db         rows\nsqlite        5\npostgres  12345\n"
        );
    }

    #[test]
    fn json_is_one_line() {
        let report = Report::new("x", vec![R("sqlite", 5)]);
        assert_eq!(
            report.to_json(),
            r#"{"scenario":"x","results":[["sqlite",5]]}"#
        );
    }

    #[test]
    fn figures_keep_three_significant_digits_or_more() {
        assert_eq!(figure(23752.4), "23752");
        assert_eq!(figure(123.44), "123.4");
        assert_eq!(figure(4.216), "4.22");
    }
}

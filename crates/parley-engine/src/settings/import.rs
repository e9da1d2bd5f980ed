//! The `[import.xlsx]` section: how much of an uploaded workbook Parley will read. A
//! workbook of a few kilobytes can declare millions of cells or unpack to gigabytes, so
//! each bound is checked before (the ZIP directory) or while (the cells) it is read.
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct XlsxLimits {
    /// Files in the workbook's ZIP archive.
    pub max_entries: u64,
    /// Unpacked size of any one file in the archive, in MiB.
    pub max_entry_mb: u64,
    /// Unpacked size of the whole archive, and the text of the cells read from it, in MiB.
    pub max_uncompressed_mb: u64,
    /// Unpacked size over packed size, for files of more than 1 MiB unpacked.
    pub max_compression_ratio: u64,
    /// Highest row number a cell may have.
    pub max_rows: u32,
    /// Columns a cell may be in (200 is column GR).
    pub max_columns: u32,
    /// Cells read, counting the blank cells left of each row's last value.
    pub max_cells: u64,
}

impl Default for XlsxLimits {
    fn default() -> Self {
        XlsxLimits {
            max_entries: 1_000,
            max_entry_mb: 64,
            max_uncompressed_mb: 100,
            max_compression_ratio: 100,
            max_rows: 500_000,
            max_columns: 200,
            max_cells: 5_000_000,
        }
    }
}

impl XlsxLimits {
    /// The first limit that cannot work, as `(key, message)`.
    pub(super) fn invalid(&self) -> Option<(&'static str, &'static str)> {
        let at_least_one = [
            ("import.xlsx.max_entries", self.max_entries),
            ("import.xlsx.max_entry_mb", self.max_entry_mb),
            ("import.xlsx.max_uncompressed_mb", self.max_uncompressed_mb),
            (
                "import.xlsx.max_compression_ratio",
                self.max_compression_ratio,
            ),
            ("import.xlsx.max_rows", u64::from(self.max_rows)),
            ("import.xlsx.max_columns", u64::from(self.max_columns)),
            ("import.xlsx.max_cells", self.max_cells),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Some((key, "must be at least 1"));
        }
        // Beyond these a sheet has no cells, so a larger value only hides a typo.
        if self.max_rows > 1_048_576 {
            return Some((
                "import.xlsx.max_rows",
                "must be at most 1048576 (Excel's last row)",
            ));
        }
        if self.max_columns > 16_384 {
            return Some((
                "import.xlsx.max_columns",
                "must be at most 16384 (Excel's last column, XFD)",
            ));
        }
        None
    }
}

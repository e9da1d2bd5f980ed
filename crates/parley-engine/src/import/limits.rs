//! Why an import was refused for its size: each reason names the setting that bounds it,
//! so the person who hit it knows what to change (or how to split the file).

/// A bound an import went past. Nothing of the file was imported because of it, except
/// the CSV rows before the line that went past (a CSV is written as it is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("the file is larger than the {limit_mb} MiB import limit (import.max_upload_mb)")]
    Upload { limit_mb: u64 },
    #[error("line {line} is longer than {limit_kb} KiB (import.max_line_kb)")]
    Line { line: u64, limit_kb: u64 },
    #[error("{place} holds a value longer than {limit_kb} KiB (import.max_field_kb)")]
    Field { place: String, limit_kb: u64 },
    #[error(
        "the workbook holds {entries} files; at most {limit} are read (import.xlsx.max_entries)"
    )]
    Entries { entries: u64, limit: u64 },
    #[error(
        "the workbook's file `{name}` unpacks to {size_mb} MiB, more than {limit_mb} MiB \
         (import.xlsx.max_entry_mb)"
    )]
    Entry {
        name: String,
        size_mb: u64,
        limit_mb: u64,
    },
    #[error("the workbook unpacks to more than {limit_mb} MiB (import.xlsx.max_uncompressed_mb)")]
    Uncompressed { limit_mb: u64 },
    #[error(
        "the workbook's text is more than {limit_mb} MiB once read \
         (import.xlsx.max_uncompressed_mb)"
    )]
    Text { limit_mb: u64 },
    #[error(
        "the workbook's file `{name}` is compressed {ratio} to 1, more than {limit} to 1 \
         (import.xlsx.max_compression_ratio)"
    )]
    CompressionRatio {
        name: String,
        ratio: u64,
        limit: u64,
    },
    #[error("cell {cell} is past row {limit} (import.xlsx.max_rows)")]
    Rows { cell: String, limit: u32 },
    #[error("cell {cell} is past column {limit} (import.xlsx.max_columns)")]
    Columns { cell: String, limit: u32 },
    #[error(
        "the sheet holds more than {limit} cells, counting blank cells left of a row's last \
         value (import.xlsx.max_cells)"
    )]
    Cells { limit: u64 },
}

impl LimitExceeded {
    /// The setting that bounds what went past, as a dotted key.
    pub fn setting(&self) -> &'static str {
        match self {
            LimitExceeded::Upload { .. } => "import.max_upload_mb",
            LimitExceeded::Line { .. } => "import.max_line_kb",
            LimitExceeded::Field { .. } => "import.max_field_kb",
            LimitExceeded::Entries { .. } => "import.xlsx.max_entries",
            LimitExceeded::Entry { .. } => "import.xlsx.max_entry_mb",
            LimitExceeded::Uncompressed { .. } | LimitExceeded::Text { .. } => {
                "import.xlsx.max_uncompressed_mb"
            }
            LimitExceeded::CompressionRatio { .. } => "import.xlsx.max_compression_ratio",
            LimitExceeded::Rows { .. } => "import.xlsx.max_rows",
            LimitExceeded::Columns { .. } => "import.xlsx.max_columns",
            LimitExceeded::Cells { .. } => "import.xlsx.max_cells",
        }
    }

    /// The setting's value when it was refused.
    pub fn limit(&self) -> u64 {
        match self {
            LimitExceeded::Upload { limit_mb }
            | LimitExceeded::Uncompressed { limit_mb }
            | LimitExceeded::Text { limit_mb }
            | LimitExceeded::Entry { limit_mb, .. } => *limit_mb,
            LimitExceeded::Line { limit_kb, .. } | LimitExceeded::Field { limit_kb, .. } => {
                *limit_kb
            }
            LimitExceeded::Entries { limit, .. }
            | LimitExceeded::CompressionRatio { limit, .. }
            | LimitExceeded::Cells { limit } => *limit,
            LimitExceeded::Rows { limit, .. } | LimitExceeded::Columns { limit, .. } => {
                u64::from(*limit)
            }
        }
    }
}

/// MiB as bytes, saturating.
pub(crate) fn mib(n: u64) -> u64 {
    n.saturating_mul(1024 * 1024)
}

/// KiB as bytes, saturating.
pub(crate) fn kib(n: u64) -> u64 {
    n.saturating_mul(1024)
}

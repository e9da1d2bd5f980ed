//! Tests' reading of the README's generated sections (the rules table, the glossary),
//! which the tests compare with what the code generates.

/// The README's text between the markers `begin` and `end`, trimmed.
pub fn section(begin: &str, end: &str) -> &'static str {
    let readme = include_str!("../../../README.md");
    let (_, rest) = readme
        .split_once(begin)
        .unwrap_or_else(|| panic!("the README has no marker {begin}"));
    let (shown, _) = rest
        .split_once(end)
        .unwrap_or_else(|| panic!("the README has no marker {end}"));
    shown.trim()
}

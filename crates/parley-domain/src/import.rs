//! Mapping a table of contacts (CSV today; spreadsheets later) onto contact fields.
//! Works on plain cells so every file format shares the same rules and error reasons.
use crate::consent::ConsentCells;
use crate::contact::{clean, split_tags, ContactFields, NewContact};
use crate::phone::{Phone, PhoneError, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Phone,
    FirstName,
    LastName,
    Email,
    Company,
    Timezone,
    Tags,
    ConsentType,
    ConsentAt,
    ConsentText,
    ConsentUrl,
    /// Read but not kept: `consent_source` of an export (on import, the source of a
    /// consent is the file and line it is read from).
    Ignored,
    /// Any other column: kept as a custom field under its header.
    Custom(usize),
}

/// Which column holds what, decided once from the header row.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    columns: Vec<Column>,
    custom_names: Vec<String>,
}

/// A row read as a contact.
#[derive(Debug, Clone)]
pub struct ReadRow {
    pub contact: NewContact,
    /// Its consent cells, still text: a bad consent does not stop the contact.
    pub consent: ConsentCells,
    /// Why optional cells were left out (a bad email, time zone or tag): the contact is
    /// imported without them and the row reported.
    pub left_out: Vec<String>,
}

/// Why a row was not imported; `reason` is a stable code for programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file has no `phone` column (columns found: {0})")]
    NoPhoneColumn(String),
    #[error("the column `{0}` appears twice")]
    DuplicateColumn(String),
}

/// Header names are matched case-insensitively, ignoring spaces, `-` and `_`.
fn canonical(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn known_column(canon: &str) -> Option<Column> {
    Some(match canon {
        "phone" | "phonenumber" | "mobile" | "number" | "tel" | "telephone" => Column::Phone,
        "firstname" | "givenname" => Column::FirstName,
        "lastname" | "surname" | "familyname" => Column::LastName,
        "email" | "emailaddress" => Column::Email,
        "company" | "organization" | "organisation" => Column::Company,
        "timezone" | "tz" => Column::Timezone,
        "tags" | "tag" => Column::Tags,
        "consenttype" | "consent" => Column::ConsentType,
        "consentat" | "consentdate" | "consentedat" | "consenttime" => Column::ConsentAt,
        "consenttext" | "consentwording" => Column::ConsentText,
        "consenturl" | "consentlink" => Column::ConsentUrl,
        "consentsource" => Column::Ignored,
        _ => return None,
    })
}

impl ColumnMap {
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, HeaderError> {
        let mut columns = Vec::new();
        let mut custom_names: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for raw in headers {
            let canon = canonical(raw);
            let col = match known_column(&canon) {
                Some(c) => c,
                None => {
                    custom_names.push(raw.trim().trim_start_matches('\u{feff}').to_string());
                    Column::Custom(custom_names.len() - 1)
                }
            };
            if !matches!(col, Column::Custom(_)) || !canon.is_empty() {
                if seen.contains(&canon) {
                    return Err(HeaderError::DuplicateColumn(raw.trim().to_string()));
                }
                seen.push(canon);
            }
            columns.push(col);
        }
        if !columns.contains(&Column::Phone) {
            let found: Vec<String> = seen.iter().map(|s| format!("`{s}`")).collect();
            return Err(HeaderError::NoPhoneColumn(found.join(", ")));
        }
        Ok(ColumnMap {
            columns,
            custom_names,
        })
    }

    /// Turns one row of cells into a contact, or says why it cannot be one.
    pub fn contact<'a>(
        &self,
        cells: impl IntoIterator<Item = &'a str>,
        region: Region,
    ) -> Result<NewContact, RowError> {
        self.row(cells, region).map(|row| row.contact)
    }

    /// Turns one row of cells into a contact, its consent cells and what it left out, or
    /// says why it cannot be a contact: only a missing or bad phone stops a row.
    pub fn row<'a>(
        &self,
        cells: impl IntoIterator<Item = &'a str>,
        region: Region,
    ) -> Result<ReadRow, RowError> {
        let mut phone_cell = None;
        let mut fields = ContactFields::default();
        let mut tags_cell = None;
        let mut consent = ConsentCells::default();
        for (col, cell) in self.columns.iter().zip(cells) {
            match col {
                Column::ConsentType => consent.consent_type = clean(Some(cell)),
                Column::ConsentAt => consent.at = clean(Some(cell)),
                Column::ConsentText => consent.text = clean(Some(cell)),
                Column::ConsentUrl => consent.url = clean(Some(cell)),
                Column::Ignored => {}
                Column::Phone => phone_cell = Some(cell),
                Column::FirstName => fields.first_name = clean(Some(cell)),
                Column::LastName => fields.last_name = clean(Some(cell)),
                Column::Email => fields.email = clean(Some(cell)),
                Column::Company => fields.company = clean(Some(cell)),
                Column::Timezone => fields.timezone = clean(Some(cell)),
                Column::Tags => tags_cell = Some(cell),
                Column::Custom(i) => {
                    if let Some(v) = clean(Some(cell)) {
                        let name = &self.custom_names[*i];
                        if !name.is_empty() {
                            fields.custom_fields.insert(name.clone(), v);
                        }
                    }
                }
            }
        }
        let phone = match Phone::parse(phone_cell.unwrap_or(""), region) {
            Ok(p) => p,
            Err(PhoneError::Empty) => {
                return Err(RowError {
                    reason: "missing_phone",
                    message: "the phone cell is empty".into(),
                })
            }
            Err(e) => {
                return Err(RowError {
                    reason: "invalid_phone",
                    message: e.to_string(),
                })
            }
        };
        let mut left_out: Vec<String> = fields
            .drop_invalid()
            .0
            .into_iter()
            .map(|e| format!("{}: {}; left out", e.field, e.message))
            .collect();
        if let Some(cell) = tags_cell {
            let (tags, refused) = split_tags(cell);
            fields.tags = tags;
            left_out.extend(refused.into_iter().map(|why| format!("{why}; left out")));
        }
        Ok(ReadRow {
            contact: NewContact { phone, fields },
            consent,
            left_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(h: &[&str]) -> ColumnMap {
        ColumnMap::from_headers(h.iter().copied()).unwrap()
    }

    #[test]
    fn headers_map_loosely_and_others_become_custom_fields() {
        let m = map(&[
            "\u{feff}Phone Number",
            "First_Name",
            "E-mail",
            "Plan",
            "tags",
        ]);
        let c = m
            .contact(
                ["(415) 555-2671", " Ann ", "ann@example.com", "gold", "a;b"],
                Region::default(),
            )
            .unwrap();
        assert_eq!(c.phone.as_str(), "+14155552671");
        assert_eq!(c.fields.first_name.as_deref(), Some("Ann"));
        assert_eq!(c.fields.email.as_deref(), Some("ann@example.com"));
        assert_eq!(
            c.fields.custom_fields.get("Plan").map(String::as_str),
            Some("gold")
        );
        assert_eq!(c.fields.tags, vec!["a", "b"]);
    }

    #[test]
    fn consent_columns_are_read_apart_from_the_contact_and_an_exports_source_is_ignored() {
        let m = map(&[
            "phone",
            "Consent Type",
            "consent_at",
            "consent_url",
            "consent_source",
        ]);
        let ReadRow {
            contact: c,
            consent,
            ..
        } = m
            .row(
                [
                    "4155552671",
                    "express_written",
                    "2024-05-01",
                    "https://example.com/f",
                    "api: x",
                ],
                Region::default(),
            )
            .unwrap();
        assert!(
            c.fields.custom_fields.is_empty(),
            "{:?}",
            c.fields.custom_fields
        );
        assert_eq!(consent.consent_type.as_deref(), Some("express_written"));
        assert_eq!(consent.at.as_deref(), Some("2024-05-01"));
        assert_eq!(consent.url.as_deref(), Some("https://example.com/f"));
        // A bad consent value is the importer's to report: the contact is still a contact.
        assert!(m.row(["4155552671", "maybe"], Region::default()).is_ok());
    }

    #[test]
    fn header_problems_are_reported() {
        assert!(matches!(
            ColumnMap::from_headers(["name", "email"]),
            Err(HeaderError::NoPhoneColumn(_))
        ));
        assert!(matches!(
            ColumnMap::from_headers(["phone", "Phone"]),
            Err(HeaderError::DuplicateColumn(_))
        ));
    }

    #[test]
    fn bad_rows_say_why() {
        let m = map(&["phone", "email", "timezone"]);
        let r = Region::default();
        assert_eq!(
            m.contact(["", "", ""], r).unwrap_err().reason,
            "missing_phone"
        );
        assert_eq!(
            m.contact(["hello", "", ""], r).unwrap_err().reason,
            "invalid_phone"
        );
        // Short rows are fine: missing cells are empty.
        assert!(m.contact(["4155552671"], r).is_ok());
    }

    #[test]
    fn a_bad_optional_cell_is_left_out_and_the_row_kept() {
        let m = map(&["phone", "email", "timezone", "tags"]);
        let row = m
            .row(
                ["4155552671", "nope", "Mars/Base", "vip,<b>"],
                Region::default(),
            )
            .unwrap();
        assert_eq!(row.contact.fields.email, None);
        assert_eq!(row.contact.fields.timezone, None);
        assert_eq!(row.contact.fields.tags, vec!["vip"]);
        assert_eq!(
            row.left_out,
            vec![
                "email: `nope` is not an email address; left out",
                "timezone: `Mars/Base` is not an IANA time zone (e.g. America/New_York); left out",
                "tag `<b>` has characters other than letters, digits, - _ . :; left out",
            ]
        );
    }
}

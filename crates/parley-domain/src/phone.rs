//! Phone numbers in E.164 form, and their masked form for logs.
//!
//! Normalisation uses libphonenumber's metadata (the `phonenumber` crate) to understand
//! national formats, trunk prefixes and international dialling prefixes. We deliberately do
//! not require the number to be *assigned* in the metadata: fictional ranges such as the
//! sandbox's `+1555…` numbers must import, and the carrier is the final judge of whether a
//! number exists (Twilio answers 21211 for those that do not).
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An E.164 number: `+`, country code, subscriber number; 8 to 16 characters in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("`{0}` is not a phone number")]
    Unparseable(String),
    #[error("`{0}` has too few or too many digits")]
    BadLength(String),
    #[error("unknown default region `{0}` (use a two-letter country code such as US)")]
    UnknownRegion(String),
}

/// A region for numbers written without a country code, as an ISO 3166 two-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    pub fn parse(code: &str) -> Result<Region, PhoneError> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map(Region)
            .map_err(|_| PhoneError::UnknownRegion(code.to_string()))
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(phonenumber::country::Id::US)
    }
}

impl Phone {
    /// Normalises free-form input (`(415) 555-0100`, `+44 20 7946 0958`, `0044…`) to E.164,
    /// reading numbers without a country code as numbers of `region`.
    pub fn parse(input: &str, region: Region) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !trimmed.chars().any(|c| c.is_ascii_digit())
            || trimmed
                .chars()
                .any(|c| c.is_alphabetic() && !matches!(c, 'x' | 'X'))
        {
            return Err(PhoneError::Unparseable(trimmed.to_string()));
        }
        let number = phonenumber::parse(Some(region.0), trimmed)
            .map_err(|_| PhoneError::Unparseable(trimmed.to_string()))?;
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Self::from_e164(&e164).map_err(|_| PhoneError::BadLength(trimmed.to_string()))
    }

    /// Accepts only text already in E.164 form (what the API stores and returns).
    pub fn from_e164(s: &str) -> Result<Phone, PhoneError> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| PhoneError::Unparseable(s.to_string()))?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(PhoneError::Unparseable(s.to_string()));
        }
        // North American numbers are always 10 national digits; elsewhere E.164 allows 7-15.
        let ok = if let Some(national) = digits.strip_prefix('1') {
            national.len() == 10
        } else {
            (7..=15).contains(&digits.len())
        };
        if ok {
            Ok(Phone(s.to_string()))
        } else {
            Err(PhoneError::BadLength(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form to put in logs: country code and last two digits only.
    pub fn masked(&self) -> MaskedPhone<'_> {
        MaskedPhone(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::from_e164(s)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::from_e164(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// Displays any phone-like text with all but the leading `+`/first digit and the last two
/// digits hidden: `+1*******01`. Works on raw input too, so log lines never need the
/// number to be valid first.
pub struct MaskedPhone<'a>(pub &'a str);

impl fmt::Display for MaskedPhone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let keep_head = if chars.first() == Some(&'+') { 2 } else { 1 };
        if chars.len() <= keep_head + 2 {
            return f.write_str(&"*".repeat(chars.len()));
        }
        let tail = chars.len() - 2;
        for (i, c) in chars.iter().enumerate() {
            if i < keep_head || i >= tail {
                write!(f, "{c}")?;
            } else {
                f.write_str("*")?;
            }
        }
        Ok(())
    }
}

/// Fewest and most digits a run must have to be taken for a phone number in free text:
/// seven covers local numbers without an area code, fifteen is E.164's maximum.
const MIN_TEXT_DIGITS: usize = 7;
const MAX_TEXT_DIGITS: usize = 15;

/// Masks everything in `text` that looks like a phone number, for text Parley did not
/// write itself (carrier and agent error messages, response bodies) before it is logged
/// or stored. Recognised, when they carry 7 to 15 digits:
/// - `+` (or URL-encoded `%2B`) followed by digits, with single spaces, dashes, dots or
///   parentheses between groups: `+15550100008`, `+1 (415) 555-2671`;
/// - a bare run of digits standing alone (not inside a word): `5551234567`;
/// - bare groups in a phone's shape, each of 2+ digits and the last of 4+:
///   `(415) 555-2671`, `555-0100`. Dates such as `2026-12-02` and IP addresses do not
///   have that shape and are left alone.
///
/// Each number becomes its [`MaskedPhone`] form, separators dropped.
pub fn mask_phone_numbers(text: &str) -> std::borrow::Cow<'_, str> {
    use fmt::Write as _;
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match phone_in_text_at(bytes, i) {
            Some(found) => {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                // Matches start and end on ASCII bytes, so these are char boundaries.
                out.push_str(&text[copied..i]);
                let _ = write!(out, "{}", MaskedPhone(&found.canonical));
                i = found.end;
                copied = found.end;
            }
            None => i += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&text[copied..]);
            std::borrow::Cow::Owned(out)
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

struct FoundPhone {
    /// `+` and digits, or digits alone.
    canonical: String,
    /// Byte index just past the number's last digit.
    end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')')
}

/// The phone-like number starting exactly at `start`, if there is one.
fn phone_in_text_at(bytes: &[u8], start: usize) -> Option<FoundPhone> {
    let rest = &bytes[start..];
    let (plus, mut j) = match rest.first()? {
        b'+' => (true, start + 1),
        b'%' if rest.len() > 2 && rest[1] == b'2' && rest[2].eq_ignore_ascii_case(&b'b') => {
            (true, start + 3)
        }
        b if b.is_ascii_digit() || *b == b'(' => (false, start),
        _ => return None,
    };
    // A bare number must stand alone: the digits inside `CA12345678` are not one.
    if !plus && start > 0 && is_word_byte(bytes[start - 1]) {
        return None;
    }
    if !plus && bytes[j] == b'(' {
        j += 1;
    }
    let mut groups: Vec<(usize, usize)> = Vec::new(); // (digits, end index) per group
    let mut digits = String::new();
    loop {
        let group_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            digits.push(char::from(bytes[j]));
            j += 1;
        }
        if j == group_start {
            break;
        }
        groups.push((j - group_start, j));
        // One or two separators (`-`, `) `, ` (`) may join this group to the next.
        let next_digit = (1..=2).find(|&k| {
            bytes.get(j + k).is_some_and(u8::is_ascii_digit)
                && bytes[j..j + k].iter().all(|&b| is_separator(b))
        });
        match next_digit {
            Some(k) => j += k,
            None => break,
        }
    }
    let phone_shaped = |groups: &[(usize, usize)]| {
        groups.len() == 1
            || (groups.iter().all(|&(n, _)| n >= 2) && groups.last().is_some_and(|&(n, _)| n >= 4))
    };
    if !plus && !phone_shaped(&groups) {
        // Not a grouped number: the first run of digits may still be one on its own.
        let first = *groups.first()?;
        groups.truncate(1);
        digits.truncate(first.0);
    }
    let &(_, end) = groups.last()?;
    if !plus && bytes.get(end).is_some_and(|&b| is_word_byte(b)) {
        return None;
    }
    if !(MIN_TEXT_DIGITS..=MAX_TEXT_DIGITS).contains(&digits.len()) {
        return None;
    }
    let canonical = if plus { format!("+{digits}") } else { digits };
    Some(FoundPhone { canonical, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(s: &str) -> Result<Phone, PhoneError> {
        Phone::parse(s, Region::default())
    }

    #[test]
    fn national_formats_normalise_to_e164() {
        assert_eq!(us("(415) 555-2671").unwrap().as_str(), "+14155552671");
        assert_eq!(us("415.555.2671").unwrap().as_str(), "+14155552671");
        assert_eq!(us("1 415 555 2671").unwrap().as_str(), "+14155552671");
        assert_eq!(us("+1 415 555 2671").unwrap().as_str(), "+14155552671");
    }

    #[test]
    fn sandbox_numbers_are_accepted() {
        assert_eq!(us("+15550100001").unwrap().as_str(), "+15550100001");
        assert_eq!(us("555-010-0007").unwrap().as_str(), "+15550100007");
    }

    #[test]
    fn other_regions_and_international_prefixes() {
        let gb = Region::parse("gb").unwrap();
        assert_eq!(
            Phone::parse("020 7946 0958", gb).unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(us("+44 20 7946 0958").unwrap().as_str(), "+442079460958");
        assert_eq!(
            Phone::parse("0049 30 901820", Region::parse("DE").unwrap())
                .unwrap()
                .as_str(),
            "+4930901820"
        );
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        assert_eq!(us(""), Err(PhoneError::Empty));
        assert!(matches!(us("call me"), Err(PhoneError::Unparseable(_))));
        assert!(us("12").is_err());
        assert!(us("555-0100").is_err());
        assert!(us("+1 415 555 26711").is_err());
        assert!(Region::parse("XX").is_err());
    }

    #[test]
    fn e164_only_accepts_canonical_text() {
        assert!(Phone::from_e164("+14155552671").is_ok());
        assert!(Phone::from_e164("14155552671").is_err());
        assert!(Phone::from_e164("+1415555267").is_err());
        assert!(Phone::from_e164("+0123456789").is_err());
    }

    #[test]
    fn masking_hides_the_subscriber() {
        let p = us("+14155552671").unwrap();
        assert_eq!(p.masked().to_string(), "+1********71");
        assert_eq!(MaskedPhone("12").to_string(), "**");
        assert!(!p.masked().to_string().contains("555"));
    }

    #[test]
    fn free_text_numbers_are_masked() {
        let twilio = "The 'To' number +15550100008 is not a valid phone number.";
        assert_eq!(
            mask_phone_numbers(twilio),
            "The 'To' number +1********08 is not a valid phone number."
        );
        let bare = "The 'To' number 5551234567 is not a valid phone number.";
        assert_eq!(
            mask_phone_numbers(bare),
            "The 'To' number 5*******67 is not a valid phone number."
        );
        assert_eq!(
            mask_phone_numbers("call +1 (415) 555-2671 or (415) 555-2672, ext 555-0100"),
            "call +1********71 or 4*******72, ext 5****00"
        );
        assert_eq!(
            mask_phone_numbers("GET /Calls.json?To=%2B15550100001&From=%2b15005550006"),
            "GET /Calls.json?To=+1********01&From=+1********06"
        );
        assert_eq!(mask_phone_numbers("+44 20 7946 0958."), "+4*********58.");
    }

    #[test]
    fn other_numbers_in_free_text_are_left_alone() {
        for text in [
            "code 21211, http 400",
            "on 2026-12-02 at 10.0.0.1 or 192.168.100.200",
            "call CA1234567890abcdef and v0=1234567abc",
            "conv_01234567 ran 1.5 s",
            "1234567abc",
            "+1 2 3",
            "no number at all, +, %2B and ( )",
            "é+ü 12",
        ] {
            assert_eq!(mask_phone_numbers(text), text);
            assert!(matches!(
                mask_phone_numbers(text),
                std::borrow::Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn masked_text_keeps_no_subscriber_digits() {
        let text = "to +15550100008 (twice: +15550100008), from 4155552671";
        let masked = mask_phone_numbers(text);
        assert!(!masked.contains("5550100"), "{masked}");
        assert!(!masked.contains("555267"), "{masked}");
        assert_eq!(mask_phone_numbers(&masked), masked, "masking is idempotent");
    }
}

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
}

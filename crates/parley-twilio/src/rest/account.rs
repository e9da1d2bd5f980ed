//! The account (`Accounts/{sid}.json`) and its own numbers: purchased
//! (`IncomingPhoneNumbers`) and verified caller IDs (`OutgoingCallerIds`). A call's `From`
//! must be one of them, or Twilio refuses it (21210).

use serde::Deserialize;

/// The account, as `GET /2010-04-01/Accounts/{sid}.json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// `Trial` or `Full`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

use super::resource::empty_as_none;

/// PageSize Twilio allows at most on list resources.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Where an account number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    /// Bought from Twilio (`IncomingPhoneNumbers`).
    Purchased,
    /// Owned elsewhere and verified with Twilio (`OutgoingCallerIds`); can be a caller ID.
    VerifiedCallerId,
}

/// A number the account may call from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountNumber {
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub kind: NumberKind,
    /// Whether the number can place voice calls (verified caller IDs always can).
    pub voice: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Capabilities {
    #[serde(default)]
    pub voice: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IncomingNumber {
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallerId {
    pub phone_number: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
}

/// One page of `IncomingPhoneNumbers.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct IncomingNumberPage {
    pub incoming_phone_numbers: Vec<IncomingNumber>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub next_page_uri: Option<String>,
}

/// One page of `OutgoingCallerIds.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct CallerIdPage {
    pub outgoing_caller_ids: Vec<CallerId>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub next_page_uri: Option<String>,
}

impl From<IncomingNumber> for AccountNumber {
    fn from(n: IncomingNumber) -> Self {
        Self {
            phone_number: n.phone_number,
            friendly_name: n.friendly_name.filter(|s| !s.is_empty()),
            kind: NumberKind::Purchased,
            // A number listed without capabilities is taken as voice-capable, as most are.
            voice: n.capabilities.is_none_or(|c| c.voice),
        }
    }
}

impl From<CallerId> for AccountNumber {
    fn from(n: CallerId) -> Self {
        Self {
            phone_number: n.phone_number,
            friendly_name: n.friendly_name.filter(|s| !s.is_empty()),
            kind: NumberKind::VerifiedCallerId,
            voice: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incoming_numbers_page_reads_numbers_and_voice_capability() {
        let json = r#"{
          "first_page_uri": "/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json?PageSize=50&Page=0",
          "incoming_phone_numbers": [
            {"sid": "PN1", "phone_number": "+14155550100", "friendly_name": "(415) 555-0100",
             "capabilities": {"voice": true, "sms": true, "mms": false, "fax": false}},
            {"sid": "PN2", "phone_number": "+14155550101", "friendly_name": "",
             "capabilities": {"voice": false, "sms": true, "mms": false, "fax": false}}
          ],
          "next_page_uri": "", "page": 0, "page_size": 50
        }"#;
        let page: IncomingNumberPage = serde_json::from_str(json).unwrap();
        assert_eq!(page.next_page_uri, None);
        let numbers: Vec<AccountNumber> = page
            .incoming_phone_numbers
            .into_iter()
            .map(Into::into)
            .collect();
        assert_eq!(numbers[0].friendly_name.as_deref(), Some("(415) 555-0100"));
        assert!(numbers[0].voice);
        assert_eq!(numbers[1].friendly_name, None);
        assert!(!numbers[1].voice);
    }

    #[test]
    fn a_caller_id_page_reads_verified_numbers() {
        let json = r#"{"outgoing_caller_ids": [{"sid": "PN3", "phone_number": "+14155550199",
          "friendly_name": "Front desk"}], "next_page_uri": "/2010-04-01/Accounts/AC1/OutgoingCallerIds.json?Page=1"}"#;
        let page: CallerIdPage = serde_json::from_str(json).unwrap();
        assert!(page.next_page_uri.is_some());
        let number = AccountNumber::from(page.outgoing_caller_ids.into_iter().next().unwrap());
        assert_eq!(number.kind, NumberKind::VerifiedCallerId);
        assert!(number.voice);
    }
}

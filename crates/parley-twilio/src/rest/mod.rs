//! Twilio Programmable Voice REST client (reference A, B.6).

mod account;
mod error;
mod params;
mod resource;

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

pub use account::{Account, AccountNumber, NumberKind};
pub use error::{classify, ErrorClass, Failure, TwilioError};
pub use params::{
    CallFilter, CallInstructions, CallUpdate, CreateCall, FormParams, MachineDetection,
    MachineDetectionMode, Recording, RecordingChannels, RecordingEvent, StatusCallbackEvent,
};
pub use resource::{Call, CallPage};

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
const API_VERSION: &str = "2010-04-01";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pages read per number list: 10 × 1000 numbers bounds one listing.
const MAX_NUMBER_PAGES: usize = 10;
/// Recordings can be tens of megabytes.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Client for one Twilio account. Cheap to clone (shares the connection pool).
#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    /// Debug prints `[REDACTED]`.
    auth_token: SecretString,
}

impl TwilioClient {
    /// A client for `https://api.twilio.com` with Basic auth `account_sid:auth_token`.
    pub fn new(account_sid: impl Into<String>, auth_token: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            http,
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            auth_token,
        }
    }

    /// Points the client elsewhere (a simulator, a regional edge). Trailing `/` is ignored.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Uses a caller-configured HTTP client (timeouts, proxies, shared pool).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn account_url(&self, rest: &str) -> String {
        format!(
            "{}/{API_VERSION}/Accounts/{}/{rest}",
            self.base_url, self.account_sid
        )
    }

    fn request(&self, method: Method, url: &str, timeout: Duration) -> RequestBuilder {
        self.http
            .request(method, url)
            .timeout(timeout)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
    }

    /// Places an outbound call. Twilio answers `201` with the call `queued`.
    pub async fn create_call(&self, call: &CreateCall) -> Result<Call, TwilioError> {
        call.validate()?;
        let url = self.account_url("Calls.json");
        let request = self
            .request(Method::POST, &url, REQUEST_TIMEOUT)
            .form(&call.form_params());
        send_json(request).await
    }

    /// Hangs up, cancels or redirects a call.
    pub async fn update_call(
        &self,
        call_sid: &str,
        update: &CallUpdate,
    ) -> Result<Call, TwilioError> {
        update.validate()?;
        check_sid(call_sid)?;
        let url = self.account_url(&format!("Calls/{call_sid}.json"));
        let request = self
            .request(Method::POST, &url, REQUEST_TIMEOUT)
            .form(&update.form_params());
        send_json(request).await
    }

    /// `Status=completed`.
    pub async fn hang_up(&self, call_sid: &str) -> Result<Call, TwilioError> {
        self.update_call(call_sid, &CallUpdate::Hangup).await
    }

    pub async fn fetch_call(&self, call_sid: &str) -> Result<Call, TwilioError> {
        check_sid(call_sid)?;
        let url = self.account_url(&format!("Calls/{call_sid}.json"));
        send_json(self.request(Method::GET, &url, REQUEST_TIMEOUT)).await
    }

    /// First page of calls matching `filter`; follow with [`next_calls_page`](Self::next_calls_page).
    pub async fn list_calls(&self, filter: &CallFilter) -> Result<CallPage, TwilioError> {
        let url = self.account_url("Calls.json");
        let request = self
            .request(Method::GET, &url, REQUEST_TIMEOUT)
            .query(&filter.query_params());
        send_json(request).await
    }

    /// The page after `page`, or `None` if it was the last one.
    pub async fn next_calls_page(&self, page: &CallPage) -> Result<Option<CallPage>, TwilioError> {
        let Some(uri) = &page.next_page_uri else {
            return Ok(None);
        };
        let url = self.resolve_page_uri(uri)?;
        send_json(self.request(Method::GET, &url, REQUEST_TIMEOUT))
            .await
            .map(Some)
    }

    /// The account itself: proves the credentials and says whether it is active.
    pub async fn fetch_account(&self) -> Result<Account, TwilioError> {
        let url = format!(
            "{}/{API_VERSION}/Accounts/{}.json",
            self.base_url, self.account_sid
        );
        check_sid(&self.account_sid)?;
        send_json(self.request(Method::GET, &url, REQUEST_TIMEOUT)).await
    }

    /// Every number the account can call from: purchased voice numbers, then verified
    /// caller IDs (at most [`MAX_NUMBER_PAGES`] pages of each).
    pub async fn list_account_numbers(&self) -> Result<Vec<AccountNumber>, TwilioError> {
        let query = format!("?PageSize={}", account::MAX_PAGE_SIZE);
        let mut found = self
            .collect_pages(
                format!("IncomingPhoneNumbers.json{query}"),
                |p: account::IncomingNumberPage| (p.incoming_phone_numbers, p.next_page_uri),
            )
            .await?;
        found.extend(
            self.collect_pages(
                format!("OutgoingCallerIds.json{query}"),
                |p: account::CallerIdPage| (p.outgoing_caller_ids, p.next_page_uri),
            )
            .await?,
        );
        Ok(found)
    }

    /// Reads a list resource page by page (at most [`MAX_NUMBER_PAGES`]).
    async fn collect_pages<P, I>(
        &self,
        first: String,
        split: impl Fn(P) -> (Vec<I>, Option<String>),
    ) -> Result<Vec<AccountNumber>, TwilioError>
    where
        P: DeserializeOwned,
        AccountNumber: From<I>,
    {
        let mut found = Vec::new();
        let mut url = Some(self.account_url(&first));
        for _ in 0..MAX_NUMBER_PAGES {
            let Some(next) = url.take() else { break };
            let (items, next_uri) =
                split(send_json(self.request(Method::GET, &next, REQUEST_TIMEOUT)).await?);
            found.extend(items.into_iter().map(AccountNumber::from));
            url = next_uri.map(|u| self.resolve_page_uri(&u)).transpose()?;
        }
        Ok(found)
    }

    /// Twilio returns relative URIs; an absolute one is followed only if it points at our
    /// own base URL, so credentials are never sent to another host.
    fn resolve_page_uri(&self, uri: &str) -> Result<String, TwilioError> {
        if uri.starts_with('/') {
            return Ok(format!("{}{uri}", self.base_url));
        }
        if uri.starts_with(&format!("{}/", self.base_url)) {
            return Ok(uri.to_owned());
        }
        Err(TwilioError::invalid_request(format!(
            "refusing to follow next page outside the API base URL: {uri}"
        )))
    }

    /// URL of a recording's WAV file.
    pub fn recording_wav_url(&self, recording_sid: &str) -> String {
        self.account_url(&format!("Recordings/{recording_sid}.wav"))
    }

    /// Downloads a recording as WAV (Basic auth is always sent; harmless when not required).
    pub async fn download_recording_wav(&self, recording_sid: &str) -> Result<Bytes, TwilioError> {
        check_sid(recording_sid)?;
        let url = self.recording_wav_url(recording_sid);
        let response = self
            .request(Method::GET, &url, DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| error::from_transport(&e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| error::from_transport(&e))?;
        if !(200..300).contains(&status) {
            return Err(error::from_response(status, &body));
        }
        Ok(body)
    }
}

/// SIDs go into URL paths: allow only the characters SIDs are made of.
fn check_sid(sid: &str) -> Result<(), TwilioError> {
    if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TwilioError::invalid_request(format!(
            "malformed sid {sid:?}"
        )));
    }
    Ok(())
}

async fn send_json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, TwilioError> {
    let response = request
        .send()
        .await
        .map_err(|e| error::from_transport(&e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| error::from_transport(&e))?;
    if !(200..300).contains(&status) {
        return Err(error::from_response(status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| error::invalid_body(status, &e))
}

#[cfg(test)]
mod tests;

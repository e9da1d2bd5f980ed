//! OAuth2 access tokens fetched from a token endpoint and reused until shortly before
//! they expire (Microsoft Graph's client credentials, Google's service-account JWTs).
use secrecy::SecretString;
use serde::Deserialize;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A token is renewed this long before it expires, so none expires in flight.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A token endpoint's success answer (RFC 6749 §5.1), the fields Parley uses.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
}

/// The current token, if any. Concurrent callers wait for one fetch rather than each
/// fetching their own.
#[derive(Default)]
pub struct CachedToken(Mutex<Option<(SecretString, Instant)>>);

impl CachedToken {
    /// The cached token, or one from `fetch` when there is none or it is about to expire.
    pub async fn get_or_fetch<E, Fut>(&self, fetch: impl FnOnce() -> Fut) -> Result<SecretString, E>
    where
        Fut: Future<Output = Result<TokenResponse, E>>,
    {
        let mut cached = self.0.lock().await;
        if let Some((token, renew_at)) = cached.as_ref() {
            if Instant::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let token = fetch().await?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(RENEW_MARGIN);
        let secret = SecretString::from(token.access_token);
        *cached = Some((secret.clone(), Instant::now() + lifetime));
        Ok(secret)
    }

    /// Drops the token (the service said it is no longer valid); the next call fetches.
    pub async fn forget(&self) {
        *self.0.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn fetch(count: &AtomicU32, expires_in: u64) -> Result<TokenResponse, ()> {
        let n = count.fetch_add(1, Ordering::SeqCst);
        Ok(TokenResponse {
            access_token: format!("token-{n}"),
            expires_in,
        })
    }

    #[tokio::test]
    async fn a_token_is_reused_until_it_nears_expiry_and_refetched_after_forget() {
        use secrecy::ExposeSecret;
        let count = AtomicU32::new(0);
        let cache = CachedToken::default();
        let first = cache.get_or_fetch(|| fetch(&count, 3600)).await.unwrap();
        let again = cache.get_or_fetch(|| fetch(&count, 3600)).await.unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        assert_eq!(count.load(Ordering::SeqCst), 1);

        cache.forget().await;
        let renewed = cache.get_or_fetch(|| fetch(&count, 30)).await.unwrap();
        assert_eq!(renewed.expose_secret(), "token-1");
        // 30 s is inside the renewal margin: the next call fetches again.
        let next = cache.get_or_fetch(|| fetch(&count, 3600)).await.unwrap();
        assert_eq!(next.expose_secret(), "token-2");
    }
}

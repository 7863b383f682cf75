//! The HTTP hook rotator: keystead's stand-in for a rotation Lambda. Each step is POSTed as the
//! Lambda event `{"Step", "SecretId", "ClientRequestToken"}` to a configured `http://` URL and
//! signed with keystead's Ed25519 key so the hook can tell the request came from keystead.
//!
//! Signature (hook authors verify it with [`verify_hook_request`]):
//! ```text
//! X-Keystead-Timestamp: <unix seconds, decimal>
//! X-Keystead-Signature: base64(Ed25519(signing-input))          ; standard alphabet, padded
//! signing-input = "keystead-rotation-hook-v1" LF timestamp LF body
//! ```
//! The timestamp bounds replay to the verifier's allowed skew; a replayed step inside it is
//! harmless because steps are idempotent. The hook does the step's work itself (calling
//! keystead's Secrets Manager API with its own credentials, as a Lambda does) and answers 2xx on
//! success; any other status fails the step with the body's message (`errorMessage`, `message`
//! or `Message` of a JSON body, else its text, cut to 1 KiB).
//!
//! This module must not follow redirects or talk TLS (not yet supported: `https://` URLs are
//! refused when the rotator is built).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use keystead_crypto::SigningKey;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpStream;

use crate::{Error, Rotator, SecretAccess, Step};

/// The header carrying the request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-keystead-timestamp";
/// The header carrying the base64 Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-keystead-signature";
/// The purpose string that starts every signed input, so a hook signature can never be taken for
/// another keystead signature (such as an audit digest).
pub const HOOK_SIGNATURE_CONTEXT: &str = "keystead-rotation-hook-v1";
/// The most of a hook's response body that is read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The most of a hook's error message kept.
const MAX_MESSAGE_CHARS: usize = 1024;

/// The bytes that are signed: [`HOOK_SIGNATURE_CONTEXT`], LF, `timestamp`, LF, `body`.
pub fn hook_signing_input(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut input =
        Vec::with_capacity(HOOK_SIGNATURE_CONTEXT.len() + timestamp.len() + 2 + body.len());
    input.extend_from_slice(HOOK_SIGNATURE_CONTEXT.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(timestamp.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(body);
    input
}

/// Checks that a hook request was signed by the holder of `public_key_der` (an Ed25519
/// SubjectPublicKeyInfo, as `keystead` exports it) less than `max_skew` away from `now`.
///
/// Fails with [`Error::HookRequestRejected`] naming the reason: a missing or malformed header, a
/// timestamp too far from `now`, or a signature that does not verify.
pub fn verify_hook_request(
    public_key_der: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    max_skew: Duration,
) -> Result<(), Error> {
    let reject = |reason: &'static str| Error::HookRequestRejected { reason };
    let timestamp = headers
        .get(TIMESTAMP_HEADER)
        .ok_or_else(|| reject("the timestamp header is missing"))?
        .to_str()
        .map_err(|_| reject("the timestamp header is not text"))?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| reject("the timestamp is not a decimal number of seconds"))?;
    let skew = (now.unix_timestamp() as i128 - seconds as i128).unsigned_abs();
    if skew > max_skew.as_secs() as u128 {
        return Err(reject("the timestamp is too far from the current time"));
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| reject("the signature header is missing"))?;
    let signature = STANDARD
        .decode(signature.as_bytes())
        .map_err(|_| reject("the signature is not base64"))?;
    if !keystead_crypto::signing::verify(
        public_key_der,
        &hook_signing_input(timestamp, body),
        &signature,
    ) {
        return Err(reject("the signature does not verify"));
    }
    Ok(())
}

/// A source of the current time, so tests can move it.
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// POSTs each rotation step to a hook URL, signed (see the module documentation).
pub struct HttpHookRotator {
    url: Uri,
    authority: String,
    port: u16,
    host: String,
    signing_key: Arc<SigningKey>,
    timeout: Duration,
    clock: Clock,
}

impl HttpHookRotator {
    /// A rotator for hook `url` (`http://host[:port]/path`), signing with `signing_key`; 30 s
    /// timeout per step. `https://` and other schemes are [`Error::InvalidHookUrl`].
    pub fn new(url: &str, signing_key: Arc<SigningKey>) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidHookUrl {
            url: url.chars().take(256).collect(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// hook URLs are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("the URL has no host"))?
            .clone();
        if authority.as_str().contains('@') {
            return Err(invalid("the URL must not carry credentials"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Self {
            port: authority.port_u16().unwrap_or(80),
            authority: authority.to_string(),
            host,
            url: uri,
            signing_key,
            timeout: Duration::from_secs(30),
            clock: Arc::new(OffsetDateTime::now_utc),
        })
    }

    /// Fails a step that takes longer than `timeout` (connect, send and response).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Signs with the time `clock` gives instead of the system clock (tests, and servers with
    /// a test clock).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The signed request for one step.
    fn request(
        &self,
        step: Step,
        secret_id: &str,
        token: &str,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let body = serde_json::to_vec(&serde_json::json!({
            "Step": step.as_str(),
            "SecretId": secret_id,
            "ClientRequestToken": token,
        }))
        .map_err(Error::internal)?;
        let timestamp = (self.clock)().unix_timestamp().to_string();
        let signature = STANDARD.encode(
            self.signing_key
                .sign(&hook_signing_input(&timestamp, &body)),
        );
        let path = self
            .url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "keystead-rotation")
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(Error::internal)
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, Bytes), String> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "hook connection closed with an error");
            }
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

/// The message of a failed hook's response body.
fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|json| {
        ["errorMessage", "message", "Message"]
            .iter()
            .find_map(|k| json.get(k).and_then(Value::as_str).map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

#[async_trait]
impl Rotator for HttpHookRotator {
    async fn run_step(
        &self,
        step: Step,
        secret_id: &str,
        token: &str,
        _access: &dyn SecretAccess,
    ) -> Result<(), Error> {
        let request = self.request(step, secret_id, token)?;
        let url = self.url.to_string();
        let (status, body) = match tokio::time::timeout(self.timeout, self.send(request)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(reason)) => return Err(Error::HookUnreachable { url, step, reason }),
            Err(_) => {
                return Err(Error::HookUnreachable {
                    url,
                    step,
                    reason: format!("no answer within {:?}", self.timeout),
                });
            }
        };
        if status.is_success() {
            return Ok(());
        }
        Err(Error::HookFailed {
            url,
            step,
            status: status.as_u16(),
            message: error_message(&body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &SigningKey, timestamp: &str, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().expect("header"));
        let signature = STANDARD.encode(key.sign(&hook_signing_input(timestamp, body)));
        headers.insert(SIGNATURE_HEADER, signature.parse().expect("header"));
        headers
    }

    #[test]
    fn a_fresh_signed_request_verifies() {
        let key = SigningKey::generate().expect("key");
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let headers = signed(&key, "1800000010", b"{}");
        verify_hook_request(
            &key.public_key_der(),
            &headers,
            b"{}",
            now,
            Duration::from_secs(300),
        )
        .expect("valid");
    }

    #[test]
    fn forged_tampered_or_old_requests_are_refused() {
        let key = SigningKey::generate().expect("key");
        let other = SigningKey::generate().expect("key");
        let der = key.public_key_der();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let skew = Duration::from_secs(300);
        let reason = |r: Result<(), Error>| match r {
            Err(Error::HookRequestRejected { reason }) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        };

        let forged = signed(&other, "1800000000", b"{}");
        assert_eq!(
            reason(verify_hook_request(&der, &forged, b"{}", now, skew)),
            "the signature does not verify"
        );

        let good = signed(&key, "1800000000", b"{}");
        assert_eq!(
            reason(verify_hook_request(&der, &good, b"{\"x\":1}", now, skew)),
            "the signature does not verify"
        );

        let old = signed(&key, "1799999000", b"{}");
        assert_eq!(
            reason(verify_hook_request(&der, &old, b"{}", now, skew)),
            "the timestamp is too far from the current time"
        );
        let future = signed(&key, "1800001000", b"{}");
        assert!(verify_hook_request(&der, &future, b"{}", now, skew).is_err());

        // The timestamp is covered by the signature: moving it forward breaks it.
        let mut moved = signed(&key, "1799999000", b"{}");
        moved.insert(TIMESTAMP_HEADER, "1800000000".parse().expect("header"));
        assert_eq!(
            reason(verify_hook_request(&der, &moved, b"{}", now, skew)),
            "the signature does not verify"
        );

        let mut missing = good.clone();
        missing.remove(SIGNATURE_HEADER);
        assert_eq!(
            reason(verify_hook_request(&der, &missing, b"{}", now, skew)),
            "the signature header is missing"
        );
        let mut missing = good.clone();
        missing.remove(TIMESTAMP_HEADER);
        assert_eq!(
            reason(verify_hook_request(&der, &missing, b"{}", now, skew)),
            "the timestamp header is missing"
        );
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        let key = Arc::new(SigningKey::generate().expect("key"));
        assert!(HttpHookRotator::new("http://127.0.0.1:8080/rotate", key.clone()).is_ok());
        for bad in [
            "https://example.com/",
            "ftp://x/",
            "not a url",
            "http://u:p@host/",
        ] {
            assert!(
                matches!(
                    HttpHookRotator::new(bad, key.clone()),
                    Err(Error::InvalidHookUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_messages_come_from_the_lambda_shape_or_the_text() {
        assert_eq!(error_message(br#"{"errorMessage":"db down"}"#), "db down");
        assert_eq!(error_message(br#"{"Message":"nope"}"#), "nope");
        assert_eq!(error_message(b"plain failure"), "plain failure");
        assert_eq!(error_message(&[b'x'; 5000]).len(), MAX_MESSAGE_CHARS);
    }
}

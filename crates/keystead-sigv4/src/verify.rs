//! Verification: [`SignedRequest::verify`] checks a parsed request's time window, signed
//! headers, credential scope and signature against the secret access key, and returns
//! [`Verified`], the proof that later layers require. The signature comparison is constant-time.
//!
//! This module does not look access keys up or decide what a session token means: the caller
//! resolves [`SignedRequest::access_key_id`] to a secret before verifying, and the session token
//! after.

use std::fmt;

use keystead_crypto::digest::{constant_time_eq, hmac_sha256, sha256};
use time::OffsetDateTime;

use crate::canonical::{CanonicalInput, write_canonical_request, write_string_to_sign};
use crate::date::AmzDate;
use crate::error::{Error, ScopeProblem};
use crate::key::{SigningKey, SigningKeyCache, derive_signing_key};
use crate::parse::{DateSource, SignatureForm, SignedRequest, TokenSource};
use crate::{MAX_CLOCK_SKEW, RequestParts, TERMINATOR, UNSIGNED_PAYLOAD, X_AMZ_CONTENT_SHA256};

/// Proof that a request's SigV4 signature was verified: only [`SignedRequest::verify`] (and
/// the loudly named [`SignedRequest::insecure_accept_unverified`]) make one. Handlers that
/// require a `Verified` cannot skip authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    access_key_id: String,
    session_token: Option<String>,
    region: String,
    service: String,
    signed_at: OffsetDateTime,
    form: SignatureForm,
}

impl Verified {
    /// The access key whose secret signed the request.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token that came with temporary credentials; still to be checked against the
    /// session the access key belongs to.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The region of the credential scope: the region the request addresses.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service of the credential scope (the `expected_service` it was checked against).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// When the request was signed (`X-Amz-Date`).
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
    }

    /// Header or presigned form.
    pub fn form(&self) -> SignatureForm {
        self.form
    }
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("access_key_id", &self.access_key_id)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_at", &self.signed_at)
            .field("form", &self.form)
            .finish()
    }
}

/// The payload hash that goes into the canonical request.
enum PayloadHash {
    Hex([u8; 64]),
    Unsigned,
}

impl PayloadHash {
    fn as_str(&self) -> &str {
        match self {
            PayloadHash::Hex(hex) => {
                std::str::from_utf8(hex).expect("invariant: hex digits are ASCII")
            }
            PayloadHash::Unsigned => UNSIGNED_PAYLOAD,
        }
    }
}

impl SignedRequest {
    /// Verifies the request: the time window (`now` within 15 minutes of `X-Amz-Date` for the
    /// header form; from 15 minutes before `X-Amz-Date` until `X-Amz-Date + X-Amz-Expires` for
    /// the presigned form), that `host` and every present `X-Amz-Date`, `X-Amz-Security-Token`
    /// and `X-Amz-Content-Sha256` header are signed, the credential scope (a well-formed
    /// region, `expected_service`, `aws4_request`, the date of `X-Amz-Date`), the payload hash
    /// and finally, in constant time, the signature.
    ///
    /// `parts` and `body` must be the request exactly as received, and `secret_access_key` the
    /// secret of [`SignedRequest::access_key_id`].
    pub fn verify(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        secret_access_key: &[u8],
        expected_service: &str,
        now: OffsetDateTime,
    ) -> Result<Verified, Error> {
        self.verify_with(
            parts,
            body,
            expected_service,
            now,
            |scope: &SignedRequest| {
                derive_signing_key(
                    secret_access_key,
                    scope.scope.date(),
                    scope.scope.region(),
                    scope.scope.service(),
                )
            },
        )
    }

    /// As [`SignedRequest::verify`], taking the signing key from `cache` (deriving and caching
    /// it on a miss). The result is the same; only the cost differs.
    pub fn verify_with_cache(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        secret_access_key: &[u8],
        expected_service: &str,
        now: OffsetDateTime,
        cache: &SigningKeyCache,
    ) -> Result<Verified, Error> {
        self.verify_with(
            parts,
            body,
            expected_service,
            now,
            |request: &SignedRequest| {
                cache.signing_key(
                    &request.access_key_id,
                    secret_access_key,
                    request.scope.date(),
                    request.scope.region(),
                    request.scope.service(),
                )
            },
        )
    }

    /// Accepts the request without checking anything, for keystead's loopback-only `--dev`
    /// mode, which, like local AWS emulators, takes any credentials. Never use this for a
    /// request that a real deployment serves.
    pub fn insecure_accept_unverified(&self) -> Verified {
        self.verified()
    }

    /// The canonical request this request's signature must cover, for diagnostics (debug logs,
    /// tests). The payload hash is the claimed `X-Amz-Content-Sha256` when present, else the
    /// body's.
    pub fn canonical_request(&self, parts: &RequestParts<'_>, body: &[u8]) -> String {
        let payload_hash = self.claimed_payload_hash(parts, body);
        let mut out = Vec::with_capacity(512);
        write_canonical_request(&self.canonical_input(parts, &payload_hash), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The string to sign for this request, for diagnostics; see
    /// [`SignedRequest::canonical_request`].
    pub fn string_to_sign(&self, parts: &RequestParts<'_>, body: &[u8]) -> String {
        let canonical = self.canonical_request(parts, body);
        let mut out = Vec::with_capacity(128);
        let amz_date = AmzDate::new(self.signed_at);
        write_string_to_sign(
            amz_date.as_str(),
            self.scope.as_str(),
            &sha256(canonical.as_bytes()),
            &mut out,
        );
        String::from_utf8_lossy(&out).into_owned()
    }

    fn verify_with(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        expected_service: &str,
        now: OffsetDateTime,
        signing_key: impl FnOnce(&SignedRequest) -> SigningKey,
    ) -> Result<Verified, Error> {
        self.check_time(now)?;
        self.check_signed_headers(parts)?;
        self.check_scope(expected_service)?;
        let payload_hash = self.checked_payload_hash(parts, body)?;

        let mut buf = Vec::with_capacity(512);
        write_canonical_request(&self.canonical_input(parts, &payload_hash), &mut buf);
        let canonical_hash = sha256(&buf);
        buf.clear();
        let amz_date = AmzDate::new(self.signed_at);
        write_string_to_sign(
            amz_date.as_str(),
            self.scope.as_str(),
            &canonical_hash,
            &mut buf,
        );

        let key = signing_key(self);
        let mut expected = [0u8; 64];
        hex::encode_to_slice(hmac_sha256(&*key, &buf), &mut expected)
            .expect("invariant: 64 hex digits for 32 bytes");
        if !constant_time_eq(&expected, self.signature.as_bytes()) {
            return Err(Error::SignatureDoesNotMatch);
        }
        Ok(self.verified())
    }

    fn verified(&self) -> Verified {
        Verified {
            access_key_id: self.access_key_id.clone(),
            session_token: self.session_token.clone(),
            region: self.scope.region().to_owned(),
            service: self.scope.service().to_owned(),
            signed_at: self.signed_at,
            form: self.form,
        }
    }

    fn canonical_input<'a>(
        &'a self,
        parts: &'a RequestParts<'a>,
        payload_hash: &'a PayloadHash,
    ) -> CanonicalInput<'a> {
        CanonicalInput {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            signed_headers: &self.signed_headers,
            payload_hash: payload_hash.as_str(),
            exclude_signature_param: matches!(self.form, SignatureForm::Presigned { .. }),
        }
    }

    fn check_time(&self, now: OffsetDateTime) -> Result<(), Error> {
        let signed_at = self.signed_at;
        if signed_at > now + MAX_CLOCK_SKEW {
            return Err(Error::SignatureNotYetCurrent { signed_at, now });
        }
        match self.form {
            SignatureForm::Header => {
                if signed_at < now - MAX_CLOCK_SKEW {
                    return Err(Error::SignatureExpired { signed_at, now });
                }
            }
            SignatureForm::Presigned { expires_secs } => {
                let expired_at = signed_at + time::Duration::seconds(i64::from(expires_secs));
                if now > expired_at {
                    return Err(Error::PresignedRequestExpired { expired_at, now });
                }
            }
        }
        Ok(())
    }

    fn check_signed_headers(&self, parts: &RequestParts<'_>) -> Result<(), Error> {
        let (mut host, mut date, mut token, mut content_sha256) = (false, false, false, false);
        for name in self.signed_headers.split(';') {
            if name.eq_ignore_ascii_case("host") {
                host = true;
            } else if name.eq_ignore_ascii_case("x-amz-date") {
                date = true;
            } else if name.eq_ignore_ascii_case("x-amz-security-token") {
                token = true;
            } else if name.eq_ignore_ascii_case(X_AMZ_CONTENT_SHA256.as_str()) {
                content_sha256 = true;
            }
        }
        if !host {
            return Err(Error::HostNotSigned);
        }
        if self.date_source == DateSource::XAmzDateHeader && !date {
            return Err(Error::HeaderNotSigned {
                header: "X-Amz-Date",
            });
        }
        if self.token_source == TokenSource::Header && !token {
            return Err(Error::HeaderNotSigned {
                header: "X-Amz-Security-Token",
            });
        }
        if parts.headers.contains_key(&X_AMZ_CONTENT_SHA256) && !content_sha256 {
            return Err(Error::HeaderNotSigned {
                header: "X-Amz-Content-Sha256",
            });
        }
        Ok(())
    }

    fn check_scope(&self, expected_service: &str) -> Result<(), Error> {
        let scope = &self.scope;
        let amz_date = AmzDate::new(self.signed_at);
        let mut problems = Vec::new();
        if !is_well_formed_region(scope.region()) {
            problems.push(ScopeProblem::Region {
                region: scope.region().to_owned(),
            });
        }
        if scope.service() != expected_service {
            problems.push(ScopeProblem::Service {
                expected: expected_service.to_owned(),
            });
        }
        if scope.terminator() != TERMINATOR {
            problems.push(ScopeProblem::Terminator {
                terminator: scope.terminator().to_owned(),
            });
        }
        if scope.date() != amz_date.date() {
            problems.push(ScopeProblem::Date {
                scope_date: scope.date().to_owned(),
                request_date: amz_date.date().to_owned(),
                request_timestamp: amz_date.as_str().to_owned(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidCredentialScope { problems })
        }
    }

    /// The claimed payload hash: the `X-Amz-Content-Sha256` header, or (presigned form) query
    /// parameter.
    fn claimed_content_sha256<'a>(&'a self, parts: &'a RequestParts<'a>) -> Option<&'a [u8]> {
        parts
            .headers
            .get(&X_AMZ_CONTENT_SHA256)
            .map(|value| value.as_bytes())
            .or(self.content_sha256_param.as_deref().map(str::as_bytes))
    }

    /// The payload hash for the canonical request, after checking that a claimed one matches
    /// the body (or is `UNSIGNED-PAYLOAD` in a presigned request).
    fn checked_payload_hash(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
    ) -> Result<PayloadHash, Error> {
        let presigned = matches!(self.form, SignatureForm::Presigned { .. });
        let claimed = self.claimed_content_sha256(parts);
        if presigned && claimed == Some(UNSIGNED_PAYLOAD.as_bytes()) {
            return Ok(PayloadHash::Unsigned);
        }
        let computed = body_hash(body);
        match claimed {
            Some(claimed) if claimed != computed.as_str().as_bytes() => {
                Err(Error::ContentSha256Mismatch)
            }
            _ => Ok(computed),
        }
    }

    /// As [`SignedRequest::checked_payload_hash`], without the check, for diagnostics.
    fn claimed_payload_hash(&self, parts: &RequestParts<'_>, body: &[u8]) -> PayloadHash {
        match self.claimed_content_sha256(parts) {
            Some(claimed) if claimed == UNSIGNED_PAYLOAD.as_bytes() => PayloadHash::Unsigned,
            Some(claimed) if claimed.len() == 64 && claimed.iter().all(u8::is_ascii_hexdigit) => {
                let mut hex = [0u8; 64];
                hex.copy_from_slice(claimed);
                PayloadHash::Hex(hex)
            }
            _ => body_hash(body),
        }
    }
}

fn body_hash(body: &[u8]) -> PayloadHash {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(sha256(body), &mut hex).expect("invariant: 64 hex digits for 32 bytes");
    PayloadHash::Hex(hex)
}

/// A region name as AWS forms them (`us-east-1`, `eu-central-2`, `us-gov-west-1`, or a custom
/// name for a self-hosted deployment): 1 to 63 lower-case letters, digits and inner hyphens,
/// starting with a letter. Which regions a deployment serves is the server's decision.
fn is_well_formed_region(region: &str) -> bool {
    let bytes = region.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && !region.ends_with('-')
        && !region.contains("--")
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_regions_are_lower_case_names_with_inner_hyphens() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "local", "a"] {
            assert!(is_well_formed_region(good), "{good}");
        }
        for bad in [
            "",
            "US-EAST-1",
            "us_east_1",
            "-us",
            "us-",
            "us--east",
            "1us",
            "us east",
        ] {
            assert!(!is_well_formed_region(bad), "{bad}");
        }
    }
}

//! Reading what a request claims: the `Authorization` header (header form) or the `X-Amz-*`
//! query parameters (presigned form) become a [`SignedRequest`]. Parsing checks structure only
//! (parts present, algorithm, credential shape, date format, expiry range); nothing here is
//! trusted until [`SignedRequest::verify`] has checked it.
//!
//! ```text
//! authorization = "AWS4-HMAC-SHA256" 1*WSP component *( ("," / WSP) component )
//! component     = name "=" value          ; Credential, SignedHeaders, Signature; others ignored
//! credential    = access-key-id "/" date "/" region "/" service "/" terminator *"/"
//! ```

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, DATE};
use time::OffsetDateTime;

use crate::date::parse_amz_date;
use crate::error::{AuthorizationComponent, Error};
use crate::{
    ALGORITHM, MAX_PRESIGNED_EXPIRES_SECS, RequestParts, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN,
    header_text,
};

/// What a request claims about its signature, parsed from the `Authorization` header or from
/// presigned query parameters by [`parse`]. Nothing in it is verified: look up the secret for
/// [`SignedRequest::access_key_id`], then call [`SignedRequest::verify`].
#[derive(Clone)]
pub struct SignedRequest {
    pub(crate) access_key_id: String,
    pub(crate) scope: CredentialScope,
    /// The `;`-separated list as received.
    pub(crate) signed_headers: String,
    /// Hex, as received.
    pub(crate) signature: String,
    pub(crate) signed_at: OffsetDateTime,
    pub(crate) session_token: Option<String>,
    pub(crate) form: SignatureForm,
    /// Where the timestamp came from.
    pub(crate) date_source: DateSource,
    /// Where the session token came from, if any.
    pub(crate) token_source: TokenSource,
    /// Presigned form: an `X-Amz-Content-Sha256` query parameter.
    pub(crate) content_sha256_param: Option<String>,
}

/// The credential scope a request was signed for: `DATE/REGION/SERVICE/TERMINATOR`. Parsing
/// only splits it; [`SignedRequest::verify`] checks every part.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// The whole scope, one allocation; the accessors slice it.
    text: String,
    region_start: usize,
    service_start: usize,
    terminator_start: usize,
}

/// How the request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// In the `Authorization` header; valid within 15 minutes either side of `X-Amz-Date`.
    Header,
    /// In `X-Amz-*` query parameters (a presigned URL); valid from `X-Amz-Date` (less 15 minutes
    /// of clock skew) until `X-Amz-Date + X-Amz-Expires`.
    Presigned {
        /// `X-Amz-Expires`, in `1..=604800`.
        expires_secs: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateSource {
    XAmzDateHeader,
    DateHeader,
    QueryParameter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    None,
    Header,
    QueryParameter,
}

/// Reads the request's SigV4 claims, from the `Authorization` header or, when the query has an
/// `X-Amz-Algorithm` parameter, from the presigned query parameters.
///
/// Fails with [`Error::MissingAuthenticationToken`] when the request carries neither (or an
/// `Authorization` header that is not AWS4 at all, as AWS answers), and with the
/// `IncompleteSignatureException` errors when parts are missing or malformed.
pub fn parse(parts: &RequestParts<'_>) -> Result<SignedRequest, Error> {
    let authorization = parts.headers.get(AUTHORIZATION);
    let query = parts.uri.query().unwrap_or("");
    let presigned = query_params(query).any(|(name, _)| name == "X-Amz-Algorithm");
    match (authorization, presigned) {
        (Some(_), true) => Err(Error::AmbiguousAuthentication),
        (Some(value), false) => parse_header_form(&header_text(value), parts),
        (None, true) => parse_presigned_form(query, parts),
        (None, false) => Err(Error::MissingAuthenticationToken),
    }
}

fn parse_header_form(
    authorization: &str,
    parts: &RequestParts<'_>,
) -> Result<SignedRequest, Error> {
    let trimmed = authorization.trim_start();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    if !algorithm.starts_with("AWS4-") {
        return Err(Error::MissingAuthenticationToken);
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|c| !c.is_empty())
    {
        let Some((name, value)) = component.split_once('=') else {
            return Err(Error::MalformedAuthorizationComponent {
                component: component.to_owned(),
                authorization: authorization.to_owned(),
            });
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert(value);
    }

    let credential = credential.filter(|c| !c.is_empty());
    let signature = signature.filter(|s| !s.is_empty());
    let date = match (parts.headers.get(&X_AMZ_DATE), parts.headers.get(DATE)) {
        (Some(value), _) => Some((value, DateSource::XAmzDateHeader)),
        (None, Some(value)) => Some((value, DateSource::DateHeader)),
        (None, None) => None,
    };
    let (Some(credential), Some(signed_headers), Some(signature), Some((date_value, date_source))) =
        (credential, signed_headers, signature, date)
    else {
        let mut missing = Vec::new();
        if credential.is_none() {
            missing.push(AuthorizationComponent::Credential);
        }
        if signature.is_none() {
            missing.push(AuthorizationComponent::Signature);
        }
        if signed_headers.is_none() {
            missing.push(AuthorizationComponent::SignedHeaders);
        }
        if date.is_none() {
            missing.push(AuthorizationComponent::Date);
        }
        return Err(Error::MissingAuthorizationComponents {
            missing,
            authorization: authorization.to_owned(),
        });
    };

    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: algorithm.to_owned(),
        });
    }
    let (access_key_id, scope) = parse_credential(credential)?;
    let signed_at = parse_date_value(&header_text(date_value))?;

    let (session_token, token_source) = match parts.headers.get(&X_AMZ_SECURITY_TOKEN) {
        Some(value) => (Some(header_text(value).into_owned()), TokenSource::Header),
        None => match query_param(parts.uri.query().unwrap_or(""), "X-Amz-Security-Token") {
            Some(token) => (Some(token.into_owned()), TokenSource::QueryParameter),
            None => (None, TokenSource::None),
        },
    };

    Ok(SignedRequest {
        access_key_id,
        scope,
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        signed_at,
        session_token,
        form: SignatureForm::Header,
        date_source,
        token_source,
        content_sha256_param: None,
    })
}

fn parse_presigned_form<'a>(
    query: &'a str,
    parts: &RequestParts<'_>,
) -> Result<SignedRequest, Error> {
    let mut algorithm = None;
    let mut credential = None;
    let mut signature = None;
    let mut signed_headers = None;
    let mut date = None;
    let mut expires = None;
    let mut token = None;
    let mut content_sha256 = None;
    for (name, value) in query_params(query) {
        let slot = match &*name {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-Security-Token" => &mut token,
            "X-Amz-Content-Sha256" => &mut content_sha256,
            _ => continue,
        };
        // The first non-empty value counts, so that the re-scan below names the same ones.
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }

    let present = |value: Option<Cow<'a, str>>| value.filter(|v| !v.is_empty());
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(signed_headers),
        Some(date),
        Some(expires),
    ) = (
        present(algorithm),
        present(credential),
        present(signature),
        present(signed_headers),
        present(date),
        present(expires),
    )
    else {
        // Re-scan rather than keep copies: this is the error path.
        let found = |wanted: &str| {
            query_params(query).any(|(name, value)| name == wanted && !value.is_empty())
        };
        let missing = [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
            "X-Amz-Date",
            "X-Amz-Expires",
        ]
        .into_iter()
        .filter(|name| !found(name))
        .collect();
        return Err(Error::MissingQueryParameters { missing });
    };

    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: algorithm.into_owned(),
        });
    }
    let (access_key_id, scope) = parse_credential(&credential)?;
    let signed_at = parse_date_value(&date)?;
    let expires_secs = parse_expires(&expires)?;

    // A token in the query is covered by the canonical query string; one in a header only if
    // that header is signed, which verification checks.
    let (session_token, token_source) = match token {
        Some(token) => (Some(token.into_owned()), TokenSource::QueryParameter),
        None => match parts.headers.get(&X_AMZ_SECURITY_TOKEN) {
            Some(value) => (Some(header_text(value).into_owned()), TokenSource::Header),
            None => (None, TokenSource::None),
        },
    };

    Ok(SignedRequest {
        access_key_id,
        scope,
        signed_headers: signed_headers.into_owned(),
        signature: signature.into_owned(),
        signed_at,
        session_token,
        form: SignatureForm::Presigned { expires_secs },
        date_source: DateSource::QueryParameter,
        token_source,
        content_sha256_param: content_sha256.map(Cow::into_owned),
    })
}

/// Splits `KEYID/DATE/REGION/SERVICE/TERMINATOR` (trailing slashes ignored, as AWS does).
fn parse_credential(credential: &str) -> Result<(String, CredentialScope), Error> {
    let trimmed = credential.trim_end_matches('/');
    let malformed = || Error::MalformedCredential {
        credential: credential.to_owned(),
    };
    let (access_key_id, scope) = trimmed.split_once('/').ok_or_else(malformed)?;
    let mut slashes = scope.match_indices('/').map(|(i, _)| i);
    let (Some(a), Some(b), Some(c), None) = (
        slashes.next(),
        slashes.next(),
        slashes.next(),
        slashes.next(),
    ) else {
        return Err(malformed());
    };
    Ok((
        access_key_id.to_owned(),
        CredentialScope {
            text: scope.to_owned(),
            region_start: a + 1,
            service_start: b + 1,
            terminator_start: c + 1,
        },
    ))
}

fn parse_date_value(value: &str) -> Result<OffsetDateTime, Error> {
    parse_amz_date(value).ok_or_else(|| Error::MalformedDate {
        value: value.to_owned(),
    })
}

fn parse_expires(value: &str) -> Result<u32, Error> {
    let seconds: i64 = value.parse().map_err(|_| Error::MalformedExpires {
        value: value.to_owned(),
    })?;
    if !(1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&seconds) {
        return Err(Error::ExpiresOutOfRange { seconds });
    }
    u32::try_from(seconds).map_err(|_| Error::ExpiresOutOfRange { seconds })
}

/// The query's parameters, names and values percent-decoded (`+` is a space), empty pieces
/// skipped, in order.
fn query_params(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        (decode_component(name), decode_component(value))
    })
}

/// The first value of the query parameter `name`, decoded.
fn query_param<'q>(query: &'q str, name: &str) -> Option<Cow<'q, str>> {
    query_params(query).find(|(n, _)| n == name).map(|(_, v)| v)
}

fn decode_component(component: &str) -> Cow<'_, str> {
    if !component.contains(['%', '+']) {
        return Cow::Borrowed(component);
    }
    let spaced = component.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

impl SignedRequest {
    /// The access key id the request names: look its secret up, then verify.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope the request claims.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The names of the signed headers, as received.
    pub fn signed_headers(&self) -> impl Iterator<Item = &str> {
        self.signed_headers.split(';')
    }

    /// The request's timestamp (`X-Amz-Date`, or `Date` when that is absent).
    pub fn signed_at(&self) -> OffsetDateTime {
        self.signed_at
    }

    /// The session token of temporary credentials (`X-Amz-Security-Token`), if any.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Header or presigned form.
    pub fn form(&self) -> SignatureForm {
        self.form
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("signed_headers", &self.signed_headers)
            .field("signed_at", &self.signed_at)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("form", &self.form)
            .finish_non_exhaustive()
    }
}

impl CredentialScope {
    /// `YYYYMMDD`, as received.
    pub fn date(&self) -> &str {
        &self.text[..self.region_start - 1]
    }

    /// The region, as received.
    pub fn region(&self) -> &str {
        &self.text[self.region_start..self.service_start - 1]
    }

    /// The service, as received.
    pub fn service(&self) -> &str {
        &self.text[self.service_start..self.terminator_start - 1]
    }

    /// The terminator, as received (`aws4_request` when valid).
    pub fn terminator(&self) -> &str {
        &self.text[self.terminator_start..]
    }

    /// The whole scope, `DATE/REGION/SERVICE/TERMINATOR`, as it goes into the string to sign.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_splits_into_key_id_and_scope() {
        let (akid, scope) =
            parse_credential("AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request/").expect("valid");
        assert_eq!(akid, "AKIDEXAMPLE");
        assert_eq!(scope.as_str(), "20150830/us-east-1/kms/aws4_request");
        assert_eq!(scope.date(), "20150830");
        assert_eq!(scope.region(), "us-east-1");
        assert_eq!(scope.service(), "kms");
        assert_eq!(scope.terminator(), "aws4_request");
    }

    #[test]
    fn a_credential_without_five_elements_is_malformed() {
        for bad in ["AKID", "AKID/20150830/us-east-1/kms", "a/b/c/d/e/f", ""] {
            assert_eq!(
                parse_credential(bad).map(|_| ()),
                Err(Error::MalformedCredential {
                    credential: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn expires_must_be_a_number_from_one_second_to_seven_days() {
        assert_eq!(parse_expires("1"), Ok(1));
        assert_eq!(parse_expires("604800"), Ok(604_800));
        assert_eq!(
            parse_expires("604801"),
            Err(Error::ExpiresOutOfRange { seconds: 604_801 })
        );
        assert_eq!(
            parse_expires("0"),
            Err(Error::ExpiresOutOfRange { seconds: 0 })
        );
        assert_eq!(
            parse_expires("-5"),
            Err(Error::ExpiresOutOfRange { seconds: -5 })
        );
        assert!(matches!(
            parse_expires("soon"),
            Err(Error::MalformedExpires { .. })
        ));
    }

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(
            query_param("a=1&X-Amz-Credential=AKID%2F2015&b", "X-Amz-Credential").as_deref(),
            Some("AKID/2015")
        );
        assert_eq!(query_param("a=x+y", "a").as_deref(), Some("x y"));
        assert_eq!(query_param("b", "b").as_deref(), Some(""));
        assert_eq!(query_param("b", "a"), None);
    }
}

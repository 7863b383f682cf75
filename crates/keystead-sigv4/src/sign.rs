//! Signing, for keystead's own clients (the load generator, the CLI's client commands, tests):
//! [`sign`] produces the headers of the header form, [`presign`] a presigned URI. Both sign what
//! the AWS SDKs sign: `host` and every header of the request except `authorization`,
//! `user-agent`, `x-amzn-trace-id` and `transfer-encoding` (which proxies may change), plus
//! `x-amz-user-agent` for presigning.

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Uri};
use keystead_crypto::digest::{hmac_sha256, sha256};
use time::OffsetDateTime;

use crate::canonical::{
    CanonicalInput, UNRESERVED, extend_encoded, uri_host, write_canonical_request,
    write_string_to_sign,
};
use crate::date::AmzDate;
use crate::error::Error;
use crate::key::derive_signing_key;
use crate::{
    ALGORITHM, MAX_PRESIGNED_EXPIRES_SECS, RequestParts, TERMINATOR, X_AMZ_CONTENT_SHA256,
    X_AMZ_DATE, X_AMZ_SECURITY_TOKEN,
};

/// Headers that are never signed: they are computed by signing, or changed in transit.
const EXCLUDED_HEADERS: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];

/// Who signs, for what scope, and when.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a [u8],
    /// The session token of temporary credentials; sent as `X-Amz-Security-Token` and signed.
    pub session_token: Option<&'a str>,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service, e.g. `kms`.
    pub service: &'a str,
    /// The signing time; becomes `X-Amz-Date`.
    pub time: OffsetDateTime,
    /// Header form only: also send and sign `X-Amz-Content-Sha256` (the body's SHA-256).
    pub content_sha256_header: bool,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("content_sha256_header", &self.content_sha256_header)
            .finish()
    }
}

/// The headers that [`sign`] adds to a request, and the signature they carry.
#[derive(Clone)]
pub struct SigningOutput {
    headers: Vec<(HeaderName, HeaderValue)>,
    signature: String,
}

impl SigningOutput {
    /// The headers to add: `x-amz-date`, then `x-amz-security-token` and
    /// `x-amz-content-sha256` when used, then `authorization`.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The signature (lower-case hex), as in the `Authorization` header.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// Inserts the headers into `headers`, replacing any with the same names.
    pub fn apply_to(self, headers: &mut HeaderMap) {
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
    }
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningOutput")
            .field("headers", &self.headers)
            .field("signature", &self.signature)
            .finish()
    }
}

/// Signs a request in the header form. `parts` is the request as it will be sent (without
/// `Authorization`); its `Host` header, or else its URI's authority, names the host. Apply the
/// result with [`SigningOutput::apply_to`].
pub fn sign(
    parts: &RequestParts<'_>,
    body: &[u8],
    params: &SigningParams<'_>,
) -> Result<SigningOutput, Error> {
    let amz_date = AmzDate::new(params.time);
    let payload_hash = hex::encode(sha256(body));

    let mut added = Vec::with_capacity(4);
    added.push((
        X_AMZ_DATE,
        HeaderValue::from_str(amz_date.as_str()).map_err(|_| invalid("time"))?,
    ));
    if let Some(token) = params.session_token {
        let mut value = HeaderValue::from_str(token).map_err(|_| invalid("session_token"))?;
        value.set_sensitive(true);
        added.push((X_AMZ_SECURITY_TOKEN, value));
    }
    if params.content_sha256_header {
        added.push((
            X_AMZ_CONTENT_SHA256,
            HeaderValue::from_str(&payload_hash).map_err(|_| invalid("body"))?,
        ));
    }

    let mut headers = parts.headers.clone();
    for (name, value) in &added {
        headers.insert(name.clone(), value.clone());
    }
    let signed_headers = signed_header_list(&headers, parts.uri, &[])?;
    let scope = scope(&amz_date, params);
    let signature = signature(
        &CanonicalInput {
            method: parts.method,
            uri: parts.uri,
            headers: &headers,
            signed_headers: &signed_headers,
            payload_hash: &payload_hash,
            exclude_signature_param: false,
        },
        &amz_date,
        &scope,
        params,
    );

    let mut authorization = HeaderValue::from_str(&format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.access_key_id
    ))
    .map_err(|_| invalid("access_key_id"))?;
    authorization.set_sensitive(true);
    added.push((http::header::AUTHORIZATION, authorization));
    Ok(SigningOutput {
        headers: added,
        signature,
    })
}

/// Presigns a request: returns its URI with the `X-Amz-*` query parameters added, valid for
/// `expires_in_secs` (1 to 604800) from `params.time`. The request must then be sent with the
/// same method, headers and body. `params.content_sha256_header` is ignored.
pub fn presign(
    parts: &RequestParts<'_>,
    body: &[u8],
    params: &SigningParams<'_>,
    expires_in_secs: u32,
) -> Result<Uri, Error> {
    if !(1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&i64::from(expires_in_secs)) {
        return Err(invalid("expires_in_secs"));
    }
    let amz_date = AmzDate::new(params.time);
    let payload_hash = hex::encode(sha256(body));
    let signed_headers = signed_header_list(parts.headers, parts.uri, &["x-amz-user-agent"])?;
    let scope = scope(&amz_date, params);

    let mut query: Vec<u8> = Vec::with_capacity(256);
    if let Some(existing) = parts.uri.query().filter(|q| !q.is_empty()) {
        query.extend_from_slice(existing.as_bytes());
        query.push(b'&');
    }
    let credential = format!("{}/{scope}", params.access_key_id);
    let expires = expires_in_secs.to_string();
    let mut pairs = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", signed_headers.as_str()),
    ];
    if let Some(token) = params.session_token {
        pairs.push(("X-Amz-Security-Token", token));
    }
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            query.push(b'&');
        }
        query.extend_from_slice(name.as_bytes());
        query.push(b'=');
        extend_encoded(value.as_bytes(), UNRESERVED, &mut query);
    }

    let unsigned_uri = with_query(parts.uri, &query)?;
    let signature = signature(
        &CanonicalInput {
            method: parts.method,
            uri: &unsigned_uri,
            headers: parts.headers,
            signed_headers: &signed_headers,
            payload_hash: &payload_hash,
            exclude_signature_param: true,
        },
        &amz_date,
        &scope,
        params,
    );
    query.extend_from_slice(b"&X-Amz-Signature=");
    query.extend_from_slice(signature.as_bytes());
    with_query(parts.uri, &query)
}

/// `DATE/REGION/SERVICE/aws4_request`.
fn scope(amz_date: &AmzDate, params: &SigningParams<'_>) -> String {
    format!(
        "{}/{}/{}/{TERMINATOR}",
        amz_date.date(),
        params.region,
        params.service
    )
}

/// The sorted, `;`-separated names of `host` and every header not excluded.
fn signed_header_list(
    headers: &HeaderMap,
    uri: &Uri,
    also_excluded: &[&str],
) -> Result<String, Error> {
    if !headers.contains_key(http::header::HOST) && uri_host(uri).is_none() {
        return Err(invalid("host"));
    }
    let mut names: Vec<&str> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|name| !EXCLUDED_HEADERS.contains(name) && !also_excluded.contains(name))
        .chain(std::iter::once("host"))
        .collect();
    names.sort_unstable();
    names.dedup();
    Ok(names.join(";"))
}

fn signature(
    input: &CanonicalInput<'_>,
    amz_date: &AmzDate,
    scope: &str,
    params: &SigningParams<'_>,
) -> String {
    let mut buf = Vec::with_capacity(512);
    write_canonical_request(input, &mut buf);
    let canonical_hash = sha256(&buf);
    buf.clear();
    write_string_to_sign(amz_date.as_str(), scope, &canonical_hash, &mut buf);
    let key = derive_signing_key(
        params.secret_access_key,
        amz_date.date(),
        params.region,
        params.service,
    );
    hex::encode(hmac_sha256(&*key, &buf))
}

/// `uri` with its query replaced by `query`.
fn with_query(uri: &Uri, query: &[u8]) -> Result<Uri, Error> {
    let mut path_and_query = Vec::with_capacity(uri.path().len() + 1 + query.len());
    path_and_query.extend_from_slice(uri.path().as_bytes());
    path_and_query.push(b'?');
    path_and_query.extend_from_slice(query);
    let mut builder = Uri::builder().path_and_query(path_and_query);
    if let Some(scheme) = uri.scheme() {
        builder = builder.scheme(scheme.clone());
    }
    if let Some(authority) = uri.authority() {
        builder = builder.authority(authority.clone());
    }
    builder.build().map_err(|_| invalid("uri"))
}

fn invalid(field: &'static str) -> Error {
    Error::InvalidSigningInput { field }
}

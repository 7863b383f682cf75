//! Raw KMS requests signed by the real AWS signer (the `aws-sigv4` crate that aws-sdk-rust
//! uses), for tests that need to send what an SDK would not: tampered bodies, stale dates,
//! foreign scopes, the presigned form, or a request over a TLS connection the SDK cannot trust.
//!
//! Requests are built with an absolute URI (`http://127.0.0.1:PORT/`), so that the signer
//! derives the `host` it signs exactly as an SDK does; [`crate::http::send`] turns them into
//! the origin form and `Host` header that go on the wire. Nothing here talks to the network.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{Method, Request};

use crate::Error;
use crate::server::Identity;

/// The AWS JSON 1.1 content type KMS requests carry.
pub const JSON_1_1: &str = "application/x-amz-json-1.1";

/// An unsigned KMS request: `POST {base_url}/` with the JSON 1.1 content type and
/// `X-Amz-Target: TrentService.{operation}`.
///
/// `base_url` is the server's endpoint, e.g. `http://127.0.0.1:4599`.
pub fn kms_request(
    base_url: &str,
    operation: &str,
    body: impl Into<Bytes>,
) -> Result<Request<Bytes>, Error> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("{}/", base_url.trim_end_matches('/')))
        .header(http::header::CONTENT_TYPE, JSON_1_1)
        .header("x-amz-target", format!("TrentService.{operation}"))
        .body(body.into())
        .map_err(|e| Error::Setup(format!("building a request: {e}")))
}

/// Where the signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The `Authorization` and `X-Amz-Date` headers.
    Headers,
    /// The presigned form: `X-Amz-*` query parameters valid for `expires_in`.
    Query {
        /// How long the presigned request stays valid.
        expires_in: Duration,
    },
}

/// How to sign: whose key, which scope, at what time. Build one with [`Signer::new`] and
/// change the fields a test is about.
#[derive(Clone)]
pub struct Signer {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The region in the credential scope.
    pub region: String,
    /// The service in the credential scope; `kms` unless a test says otherwise.
    pub service: String,
    /// The signing time, which becomes `X-Amz-Date`.
    pub time: SystemTime,
    /// Header or presigned form.
    pub placement: Placement,
}

impl Signer {
    /// Signs as `identity`, for `kms` in `region`, now, in the header form.
    pub fn new(identity: &Identity, region: &str) -> Self {
        Self {
            access_key_id: identity.access_key_id.clone(),
            secret_access_key: identity.secret_access_key.clone(),
            region: region.to_owned(),
            service: "kms".to_owned(),
            time: SystemTime::now(),
            placement: Placement::Headers,
        }
    }

    /// Signs `request` in place: adds the `Authorization` and `X-Amz-Date` headers, or the
    /// presigned query parameters. Every header present is signed, as aws-sdk-rust does, except
    /// those the signer always leaves out (`user-agent`, ...).
    pub fn sign(&self, request: &mut Request<Bytes>) -> Result<(), Error> {
        let setup = |what: &str, e: &dyn std::fmt::Display| Error::Setup(format!("{what}: {e}"));
        let identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "keystead-testkit",
        )
        .into();
        let mut settings = SigningSettings::default();
        match self.placement {
            Placement::Headers => settings.signature_location = SignatureLocation::Headers,
            Placement::Query { expires_in } => {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(expires_in);
            }
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .map_err(|e| setup("signing parameters", &e))?
            .into();
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| {
                v.to_str()
                    .map(|v| (n.as_str(), v))
                    .map_err(|e| setup("a header that is not ASCII", &e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let uri = request.uri().to_string();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.into_iter(),
            SignableBody::Bytes(request.body()),
        )
        .map_err(|e| setup("a request that cannot be signed", &e))?;
        let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| setup("signing", &e))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

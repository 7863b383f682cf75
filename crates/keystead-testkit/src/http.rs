//! A minimal HTTP/1.1 client for raw requests, plain or over TLS with a trust root of the test's
//! choosing: one connection per request, the whole body in memory, a time-out on everything.
//! Tests use it where the SDK cannot go (tampered requests, a self-signed certificate, the test
//! clock endpoint).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::Error;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RawResponse {
    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The AWS error code (`__type`) of an error body, if it has one.
    pub fn error_type(&self) -> Option<String> {
        self.json()
            .get("__type")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    }

    /// The `Content-Type` header, if present and text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
}

/// A TLS client configuration that trusts exactly the given certificates.
#[derive(Clone)]
pub struct TlsClient {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl TlsClient {
    /// Trusts the certificates in `pem` (for example a self-signed one) and expects the server
    /// to present a certificate for `server_name` (a DNS name or an IP address).
    pub fn trusting_pem(pem: &[u8], server_name: &str) -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Setup(format!("reading the trust root: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Setup(format!("adding the trust root: {e}")))?;
        }
        if roots.is_empty() {
            return Err(Error::Setup(
                "no certificate in the trust root PEM".to_owned(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Setup(format!("TLS versions: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| Error::Setup(format!("server name {server_name}: {e}")))?;
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

/// Sends `request` to `address` on a new connection (over TLS when `tls` is given) and reads
/// the whole response.
///
/// An absolute URI is sent in origin form, with a `Host` header from its authority unless the
/// request already has one.
pub async fn send(
    address: SocketAddr,
    request: Request<Bytes>,
    tls: Option<&TlsClient>,
) -> Result<RawResponse, Error> {
    let request = origin_form(request)?;
    let exchange = async {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| http_error("connecting", e))?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => exchange(tcp, request).await,
            Some(tls) => {
                let stream = tls
                    .connector
                    .connect(tls.server_name.clone(), tcp)
                    .await
                    .map_err(|e| http_error("TLS handshake", e))?;
                exchange(stream, request).await
            }
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| Error::Http {
            what: "waiting for the response",
            detail: format!("no response within {REQUEST_TIMEOUT:?}"),
        })?
}

/// One request on a fresh HTTP/1.1 connection over `io`.
async fn exchange<I>(io: I, request: Request<Bytes>) -> Result<RawResponse, Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| http_error("HTTP handshake", e))?;
    let driver = tokio::spawn(async move {
        // The connection ends when the response is read and the sender dropped; an error here
        // surfaces as the request's error.
        let _ = connection.await;
    });
    let (parts, body) = request.into_parts();
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| http_error("sending the request", e))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| http_error("reading the response body", e))?
        .to_bytes();
    drop(sender);
    driver.abort();
    Ok(RawResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The request with an origin-form URI and a `Host` header.
fn origin_form(mut request: Request<Bytes>) -> Result<Request<Bytes>, Error> {
    let uri = request.uri().clone();
    if let Some(authority) = uri.authority() {
        if !request.headers().contains_key(header::HOST) {
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|e| Error::Setup(format!("Host header: {e}")))?;
            request.headers_mut().insert(header::HOST, host);
        }
        let path: Uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| Error::Setup(format!("request path: {e}")))?;
        *request.uri_mut() = path;
    }
    Ok(request)
}

fn http_error(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Http {
        what,
        detail: e.to_string(),
    }
}

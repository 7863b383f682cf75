//! The wire side of bench: the endpoint, one HTTP/1.1 keep-alive connection per worker
//! (`hyper::client::conn::http1` over a `TcpStream`, so the connection count is exact), and
//! signing each AWS JSON 1.1 request with SigV4 at the moment it is sent.
//!
//! It knows nothing of which operation is run or what a correct answer is (`workload` does);
//! it only reports the status and body of each response, or how the exchange failed.

use std::fmt;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use keystead_sigv4::{RequestParts, SigningParams};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::net::TcpStream;

use super::credentials::Credentials;

/// The media type of AWS JSON 1.1 requests.
const JSON_1_1: &str = "application/x-amz-json-1.1";
/// The service KMS requests are signed for.
const SERVICE: &str = "kms";
/// The service Secrets Manager requests are signed for.
const SECRETS_MANAGER: &str = "secretsmanager";

/// A resolved `http://host[:port]` endpoint.
pub(crate) struct Endpoint {
    url: String,
    address: SocketAddr,
    host: HeaderValue,
}

impl Endpoint {
    /// Parses `url` (plain HTTP, no path) and resolves its host once, so that opening a
    /// connection during the run costs no DNS lookup. Of the host's addresses, it keeps the
    /// first that accepts a connection (`localhost` may be `::1` first while the server
    /// listens on 127.0.0.1).
    pub(crate) async fn resolve(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--endpoint {url} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                bail!("--endpoint {url}: bench speaks plain HTTP only; bench a plain listener")
            }
            _ => bail!("--endpoint {url} must start with http://"),
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            bail!("--endpoint {url} must have no path or query");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--endpoint {url} has no host"))?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = authority.port_u16().unwrap_or(80);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("resolving {host}"))?
            .collect();
        let mut refused = None;
        let mut address = None;
        for candidate in addresses {
            match TcpStream::connect(candidate).await {
                Ok(_) => {
                    address = Some(candidate);
                    break;
                }
                Err(e) => refused = Some(anyhow::Error::new(e).context(candidate)),
            }
        }
        let address = match (address, refused) {
            (Some(address), _) => address,
            (None, Some(e)) => return Err(e.context(format!("cannot connect to {url}"))),
            (None, None) => bail!("{host} resolves to no address"),
        };
        let host = HeaderValue::from_str(authority.as_str())
            .with_context(|| format!("--endpoint {url} has an invalid host"))?;
        Ok(Endpoint {
            url: format!("http://{authority}"),
            address,
            host,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// One AWS JSON 1.1 call, built once and sent many times: its headers (`host`,
/// `content-type`, `content-length`, `x-amz-target`) and body.
pub(crate) struct Call {
    headers: HeaderMap,
    body: Bytes,
    /// The service the call is signed for (`kms`, or `secretsmanager` for its targets).
    service: &'static str,
}

#[cfg(test)]
impl Call {
    /// An empty call, for tests that need a [`Workload`](super::workload::Workload).
    pub(crate) fn for_tests() -> Self {
        Call {
            headers: HeaderMap::new(),
            body: Bytes::new(),
            service: SERVICE,
        }
    }
}

/// How an exchange failed before there was a complete response.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The request could not be signed.
    Signing(keystead_sigv4::Error),
    /// The connection failed while sending or receiving.
    Transport(hyper::Error),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Signing(e) => write!(f, "signing failed: {e}"),
            ExchangeError::Transport(e) => write!(f, "connection failed: {e}"),
        }
    }
}

impl std::error::Error for ExchangeError {}

/// A complete response.
pub(crate) struct Response {
    /// The status.
    pub(crate) status: StatusCode,
    /// The whole body.
    pub(crate) body: Bytes,
}

impl Response {
    /// The AWS error code of an error response (`__type` without any `namespace#` prefix).
    pub(crate) fn error_code(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct ErrorBody {
            #[serde(rename = "__type")]
            kind: String,
        }
        let error: ErrorBody = serde_json::from_slice(&self.body).ok()?;
        let code = error.kind.rsplit('#').next().unwrap_or(&error.kind);
        Some(code.to_owned())
    }

    /// The error message of an error response, if it has one.
    fn error_message(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let message = value.get("message").or_else(|| value.get("Message"))?;
        message.as_str().map(str::to_owned)
    }
}

/// One open keep-alive connection. Requests on it go one at a time.
pub(crate) struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Whether the connection can take another request; false once the server closed it.
    pub(crate) async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }
}

/// Signs and sends calls to one endpoint with one access key.
pub(crate) struct Client {
    endpoint: Endpoint,
    credentials: Credentials,
    region: String,
    uri: Uri,
}

impl Client {
    /// A client for `endpoint`, signing with `credentials` for `region`.
    pub(crate) fn new(endpoint: Endpoint, credentials: Credentials, region: String) -> Self {
        Client {
            endpoint,
            credentials,
            region,
            uri: Uri::from_static("/"),
        }
    }

    /// The endpoint.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens a new keep-alive connection; its driver runs as its own task until it closes.
    pub(crate) async fn connect(&self) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(self.endpoint.address).await?;
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            // The driver ends with an error when the peer resets; the next send sees it.
            let _ = driver.await;
        });
        Ok(Connection { sender })
    }

    /// Builds a call with `X-Amz-Target: target` (e.g. `TrentService.Encrypt`) and `body`,
    /// signed for `secretsmanager` when the target is one of its operations, else for `kms`.
    pub(crate) fn call(&self, target: &str, body: Vec<u8>) -> anyhow::Result<Call> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(HOST, self.endpoint.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(
            "x-amz-target",
            HeaderValue::from_str(target).context("an invalid X-Amz-Target")?,
        );
        let service = if target.starts_with("secretsmanager.") {
            SECRETS_MANAGER
        } else {
            SERVICE
        };
        Ok(Call {
            headers,
            body: Bytes::from(body),
            service,
        })
    }

    /// Signs `call` now and sends it on `connection`, returning the whole response.
    pub(crate) async fn send(
        &self,
        connection: &mut Connection,
        call: &Call,
    ) -> Result<Response, ExchangeError> {
        let request = self.sign(call).map_err(ExchangeError::Signing)?;
        // After a response, the connection takes the next request only once its driver task
        // has run; sending before that fails as "canceled" (a loaded machine shows it).
        connection
            .sender
            .ready()
            .await
            .map_err(ExchangeError::Transport)?;
        let response = connection
            .sender
            .send_request(request)
            .await
            .map_err(ExchangeError::Transport)?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(ExchangeError::Transport)?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            body,
        })
    }

    /// Sends `call` once, for setup: anything but a 200 is an error naming the AWS error.
    pub(crate) async fn send_expecting_ok(
        &self,
        connection: &mut Connection,
        call: &Call,
    ) -> anyhow::Result<Bytes> {
        let response = self.send(connection, call).await?;
        if response.status != StatusCode::OK {
            bail!(
                "HTTP {} {}: {}",
                response.status.as_u16(),
                response
                    .error_code()
                    .as_deref()
                    .unwrap_or("(no error code)"),
                response
                    .error_message()
                    .as_deref()
                    .unwrap_or("(no message)"),
            );
        }
        Ok(response.body)
    }

    fn sign(&self, call: &Call) -> Result<Request<Full<Bytes>>, keystead_sigv4::Error> {
        let mut headers = call.headers.clone();
        let params = SigningParams {
            access_key_id: self.credentials.access_key_id(),
            secret_access_key: self.credentials.expose_secret_access_key(),
            session_token: self.credentials.session_token(),
            region: &self.region,
            service: call.service,
            time: OffsetDateTime::now_utc(),
            content_sha256_header: false,
        };
        let parts = RequestParts::new(&Method::POST, &self.uri, &headers);
        keystead_sigv4::sign(&parts, &call.body, &params)?.apply_to(&mut headers);
        let mut request = Request::new(Full::new(call.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = headers;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_plain_http_endpoints_without_a_path_are_accepted() {
        for url in [
            "https://127.0.0.1:4599",
            "127.0.0.1:4599",
            "http://127.0.0.1:4599/kms",
            "http://127.0.0.1:4599/?x=1",
        ] {
            assert!(Endpoint::resolve(url).await.is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn a_listening_endpoint_resolves_to_its_address_and_host_header() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let endpoint = Endpoint::resolve(&format!("http://{address}/"))
            .await
            .expect("resolves");
        assert_eq!(endpoint.address, address);
        assert_eq!(endpoint.host, address.to_string().as_str());
        assert_eq!(endpoint.to_string(), format!("http://{address}"));
    }

    /// A keep-alive HTTP/1.1 server that answers every request `200 {}`, reading each request
    /// up to its `Content-Length`.
    async fn answering_server() -> SocketAddr {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut length = 0usize;
                        loop {
                            let mut line = String::new();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end().to_ascii_lowercase();
                            if line.is_empty() {
                                break;
                            }
                            if let Some(value) = line.strip_prefix("content-length:") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0u8; length];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if stream.get_mut().write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_sent_back_to_back_on_one_connection_all_get_answers() {
        let address = answering_server().await;
        let endpoint = Endpoint::resolve(&format!("http://{address}"))
            .await
            .expect("resolves");
        let credentials = super::super::credentials::resolve(
            super::super::credentials::CredentialArgs {
                access_key_id: Some("AKIAKEYSTEADTEST".to_owned()),
                secret_access_key: Some("secret".to_owned()),
                session_token: None,
                credentials_file: None,
                profile: None,
            },
            |_| None,
        )
        .expect("credentials");
        let client = Client::new(endpoint, credentials, "us-east-1".to_owned());
        let mut connection = client.connect().await.expect("connect");
        let call = client
            .call("TrentService.Encrypt", b"{}".to_vec())
            .expect("call");
        // The connection's driver task runs on the other worker; a send that overtakes it right
        // after a response failed with "operation was canceled" (within a few hundred calls
        // here), as the setup of `keystead bench` (CreateKey, then Encrypt for decrypt) did in
        // CI on a loaded machine.
        for n in 0..5000 {
            let body = client
                .send_expecting_ok(&mut connection, &call)
                .await
                .unwrap_or_else(|e| panic!("call {n}: {e:#}"));
            assert_eq!(&body[..], b"{}");
        }
    }

    #[tokio::test]
    async fn an_endpoint_nobody_listens_on_is_an_error_naming_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let url = format!("http://{address}");
        let err = Endpoint::resolve(&url).await.err().expect("refused");
        assert!(
            format!("{err:#}").contains(&format!("cannot connect to {url}")),
            "{err:#}"
        );
    }
}

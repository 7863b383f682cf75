//! One HTTP request, start to finish: routes, the body size limit (before anything reads the
//! body), the `X-Amz-Target` operation, SigV4, then the service, then the audit record and the
//! metrics. Every failure is an AWS-shaped error; nothing here panics on input.
//!
//! Every API request (JSON or Query protocol) is recorded in the audit trail whatever its
//! outcome, after its response is decided and before it is sent: if the record cannot be made
//! durable, the client gets a 500-class error instead of the response, so nothing is served
//! unaudited. `/healthz`, `/readyz`, `/metrics` and the test clock are not API requests and are
//! not audited.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use keystead_sigv4::RequestParts;
use keystead_types::{Caller, RequestSource};
use keystead_wire::query::QueryParams;
use keystead_wire::{AwsError, ErrorType, QueryError};
use serde::Deserialize;

use crate::audit::{Parameters, RequestFacts, Service};
use crate::{App, cloudtrail, kms, query, workers};
use keystead_types::Clock;

const JSON_1_1: &str = "application/x-amz-json-1.1";
/// The longest operation name copied from a request into a record or a metric label.
const MAX_OPERATION_NAME: usize = 64;

/// Handles one request from `peer` (over TLS when `secure`). Never fails: errors become AWS
/// error responses.
pub(crate) async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    peer: SocketAddr,
    secure: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let query = is_query_protocol(&request);
    if !query {
        let response = match (request.method(), request.uri().path()) {
            (&Method::POST, "/") => None,
            (&Method::GET, "/healthz") => Some(Ok(text(StatusCode::OK, "ok\n"))),
            (&Method::GET, "/readyz") => Some(Ok(readiness(&app))),
            (&Method::GET, "/metrics") => Some(Ok(metrics(&app))),
            (&Method::POST, "/_keystead/test/clock") if app.danger_test_clock => {
                let response = test_clock(&app, request).await;
                return Ok(with_request_id(
                    response.unwrap_or_else(error_response),
                    &request_id,
                ));
            }
            _ => Some(Err(AwsError::new(
                "UnknownOperationException",
                404,
                "No such resource.".to_owned(),
            ))),
        };
        if let Some(response) = response {
            return Ok(with_request_id(
                response.unwrap_or_else(error_response),
                &request_id,
            ));
        }
    }
    let started = Instant::now();
    let source = RequestSource {
        ip: Some(peer.ip()),
        secure_transport: secure,
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let mut facts = RequestFacts::new(request_id.clone(), app.clock.now(), source);
    let (response, error) = if query {
        query_request(&app, request, &mut facts).await
    } else {
        match aws_request(&app, request, &mut facts).await {
            Ok(response) => (response, None),
            Err(e) => {
                let error = (e.code, e.message.clone());
                (error_response(e), Some(error))
            }
        }
    };
    let response = match record(&app, &facts, error.as_ref()).await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, request_id, "audit record failed; refusing the response");
            audit_failure_response(&facts, query, &request_id)
        }
    };
    let service = facts.service.map_or("unknown", Service::name);
    let code = error.as_ref().map_or("", |(code, _)| *code);
    let status = response.status().as_u16();
    let code = if status >= 500 && error.is_none() {
        "InternalFailure"
    } else {
        code
    };
    // Only the model's operation names become labels, so that clients cannot grow the
    // metrics without bound.
    let operation = if is_model_operation(facts.service, &facts.event_name) {
        facts.event_name.as_str()
    } else {
        "unknown"
    };
    app.metrics
        .request(service, operation, status, code, started.elapsed());
    if facts.service == Some(Service::Kms) {
        // The key the request names, else (Decrypt, ReEncrypt) the key its ciphertext names.
        let named = match &facts.parameters {
            Parameters::Json(map) => match map.get("KeyId") {
                Some(serde_json::Value::String(key)) => Some(key.as_str()),
                _ => None,
            },
            _ => None,
        };
        if let Some(key) = named.or(facts.ciphertext_key_id.as_deref()) {
            app.metrics.key_request(key, operation);
        }
    }
    Ok(with_request_id(response, &request_id))
}

/// Appends the request's record, timing it for the metrics.
async fn record(
    app: &App,
    facts: &RequestFacts,
    error: Option<&(&'static str, String)>,
) -> Result<(), keystead_audit::Error> {
    if !app.audit.enabled() {
        return Ok(());
    }
    let started = Instant::now();
    app.metrics.audit_append_started();
    let result = app
        .audit
        .record_request(
            &app.keys,
            facts,
            error.map(|(code, message)| (*code, message.as_str())),
        )
        .await;
    app.metrics.audit_append_done(started.elapsed());
    result
}

/// What the client gets when its request could not be audited: the service's internal error.
fn audit_failure_response(
    facts: &RequestFacts,
    query: bool,
    request_id: &str,
) -> Response<Full<Bytes>> {
    const MESSAGE: &str = "The request could not be recorded in the audit trail.";
    if query {
        let namespace = match facts.service {
            Some(Service::Iam) => keystead_wire::iam::XML_NAMESPACE,
            _ => keystead_wire::sts::XML_NAMESPACE,
        };
        let e = QueryError::new(
            "InternalFailure",
            500,
            ErrorType::Receiver,
            MESSAGE.to_owned(),
        );
        return xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_xml_in(namespace, request_id),
        );
    }
    let code = match facts.service {
        Some(Service::Kms) | None => "KMSInternalException",
        Some(Service::SecretsManager) => "InternalServiceError",
        Some(_) => "InternalFailure",
    };
    error_response(AwsError::new(code, 500, MESSAGE.to_owned()))
}

/// `GET /readyz`: 200 once the store and the audit trail are open (they are before the server
/// listens), 503 once shutdown has begun.
fn readiness(app: &App) -> Response<Full<Bytes>> {
    if app.shutting_down.load(Ordering::Relaxed) {
        text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        text(StatusCode::OK, "ready\n")
    }
}

/// `GET /metrics`: OpenMetrics text, which Prometheus scrapes.
fn metrics(app: &App) -> Response<Full<Bytes>> {
    let body = app.metrics.encode(
        app.keys.key_count(),
        app.audit.log().map(keystead_audit::AuditLog::stats),
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Authenticates the request for `service`, recording the caller (with its connection) in
/// `facts`.
pub(crate) fn authenticate(
    app: &App,
    facts: &mut RequestFacts,
    parts: &RequestParts<'_>,
    body: &[u8],
    service: &str,
) -> Result<Caller, AwsError> {
    let mut caller = app.credentials.authenticate(parts, body, service)?;
    caller.source = facts.source.clone();
    facts.caller = Some(caller.clone());
    Ok(caller)
}

/// Whether `name` is an operation of `service`'s model.
fn is_model_operation(service: Option<Service>, name: &str) -> bool {
    use keystead_wire::{cloudtrail, iam, kms, secretsmanager, sts};
    match service {
        Some(Service::Kms) => kms::Operation::from_name(name).is_some(),
        Some(Service::CloudTrail) => cloudtrail::Operation::from_name(name).is_some(),
        Some(Service::SecretsManager) => secretsmanager::Operation::from_name(name).is_some(),
        Some(Service::Sts) => sts::Operation::from_action(name).is_some(),
        Some(Service::Iam) => iam::Operation::from_action(name).is_some(),
        None => false,
    }
}

/// The operation name a client sent, bounded and reduced to letters and digits, for records
/// and labels.
fn operation_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(MAX_OPERATION_NAME)
        .collect()
}

fn with_request_id(mut response: Response<Full<Bytes>>, request_id: &str) -> Response<Full<Bytes>> {
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// Whether a request speaks the Query protocol (STS, IAM): a form-encoded POST, or a GET with
/// a query string (`Action=...`), to `/`. JSON requests carry `X-Amz-Target` instead.
fn is_query_protocol(request: &Request<Incoming>) -> bool {
    if request.uri().path() != "/" || request.headers().contains_key("x-amz-target") {
        return false;
    }
    match *request.method() {
        Method::POST => request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")),
        Method::GET => request.uri().query().is_some(),
        _ => false,
    }
}

/// A Query-protocol (STS, IAM) request: XML responses and XML errors. Returns the response
/// and the error, if any, for the audit record.
async fn query_request(
    app: &App,
    request: Request<Incoming>,
    facts: &mut RequestFacts,
) -> (Response<Full<Bytes>>, Option<(&'static str, String)>) {
    let request_id = facts.request_id.clone();
    let (parts, body) = request.into_parts();
    let request_parts = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    facts.note_signature(&request_parts, &app.credentials);
    facts.service = Some(Service::Sts);
    let result = match read_body(&parts, body, app.max_body_bytes).await {
        Ok(body) => {
            note_query(app, facts, &parts, &body);
            query::handle(app, &parts, &body, &request_id).await
        }
        Err(e) => Err((
            QueryError::new(e.code, e.status, ErrorType::Sender, e.message),
            keystead_wire::sts::XML_NAMESPACE,
        )),
    };
    let (status, body, error) = match result {
        Ok(response) => {
            facts.response_elements = response.response_elements;
            (StatusCode::OK, response.body, None)
        }
        Err((e, namespace)) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_xml_in(namespace, &request_id),
            Some((e.code, e.message)),
        ),
    };
    (xml(status, body), error)
}

/// Fills `facts` for a Query request: service, action, parameters, and the caller (the
/// protocol handler authenticates on its own; this second check is what names the caller in
/// the record, and costs one cached HMAC).
fn note_query(app: &App, facts: &mut RequestFacts, parts: &http::request::Parts, body: &[u8]) {
    let query = parts.uri.query().unwrap_or("").as_bytes();
    let Ok(params) = QueryParams::parse_parts(query, body) else {
        return;
    };
    let (service, signing_name) = match params.version() {
        Some(keystead_wire::iam::API_VERSION) => (Service::Iam, "iam"),
        _ => (Service::Sts, "sts"),
    };
    facts.service = Some(service);
    facts.event_name = operation_name(params.action().unwrap_or_default());
    facts.parameters = Parameters::Query(
        params
            .names()
            .filter(|n| *n != "Action" && *n != "Version")
            .filter_map(|n| Some((n.to_owned(), params.get(n)?.to_owned())))
            .collect(),
    );
    let request_parts = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let _ = authenticate(app, facts, &request_parts, body, signing_name);
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

/// A JSON 1.1 request (KMS, CloudTrail): target, body, SigV4, then the service. `facts`
/// learns the service and operation first, so that every failure is recorded with them.
async fn aws_request(
    app: &App,
    request: Request<Incoming>,
    facts: &mut RequestFacts,
) -> Result<Response<Full<Bytes>>, AwsError> {
    let (parts, body) = request.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .map(str::to_owned);
    let (prefix, name) = target
        .as_deref()
        .and_then(|t| t.rsplit_once('.'))
        .unwrap_or(("", ""));
    facts.service = match prefix {
        keystead_wire::kms::TARGET_PREFIX => Some(Service::Kms),
        keystead_wire::cloudtrail::TARGET_PREFIX => Some(Service::CloudTrail),
        "secretsmanager" => Some(Service::SecretsManager),
        _ => None,
    };
    facts.event_name = operation_name(name);
    let request_parts = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    facts.note_signature(&request_parts, &app.credentials);
    let body = read_body(&parts, body, app.max_body_bytes).await?;
    facts.note_json_body(&body);
    let target =
        target.ok_or_else(|| unknown_operation("The X-Amz-Target header is not valid."))?;
    match facts.service {
        Some(Service::Kms) => {
            let operation = keystead_wire::kms::Operation::from_target(&target)
                .ok_or_else(|| unknown_operation(""))?;
            let caller = authenticate(app, facts, &request_parts, &body, "kms")?;
            let out = kms::dispatch(&app.keys, &caller, operation, &body).await?;
            if app.audit.enabled() {
                facts.response_elements =
                    crate::response_elements::kms_response_elements(&facts.event_name, &out);
            }
            if operation == keystead_wire::kms::Operation::CreateKey {
                facts.new_key_arn = created_key_arn(&out);
            }
            Ok(json(StatusCode::OK, out))
        }
        Some(Service::SecretsManager) => {
            let operation = keystead_wire::secretsmanager::Operation::from_target(&target)
                .ok_or_else(|| unknown_operation(""))?;
            let caller = authenticate(app, facts, &request_parts, &body, "secretsmanager")?;
            let out = crate::secrets::dispatch(app, &caller, operation, &body).await?;
            if app.audit.enabled() {
                facts.response_elements =
                    crate::response_elements::secrets_manager_response_elements(
                        &facts.event_name,
                        &out,
                    );
            }
            Ok(json(StatusCode::OK, out))
        }
        Some(Service::CloudTrail) => {
            let operation = keystead_wire::cloudtrail::Operation::from_target(&target)
                .ok_or_else(|| unknown_operation(""))?;
            let caller = authenticate(app, facts, &request_parts, &body, "cloudtrail")?;
            let out = cloudtrail::dispatch(app, &caller, operation, &body).await?;
            Ok(json(StatusCode::OK, out))
        }
        _ => Err(unknown_operation("")),
    }
}

/// The new key's ARN in a `CreateKey` response.
fn created_key_arn(response: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(response).ok()?;
    Some(value.get("KeyMetadata")?.get("Arn")?.as_str()?.to_owned())
}

/// Reads the whole body, refusing more than `limit` bytes before reading them.
async fn read_body(
    parts: &http::request::Parts,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, AwsError> {
    let too_large = || {
        AwsError::new(
            "RequestEntityTooLargeException",
            413,
            format!("Request body must not exceed {limit} bytes."),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(AwsError::new(
            "SerializationException",
            400,
            "The request body could not be read.".to_owned(),
        )),
    }
}

fn unknown_operation(detail: &str) -> AwsError {
    let message = if detail.is_empty() {
        "The requested operation is not supported by this service.".to_owned()
    } else {
        detail.to_owned()
    };
    AwsError::new("UnknownOperationException", 400, message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    offset_seconds: i64,
}

/// `--danger-test-clock` only: moves the service clock and runs the workers once, so a test
/// can observe rotation and deletion without waiting days.
async fn test_clock(
    app: &App,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, AwsError> {
    let (parts, body) = request.into_parts();
    let body = read_body(&parts, body, 1024).await?;
    let clock: ClockRequest = serde_json::from_slice(&body).map_err(|_| {
        AwsError::new(
            "SerializationException",
            400,
            "Expected {\"offset_seconds\": <integer>}.".to_owned(),
        )
    })?;
    app.clock
        .danger_set_offset(clock.offset_seconds.saturating_mul(1000));
    let pass = workers::run_once(app).await;
    app.workers_wake.notify_one();
    let out = serde_json::json!({
        "offset_seconds": clock.offset_seconds,
        "rotated": pass.rotated,
        "deleted": pass.deleted,
    });
    Ok(json(StatusCode::OK, out.to_string().into_bytes()))
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn error_response(e: AwsError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json(status, e.to_json_body());
    if let Ok(v) = HeaderValue::from_str(e.code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

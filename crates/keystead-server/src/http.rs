//! One HTTP request, start to finish: routes, the body size limit (before anything reads the
//! body), the `X-Amz-Target` operation, SigV4, then the service. Every failure is an AWS-shaped
//! JSON error; nothing here panics on input.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use keystead_sigv4::RequestParts;
use keystead_wire::{AwsError, ErrorType, QueryError};
use serde::Deserialize;

use crate::{App, kms, query, workers};

const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Handles one request. Never fails: errors become AWS error responses.
pub(crate) async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = uuid::Uuid::new_v4().to_string();
    if is_query_protocol(&request) {
        return Ok(with_request_id(
            query_request(&app, request, &request_id).await,
            &request_id,
        ));
    }
    let response = match (request.method(), request.uri().path()) {
        (&Method::POST, "/") => aws_request(&app, request).await,
        (&Method::GET, "/healthz") => Ok(text(StatusCode::OK, "ok\n")),
        (&Method::POST, "/_keystead/test/clock") if app.danger_test_clock => {
            test_clock(&app, request).await
        }
        _ => Err(AwsError::new(
            "UnknownOperationException",
            404,
            "No such resource.".to_owned(),
        )),
    };
    Ok(with_request_id(
        response.unwrap_or_else(error_response),
        &request_id,
    ))
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

/// A Query-protocol (STS, IAM) request: XML responses and XML errors.
async fn query_request(
    app: &App,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let result = match read_body(&parts, body, app.max_body_bytes).await {
        Ok(body) => query::handle(app, &parts, &body, request_id).await,
        Err(e) => Err((
            QueryError::new(e.code, e.status, ErrorType::Sender, e.message),
            keystead_wire::sts::XML_NAMESPACE,
        )),
    };
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err((e, namespace)) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_xml_in(namespace, request_id),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

async fn aws_request(
    app: &App,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, AwsError> {
    let (parts, body) = request.into_parts();
    let body = read_body(&parts, body, app.max_body_bytes).await?;
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .ok_or_else(|| unknown_operation("The X-Amz-Target header is not valid."))?;
    // KMS is the only JSON service so far; Secrets Manager and CloudTrail will add theirs here.
    let operation =
        keystead_wire::kms::Operation::from_target(target).ok_or_else(|| unknown_operation(""))?;
    let request_parts = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let caller = app.credentials.authenticate(&request_parts, &body, "kms")?;
    let out = kms::dispatch(&app.keys, &caller, operation, &body).await?;
    Ok(json(StatusCode::OK, out))
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

//! SigV4 at the edge: raw requests signed by the real AWS signer (`aws-sigv4`), some then
//! tampered with, sent to the real binary. Each refusal must carry the code AWS sends for it,
//! with AWS's error shape: a JSON body with `__type` and `message`, served as
//! `application/x-amz-json-1.1`.
//!
//! What AWS does when a header listed in `SignedHeaders` is absent from the request: it
//! canonicalizes the header with an empty value, so a client that signed it with a value gets a
//! signature mismatch (`InvalidSignatureException`); S3-compatible servers that refused such
//! requests outright were fixed to match AWS (versity/versitygw#457). The one exception is the
//! date: without `X-Amz-Date` (or `Date`) the request is incomplete
//! (`IncompleteSignatureException`, "Authorization header requires existence of either a
//! 'X-Amz-Date' or a 'Date' header").

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use keystead_testkit::http::RawResponse;
use keystead_testkit::sign::{self, Placement, Signer};
use keystead_testkit::{Identity, ServerOptions, TestServer};

const REGION: &str = "us-east-1";

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        TestServer::start(
            Path::new(env!("CARGO_BIN_EXE_keystead")),
            ServerOptions::default(),
        )
    })
}

fn list_keys() -> Request<Bytes> {
    sign::kms_request(server().endpoint(), "ListKeys", "{}").expect("request")
}

fn signer() -> Signer {
    Signer::new(server().identity(), REGION)
}

fn signed(signer: &Signer, mut request: Request<Bytes>) -> Request<Bytes> {
    signer.sign(&mut request).expect("aws-sigv4 signs");
    request
}

async fn send(request: Request<Bytes>) -> RawResponse {
    server().send(request).await.expect("a response")
}

/// Asserts an AWS JSON 1.1 error with this status and code; returns its message.
fn assert_error(response: &RawResponse, status: u16, code: &str) -> String {
    assert_eq!(
        (response.status.as_u16(), response.error_type().as_deref()),
        (status, Some(code)),
        "{}",
        response.text()
    );
    assert_eq!(
        response.content_type(),
        Some("application/x-amz-json-1.1"),
        "{response:?}"
    );
    let body = response.json();
    let message = body
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_else(|| panic!("no message: {}", response.text()));
    assert!(!message.is_empty());
    assert!(
        response.headers.contains_key("x-amzn-requestid"),
        "{response:?}"
    );
    message.to_owned()
}

#[tokio::test]
async fn a_request_signed_by_the_aws_signer_is_accepted() {
    let response = send(signed(&signer(), list_keys())).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.content_type(), Some("application/x-amz-json-1.1"));
    let body = response.json();
    assert!(body["Keys"].is_array(), "{body}");
    assert_eq!(body["Truncated"], false, "{body}");
}

#[tokio::test]
async fn a_request_presigned_in_the_query_string_is_accepted() {
    let mut presigner = signer();
    presigner.placement = Placement::Query {
        expires_in: Duration::from_secs(300),
    };
    let request = signed(&presigner, list_keys());
    let query = request.uri().query().expect("presigned query").to_owned();
    assert!(query.contains("X-Amz-Signature="), "{query}");
    assert!(!request.headers().contains_key("authorization"));
    let response = send(request).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.json()["Keys"].is_array());

    let mut tampered = signed(&presigner, list_keys());
    *tampered.body_mut() = Bytes::from_static(b"{\"Limit\":1}");
    assert_error(&send(tampered).await, 400, "InvalidSignatureException");
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature() {
    let mut wrong = signer();
    wrong.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned();
    let response = send(signed(&wrong, list_keys())).await;
    let message = assert_error(&response, 400, "InvalidSignatureException");
    assert!(
        message.contains("signature we calculated does not match"),
        "{message}"
    );
}

#[tokio::test]
async fn a_body_altered_after_signing_is_an_invalid_signature() {
    let mut request = signed(&signer(), list_keys());
    *request.body_mut() = Bytes::from_static(b"{\"Limit\":1}");
    assert_error(&send(request).await, 400, "InvalidSignatureException");
}

#[tokio::test]
async fn a_signed_header_altered_after_signing_is_an_invalid_signature() {
    let mut request = signed(&signer(), list_keys());
    request.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    assert_error(&send(request).await, 400, "InvalidSignatureException");

    let mut request = signed(&signer(), list_keys());
    request.headers_mut().insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.ListAliases"),
    );
    assert_error(&send(request).await, 400, "InvalidSignatureException");
}

#[tokio::test]
async fn a_signed_header_removed_after_signing_is_an_invalid_signature() {
    let mut request = signed(&signer(), list_keys());
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("Authorization")
        .to_owned();
    assert!(
        authorization.contains("content-type;"),
        "content-type is signed: {authorization}"
    );
    request.headers_mut().remove("content-type");
    assert_error(&send(request).await, 400, "InvalidSignatureException");
}

#[tokio::test]
async fn a_request_without_its_signed_date_is_incomplete() {
    let mut request = signed(&signer(), list_keys());
    request.headers_mut().remove("x-amz-date");
    let message = assert_error(&send(request).await, 400, "IncompleteSignatureException");
    assert!(message.contains("X-Amz-Date"), "{message}");
}

#[tokio::test]
async fn a_request_signed_twenty_minutes_ago_has_an_expired_signature() {
    let mut stale = signer();
    stale.time = SystemTime::now() - Duration::from_secs(20 * 60);
    let message = assert_error(
        &send(signed(&stale, list_keys())).await,
        400,
        "InvalidSignatureException",
    );
    assert!(message.contains("Signature expired"), "{message}");

    let mut early = signer();
    early.time = SystemTime::now() + Duration::from_secs(20 * 60);
    let message = assert_error(
        &send(signed(&early, list_keys())).await,
        400,
        "InvalidSignatureException",
    );
    assert!(message.contains("Signature not yet current"), "{message}");
}

#[tokio::test]
async fn a_credential_scoped_to_another_service_is_an_invalid_signature() {
    let mut s3 = signer();
    s3.service = "s3".to_owned();
    let message = assert_error(
        &send(signed(&s3, list_keys())).await,
        400,
        "InvalidSignatureException",
    );
    assert!(
        message.contains("Credential should be scoped to correct service: 'kms'"),
        "{message}"
    );
}

#[tokio::test]
async fn a_credential_scoped_to_a_region_that_does_not_exist_is_an_invalid_signature() {
    let mut nowhere = signer();
    nowhere.region = "nowhere".to_owned();
    let message = assert_error(
        &send(signed(&nowhere, list_keys())).await,
        400,
        "InvalidSignatureException",
    );
    assert!(message.contains("region"), "{message}");
}

#[tokio::test]
async fn an_unknown_access_key_is_an_unrecognized_client() {
    let stranger = Identity {
        account_id: None,
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
    };
    let response = send(signed(&Signer::new(&stranger, REGION), list_keys())).await;
    let message = assert_error(&response, 400, "UnrecognizedClientException");
    assert!(message.contains("security token"), "{message}");
}

#[tokio::test]
async fn a_request_without_authentication_is_missing_its_token() {
    let response = send(list_keys()).await;
    let message = assert_error(&response, 403, "MissingAuthenticationTokenException");
    assert_eq!(message, "Missing Authentication Token");
}

#[tokio::test]
async fn an_unknown_operation_is_refused_with_an_aws_error() {
    let request = sign::kms_request(server().endpoint(), "MakeCoffee", "{}").expect("request");
    let response = send(signed(&signer(), request)).await;
    assert_error(&response, 400, "UnknownOperationException");
}

#[tokio::test]
async fn the_health_endpoint_needs_no_signature() {
    let request = Request::get(format!("{}/healthz", server().endpoint()))
        .body(Bytes::new())
        .expect("request");
    let response = send(request).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text().trim(), "ok");
}

//! Every way a request is refused, with the AWS code and message it gets.

use http::{HeaderMap, HeaderValue, Method, Uri};
use keystead_sigv4::{
    AuthorizationComponent, Error, RequestParts, ScopeProblem, SignedRequest, SigningParams,
    Verified, parse, presign, sign,
};
use time::OffsetDateTime;
use time::macros::datetime;

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = br#"{"KeyId":"alias/example"}"#;
const SIGNED_AT: OffsetDateTime = datetime!(2013-05-24 00:25:00 UTC);

struct Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts::new(&self.method, &self.uri, &self.headers)
    }

    fn parse(&self) -> Result<SignedRequest, Error> {
        parse(&self.parts())
    }

    fn verify_at(&self, now: OffsetDateTime) -> Result<Verified, Error> {
        self.parse()?
            .verify(&self.parts(), &self.body, SECRET, "kms", now)
    }

    fn verify(&self) -> Result<Verified, Error> {
        self.verify_at(SIGNED_AT)
    }

    fn set(&mut self, name: &'static str, value: &str) {
        self.headers
            .insert(name, HeaderValue::from_str(value).expect("header value"));
    }
}

fn params<'a>(region: &'a str, service: &'a str, token: Option<&'a str>) -> SigningParams<'a> {
    SigningParams {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        session_token: token,
        region,
        service,
        time: SIGNED_AT,
        content_sha256_header: false,
    }
}

fn unsigned() -> Request {
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("kms.us-east-1.amazonaws.com"),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.DescribeKey"),
    );
    Request {
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers,
        body: BODY.to_vec(),
    }
}

fn signed_with(params: &SigningParams<'_>) -> Request {
    let mut request = unsigned();
    sign(&request.parts(), &request.body, params)
        .expect("signs")
        .apply_to(&mut request.headers);
    request
}

fn signed() -> Request {
    signed_with(&params("us-east-1", "kms", None))
}

fn presigned(expires_secs: u32) -> Request {
    let mut request = unsigned();
    request.uri = presign(
        &request.parts(),
        &request.body,
        &params("us-east-1", "kms", None),
        expires_secs,
    )
    .expect("presigns");
    request
}

/// The request with its `Authorization` header replaced.
fn with_authorization(authorization: &str) -> Request {
    let mut request = signed();
    request.set("authorization", authorization);
    request
}

fn authorization(request: &Request) -> String {
    request.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

fn expect_error(result: Result<Verified, Error>, code: &str, message: &str) -> Error {
    let err = result.expect_err("refused");
    assert_eq!(err.aws_code(), code, "{err:?}");
    assert_eq!(err.message(), message, "{err:?}");
    assert_eq!(err.to_string(), message);
    err
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
                        provided. Check your AWS Secret Access Key and signing method. Consult \
                        the service documentation for details.";

#[test]
fn a_correctly_signed_request_verifies() {
    let verified = signed().verify().expect("verifies");
    assert_eq!(verified.access_key_id(), "AKIDEXAMPLE");
    assert_eq!(verified.region(), "us-east-1");
    assert_eq!(verified.session_token(), None);
}

#[test]
fn no_authentication_at_all_is_a_missing_authentication_token() {
    expect_error(
        unsigned().verify(),
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
}

#[test]
fn a_non_aws4_authorization_header_is_a_missing_authentication_token() {
    for value in [
        "Bearer eyJhbGciOiJIUzI1NiJ9",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "",
    ] {
        assert_eq!(
            with_authorization(value).verify(),
            Err(Error::MissingAuthenticationToken),
            "{value}"
        );
    }
}

#[test]
fn both_an_authorization_header_and_presigned_parameters_are_refused() {
    let mut request = presigned(60);
    request.set("authorization", &authorization(&signed()));
    expect_error(
        request.verify(),
        "InvalidSignatureException",
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP \
         header.",
    );
}

#[test]
fn a_wrong_secret_does_not_match() {
    let request = signed();
    let claimed = request.parse().expect("parses");
    expect_error(
        claimed.verify(
            &request.parts(),
            &request.body,
            b"wrong secret",
            "kms",
            SIGNED_AT,
        ),
        "InvalidSignatureException",
        MISMATCH,
    );
}

#[test]
fn an_altered_body_does_not_match() {
    let mut request = signed();
    request.body = br#"{"KeyId":"alias/other"}"#.to_vec();
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn an_altered_signed_header_does_not_match() {
    let mut request = signed();
    request.set("x-amz-target", "TrentService.ScheduleKeyDeletion");
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn an_altered_method_path_or_query_does_not_match() {
    let mut request = signed();
    request.method = Method::PUT;
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
    let mut request = signed();
    request.uri = Uri::from_static("/other");
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
    let mut request = signed();
    request.uri = Uri::from_static("/?extra=1");
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn an_unsigned_extra_header_is_fine() {
    let mut request = signed();
    request.set("x-forwarded-for", "192.0.2.1");
    request.set("user-agent", "changed-by-a-proxy");
    request.verify().expect("verifies");
}

#[test]
fn a_missing_signed_header_does_not_match() {
    let mut request = signed();
    request.headers.remove("content-type");
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn a_tampered_signature_does_not_match() {
    let request = signed();
    let value = authorization(&request);
    let (head, signature) = value.rsplit_once("Signature=").expect("signature");
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                if c == '0' { '1' } else { '0' }
            } else {
                c
            }
        })
        .collect();
    for bad in [
        flipped,
        signature.to_uppercase(),
        signature[..63].to_owned(),
        "00".repeat(32),
    ] {
        assert_eq!(
            with_authorization(&format!("{head}Signature={bad}")).verify(),
            Err(Error::SignatureDoesNotMatch)
        );
    }
}

#[test]
fn a_request_older_than_fifteen_minutes_has_expired() {
    let request = signed();
    request
        .verify_at(SIGNED_AT + time::Duration::minutes(15))
        .expect("15 minutes is still fine");
    let err = expect_error(
        request.verify_at(datetime!(2013-05-24 00:40:01 UTC)),
        "InvalidSignatureException",
        "Signature expired: 20130524T002500Z is now earlier than 20130524T002501Z \
         (20130524T004001Z - 15 min.)",
    );
    assert!(matches!(err, Error::SignatureExpired { .. }));
}

#[test]
fn a_request_from_more_than_fifteen_minutes_ahead_is_not_yet_current() {
    let request = signed();
    request
        .verify_at(SIGNED_AT - time::Duration::minutes(15))
        .expect("15 minutes is still fine");
    expect_error(
        request.verify_at(datetime!(2013-05-24 00:00:00 UTC)),
        "InvalidSignatureException",
        "Signature not yet current: 20130524T002500Z is still later than 20130524T001500Z \
         (20130524T000000Z + 15 min.)",
    );
}

#[test]
fn a_scope_for_another_service_is_refused() {
    let request = signed_with(&params("us-east-1", "secretsmanager", None));
    expect_error(
        request.verify(),
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'kms'. ",
    );
}

#[test]
fn a_malformed_region_in_the_scope_is_refused() {
    let request = signed_with(&params("US-EAST-1", "kms", None));
    expect_error(
        request.verify(),
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'US-EAST-1'. ",
    );
}

#[test]
fn a_wrong_terminator_and_scope_date_are_reported_together() {
    let value = authorization(&signed()).replace(
        "AKIDEXAMPLE/20130524/us-east-1/kms/aws4_request",
        "AKIDEXAMPLE/20130523/us-east-1/sts/aws5_request",
    );
    let err = expect_error(
        with_authorization(&value).verify(),
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'kms'. Credential should be scoped \
         with a valid terminator: 'aws4_request', not 'aws5_request'. Date in Credential scope \
         does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20130523' != \
         '20130524', from '20130524T002500Z'.",
    );
    assert_eq!(
        err,
        Error::InvalidCredentialScope {
            problems: vec![
                ScopeProblem::Service {
                    expected: "kms".to_owned()
                },
                ScopeProblem::Terminator {
                    terminator: "aws5_request".to_owned()
                },
                ScopeProblem::Date {
                    scope_date: "20130523".to_owned(),
                    request_date: "20130524".to_owned(),
                    request_timestamp: "20130524T002500Z".to_owned(),
                },
            ]
        }
    );
}

#[test]
fn a_credential_without_five_elements_is_incomplete() {
    let value = authorization(&signed()).replace("/aws4_request", "");
    expect_error(
        with_authorization(&value).verify(),
        "IncompleteSignatureException",
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got 'AKIDEXAMPLE/20130524/us-east-1/kms'",
    );
}

#[test]
fn missing_authorization_parts_are_all_named() {
    let mut request = with_authorization("AWS4-HMAC-SHA256 ");
    request.headers.remove("x-amz-date");
    expect_error(
        request.verify(),
        "IncompleteSignatureException",
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
         Authorization=AWS4-HMAC-SHA256 ",
    );

    let value = authorization(&signed());
    let without_signature = value
        .split(", Signature=")
        .next()
        .expect("prefix")
        .to_owned();
    assert_eq!(
        with_authorization(&without_signature).verify(),
        Err(Error::MissingAuthorizationComponents {
            missing: vec![AuthorizationComponent::Signature],
            authorization: without_signature.clone(),
        })
    );
    let mut request = signed();
    request.headers.remove("x-amz-date");
    assert!(matches!(
        request.verify(),
        Err(Error::MissingAuthorizationComponents { missing, .. })
            if missing == [AuthorizationComponent::Date]
    ));
}

#[test]
fn a_component_without_an_equal_sign_is_malformed() {
    let value = authorization(&signed()).replace("Credential=", "Credential= ");
    let err = expect_error(
        with_authorization(&value).verify(),
        "IncompleteSignatureException",
        &format!(
            "'AKIDEXAMPLE/20130524/us-east-1/kms/aws4_request' not a valid key=value pair \
             (missing equal-sign) in Authorization header: '{value}'."
        ),
    );
    assert!(matches!(err, Error::MalformedAuthorizationComponent { .. }));
}

#[test]
fn an_unsupported_algorithm_is_incomplete() {
    let value = authorization(&signed()).replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
    expect_error(
        with_authorization(&value).verify(),
        "IncompleteSignatureException",
        "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256' (only AWS4-HMAC-SHA256 for now). ",
    );
}

#[test]
fn a_malformed_date_is_incomplete() {
    let mut request = signed();
    request.set("x-amz-date", "2013-05-24T00:25:00Z");
    expect_error(
        request.verify(),
        "IncompleteSignatureException",
        "Date must be in ISO-8601 'basic format'. Got '2013-05-24T00:25:00Z'. See \
         http://en.wikipedia.org/wiki/ISO_8601",
    );
    // Without X-Amz-Date, the Date header dates the request, in the same format.
    let mut request = signed();
    request.headers.remove("x-amz-date");
    request.set("date", "Fri, 24 May 2013 00:25:00 GMT");
    assert!(matches!(request.verify(), Err(Error::MalformedDate { .. })));
}

#[test]
fn host_must_be_signed() {
    let value = authorization(&signed()).replace("content-type;host;", "content-type;");
    expect_error(
        with_authorization(&value).verify(),
        "InvalidSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[test]
fn x_amz_date_must_be_signed_when_it_dates_the_request() {
    let value = authorization(&signed()).replace(";x-amz-date", "");
    expect_error(
        with_authorization(&value).verify(),
        "InvalidSignatureException",
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    );
}

#[test]
fn a_session_token_header_must_be_signed() {
    let token = "FQoGZXIvYXdzEXAMPLE";
    let request = signed_with(&params("us-east-1", "kms", Some(token)));
    let verified = request.verify().expect("signed token verifies");
    assert_eq!(verified.session_token(), Some(token));

    // Added after signing: refused, not ignored.
    let mut request = signed();
    request.set("x-amz-security-token", token);
    assert_eq!(
        request.verify(),
        Err(Error::HeaderNotSigned {
            header: "X-Amz-Security-Token"
        })
    );
}

#[test]
fn a_content_sha256_header_must_be_signed_and_match_the_body() {
    let mut with_hash = params("us-east-1", "kms", None);
    with_hash.content_sha256_header = true;
    let request = signed_with(&with_hash);
    request.verify().expect("verifies");

    let mut altered = signed_with(&with_hash);
    altered.body = b"{}".to_vec();
    expect_error(
        altered.verify(),
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );

    let mut unsigned_header = signed();
    unsigned_header.set(
        "x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    assert_eq!(
        unsigned_header.verify(),
        Err(Error::HeaderNotSigned {
            header: "X-Amz-Content-Sha256"
        })
    );
}

#[test]
fn a_presigned_request_verifies_until_it_expires() {
    let request = presigned(60);
    request.verify().expect("verifies at once");
    request
        .verify_at(SIGNED_AT + time::Duration::seconds(60))
        .expect("verifies until the end");
    expect_error(
        request.verify_at(SIGNED_AT + time::Duration::seconds(61)),
        "RequestExpired",
        "Request has expired",
    );
    assert!(matches!(
        request.verify_at(SIGNED_AT - time::Duration::minutes(16)),
        Err(Error::SignatureNotYetCurrent { .. })
    ));
}

#[test]
fn an_altered_presigned_request_does_not_match() {
    let mut request = presigned(60);
    request.body = b"{}".to_vec();
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));

    let request = presigned(60);
    let longer = request
        .uri
        .to_string()
        .replace("X-Amz-Expires=60", "X-Amz-Expires=600");
    let mut request = presigned(60);
    request.uri = longer.parse().expect("uri");
    assert_eq!(request.verify(), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn missing_presigned_parameters_are_all_named() {
    let mut request = unsigned();
    request.uri = Uri::from_static("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=");
    expect_error(
        request.verify(),
        "IncompleteSignatureException",
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
         parameters must include 'X-Amz-Signature'. AWS query-string parameters must include \
         'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. AWS \
         query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string \
         parameters.",
    );
}

#[test]
fn presigned_expiry_must_be_one_second_to_seven_days() {
    let request = presigned(60);
    for (expires, code, message) in [
        (
            "604801",
            "IncompleteSignatureException",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given \
             X-Amz-Expires must be less than 604800 seconds",
        ),
        (
            "0",
            "IncompleteSignatureException",
            "X-Amz-Expires must be positive",
        ),
        (
            "soon",
            "IncompleteSignatureException",
            "X-Amz-Expires should be a number, not 'soon'.",
        ),
    ] {
        let uri = request
            .uri
            .to_string()
            .replace("X-Amz-Expires=60", &format!("X-Amz-Expires={expires}"));
        let mut changed = presigned(60);
        changed.uri = uri.parse().expect("uri");
        expect_error(changed.verify(), code, message);
    }
}

#[test]
fn a_presigned_request_with_another_algorithm_is_incomplete() {
    let mut request = presigned(60);
    request.uri = request
        .uri
        .to_string()
        .replace(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
        )
        .parse()
        .expect("uri");
    assert_eq!(
        request.verify(),
        Err(Error::UnsupportedAlgorithm {
            algorithm: "AWS4-HMAC-SHA1".to_owned()
        })
    );
}

#[test]
fn verified_and_claimed_requests_do_not_print_session_tokens() {
    let token = "FQoGZXIvYXdzEXAMPLE";
    let request = signed_with(&params("us-east-1", "kms", Some(token)));
    let claimed = request.parse().expect("parses");
    let verified = request.verify().expect("verifies");
    assert!(!format!("{claimed:?}").contains(token));
    assert!(!format!("{verified:?}").contains(token));
    let mut signing = params("us-east-1", "kms", Some(token));
    signing.content_sha256_header = true;
    let printed = format!("{signing:?}");
    assert!(!printed.contains(token) && !printed.contains("EXAMPLEKEY"));
}

#[test]
fn dev_mode_acceptance_skips_every_check_but_says_so() {
    let mut request = signed();
    request.body = b"tampered".to_vec();
    let claimed = request.parse().expect("parses");
    assert!(
        claimed
            .verify(&request.parts(), &request.body, SECRET, "kms", SIGNED_AT)
            .is_err()
    );
    assert_eq!(
        claimed.insecure_accept_unverified().access_key_id(),
        "AKIDEXAMPLE"
    );
}

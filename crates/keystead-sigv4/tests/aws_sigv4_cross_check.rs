//! Cross-checks against the real AWS signer (the `aws-sigv4` crate that aws-sdk-rust uses):
//! requests it signs, in the header and presigned forms, with and without a session token,
//! verify with ours, and our signer produces its signatures for the same inputs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderValue, Method, Uri};
use keystead_sigv4::{
    Error, RequestParts, SignatureForm, SigningKeyCache, SigningParams, parse, presign, sign,
};
use time::OffsetDateTime;

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBu\
                     FqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmU\
                     pp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAki\
                     Y9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYv\
                     KTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const ENDPOINT: &str = "https://kms.us-west-2.amazonaws.com";
const BODY: &[u8] = br#"{"KeyId":"alias/example","Plaintext":"aGVsbG8="}"#;

/// 2024-05-06T07:08:09Z, in both clocks' types.
fn signing_time() -> (SystemTime, OffsetDateTime) {
    let secs = 1_714_979_289;
    (
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        OffsetDateTime::from_unix_timestamp(i64::try_from(secs).expect("fits")).expect("valid"),
    )
}

/// A KMS-like request as a client builds it: absolute URI, no `Host` header yet.
struct ClientRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn kms_request(path_and_query: &str) -> ClientRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.Encrypt"),
    );
    headers.insert("content-length", HeaderValue::from(BODY.len()));
    headers.insert(
        "user-agent",
        HeaderValue::from_static("aws-sdk-rust/1.0 os/linux"),
    );
    ClientRequest {
        method: Method::POST,
        uri: format!("{ENDPOINT}{path_and_query}").parse().expect("uri"),
        headers,
        body: BODY.to_vec(),
    }
}

/// Signs with `aws-sigv4`; returns the signed client request (headers added, or the URI
/// replaced by the presigned one).
fn aws_sign(
    request: &ClientRequest,
    token: Option<&str>,
    location: SignatureLocation,
    body: SignableBody<'_>,
) -> ClientRequest {
    let identity = Credentials::new(
        ACCESS_KEY_ID,
        SECRET,
        token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    if location == SignatureLocation::QueryParams {
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("kms")
        .time(signing_time().0)
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(
        request.method.as_str(),
        request.uri.to_string(),
        request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().expect("ascii"))),
        body,
    )
    .expect("signable");
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    let mut signed = http::Request::builder()
        .method(request.method.clone())
        .uri(request.uri.clone())
        .body(())
        .expect("request");
    *signed.headers_mut() = request.headers.clone();
    instructions.apply_to_request_http1x(&mut signed);
    let (parts, ()) = signed.into_parts();
    ClientRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body: request.body.clone(),
    }
}

/// What an HTTP/1.1 server sees: the origin-form target and a `Host` header.
fn as_received(request: &ClientRequest) -> ClientRequest {
    let mut headers = request.headers.clone();
    let host = request.uri.authority().expect("authority").host();
    headers.insert("host", HeaderValue::from_str(host).expect("host"));
    ClientRequest {
        method: request.method.clone(),
        uri: request
            .uri
            .path_and_query()
            .expect("path")
            .as_str()
            .parse()
            .expect("origin-form"),
        headers,
        body: request.body.clone(),
    }
}

fn parts(request: &ClientRequest) -> RequestParts<'_> {
    RequestParts::new(&request.method, &request.uri, &request.headers)
}

fn our_params(token: Option<&str>) -> SigningParams<'_> {
    SigningParams {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET.as_bytes(),
        session_token: token,
        region: "us-west-2",
        service: "kms",
        time: signing_time().1,
        content_sha256_header: false,
    }
}

fn verify(request: &ClientRequest, now: OffsetDateTime) -> Result<keystead_sigv4::Verified, Error> {
    let claimed = parse(&parts(request))?;
    claimed.verify(
        &parts(request),
        &request.body,
        SECRET.as_bytes(),
        "kms",
        now,
    )
}

#[test]
fn header_form_signed_by_aws_sigv4_verifies_with_and_without_a_session_token() {
    let now = signing_time().1 + time::Duration::minutes(3);
    for token in [None, Some(TOKEN)] {
        let signed = aws_sign(
            &kms_request("/"),
            token,
            SignatureLocation::Headers,
            SignableBody::Bytes(BODY),
        );
        let verified = verify(&as_received(&signed), now).expect("verifies");
        assert_eq!(verified.access_key_id(), ACCESS_KEY_ID);
        assert_eq!(verified.session_token(), token);
        assert_eq!(verified.region(), "us-west-2");
        assert_eq!(verified.service(), "kms");
        assert_eq!(verified.signed_at(), signing_time().1);
        assert_eq!(verified.form(), SignatureForm::Header);
    }
}

#[test]
fn an_http2_request_without_host_header_verifies_through_its_authority() {
    let signed = aws_sign(
        &kms_request("/"),
        None,
        SignatureLocation::Headers,
        SignableBody::Bytes(BODY),
    );
    assert!(!signed.headers.contains_key("host"));
    verify(&signed, signing_time().1).expect("verifies");
}

#[test]
fn presigned_form_signed_by_aws_sigv4_verifies_with_and_without_a_session_token() {
    let now = signing_time().1 + time::Duration::minutes(4);
    for token in [None, Some(TOKEN)] {
        let signed = aws_sign(
            &kms_request("/?Action=Encrypt&Version=2014-11-01"),
            token,
            SignatureLocation::QueryParams,
            SignableBody::Bytes(BODY),
        );
        assert!(!signed.headers.contains_key("authorization"));
        let verified = verify(&as_received(&signed), now).expect("verifies");
        assert_eq!(verified.session_token(), token);
        assert_eq!(
            verified.form(),
            SignatureForm::Presigned { expires_secs: 300 }
        );
    }
}

#[test]
fn presigned_requests_expire_after_x_amz_expires() {
    let signed = as_received(&aws_sign(
        &kms_request("/"),
        None,
        SignatureLocation::QueryParams,
        SignableBody::Bytes(BODY),
    ));
    let t = signing_time().1;
    verify(&signed, t + time::Duration::seconds(300)).expect("valid until the last second");
    let late = t + time::Duration::seconds(301);
    let err = verify(&signed, late).expect_err("expired");
    assert_eq!(
        err,
        Error::PresignedRequestExpired {
            expired_at: t + time::Duration::seconds(300),
            now: late
        }
    );
    assert_eq!(err.aws_code(), "RequestExpired");
    assert_eq!(err.message(), "Request has expired");
}

#[test]
fn an_unsigned_payload_is_accepted_only_in_the_presigned_form() {
    let mut request = kms_request("/");
    request.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let presigned = as_received(&aws_sign(
        &request,
        None,
        SignatureLocation::QueryParams,
        SignableBody::UnsignedPayload,
    ));
    verify(&presigned, signing_time().1).expect("presigned with UNSIGNED-PAYLOAD verifies");

    let header_form = as_received(&aws_sign(
        &request,
        None,
        SignatureLocation::Headers,
        SignableBody::UnsignedPayload,
    ));
    assert_eq!(
        verify(&header_form, signing_time().1),
        Err(Error::ContentSha256Mismatch)
    );
}

#[test]
fn a_signed_content_sha256_header_is_checked_against_the_body() {
    let mut settings_request = kms_request("/");
    settings_request.headers.remove("content-length");
    let identity = Credentials::new(ACCESS_KEY_ID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name("kms")
        .time(signing_time().0)
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(
        "POST",
        settings_request.uri.to_string(),
        settings_request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().expect("ascii"))),
        SignableBody::Bytes(BODY),
    )
    .expect("signable");
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .expect("signs")
        .into_parts();
    for (name, value) in instructions.headers() {
        settings_request.headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let mut received = as_received(&settings_request);
    verify(&received, signing_time().1).expect("verifies");
    received.body = br#"{"KeyId":"alias/other"}"#.to_vec();
    assert_eq!(
        verify(&received, signing_time().1),
        Err(Error::ContentSha256Mismatch)
    );
}

#[test]
fn paths_and_queries_needing_encoding_verify_as_aws_sigv4_signs_them() {
    for target in [
        "/a%20b/c%2Fd/",
        "/./x/../y//z",
        "/%E1%88%B4?%E1%88%B4=bar&b=a%20b&a=x%2By&empty=&flag",
        "/?X-Amz-Target=x&Param-3=3&Param=2",
        "/~user/.hidden?tilde=~&star=*&quote=%22",
    ] {
        let signed = aws_sign(
            &kms_request(target),
            None,
            SignatureLocation::Headers,
            SignableBody::Bytes(BODY),
        );
        verify(&as_received(&signed), signing_time().1).unwrap_or_else(|e| panic!("{target}: {e}"));
        let ours = sign(&parts(&kms_request(target)), BODY, &our_params(None)).expect("signs");
        let theirs = signed.headers["authorization"].to_str().expect("ascii");
        assert!(
            theirs.ends_with(&format!("Signature={}", ours.signature())),
            "{target}: {theirs} vs {}",
            ours.signature()
        );
    }
}

#[test]
fn our_signer_matches_aws_sigv4_in_the_header_form() {
    for token in [None, Some(TOKEN)] {
        let request = kms_request("/");
        let theirs = aws_sign(
            &request,
            token,
            SignatureLocation::Headers,
            SignableBody::Bytes(BODY),
        );
        let ours = sign(&parts(&request), BODY, &our_params(token)).expect("signs");
        let mut our_headers = request.headers.clone();
        ours.apply_to(&mut our_headers);
        for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
            assert_eq!(our_headers.get(name), theirs.headers.get(name), "{name}");
        }
        // And what we sign, we verify.
        let our_request = ClientRequest {
            headers: our_headers,
            ..kms_request("/")
        };
        verify(&as_received(&our_request), signing_time().1).expect("verifies");
    }
}

#[test]
fn our_presigner_matches_aws_sigv4() {
    for token in [None, Some(TOKEN)] {
        let request = kms_request("/?Action=Encrypt");
        let theirs = aws_sign(
            &request,
            token,
            SignatureLocation::QueryParams,
            SignableBody::Bytes(BODY),
        );
        let ours = presign(&parts(&request), BODY, &our_params(token), 300).expect("presigns");
        let signature = |uri: &Uri| {
            uri.query()
                .and_then(|q| {
                    q.split('&')
                        .find_map(|p| p.strip_prefix("X-Amz-Signature="))
                })
                .map(str::to_owned)
        };
        assert_eq!(signature(&ours), signature(&theirs.uri));
        assert!(signature(&ours).is_some());
        let our_request = ClientRequest {
            uri: ours,
            ..kms_request("/")
        };
        verify(&as_received(&our_request), signing_time().1).expect("verifies");
    }
}

#[test]
fn the_signing_key_cache_gives_the_same_results_as_deriving() {
    let cache = SigningKeyCache::new(16);
    let signed = as_received(&aws_sign(
        &kms_request("/"),
        Some(TOKEN),
        SignatureLocation::Headers,
        SignableBody::Bytes(BODY),
    ));
    let claimed = parse(&parts(&signed)).expect("parses");
    let now = signing_time().1;
    for _ in 0..3 {
        let verified = claimed
            .verify_with_cache(&parts(&signed), BODY, SECRET.as_bytes(), "kms", now, &cache)
            .expect("verifies");
        assert_eq!(
            Ok(verified),
            claimed.verify(&parts(&signed), BODY, SECRET.as_bytes(), "kms", now)
        );
    }
    assert_eq!(cache.len(), 1);
    // A cached key for the right secret does not make a wrong secret pass.
    assert_eq!(
        claimed
            .verify_with_cache(&parts(&signed), BODY, b"not the secret", "kms", now, &cache)
            .map(|_| ()),
        Err(Error::SignatureDoesNotMatch)
    );
}

//! What `parse` reads from a request, for the shapes real clients send.

use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use keystead_sigv4::{RequestParts, SignatureForm, parse};
use time::macros::datetime;

fn request_with(authorization: &str, date_header: (&'static str, &str)) -> Request<()> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(Uri::from_static("/"))
        .body(())
        .expect("request");
    let headers: &mut HeaderMap = request.headers_mut();
    headers.insert(
        "host",
        HeaderValue::from_static("kms.eu-west-1.amazonaws.com"),
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(authorization).expect("value"),
    );
    headers.insert(
        date_header.0,
        HeaderValue::from_str(date_header.1).expect("value"),
    );
    request
}

#[test]
fn authorization_components_may_be_separated_by_commas_spaces_or_both() {
    for authorization in [
        "AWS4-HMAC-SHA256 Credential=AKID/20240506/eu-west-1/kms/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=abcd",
        "AWS4-HMAC-SHA256 Credential=AKID/20240506/eu-west-1/kms/aws4_request,\
         SignedHeaders=host;x-amz-date,Signature=abcd",
        "  AWS4-HMAC-SHA256   Signature=abcd SignedHeaders=host;x-amz-date \
         Credential=AKID/20240506/eu-west-1/kms/aws4_request Extra=ignored",
    ] {
        let request = request_with(authorization, ("x-amz-date", "20240506T070809Z"));
        let (parts, ()) = request.into_parts();
        let claimed = parse(&RequestParts::from(&parts)).expect(authorization);
        assert_eq!(claimed.access_key_id(), "AKID");
        assert_eq!(
            claimed.scope().as_str(),
            "20240506/eu-west-1/kms/aws4_request"
        );
        assert_eq!(claimed.scope().region(), "eu-west-1");
        assert_eq!(claimed.scope().service(), "kms");
        assert_eq!(
            claimed.signed_headers().collect::<Vec<_>>(),
            ["host", "x-amz-date"]
        );
        assert_eq!(claimed.signed_at(), datetime!(2024-05-06 07:08:09 UTC));
        assert_eq!(claimed.session_token(), None);
        assert_eq!(claimed.form(), SignatureForm::Header);
    }
}

#[test]
fn the_date_header_dates_a_request_without_x_amz_date() {
    let request = request_with(
        "AWS4-HMAC-SHA256 Credential=AKID/20240506/eu-west-1/kms/aws4_request, \
         SignedHeaders=date;host, Signature=abcd",
        ("date", "20240506T070809Z"),
    );
    let (parts, ()) = request.into_parts();
    let claimed = parse(&RequestParts::from(&parts)).expect("parses");
    assert_eq!(claimed.signed_at(), datetime!(2024-05-06 07:08:09 UTC));
}

#[test]
fn a_presigned_request_names_its_expiry_and_token() {
    let uri = Uri::from_static(
        "/?Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKID%2F20240506%2Fus-east-1%2Fsts%2Faws4_request\
         &X-Amz-Date=20240506T070809Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
         &X-Amz-Security-Token=FQo%2Bdw%3D%3D&X-Amz-Signature=abcd",
    );
    let headers = HeaderMap::new();
    let claimed = parse(&RequestParts::new(&Method::GET, &uri, &headers)).expect("parses");
    assert_eq!(
        claimed.form(),
        SignatureForm::Presigned { expires_secs: 900 }
    );
    assert_eq!(claimed.session_token(), Some("FQo+dw=="));
    assert_eq!(claimed.scope().service(), "sts");
}

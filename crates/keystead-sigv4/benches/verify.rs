//! Rough timings of the per-request path, without a benchmark framework:
//! `cargo bench -p keystead-sigv4`. Prints nanoseconds per operation.

use std::hint::black_box;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method, Uri};
use keystead_sigv4::{RequestParts, SigningKeyCache, SigningParams, parse, sign};
use time::macros::datetime;

const ITERATIONS: u32 = 50_000;

fn time(label: &str, mut f: impl FnMut()) {
    for _ in 0..ITERATIONS / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        f();
    }
    let per_op = start.elapsed().as_nanos() / u128::from(ITERATIONS);
    println!("{label:<40} {per_op:>7} ns/op");
}

fn main() {
    let now = datetime!(2024-05-06 07:08:09 UTC);
    let secret = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let body = br#"{"KeyId":"alias/example","Plaintext":"aGVsbG8gd29ybGQ="}"#;
    let method = Method::POST;
    let uri = Uri::from_static("/");
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
        HeaderValue::from_static("TrentService.Encrypt"),
    );
    headers.insert("content-length", HeaderValue::from(body.len()));
    headers.insert(
        "user-agent",
        HeaderValue::from_static("aws-sdk-rust/1.3.9 os/linux"),
    );
    let params = SigningParams {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: secret,
        session_token: None,
        region: "us-east-1",
        service: "kms",
        time: now,
        content_sha256_header: false,
    };
    let unsigned = headers.clone();
    sign(&RequestParts::new(&method, &uri, &headers), body, &params)
        .expect("signs")
        .apply_to(&mut headers);
    let parts = RequestParts::new(&method, &uri, &headers);
    let cache = SigningKeyCache::default();

    // The primitives, for scale: a verification is one SHA-256 of the body, one of the
    // canonical request (~400 bytes) and five HMACs (one with a cached signing key).
    let canonical = [b'x'; 400];
    time("sha256, 400 bytes", || {
        black_box(keystead_crypto::digest::sha256(black_box(&canonical)));
    });
    time("hmac_sha256, 120 bytes", || {
        black_box(keystead_crypto::digest::hmac_sha256(
            black_box(&[7u8; 32]),
            &canonical[..120],
        ));
    });
    time("parse", || {
        black_box(parse(black_box(&parts)).expect("parses"));
    });
    time("parse + verify", || {
        let claimed = parse(black_box(&parts)).expect("parses");
        black_box(
            claimed
                .verify(&parts, body, secret, "kms", now)
                .expect("verifies"),
        );
    });
    time("parse + verify_with_cache", || {
        let claimed = parse(black_box(&parts)).expect("parses");
        black_box(
            claimed
                .verify_with_cache(&parts, body, secret, "kms", now, &cache)
                .expect("verifies"),
        );
    });
    time("sign", || {
        let unsigned_parts = RequestParts::new(&method, &uri, &unsigned);
        black_box(sign(&unsigned_parts, body, &params).expect("signs"));
    });
}

//! The canonical request and the string to sign, byte for byte as AWS's non-S3 services compute
//! them. This module owns URI path normalisation, query and header canonicalisation and the
//! percent-encoding they use; it knows nothing of credentials, time windows or which of the two
//! request forms (header or presigned) it serves, beyond leaving `X-Amz-Signature` out.
//!
//! ```text
//! canonical-request = method LF canonical-path LF canonical-query LF
//!                     *(signed-header-name ":" canonical-value LF) LF
//!                     signed-headers LF payload-hash
//! canonical-path    = "/" [segment *("/" segment)] ["/"]   ; dot segments and empty segments
//!                                                          ; removed, then each segment
//!                                                          ; percent-encoded (again)
//! canonical-query   = [pair *("&" pair)]   ; sorted by encoded name, then encoded value
//! pair              = encoded-name "=" encoded-value   ; decoded first ('+' is a space), then
//!                                                      ; every byte but A-Z a-z 0-9 - _ . ~
//!                                                      ; written as %XX (upper-case)
//! canonical-value   = the header's values, each trimmed of spaces with runs of spaces
//!                     collapsed to one, joined with ","
//! string-to-sign    = "AWS4-HMAC-SHA256" LF amz-date LF scope LF hex(sha256(canonical-request))
//! ```
//!
//! Everything is written into caller-provided buffers; the only allocations are for query
//! strings that have parameters.

use std::ops::Range;

use http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::ALGORITHM;

/// Bytes that stay as they are in a query component: RFC 3986's unreserved characters.
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes that stay as they are in a path: unreserved characters and `/`. Everything else,
/// including a `%` that already encodes something, is encoded: this is AWS's "encode twice".
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The presigned form's signature parameter, which the canonical query string leaves out.
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// What the canonical request covers.
pub(crate) struct CanonicalInput<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// The `;`-separated list exactly as it goes into the canonical request.
    pub(crate) signed_headers: &'a str,
    /// Lower-case hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub(crate) payload_hash: &'a str,
    /// Presigned form: leave `X-Amz-Signature` out of the canonical query string.
    pub(crate) exclude_signature_param: bool,
}

/// Appends the canonical request to `out`.
pub(crate) fn write_canonical_request(input: &CanonicalInput<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(input.method.as_str().as_bytes());
    out.push(b'\n');
    write_canonical_path(input.uri.path(), out);
    out.push(b'\n');
    if let Some(query) = input.uri.query() {
        write_canonical_query(query, input.exclude_signature_param, out);
    }
    out.push(b'\n');
    write_canonical_headers(input.headers, input.uri, input.signed_headers, out);
    out.push(b'\n');
    out.extend_from_slice(input.signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash.as_bytes());
}

/// Appends the string to sign. `scope` is `DATE/REGION/SERVICE/aws4_request`.
pub(crate) fn write_string_to_sign(
    amz_date: &str,
    scope: &str,
    canonical_request_hash: &[u8; 32],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(amz_date.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(scope.as_bytes());
    out.push(b'\n');
    let mut hex = [0u8; 64];
    hex::encode_to_slice(canonical_request_hash, &mut hex)
        .expect("invariant: 64 hex digits for 32 bytes");
    out.extend_from_slice(&hex);
}

/// Appends the canonical form of `path` (as it appears on the wire): dot segments and empty
/// segments removed as AWS's test suite specifies, then every byte outside `PATH` encoded.
pub(crate) fn write_canonical_path(path: &str, out: &mut Vec<u8>) {
    if path.is_empty() || path == "/" {
        out.push(b'/');
        return;
    }
    let needs_normalising = !path.starts_with('/')
        || path.contains("//")
        || path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if !needs_normalising {
        extend_encoded(path.as_bytes(), PATH, out);
        return;
    }
    // RFC 3986 section 5.2.4, plus dropping empty segments (`//`), as AWS does.
    let mut segments: Vec<&str> = Vec::with_capacity(path.matches('/').count() + 1);
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let ends_in_directory = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    for segment in &segments {
        out.push(b'/');
        extend_encoded(segment.as_bytes(), PATH, out);
    }
    if segments.is_empty() || ends_in_directory {
        out.push(b'/');
    }
}

/// Appends the canonical form of a raw (still encoded) query string.
pub(crate) fn write_canonical_query(query: &str, exclude_signature_param: bool, out: &mut Vec<u8>) {
    // All re-encoded names and values share one buffer; pairs are ranges into it.
    let mut buf: Vec<u8> = Vec::with_capacity(query.len() + 16);
    let mut pairs: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name_start = buf.len();
        recode_query_component(name, &mut buf);
        let name_end = buf.len();
        if exclude_signature_param && &buf[name_start..name_end] == SIGNATURE_PARAM.as_bytes() {
            buf.truncate(name_start);
            continue;
        }
        recode_query_component(value, &mut buf);
        pairs.push((name_start..name_end, name_end..buf.len()));
    }
    pairs.sort_unstable_by(|a, b| {
        buf[a.0.clone()]
            .cmp(&buf[b.0.clone()])
            .then_with(|| buf[a.1.clone()].cmp(&buf[b.1.clone()]))
    });
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(&buf[name]);
        out.push(b'=');
        out.extend_from_slice(&buf[value]);
    }
}

/// Appends one `name:value` line per signed header. A signed header that the request lacks
/// gets an empty value, so the signature cannot match; `host` falls back to the URI's
/// authority (HTTP/2 carries it as `:authority`, which is not in the header map).
fn write_canonical_headers(
    headers: &HeaderMap,
    uri: &Uri,
    signed_headers: &str,
    out: &mut Vec<u8>,
) {
    for name in signed_headers.split(';') {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut any = false;
        for value in headers.get_all(name) {
            if any {
                out.push(b',');
            }
            extend_trimmed(value.as_bytes(), out);
            any = true;
        }
        let authority = if !any && name.eq_ignore_ascii_case("host") {
            uri_host(uri)
        } else {
            None
        };
        if let Some(host) = authority {
            extend_trimmed(host.as_bytes(), out);
        }
        out.push(b'\n');
    }
}

/// The `host` value a client derives from a URI: its authority, without the port when the port
/// is the scheme's default (hyper leaves a default port out of `Host`).
pub(crate) fn uri_host(uri: &Uri) -> Option<&str> {
    let authority = uri.authority()?;
    let default_port = matches!(
        (uri.scheme_str(), authority.port_u16()),
        (Some("http"), Some(80)) | (Some("https"), Some(443))
    );
    Some(if default_port {
        authority.host()
    } else {
        authority.as_str()
    })
}

/// Appends a header value with leading and trailing spaces removed and each run of inner spaces
/// collapsed to one. Only spaces: tabs and other whitespace are kept, as AWS's signers do.
fn extend_trimmed(value: &[u8], out: &mut Vec<u8>) {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    let mut previous_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if previous_space {
                continue;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
        out.push(b);
    }
}

/// Decodes one query name or value (`%XX` and `+` for a space; a `%` not followed by two hex
/// digits stays literal) and appends it re-encoded with `UNRESERVED`.
fn recode_query_component(component: &str, out: &mut Vec<u8>) {
    let bytes = component.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'+' => b' ',
            b'%' => match (
                bytes.get(i + 1).and_then(|&c| hex_value(c)),
                bytes.get(i + 2).and_then(|&c| hex_value(c)),
            ) {
                (Some(high), Some(low)) => {
                    i += 2;
                    high << 4 | low
                }
                _ => b'%',
            },
            other => other,
        };
        encode_byte(decoded, UNRESERVED, out);
        i += 1;
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Appends `bytes` percent-encoded with `set`.
pub(crate) fn extend_encoded(bytes: &[u8], set: &'static AsciiSet, out: &mut Vec<u8>) {
    for chunk in percent_encoding::percent_encode(bytes, set) {
        out.extend_from_slice(chunk.as_bytes());
    }
}

fn encode_byte(b: u8, set: &'static AsciiSet, out: &mut Vec<u8>) {
    extend_encoded(std::slice::from_ref(&b), set, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> String {
        let mut out = Vec::new();
        write_canonical_path(p, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    fn query(q: &str, exclude_signature: bool) -> String {
        let mut out = Vec::new();
        write_canonical_query(q, exclude_signature, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    fn trimmed(v: &str) -> String {
        let mut out = Vec::new();
        extend_trimmed(v.as_bytes(), &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn paths_are_normalised_as_in_the_aws_test_suite() {
        // Inputs and outputs of the suite's *-normalized cases.
        assert_eq!(path("/"), "/");
        assert_eq!(path(""), "/");
        assert_eq!(path("/example/.."), "/");
        assert_eq!(path("/example1/example2/../.."), "/");
        assert_eq!(path("/./"), "/");
        assert_eq!(path("/./example"), "/example");
        assert_eq!(path("//example//"), "/example/");
        assert_eq!(
            path("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        );
        // get-space-normalized and get-utf8 give the path unencoded; a wire path carries them
        // encoded once, which the next test covers.
        assert_eq!(path("/example space/"), "/example%20space/");
        assert_eq!(path("/\u{1234}"), "/%E1%88%B4");
    }

    #[test]
    fn paths_are_encoded_once_more_than_on_the_wire() {
        assert_eq!(path("/example%20space/"), "/example%2520space/");
        assert_eq!(path("/%E1%88%B4"), "/%25E1%2588%25B4");
        assert_eq!(path("/a/b/../c/./d/"), "/a/c/d/");
        assert_eq!(path("/a/b/."), "/a/b/");
        assert_eq!(path("/../a"), "/a");
        assert_eq!(path("*"), "/%2A");
    }

    #[test]
    fn queries_are_decoded_reencoded_and_sorted() {
        assert_eq!(
            query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1", false),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        assert_eq!(query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
        assert_eq!(query("a&&b=", false), "a=&b=");
        assert_eq!(
            query("a=x+y%2By&c=%7e%zz%4", false),
            "a=x%20y%2By&c=~%25zz%254"
        );
        assert_eq!(query("q=a/b:c", false), "q=a%2Fb%3Ac");
    }

    #[test]
    fn the_presigned_signature_parameter_is_left_out_only_when_asked() {
        assert_eq!(query("X-Amz-Signature=abc&a=1", true), "a=1");
        assert_eq!(
            query("X-Amz-Signature=abc&a=1", false),
            "X-Amz-Signature=abc&a=1"
        );
        assert_eq!(query("X-Amz-Signature=abc", true), "");
    }

    #[test]
    fn header_values_are_trimmed_and_inner_spaces_collapsed() {
        assert_eq!(trimmed(" value1"), "value1");
        assert_eq!(trimmed("\"a   b   c\""), "\"a b c\"");
        assert_eq!(trimmed("   "), "");
        assert_eq!(trimmed("a\t b"), "a\t b");
    }

    #[test]
    fn host_comes_from_the_authority_without_a_default_port() {
        let uri = |s: &str| s.parse::<Uri>().expect("uri");
        assert_eq!(
            uri_host(&uri("https://kms.example:443/")),
            Some("kms.example")
        );
        assert_eq!(
            uri_host(&uri("http://kms.example:80/")),
            Some("kms.example")
        );
        assert_eq!(
            uri_host(&uri("http://127.0.0.1:8080/")),
            Some("127.0.0.1:8080")
        );
        assert_eq!(uri_host(&uri("/")), None);
    }
}

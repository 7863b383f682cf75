//! The AWS Query protocol as STS and IAM speak it: form parameters in, XML out.
//!
//! This module owns the parameter map ([`QueryParams`]), the traits the generated [`crate::sts`]
//! and [`crate::iam`] types implement ([`FromQuery`], [`ToXml`]) and the small output-only XML
//! writer ([`XmlWriter`]). Like the JSON side it knows nothing of HTTP frameworks: a server hands
//! it the body (or the query string of a GET), resolves the operation, calls
//! [`parse_query_request`], runs the operation, and answers with [`to_query_response`] or
//! [`crate::QueryError::to_xml_in`].
//!
//! Request grammar (botocore's `QuerySerializer`; `application/x-www-form-urlencoded`):
//!
//! ```text
//! body      = [ pair *( "&" pair ) ]          ; empty pairs are skipped
//! pair      = name [ "=" value ]              ; both percent-encoded, "+" is a space
//! name      = "Action" | "Version" | member
//! member    = segment *( "." segment )
//!   structure member   Parent.Member
//!   list element       List.member.N          (N = 1, 2, …; flattened lists: List.N)
//!   map entry          Map.entry.N.key / Map.entry.N.value
//!   empty list         List=                   (botocore sends this for [])
//! ```
//!
//! Booleans are `true`/`false`, timestamps ISO 8601, blobs base64. Unknown parameters are
//! ignored, as AWS Query services do (SigV4 query-string auth parameters live among them), but
//! anything ambiguous is an error rather than a guess: a repeated parameter, a list whose
//! numbering has a gap, a map entry without key or value, a repeated map key.
//!
//! Response grammar (botocore's `QueryParser`):
//!
//! ```text
//! <{Action}Response xmlns="{namespace}">
//!   <{Action}Result> members in model order </{Action}Result>   ; absent without output
//!   <ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata>
//! </{Action}Response>
//! lists: <Name><member>…</member>…</Name>     maps: <Name><entry><key/><value/></entry>…</Name>
//! ```
//!
//! Parameter values are held in `Zeroizing` strings (a value may be a password or a token), and
//! [`QueryParams`]'s `Debug` lists names only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write as _;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize as _, Zeroizing};

pub use crate::error::{ErrorType, QueryError, QueryRejection};
use crate::types::{Blob, SensitiveBlob, SensitiveString, Timestamp, decode_into};
use crate::validate::Validate;

/// The `Content-Type` of a Query request body, as botocore sends it.
pub const QUERY_REQUEST_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The `Content-Type` of a Query response, success or error.
pub const QUERY_RESPONSE_CONTENT_TYPE: &str = "text/xml";

/// The longest parameter name or `Action`/`Version` echoed in an error message.
const MAX_ECHO: usize = 128;

/// The decoded parameters of one Query request, by name.
#[derive(Default)]
pub struct QueryParams {
    params: BTreeMap<String, Zeroizing<String>>,
}

impl fmt::Debug for QueryParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets; names are not.
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl QueryParams {
    /// Parses a form body or a URL query string (without the `?`).
    pub fn parse(input: &[u8]) -> Result<QueryParams, QueryRejection> {
        let mut params = QueryParams::default();
        params.add(input)?;
        Ok(params)
    }

    /// Parses a request's query string and form body together, as one parameter set: a name in
    /// both is a duplicate. (AWS accepts `GET /?Action=…` as well as `POST /` with a body.)
    pub fn parse_parts(query: &[u8], body: &[u8]) -> Result<QueryParams, QueryRejection> {
        let mut params = QueryParams::default();
        params.add(query)?;
        params.add(body)?;
        Ok(params)
    }

    fn add(&mut self, input: &[u8]) -> Result<(), QueryRejection> {
        let mut offset = 0;
        for pair in input.split(|b| *b == b'&') {
            let start = offset;
            offset += pair.len() + 1;
            if pair.is_empty() {
                continue;
            }
            let (name, value, value_at) = match pair.iter().position(|b| *b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..], start + eq + 1),
                None => (pair, &pair[pair.len()..], start + pair.len()),
            };
            let name = Zeroizing::new(decode(name, start)?);
            if name.is_empty() {
                return Err(QueryRejection::Malformed {
                    reason: "a parameter without a name",
                    offset: start,
                });
            }
            let value = Zeroizing::new(decode(value, value_at)?);
            if self.params.contains_key(name.as_str()) {
                return Err(QueryRejection::DuplicateParameter {
                    name: cut(&name, MAX_ECHO),
                });
            }
            self.params.insert(name.to_string(), value);
        }
        Ok(())
    }

    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|v| v.as_str())
    }

    /// The `Action` parameter.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    /// The `Version` parameter.
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// Every parameter name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The (name, value) pairs whose name starts with `prefix`, sorted by name.
    fn starting_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.params
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Whether a structure at `prefix` has any member parameter (`prefix.…`). The request
    /// itself (prefix `""`) always exists.
    pub fn has_structure(&self, prefix: &str) -> bool {
        prefix.is_empty() || self.starting_with(&format!("{prefix}.")).next().is_some()
    }

    /// Reads the scalar parameter `name`: `None` if absent, an `InvalidParameterValue` if it is
    /// not a `T`.
    pub fn scalar<T: FromQueryValue>(&self, name: &str) -> Result<Option<T>, QueryRejection> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => T::from_query_value(text)
                .map(Some)
                .ok_or_else(|| invalid(name, T::EXPECTED)),
        }
    }

    /// Reads the list parameter `name`: elements at `name.member.N` (`member` is the model's
    /// element name; `None` for a flattened list, `name.N`), each read by `read`. `name=` alone
    /// is the empty list.
    pub fn list<T>(
        &self,
        name: &str,
        member: Option<&str>,
        read: impl Fn(&QueryParams, &str) -> Result<Option<T>, QueryRejection>,
    ) -> Result<Option<Vec<T>>, QueryRejection> {
        let base = match member {
            Some(member) => format!("{name}.{member}"),
            None => name.to_owned(),
        };
        let indices = self.indices(&base)?;
        if indices.is_empty() {
            return match self.get(name) {
                None => Ok(None),
                Some("") => Ok(Some(Vec::new())),
                Some(_) => Err(invalid(name, "a list")),
            };
        }
        let mut out = Vec::with_capacity(indices.len());
        for index in indices {
            let key = format!("{base}.{index}");
            match read(self, &key)? {
                Some(item) => out.push(item),
                None => return Err(invalid(&key, "a list element")),
            }
        }
        Ok(Some(out))
    }

    /// Reads the map parameter `name`: entries at `name.entry.N.key` / `name.entry.N.value`
    /// (`entry` is `None` for a flattened map; `key`/`value` are the model's names), values read
    /// by `read`. `name=` alone is the empty map.
    pub fn map<V>(
        &self,
        name: &str,
        entry: Option<&str>,
        key: &str,
        value: &str,
        read: impl Fn(&QueryParams, &str) -> Result<Option<V>, QueryRejection>,
    ) -> Result<Option<BTreeMap<String, V>>, QueryRejection> {
        let base = match entry {
            Some(entry) => format!("{name}.{entry}"),
            None => name.to_owned(),
        };
        let indices = self.indices(&base)?;
        if indices.is_empty() {
            return match self.get(name) {
                None => Ok(None),
                Some("") => Ok(Some(BTreeMap::new())),
                Some(_) => Err(invalid(name, "a map")),
            };
        }
        let mut out = BTreeMap::new();
        for index in indices {
            let key_name = format!("{base}.{index}.{key}");
            let Some(entry_key) = self.get(&key_name) else {
                return Err(invalid(&key_name, "a map key"));
            };
            let value_name = format!("{base}.{index}.{value}");
            let Some(entry_value) = read(self, &value_name)? else {
                return Err(invalid(&value_name, "a map value"));
            };
            if out.insert(entry_key.to_owned(), entry_value).is_some() {
                return Err(invalid(&key_name, "a key not already in the map"));
            }
        }
        Ok(Some(out))
    }

    /// The element numbers present under `base.` (`base.1`, `base.2.Key`, …), which must run
    /// 1, 2, …, n without a gap. Segments that are not canonical positive numbers are unknown
    /// parameters and ignored.
    fn indices(&self, base: &str) -> Result<Vec<u32>, QueryRejection> {
        let prefix = format!("{base}.");
        let mut found = BTreeSet::new();
        for (name, _) in self.starting_with(&prefix) {
            let rest = &name[prefix.len()..];
            let segment = rest.split('.').next().unwrap_or(rest);
            let canonical = !segment.is_empty()
                && !segment.starts_with('0')
                && segment.bytes().all(|b| b.is_ascii_digit());
            if let Some(index) = canonical.then(|| segment.parse::<u32>().ok()).flatten() {
                found.insert(index);
            }
        }
        // A gap means a client and keystead would disagree about the list's contents; refuse
        // rather than drop elements (one might be a policy that narrows a session).
        for (position, index) in found.iter().enumerate() {
            if usize::try_from(*index).ok() != Some(position + 1) {
                return Err(invalid(
                    &format!("{prefix}{index}"),
                    "list elements numbered 1, 2, 3, … without gaps",
                ));
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// `prefix.name`, or `name` at the top level (`prefix` empty).
pub fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn invalid(parameter: &str, expected: &'static str) -> QueryRejection {
    QueryRejection::InvalidValue {
        parameter: cut(parameter, MAX_ECHO),
        expected,
    }
}

/// At most `max` characters of `text`.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Percent-decodes one name or value (`+` is a space) and checks it is UTF-8. `offset` is where
/// `bytes` starts in the input: errors point at the bad escape, or at the start of a name or
/// value that is not UTF-8. The buffer is zeroized on failure.
fn decode(bytes: &[u8], offset: usize) -> Result<String, QueryRejection> {
    // Decoding only shrinks, so this never reallocates (which would leave a copy behind).
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(high), Some(low)) => {
                        // Two hex digits are at most 0xFF.
                        out.push((high * 16 + low) as u8);
                        i += 3;
                    }
                    _ => {
                        return Err(QueryRejection::Malformed {
                            reason: "invalid percent-encoding",
                            offset: offset + i,
                        });
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(text) => Ok(text),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(QueryRejection::Malformed {
                reason: "a name or value that is not UTF-8",
                offset,
            })
        }
    }
}

/// The operation named by a request's `Action` and `Version`, looked up with `lookup` (a
/// generated `Operation::from_action`): `MissingAction` without an `Action`, `MissingParameter`
/// without a `Version`, `InvalidAction` if the version is not `api_version` or the action is
/// unknown ("Could not find operation X for version Y", as AWS words it).
pub fn resolve_operation<O>(
    params: &QueryParams,
    api_version: &str,
    lookup: impl Fn(&str) -> Option<O>,
) -> Result<O, QueryRejection> {
    let action = match params.action() {
        None | Some("") => return Err(QueryRejection::MissingAction),
        Some(action) => action,
    };
    let Some(version) = params.version() else {
        return Err(QueryRejection::MissingVersion);
    };
    let unknown = || QueryRejection::UnknownAction {
        action: cut(action, 64),
        version: cut(version, 64),
    };
    if version != api_version {
        return Err(unknown());
    }
    lookup(action).ok_or_else(unknown)
}

/// Reads and validates the request `T` from `params` (whose `Action` the caller has already
/// resolved): wrong-typed values are `InvalidParameterValue`, constraint violations and absent
/// required members `ValidationError`.
pub fn parse_query_request<T: FromQuery + Validate + Default>(
    params: &QueryParams,
) -> Result<T, QueryError> {
    parse_query(params).map_err(QueryError::from)
}

/// [`parse_query_request`] with the typed error.
pub fn parse_query<T: FromQuery + Validate + Default>(
    params: &QueryParams,
) -> Result<T, QueryRejection> {
    let request = T::from_query(params, "")?.unwrap_or_default();
    request.validate().map_err(QueryRejection::Validation)?;
    Ok(request)
}

/// A structure that reads itself from Query parameters (generated for every input structure).
pub trait FromQuery: Sized {
    /// Reads the structure whose members are at `prefix.Member` (`Member` when `prefix` is
    /// empty, i.e. the request itself): `None` if no member parameter is present.
    fn from_query(params: &QueryParams, prefix: &str) -> Result<Option<Self>, QueryRejection>;
}

/// A scalar that parses from one parameter value.
pub trait FromQueryValue: Sized {
    /// What a valid value looks like, for the error message: `an integer`, `a boolean`, ….
    const EXPECTED: &'static str;
    /// The value `text` stands for, if it is valid.
    fn from_query_value(text: &str) -> Option<Self>;
}

impl FromQueryValue for String {
    const EXPECTED: &'static str = "a string";
    fn from_query_value(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl FromQueryValue for SensitiveString {
    const EXPECTED: &'static str = "a string";
    fn from_query_value(text: &str) -> Option<Self> {
        Some(SensitiveString::new(Zeroizing::new(text.to_owned())))
    }
}

impl FromQueryValue for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_query_value(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }
}

impl FromQueryValue for i32 {
    const EXPECTED: &'static str = "an integer";
    fn from_query_value(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl FromQueryValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_query_value(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl FromQueryValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_query_value(text: &str) -> Option<Self> {
        // botocore sends non-finite floats as `NaN`, `Infinity` and `-Infinity`.
        match text {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ if text
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
            {
                text.parse().ok()
            }
            _ => None,
        }
    }
}

impl FromQueryValue for Timestamp {
    const EXPECTED: &'static str = "an ISO 8601 timestamp";
    fn from_query_value(text: &str) -> Option<Self> {
        Timestamp::parse_iso8601(text)
    }
}

impl FromQueryValue for Blob {
    const EXPECTED: &'static str = "base64";
    fn from_query_value(text: &str) -> Option<Self> {
        let mut out = Vec::new();
        decode_into(text, &mut out).ok()?;
        Some(Blob::new(out))
    }
}

impl FromQueryValue for SensitiveBlob {
    const EXPECTED: &'static str = "base64";
    fn from_query_value(text: &str) -> Option<Self> {
        let mut out = Zeroizing::new(Vec::new());
        decode_into(text, &mut out).ok()?;
        Some(SensitiveBlob::new(out))
    }
}

/// A structure that writes its members as XML elements (generated for every output structure).
pub trait ToXml {
    /// Writes each present member as a child element, in model order (the caller writes the
    /// wrapping element).
    fn write_xml(&self, xml: &mut XmlWriter);
}

/// A scalar that writes itself as XML text.
pub trait XmlValue {
    /// Writes the value, escaped, as the text of the current element.
    fn write_text(&self, xml: &mut XmlWriter);
}

impl XmlValue for str {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(self);
    }
}

impl XmlValue for String {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(self);
    }
}

impl XmlValue for SensitiveString {
    fn write_text(&self, xml: &mut XmlWriter) {
        // A response such as CreateAccessKey's carries the secret on purpose.
        xml.text(self.expose());
    }
}

impl XmlValue for bool {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(if *self { "true" } else { "false" });
    }
}

impl XmlValue for i32 {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(&self.to_string());
    }
}

impl XmlValue for i64 {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(&self.to_string());
    }
}

impl XmlValue for f64 {
    fn write_text(&self, xml: &mut XmlWriter) {
        let text = if self.is_nan() {
            "NaN".to_owned()
        } else if self.is_infinite() {
            if *self > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            self.to_string()
        };
        xml.text(&text);
    }
}

impl XmlValue for Timestamp {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.text(&self.to_iso8601());
    }
}

impl XmlValue for Blob {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.base64(self.as_bytes());
    }
}

impl XmlValue for SensitiveBlob {
    fn write_text(&self, xml: &mut XmlWriter) {
        xml.base64(self.expose());
    }
}

/// An output-only XML writer: elements, escaped text, base64. Element names and the namespace
/// are written as given and must be XML names / a URI from the model (they are never request
/// data); text is always escaped.
#[derive(Default)]
pub struct XmlWriter {
    out: Vec<u8>,
}

impl XmlWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            out: Vec::with_capacity(1024),
        }
    }

    /// `<name>`.
    pub fn start(&mut self, name: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    /// `<name xmlns="namespace">`.
    pub fn start_with_namespace(&mut self, name: &str, namespace: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b" xmlns=\"");
        escape_into(&mut self.out, namespace);
        self.out.extend_from_slice(b"\">");
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    /// Escaped text: `&<>"'` as entities; tab, newline and carriage return as character
    /// references (so parsers neither normalize nor strip them); other C0 controls, which XML
    /// 1.0 cannot carry at all, as U+FFFD; DEL and C1 controls as character references.
    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    /// `bytes` as standard base64, encoded straight into the output (no intermediate copy,
    /// which matters for secrets).
    pub fn base64(&mut self, bytes: &[u8]) {
        // Writing to a Vec cannot fail.
        let _ = write!(self.out, "{}", Base64Display::new(bytes, &STANDARD));
    }

    /// `<name>value</name>`.
    pub fn value<V: XmlValue + ?Sized>(&mut self, name: &str, value: &V) {
        self.start(name);
        value.write_text(self);
        self.end(name);
    }

    /// `<name>members</name>`.
    pub fn structure<V: ToXml + ?Sized>(&mut self, name: &str, value: &V) {
        self.start(name);
        value.write_xml(self);
        self.end(name);
    }

    /// The document so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }

    /// The finished document.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (at, c) in text.char_indices() {
        let replacement: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '"' => b"&quot;",
            '\'' => b"&apos;",
            '\t' => b"&#x9;",
            '\n' => b"&#xA;",
            '\r' => b"&#xD;",
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => "\u{FFFD}".as_bytes(),
            '\u{7F}'..='\u{9F}' => {
                out.extend_from_slice(&bytes[clean_from..at]);
                let _ = write!(out, "&#x{:X};", c as u32);
                clean_from = at + c.len_utf8();
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..at]);
        out.extend_from_slice(replacement);
        clean_from = at + c.len_utf8();
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

/// A policy document as IAM writes it in responses (`GetUserPolicy`, `GetRole`'s
/// `AssumeRolePolicyDocument`, `GetPolicyVersion`, …): percent-encoded, every byte but the
/// RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`. botocore and the AWS CLI
/// decode every `policyDocumentType` value this way (botocore `json_decode_policies`), and
/// IAM's documentation tells other clients to do the same.
pub fn encode_policy_document(document: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(document.len() * 3);
    for &b in document.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// A successful response with a result: `<{action}Response xmlns="{namespace}">`
/// `<{action}Result>…</{action}Result>` and the request id. `action` is a generated
/// `Operation::name()` and `namespace` the module's `XML_NAMESPACE`.
pub fn to_query_response<T: ToXml>(
    action: &str,
    namespace: &str,
    result: &T,
    request_id: &str,
) -> Vec<u8> {
    write_response(action, namespace, Some(result as &dyn ToXml), request_id)
}

/// A successful response of an operation without output (IAM `DeleteUser`, …): only
/// `<ResponseMetadata>` inside `<{action}Response>`.
pub fn to_query_empty_response(action: &str, namespace: &str, request_id: &str) -> Vec<u8> {
    write_response(action, namespace, None, request_id)
}

fn write_response(
    action: &str,
    namespace: &str,
    result: Option<&dyn ToXml>,
    request_id: &str,
) -> Vec<u8> {
    let mut xml = XmlWriter::new();
    let response = format!("{action}Response");
    xml.start_with_namespace(&response, namespace);
    if let Some(result) = result {
        let wrapper = format!("{action}Result");
        xml.start(&wrapper);
        result.write_xml(&mut xml);
        xml.end(&wrapper);
    }
    xml.start("ResponseMetadata");
    xml.value("RequestId", request_id);
    xml.end("ResponseMetadata");
    xml.end(&response);
    xml.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(input: &str) -> QueryParams {
        QueryParams::parse(input.as_bytes()).expect("valid")
    }

    #[test]
    fn form_bodies_are_percent_decoded_with_plus_as_space() {
        let p = params("Action=AssumeRole&RoleSessionName=a%2Bb+c&Policy=%7B%22a%22%3A1%7D&&Flag");
        assert_eq!(p.action(), Some("AssumeRole"));
        assert_eq!(p.get("RoleSessionName"), Some("a+b c"));
        assert_eq!(p.get("Policy"), Some("{\"a\":1}"));
        assert_eq!(p.get("Flag"), Some(""));
        assert_eq!(p.len(), 4);
        assert_eq!(
            params("Name=%C3%A9t%C3%A9").get("Name"),
            Some("\u{e9}t\u{e9}")
        );
    }

    #[test]
    fn bad_escapes_and_bad_utf8_are_malformed_query_strings() {
        for (input, offset) in [("A=1&B=%zz", 6), ("A=%4", 2), ("A=%FF", 2), ("=x", 0)] {
            let err = QueryParams::parse(input.as_bytes()).expect_err("rejected");
            assert_eq!(err.aws_code(), "MalformedQueryString", "{input}");
            assert_eq!(err.status(), 404);
            match err {
                QueryRejection::Malformed { offset: at, .. } => assert_eq!(at, offset, "{input}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_repeated_parameter_is_rejected_even_across_query_and_body() {
        let err = QueryParams::parse(b"A=1&A=1").expect_err("rejected");
        assert_eq!(err.aws_code(), "InvalidQueryParameter");
        assert_eq!(err.to_string(), "The parameter A appears more than once");
        let err = QueryParams::parse_parts(b"Action=X", b"Action=X").expect_err("rejected");
        assert!(matches!(err, QueryRejection::DuplicateParameter { .. }));
        let both = QueryParams::parse_parts(b"Action=X", b"Version=1").expect("valid");
        assert_eq!((both.action(), both.version()), (Some("X"), Some("1")));
    }

    #[test]
    fn debug_output_lists_names_but_not_values() {
        let p = params("Password=hunter2&UserName=bob");
        let debug = format!("{p:?}");
        assert!(
            debug.contains("Password") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn lists_read_in_index_order_and_an_empty_value_is_an_empty_list() {
        let p = params("L.member.2=b&L.member.1=a&L.member.10=j&E=&X.1=x");
        let read = |p: &QueryParams, k: &str| p.scalar::<String>(k);
        let gap = p.list("L", Some("member"), read).expect_err("gap");
        assert!(gap.to_string().contains("L.member.10"), "{gap}");
        let p = params("L.member.2=b&L.member.1=a&E=&X.1=x&L.member.01=ignored");
        assert_eq!(
            p.list("L", Some("member"), read).expect("valid"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            p.list("E", Some("member"), read).expect("valid"),
            Some(vec![])
        );
        assert_eq!(p.list("Absent", Some("member"), read).expect("valid"), None);
        assert_eq!(
            p.list("X", None, read).expect("flattened"),
            Some(vec!["x".to_owned()])
        );
    }

    #[test]
    fn maps_need_a_key_and_a_value_per_entry_and_distinct_keys() {
        let read = |p: &QueryParams, k: &str| p.scalar::<String>(k);
        let p = params("M.entry.1.key=a&M.entry.1.value=1&M.entry.2.key=b&M.entry.2.value=2");
        let map = p
            .map("M", Some("entry"), "key", "value", read)
            .expect("valid");
        assert_eq!(
            map.expect("present").get("b").map(String::as_str),
            Some("2")
        );
        for bad in [
            "M.entry.1.key=a",
            "M.entry.1.value=1",
            "M.entry.1.key=a&M.entry.1.value=1&M.entry.2.key=a&M.entry.2.value=2",
        ] {
            let err = params(bad)
                .map("M", Some("entry"), "key", "value", read)
                .expect_err("rejected");
            assert_eq!(err.aws_code(), "InvalidParameterValue", "{bad}");
        }
    }

    #[test]
    fn scalars_of_the_wrong_form_are_invalid_parameter_values() {
        let p = params("I=12x&B=yes&T=yesterday&D=1e3&N=-7&Blob=!!");
        let err = p.scalar::<i32>("I").expect_err("not an integer");
        assert_eq!(
            err.to_string(),
            "Invalid value for parameter I: expected an integer"
        );
        assert!(p.scalar::<bool>("B").is_err());
        assert!(p.scalar::<Timestamp>("T").is_err());
        assert!(p.scalar::<Blob>("Blob").is_err());
        assert_eq!(p.scalar::<f64>("D").expect("number"), Some(1000.0));
        assert_eq!(p.scalar::<i64>("N").expect("integer"), Some(-7));
        assert_eq!(p.scalar::<i32>("Absent").expect("absent"), None);
        assert_eq!(
            params("B=TRUE").scalar::<bool>("B").expect("bool"),
            Some(true)
        );
    }

    #[test]
    fn actions_resolve_only_at_the_api_version() {
        let lookup = |a: &str| (a == "GetCallerIdentity").then_some(1);
        let resolve = |input: &str| resolve_operation(&params(input), "2011-06-15", lookup);
        assert_eq!(
            resolve("Action=GetCallerIdentity&Version=2011-06-15"),
            Ok(1)
        );
        assert_eq!(
            resolve("Version=2011-06-15"),
            Err(QueryRejection::MissingAction)
        );
        assert_eq!(
            resolve("Action=GetCallerIdentity"),
            Err(QueryRejection::MissingVersion)
        );
        let err =
            resolve("Action=GetCallerIdentity&Version=2010-05-08").expect_err("wrong version");
        assert_eq!(
            err.to_string(),
            "Could not find operation GetCallerIdentity for version 2010-05-08"
        );
        assert_eq!(err.aws_code(), "InvalidAction");
        assert!(resolve("Action=Nope&Version=2011-06-15").is_err());
    }

    #[test]
    fn policy_documents_are_percent_encoded_like_iam_does() {
        assert_eq!(
            encode_policy_document("{\"Version\": \"2012-10-17\", \"A\": \"caf\u{e9}~\"}"),
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22A%22%3A%20%22caf%C3%A9~%22%7D"
        );
    }

    #[test]
    fn text_is_escaped_and_controls_are_made_representable() {
        let mut xml = XmlWriter::new();
        xml.value(
            "A",
            "<a href=\"x\">Tom & Jerry's</a>\t\r\n\u{1}\u{85}\u{e9}",
        );
        assert_eq!(
            String::from_utf8(xml.into_bytes()).expect("utf-8"),
            "<A>&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;&#x9;&#xD;&#xA;\u{FFFD}&#x85;\u{e9}</A>"
        );
    }

    #[test]
    fn responses_wrap_the_result_and_the_request_id() {
        struct Empty;
        impl ToXml for Empty {
            fn write_xml(&self, xml: &mut XmlWriter) {
                xml.value("Account", "123456789012");
            }
        }
        let body = to_query_response("GetCallerIdentity", "urn:x", &Empty, "req-1");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            "<GetCallerIdentityResponse xmlns=\"urn:x\"><GetCallerIdentityResult>\
             <Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata>\
             <RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let body = to_query_empty_response("DeleteUser", "urn:x", "req-2");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            "<DeleteUserResponse xmlns=\"urn:x\"><ResponseMetadata><RequestId>req-2</RequestId>\
             </ResponseMetadata></DeleteUserResponse>"
        );
    }

    #[test]
    fn rejections_become_sender_errors_with_their_code_and_status() {
        let error = QueryError::from(QueryRejection::MissingAction);
        assert_eq!((error.code, error.status), ("MissingAction", 400));
        assert_eq!(
            String::from_utf8(error.to_xml("r<1>")).expect("utf-8"),
            "<ErrorResponse><Error><Type>Sender</Type><Code>MissingAction</Code>\
             <Message>Missing Action</Message></Error><RequestId>r&lt;1&gt;</RequestId>\
             </ErrorResponse>"
        );
    }
}

//! Request bodies in, response bodies out, for AWS JSON 1.1.
//!
//! [`parse_request`] is the one way a request body becomes a typed request: it deserializes
//! strictly (unknown members, wrong types and bad base64 are `SerializationException`s) and then
//! validates (`ValidationException`). Error messages name the offending member but never quote
//! its value, since the value may be a plaintext or a secret.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AwsError, Error, Problem};
use crate::validate::Validate;

/// Parses and validates a request body. An empty body is treated as `{}`.
pub fn parse_request<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, AwsError> {
    parse::<T>(body).map_err(AwsError::from)
}

/// [`parse_request`] with the typed error.
pub fn parse<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, Error> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    // serde's derived structs also accept JSON arrays (positionally), so check the shape first.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let problem = match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Problem::NotAnObject,
            Err(e) => describe(body, &e),
        };
        return Err(Error::Serialization { problem });
    }
    let request: T = serde_json::from_slice(body).map_err(|e| Error::Serialization {
        problem: describe(body, &e),
    })?;
    request.validate().map_err(Error::Validation)?;
    Ok(request)
}

/// Serializes a response body.
pub fn to_response_body<T: Serialize>(response: &T) -> Vec<u8> {
    // The generated response types hold only strings, numbers, lists and string-keyed maps, which
    // always serialize.
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, response).expect("invariant: response types always serialize");
    out
}

/// Turns a serde_json error into a [`Problem`] without passing on any part of serde's message that
/// could quote a value.
fn describe(body: &[u8], error: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let (line, column) = (error.line(), error.column());
    // serde_json's Display appends " at line L column C"; the rest is the message proper.
    let full = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            // Syntax messages come from a fixed list ("expected value", "trailing characters", ...).
            Problem::Syntax {
                line,
                column,
                detail: message.to_owned(),
            }
        }
        Category::Data => {
            let member = member_at(body, offset_of(body, line, column));
            describe_data(message, member)
        }
    }
}

fn describe_data(message: &str, member: Option<String>) -> Problem {
    let member_name = || member.clone().unwrap_or_else(|| "(unknown)".to_owned());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = cut_name(rest);
        let member = member.filter(|m| *m != name);
        return Problem::UnknownMember { name, member };
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let name = cut_name(rest);
        let member = member.filter(|m| *m != name);
        return Problem::DuplicateMember { name, member };
    }
    if message == "invalid base64" {
        return Problem::InvalidBase64 {
            member: member_name(),
        };
    }
    let typed = ["invalid type: ", "invalid value: ", "invalid length "];
    if typed.iter().any(|p| message.starts_with(p)) {
        // The value (if quoted) comes before the last ", expected "; what follows is the
        // visitor's fixed description of the type.
        if let Some((_, expected)) = message.rsplit_once(", expected ") {
            return Problem::WrongType {
                member: member_name(),
                expected: friendly(expected),
            };
        }
    }
    Problem::Other
}

/// The member name at the start of serde's "`name`, expected ..." tail, capped in length.
fn cut_name(rest: &str) -> String {
    let end = rest
        .find("`, ")
        .or_else(|| rest.rfind('`'))
        .unwrap_or(rest.len());
    rest[..end].chars().take(128).collect()
}

/// Plain-language names for serde's type descriptions.
fn friendly(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "an object".to_owned(),
        other if other.starts_with("struct ") => "an object".to_owned(),
        other => other.chars().take(64).collect(),
    }
}

/// The byte offset of serde_json's 1-based (line, column) position.
fn offset_of(body: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(body.len())
}

/// The top-level member whose key starts last at or before `offset`: the member being read when
/// serde stopped.
fn member_at(body: &[u8], offset: usize) -> Option<String> {
    top_level_keys(body)
        .into_iter()
        .take_while(|(start, _)| *start <= offset)
        .last()
        .map(|(_, key)| key)
}

/// The keys of the top-level object with the offsets where they start. Tolerates invalid JSON
/// (it only ever runs on bodies serde rejected).
fn top_level_keys(body: &[u8]) -> Vec<(usize, String)> {
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut expecting_key = false;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && expecting_key {
                    let token = body.get(start..=i).unwrap_or_default();
                    let key = serde_json::from_slice::<String>(token).unwrap_or_default();
                    keys.push((start, key.chars().take(128).collect()));
                    expecting_key = false;
                }
            }
            b'{' => {
                depth += 1;
                expecting_key = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting_key = true,
            _ => {}
        }
        i += 1;
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_skip_nested_objects_and_strings() {
        let body = br#"{"A": {"B": 1}, "C": "x\",\"D", "E": [{"F": 2}]}"#;
        let keys: Vec<String> = top_level_keys(body).into_iter().map(|(_, k)| k).collect();
        assert_eq!(keys, ["A", "C", "E"]);
    }

    #[test]
    fn offsets_count_lines_and_columns_from_one() {
        let body = b"{\n  \"A\": 1\n}";
        assert_eq!(offset_of(body, 2, 3), 4);
        assert_eq!(member_at(body, 9), Some("A".to_owned()));
    }
}

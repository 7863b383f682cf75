//! A JSON tree that keeps every member of an object in document order, duplicates included, so
//! that the policy parser can refuse a document that names a field twice. `serde_json::Value`
//! keeps only the last duplicate, which would let a policy show a reviewer one `Effect` and be
//! evaluated with another. Nothing else here: no policy grammar.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::Error;

/// One JSON value. Numbers keep the text serde_json gives them (`30`, `1.5`), which is how IAM
/// reads numeric condition values: as strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `text`, refusing any object that repeats a member name anywhere in the tree.
    pub(crate) fn parse(text: &str) -> Result<Json, Error> {
        let value: Json = serde_json::from_str(text).map_err(|e| Error::Syntax {
            location: format!("line {}, column {}", e.line(), e.column()),
        })?;
        value.check_duplicates()?;
        Ok(value)
    }

    fn check_duplicates(&self) -> Result<(), Error> {
        match self {
            Json::Array(items) => items.iter().try_for_each(Json::check_duplicates),
            Json::Object(members) => {
                for (i, (name, value)) in members.iter().enumerate() {
                    if members[..i].iter().any(|(n, _)| n == name) {
                        return Err(Error::DuplicateField {
                            field: name.clone(),
                        });
                    }
                    value.check_duplicates()?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Json>()? {
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        assert_eq!(
            Json::parse(r#"{"a":1,"b":{"c":1,"c":2}}"#),
            Err(Error::DuplicateField { field: "c".into() })
        );
        assert!(Json::parse(r#"[{"a":1},{"a":2}]"#).is_ok());
    }

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(
            Json::parse("[30, 1.5, -2]").ok(),
            Some(Json::Array(vec![
                Json::Number("30".into()),
                Json::Number("1.5".into()),
                Json::Number("-2".into()),
            ]))
        );
    }

    #[test]
    fn invalid_json_is_a_syntax_error() {
        assert!(matches!(Json::parse("{"), Err(Error::Syntax { .. })));
    }
}

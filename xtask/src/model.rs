//! The subset of botocore's `service-2.json` format that code generation reads.
//!
//! Everything is kept in `BTreeMap`s so that iteration order, and therefore the generated code,
//! is deterministic (sorted by name) whatever order the JSON file lists things in.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole service model.
#[derive(Debug, Deserialize)]
pub struct Model {
    /// Service-wide facts: protocol, target prefix, names.
    pub metadata: Metadata,
    /// Operations by name.
    pub operations: BTreeMap<String, Operation>,
    /// Shapes by name.
    pub shapes: BTreeMap<String, Shape>,
}

/// `metadata` of a model.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// `json`, `query`, ...
    pub protocol: String,
    /// The `X-Amz-Target` prefix, e.g. `TrentService`.
    #[serde(default)]
    pub target_prefix: Option<String>,
    /// A short display name, e.g. `KMS`.
    pub service_id: String,
}

/// One operation.
#[derive(Debug, Deserialize)]
pub struct Operation {
    /// Its name, e.g. `Encrypt`.
    pub name: String,
    /// The input structure.
    #[serde(default)]
    pub input: Option<ShapeRef>,
    /// The output structure.
    #[serde(default)]
    pub output: Option<ShapeRef>,
    /// The exception structures it may return.
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
}

/// A reference to a shape by name.
#[derive(Debug, Deserialize)]
pub struct ShapeRef {
    /// The referenced shape.
    pub shape: String,
}

/// The `error` trait of an exception shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    /// The HTTP status the service answers with.
    #[serde(default)]
    pub http_status_code: Option<u16>,
    /// The wire code, when it differs from the shape name.
    #[serde(default)]
    pub code: Option<String>,
}

/// One shape. Fields not used by a shape's type are absent.
#[derive(Debug, Deserialize)]
pub struct Shape {
    /// `structure`, `string`, `list`, `map`, `blob`, `integer`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Structure members by name.
    #[serde(default)]
    pub members: BTreeMap<String, ShapeRef>,
    /// Required structure members.
    #[serde(default)]
    pub required: Vec<String>,
    /// List element.
    #[serde(default)]
    pub member: Option<ShapeRef>,
    /// Map key.
    #[serde(default)]
    pub key: Option<ShapeRef>,
    /// Map value.
    #[serde(default)]
    pub value: Option<ShapeRef>,
    /// Allowed values of an enum string, in model order.
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// Minimum length (strings, blobs, lists, maps) or value (numbers).
    #[serde(default)]
    pub min: Option<serde_json::Number>,
    /// Maximum length (strings, blobs, lists, maps) or value (numbers).
    #[serde(default)]
    pub max: Option<serde_json::Number>,
    /// A (Java-flavoured) regular expression a string must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Whether values of this shape are secret.
    #[serde(default)]
    pub sensitive: bool,
    /// Whether this structure is an error.
    #[serde(default)]
    pub exception: bool,
    /// Whether this error is the service's fault.
    #[serde(default)]
    pub fault: bool,
    /// The error trait of an exception.
    #[serde(default)]
    pub error: Option<ErrorTrait>,
}

impl Model {
    /// Parses a model file's text.
    pub fn parse(text: &str) -> Result<Model, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid model: {e}"))
    }

    /// The shape called `name`.
    pub fn shape(&self, name: &str) -> &Shape {
        match self.shapes.get(name) {
            Some(shape) => shape,
            None => panic!("model refers to undefined shape {name}"),
        }
    }

    /// The shapes directly referenced by `name`.
    pub fn children(&self, name: &str) -> Vec<&str> {
        let shape = self.shape(name);
        let mut out: Vec<&str> = shape.members.values().map(|m| m.shape.as_str()).collect();
        for r in [&shape.member, &shape.key, &shape.value]
            .into_iter()
            .flatten()
        {
            out.push(r.shape.as_str());
        }
        out
    }
}

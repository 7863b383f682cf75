//! The subset of botocore's `service-2.json` format that code generation reads.
//!
//! Everything is kept in `BTreeMap`s so that iteration order, and therefore the generated code,
//! is deterministic (sorted by name) whatever order the JSON file lists things in. The one
//! exception is `Shape::member_order`, the file order of a structure's members, which Query
//! responses write their elements in.

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
    /// The API version, e.g. `2011-06-15`; the Query protocol's `Version` parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// The XML namespace of Query-protocol responses, e.g. `https://sts.amazonaws.com/doc/2011-06-15/`.
    #[serde(default)]
    pub xml_namespace: Option<String>,
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
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    /// The referenced shape.
    pub shape: String,
    /// The wire name of a member, list element or map key/value, when it differs from the
    /// member name (Query: the parameter segment and the XML element name).
    #[serde(default)]
    pub location_name: Option<String>,
    /// An operation output's wrapping XML element (Query), e.g. `AssumeRoleResult`.
    #[serde(default)]
    pub result_wrapper: Option<String>,
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
    /// Whether the client is at fault (Query: `<Type>Sender</Type>`).
    #[serde(default)]
    pub sender_fault: bool,
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
    /// Whether a list or map is written without its wrapping element (Query: no `.member`
    /// / `.entry` segment, repeated XML elements).
    #[serde(default)]
    pub flattened: bool,
    /// The structure members' names in the order the model file lists them (`members` is
    /// sorted); Query responses write elements in this order.
    #[serde(skip)]
    pub member_order: Vec<String>,
}

impl Model {
    /// Parses a model file's text.
    pub fn parse(text: &str) -> Result<Model, String> {
        let mut model: Model =
            serde_json::from_str(text).map_err(|e| format!("invalid model: {e}"))?;
        // serde_json's maps are sorted, so the file order of members needs a second pass that
        // only records keys.
        let order: MemberOrder =
            serde_json::from_str(text).map_err(|e| format!("invalid model: {e}"))?;
        for (name, members) in order.shapes {
            if let Some(shape) = model.shapes.get_mut(&name) {
                shape.member_order = members.members;
            }
        }
        Ok(model)
    }

    /// The shape called `name`.
    pub fn shape(&self, name: &str) -> &Shape {
        match self.shapes.get(name) {
            Some(shape) => shape,
            None => panic!("model refers to undefined shape {name}"),
        }
    }

    /// The members of structure `name` in model-file order.
    pub fn members_in_order(&self, name: &str) -> Vec<(&str, &ShapeRef)> {
        let shape = self.shape(name);
        shape
            .member_order
            .iter()
            .filter_map(|m| shape.members.get(m).map(|r| (m.as_str(), r)))
            .collect()
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

/// The second pass of [`Model::parse`]: each shape's member names in file order.
#[derive(Deserialize)]
struct MemberOrder {
    shapes: BTreeMap<String, ShapeMemberOrder>,
}

#[derive(Deserialize)]
struct ShapeMemberOrder {
    #[serde(default, deserialize_with = "keys_in_order")]
    members: Vec<String>,
}

/// The keys of a JSON object in the order they appear, ignoring the values.
fn keys_in_order<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, serde::de::IgnoredAny)) =
                map.next_entry::<String, serde::de::IgnoredAny>()?
            {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    deserializer.deserialize_map(Keys)
}

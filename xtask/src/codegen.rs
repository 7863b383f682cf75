//! Generating one Rust module of wire types per service model (AWS JSON 1.1 or Query).
//!
//! For a model this writes, in order: `Operation`, `ErrorCode`, the enum shapes, the structures
//! reachable from operation inputs and outputs, their `Validate` impls, one validator function
//! per constrained non-structure input shape, and one `LazyLock<Regex>` per checked pattern.
//! JSON structures derive serde; Query structures instead get a `FromQuery` (inputs) and a
//! `ToXml` (outputs) impl, written by the `query` submodule. Output is unformatted; `lib.rs`
//! pipes it through rustfmt.

mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::defaults;
use crate::java_regex;
use crate::model::{Model, Shape};
use crate::names;

/// Which side(s) of the wire a shape is used on.
#[derive(Debug, Clone, Copy, Default)]
struct Sides {
    input: bool,
    output: bool,
}

/// Names the generated code imports or defines itself; a shape with one of these names would
/// shadow or clash with them.
const RESERVED: &[&str] = &[
    "BTreeMap",
    "Blob",
    "Box",
    "Deserialize",
    "ErrorCode",
    "FromQuery",
    "LazyLock",
    "None",
    "Ok",
    "Operation",
    "Option",
    "Path",
    "QueryParams",
    "QueryRejection",
    "Regex",
    "Result",
    "SensitiveBlob",
    "SensitiveString",
    "Serialize",
    "Some",
    "String",
    "Timestamp",
    "ToXml",
    "Validate",
    "Vec",
    "Violations",
    "XmlWriter",
];

struct Generator<'m> {
    model: &'m Model,
    source: &'m str,
    label: String,
    sides: BTreeMap<&'m str, Sides>,
    sensitive: BTreeMap<&'m str, bool>,
    out: String,
    patterns: BTreeMap<String, (String, String, String)>,
}

/// Generates the (unformatted) module for `model`; `source` is the model's path relative to the
/// repository root.
pub fn generate(model: &Model, source: &str) -> Result<String, String> {
    if !matches!(model.metadata.protocol.as_str(), "json" | "query") {
        return Err(format!(
            "{source}: only the json and query protocols are supported"
        ));
    }
    let mut generator = Generator {
        model,
        source,
        label: model.metadata.service_id.clone(),
        sides: BTreeMap::new(),
        sensitive: BTreeMap::new(),
        out: String::new(),
        patterns: BTreeMap::new(),
    };
    generator.compute_sides()?;
    generator.check_names()?;
    generator.emit()?;
    Ok(generator.out)
}

impl<'m> Generator<'m> {
    fn shape(&self, name: &str) -> &'m Shape {
        self.model.shape(name)
    }

    /// Whether this is a Query-protocol model (STS, IAM).
    fn is_query(&self) -> bool {
        self.model.metadata.protocol == "query"
    }

    /// Marks every shape reachable from an operation input (output) as input (output) side, and
    /// rejects recursive shapes, which would need boxing that no current model requires.
    fn compute_sides(&mut self) -> Result<(), String> {
        let model = self.model;
        for op in model.operations.values() {
            if let Some(input) = &op.input {
                self.mark(&input.shape, true, &mut Vec::new())?;
            }
            if let Some(output) = &op.output {
                self.mark(&output.shape, false, &mut Vec::new())?;
            }
        }
        Ok(())
    }

    fn mark(&mut self, name: &'m str, input: bool, stack: &mut Vec<&'m str>) -> Result<(), String> {
        if stack.contains(&name) {
            return Err(format!("recursive shape {name} is not supported"));
        }
        let entry = self.sides.entry(name).or_default();
        let seen = if input { entry.input } else { entry.output };
        if seen {
            return Ok(());
        }
        if input {
            entry.input = true;
        } else {
            entry.output = true;
        }
        stack.push(name);
        let model = self.model;
        for child in model.children(name) {
            self.mark(child, input, stack)?;
        }
        stack.pop();
        Ok(())
    }

    /// Whether a value of `name` holds anything sensitive, transitively.
    fn is_sensitive(&mut self, name: &'m str) -> bool {
        if let Some(&known) = self.sensitive.get(name) {
            return known;
        }
        let model = self.model;
        let result = model.shape(name).sensitive
            || model
                .children(name)
                .into_iter()
                .any(|c| self.is_sensitive(c));
        self.sensitive.insert(name, result);
        result
    }

    fn check_names(&self) -> Result<(), String> {
        let mut types = BTreeMap::new();
        for name in self.sides.keys() {
            let shape = self.shape(name);
            let named = shape.kind == "structure" || shape.enum_values.is_some();
            if !named {
                continue;
            }
            let type_name = type_name(name);
            if RESERVED.contains(&type_name.as_str()) {
                return Err(format!(
                    "shape {name} clashes with a name the generated code uses"
                ));
            }
            if let Some(other) = types.insert(type_name.clone(), *name) {
                return Err(format!(
                    "shapes {other} and {name} both become type {type_name}"
                ));
            }
        }
        Ok(())
    }

    /// The Rust type of a value of shape `name`.
    fn rust_type(&self, name: &str) -> String {
        let shape = self.shape(name);
        match shape.kind.as_str() {
            "structure" => type_name(name),
            "string" if shape.enum_values.is_some() => type_name(name),
            "string" if shape.sensitive => "SensitiveString".to_owned(),
            "string" => "String".to_owned(),
            "blob" if shape.sensitive => "SensitiveBlob".to_owned(),
            "blob" => "Blob".to_owned(),
            "boolean" => "bool".to_owned(),
            "integer" => "i32".to_owned(),
            "long" => "i64".to_owned(),
            "double" | "float" => "f64".to_owned(),
            "timestamp" => "Timestamp".to_owned(),
            "list" => format!("Vec<{}>", self.rust_type(&element(shape, name))),
            "map" => format!(
                "BTreeMap<String, {}>",
                self.rust_type(&map_value(shape, name))
            ),
            other => panic!("shape {name} has unsupported type {other}"),
        }
    }

    fn emit(&mut self) -> Result<(), String> {
        let label = self.label.clone();
        let source = self.source;
        let mut body = String::new();
        std::mem::swap(&mut body, &mut self.out);
        if self.is_query() {
            self.emit_query_operations()?;
            self.emit_query_errors();
            self.emit_enums();
            self.emit_query_structures()?;
        } else {
            self.emit_operations();
            self.emit_errors();
            self.emit_enums();
            self.emit_structures();
        }
        self.emit_validators()?;
        self.emit_patterns();
        std::mem::swap(&mut body, &mut self.out);

        let mut header = String::new();
        let _ = writeln!(
            header,
            "//! {label} wire types, generated by `cargo xtask codegen` from `{source}`.\n//!\n\
             //! Do not edit: change the model or `xtask/src/codegen.rs` and regenerate.\n\
             #![allow(missing_docs)]\n"
        );
        let uses = [
            ("BTreeMap<", "use std::collections::BTreeMap;"),
            ("LazyLock<", "use std::sync::LazyLock;"),
            ("Regex>", "use regex::Regex;"),
        ];
        for (needle, line) in uses {
            if body.contains(needle) {
                let _ = writeln!(header, "{line}");
            }
        }
        if self.is_query() {
            let runtime: Vec<&str> = [
                "FromQuery",
                "QueryParams",
                "QueryRejection",
                "ToXml",
                "XmlWriter",
            ]
            .into_iter()
            .filter(|t| contains_word(&body, t))
            .collect();
            if !runtime.is_empty() {
                let _ = writeln!(header, "use crate::query::{{{}}};", runtime.join(", "));
            }
        } else {
            let _ = writeln!(header, "use serde::{{Deserialize, Serialize}};");
        }
        let types: Vec<&str> = ["Blob", "SensitiveBlob", "SensitiveString", "Timestamp"]
            .into_iter()
            .filter(|t| contains_word(&body, t))
            .collect();
        if !types.is_empty() {
            let _ = writeln!(header, "use crate::types::{{{}}};", types.join(", "));
        }
        let _ = writeln!(
            header,
            "use crate::validate::{{Path, Validate, Violations}};\n"
        );
        self.out = header + &body;
        Ok(())
    }

    fn emit_operations(&mut self) {
        let prefix = self
            .model
            .metadata
            .target_prefix
            .clone()
            .unwrap_or_default();
        let names: Vec<&str> = self
            .model
            .operations
            .values()
            .map(|o| o.name.as_str())
            .collect();
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "/// The X-Amz-Target prefix of every {} operation.",
            self.label
        );
        let _ = writeln!(o, "pub const TARGET_PREFIX: &str = {prefix:?};\n");
        let _ = writeln!(o, "/// Every operation in the {} model.", self.label);
        let _ = writeln!(
            o,
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]"
        );
        let _ = writeln!(o, "pub enum Operation {{");
        for n in &names {
            let _ = writeln!(o, "    {n},");
        }
        let _ = writeln!(o, "}}\n\nimpl Operation {{");
        let _ = writeln!(o, "    /// Every operation, sorted by name.");
        let _ = writeln!(
            o,
            "    pub const ALL: &[Operation] = &[{}];\n",
            join_map(&names, |n| format!("Self::{n}"))
        );
        let _ = writeln!(
            o,
            "    /// The operation an `X-Amz-Target` header names, e.g. `{prefix}.{}`.\n    \
             pub fn from_target(target: &str) -> Option<Operation> {{\n        \
             let name = target.strip_prefix(TARGET_PREFIX)?.strip_prefix('.')?;\n        \
             Self::from_name(name)\n    }}\n",
            names.first().copied().unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "    /// The operation called `name`.\n    pub fn from_name(name: &str) -> Option<Operation> {{\n        match name {{"
        );
        for n in &names {
            let _ = writeln!(o, "            {n:?} => Some(Self::{n}),");
        }
        let _ = writeln!(o, "            _ => None,\n        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// The operation's name as AWS spells it.\n    pub fn name(self) -> &'static str {{\n        match self {{"
        );
        for n in &names {
            let _ = writeln!(o, "            Self::{n} => {n:?},");
        }
        let _ = writeln!(o, "        }}\n    }}\n}}\n");
    }

    fn emit_errors(&mut self) {
        // code → (variant, status); the model's own exceptions win over the common table.
        let mut codes: BTreeMap<String, (String, u16)> = BTreeMap::new();
        for (code, status) in defaults::COMMON_ERRORS {
            codes.insert((*code).to_owned(), ((*code).to_owned(), *status));
        }
        for (name, shape) in &self.model.shapes {
            if !shape.exception {
                continue;
            }
            let code = shape
                .error
                .as_ref()
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| name.clone());
            let modelled = shape.error.as_ref().and_then(|e| e.http_status_code);
            let status = defaults::status_for(&code, modelled);
            codes.insert(code, (name.clone(), status));
        }
        let label = &self.label;
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "/// Every `__type` a {label} client can receive: the model's exceptions plus the errors\n\
             /// common to all AWS JSON services.\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n\
             pub enum ErrorCode {{"
        );
        for (variant, _) in codes.values() {
            let _ = writeln!(o, "    {variant},");
        }
        let _ = writeln!(o, "}}\n\nimpl ErrorCode {{");
        let variants: Vec<&str> = codes.values().map(|(v, _)| v.as_str()).collect();
        let _ = writeln!(o, "    /// Every error code, sorted by `__type`.");
        let _ = writeln!(
            o,
            "    pub const ALL: &[ErrorCode] = &[{}];\n",
            join_map(&variants, |v| format!("Self::{v}"))
        );
        let _ = writeln!(
            o,
            "    /// The exact `__type` string.\n    pub fn as_str(self) -> &'static str {{\n        match self {{"
        );
        for (code, (variant, _)) in &codes {
            let _ = writeln!(o, "            Self::{variant} => {code:?},");
        }
        let _ = writeln!(o, "        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// The error named by a `__type` string.\n    pub fn from_code(code: &str) -> Option<ErrorCode> {{\n        match code {{"
        );
        for (code, (variant, _)) in &codes {
            let _ = writeln!(o, "            {code:?} => Some(Self::{variant}),");
        }
        let _ = writeln!(o, "            _ => None,\n        }}\n    }}\n");
        let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
        for (variant, status) in codes.values() {
            by_status.entry(*status).or_default().push(variant);
        }
        let _ = writeln!(
            o,
            "    /// The HTTP status AWS answers with.\n    pub fn status(self) -> u16 {{\n        match self {{"
        );
        for (status, variants) in &by_status {
            let arms: Vec<String> = variants.iter().map(|v| format!("Self::{v}")).collect();
            let _ = writeln!(o, "            {} => {status},", arms.join(" | "));
        }
        let _ = writeln!(o, "        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// An error response with this code, its status and `message`.\n    \
             pub fn with_message(self, message: impl Into<String>) -> crate::AwsError {{\n        \
             crate::AwsError::new(self.as_str(), self.status(), message)\n    }}\n}}\n"
        );
    }

    fn emit_enums(&mut self) {
        let enums: Vec<&str> = self
            .sides
            .keys()
            .copied()
            .filter(|n| self.shape(n).enum_values.is_some())
            .collect();
        for name in enums {
            let values = self.shape(name).enum_values.clone().unwrap_or_default();
            let mut used = BTreeSet::new();
            let _ = writeln!(
                self.out,
                "crate::types::wire_enum! {{\n    /// Generated from the {} model: {name}.\n    {} {{",
                self.label,
                type_name(name)
            );
            for value in &values {
                let mut variant = names::variant(value);
                while variant == "Unknown" || variant == "Self" || used.contains(&variant) {
                    variant.push_str("Value");
                }
                used.insert(variant.clone());
                let _ = writeln!(self.out, "        {variant} = {value:?},");
            }
            let _ = writeln!(self.out, "    }}\n}}\n");
        }
    }

    fn emit_structures(&mut self) {
        let structs: Vec<(&str, Sides)> = self
            .sides
            .iter()
            .filter(|(n, _)| self.shape(n).kind == "structure")
            .map(|(n, s)| (*n, *s))
            .collect();
        for (name, sides) in structs {
            let sensitive = self.is_sensitive(name);
            let mut derives = Vec::new();
            if !sensitive {
                derives.extend(["Debug", "Clone", "PartialEq"]);
            }
            derives.push("Default");
            if sides.output {
                derives.push("Serialize");
            }
            if sides.input {
                derives.push("Deserialize");
            }
            let side = match (sides.input, sides.output) {
                (true, true) => "input and output",
                (true, false) => "input",
                _ => "output",
            };
            let _ = writeln!(
                self.out,
                "/// Generated from the {} model: {name} ({side}).",
                self.label
            );
            let _ = writeln!(self.out, "#[derive({})]", derives.join(", "));
            if sides.input {
                let _ = writeln!(self.out, "#[serde(deny_unknown_fields)]");
            }
            let _ = writeln!(self.out, "pub struct {name} {{");
            let shape = self.shape(name);
            let mut fields = BTreeSet::new();
            for (member, target) in &shape.members {
                let field = names::field_name(member);
                if !fields.insert(field.clone()) {
                    panic!("{name}: two members map to field {field}");
                }
                let skip = if sides.output {
                    ", skip_serializing_if = \"Option::is_none\""
                } else {
                    ""
                };
                let ty = self.rust_type(&target.shape);
                let _ = writeln!(
                    self.out,
                    "    #[serde(rename = {member:?}{skip})]\n    pub {field}: Option<{ty}>,"
                );
            }
            let _ = writeln!(self.out, "}}\n");
        }
    }

    /// Whether values of `name` have anything to check on input.
    fn needs_validation(&self, name: &str) -> bool {
        let shape = self.shape(name);
        match shape.kind.as_str() {
            "structure" => true,
            "string" if shape.enum_values.is_some() => true,
            "string" => {
                positive(&shape.min).is_some()
                    || shape.max.is_some()
                    || shape
                        .pattern
                        .as_deref()
                        .is_some_and(|p| java_regex::translate(p).is_ok())
            }
            "blob" => positive(&shape.min).is_some() || shape.max.is_some(),
            "integer" | "long" | "double" | "float" => shape.min.is_some() || shape.max.is_some(),
            "list" => {
                positive(&shape.min).is_some()
                    || shape.max.is_some()
                    || self.needs_validation(&element(shape, name))
            }
            "map" => {
                positive(&shape.min).is_some()
                    || shape.max.is_some()
                    || self.needs_validation(&map_key(shape, name))
                    || self.needs_validation(&map_value(shape, name))
            }
            _ => false,
        }
    }

    /// A statement checking `value` (an expression of type `&T`) at `path` (`&Path`), if shape
    /// `name` has anything to check.
    fn check(&self, name: &str, value: &str, path: &str) -> Option<String> {
        if !self.needs_validation(name) {
            return None;
        }
        let shape = self.shape(name);
        Some(match shape.kind.as_str() {
            "structure" => format!("{value}.validate_at({path}, violations);"),
            "string" if shape.enum_values.is_some() => {
                format!("violations.enum_value({path}, {value});")
            }
            "integer" | "long" | "double" | "float" => {
                format!(
                    "validate_{}(*{value}, {path}, violations);",
                    names::snake(name)
                )
            }
            _ => format!(
                "validate_{}({value}, {path}, violations);",
                names::snake(name)
            ),
        })
    }

    fn emit_validators(&mut self) -> Result<(), String> {
        let inputs: Vec<&str> = self
            .sides
            .iter()
            .filter(|(_, s)| s.input)
            .map(|(n, _)| *n)
            .collect();
        for name in inputs {
            let shape = self.shape(name);
            match shape.kind.as_str() {
                "structure" => self.emit_struct_validator(name),
                "string" if shape.enum_values.is_some() => {}
                _ if self.needs_validation(name) => self.emit_shape_validator(name)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn emit_struct_validator(&mut self, name: &str) {
        let shape = self.shape(name);
        let mut body = String::new();
        for (member, target) in &shape.members {
            let field = names::field_name(member);
            let at = format!("&Path::Member(path, {:?})", names::lower_camel(member));
            let required = shape.required.contains(member);
            let check = self.check(&target.shape, "value", &at);
            let _ = match (required, check) {
                (true, Some(check)) => writeln!(
                    body,
                    "match &self.{field} {{\n    Some(value) => {{ {check} }}\n    None => violations.missing({at}),\n}}"
                ),
                (true, None) => writeln!(
                    body,
                    "if self.{field}.is_none() {{\n    violations.missing({at});\n}}"
                ),
                (false, Some(check)) => writeln!(
                    body,
                    "if let Some(value) = &self.{field} {{\n    {check}\n}}"
                ),
                (false, None) => Ok(()),
            };
        }
        let (path, violations) = if body.is_empty() {
            ("_path", "_violations")
        } else {
            ("path", "violations")
        };
        let _ = writeln!(
            self.out,
            "impl Validate for {} {{\n    fn validate_at(&self, {path}: &Path<'_>, {violations}: &mut Violations) {{\n{body}    }}\n}}\n",
            type_name(name)
        );
    }

    fn emit_shape_validator(&mut self, name: &str) -> Result<(), String> {
        let shape = self.shape(name);
        let snake = names::snake(name);
        let mut body = String::new();
        let param: String;
        match shape.kind.as_str() {
            "string" => {
                let echo;
                if shape.sensitive {
                    param = "&SensitiveString".to_owned();
                    echo = "None";
                    body.push_str("let value = value.expose();\n");
                } else {
                    param = "&str".to_owned();
                    echo = if defaults::UNECHOED_SHAPES.contains(&name) {
                        "None"
                    } else {
                        "Some(value)"
                    };
                }
                if let Some(length) = length_args(shape) {
                    let _ = writeln!(
                        body,
                        "violations.length(path, {echo}, value.chars().count(), {length});"
                    );
                }
                if let Some(pattern) = &shape.pattern {
                    match java_regex::translate(pattern) {
                        Ok(translated) => {
                            // AWS checks patterns against the whole value (Java's
                            // `Matcher.matches`), so `[\w]+` rejects "a b"; anchor to match.
                            let translated = format!("\\A(?:{translated})\\z");
                            let stat = format!("{}_PATTERN", names::screaming(name));
                            let _ = writeln!(
                                body,
                                "violations.pattern(path, {echo}, value, &{stat}, {});",
                                rust_str(pattern)
                            );
                            self.patterns
                                .insert(stat, (name.to_owned(), pattern.clone(), translated));
                        }
                        Err(why) => {
                            let _ = writeln!(
                                body,
                                "// Pattern {pattern:?} is not checked: the regex crate has no {why}."
                            );
                        }
                    }
                }
            }
            "blob" => {
                param = if shape.sensitive {
                    "&SensitiveBlob"
                } else {
                    "&Blob"
                }
                .to_owned();
                if let Some(length) = length_args(shape) {
                    let _ = writeln!(
                        body,
                        "violations.length(path, None, value.len(), {length});"
                    );
                }
            }
            "integer" | "long" => {
                param = if shape.kind == "integer" {
                    "i32"
                } else {
                    "i64"
                }
                .to_owned();
                let bound = |n: &Option<serde_json::Number>| match n {
                    Some(n) => format!("Some({n})"),
                    None => "None".to_owned(),
                };
                let widened = if shape.kind == "integer" {
                    "i64::from(value)"
                } else {
                    "value"
                };
                let _ = writeln!(
                    body,
                    "violations.range(path, {widened}, {}, {});",
                    bound(&shape.min),
                    bound(&shape.max)
                );
            }
            "double" | "float" => {
                param = "f64".to_owned();
                let bound = |n: &Option<serde_json::Number>| match n {
                    Some(n) => format!("Some({})", float_literal(n)),
                    None => "None".to_owned(),
                };
                let _ = writeln!(
                    body,
                    "violations.range_f64(path, value, {}, {});",
                    bound(&shape.min),
                    bound(&shape.max)
                );
            }
            "list" => {
                let item = element(shape, name);
                let ty = self.rust_type(&item);
                param = format!("&[{ty}]");
                if let Some(length) = length_args(shape) {
                    let _ = writeln!(
                        body,
                        "violations.length(path, None, value.len(), {length});"
                    );
                }
                if let Some(check) = self.check(&item, "item", "&Path::Element(path, index + 1)") {
                    let _ = writeln!(
                        body,
                        "for (index, item) in value.iter().enumerate() {{\n    {check}\n}}"
                    );
                }
            }
            "map" => {
                let key = map_key(shape, name);
                let value = map_value(shape, name);
                param = format!("&BTreeMap<String, {}>", self.rust_type(&value));
                if let Some(length) = length_args(shape) {
                    let _ = writeln!(
                        body,
                        "violations.length(path, None, value.len(), {length});"
                    );
                }
                let key_shape = self.shape(&key);
                if key_shape.sensitive || key_shape.kind != "string" {
                    return Err(format!("{name}: map keys must be non-sensitive strings"));
                }
                let key_check = if key_shape.enum_values.is_some() {
                    Some(format!(
                        "violations.enum_str(&Path::MapKey(path, index + 1), key, {}::VALUES);",
                        type_name(&key)
                    ))
                } else {
                    self.check(&key, "key", "&Path::MapKey(path, index + 1)")
                };
                let value_check = self.check(&value, "item", "&Path::MapValue(path, index + 1)");
                if key_check.is_some() || value_check.is_some() {
                    let key_var = if key_check.is_some() { "key" } else { "_key" };
                    let item_var = if value_check.is_some() {
                        "item"
                    } else {
                        "_item"
                    };
                    let _ = writeln!(
                        body,
                        "for (index, ({key_var}, {item_var})) in value.iter().enumerate() {{\n{}\n{}\n}}",
                        key_check.unwrap_or_default(),
                        value_check.unwrap_or_default()
                    );
                }
            }
            other => return Err(format!("{name}: cannot validate type {other}")),
        }
        let _ = writeln!(
            self.out,
            "fn validate_{snake}(value: {param}, path: &Path<'_>, violations: &mut Violations) {{\n{body}}}\n"
        );
        Ok(())
    }

    fn emit_patterns(&mut self) {
        for (stat, (shape, pattern, translated)) in &self.patterns {
            let syntax = if java_regex::translate(pattern).as_deref() == Ok(pattern.as_str()) {
                ""
            } else {
                ", translated from Java regex syntax"
            };
            let note =
                format!("/// The `pattern` of {shape}, matched against the whole value{syntax}.");
            let _ = writeln!(
                self.out,
                "{note}\nstatic {stat}: LazyLock<Regex> = LazyLock::new(|| {{\n    \
                 // Every pattern is compiled by a test, so this cannot fail at run time.\n    \
                 Regex::new({}).expect(\"invariant: generated patterns compile\")\n}});\n",
                rust_str(translated)
            );
        }
        if !self.patterns.is_empty() {
            let _ = writeln!(
                self.out,
                "/// Every checked pattern, compiled; tests call this so a bad translation fails the build.\n\
                 #[cfg(test)]\npub(crate) fn compile_all_patterns() -> usize {{"
            );
            for stat in self.patterns.keys() {
                let _ = writeln!(self.out, "    LazyLock::force(&{stat});");
            }
            let _ = writeln!(self.out, "    {}\n}}", self.patterns.len());
        } else {
            let _ = writeln!(
                self.out,
                "/// Every checked pattern, compiled (this model has none).\n#[cfg(test)]\npub(crate) fn compile_all_patterns() -> usize {{\n    0\n}}"
            );
        }
    }
}

/// The Rust type name of a structure or enum shape: the shape name with its first letter upper
/// case (IAM has enums such as `statusType`).
fn type_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The element shape of list `name`; the map helpers below are alike. A malformed model panics.
fn element(shape: &Shape, name: &str) -> String {
    match &shape.member {
        Some(member) => member.shape.clone(),
        None => panic!("list {name} has no member"),
    }
}

fn map_key(shape: &Shape, name: &str) -> String {
    match &shape.key {
        Some(key) => key.shape.clone(),
        None => panic!("map {name} has no key"),
    }
}

fn map_value(shape: &Shape, name: &str) -> String {
    match &shape.value {
        Some(value) => value.shape.clone(),
        None => panic!("map {name} has no value"),
    }
}

/// A `min` that constrains a length: zero constrains nothing.
fn positive(n: &Option<serde_json::Number>) -> Option<u64> {
    n.as_ref().and_then(|n| n.as_u64()).filter(|n| *n > 0)
}

/// `Some(min), Some(max)` arguments for `Violations::length`, or `None` if unconstrained.
fn length_args(shape: &Shape) -> Option<String> {
    let min = positive(&shape.min);
    let max = shape.max.as_ref().and_then(|n| n.as_u64());
    if min.is_none() && max.is_none() {
        return None;
    }
    let show = |n: Option<u64>| n.map_or("None".to_owned(), |n| format!("Some({n})"));
    Some(format!("{}, {}", show(min), show(max)))
}

fn float_literal(n: &serde_json::Number) -> String {
    let text = n.to_string();
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// A Rust string literal for `s`, raw when that needs no escaping.
fn rust_str(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        return format!("{s:?}");
    }
    let mut hashes = String::new();
    while s.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{s}\"{hashes}")
}

fn join_map(items: &[&str], f: impl Fn(&str) -> String) -> String {
    items.iter().map(|i| f(i)).collect::<Vec<_>>().join(", ")
}

/// Whether `word` occurs in `text` as a whole identifier.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

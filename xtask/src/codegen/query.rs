//! The Query-protocol half of the generator (STS, IAM): `Operation` by `Action`, `ErrorCode`
//! with `<Type>`, and structures that read themselves from a parameter map (`FromQuery`) and
//! write themselves as XML (`ToXml`).
//!
//! Wire names follow botocore's `QuerySerializer` and `QueryParser`: a member's parameter segment
//! and XML element are its `locationName` or else its member name; list elements sit under
//! `member` (or the element's `locationName`) unless the list is `flattened`; map entries under
//! `entry` with `key`/`value` (or their `locationName`s) unless flattened. A flattened list
//! whose element has a `locationName` is named by that element name instead of the member.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Generator, Sides, element, join_map, map_value, type_name};
use crate::defaults;
use crate::model::ShapeRef;
use crate::names;

impl<'m> Generator<'m> {
    pub(super) fn emit_query_operations(&mut self) -> Result<(), String> {
        let model = self.model;
        let version = model
            .metadata
            .api_version
            .clone()
            .ok_or("a query model needs metadata.apiVersion")?;
        let namespace = model
            .metadata
            .xml_namespace
            .clone()
            .ok_or("a query model needs metadata.xmlNamespace")?;
        let mut wrappers = Vec::new();
        for op in model.operations.values() {
            let wrapper = match &op.output {
                None => None,
                Some(output) => {
                    // `to_query_response` names the result element `{Action}Result`, so the
                    // model must agree (both STS and IAM do, for every operation).
                    let expected = format!("{}Result", op.name);
                    match &output.result_wrapper {
                        Some(w) if *w == expected => Some(expected),
                        other => {
                            return Err(format!(
                                "{}: output resultWrapper {other:?} is not {expected}",
                                op.name
                            ));
                        }
                    }
                }
            };
            wrappers.push((op.name.as_str(), wrapper));
        }
        let names: Vec<&str> = wrappers.iter().map(|(n, _)| *n).collect();
        let label = &self.label;
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "/// The `Version` parameter of every {label} request.\n\
             pub const API_VERSION: &str = {version:?};\n\n\
             /// The `xmlns` of every {label} response.\n\
             pub const XML_NAMESPACE: &str = {namespace:?};\n"
        );
        let _ = writeln!(o, "/// Every operation in the {label} model.");
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
            "    /// The operation an `Action` parameter names, e.g. `{}`.\n    \
             pub fn from_action(action: &str) -> Option<Operation> {{\n        match action {{",
            names.first().copied().unwrap_or_default()
        );
        for n in &names {
            let _ = writeln!(o, "            {n:?} => Some(Self::{n}),");
        }
        let _ = writeln!(o, "            _ => None,\n        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// The operation a request's `Action` and `Version` parameters name; see\n    \
             /// [`crate::query::resolve_operation`] for the errors.\n    \
             pub fn from_params(params: &QueryParams) -> Result<Operation, QueryRejection> {{\n        \
             crate::query::resolve_operation(params, API_VERSION, Self::from_action)\n    }}\n"
        );
        let _ = writeln!(
            o,
            "    /// The operation's name as AWS spells it (its `Action`).\n    \
             pub fn name(self) -> &'static str {{\n        match self {{"
        );
        for n in &names {
            let _ = writeln!(o, "            Self::{n} => {n:?},");
        }
        let _ = writeln!(o, "        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// The element that wraps the operation's result in its response\n    \
             /// (`{{Action}}Result`), or `None` if the operation has no output.\n    \
             pub fn result_wrapper(self) -> Option<&'static str> {{\n        match self {{"
        );
        for (n, wrapper) in &wrappers {
            match wrapper {
                Some(w) => {
                    let _ = writeln!(o, "            Self::{n} => Some({w:?}),");
                }
                None => {
                    let _ = writeln!(o, "            Self::{n} => None,");
                }
            }
        }
        let _ = writeln!(o, "        }}\n    }}\n}}\n");
        Ok(())
    }

    pub(super) fn emit_query_errors(&mut self) {
        // code → (variant, status, sender); the model's own exceptions win over the common table.
        let mut codes: std::collections::BTreeMap<String, (String, u16, bool)> =
            std::collections::BTreeMap::new();
        for (code, status) in defaults::COMMON_QUERY_ERRORS {
            codes.insert(
                (*code).to_owned(),
                ((*code).to_owned(), *status, *status < 500),
            );
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
            let sender_fault = shape.error.as_ref().is_some_and(|e| e.sender_fault);
            let sender = sender_fault || (!shape.fault && status < 500);
            codes.insert(code, (type_name(name), status, sender));
        }
        let label = &self.label;
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "/// Every `<Code>` a {label} client can receive: the model's exceptions plus the errors\n\
             /// common to all AWS Query services.\n\
             #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n\
             pub enum ErrorCode {{"
        );
        for (variant, _, _) in codes.values() {
            let _ = writeln!(o, "    {variant},");
        }
        let _ = writeln!(o, "}}\n\nimpl ErrorCode {{");
        let variants: Vec<&str> = codes.values().map(|(v, _, _)| v.as_str()).collect();
        let _ = writeln!(o, "    /// Every error code, sorted by `<Code>`.");
        let _ = writeln!(
            o,
            "    pub const ALL: &[ErrorCode] = &[{}];\n",
            join_map(&variants, |v| format!("Self::{v}"))
        );
        let _ = writeln!(
            o,
            "    /// The exact `<Code>` string, which botocore maps to the modelled exception.\n    \
             pub fn as_str(self) -> &'static str {{\n        match self {{"
        );
        for (code, (variant, _, _)) in &codes {
            let _ = writeln!(o, "            Self::{variant} => {code:?},");
        }
        let _ = writeln!(o, "        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// The error named by a `<Code>` string.\n    \
             pub fn from_code(code: &str) -> Option<ErrorCode> {{\n        match code {{"
        );
        for (code, (variant, _, _)) in &codes {
            let _ = writeln!(o, "            {code:?} => Some(Self::{variant}),");
        }
        let _ = writeln!(o, "            _ => None,\n        }}\n    }}\n");
        let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> =
            std::collections::BTreeMap::new();
        for (variant, status, _) in codes.values() {
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
        let (senders, receivers): (Vec<_>, Vec<_>) = codes.values().partition(|(_, _, s)| *s);
        let _ = writeln!(
            o,
            "    /// Whose fault the error is: the `<Type>` of the error response.\n    \
             pub fn error_type(self) -> crate::ErrorType {{\n        match self {{"
        );
        for (group, value) in [(&senders, "Sender"), (&receivers, "Receiver")] {
            if !group.is_empty() {
                let arms: Vec<String> =
                    group.iter().map(|(v, _, _)| format!("Self::{v}")).collect();
                let _ = writeln!(
                    o,
                    "            {} => crate::ErrorType::{value},",
                    arms.join(" | ")
                );
            }
        }
        let _ = writeln!(o, "        }}\n    }}\n");
        let _ = writeln!(
            o,
            "    /// An error response with this code, its status and type, and `message`.\n    \
             pub fn with_message(self, message: impl Into<String>) -> crate::QueryError {{\n        \
             crate::QueryError::new(self.as_str(), self.status(), self.error_type(), message)\n    }}\n}}\n"
        );
    }

    pub(super) fn emit_query_structures(&mut self) -> Result<(), String> {
        let structs: Vec<(&str, Sides)> = self
            .sides
            .iter()
            .filter(|(n, _)| self.shape(n).kind == "structure")
            .map(|(n, s)| (*n, *s))
            .collect();
        for (name, sides) in structs {
            let ty = type_name(name);
            let sensitive = self.is_sensitive(name);
            let mut derives = Vec::new();
            if !sensitive {
                derives.extend(["Debug", "Clone", "PartialEq"]);
            }
            derives.push("Default");
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
            let _ = writeln!(self.out, "pub struct {ty} {{");
            let shape = self.shape(name);
            let mut fields = BTreeSet::new();
            for (member, target) in &shape.members {
                let field = names::field_name(member);
                if !fields.insert(field.clone()) {
                    return Err(format!("{name}: two members map to field {field}"));
                }
                let rust = self.rust_type(&target.shape);
                let _ = writeln!(self.out, "    pub {field}: Option<{rust}>,");
            }
            let _ = writeln!(self.out, "}}\n");
            if sides.input {
                self.emit_from_query(name);
            }
            if sides.output {
                self.emit_to_xml(name);
            }
        }
        Ok(())
    }

    /// `impl FromQuery`: every member read from `prefix.Member` (`Member` at the top level).
    fn emit_from_query(&mut self, name: &str) {
        let shape = self.shape(name);
        let mut body = String::new();
        for (member, target) in &shape.members {
            let key = format!(
                "&crate::query::child(prefix, {:?})",
                self.member_key(member, target)
            );
            let _ = writeln!(
                body,
                "            {}: {}?,",
                names::field_name(member),
                self.read_expr(&target.shape, &key)
            );
        }
        let _ = writeln!(
            self.out,
            "impl FromQuery for {} {{\n    \
             fn from_query(params: &QueryParams, prefix: &str) -> Result<Option<Self>, QueryRejection> {{\n        \
             if !params.has_structure(prefix) {{\n            return Ok(None);\n        }}\n        \
             Ok(Some(Self {{\n{body}        }}))\n    }}\n}}\n",
            type_name(name)
        );
    }

    /// An expression of type `Result<Option<T>, QueryRejection>` reading a value of shape `name`
    /// whose parameter name is the `&str` expression `key`; `params` is in scope.
    fn read_expr(&self, name: &str, key: &str) -> String {
        let shape = self.shape(name);
        match shape.kind.as_str() {
            "structure" => format!("{}::from_query(params, {key})", type_name(name)),
            "list" => {
                let item = element(shape, name);
                let segment = if shape.flattened {
                    "None".to_owned()
                } else {
                    let member = shape.member.as_ref().and_then(|m| m.location_name.clone());
                    format!("Some({:?})", member.unwrap_or_else(|| "member".to_owned()))
                };
                format!("params.list({key}, {segment}, {})", self.read_fn(&item))
            }
            "map" => {
                let entry = if shape.flattened {
                    "None"
                } else {
                    "Some(\"entry\")"
                };
                let (key_name, value_name) = map_names(shape.key.as_ref(), shape.value.as_ref());
                format!(
                    "params.map({key}, {entry}, {key_name:?}, {value_name:?}, {})",
                    self.read_fn(&map_value(shape, name))
                )
            }
            _ => format!("params.scalar::<{}>({key})", self.rust_type(name)),
        }
    }

    /// A function `(&QueryParams, &str) -> Result<Option<T>, QueryRejection>` reading a value of
    /// shape `name` at a given parameter name: a structure's `from_query`, else a closure.
    fn read_fn(&self, name: &str) -> String {
        if self.shape(name).kind == "structure" {
            format!("{}::from_query", type_name(name))
        } else {
            format!("|params, key| {}", self.read_expr(name, "key"))
        }
    }

    /// `impl ToXml`: every present member as an element, in model-file order.
    fn emit_to_xml(&mut self, name: &str) {
        let model = self.model;
        let mut body = String::new();
        for (member, target) in model.members_in_order(name) {
            let element = self.member_key(member, target);
            let write = self.write_stmt(&target.shape, "value", &element, 0);
            let _ = writeln!(
                body,
                "        if let Some(value) = &self.{} {{\n{write}        }}",
                names::field_name(member)
            );
        }
        let xml = if body.is_empty() { "_xml" } else { "xml" };
        let _ = writeln!(
            self.out,
            "impl ToXml for {} {{\n    fn write_xml(&self, {xml}: &mut XmlWriter) {{\n{body}    }}\n}}\n",
            type_name(name)
        );
    }

    /// Statements writing `value` (a reference to a value of shape `name`) as element `element`.
    fn write_stmt(&self, name: &str, value: &str, element: &str, depth: usize) -> String {
        let shape = self.shape(name);
        let item = format!("item{depth}");
        match shape.kind.as_str() {
            "structure" => format!("xml.structure({element:?}, {value});\n"),
            "list" => {
                let element_shape = super::element(shape, name);
                if shape.flattened {
                    format!(
                        "for {item} in {value} {{\n{}}}\n",
                        self.write_stmt(&element_shape, &item, element, depth + 1)
                    )
                } else {
                    let member = shape
                        .member
                        .as_ref()
                        .and_then(|m| m.location_name.clone())
                        .unwrap_or_else(|| "member".to_owned());
                    format!(
                        "xml.start({element:?});\nfor {item} in {value} {{\n{}}}\nxml.end({element:?});\n",
                        self.write_stmt(&element_shape, &item, &member, depth + 1)
                    )
                }
            }
            "map" => {
                let (key_name, value_name) = map_names(shape.key.as_ref(), shape.value.as_ref());
                let key = format!("key{depth}");
                let inner = self.write_stmt(&map_value(shape, name), &item, &value_name, depth + 1);
                let (open, close, wrap) = if shape.flattened {
                    (String::new(), String::new(), element.to_owned())
                } else {
                    (
                        format!("xml.start({element:?});\n"),
                        format!("xml.end({element:?});\n"),
                        "entry".to_owned(),
                    )
                };
                format!(
                    "{open}for ({key}, {item}) in {value} {{\nxml.start({wrap:?});\nxml.value({key_name:?}, {key});\n{inner}xml.end({wrap:?});\n}}\n{close}"
                )
            }
            _ => format!("xml.value({element:?}, {value});\n"),
        }
    }

    /// The parameter segment and XML element of structure member `member`.
    fn member_key(&self, member: &str, target: &ShapeRef) -> String {
        let shape = self.shape(&target.shape);
        if shape.kind == "list"
            && shape.flattened
            && let Some(name) = shape.member.as_ref().and_then(|m| m.location_name.clone())
        {
            return name;
        }
        target
            .location_name
            .clone()
            .unwrap_or_else(|| member.to_owned())
    }
}

/// The element names of a map entry's key and value.
fn map_names(key: Option<&ShapeRef>, value: Option<&ShapeRef>) -> (String, String) {
    let name = |r: Option<&ShapeRef>, default: &str| {
        r.and_then(|r| r.location_name.clone())
            .unwrap_or_else(|| default.to_owned())
    };
    (name(key, "key"), name(value, "value"))
}

//! Request validation against the model's constraints, with AWS's exact messages.
//!
//! The generated `impl Validate` for each input structure walks its members and reports every
//! violation to a [`Violations`] collector, which renders them the way AWS does:
//!
//! ```text
//! 2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must
//! not be null; Value at 'plaintext' failed to satisfy constraint: Member must have length less
//! than or equal to 4096
//! ```
//!
//! Paths are member names in lowerCamelCase joined with `.`; list elements are
//! `tags.1.member` (1-based), map entries `encryptionContext.1.key` / `encryptionContext.1.value`
//! (1-based, in key order). Sensitive values are never echoed (`Value at '…'`).

use std::fmt;

use regex::Regex;

/// A request type whose members can be checked against the model's constraints.
pub trait Validate {
    /// Reports every violation in `self`, which sits at `path`, to `violations`.
    fn validate_at(&self, path: &Path<'_>, violations: &mut Violations);

    /// Checks `self` as a whole request.
    fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        self.validate_at(&Path::Root, &mut violations);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// A generated model enum, which may hold a value the model does not list.
pub trait WireEnum {
    /// Every listed value, in model order.
    const VALUES: &'static [&'static str];
    /// The unlisted value this holds, if any.
    fn unknown(&self) -> Option<&str>;
}

/// Where a value sits in a request, as a chain of borrowed links (no allocation unless a
/// violation is reported).
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// The request itself.
    Root,
    /// A structure member (its lowerCamelCase name) of the parent.
    Member(&'a Path<'a>, &'static str),
    /// The 1-based element of the parent list: `parent.N.member`.
    Element(&'a Path<'a>, usize),
    /// The key of the 1-based entry of the parent map: `parent.N.key`.
    MapKey(&'a Path<'a>, usize),
    /// The value of the 1-based entry of the parent map: `parent.N.value`.
    MapValue(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(Path::Root, name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Element(parent, index) => write!(f, "{parent}.{index}.member"),
            Path::MapKey(parent, index) => write!(f, "{parent}.{index}.key"),
            Path::MapValue(parent, index) => write!(f, "{parent}.{index}.value"),
        }
    }
}

/// Every constraint violation found in a request, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    messages: Vec<String>,
}

impl Violations {
    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Each violation's message, e.g. `Value null at 'keyId' failed to satisfy constraint: …`.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    fn report(
        &mut self,
        path: &Path<'_>,
        echo: Option<&dyn fmt::Display>,
        constraint: fmt::Arguments<'_>,
    ) {
        let message = match echo {
            Some(value) => {
                format!("Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            None => format!("Value at '{path}' failed to satisfy constraint: {constraint}"),
        };
        self.messages.push(message);
    }

    /// A required member is absent.
    pub fn missing(&mut self, path: &Path<'_>) {
        self.messages.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// Checks a length (characters of a string, bytes of a blob, entries of a list or map).
    /// `echo` is the value to quote, `None` for sensitive or non-string values.
    pub fn length(
        &mut self,
        path: &Path<'_>,
        echo: Option<&str>,
        len: usize,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        let echo = echo.as_ref().map(|e| e as &dyn fmt::Display);
        if let Some(min) = min.filter(|min| len < *min) {
            self.report(
                path,
                echo,
                format_args!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| len > *max) {
            self.report(
                path,
                echo,
                format_args!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Checks an integer's range.
    pub fn range(&mut self, path: &Path<'_>, value: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|min| value < *min) {
            self.report(
                path,
                Some(&value),
                format_args!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| value > *max) {
            self.report(
                path,
                Some(&value),
                format_args!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Checks a floating-point number's range.
    pub fn range_f64(&mut self, path: &Path<'_>, value: f64, min: Option<f64>, max: Option<f64>) {
        if let Some(min) = min.filter(|min| value < *min) {
            self.report(
                path,
                Some(&value),
                format_args!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| value > *max) {
            self.report(
                path,
                Some(&value),
                format_args!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Checks that `value` matches `regex`, which was translated from the model's `source`.
    /// The generated expressions are anchored at both ends: AWS matches the whole value (Java's
    /// `Matcher.matches`), which is why IAM rejects `my role` for `[\w+=,.@-]+`.
    pub fn pattern(
        &mut self,
        path: &Path<'_>,
        echo: Option<&str>,
        value: &str,
        regex: &Regex,
        source: &str,
    ) {
        if !regex.is_match(value) {
            let echo = echo.as_ref().map(|e| e as &dyn fmt::Display);
            self.report(
                path,
                echo,
                format_args!("Member must satisfy regular expression pattern: {source}"),
            );
        }
    }

    /// Checks that an enum member holds a listed value.
    pub fn enum_value<E: WireEnum>(&mut self, path: &Path<'_>, value: &E) {
        if let Some(unknown) = value.unknown() {
            self.enum_str(path, unknown, E::VALUES);
        }
    }

    /// Checks that a string (a map key of enum shape) is one of `values`.
    pub fn enum_str(&mut self, path: &Path<'_>, value: &str, values: &[&str]) {
        if !values.contains(&value) {
            let set = values.join(", ");
            self.report(
                path,
                Some(&value),
                format_args!("Member must satisfy enum value set: [{set}]"),
            );
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.messages.len() {
            1 => write!(f, "1 validation error detected: ")?,
            n => write!(f, "{n} validation errors detected: ")?,
        }
        f.write_str(&self.messages.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_aws() {
        let tags = Path::Member(&Path::Root, "tags");
        let first = Path::Element(&tags, 1);
        assert_eq!(
            Path::Member(&first, "tagKey").to_string(),
            "tags.1.member.tagKey"
        );
        let context = Path::Member(&Path::Root, "encryptionContext");
        assert_eq!(
            Path::MapValue(&context, 2).to_string(),
            "encryptionContext.2.value"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let mut v = Violations::default();
        v.missing(&Path::Member(&Path::Root, "keyId"));
        v.range(
            &Path::Member(&Path::Root, "limit"),
            5000,
            Some(1),
            Some(1000),
        );
        assert_eq!(
            v.to_string(),
            "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: \
             Member must not be null; Value '5000' at 'limit' failed to satisfy constraint: \
             Member must have value less than or equal to 1000"
        );
    }
}

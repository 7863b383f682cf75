//! The `Condition` element: every IAM condition operator, the `...IfExists` forms and the
//! `ForAllValues:`/`ForAnyValue:` set operators, compiled once and evaluated per request.
//!
//! Semantics, from the IAM User Guide ("Condition operators", "Conditions with multiple context
//! keys or values", "Single-valued vs. multivalued context keys"):
//!
//! - Operators in a block are ANDed; keys under one operator are ANDed; the values listed for a
//!   key are ORed, and for a negated operator (`StringNotEquals`, `NotIpAddress`, ...) NORed:
//!   the key must match none of them.
//! - A key absent from the request makes the condition false, except for negated operators,
//!   for which it is true; `...IfExists` makes it true for every operator. A key with an empty
//!   list of values is absent.
//! - `ForAnyValue:` is true when at least one request value satisfies the operator, false when
//!   the key is absent; `ForAllValues:` is true when every request value does, and true when the
//!   key is absent. Without a set operator, a multivalued key behaves like `ForAnyValue` for
//!   positive operators and like "no value matches" for negated ones.
//! - A request value that cannot be read as the operator's type (`abc` for `NumericEquals`)
//!   matches nothing, under a negated operator too: a type mismatch never makes a condition true.
//! - `Null` tests presence: `"true"` holds when the key is absent, `"false"` when present.
//!
//! Policy values are checked when the policy is parsed (numbers, dates, booleans, base64, IP
//! addresses and CIDR blocks), so evaluation never meets a malformed policy value.

use std::net::IpAddr;

use crate::Error;
use crate::context::RequestContext;
use crate::iso8601::parse_date;
use crate::json::Json;
use crate::pattern::Pattern;

/// The operator families, without set qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const BASES: [(&str, Base); 27] = [
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("NumericEquals", Base::NumericEquals),
    ("NumericNotEquals", Base::NumericNotEquals),
    ("NumericLessThan", Base::NumericLessThan),
    ("NumericLessThanEquals", Base::NumericLessThanEquals),
    ("NumericGreaterThan", Base::NumericGreaterThan),
    ("NumericGreaterThanEquals", Base::NumericGreaterThanEquals),
    ("DateEquals", Base::DateEquals),
    ("DateNotEquals", Base::DateNotEquals),
    ("DateLessThan", Base::DateLessThan),
    ("DateLessThanEquals", Base::DateLessThanEquals),
    ("DateGreaterThan", Base::DateGreaterThan),
    ("DateGreaterThanEquals", Base::DateGreaterThanEquals),
    ("Bool", Base::Bool),
    ("BinaryEquals", Base::BinaryEquals),
    ("IpAddress", Base::IpAddress),
    ("NotIpAddress", Base::NotIpAddress),
    ("ArnEquals", Base::ArnEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnNotLike", Base::ArnNotLike),
    ("Null", Base::Null),
];

impl Base {
    fn negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::NumericNotEquals
                | Base::DateNotEquals
                | Base::NotIpAddress
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    None,
    ForAllValues,
    ForAnyValue,
}

/// How a numeric or date value compares with the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Comparison::Equal => request == policy,
            Comparison::Less => request < policy,
            Comparison::LessOrEqual => request <= policy,
            Comparison::Greater => request > policy,
            Comparison::GreaterOrEqual => request >= policy,
        }
    }
}

/// The policy's values for one key, compiled for the operator's type.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// `String*`; `fold` for the IgnoreCase forms.
    Strings {
        patterns: Vec<Pattern>,
        fold: bool,
    },
    Numbers {
        values: Vec<f64>,
        comparison: Comparison,
    },
    Dates {
        values: Vec<i64>,
        comparison: Comparison,
    },
    Bools(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Networks(Vec<Network>),
    /// `Arn*`: each value split into its six segments; `None` for a value that is not an ARN,
    /// which matches nothing.
    Arns(Vec<Option<[Pattern; 6]>>),
    /// `Null`: the values listed, `true` meaning "absent".
    Null(Vec<bool>),
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// One operator applied to one key: `"StringEquals": {"aws:username": ["a", "b"]}` is one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    base: Base,
    set: SetOperator,
    if_exists: bool,
    /// The condition key, lower-cased.
    key: Box<str>,
    values: Values,
}

/// Whether one request value satisfies the positive form of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Match,
    NoMatch,
    /// The request value is not of the operator's type.
    Invalid,
}

impl Condition {
    /// Compiles the `Condition` element of a statement. `variables` is whether the policy's
    /// version enables policy variables.
    pub(crate) fn compile_block(block: &Json, variables: bool) -> Result<Vec<Condition>, Error> {
        let Json::Object(operators) = block else {
            return Err(syntax("Condition"));
        };
        let mut conditions = Vec::new();
        for (operator, keys) in operators {
            let (base, set, if_exists) = parse_operator(operator)?;
            let Json::Object(keys) = keys else {
                return Err(syntax("Condition operator block"));
            };
            for (key, values) in keys {
                conditions.push(Condition::compile(
                    operator, base, set, if_exists, key, values, variables,
                )?);
            }
        }
        Ok(conditions)
    }

    fn compile(
        operator: &str,
        base: Base,
        set: SetOperator,
        if_exists: bool,
        key: &str,
        values: &Json,
        variables: bool,
    ) -> Result<Condition, Error> {
        match key.split_once(':') {
            Some((vendor, name)) if !vendor.is_empty() && !name.is_empty() => {}
            _ => return Err(Error::MissingVendorPrefix),
        }
        let invalid = || Error::InvalidConditionValue {
            operator: operator.to_owned(),
            key: key.to_owned(),
        };
        let texts = value_texts(values).ok_or_else(invalid)?;
        if texts.is_empty() {
            return Err(invalid());
        }
        let each = |parse: &dyn Fn(&str) -> Option<()>| {
            texts.iter().try_for_each(|t| parse(t).ok_or_else(invalid))
        };
        let comparison = |b: Base| match b {
            Base::NumericLessThan | Base::DateLessThan => Comparison::Less,
            Base::NumericLessThanEquals | Base::DateLessThanEquals => Comparison::LessOrEqual,
            Base::NumericGreaterThan | Base::DateGreaterThan => Comparison::Greater,
            Base::NumericGreaterThanEquals | Base::DateGreaterThanEquals => {
                Comparison::GreaterOrEqual
            }
            _ => Comparison::Equal,
        };
        let compiled = match base {
            Base::StringEquals
            | Base::StringNotEquals
            | Base::StringEqualsIgnoreCase
            | Base::StringNotEqualsIgnoreCase
            | Base::StringLike
            | Base::StringNotLike => {
                let wildcards = matches!(base, Base::StringLike | Base::StringNotLike);
                let fold = matches!(
                    base,
                    Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase
                );
                Values::Strings {
                    patterns: texts
                        .iter()
                        .map(|t| Pattern::parse(t, wildcards, variables))
                        .collect(),
                    fold,
                }
            }
            Base::NumericEquals
            | Base::NumericNotEquals
            | Base::NumericLessThan
            | Base::NumericLessThanEquals
            | Base::NumericGreaterThan
            | Base::NumericGreaterThanEquals => {
                each(&|t| parse_number(t).map(drop))?;
                Values::Numbers {
                    values: texts.iter().filter_map(|t| parse_number(t)).collect(),
                    comparison: comparison(base),
                }
            }
            Base::DateEquals
            | Base::DateNotEquals
            | Base::DateLessThan
            | Base::DateLessThanEquals
            | Base::DateGreaterThan
            | Base::DateGreaterThanEquals => {
                each(&|t| parse_date(t).map(drop))?;
                Values::Dates {
                    values: texts.iter().filter_map(|t| parse_date(t)).collect(),
                    comparison: comparison(base),
                }
            }
            Base::Bool => {
                each(&|t| parse_bool(t).map(drop))?;
                Values::Bools(texts.iter().filter_map(|t| parse_bool(t)).collect())
            }
            Base::Null => {
                each(&|t| parse_bool(t).map(drop))?;
                Values::Null(texts.iter().filter_map(|t| parse_bool(t)).collect())
            }
            Base::BinaryEquals => {
                each(&|t| base64_decode(t).map(drop))?;
                Values::Binary(texts.iter().filter_map(|t| base64_decode(t)).collect())
            }
            Base::IpAddress | Base::NotIpAddress => {
                each(&|t| Network::parse(t).map(drop))?;
                Values::Networks(texts.iter().filter_map(|t| Network::parse(t)).collect())
            }
            Base::ArnEquals | Base::ArnLike | Base::ArnNotEquals | Base::ArnNotLike => {
                Values::Arns(
                    texts
                        .iter()
                        .map(|t| Pattern::parse(t, true, variables).split_arn())
                        .collect(),
                )
            }
        };
        Ok(Condition {
            base,
            set,
            if_exists,
            key: key.to_ascii_lowercase().into(),
            values: compiled,
        })
    }

    /// Adds the condition keys this condition reads (its key and its values' variables, all
    /// lower-cased) to `out`.
    pub(crate) fn collect_keys(&self, out: &mut Vec<Box<str>>) {
        out.push(self.key.clone());
        match &self.values {
            Values::Strings { patterns, .. } => {
                for p in patterns {
                    out.extend(p.variable_keys().map(Box::from));
                }
            }
            Values::Arns(arns) => {
                for segments in arns.iter().flatten() {
                    for p in segments {
                        out.extend(p.variable_keys().map(Box::from));
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the condition holds for `ctx`.
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        let request = ctx.values_lower(&self.key);
        if let Values::Null(expected) = &self.values {
            let absent = request.is_none();
            return expected.contains(&absent);
        }
        let negated = self.base.negated();
        let Some(request) = request else {
            return match self.set {
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => self.if_exists,
                SetOperator::None => self.if_exists || negated,
            };
        };
        let satisfies = |v: &String| match self.outcome(v, ctx) {
            Outcome::Match => !negated,
            Outcome::NoMatch => negated,
            Outcome::Invalid => false,
        };
        match self.set {
            SetOperator::ForAllValues => request.iter().all(satisfies),
            SetOperator::ForAnyValue => request.iter().any(satisfies),
            SetOperator::None if negated => request.iter().all(satisfies),
            SetOperator::None => request.iter().any(satisfies),
        }
    }

    /// Whether `value` matches any of the policy's values under the positive operator.
    fn outcome(&self, value: &str, ctx: &RequestContext) -> Outcome {
        let any = |matched: bool| {
            if matched {
                Outcome::Match
            } else {
                Outcome::NoMatch
            }
        };
        match &self.values {
            Values::Strings { patterns, fold } => any(patterns
                .iter()
                .any(|p| p.matches(value, ctx, *fold) == Some(true))),
            Values::Numbers { values, comparison } => match parse_number(value) {
                Some(n) => any(values.iter().any(|&p| comparison.holds(n, p))),
                None => Outcome::Invalid,
            },
            Values::Dates { values, comparison } => match parse_date(value) {
                Some(d) => any(values.iter().any(|&p| comparison.holds(d, p))),
                None => Outcome::Invalid,
            },
            Values::Bools(values) => match parse_bool(value) {
                Some(b) => any(values.contains(&b)),
                None => Outcome::Invalid,
            },
            Values::Binary(values) => match base64_decode(value) {
                Some(bytes) => any(values.contains(&bytes)),
                None => Outcome::Invalid,
            },
            Values::Networks(networks) => match value.parse::<IpAddr>() {
                Ok(ip) => any(networks.iter().any(|n| n.contains(ip))),
                Err(_) => Outcome::Invalid,
            },
            Values::Arns(patterns) => {
                let Some(segments) = arn_segments(value) else {
                    return Outcome::Invalid;
                };
                any(patterns.iter().flatten().any(|p| {
                    p.iter()
                        .zip(segments)
                        .all(|(p, s)| p.matches(s, ctx, false) == Some(true))
                }))
            }
            Values::Null(_) => Outcome::Invalid,
        }
    }
}

/// The six segments of an ARN, without allocating; `None` when `value` is not an ARN.
fn arn_segments(value: &str) -> Option<[&str; 6]> {
    let mut parts = value.splitn(6, ':');
    let segments = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    (segments[0] == "arn").then_some(segments)
}

fn syntax(location: &str) -> Error {
    Error::Syntax {
        location: location.to_owned(),
    }
}

/// Splits `ForAnyValue:StringLikeIfExists` into its parts. Operator names are matched
/// case-insensitively.
fn parse_operator(operator: &str) -> Result<(Base, SetOperator, bool), Error> {
    let unknown = || Error::UnknownConditionOperator {
        operator: operator.to_owned(),
    };
    let (set, rest) = match operator.split_once(':') {
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAllValues") => {
            (SetOperator::ForAllValues, rest)
        }
        Some((q, rest)) if q.eq_ignore_ascii_case("ForAnyValue") => {
            (SetOperator::ForAnyValue, rest)
        }
        Some(_) => return Err(unknown()),
        None => (SetOperator::None, operator),
    };
    let lookup = |name: &str| {
        BASES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, b)| b)
    };
    let (base, if_exists) = match lookup(rest) {
        Some(base) => (base, false),
        None => {
            let cut = rest
                .len()
                .checked_sub("IfExists".len())
                .ok_or_else(unknown)?;
            let (name, suffix) = (rest.get(..cut), rest.get(cut..));
            match (name, suffix) {
                (Some(name), Some(suffix)) if suffix.eq_ignore_ascii_case("IfExists") => {
                    (lookup(name).ok_or_else(unknown)?, true)
                }
                _ => return Err(unknown()),
            }
        }
    };
    if base == Base::Null && (if_exists || set != SetOperator::None) {
        return Err(unknown());
    }
    Ok((base, set, if_exists))
}

/// A condition's values as text: a string, number or boolean, or an array of them.
fn value_texts(values: &Json) -> Option<Vec<String>> {
    fn text(v: &Json) -> Option<String> {
        match v {
            Json::String(s) | Json::Number(s) => Some(s.clone()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match values {
        Json::Array(items) => items.iter().map(text).collect(),
        other => text(other).map(|t| vec![t]),
    }
}

/// A decimal number: digits with an optional sign, fraction and exponent. Rejects what
/// `f64::from_str` accepts but IAM does not (`inf`, `NaN`).
fn parse_number(text: &str) -> Option<f64> {
    let plausible = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !plausible {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Standard base64 with padding (RFC 4648 §4), as `BinaryEquals` values are written.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(b: u8) -> Option<u32> {
        Some(u32::from(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.chunks(4);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.enumerate() {
        let padding = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && i != last) {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - padding] {
            n = (n << 6) | sextet(b)?;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse_with_qualifiers_and_suffixes_in_any_case() {
        assert_eq!(
            parse_operator("ForAnyValue:StringLikeIfExists"),
            Ok((Base::StringLike, SetOperator::ForAnyValue, true))
        );
        assert_eq!(
            parse_operator("stringequals"),
            Ok((Base::StringEquals, SetOperator::None, false))
        );
        assert_eq!(
            parse_operator("BoolIfExists"),
            Ok((Base::Bool, SetOperator::None, true))
        );
        for bad in [
            "StringEqual",
            "IfExists",
            "ForSomeValues:StringEquals",
            "NullIfExists",
            "ForAllValues:Null",
            "StringEqualsIfExistsIfExists",
        ] {
            assert!(parse_operator(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_contain_their_addresses() {
        let n = Network::parse("203.0.113.0/24").expect("valid");
        assert!(n.contains("203.0.113.77".parse().expect("ip")));
        assert!(!n.contains("203.0.114.1".parse().expect("ip")));
        let all = Network::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains("8.8.8.8".parse().expect("ip")));
        let v6 = Network::parse("2001:db8::/32").expect("valid");
        assert!(v6.contains("2001:db8::1".parse().expect("ip")));
        assert!(!v6.contains("203.0.113.77".parse().expect("ip")));
        assert!(Network::parse("203.0.113.0/33").is_none());
        assert!(Network::parse("203.0.113").is_none());
    }

    #[test]
    fn base64_decodes_padded_text_only() {
        assert_eq!(base64_decode("QmluYXJ5"), Some(b"Binary".to_vec()));
        assert_eq!(base64_decode("QQ=="), Some(b"A".to_vec()));
        assert_eq!(base64_decode("QUI="), Some(b"AB".to_vec()));
        assert_eq!(base64_decode("QQ"), None);
        assert_eq!(base64_decode("Q==="), None);
        assert_eq!(base64_decode("QQ==QQ=="), None);
        assert_eq!(base64_decode("Q!=="), None);
    }

    #[test]
    fn numbers_exclude_words_that_rust_would_parse() {
        assert_eq!(parse_number("30"), Some(30.0));
        assert_eq!(parse_number("-1.5e2"), Some(-150.0));
        for bad in ["inf", "NaN", "", "1,000", "ten", "."] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}

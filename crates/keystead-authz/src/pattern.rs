//! Compiled string patterns: the values of `Action`, `Resource` and string/ARN condition values,
//! with the `*` and `?` wildcards and IAM policy variables.
//!
//! Grammar of a pattern (IAM User Guide, "IAM policy elements: Variables and tags"):
//!
//! ```text
//! pattern  = *( literal / "*" / "?" / variable )
//! variable = "${" ( "*" / "?" / "$" ) "}"                 ; a literal *, ? or $
//!          / "${" ws key ws [ "," ws "'" default "'" ws ] "}"
//! default  = *( char-except-quote / "''" )                 ; '' is one quote
//! ```
//!
//! Wildcards are only special where the element allows them (`StringLike`, `ArnLike`, `Action`,
//! `Resource`), and variables only where the policy's `Version` is `2012-10-17` and the element
//! allows them (`Resource`, string and ARN condition values). Malformed `${...}` text is kept as
//! literal text. A variable's substituted value is always literal: a `*` in a user name is not a
//! wildcard. A variable whose key has no single value in the request and no default cannot be
//! resolved, and then the pattern matches nothing (IAM: "Policy variables with no value").
//!
//! Matching allocates nothing: the glob walk keeps two cursors and backtracks to the last `*`.

/// Where variables are looked up: the request context. Keys are given in lower case, and only a
/// key with exactly one value resolves (multivalued keys cannot be variables).
pub(crate) trait Variables {
    /// The single value of `key_lower`, if the request has exactly one.
    fn variable(&self, key_lower: &str) -> Option<&str>;
}

/// A resolver with no keys, for matching patterns that have no variables.
pub(crate) struct NoVariables;

impl Variables for NoVariables {
    fn variable(&self, _key_lower: &str) -> Option<&str> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(Box<str>),
    Star,
    Question,
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Box<[Token]>,
}

impl Pattern {
    /// Compiles `text`. `wildcards` makes `*` and `?` special; `variables` makes `${...}`
    /// special.
    pub(crate) fn parse(text: &str, wildcards: bool, variables: bool) -> Pattern {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let special = match c {
                '*' if wildcards => Some((Token::Star, 1)),
                '?' if wildcards => Some((Token::Question, 1)),
                '$' if variables && rest.starts_with("${") => {
                    parse_variable(&rest[2..]).map(|(token, used)| (token, used + 2))
                }
                _ => None,
            };
            match special {
                Some((token, used)) => {
                    match token {
                        // `${*}` and friends are literal text: merge them into the literal run.
                        Token::Lit(l) => literal.push_str(&l),
                        token => {
                            if !literal.is_empty() {
                                tokens.push(Token::Lit(std::mem::take(&mut literal).into()));
                            }
                            tokens.push(token);
                        }
                    }
                    rest = &rest[used..];
                }
                None => {
                    literal.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !literal.is_empty() || tokens.is_empty() {
            tokens.push(Token::Lit(literal.into()));
        }
        Pattern {
            tokens: tokens.into(),
        }
    }

    /// The (lower-cased) condition keys this pattern's variables read.
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Var { key, .. } => Some(&**key),
            _ => None,
        })
    }

    /// Whether the pattern is a lone `*`, which matches every string.
    pub(crate) fn is_any(&self) -> bool {
        matches!(&*self.tokens, [Token::Star])
    }

    /// Whether `text` matches. `fold` compares letters case-insensitively. `None` when a variable
    /// cannot be resolved: the pattern then has no value to match.
    pub(crate) fn matches(&self, text: &str, vars: &dyn Variables, fold: bool) -> Option<bool> {
        if let [Token::Lit(l)] = &*self.tokens {
            return Some(equals(text, l, fold));
        }
        for token in &*self.tokens {
            if let Token::Var { key, default } = token
                && vars.variable(key).is_none()
                && default.is_none()
            {
                return None;
            }
        }
        Some(glob(&self.tokens, text, vars, fold))
    }

    /// Splits the pattern at its first five literal colons into the six ARN segments
    /// (`arn:partition:service:region:account:resource`), the last of which may contain more
    /// colons. `None` when the pattern has fewer than six segments.
    pub(crate) fn split_arn(&self) -> Option<[Pattern; 6]> {
        let mut segments: Vec<Vec<Token>> = vec![Vec::new()];
        for token in &*self.tokens {
            match token {
                Token::Lit(l) if segments.len() < 6 => {
                    let mut parts = l.split(':');
                    if let Some(first) = parts.next() {
                        push_lit(segments.last_mut(), first);
                    }
                    for part in parts {
                        if segments.len() < 6 {
                            segments.push(Vec::new());
                        } else {
                            push_lit(segments.last_mut(), ":");
                        }
                        push_lit(segments.last_mut(), part);
                    }
                }
                other => {
                    if let Some(last) = segments.last_mut() {
                        last.push(other.clone());
                    }
                }
            }
        }
        let patterns: Vec<Pattern> = segments
            .into_iter()
            .map(|mut tokens| {
                if tokens.is_empty() {
                    tokens.push(Token::Lit("".into()));
                }
                Pattern {
                    tokens: tokens.into(),
                }
            })
            .collect();
        patterns.try_into().ok()
    }
}

fn push_lit(segment: Option<&mut Vec<Token>>, text: &str) {
    let Some(segment) = segment else { return };
    if text.is_empty() {
        return;
    }
    if let Some(Token::Lit(previous)) = segment.last_mut() {
        let mut joined = previous.to_string();
        joined.push_str(text);
        *previous = joined.into();
    } else {
        segment.push(Token::Lit(text.into()));
    }
}

/// Parses the inside of `${...}` (after the `${`). Returns the token and the bytes used,
/// including the closing brace.
fn parse_variable(rest: &str) -> Option<(Token, usize)> {
    for (special, literal) in [("*}", "*"), ("?}", "?"), ("$}", "$")] {
        if rest.starts_with(special) {
            return Some((Token::Lit(literal.into()), 2));
        }
    }
    let end_of_key = rest.find([',', '}'])?;
    let key = rest[..end_of_key].trim();
    if key.is_empty() || key.contains(char::is_whitespace) || key.contains(['{', '$', '\'']) {
        return None;
    }
    let key: Box<str> = key.to_ascii_lowercase().into();
    if rest.as_bytes()[end_of_key] == b'}' {
        return Some((Token::Var { key, default: None }, end_of_key + 1));
    }
    // A default value: `, 'text'` with '' standing for one quote.
    let after_comma = &rest[end_of_key + 1..];
    let trimmed = after_comma.trim_start();
    let mut pos = end_of_key + 1 + (after_comma.len() - trimmed.len());
    let body = trimmed.strip_prefix('\'')?;
    pos += 1;
    let mut default = String::new();
    let mut chars = body.char_indices().peekable();
    let close = loop {
        let (i, c) = chars.next()?;
        if c == '\'' {
            if matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                default.push('\'');
            } else {
                break i;
            }
        } else {
            default.push(c);
        }
    };
    pos += close + 1;
    let tail = &rest[pos..];
    let tail_trimmed = tail.trim_start();
    pos += tail.len() - tail_trimmed.len();
    if !tail_trimmed.starts_with('}') {
        return None;
    }
    Some((
        Token::Var {
            key,
            default: Some(default.into()),
        },
        pos + 1,
    ))
}

fn resolve<'a>(key: &str, default: &'a Option<Box<str>>, vars: &'a dyn Variables) -> &'a str {
    vars.variable(key)
        .or(default.as_deref())
        .unwrap_or_default()
}

/// Glob match over tokens. Each run of tokens between two stars has a fixed length, so matching
/// it at the leftmost possible place is optimal and backtracking only ever moves the last star.
fn glob(tokens: &[Token], text: &str, vars: &dyn Variables, fold: bool) -> bool {
    let mut ti = 0;
    let mut pos = 0;
    let mut last_star: Option<(usize, usize)> = None;
    loop {
        if let Some(token) = tokens.get(ti) {
            let advanced = match token {
                Token::Star => {
                    last_star = Some((ti + 1, pos));
                    Some(0)
                }
                Token::Question => text[pos..].chars().next().map(char::len_utf8),
                Token::Lit(l) => strip_prefix(&text[pos..], l, fold),
                Token::Var { key, default } => {
                    strip_prefix(&text[pos..], resolve(key, default, vars), fold)
                }
            };
            if let Some(n) = advanced {
                pos += n;
                ti += 1;
                continue;
            }
        } else if pos == text.len() {
            return true;
        }
        let Some((star_next, star_pos)) = last_star else {
            return false;
        };
        let Some(c) = text[star_pos..].chars().next() else {
            return false;
        };
        let next = star_pos + c.len_utf8();
        last_star = Some((star_next, next));
        ti = star_next;
        pos = next;
    }
}

/// The length in `text` of a prefix equal to `literal`, if there is one.
fn strip_prefix(text: &str, literal: &str, fold: bool) -> Option<usize> {
    if !fold {
        return text.starts_with(literal).then_some(literal.len());
    }
    let mut used = 0;
    let mut chars = text.chars();
    for l in literal.chars() {
        let t = chars.next()?;
        if !chars_equal_folded(l, t) {
            return None;
        }
        used += t.len_utf8();
    }
    Some(used)
}

fn equals(text: &str, literal: &str, fold: bool) -> bool {
    if !fold {
        return text == literal;
    }
    strip_prefix(text, literal, true) == Some(text.len())
}

fn chars_equal_folded(a: char, b: char) -> bool {
    a == b
        || (a.is_ascii() && b.is_ascii() && a.eq_ignore_ascii_case(&b))
        || (!a.is_ascii() && a.to_lowercase().eq(b.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);

    impl Variables for Map {
        fn variable(&self, key_lower: &str) -> Option<&str> {
            self.0.get(key_lower).copied()
        }
    }

    fn like(pattern: &str, text: &str) -> bool {
        Pattern::parse(pattern, true, false)
            .matches(text, &NoVariables, false)
            .unwrap_or(false)
    }

    #[test]
    fn wildcards_match_any_run_and_any_one_character() {
        assert!(like("kms:*", "kms:Encrypt"));
        assert!(like(
            "kms:GenerateDataKey*",
            "kms:GenerateDataKeyWithoutPlaintext"
        ));
        assert!(like("kms:GenerateDataKey*", "kms:GenerateDataKey"));
        assert!(!like("kms:GenerateDataKey*", "kms:Encrypt"));
        assert!(like("kms:?ecrypt", "kms:Decrypt"));
        assert!(!like("kms:?ecrypt", "kms:Encrypt"));
        assert!(like("*a*b*c", "xxaxxbxxbxc"));
        assert!(!like("*a*b*c", "xxaxxbxxbx"));
        assert!(like("a*", "a"));
        assert!(like("*", ""));
        assert!(!like("?", ""));
        assert!(like("é?", "éß"));
    }

    #[test]
    fn case_folding_applies_only_when_asked() {
        let p = Pattern::parse("kms:Encrypt", true, false);
        assert_eq!(p.matches("KMS:ENCRYPT", &NoVariables, true), Some(true));
        assert_eq!(p.matches("KMS:ENCRYPT", &NoVariables, false), Some(false));
        let p = Pattern::parse("Straße", false, false);
        assert_eq!(p.matches("STRASSE", &NoVariables, true), Some(false));
        assert_eq!(p.matches("straße", &NoVariables, true), Some(true));
    }

    #[test]
    fn variables_substitute_literal_text() {
        let vars = Map(HashMap::from([("aws:username", "a*b")]));
        let p = Pattern::parse("home/${aws:username}/*", true, true);
        assert_eq!(p.matches("home/a*b/x", &vars, false), Some(true));
        assert_eq!(p.matches("home/aXb/x", &vars, false), Some(false));
        let p = Pattern::parse("${aws:UserName}", false, true);
        assert_eq!(p.matches("a*b", &vars, false), Some(true));
    }

    #[test]
    fn unresolved_variables_match_nothing_unless_they_have_a_default() {
        let p = Pattern::parse("team-${aws:PrincipalTag/team}", false, true);
        assert_eq!(p.matches("team-", &NoVariables, false), None);
        let p = Pattern::parse("team-${aws:PrincipalTag/team, 'it''s'}", false, true);
        assert_eq!(p.matches("team-it's", &NoVariables, false), Some(true));
        let p = Pattern::parse("team-${ aws:PrincipalTag/team ,'x' }", false, true);
        assert_eq!(p.matches("team-x", &NoVariables, false), Some(true));
    }

    #[test]
    fn escapes_are_literal_even_where_wildcards_are_special() {
        let p = Pattern::parse("a${*}b${?}c${$}", true, true);
        assert_eq!(p.matches("a*b?c$", &NoVariables, false), Some(true));
        assert_eq!(p.matches("aXb?c$", &NoVariables, false), Some(false));
    }

    #[test]
    fn variables_are_literal_text_when_not_enabled_or_malformed() {
        let p = Pattern::parse("${aws:username}", false, false);
        assert_eq!(
            p.matches("${aws:username}", &NoVariables, false),
            Some(true)
        );
        for text in ["${", "${}", "${a b}", "${a, x}", "${a, 'x'", "${a, 'x' y}"] {
            let p = Pattern::parse(text, false, true);
            assert_eq!(p.matches(text, &NoVariables, false), Some(true), "{text}");
        }
    }

    #[test]
    fn arn_patterns_split_into_six_segments() {
        let p = Pattern::parse("arn:aws:iam::${aws:PrincipalAccount}:role/a:b", true, true);
        let segments = p.split_arn().map(|s| s.len());
        assert_eq!(segments, Some(6));
        assert!(
            Pattern::parse("arn:aws:iam", true, true)
                .split_arn()
                .is_none()
        );
    }
}

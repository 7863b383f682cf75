//! Translating botocore's Java-flavoured `pattern`s into the `regex` crate's syntax.
//!
//! The two dialects agree on almost everything the models use. The differences handled here:
//! - `\uXXXX` escapes (including UTF-16 surrogate pairs such as `\uD800\uDC00`) become `\x{…}`;
//! - `\w`, `\d`, `\s` (and negations) are ASCII-only in Java but Unicode-aware in `regex`, so
//!   they become the ASCII classes `[:word:]`, `[:digit:]`, `[:space:]`;
//! - inside a class, `--`, `&&` and `~~` are literal in Java but set operators in `regex`
//!   (only `&&` is an intersection in both), so `--` and `~~` are escaped.
//!
//! Constructs `regex` cannot express (look-around, back-references, possessive quantifiers,
//! atomic groups, `\Q…\E`, Java `\p{…}` classes, `\G`, `\Z`) are reported as an error, and the
//! generator then skips that pattern with a comment.

/// Translates `java` into an equivalent `regex` crate pattern, or says why it cannot.
pub fn translate(java: &str) -> Result<String, String> {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut class_depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("trailing backslash".to_owned());
                };
                i += 2;
                match e {
                    'u' => {
                        let (code, used) = unicode_escape(&chars, i)?;
                        i += used;
                        out.push_str(&format!("\\x{{{code:X}}}"));
                    }
                    'w' | 'd' | 's' | 'W' | 'D' | 'S' => {
                        let name = match e.to_ascii_lowercase() {
                            'w' => "word",
                            'd' => "digit",
                            _ => "space",
                        };
                        let neg = if e.is_ascii_uppercase() { "^" } else { "" };
                        if class_depth > 0 {
                            out.push_str(&format!("[:{neg}{name}:]"));
                        } else {
                            out.push_str(&format!("[[:{neg}{name}:]]"));
                        }
                    }
                    '1'..='9' | 'k' => return Err("back-references".to_owned()),
                    'Q' | 'E' => return Err("\\Q…\\E quoting".to_owned()),
                    'p' | 'P' => return Err("Java \\p{…} classes".to_owned()),
                    'G' | 'Z' => return Err(format!("\\{e} anchor")),
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                continue;
            }
            '[' => {
                class_depth += 1;
                out.push(c);
                // A `]` or `^]` right after `[` is a literal in both dialects; copy it through.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '-' | '~' if class_depth > 0 && chars.get(i + 1) == Some(&c) => {
                out.push('\\');
                out.push(c);
            }
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => match chars.get(i + 2) {
                Some('=') | Some('!') => return Err("look-ahead".to_owned()),
                Some('>') => return Err("atomic groups".to_owned()),
                Some('<') if matches!(chars.get(i + 3), Some('=') | Some('!')) => {
                    return Err("look-behind".to_owned());
                }
                _ => out.push(c),
            },
            '+' if class_depth == 0 && i > 0 && matches!(chars[i - 1], '*' | '+' | '?' | '}') => {
                // `a*+` is possessive in Java; in `regex` it is a syntax error anyway.
                if !(i > 1 && chars[i - 2] == '\\') {
                    return Err("possessive quantifiers".to_owned());
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Reads the four hex digits at `chars[at..]` (after `\u`), combining a high surrogate with a
/// following `\uDC00`-`\uDFFF` escape. Returns the code point and how many chars were used.
fn unicode_escape(chars: &[char], at: usize) -> Result<(u32, usize), String> {
    let hex = |from: usize| -> Result<u32, String> {
        let digits: String = chars
            .get(from..from + 4)
            .ok_or("short \\u escape")?
            .iter()
            .collect();
        u32::from_str_radix(&digits, 16).map_err(|_| format!("bad \\u escape {digits}"))
    };
    let high = hex(at)?;
    if !(0xD800..=0xDFFF).contains(&high) {
        return Ok((high, 4));
    }
    let is_pair =
        high <= 0xDBFF && chars.get(at + 4) == Some(&'\\') && chars.get(at + 5) == Some(&'u');
    if is_pair {
        let low = hex(at + 6)?;
        if (0xDC00..=0xDFFF).contains(&low) {
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            return Ok((code, 10));
        }
    }
    Err(format!("lone surrogate \\u{high:04X}"))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn unicode_escapes_and_surrogate_pairs_become_code_points() {
        assert_eq!(
            translate(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*").as_deref(),
            Ok(r"[\x{20}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}\t]*")
        );
    }

    #[test]
    fn perl_classes_become_ascii_classes() {
        assert_eq!(
            translate(r"^[\w+=,.@:/-]+$").as_deref(),
            Ok(r"^[[:word:]+=,.@:/-]+$")
        );
        assert_eq!(translate(r"\d+").as_deref(), Ok(r"[[:digit:]]+"));
    }

    #[test]
    fn plain_patterns_pass_through() {
        assert_eq!(
            translate(r"^[a-zA-Z0-9:/_-]+$").as_deref(),
            Ok(r"^[a-zA-Z0-9:/_-]+$")
        );
        assert_eq!(translate(r"(?s).*").as_deref(), Ok(r"(?s).*"));
    }

    #[test]
    fn lookaround_and_backreferences_are_untranslatable() {
        assert!(translate(r"^(?!aws/).*$").is_err());
        assert!(translate(r"(a)\1").is_err());
        assert!(translate(r"a*+").is_err());
    }
}

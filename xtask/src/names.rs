//! Turning model names into Rust identifiers and AWS message paths.

/// Splits a PascalCase/camelCase name into lower-case words: `KMSKeyId` → `kms`, `key`, `id`;
/// `AWSAccountId` → `aws`, `account`, `id`; `S3BucketName` → `s3`, `bucket`, `name`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(std::mem::take(&mut current));
            }
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// A struct field name: `KeyId` → `key_id`, `Type` → `r#type`.
pub fn field_name(member: &str) -> String {
    let snake = words(member).join("_");
    if matches!(snake.as_str(), "self" | "crate" | "super" | "Self") {
        format!("{snake}_")
    } else if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else {
        snake
    }
}

/// A function-name fragment for a shape: `KeyIdType` → `key_id_type`.
pub fn snake(name: &str) -> String {
    words(name).join("_")
}

/// A static's name for a shape: `AliasNameType` → `ALIAS_NAME_TYPE`.
pub fn screaming(name: &str) -> String {
    words(name).join("_").to_ascii_uppercase()
}

/// The member path AWS prints in validation messages: `KeyId` → `keyId`.
pub fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An enum variant for a wire value: `SYMMETRIC_DEFAULT` → `SymmetricDefault`,
/// `RSAES_OAEP_SHA_1` → `RsaesOaepSha1`, `created-date` → `CreatedDate`, `InSync` → `InSync`.
pub fn variant(value: &str) -> String {
    let mut out = String::new();
    for part in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let all_upper = !part.chars().any(|c| c.is_ascii_lowercase());
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            if all_upper {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_snake_case() {
        assert_eq!(field_name("KeyId"), "key_id");
        assert_eq!(field_name("AWSAccountId"), "aws_account_id");
        assert_eq!(field_name("KMSKeyId"), "kms_key_id");
        assert_eq!(field_name("S3BucketName"), "s3_bucket_name");
        assert_eq!(field_name("includeShadowTrails"), "include_shadow_trails");
        assert_eq!(field_name("Type"), "r#type");
        assert_eq!(field_name("KeyARN"), "key_arn");
    }

    #[test]
    fn variants_are_upper_camel() {
        assert_eq!(variant("SYMMETRIC_DEFAULT"), "SymmetricDefault");
        assert_eq!(variant("RSAES_OAEP_SHA_1"), "RsaesOaepSha1");
        assert_eq!(variant("ECC_SECG_P256K1"), "EccSecgP256k1");
        assert_eq!(variant("created-date"), "CreatedDate");
        assert_eq!(variant("InSync"), "InSync");
        assert_eq!(variant("all"), "All");
    }

    #[test]
    fn paths_are_lower_camel() {
        assert_eq!(lower_camel("KeyId"), "keyId");
        assert_eq!(lower_camel("includeShadowTrails"), "includeShadowTrails");
    }
}

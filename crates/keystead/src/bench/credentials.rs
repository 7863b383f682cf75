//! Where bench's access key comes from: flags, an AWS CLI credentials file, or the standard AWS
//! environment variables, in that order (explicit flags win over the environment, as in
//! `keystead serve`). It reads only the file it is given and never prints a secret.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// The profile read from a credentials file when neither --profile nor AWS_PROFILE names one:
/// the profile `keystead serve` writes.
const DEFAULT_PROFILE: &str = "keystead";

/// The credential flags of `keystead bench`, as given.
pub(crate) struct CredentialArgs {
    /// `--access-key-id`.
    pub(crate) access_key_id: Option<String>,
    /// `--secret-access-key`.
    pub(crate) secret_access_key: Option<String>,
    /// `--session-token`.
    pub(crate) session_token: Option<String>,
    /// `--credentials-file`.
    pub(crate) credentials_file: Option<PathBuf>,
    /// `--profile`.
    pub(crate) profile: Option<String>,
}

/// An access key to sign with. Has no `Debug`: it holds the secret.
pub(crate) struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl Credentials {
    /// The access key id.
    pub(crate) fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key, for signing only.
    pub(crate) fn expose_secret_access_key(&self) -> &[u8] {
        self.secret_access_key.as_bytes()
    }

    /// The session token of temporary credentials, sent with every request.
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_ref().map(|t| t.as_str())
    }
}

/// Picks the credentials: `--access-key-id`/`--secret-access-key`, else `--credentials-file`,
/// else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`), else
/// `AWS_SHARED_CREDENTIALS_FILE`. `env` looks up an environment variable.
pub(crate) fn resolve(
    args: CredentialArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Credentials> {
    let profile = args
        .profile
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    match (args.access_key_id, args.secret_access_key) {
        (Some(access_key_id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id,
                secret_access_key: Zeroizing::new(secret),
                session_token: args.session_token.map(Zeroizing::new),
            });
        }
        (None, None) => {}
        _ => bail!("--access-key-id and --secret-access-key go together"),
    }
    if let Some(path) = args.credentials_file {
        return from_file(&path, &profile);
    }
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id,
                secret_access_key: Zeroizing::new(secret),
                session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
            });
        }
        (None, None) => {}
        _ => bail!("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together"),
    }
    if let Some(path) = env("AWS_SHARED_CREDENTIALS_FILE") {
        return from_file(Path::new(&path), &profile);
    }
    bail!(
        "no credentials: pass --credentials-file DATA_DIR/credentials (written by `keystead \
         serve` on first start), or --access-key-id and --secret-access-key, or set \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
}

fn from_file(path: &Path, profile: &str) -> anyhow::Result<Credentials> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the credentials file {}", path.display()))?,
    );
    parse_profile(&text, profile).with_context(|| format!("in {}", path.display()))
}

/// Reads one profile of an AWS CLI credentials file: `[name]` (or `[profile name]`) sections
/// of `key = value` lines; `#` and `;` start comment lines.
fn parse_profile(text: &str, profile: &str) -> anyhow::Result<Credentials> {
    let mut in_profile = false;
    let mut found = false;
    let mut access_key_id = None;
    let mut secret = None;
    let mut session_token = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let name = section.strip_prefix("profile ").unwrap_or(section).trim();
            in_profile = name == profile;
            found |= in_profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "aws_access_key_id" => access_key_id = Some(value),
            "aws_secret_access_key" => secret = Some(Zeroizing::new(value)),
            "aws_session_token" => session_token = Some(Zeroizing::new(value)),
            _ => {}
        }
    }
    if !found {
        bail!("no profile [{profile}] (choose one with --profile)");
    }
    match (access_key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token,
        }),
        _ => bail!("profile [{profile}] needs both aws_access_key_id and aws_secret_access_key"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const FILE: &str = "\
# written by keystead
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default-secret

[profile keystead]
aws_access_key_id=AKIAKEYSTEAD
 aws_secret_access_key =  keystead/secret+key= 
; trailing comment
";

    fn no_flags() -> CredentialArgs {
        CredentialArgs {
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            credentials_file: None,
            profile: None,
        }
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn a_profile_is_read_with_trimmed_values_and_equals_signs_kept() {
        let creds = parse_profile(FILE, "keystead").expect("parses");
        assert_eq!(creds.access_key_id(), "AKIAKEYSTEAD");
        assert_eq!(creds.expose_secret_access_key(), b"keystead/secret+key=");
        assert!(creds.session_token().is_none());
        let default = parse_profile(FILE, "default").expect("parses");
        assert_eq!(default.access_key_id(), "AKIADEFAULT");
    }

    #[test]
    fn a_missing_profile_or_half_a_key_is_an_error() {
        assert!(parse_profile(FILE, "other").is_err());
        assert!(parse_profile("[x]\naws_access_key_id = A\n", "x").is_err());
    }

    #[test]
    fn flags_win_over_the_environment() {
        let args = CredentialArgs {
            access_key_id: Some("AKIAFLAG".to_owned()),
            secret_access_key: Some("flag-secret".to_owned()),
            ..no_flags()
        };
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ]);
        let creds = resolve(args, env).expect("resolves");
        assert_eq!(creds.access_key_id(), "AKIAFLAG");
    }

    #[test]
    fn a_credentials_file_flag_wins_over_environment_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        std::fs::write(&path, FILE).expect("write");
        let args = CredentialArgs {
            credentials_file: Some(path),
            ..no_flags()
        };
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ]);
        let creds = resolve(args, env).expect("resolves");
        assert_eq!(creds.access_key_id(), "AKIAKEYSTEAD");
    }

    #[test]
    fn environment_keys_and_the_shared_file_variable_are_used_last() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        let creds = resolve(no_flags(), env).expect("resolves");
        assert_eq!(creds.access_key_id(), "AKIAENV");
        assert_eq!(creds.session_token(), Some("token"));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credentials");
        std::fs::write(&path, FILE).expect("write");
        let path = path.to_str().expect("utf-8 path");
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "default"),
        ]);
        let creds = resolve(no_flags(), env).expect("resolves");
        assert_eq!(creds.access_key_id(), "AKIADEFAULT");
    }

    #[test]
    fn no_credentials_at_all_is_an_error_that_says_where_to_find_them() {
        let err = resolve(no_flags(), env_of(&[]))
            .err()
            .expect("no credentials");
        assert!(err.to_string().contains("--credentials-file"), "{err}");
    }
}

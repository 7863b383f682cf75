//! Configuration: typed, loaded once at start, passed down by value.
//!
//! Three sources, each overriding the one before: built-in defaults, a TOML file
//! (`--config FILE` or `KEYSTEAD_CONFIG`), and flags or `KEYSTEAD_*` environment variables (the
//! binary's clap definitions merge those two into [`Overrides`]). Anything wrong fails at start
//! with the source, the field and the reason.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The listen address when none is configured: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";
/// The data directory when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./keystead-data";
/// The largest request body accepted, in bytes, unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// A configuration problem, reported at start.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {field}: {reason}")]
pub struct ConfigError {
    /// Where the bad value came from: a file path, or "flags/environment".
    pub source_name: String,
    /// The field, as written in the TOML file.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// How logs are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The settings a TOML configuration file may contain. Every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the root key, database and credentials live.
    pub data_dir: Option<PathBuf>,
    /// The address to listen on.
    pub listen: Option<String>,
    /// Development mode: any access key is accepted, loopback only.
    pub dev: Option<bool>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: Option<usize>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// How often the rotation and deletion workers look for due work, in seconds.
    pub worker_interval_secs: Option<u64>,
    /// Lets tests move the service's clock forward over HTTP. Never in production.
    pub danger_test_clock: Option<bool>,
    /// Whether every request is recorded in the audit trail (default true). Off only for
    /// benchmarks that measure what auditing costs.
    pub audit: Option<bool>,
    /// Secrets Manager rotation settings (`[rotation]`).
    pub rotation: Option<RotationFileConfig>,
}

/// The `[rotation]` table of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationFileConfig {
    /// `[rotation.hooks]`: hook name → `http://` URL. A `RotationLambdaARN` of
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` names hook NAME.
    #[serde(default)]
    pub hooks: std::collections::BTreeMap<String, String>,
}

/// Values given by flags or `KEYSTEAD_*` environment variables; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir` / `KEYSTEAD_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--listen` / `KEYSTEAD_LISTEN`.
    pub listen: Option<String>,
    /// `--dev` / `KEYSTEAD_DEV`.
    pub dev: Option<bool>,
    /// `--tls-cert` / `KEYSTEAD_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` / `KEYSTEAD_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// `--max-body-bytes` / `KEYSTEAD_MAX_BODY_BYTES`.
    pub max_body_bytes: Option<usize>,
    /// `--log-format` / `KEYSTEAD_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `--worker-interval-secs` / `KEYSTEAD_WORKER_INTERVAL_SECS`.
    pub worker_interval_secs: Option<u64>,
    /// `--danger-test-clock` / `KEYSTEAD_DANGER_TEST_CLOCK`.
    pub danger_test_clock: Option<bool>,
    /// `--audit on|off` / `KEYSTEAD_AUDIT`.
    pub audit: Option<bool>,
    /// `--rotation-hook NAME=URL` (repeatable): added to, and winning over, the file's
    /// `[rotation.hooks]`.
    pub rotation_hooks: Vec<(String, String)>,
}

/// TLS certificate and key paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// A directory that persists.
    Path(PathBuf),
    /// `--dev` without `--data-dir`: a temporary directory removed at exit.
    Temporary,
}

/// The resolved configuration of `keystead serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives.
    pub data_dir: DataDir,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Development mode.
    pub dev: bool,
    /// TLS, when both a certificate and a key are configured.
    pub tls: Option<TlsConfig>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How logs are written.
    pub log_format: LogFormat,
    /// How often the workers look for due work.
    pub worker_interval: Duration,
    /// Whether tests may move the clock over HTTP.
    pub danger_test_clock: bool,
    /// Whether requests are recorded in the audit trail (on unless turned off).
    pub audit: bool,
    /// Rotation hooks: name → `http://` URL.
    pub rotation_hooks: std::collections::BTreeMap<String, String>,
}

/// Reads and parses a TOML configuration file.
pub fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source_name: source_name.clone(),
        field: "(file)".to_owned(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError {
        source_name,
        field: field_of_toml_error(&e, &text),
        reason: e.message().to_owned(),
    })
}

/// The field a TOML error is about: named in the message for unknown and missing fields
/// ("unknown field `x`"), otherwise the key on the line the error's span points at.
fn field_of_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message();
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.matches('`').count() >= 2);
    if let Some(name) = quoted {
        return name.to_owned();
    }
    let key = e.span().and_then(|span| {
        let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
        let line = text.get(line_start..)?.lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim();
        (!key.is_empty()).then(|| key.to_owned())
    });
    key.unwrap_or_else(|| "(syntax)".to_owned())
}

impl Config {
    /// Combines defaults, the file (with its path, for error messages) and the overrides.
    pub fn resolve(
        file: Option<(&Path, FileConfig)>,
        overrides: Overrides,
    ) -> Result<Config, ConfigError> {
        let (file_name, file) = match file {
            Some((path, f)) => (path.display().to_string(), f),
            None => ("(defaults)".to_owned(), FileConfig::default()),
        };
        // The source of a field: the override if given, else the file.
        let source = |overridden: bool| {
            if overridden {
                "flags/environment".to_owned()
            } else {
                file_name.clone()
            }
        };
        let error = |overridden: bool, field: &str, reason: String| ConfigError {
            source_name: source(overridden),
            field: field.to_owned(),
            reason,
        };

        let dev = overrides.dev.or(file.dev).unwrap_or(false);
        let listen_text = overrides
            .listen
            .clone()
            .or(file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            error(
                overrides.listen.is_some(),
                "listen",
                format!("'{listen_text}' is not an IP address and port, e.g. 127.0.0.1:4599"),
            )
        })?;
        if dev && !listen.ip().is_loopback() {
            return Err(error(
                overrides.listen.is_some(),
                "listen",
                format!(
                    "--dev accepts any credentials, so it binds loopback only; {listen} is not loopback"
                ),
            ));
        }
        let data_dir = match overrides.data_dir.clone().or(file.data_dir.clone()) {
            Some(p) => DataDir::Path(p),
            None if dev => DataDir::Temporary,
            None => DataDir::Path(PathBuf::from(DEFAULT_DATA_DIR)),
        };
        let tls_cert = overrides.tls_cert.clone().or(file.tls_cert.clone());
        let tls_key = overrides.tls_key.clone().or(file.tls_key.clone());
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(error(
                    overrides.tls_cert.is_some(),
                    "tls_key",
                    "tls_cert is set, so tls_key must be set too".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(error(
                    overrides.tls_key.is_some(),
                    "tls_cert",
                    "tls_key is set, so tls_cert must be set too".to_owned(),
                ));
            }
        };
        let max_body_bytes = overrides
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(error(
                overrides.max_body_bytes.is_some(),
                "max_body_bytes",
                format!("{max_body_bytes} is outside 1024..=16777216"),
            ));
        }
        let worker_interval_secs = overrides
            .worker_interval_secs
            .or(file.worker_interval_secs)
            .unwrap_or(60);
        if worker_interval_secs == 0 {
            return Err(error(
                overrides.worker_interval_secs.is_some(),
                "worker_interval_secs",
                "must be at least 1".to_owned(),
            ));
        }
        let danger_test_clock = overrides
            .danger_test_clock
            .or(file.danger_test_clock)
            .unwrap_or(false);
        if danger_test_clock && !listen.ip().is_loopback() {
            return Err(error(
                overrides.danger_test_clock.is_some(),
                "danger_test_clock",
                "the test clock lets anyone move time; it is allowed on loopback only".to_owned(),
            ));
        }
        let mut rotation_hooks = file.rotation.clone().unwrap_or_default().hooks;
        rotation_hooks.extend(overrides.rotation_hooks.iter().cloned());
        for (name, url) in &rotation_hooks {
            if name.is_empty() || !url.starts_with("http://") {
                return Err(error(
                    overrides.rotation_hooks.iter().any(|(n, _)| n == name),
                    "rotation.hooks",
                    format!("hook {name:?}: the URL must start with http://"),
                ));
            }
        }
        Ok(Config {
            data_dir,
            listen,
            dev,
            tls,
            max_body_bytes,
            log_format: overrides
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            worker_interval: Duration::from_secs(worker_interval_secs),
            danger_test_clock,
            audit: overrides.audit.or(file.audit).unwrap_or(true),
            rotation_hooks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<FileConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keystead.toml");
        std::fs::write(&path, text).expect("write");
        load_file(&path)
    }

    #[test]
    fn defaults_listen_on_loopback_with_a_local_data_dir() {
        let c = Config::resolve(None, Overrides::default()).expect("defaults");
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, DataDir::Path(PathBuf::from(DEFAULT_DATA_DIR)));
        assert!(!c.dev);
        assert_eq!(c.tls, None);
    }

    #[test]
    fn flags_override_the_file() {
        let f = file("listen = \"127.0.0.1:1\"\ndata_dir = \"/tmp/a\"\n").expect("parse");
        let c = Config::resolve(
            Some((Path::new("k.toml"), f)),
            Overrides {
                listen: Some("127.0.0.1:2".to_owned()),
                ..Overrides::default()
            },
        )
        .expect("resolve");
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.data_dir, DataDir::Path(PathBuf::from("/tmp/a")));
    }

    #[test]
    fn auditing_is_on_unless_turned_off() {
        let on = Config::resolve(None, Overrides::default()).expect("resolve");
        assert!(on.audit);
        let f = file("audit = false\n").expect("parse");
        let off =
            Config::resolve(Some((Path::new("k.toml"), f)), Overrides::default()).expect("resolve");
        assert!(!off.audit);
        let f = file("audit = false\n").expect("parse");
        let flag = Config::resolve(
            Some((Path::new("k.toml"), f)),
            Overrides {
                audit: Some(true),
                ..Overrides::default()
            },
        )
        .expect("resolve");
        assert!(flag.audit);
    }

    #[test]
    fn an_unknown_field_names_the_file_and_field() {
        let e = file("listn = \"x\"\n").expect_err("unknown field");
        assert!(e.source_name.ends_with("keystead.toml"));
        assert_eq!(e.field, "listn");
    }

    #[test]
    fn a_wrong_type_names_the_file_and_field() {
        let e = file("listen = \"127.0.0.1:1\"\nworker_interval_secs = \"soon\"\n")
            .expect_err("wrong type");
        assert!(e.source_name.ends_with("keystead.toml"), "{e}");
        assert_eq!(e.field, "worker_interval_secs", "{e}");
    }

    #[test]
    fn a_bad_listen_address_names_the_field() {
        let f = file("listen = \"nowhere\"\n").expect("parse");
        let e = Config::resolve(Some((Path::new("k.toml"), f)), Overrides::default())
            .expect_err("bad listen");
        assert_eq!(
            (e.source_name.as_str(), e.field.as_str()),
            ("k.toml", "listen")
        );
    }

    #[test]
    fn dev_mode_refuses_a_public_address_and_uses_a_temporary_dir() {
        let e = Config::resolve(
            None,
            Overrides {
                dev: Some(true),
                listen: Some("0.0.0.0:4599".to_owned()),
                ..Overrides::default()
            },
        )
        .expect_err("public dev");
        assert_eq!(e.field, "listen");
        let c = Config::resolve(
            None,
            Overrides {
                dev: Some(true),
                ..Overrides::default()
            },
        )
        .expect("dev");
        assert_eq!(c.data_dir, DataDir::Temporary);
    }

    #[test]
    fn tls_needs_both_halves() {
        let e = Config::resolve(
            None,
            Overrides {
                tls_cert: Some(PathBuf::from("cert.pem")),
                ..Overrides::default()
            },
        )
        .expect_err("half tls");
        assert_eq!(e.field, "tls_key");
    }

    #[test]
    fn rotation_hooks_come_from_the_file_and_flags_win() {
        let text = "[rotation.hooks]\na = \"http://127.0.0.1:1/a\"\nb = \"http://127.0.0.1:1/b\"\n";
        let f = file(text).expect("parse");
        let c = Config::resolve(
            Some((Path::new("k.toml"), f)),
            Overrides {
                rotation_hooks: vec![("b".to_owned(), "http://127.0.0.1:2/b".to_owned())],
                ..Overrides::default()
            },
        )
        .expect("resolve");
        assert_eq!(c.rotation_hooks["a"], "http://127.0.0.1:1/a");
        assert_eq!(c.rotation_hooks["b"], "http://127.0.0.1:2/b");
        let e = Config::resolve(
            None,
            Overrides {
                rotation_hooks: vec![("c".to_owned(), "https://example.com/".to_owned())],
                ..Overrides::default()
            },
        )
        .expect_err("https hook");
        assert_eq!(e.field, "rotation.hooks");
    }
}

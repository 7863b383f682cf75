//! Secrets Manager rotation in the server: which rotator runs a secret's rotation, starting
//! rotations (RotateSecret with `RotateImmediately`, and the schedule), and resuming the ones a
//! restart interrupted.
//!
//! A rotation is a [`keystead_secrets::RotationJobRecord`] kept in the secret's record: its token
//! (the version being created) and the first step not yet done. RotateSecret persists it before
//! answering; the runner persists it again after each step, so after a crash the rotation
//! resumes at the step that was running (steps are idempotent). Only one task per process runs
//! a given secret's rotation.
//!
//! The rotator is chosen per secret:
//! - `RotationLambdaARN` `arn:aws:lambda:REGION:ACCOUNT:function:NAME` → the HTTP hook `NAME`
//!   of `[rotation.hooks]` (or `--rotation-hook NAME=URL`), signed with the deployment's Ed25519
//!   key (the audit signing key; its public key is written to
//!   `DATA/rotation-hook-signing.pub.pem` at start);
//! - `keystead:postgres-single-user` / `keystead:postgres-alternating-users` → the built-in
//!   PostgreSQL rotator, explicitly;
//! - no ARN and a value `{"engine": "postgres", ...}` (or `postgresql`, `aurora-postgresql`:
//!   [`keystead_rotation::is_postgres_engine`]) → the built-in PostgreSQL rotator, alternating
//!   users when the value has `masterarn`, single user otherwise (as AWS's templates).
//!
//! A failed rotation leaves AWSCURRENT where it was (the steps never move it before
//! `finishSecret`), stays pending with `RotationEnabled` true, is logged at warn, keeps its
//! reason in the secret's record and is retried after [`RETRY_AFTER_MS`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use keystead_crypto::{RootKey, SigningKey};
use keystead_rotation::{HttpHookRotator, PostgresRotator, Rotator, Step};
use keystead_secrets::{AWSCURRENT, RotationAccess, SecretsService};
use keystead_types::{Clock, UnixMillis};
use keystead_wire::AwsError;
use keystead_wire::secretsmanager::ErrorCode;

use crate::App;
use crate::config::Config;

/// How long after a failed rotation it is tried again.
pub(crate) const RETRY_AFTER_MS: i64 = 15 * 60 * 1000;
/// `RotationLambdaARN` naming the built-in single-user PostgreSQL rotator.
pub(crate) const POSTGRES_SINGLE_USER: &str = "keystead:postgres-single-user";
/// `RotationLambdaARN` naming the built-in alternating-users PostgreSQL rotator.
pub(crate) const POSTGRES_ALTERNATING_USERS: &str = "keystead:postgres-alternating-users";
/// TESTS ONLY (with `--danger-test-clock`): the process aborts right after persisting this step.
const CRASH_AFTER_STEP_ENV: &str = "KEYSTEAD_DANGER_CRASH_AFTER_ROTATION_STEP";
/// The file the hook signing public key is written to, in the data directory.
pub(crate) const HOOK_PUBLIC_KEY_FILE: &str = "rotation-hook-signing.pub.pem";

/// The rotator a `RotationLambdaARN` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    PostgresSingleUser,
    PostgresAlternatingUsers,
    Hook { url: String },
}

/// The server's rotation state: configured hooks, the hook signing key, and the secrets whose
/// rotation runs in this process.
pub(crate) struct Rotations {
    hooks: BTreeMap<String, String>,
    signing_key: Arc<SigningKey>,
    running: Mutex<BTreeSet<String>>,
    crash_after: Option<Step>,
    app: OnceLock<Weak<App>>,
}

impl Rotations {
    /// Loads the hook signing key (the audit signing key, created if absent), writes its public
    /// key next to it and logs where, and reads the test-only crash switch.
    pub(crate) fn open(
        config: &Config,
        dir: &Path,
        root: &RootKey,
    ) -> Result<Self, crate::data_dir::Error> {
        let signing_key = crate::data_dir::open_audit_signing_key(dir, root)?;
        let pem_path = dir.join(HOOK_PUBLIC_KEY_FILE);
        let pem = signing_key.public_key_pem();
        if std::fs::read_to_string(&pem_path).ok().as_deref() != Some(pem.as_str())
            && let Err(e) = std::fs::write(&pem_path, &pem)
        {
            tracing::warn!(path = %pem_path.display(), error = %e,
                "could not write the rotation hook public key");
        }
        let fingerprint = keystead_crypto::digest::sha256(&signing_key.public_key_der())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        tracing::info!(
            path = %pem_path.display(),
            sha256 = %fingerprint,
            hooks = config.rotation_hooks.len(),
            "rotation hooks are signed with this Ed25519 public key"
        );
        let crash_after = if config.danger_test_clock {
            std::env::var(CRASH_AFTER_STEP_ENV)
                .ok()
                .and_then(|s| s.parse::<Step>().ok())
        } else {
            None
        };
        if let Some(step) = crash_after {
            tracing::warn!(%step, "TEST SWITCH: the process aborts after persisting this rotation step");
        }
        Ok(Self {
            hooks: config.rotation_hooks.clone(),
            signing_key: Arc::new(signing_key),
            running: Mutex::new(BTreeSet::new()),
            crash_after,
            app: OnceLock::new(),
        })
    }

    /// Binds the runner to the app, so rotations can run in tasks of their own; called once,
    /// right after the app is built.
    pub(crate) fn bind(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
    }

    /// The rotator `lambda_arn` names, or why it names none.
    fn named(&self, lambda_arn: &str) -> Result<Named, String> {
        match lambda_arn {
            POSTGRES_SINGLE_USER => return Ok(Named::PostgresSingleUser),
            POSTGRES_ALTERNATING_USERS => return Ok(Named::PostgresAlternatingUsers),
            _ => {}
        }
        let parts: Vec<&str> = lambda_arn.split(':').collect();
        let name = match parts.as_slice() {
            ["arn", "aws", "lambda", _region, _account, "function", name]
            | [
                "arn",
                "aws",
                "lambda",
                _region,
                _account,
                "function",
                name,
                _,
            ] => *name,
            _ => {
                return Err(format!(
                    "RotationLambdaARN must be arn:aws:lambda:REGION:ACCOUNT:function:NAME, \
                     {POSTGRES_SINGLE_USER} or {POSTGRES_ALTERNATING_USERS}."
                ));
            }
        };
        self.hooks
            .get(name)
            .map(|url| Named::Hook { url: url.clone() })
            .ok_or_else(|| {
                format!(
                    "The rotation function {name} is not configured: add it to [rotation.hooks] \
                     or --rotation-hook {name}=URL."
                )
            })
    }

    /// Checks a `RotationLambdaARN` given to RotateSecret. A well-formed Lambda ARN whose hook
    /// is not configured is accepted only when no rotation starts now (`rotate_now` false): its
    /// scheduled rotations fail, visibly, until the hook is configured.
    pub(crate) fn check_lambda_arn(
        &self,
        lambda_arn: &str,
        rotate_now: bool,
    ) -> Result<(), AwsError> {
        match self.named(lambda_arn) {
            Ok(_) => Ok(()),
            Err(_)
                if !rotate_now
                    && lambda_arn.starts_with("arn:aws:lambda:")
                    && lambda_arn.contains(":function:") =>
            {
                Ok(())
            }
            Err(m) => Err(ErrorCode::InvalidParameterException.with_message(m)),
        }
    }

    fn mark_running(&self, arn: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_owned())
    }

    fn done_running(&self, arn: &str) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn);
    }

    /// Runs the rotation in progress of `arn` in a task of its own, unless one runs already.
    pub(crate) fn spawn(&self, arn: &str) {
        let Some(app) = self.app.get().and_then(Weak::upgrade) else {
            return;
        };
        if !self.mark_running(arn) {
            return;
        }
        let arn = arn.to_owned();
        tokio::spawn(async move {
            run(&app, &arn).await;
            app.rotation.done_running(&arn);
        });
    }
}

/// A database secret's fields that choose the built-in rotator: `(engine is PostgreSQL,
/// masterarn)`.
fn database_fields(value: Option<&keystead_secrets::SecretValue>) -> (bool, Option<String>) {
    // Exposed to read the `engine` and `masterarn` fields only; nothing is kept or logged.
    let Some(text) = value.and_then(|v| v.expose_string()) else {
        return (false, None);
    };
    // Only these two fields are read: the parser skips the others (the password among them)
    // without copying them.
    #[derive(serde::Deserialize)]
    struct Fields {
        engine: Option<String>,
        masterarn: Option<String>,
    }
    let Ok(fields) = serde_json::from_str::<Fields>(text) else {
        return (false, None);
    };
    // The engines the built-in rotator accepts (keystead-rotation's `DatabaseCredentials`).
    let postgres = fields
        .engine
        .as_deref()
        .is_some_and(keystead_rotation::is_postgres_engine);
    (postgres, fields.masterarn)
}

/// Whether a built-in rotator handles `arn`'s current value (so RotateSecret needs no
/// `RotationLambdaARN`).
pub(crate) async fn has_builtin_rotator(secrets: &SecretsService, arn: &str) -> bool {
    let value = secrets
        .rotation_value(arn, None, Some(AWSCURRENT))
        .await
        .ok()
        .flatten();
    database_fields(value.as_ref()).0
}

/// The rotator for `arn` and the master secret it may read.
async fn rotator_for(
    app: &App,
    arn: &str,
    lambda_arn: Option<&str>,
) -> Result<(Box<dyn Rotator>, Option<String>), String> {
    let value = app
        .secrets
        .rotation_value(arn, None, Some(AWSCURRENT))
        .await
        .map_err(|e| format!("reading the current value: {e}"))?;
    let (postgres, master) = database_fields(value.as_ref());
    let named = match lambda_arn {
        Some(l) => app.rotation.named(l)?,
        None if postgres && master.is_some() => Named::PostgresAlternatingUsers,
        None if postgres => Named::PostgresSingleUser,
        None => {
            return Err("No Lambda rotation function ARN is associated with this secret.".into());
        }
    };
    Ok(match named {
        Named::PostgresSingleUser => (Box::new(PostgresRotator::single_user()), None),
        Named::PostgresAlternatingUsers => {
            (Box::new(PostgresRotator::alternating_users(None)), master)
        }
        Named::Hook { url } => {
            let hook = HttpHookRotator::new(&url, app.rotation.signing_key.clone())
                .map_err(|e| e.to_string())?;
            (Box::new(hook), None)
        }
    })
}

/// An error and its causes on one line (rotation errors never carry secret values).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Runs the rotation in progress of `arn` from its recorded step to the end, persisting each
/// step, and records the outcome.
async fn run(app: &App, arn: &str) {
    let secrets = &app.secrets;
    let Some(progress) = secrets
        .rotations_in_progress()
        .into_iter()
        .find(|p| p.arn == arn)
    else {
        return;
    };
    let token = progress.job.token.clone();
    let outcome = match progress.job.next_step.parse::<Step>() {
        Err(e) => Err(format!("the recorded rotation step is unknown: {e}")),
        Ok(step) => {
            run_steps(
                app,
                arn,
                &token,
                step,
                progress.rotation.lambda_arn.as_deref(),
            )
            .await
        }
    };
    let now = app.clock.now();
    match outcome {
        Ok(()) => {
            let settings = secrets.rotation_settings(arn).ok();
            let next =
                settings.and_then(|s| keystead_secrets::next_rotation_at(&s, Some(now), now));
            match secrets.record_rotation(arn, Ok(()), next).await {
                Ok(()) => tracing::info!(secret = arn, version_id = %token, "secret rotated"),
                Err(e) => tracing::error!(secret = arn, error = %e,
                    "the rotation finished but could not be recorded; it will be resumed"),
            }
        }
        Err(reason) => {
            tracing::warn!(secret = arn, version_id = %token, reason = %reason,
                "secret rotation failed; AWSCURRENT is unchanged and it will be retried");
            let retry = UnixMillis(now.0.saturating_add(RETRY_AFTER_MS));
            if let Err(e) = secrets.record_rotation(arn, Err(reason), Some(retry)).await {
                tracing::error!(secret = arn, error = %e, "could not record a rotation failure");
            }
        }
    }
}

async fn run_steps(
    app: &App,
    arn: &str,
    token: &str,
    from: Step,
    lambda_arn: Option<&str>,
) -> Result<(), String> {
    let secrets = &app.secrets;
    let (rotator, master) = rotator_for(app, arn, lambda_arn).await?;
    let mut access = RotationAccess::new(secrets, arn).map_err(|e| e.to_string())?;
    if let Some(master) = master {
        access = access
            .with_master(&master)
            .map_err(|e| format!("the master secret {master}: {e}"))?;
    }
    let crash_after = app.rotation.crash_after;
    keystead_rotation::run_rotation(
        rotator.as_ref(),
        &access,
        arn,
        token,
        from,
        |step| async move {
            secrets
                .save_rotation_progress(arn, token, step.next())
                .await
                .map_err(keystead_rotation::Error::access)?;
            if crash_after == Some(step) {
                tracing::error!(%step, "TEST SWITCH: aborting after this rotation step");
                std::process::abort();
            }
            Ok(())
        },
    )
    .await
    .map_err(|e| describe(&e))
}

/// One pass of the rotation worker: resumes rotations in progress that are not running (after
/// a restart, or whose retry time has come) and starts the rotations that are due.
pub(crate) async fn run_workers(app: &App) {
    let now = app.clock.now();
    for progress in app.secrets.rotations_in_progress() {
        let waiting = progress.rotation.last_failure.is_some()
            && progress.rotation.next_rotation_at.is_some_and(|t| t > now);
        if !waiting {
            app.rotation.spawn(&progress.arn);
        }
    }
    for due in app.secrets.rotations_due(now) {
        match app.secrets.start_scheduled_rotation(&due.arn, now).await {
            Ok(Some(job)) => {
                tracing::info!(secret = %due.arn, version_id = %job.token, "scheduled rotation starts");
                app.rotation.spawn(&due.arn);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(secret = %due.arn, error = %e, "could not start a rotation"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotations(hooks: &[(&str, &str)]) -> Rotations {
        Rotations {
            hooks: hooks
                .iter()
                .map(|(n, u)| ((*n).to_owned(), (*u).to_owned()))
                .collect(),
            signing_key: Arc::new(SigningKey::generate().expect("key")),
            running: Mutex::new(BTreeSet::new()),
            crash_after: None,
            app: OnceLock::new(),
        }
    }

    #[test]
    fn a_lambda_arn_names_a_configured_hook_or_a_built_in_rotator() {
        let r = rotations(&[("rotate-db", "http://127.0.0.1:9/")]);
        assert_eq!(
            r.named("arn:aws:lambda:us-east-1:111122223333:function:rotate-db"),
            Ok(Named::Hook {
                url: "http://127.0.0.1:9/".to_owned()
            })
        );
        assert_eq!(
            r.named("arn:aws:lambda:us-east-1:111122223333:function:rotate-db:live"),
            Ok(Named::Hook {
                url: "http://127.0.0.1:9/".to_owned()
            })
        );
        assert_eq!(r.named(POSTGRES_SINGLE_USER), Ok(Named::PostgresSingleUser));
        assert_eq!(
            r.named(POSTGRES_ALTERNATING_USERS),
            Ok(Named::PostgresAlternatingUsers)
        );
        assert!(
            r.named("arn:aws:lambda:us-east-1:111122223333:function:other")
                .is_err()
        );
        assert!(r.named("not-an-arn").is_err());
    }

    #[test]
    fn database_fields_choose_postgres_and_read_masterarn() {
        let value = |s: &str| keystead_secrets::SecretValue::String(s.to_owned().into());
        assert_eq!(
            database_fields(Some(&value(r#"{"engine":"postgres","username":"u"}"#))),
            (true, None)
        );
        assert_eq!(
            database_fields(Some(&value(r#"{"engine":"postgres","masterarn":"arn:m"}"#))),
            (true, Some("arn:m".to_owned()))
        );
        for engine in ["postgresql", "aurora-postgresql"] {
            let json = format!(r#"{{"engine":"{engine}","username":"u"}}"#);
            assert_eq!(
                database_fields(Some(&value(&json))),
                (true, None),
                "{engine}"
            );
        }
        assert_eq!(
            database_fields(Some(&value(r#"{"engine":"mysql"}"#))),
            (false, None)
        );
        assert_eq!(database_fields(Some(&value("plain text"))), (false, None));
        assert_eq!(database_fields(None), (false, None));
    }
}

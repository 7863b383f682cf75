//! The rotation driver: runs the steps that remain, in order, and reports each completed step so
//! the caller can persist progress and resume after a crash.
//!
//! Resuming is safe because every step is idempotent: a step that finished but whose completion
//! was not recorded simply runs again. This module keeps no state of its own and never retries;
//! retry policy and the schedule belong to the caller (the Secrets Manager service's worker).

use serde::{Deserialize, Serialize};

use crate::access::{PendingState, pending_state};
use crate::{Error, Rotator, SecretAccess, Step};

/// A rotation's persisted progress: which secret, which token (the pending version id), and the
/// first step not yet known to be done (`None` once `finishSecret` is done).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationJob {
    /// The secret being rotated (name or ARN).
    pub secret_id: String,
    /// The rotation's `ClientRequestToken`: the id of the version being created.
    pub token: String,
    /// The first step not recorded as done; `None` when the rotation is complete.
    pub next_step: Option<Step>,
}

impl RotationJob {
    /// A rotation that has not started.
    pub fn new(secret_id: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            secret_id: secret_id.into(),
            token: token.into(),
            next_step: Some(Step::CreateSecret),
        }
    }

    /// Whether every step is done.
    pub fn is_finished(&self) -> bool {
        self.next_step.is_none()
    }

    /// Records `step` as done (steps are done in order, so the next one is `step.next()`).
    pub fn record_done(&mut self, step: Step) {
        self.next_step = step.next();
    }

    /// Runs the remaining steps, passing after each one the updated job to `on_step_done` (to
    /// persist it). Afterwards `self.next_step` is `None`, or on error the step that failed (or
    /// whose completion could not be persisted).
    pub async fn run<F, Fut>(
        &mut self,
        rotator: &dyn Rotator,
        access: &dyn SecretAccess,
        mut on_step_done: F,
    ) -> Result<(), Error>
    where
        F: FnMut(RotationJob) -> Fut + Send,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        let mut cursor = self.next_step;
        let (secret_id, token) = (self.secret_id.clone(), self.token.clone());
        let result = drive(
            rotator,
            access,
            &self.secret_id,
            &self.token,
            &mut cursor,
            |_, next_step| {
                on_step_done(RotationJob {
                    secret_id: secret_id.clone(),
                    token: token.clone(),
                    next_step,
                })
            },
        )
        .await;
        self.next_step = cursor;
        result
    }
}

/// Runs the rotation of `secret_id` with pending version `token` from `resume_from` to
/// `finishSecret`, calling `on_step_done` after each step succeeds (a failure there stops the
/// rotation). After `finishSecret`, checks that `token` really is `AWSCURRENT` (a hook may answer
/// 2xx without moving it) and fails with [`Error::RotationNotFinished`] otherwise.
///
/// If `token` is already `AWSCURRENT` when called, the rotation finished before a crash: the
/// remaining steps are reported done without running.
pub async fn run_rotation<F, Fut>(
    rotator: &dyn Rotator,
    access: &dyn SecretAccess,
    secret_id: &str,
    token: &str,
    resume_from: Step,
    mut on_step_done: F,
) -> Result<(), Error>
where
    F: FnMut(Step) -> Fut + Send,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    let mut cursor = Some(resume_from);
    drive(rotator, access, secret_id, token, &mut cursor, |step, _| {
        on_step_done(step)
    })
    .await
}

/// The loop behind [`run_rotation`] and [`RotationJob::run`]: `cursor` is the first step not
/// known to be done, advanced only once `on_step_done(step, next)` has succeeded.
async fn drive<F, Fut>(
    rotator: &dyn Rotator,
    access: &dyn SecretAccess,
    secret_id: &str,
    token: &str,
    cursor: &mut Option<Step>,
    mut on_step_done: F,
) -> Result<(), Error>
where
    F: FnMut(Step, Option<Step>) -> Fut + Send,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    if cursor.is_none() {
        return Ok(());
    }
    let already_done =
        pending_state(access, secret_id, token).await? == PendingState::AlreadyCurrent;
    while let Some(current) = *cursor {
        if !already_done {
            tracing::info!(secret_id, step = %current, "rotation step");
            if let Err(error) = rotator.run_step(current, secret_id, token, access).await {
                tracing::warn!(secret_id, step = %current, %error, "rotation step failed");
                return Err(error);
            }
        }
        on_step_done(current, current.next()).await?;
        *cursor = current.next();
    }
    if pending_state(access, secret_id, token).await? != PendingState::AlreadyCurrent {
        return Err(Error::RotationNotFinished {
            secret_id: secret_id.to_owned(),
            version_id: token.to_owned(),
        });
    }
    Ok(())
}

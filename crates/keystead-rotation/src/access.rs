//! [`SecretAccess`]: the rotator's view of the secret store, and [`SecretValue`], a secret
//! string that cannot be printed by accident.
//!
//! The Secrets Manager service implements [`SecretAccess`] over its own versions, labels and
//! encryption; rotators see nothing else of it. This module owns the contract, not a store.

use std::collections::BTreeMap;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::Error;

/// The label of the version clients use.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label of the version a rotation is creating.
pub const AWSPENDING: &str = "AWSPENDING";
/// The label of the version that was `AWSCURRENT` before the last move.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A version's `SecretString`, wiped when dropped. No `Debug`, `Display`, `Clone` or
/// `Serialize`: [`SecretValue::expose`] marks each place that reads it.
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret text. Callers must not log or return it anywhere but the secret store and the
    /// protected service.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<Zeroizing<String>> for SecretValue {
    fn from(value: Zeroizing<String>) -> Self {
        Self(value)
    }
}

/// What a rotator may do to secrets: the subset of Secrets Manager a rotation Lambda uses
/// (`GetSecretValue`, `DescribeSecret`'s `VersionIdsToStages`, `PutSecretValue` with
/// `AWSPENDING`, `UpdateSecretVersionStage` for `AWSCURRENT`).
///
/// `secret_id` is the id given to the rotator (name or ARN). An implementation may refuse ids
/// other than the secret being rotated and, when configured, its master secret, with
/// [`Error::Access`].
#[async_trait]
pub trait SecretAccess: Send + Sync {
    /// The `SecretString` of the version that carries `stage` (`GetSecretValue` with
    /// `VersionStage`). `None` when no version carries the label or that version has no string.
    async fn value_by_stage(
        &self,
        secret_id: &str,
        stage: &str,
    ) -> Result<Option<SecretValue>, Error>;

    /// The `SecretString` of version `version_id`, only if it also carries `stage` when one is
    /// given (`GetSecretValue` with `VersionId` and `VersionStage`). `None` when there is no such
    /// version, it lacks the label, or it has no string (a version stub made by `RotateSecret`).
    async fn value_by_version(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: Option<&str>,
    ) -> Result<Option<SecretValue>, Error>;

    /// Every version's staging labels (`DescribeSecret`'s `VersionIdsToStages`).
    async fn version_stages(&self, secret_id: &str)
    -> Result<BTreeMap<String, Vec<String>>, Error>;

    /// Stores `value` as version `token` with the label `AWSPENDING` (`PutSecretValue` with
    /// `ClientRequestToken` = `token`, `VersionStages` = `[AWSPENDING]`). Putting the same value
    /// under the same token again succeeds and changes nothing; a different value under an
    /// existing token is an error, as in AWS (`ResourceExistsException`).
    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretValue,
    ) -> Result<(), Error>;

    /// Moves `AWSCURRENT` to version `token` (`UpdateSecretVersionStage` with `MoveToVersionId`
    /// = `token` and `RemoveFromVersionId` = the current version): the old current version gets
    /// `AWSPREVIOUS`, and `AWSPENDING` is removed from `token`. Does nothing when `token` is
    /// already `AWSCURRENT`.
    async fn finish(&self, secret_id: &str, token: &str) -> Result<(), Error>;
}

/// Where version `token` stands, from the rotation function's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingState {
    /// The version does not exist yet: only `createSecret` may proceed (it creates it).
    Absent,
    /// The version carries `AWSPENDING` and not `AWSCURRENT`: the rotation is under way.
    Pending,
    /// The version already carries `AWSCURRENT`: the rotation finished; every step is a no-op.
    AlreadyCurrent,
}

/// The check every AWS rotation function makes before a step: is `token` pending, already
/// current, or missing? A version that exists without either label is
/// [`Error::VersionNotPending`].
pub async fn pending_state(
    access: &dyn SecretAccess,
    secret_id: &str,
    token: &str,
) -> Result<PendingState, Error> {
    let versions = access.version_stages(secret_id).await?;
    let Some(stages) = versions.get(token) else {
        return Ok(PendingState::Absent);
    };
    if stages.iter().any(|s| s == AWSCURRENT) {
        Ok(PendingState::AlreadyCurrent)
    } else if stages.iter().any(|s| s == AWSPENDING) {
        Ok(PendingState::Pending)
    } else {
        Err(Error::VersionNotPending {
            secret_id: secret_id.to_owned(),
            version_id: token.to_owned(),
        })
    }
}

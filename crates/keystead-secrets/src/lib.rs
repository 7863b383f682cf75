//! The Secrets Manager service: secrets, their versions and staging labels, tags, resource
//! policies, deletion with a recovery window, and replication to other regions.
//!
//! All state lives in memory and is served from there; the [`Store`] is the durable copy. Every
//! change is written to the store first and published in memory only once the store has
//! acknowledged it (persist, then publish), under one writer mutex. GetSecretValue takes one
//! read lock and never touches the store: it asks KMS (in memory too) to decrypt the version's
//! data key, so that a disabled key or a revoked permission takes effect at once, and opens the
//! value with it.
//!
//! Values are envelope-encrypted: each version has its own data key from [`SecretsKms`] under
//! the secret's KMS key, with Secrets Manager's encryption context (`SecretARN`,
//! `SecretVersionId`), and the value is sealed under the data key by `keystead-crypto`.
//!
//! This crate knows nothing of HTTP or the wire format, and never calls KMS except through
//! [`SecretsKms`], which the server implements with its KMS service.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use keystead_store::{SecretChange, SecretRecord, SecretVersionRecord, SecretsSnapshot, Store};
use keystead_types::{AccountId, Caller, Clock, Region, RequestSource, UnixMillis};
use zeroize::Zeroizing;

mod error;
mod ops;
mod policy;
mod value;

pub use error::Error;
pub use keystead_rotation::RotationRules;
pub use keystead_store::RotationJobRecord;
pub use ops::list::{ListFilter, SecretPage};
pub use ops::password::{PasswordRules, random_password};
pub use ops::replication::ReplicaRequest;
pub use ops::rotation::{
    DueRotation, RotateSecretInput, RotationAccess, RotationInProgress, RotationStarted,
    from_datetime, next_rotation_at, stored_rules, to_datetime,
};
pub use ops::secrets::{
    CreateSecretInput, SecretCreated, SecretDeleted, SecretView, UpdateSecretInput,
};
pub use ops::values::{
    BatchValues, PutValueInput, StoredVersion, VersionPage, VersionSelector, VersionWritten,
};
pub use value::SecretValue;

use error::{invalid_parameter, invalid_request};

/// The AWS-managed key alias Secrets Manager uses when a secret names no key.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";
/// The staging label of the current version.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The staging label of the version that was current before.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The staging label of the version a rotation is creating.
pub const AWSPENDING: &str = "AWSPENDING";
/// At most this many versions per secret; the oldest unlabeled ones are pruned beyond it.
pub const MAX_VERSIONS: usize = 100;
/// The largest SecretString or SecretBinary, in bytes.
pub const MAX_VALUE_BYTES: usize = 65_536;

/// A data key from KMS: its plaintext (zeroized on drop) and its KMS ciphertext blob.
pub struct GeneratedDataKey {
    /// The 32-byte data key in plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The data key encrypted under the KMS key.
    pub ciphertext: Vec<u8>,
    /// The ARN of the KMS key that encrypted it.
    pub key_arn: String,
}

/// Why KMS refused a request made on a caller's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsFailureKind {
    /// The caller may not use the key (AccessDeniedException from KMS).
    AccessDenied,
    /// The key is disabled, pending deletion or otherwise unusable.
    KeyUnusable,
    /// The key does not exist.
    KeyNotFound,
    /// Anything else (a corrupt blob, an internal error).
    Other,
}

/// A KMS refusal: its kind and KMS's message (which names the key, never secrets).
#[derive(Debug, Clone)]
pub struct KmsFailure {
    /// What kind of refusal.
    pub kind: KmsFailureKind,
    /// KMS's message.
    pub message: String,
}

/// The KMS operations Secrets Manager needs, made on behalf of `caller`. The server implements
/// it with its KMS service; `caller.via_service` is already set to
/// `secretsmanager.REGION.amazonaws.com` and `caller.region` is the secret's region, so the
/// caller's own KMS permissions and `kms:ViaService` conditions apply.
#[async_trait::async_trait]
pub trait SecretsKms: Send + Sync {
    /// GenerateDataKey (AES_256) under `key` (id, ARN, alias name or alias ARN).
    async fn generate_data_key(
        &self,
        caller: &Caller,
        key: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<GeneratedDataKey, KmsFailure>;

    /// Decrypt of a data key blob with its encryption context.
    async fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsFailure>;

    /// The ARN of the account's AWS-managed key `alias/aws/secretsmanager` in `caller.region`,
    /// created on first use as AWS does.
    async fn default_key(&self, caller: &Caller) -> Result<String, KmsFailure>;
}

/// Where the service finds the identity-based policies of the IAM user or role a request was
/// signed by. Lookups must be cheap: they happen on every request.
pub trait IdentityPolicies: Send + Sync {
    /// Every identity-based policy of `user_name` in `account`.
    fn user_policies(&self, account: &AccountId, user_name: &str) -> Arc<[keystead_authz::Policy]>;
    /// Every identity-based policy of the role `role_name` in `account`.
    fn role_policies(&self, account: &AccountId, role_name: &str) -> Arc<[keystead_authz::Policy]>;
}

/// A secret as the service holds it: its record, its versions by id, and its authorization
/// policy (the resource policy plus delegation to the account's IAM policies), compiled.
#[derive(Clone)]
struct SecretEntry {
    record: SecretRecord,
    versions: BTreeMap<String, Arc<SecretVersionRecord>>,
    authorization: Arc<keystead_authz::Policy>,
}

impl SecretEntry {
    fn is_deleted(&self) -> bool {
        self.record.deleted_at.is_some()
    }

    fn is_replica(&self) -> bool {
        self.record.primary_region.is_some()
    }

    /// The labels of each version id.
    fn stages_by_version(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (label, version) in &self.record.stages {
            out.entry(version.clone()).or_default().push(label.clone());
        }
        out
    }
}

type NameKey = (AccountId, Region, String);

#[derive(Default)]
struct State {
    /// Every secret (primaries and replicas), by ARN.
    secrets: BTreeMap<String, Arc<SecretEntry>>,
    /// ARN by (account, region, name).
    by_name: BTreeMap<NameKey, String>,
}

/// Proof that a caller may perform an action on a secret. Only [`SecretsService::authorize`]
/// makes one.
struct Permit(());

/// The Secrets Manager service for every account and region of one deployment.
pub struct SecretsService {
    state: RwLock<State>,
    /// Serialises changes so that "persist, then publish" is atomic with respect to other
    /// changes. Readers never take it.
    writer: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    kms: Arc<dyn SecretsKms>,
    clock: Arc<dyn Clock>,
    identity: Option<Arc<dyn IdentityPolicies>>,
}

impl SecretsService {
    /// Builds the service from what `store` loaded at start. Later changes are written to
    /// `store`; values are encrypted and decrypted through `kms`.
    pub fn open(
        snapshot: SecretsSnapshot,
        store: Arc<dyn Store>,
        kms: Arc<dyn SecretsKms>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let mut versions: BTreeMap<String, BTreeMap<String, Arc<SecretVersionRecord>>> =
            BTreeMap::new();
        for v in snapshot.versions {
            versions
                .entry(v.secret_arn.clone())
                .or_default()
                .insert(v.version_id.clone(), Arc::new(v));
        }
        let mut state = State::default();
        for record in snapshot.secrets {
            let entry_versions = versions.remove(&record.arn).unwrap_or_default();
            let authorization = Arc::new(policy::authorization_policy(&record).map_err(|e| {
                Error::Internal(
                    format!(
                        "secret {} has a policy that does not parse: {e}",
                        record.arn
                    )
                    .into(),
                )
            })?);
            let entry = SecretEntry {
                record,
                versions: entry_versions,
                authorization,
            };
            state
                .by_name
                .insert(name_key(&entry.record), entry.record.arn.clone());
            state
                .secrets
                .insert(entry.record.arn.clone(), Arc::new(entry));
        }
        Ok(Self {
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            store,
            kms,
            clock,
            identity: None,
        })
    }

    /// Evaluates IAM users' and roles' requests with the identity-based policies `identity`
    /// returns; without it they have none (only root and resource policies allow).
    pub fn with_identity_policies(mut self, identity: Arc<dyn IdentityPolicies>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// How many secrets (primaries and replicas) exist, in every account and region.
    pub fn secret_count(&self) -> usize {
        self.read().secrets.len()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Writers replace whole entries, so a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Finds a secret by name, full ARN or partial ARN (without the random suffix) in the
    /// caller's account and region. Deleted secrets are found too; operations decide.
    fn resolve(&self, caller: &Caller, secret_id: &str) -> Result<Arc<SecretEntry>, Error> {
        self.resolve_in(&caller.account_id, &caller.region, secret_id)
    }

    fn resolve_in(
        &self,
        account: &AccountId,
        region: &Region,
        secret_id: &str,
    ) -> Result<Arc<SecretEntry>, Error> {
        let state = self.read();
        if secret_id.starts_with("arn:") {
            if let Some(entry) = state.secrets.get(secret_id) {
                if &entry.record.account_id == account && &entry.record.region == region {
                    return Ok(entry.clone());
                }
                return Err(Error::SecretNotFound);
            }
            let prefix = format!("arn:aws:secretsmanager:{region}:{account}:secret:");
            let Some(name) = secret_id.strip_prefix(&prefix) else {
                return Err(Error::SecretNotFound);
            };
            return state
                .by_name
                .get(&(account.clone(), region.clone(), name.to_owned()))
                .and_then(|arn| state.secrets.get(arn))
                .cloned()
                .ok_or(Error::SecretNotFound);
        }
        state
            .by_name
            .get(&(account.clone(), region.clone(), secret_id.to_owned()))
            .and_then(|arn| state.secrets.get(arn))
            .cloned()
            .ok_or(Error::SecretNotFound)
    }

    /// The one authorization decision point: the secret's resource policy and the caller's
    /// identity policies, evaluated as AWS does within an account (either may allow; an
    /// explicit deny in either refuses). The account's root user is allowed unless a policy
    /// denies it.
    fn authorize(
        &self,
        caller: &Caller,
        arn: &str,
        account: &AccountId,
        authorization: &keystead_authz::Policy,
        action: &'static str,
    ) -> Result<Permit, Error> {
        let ctx = policy::request_context(caller, arn, account, action, self.now());
        let identity: Arc<[keystead_authz::Policy]> =
            match (&caller.role_session, &caller.user, &self.identity) {
                (Some(session), _, Some(identity)) => {
                    identity.role_policies(&caller.account_id, &session.role_name)
                }
                (None, Some(user), Some(identity)) => {
                    identity.user_policies(&caller.account_id, &user.user_name)
                }
                _ => Arc::from(Vec::new()),
            };
        match keystead_authz::evaluate_kms(authorization, &identity, &[], &ctx) {
            keystead_authz::Decision::Allow { .. } => Ok(Permit(())),
            denied @ keystead_authz::Decision::Deny { .. } => Err(Error::AccessDenied {
                message: denied.access_denied_message(&ctx).unwrap_or_default(),
            }),
        }
    }

    /// Authorizes `action` on an existing secret.
    fn authorize_secret(
        &self,
        caller: &Caller,
        entry: &SecretEntry,
        action: &'static str,
    ) -> Result<Permit, Error> {
        self.authorize(
            caller,
            &entry.record.arn,
            &entry.record.account_id,
            &entry.authorization,
            action,
        )
    }

    /// Persists `changes` atomically, then publishes `entries` (and forgets `removed` ARNs).
    /// Callers hold the writer lock.
    async fn commit(
        &self,
        changes: Vec<SecretChange>,
        entries: Vec<SecretEntry>,
        removed: Vec<SecretRecord>,
    ) -> Result<(), Error> {
        if !changes.is_empty() {
            self.store.apply_secret_changes(&changes).await?;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for record in removed {
            state.secrets.remove(&record.arn);
            if state.by_name.get(&name_key(&record)) == Some(&record.arn) {
                state.by_name.remove(&name_key(&record));
            }
        }
        for entry in entries {
            if let Some(old) = state.secrets.get(&entry.record.arn)
                && old.record.name != entry.record.name
            {
                let old_key = name_key(&old.record);
                state.by_name.remove(&old_key);
            }
            state
                .by_name
                .insert(name_key(&entry.record), entry.record.arn.clone());
            state
                .secrets
                .insert(entry.record.arn.clone(), Arc::new(entry));
        }
        Ok(())
    }

    /// The caller as KMS sees it when Secrets Manager acts for it in `region`.
    fn kms_caller(caller: &Caller, region: &Region) -> Caller {
        let mut c = caller.clone();
        c.region = region.clone();
        c.via_service = Some(format!("secretsmanager.{region}.amazonaws.com"));
        c
    }

    /// A caller standing for an account's root user, for work the service does on its own
    /// (replica retries, purges), acting through Secrets Manager.
    fn service_caller(account: &AccountId, region: &Region) -> Caller {
        Caller {
            account_id: account.clone(),
            region: region.clone(),
            access_key_id: String::new(),
            user: None,
            role_session: None,
            mfa_authenticated_at: None,
            session_created_at: None,
            service: None,
            via_service: Some(format!("secretsmanager.{region}.amazonaws.com")),
            source: RequestSource::default(),
        }
    }

    /// Encrypts `value` as version `version_id` of `secret`, in its region, under its KMS key
    /// (or the region's `aws/secretsmanager` key).
    async fn encrypt_version(
        &self,
        caller: &Caller,
        secret: &SecretRecord,
        version_id: &str,
        value: &SecretValue,
        created_at: UnixMillis,
    ) -> Result<SecretVersionRecord, Error> {
        let (region, arn) = (&secret.region, secret.arn.as_str());
        let kms_caller = Self::kms_caller(caller, region);
        let key = match secret.kms_key_id.as_deref() {
            Some(k) => k.to_owned(),
            None => self
                .kms
                .default_key(&kms_caller)
                .await
                .map_err(encryption_failure)?,
        };
        let context = encryption_context(arn, version_id);
        let data_key = self
            .kms
            .generate_data_key(&kms_caller, &key, &context)
            .await
            .map_err(encryption_failure)?;
        let sealed = keystead_crypto::data_key::seal_with_data_key(
            &data_key.plaintext,
            &value_aad(arn, version_id),
            &value.encode(),
        )?;
        Ok(SecretVersionRecord {
            secret_arn: arn.to_owned(),
            version_id: version_id.to_owned(),
            created_at,
            kms_key_arn: data_key.key_arn,
            encrypted_data_key: data_key.ciphertext,
            sealed_value: sealed,
        })
    }

    /// Decrypts a version's value for `caller`.
    async fn decrypt_version(
        &self,
        caller: &Caller,
        region: &Region,
        version: &SecretVersionRecord,
    ) -> Result<SecretValue, Error> {
        let kms_caller = Self::kms_caller(caller, region);
        let context = encryption_context(&version.secret_arn, &version.version_id);
        let data_key = self
            .kms
            .decrypt(&kms_caller, &version.encrypted_data_key, &context)
            .await
            .map_err(decryption_failure)?;
        let plaintext = keystead_crypto::data_key::open_with_data_key(
            &data_key,
            &value_aad(&version.secret_arn, &version.version_id),
            &version.sealed_value,
        )
        .map_err(|_| Error::DecryptionFailure {
            message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.".to_owned(),
        })?;
        SecretValue::decode(plaintext)
    }
}

/// Secrets Manager's encryption context for a version's data key.
pub fn encryption_context(arn: &str, version_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("SecretARN".to_owned(), arn.to_owned()),
        ("SecretVersionId".to_owned(), version_id.to_owned()),
    ])
}

/// The authenticated data of a sealed value: `arn || 0x00 || version_id`.
fn value_aad(arn: &str, version_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(arn.len() + 1 + version_id.len());
    aad.extend_from_slice(arn.as_bytes());
    aad.push(0);
    aad.extend_from_slice(version_id.as_bytes());
    aad
}

fn name_key(record: &SecretRecord) -> NameKey {
    (
        record.account_id.clone(),
        record.region.clone(),
        record.name.clone(),
    )
}

fn encryption_failure(f: KmsFailure) -> Error {
    match f.kind {
        KmsFailureKind::AccessDenied => Error::AccessDenied {
            message: format!("Access to KMS is not allowed: {}", f.message),
        },
        KmsFailureKind::KeyNotFound => invalid_parameter(format!(
            "The KMS key is not valid or does not exist: {}",
            f.message
        )),
        KmsFailureKind::KeyUnusable | KmsFailureKind::Other => {
            Error::EncryptionFailure { message: f.message }
        }
    }
}

fn decryption_failure(f: KmsFailure) -> Error {
    match f.kind {
        KmsFailureKind::AccessDenied => Error::AccessDenied {
            message: format!("Access to KMS is not allowed: {}", f.message),
        },
        KmsFailureKind::KeyUnusable | KmsFailureKind::KeyNotFound | KmsFailureKind::Other => {
            Error::DecryptionFailure { message: f.message }
        }
    }
}

/// Refuses a write to a replica, as AWS does.
fn refuse_replica(entry: &SecretEntry) -> Result<(), Error> {
    if entry.is_replica() {
        return Err(invalid_request(
            "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
        ));
    }
    Ok(())
}

/// Refuses an operation on a secret scheduled for deletion, as AWS does.
fn refuse_deleted(entry: &SecretEntry) -> Result<(), Error> {
    if entry.is_deleted() {
        return Err(invalid_request(
            "You can't perform this operation on the secret because it was marked for deletion.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

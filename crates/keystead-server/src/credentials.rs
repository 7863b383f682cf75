//! Access keys, held in memory for SigV4 verification, and the authentication step that turns a
//! signed request into a [`Caller`].
//!
//! STS sessions' temporary credentials live here too: they carry a session token every request
//! must present (`X-Amz-Security-Token`) and an expiration, checked against the server's clock.
//!
//! IAM changes keys while the server runs: [`Credentials::insert`], [`Credentials::set_active`]
//! and [`Credentials::remove`] are called right after the store acknowledged the change, so a
//! new key works and a deactivated or deleted key is refused from the next request on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keystead_crypto::RootKey;
use keystead_sigv4::RequestParts;
use keystead_store::{AccessKeyRecord, AccessKeyStatus, SessionRecord};
use keystead_types::{AccountId, Caller, CallerRoleSession, CallerUser, Clock, Region, UnixMillis};
use keystead_wire::AwsError;
use zeroize::Zeroizing;

/// One access key: whose it is and its secret, unsealed.
struct Credential {
    account_id: AccountId,
    secret: Zeroizing<Vec<u8>>,
    active: bool,
    /// The IAM user the key belongs to; `None` for the root user.
    user: Option<CallerUser>,
    /// The service principal the key acts as (`rds.amazonaws.com`), for keys made by
    /// `keystead service-credentials create`.
    service: Option<String>,
    /// For temporary credentials: the session token and when they expire.
    session: Option<Session>,
}

/// What temporary credentials add to an access key.
struct Session {
    token: Zeroizing<String>,
    expiration: UnixMillis,
    /// The role session the credentials act as, if they came from AssumeRole.
    role_session: Option<CallerRoleSession>,
    /// When the session's creator authenticated with MFA, if it did.
    mfa_authenticated_at: Option<UnixMillis>,
    /// When the session was created.
    created_at: UnixMillis,
}

/// Every access key of the deployment, by access key id.
pub(crate) struct Credentials {
    by_id: RwLock<HashMap<String, Credential>>,
    /// Derived SigV4 signing keys, so that most requests cost one HMAC, not five.
    signing_keys: keystead_sigv4::SigningKeyCache,
    /// `--dev`: any access key is accepted without checking its signature.
    insecure_accept_any_key: bool,
    /// Decides whether temporary credentials have expired.
    clock: Arc<dyn Clock>,
}

impl Credentials {
    /// Unseals every access key and every unexpired session with the root key; `user_of` names
    /// each key's IAM user and `service_of` the service principal a key acts as.
    pub(crate) fn load(
        records: &[AccessKeyRecord],
        sessions: &[SessionRecord],
        user_of: impl Fn(&str) -> Option<CallerUser>,
        service_of: impl Fn(&str) -> Option<String>,
        root_key: &RootKey,
        insecure_accept_any_key: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, keystead_identity::Error> {
        let mut by_id = HashMap::with_capacity(records.len());
        for r in records {
            let secret = root_key.unseal_secret(&r.sealed_secret, r.access_key_id.as_bytes())?;
            by_id.insert(
                r.access_key_id.clone(),
                Credential {
                    account_id: r.account_id.clone(),
                    secret,
                    active: r.status == AccessKeyStatus::Active,
                    user: user_of(&r.access_key_id),
                    service: service_of(&r.access_key_id),
                    session: None,
                },
            );
        }
        let now = clock.now();
        for r in sessions {
            if keystead_identity::is_expired(r, now) {
                continue;
            }
            let secrets = keystead_identity::unseal_session(root_key, r)?;
            by_id.insert(r.access_key_id.clone(), session_credential(r, secrets));
        }
        Ok(Self {
            by_id: RwLock::new(by_id),
            signing_keys: keystead_sigv4::SigningKeyCache::new(1024),
            insecure_accept_any_key,
            clock,
        })
    }

    /// Learns new temporary credentials (after the store has them), and forgets expired ones.
    pub(crate) fn insert_session(&self, created: &keystead_identity::CreatedSession) {
        let secrets = keystead_identity::SessionSecrets {
            secret_access_key: created.secret_access_key.clone(),
            session_token: created.session_token.clone(),
        };
        let now = self.clock.now();
        let mut by_id = self.write();
        by_id.retain(|_, c| c.session.as_ref().is_none_or(|s| s.expiration > now));
        by_id.insert(
            created.record.access_key_id.clone(),
            session_credential(&created.record, secrets),
        );
    }

    /// Learns a new access key (after the store has it).
    pub(crate) fn insert(&self, record: &AccessKeyRecord, secret: &[u8], user: Option<CallerUser>) {
        let credential = Credential {
            account_id: record.account_id.clone(),
            secret: Zeroizing::new(secret.to_vec()),
            active: record.status == AccessKeyStatus::Active,
            user,
            service: None,
            session: None,
        };
        self.write()
            .insert(record.access_key_id.clone(), credential);
    }

    /// Activates or deactivates a key. Deactivating drops the derived signing keys, so that no
    /// cached key outlives the change.
    pub(crate) fn set_active(&self, access_key_id: &str, active: bool) {
        if let Some(c) = self.write().get_mut(access_key_id) {
            c.active = active;
        }
        if !active {
            self.signing_keys.clear();
        }
    }

    /// Forgets a deleted key and drops the derived signing keys.
    pub(crate) fn remove(&self, access_key_id: &str) {
        self.write().remove(access_key_id);
        self.signing_keys.clear();
    }

    /// The account an access key (long-term or temporary) belongs to, active or not; for
    /// audit records of requests whose authentication failed.
    pub(crate) fn account_of(&self, access_key_id: &str) -> Option<AccountId> {
        let by_id = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        by_id.get(access_key_id).map(|c| c.account_id.clone())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Credential>> {
        // Every change replaces or removes a whole entry: a poisoned lock is still consistent.
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies the request's SigV4 signature (header or presigned form) for `service`, and
    /// returns the caller it proves.
    pub(crate) fn authenticate(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        service: &str,
    ) -> Result<Caller, AwsError> {
        let signed = keystead_sigv4::parse(parts).map_err(sigv4_error)?;
        let access_key_id = signed.access_key_id().to_owned();
        let by_id = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let (
            account_id,
            user,
            service,
            (role_session, mfa_authenticated_at, session_created_at),
            verified,
        ) = match by_id.get(&access_key_id).filter(|c| c.active) {
            Some(credential) => {
                let role_session = match &credential.session {
                    // Permanent keys never come with a session token.
                    None if signed.session_token().is_some() => return Err(invalid_token()),
                    None => (None, None, None),
                    Some(session) => {
                        let presented = signed.session_token().unwrap_or_default();
                        if !constant_time_eq(presented.as_bytes(), session.token.as_bytes()) {
                            return Err(invalid_token());
                        }
                        if session.expiration <= self.clock.now() {
                            return Err(AwsError::new(
                                "ExpiredTokenException",
                                400,
                                "The security token included in the request is expired",
                            ));
                        }
                        (
                            session.role_session.clone(),
                            session.mfa_authenticated_at,
                            Some(session.created_at),
                        )
                    }
                };
                let verified = signed.verify_with_cache(
                    parts,
                    body,
                    &credential.secret,
                    service,
                    time::OffsetDateTime::now_utc(),
                    &self.signing_keys,
                );
                let verified = match verified {
                    Ok(v) => v,
                    Err(e) if !self.insecure_accept_any_key => return Err(sigv4_error(e)),
                    Err(_) => signed.insecure_accept_unverified(),
                };
                (
                    credential.account_id.clone(),
                    credential.user.clone(),
                    credential.service.clone(),
                    role_session,
                    verified,
                )
            }
            // --dev: a 12-digit access key id names the account, anything else is the default
            // account.
            None if self.insecure_accept_any_key => (
                access_key_id
                    .parse()
                    .unwrap_or_else(|_| AccountId::dev_default()),
                None,
                None,
                (None, None, None),
                signed.insecure_accept_unverified(),
            ),
            None => return Err(invalid_token()),
        };
        let region: Region = verified.region().parse().map_err(|_| {
            AwsError::new(
                "InvalidSignatureException",
                400,
                "Credential should be scoped to a valid region. ",
            )
        })?;
        Ok(Caller {
            account_id,
            region,
            access_key_id,
            user,
            role_session,
            mfa_authenticated_at,
            session_created_at,
            service,
            via_service: None,
            source: keystead_types::RequestSource::default(),
        })
    }
}

fn session_credential(
    record: &SessionRecord,
    secrets: keystead_identity::SessionSecrets,
) -> Credential {
    let (user, role_session) = keystead_identity::session_identity(record);
    Credential {
        account_id: record.account_id.clone(),
        secret: Zeroizing::new(secrets.secret_access_key.as_bytes().to_vec()),
        active: true,
        user,
        service: None,
        session: Some(Session {
            token: secrets.session_token,
            expiration: record.expiration,
            role_session,
            mfa_authenticated_at: record.mfa_authenticated_at,
            created_at: record.created_at,
        }),
    }
}

fn invalid_token() -> AwsError {
    AwsError::new(
        "UnrecognizedClientException",
        400,
        "The security token included in the request is invalid.",
    )
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn sigv4_error(e: keystead_sigv4::Error) -> AwsError {
    let status = if e.aws_code() == "MissingAuthenticationTokenException" {
        403
    } else {
        400
    };
    AwsError::new(e.aws_code(), status, e.message())
}

/// Why `keystead service-credentials create` failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceCredentialsError {
    /// The data directory is not initialized, or a file in it is unusable.
    #[error(transparent)]
    DataDir(#[from] crate::data_dir::Error),
    /// The service is not a service principal name such as `rds.amazonaws.com`.
    #[error("{service:?} is not a service principal name such as rds.amazonaws.com")]
    InvalidService {
        /// What was given.
        service: String,
    },
    /// The account is not an account of this data directory.
    #[error("account {account_id} does not exist in this data directory")]
    UnknownAccount {
        /// The account.
        account_id: AccountId,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] keystead_store::Error),
    /// Sealing the secret failed.
    #[error(transparent)]
    Crypto(#[from] keystead_crypto::Error),
}

/// Credentials that act as a service principal, as `keystead service-credentials create`
/// made them.
pub struct NewServiceCredentials {
    /// The account the service acts in.
    pub account_id: AccountId,
    /// The service principal, such as `rds.amazonaws.com`.
    pub service: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key, shown once.
    pub secret_access_key: Zeroizing<String>,
    /// The credentials file the profile was added to.
    pub credentials_file: std::path::PathBuf,
    /// The profile's name: `keystead-service-NAME-ACCOUNT` (`NAME` the service's first label).
    pub profile: String,
}

impl NewServiceCredentials {
    /// What to tell the administrator, including the secret: shown once.
    pub fn announcement(&self) -> String {
        format!(
            "service:               {}\n\
             account id:            {}\n\
             aws_access_key_id:     {}\n\
             aws_secret_access_key: {}\n\
             Saved as profile {} in {}.",
            self.service,
            self.account_id,
            self.access_key_id,
            self.secret_access_key.as_str(),
            self.profile,
            self.credentials_file.display()
        )
    }
}

/// `keystead service-credentials create`: an access key of `account_id` whose requests act as
/// the service principal `service` (`{"Service": "rds.amazonaws.com"}` in a key policy), so
/// that key policies' service statements can be exercised. The secret is sealed under the root
/// key; the key pair is added to the data directory's credentials file. A running server
/// learns of it when restarted.
pub async fn create_service_credentials(
    dir: &std::path::Path,
    account_id: &AccountId,
    service: &str,
    clock: &dyn Clock,
) -> Result<NewServiceCredentials, ServiceCredentialsError> {
    if !is_service_name(service) {
        return Err(ServiceCredentialsError::InvalidService {
            service: service.to_owned(),
        });
    }
    let root_path = crate::data_dir::root_key_path(dir);
    let db_path = crate::data_dir::database_path(dir);
    if !root_path.exists() || !db_path.exists() {
        return Err(crate::data_dir::Error::NotInitialized {
            path: dir.to_owned(),
        }
        .into());
    }
    let root_key = RootKey::load(&root_path)?;
    let store = keystead_store_sqlite::SqliteStore::open(&db_path)?;
    let snapshot = keystead_store::Store::load(&store).await?;
    if !snapshot
        .accounts
        .iter()
        .any(|a| &a.account_id == account_id)
    {
        return Err(ServiceCredentialsError::UnknownAccount {
            account_id: account_id.clone(),
        });
    }
    let (access_key_id, secret_access_key) = keystead_identity::new_access_key()?;
    let record = AccessKeyRecord {
        access_key_id: access_key_id.clone(),
        account_id: account_id.clone(),
        sealed_secret: root_key
            .seal_secret(secret_access_key.as_bytes(), access_key_id.as_bytes())?,
        status: AccessKeyStatus::Active,
        created_at: clock.now(),
    };
    let label = service.split('.').next().unwrap_or(service);
    let profile = format!("{}-service-{label}-{account_id}", crate::data_dir::PROFILE);
    let credentials_file = crate::data_dir::credentials_path(dir);
    // The file first, as `keystead account create` does: a crash then loses only credentials
    // that authenticate nobody.
    add_profile(
        &credentials_file,
        &profile,
        &access_key_id,
        &secret_access_key,
    )
    .map_err(|source| crate::data_dir::Error::Io {
        path: credentials_file.clone(),
        source,
    })?;
    keystead_store::Store::create_service_access_key(
        &store,
        &record,
        &keystead_store::ServiceCredentialRecord {
            access_key_id: access_key_id.clone(),
            account_id: account_id.clone(),
            service: service.to_owned(),
        },
    )
    .await?;
    Ok(NewServiceCredentials {
        account_id: account_id.clone(),
        service: service.to_owned(),
        access_key_id,
        secret_access_key,
        credentials_file,
        profile,
    })
}

/// `name.amazonaws.com` (or `.amazonaws.com.cn`) with lower-case DNS labels.
fn is_service_name(service: &str) -> bool {
    let Some(name) = service
        .strip_suffix(".amazonaws.com")
        .or_else(|| service.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Adds (or replaces) `profile` in the AWS CLI credentials file (mode 0600), through a
/// temporary file and a rename.
fn add_profile(
    path: &std::path::Path,
    profile: &str,
    access_key_id: &str,
    secret: &str,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Zeroizing::new(String::new()),
        Err(e) => return Err(e),
    };
    let header = format!("[{profile}]");
    let mut text = Zeroizing::new(String::with_capacity(existing.len() + 128));
    let mut skipping = false;
    for line in existing.lines() {
        if line.trim_start().starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            text.push_str(line);
            text.push('\n');
        }
    }
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push_str(&format!(
        "{header}\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
    ));
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_amazonaws_dns_names() {
        for ok in [
            "rds.amazonaws.com",
            "s3.amazonaws.com",
            "cloudfront.amazonaws.com",
            "logs.us-east-1.amazonaws.com",
        ] {
            assert!(is_service_name(ok), "{ok}");
        }
        for bad in [
            "",
            "amazonaws.com",
            ".amazonaws.com",
            "RDS.amazonaws.com",
            "rds",
            "a..amazonaws.com",
        ] {
            assert!(!is_service_name(bad), "{bad}");
        }
    }
}

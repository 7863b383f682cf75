//! STS sessions: `AssumeRole` and `GetSessionToken` issue temporary credentials (an `ASIA...`
//! access key id, a secret and a session token) that expire.
//!
//! A session is written to the store (its secret and token sealed together under the root key)
//! before its credentials are returned, so it survives a restart; expired sessions are pruned by
//! [`IdentityService::prune_expired_sessions`]. Verifying requests signed with session
//! credentials is the server's job: it keeps them unsealed in memory, as it does access keys.
//!
//! Who may assume a role is decided by the role's trust policy, a resource-based policy on the
//! role, together with the caller's identity policies, exactly as a KMS key policy and identity
//! policies decide a KMS request (`keystead_authz::evaluate_kms`): a trust policy that names the
//! caller directly suffices; one that names the caller's account ("arn:aws:iam::ACCOUNT:root")
//! delegates to the account, whose identity policies must then allow `sts:AssumeRole` too
//! (root callers need none).

use std::sync::Arc;

use keystead_authz::{Policy, Principal, RequestContext};
use keystead_store::{SessionPrincipal, SessionRecord};
use keystead_types::{Caller, CallerRoleSession, CallerUser, UnixMillis};
use zeroize::Zeroizing;

use crate::{Error, IdentityService, random_id};

/// AssumeRole's `DurationSeconds`: the shortest, and the default.
pub const ASSUME_ROLE_DURATION: (u32, u32) = (900, 3_600);

/// The longest session a role session may assume another role for (role chaining), in seconds.
pub const ROLE_CHAINING_MAX_DURATION: u32 = 3_600;

/// GetSessionToken's `DurationSeconds`: shortest, longest and default for IAM users; the root
/// user's sessions last at most one hour.
pub const GET_SESSION_TOKEN_DURATION: (u32, u32, u32) = (900, 129_600, 43_200);

/// The longest (and default) `GetSessionToken` session of the root user, in seconds.
pub const ROOT_SESSION_MAX_DURATION: u32 = 3_600;

/// What AssumeRole is given besides the caller.
pub struct AssumeRole<'a> {
    /// The role's ARN.
    pub role_arn: &'a str,
    /// The session name, 2 to 64 characters of `[\w+=,.@-]`.
    pub role_session_name: &'a str,
    /// How long the credentials last, in seconds; 3600 when `None`.
    pub duration_seconds: Option<i32>,
    /// The external id, checked by the trust policy's `sts:ExternalId` condition.
    pub external_id: Option<&'a str>,
    /// A session policy. Not supported yet: refused rather than ignored, since ignoring it
    /// would grant the session more than the caller asked for.
    pub policy: Option<&'a str>,
}

/// New temporary credentials: returned once.
pub struct CreatedSession {
    /// The stored record (secret and token sealed).
    pub record: SessionRecord,
    /// The secret access key, in plaintext.
    pub secret_access_key: Zeroizing<String>,
    /// The session token, in plaintext.
    pub session_token: Zeroizing<String>,
}

/// A session's credentials, unsealed.
pub struct SessionSecrets {
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token every request must carry.
    pub session_token: Zeroizing<String>,
}

/// Whether a session has expired at `now`: it works strictly before its expiration.
pub fn is_expired(record: &SessionRecord, now: UnixMillis) -> bool {
    record.expiration <= now
}

/// The IAM user and role session a request signed with `record`'s credentials acts as (both
/// `None`: the root user).
pub fn session_identity(record: &SessionRecord) -> (Option<CallerUser>, Option<CallerRoleSession>) {
    match &record.principal {
        SessionPrincipal::Root => (None, None),
        SessionPrincipal::User {
            user_name,
            user_id,
            path,
        } => (
            Some(CallerUser {
                user_name: user_name.clone(),
                user_id: user_id.clone(),
                path: path.clone(),
            }),
            None,
        ),
        SessionPrincipal::Role {
            role_name,
            role_id,
            role_path,
            session_name,
        } => (
            None,
            Some(CallerRoleSession {
                role_name: role_name.clone(),
                role_id: role_id.clone(),
                role_path: role_path.clone(),
                session_name: session_name.clone(),
            }),
        ),
    }
}

/// Unseals a session's secret access key and token.
pub fn unseal_session(
    root_key: &keystead_crypto::RootKey,
    record: &SessionRecord,
) -> Result<SessionSecrets, Error> {
    let plain =
        root_key.unseal_secret(&record.sealed_credentials, record.access_key_id.as_bytes())?;
    let text = std::str::from_utf8(&plain)
        .map_err(|_| Error::Corrupt(format!("session {} is not text", record.access_key_id)))?;
    let (secret, token) = text
        .split_once(':')
        .ok_or_else(|| Error::Corrupt(format!("session {} has no token", record.access_key_id)))?;
    Ok(SessionSecrets {
        secret_access_key: Zeroizing::new(secret.to_owned()),
        session_token: Zeroizing::new(token.to_owned()),
    })
}

/// Whether `caller` signed with temporary credentials.
fn is_session(caller: &Caller) -> bool {
    caller.role_session.is_some() || caller.access_key_id.starts_with("ASIA")
}

impl IdentityService {
    /// The principal a caller is, for policy evaluation.
    pub(crate) fn principal(caller: &Caller) -> Result<Principal, Error> {
        let principal = match (&caller.role_session, &caller.user) {
            (Some(s), _) => {
                Principal::assumed_role(&s.role_arn(&caller.account_id), &s.session_name)
            }
            (None, Some(_)) => Principal::from_arn(&caller.principal_arn()),
            (None, None) => Ok(Principal::root(&caller.account_id)),
        };
        principal.map_err(|e| Error::AccessDenied(e.to_string()))
    }

    /// The identity-based policies that apply to a caller: its role's or its user's inline
    /// policies (none for the root user).
    pub(crate) fn caller_policies(&self, caller: &Caller) -> Arc<[Policy]> {
        match (&caller.role_session, &caller.user) {
            (Some(s), _) => self.role_policies(&caller.account_id, &s.role_name),
            (None, Some(u)) => self.user_policies(&caller.account_id, &u.user_name),
            (None, None) => Arc::from(Vec::new()),
        }
    }

    /// STS AssumeRole: checks the trust policy (and, for a delegation to the caller's account,
    /// the caller's identity policies), then issues and stores a role session.
    pub async fn assume_role(
        &self,
        caller: &Caller,
        request: AssumeRole<'_>,
    ) -> Result<CreatedSession, Error> {
        check_session_name(request.role_session_name)?;
        if request.policy.is_some() {
            return Err(Error::Validation(
                "keystead does not support session policies (Policy) yet.".to_owned(),
            ));
        }
        let denied = || {
            Error::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.principal_arn(),
                request.role_arn
            ))
        };
        // arn:aws:iam::ACCOUNT:role{path}{name}
        let parsed = request
            .role_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.split_once(":role/"));
        let Some((account, path_and_name)) = parsed else {
            return Err(Error::Validation(format!(
                "{} is invalid: it must be an IAM role ARN.",
                request.role_arn
            )));
        };
        let account = account.parse().map_err(|_| denied())?;
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        let role = self.role(&account, name).map_err(|_| denied())?;
        if role.arn() != request.role_arn {
            return Err(denied());
        }
        let ceiling = if caller.role_session.is_some() {
            ROLE_CHAINING_MAX_DURATION
        } else {
            role.record.max_session_duration
        };
        let (min, default) = ASSUME_ROLE_DURATION;
        let duration = duration(request.duration_seconds, min, ceiling, default)?;

        let mut ctx = RequestContext::new(
            Self::principal(caller)?,
            "sts:AssumeRole",
            request.role_arn,
            account.clone(),
        )
        .with_current_time(self.clock.now())
        .with_value("aws:RequestedRegion", caller.region.as_str());
        if let Some(external_id) = request.external_id {
            ctx = ctx.with_value("sts:ExternalId", external_id);
        }
        let policies = self.caller_policies(caller);
        let decision = keystead_authz::evaluate_kms(&role.trust, &policies, &[], &ctx);
        if !decision.is_allow() {
            return Err(denied());
        }
        self.create_session(
            SessionPrincipal::Role {
                role_name: role.record.role_name.clone(),
                role_id: role.record.role_id.clone(),
                role_path: role.record.path.clone(),
                session_name: request.role_session_name.to_owned(),
            },
            account,
            duration,
            None,
        )
        .await
    }

    /// STS GetSessionToken: temporary credentials for the caller itself, with the same identity
    /// policies. Not callable with temporary credentials, as AWS. With `mfa` (`SerialNumber`,
    /// `TokenCode`) the code must be valid for that device enabled for the caller, and the
    /// session is MFA-authenticated.
    pub async fn get_session_token(
        &self,
        caller: &Caller,
        duration_seconds: Option<i32>,
        mfa: Option<(&str, &str)>,
    ) -> Result<CreatedSession, Error> {
        if is_session(caller) {
            return Err(Error::AccessDenied(
                "Cannot call GetSessionToken with session credentials".to_owned(),
            ));
        }
        let (min, max, default) = GET_SESSION_TOKEN_DURATION;
        let (principal, max, default) = match &caller.user {
            Some(u) => (
                SessionPrincipal::User {
                    user_name: u.user_name.clone(),
                    user_id: u.user_id.clone(),
                    path: u.path.clone(),
                },
                max,
                default,
            ),
            None => (
                SessionPrincipal::Root,
                ROOT_SESSION_MAX_DURATION,
                ROOT_SESSION_MAX_DURATION,
            ),
        };
        let duration = duration(duration_seconds, min, max, default)?;
        let mfa_authenticated_at = match mfa {
            Some((serial_number, code)) => {
                Some(self.verify_mfa_code(caller, serial_number, code)?)
            }
            None => None,
        };
        self.create_session(
            principal,
            caller.account_id.clone(),
            duration,
            mfa_authenticated_at,
        )
        .await
    }

    /// Issues temporary credentials acting as `principal` in `account_id`, and stores them.
    async fn create_session(
        &self,
        principal: SessionPrincipal,
        account_id: keystead_types::AccountId,
        duration_seconds: u32,
        mfa_authenticated_at: Option<UnixMillis>,
    ) -> Result<CreatedSession, Error> {
        let access_key_id = random_id("ASIA")?;
        let (_, secret) = crate::new_access_key()?;
        let session_token = new_session_token()?;
        let mut sealed_plain = Zeroizing::new(String::with_capacity(160));
        sealed_plain.push_str(&secret);
        sealed_plain.push(':');
        sealed_plain.push_str(&session_token);
        let now = self.clock.now();
        let record = SessionRecord {
            access_key_id: access_key_id.clone(),
            account_id,
            sealed_credentials: self
                .root_key
                .seal_secret(sealed_plain.as_bytes(), access_key_id.as_bytes())?,
            principal,
            created_at: now,
            expiration: UnixMillis(now.0 + i64::from(duration_seconds) * 1000),
            mfa_authenticated_at,
        };
        self.store.create_session(&record).await?;
        Ok(CreatedSession {
            record,
            secret_access_key: secret,
            session_token,
        })
    }

    /// Deletes every expired session from the store; returns how many there were.
    pub async fn prune_expired_sessions(&self) -> Result<u64, Error> {
        Ok(self.store.delete_expired_sessions(self.clock.now()).await?)
    }
}

/// `requested` seconds, checked against `min..=max`, or `default` (capped at `max`).
fn duration(requested: Option<i32>, min: u32, max: u32, default: u32) -> Result<u32, Error> {
    match requested {
        None => Ok(default.min(max)),
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| (min..=max).contains(d))
            .ok_or_else(|| {
                Error::Validation(format!(
                    "The requested DurationSeconds ({d}) is invalid: it must be between {min} \
                     and {max} seconds."
                ))
            }),
    }
}

fn check_session_name(name: &str) -> Result<(), Error> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )))
    }
}

/// A session token: 128 random characters (no `:`, which separates it from the secret when
/// sealed).
fn new_session_token() -> Result<Zeroizing<String>, keystead_crypto::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = keystead_crypto::random_array::<128>()?;
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 64)]))
            .collect(),
    ))
}

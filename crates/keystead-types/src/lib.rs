//! Newtypes shared by every keystead crate: account ids, regions, key ids, ARNs and timestamps.
//!
//! This crate owns the *syntax* of identifiers (what a well-formed account id or region is) and
//! nothing else: it performs no I/O and knows nothing of HTTP, storage or cryptography.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An account id is exactly twelve ASCII digits.
    #[error("account id must be 12 digits")]
    InvalidAccountId,
    /// A region looks like `us-east-1`.
    #[error("region must look like us-east-1")]
    InvalidRegion,
    /// A key id is a UUID in its hyphenated form.
    #[error("key id must be a UUID")]
    InvalidKeyId,
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// The account `--dev` mode uses when an access key id does not name one.
    pub fn dev_default() -> Self {
        Self("000000000000".to_owned())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidAccountId)
        }
    }
}

impl TryFrom<String> for AccountId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region name such as `us-east-1`: lower-case words joined by `-`, ending in a number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// The region as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = s.split('-').collect();
        let well_formed = s.len() <= 32
            && parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts
                .last()
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidRegion)
        }
    }
}

impl TryFrom<String> for Region {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A KMS key id: a random UUID, unique across every account and region of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(uuid::Uuid);

impl KeyId {
    /// A fresh random key id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The sixteen bytes of the UUID, as written into ciphertext blobs.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The key id named by sixteen bytes read from a ciphertext blob.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }
}

impl FromStr for KeyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        // AWS key ids are always the 36-character lower-case hyphenated form; `Uuid::parse_str`
        // would also accept upper case, braces, URNs and the simple form, which KMS does not.
        let lower_hex_or_hyphen =
            |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-';
        if s.len() != 36 || !s.bytes().all(lower_hex_or_hyphen) {
            return Err(Error::InvalidKeyId);
        }
        uuid::Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| Error::InvalidKeyId)
    }
}

impl TryFrom<String> for KeyId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.to_string()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// `arn:aws:kms:REGION:ACCOUNT:key/KEY_ID`.
pub fn key_arn(region: &Region, account: &AccountId, key_id: &KeyId) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// `arn:aws:kms:REGION:ACCOUNT:ALIAS_NAME`, where the alias name starts with `alias/`.
pub fn alias_arn(region: &Region, account: &AccountId, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

/// Milliseconds since the Unix epoch, UTC. AWS's JSON protocols send timestamps as fractional
/// epoch seconds; [`UnixMillis::as_epoch_seconds`] gives that form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// Fractional seconds since the epoch, as the AWS JSON protocol writes timestamps.
    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// This instant plus a number of whole days.
    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0 + days * 86_400_000)
    }
}

/// The source of "now" for everything that depends on time: key rotation, deletion windows,
/// request timestamps. Passed down explicitly so that tests can move time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> UnixMillis;
}

/// The system's real-time clock, optionally shifted by an offset that only a server started with
/// `--danger-test-clock` lets a test change.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl SystemClock {
    /// Shifts this clock so that it reads `offset_ms` milliseconds ahead of real time.
    pub fn danger_set_offset(&self, offset_ms: i64) {
        self.offset_ms
            .store(offset_ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// How far this clock reads ahead of real time, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        UnixMillis(real + self.offset_ms())
    }
}

/// The states of a KMS key, named as AWS names them in `KeyMetadata.KeyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyState {
    /// Usable for cryptographic operations.
    Enabled,
    /// Not usable for cryptographic operations until enabled again.
    Disabled,
    /// Scheduled for deletion; deleted when the pending window ends unless cancelled.
    PendingDeletion,
}

impl KeyState {
    /// The name AWS uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Who is asking, and where: the account and region a verified request acts in.
///
/// Only the server constructs a `Caller`, after SigV4 verification succeeded; service functions
/// take `&Caller` so that a handler cannot reach them without an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account whose credentials signed the request.
    pub account_id: AccountId,
    /// The region named by the request's credential scope.
    pub region: Region,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The IAM user whose access key signed the request; `None` for the account's root user
    /// (and for a role session).
    pub user: Option<CallerUser>,
    /// The role session whose temporary credentials signed the request (STS `AssumeRole`);
    /// when set, the caller is that session, not a user or the root user.
    pub role_session: Option<CallerRoleSession>,
    /// When the caller authenticated with MFA, for temporary credentials from
    /// `GetSessionToken` with an MFA code; `None` otherwise.
    pub mfa_authenticated_at: Option<UnixMillis>,
    /// When the temporary credentials that signed the request were issued (STS
    /// `AssumeRole`/`GetSessionToken`); `None` for long-term access keys.
    pub session_created_at: Option<UnixMillis>,
    /// The service principal the credentials act as (`rds.amazonaws.com`), for service
    /// credentials an administrator created; the caller then is that service, not a user.
    pub service: Option<String>,
    /// The AWS service that made this request on the caller's behalf, as `kms:ViaService`
    /// names it (`secretsmanager.us-east-1.amazonaws.com`); set only by keystead's own services.
    pub via_service: Option<String>,
    /// Facts about the connection the request came on.
    pub source: RequestSource,
}

/// Where a request came from, for condition keys (`aws:SourceIp`, `aws:SecureTransport`) and
/// audit records (`sourceIPAddress`, `userAgent`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSource {
    /// The peer's address; `None` for requests keystead makes itself.
    pub ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS.
    pub secure_transport: bool,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

/// The assumed-role session a request was signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRoleSession {
    /// The role's name.
    pub role_name: String,
    /// The role's stable id (`AROA...`).
    pub role_id: String,
    /// The role's path, such as `/`.
    pub role_path: String,
    /// The session name given to `AssumeRole`.
    pub session_name: String,
}

impl CallerRoleSession {
    /// The role's ARN: `arn:aws:iam::ACCOUNT:role{path}{name}`.
    pub fn role_arn(&self, account: &AccountId) -> String {
        format!(
            "arn:aws:iam::{account}:role{}{}",
            self.role_path, self.role_name
        )
    }

    /// The session's ARN: `arn:aws:sts::ACCOUNT:assumed-role/{name}/{session}`.
    pub fn assumed_role_arn(&self, account: &AccountId) -> String {
        format!(
            "arn:aws:sts::{account}:assumed-role/{}/{}",
            self.role_name, self.session_name
        )
    }

    /// The session's user id as STS reports it: `AROA...:{session}`.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}

/// The IAM user a request was signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerUser {
    /// The user name.
    pub user_name: String,
    /// The user's stable id (`AIDA...`).
    pub user_id: String,
    /// The user's path, such as `/` or `/division/`.
    pub path: String,
}

/// The ARN of an IAM user: `arn:aws:iam::ACCOUNT:user{path}{name}`.
pub fn user_arn(account: &AccountId, path: &str, user_name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{user_name}")
}

impl Caller {
    /// Whether the request was signed with temporary credentials (an STS session) rather
    /// than a long-term access key.
    pub fn uses_temporary_credentials(&self) -> bool {
        self.role_session.is_some() || self.access_key_id.starts_with("ASIA")
    }

    /// The caller's principal ARN: the role session's, the IAM user's, or the account's root
    /// user's.
    pub fn principal_arn(&self) -> String {
        if let Some(s) = &self.role_session {
            return s.assumed_role_arn(&self.account_id);
        }
        match &self.user {
            Some(u) => user_arn(&self.account_id, &u.path, &u.user_name),
            None => format!("arn:aws:iam::{}:root", self.account_id),
        }
    }

    /// The caller's user id as STS reports it: `AROA...:session` for a role session, the IAM
    /// user's id, or the account id for root.
    pub fn user_id(&self) -> String {
        if let Some(s) = &self.role_session {
            return s.assumed_role_id();
        }
        match &self.user {
            Some(u) => u.user_id.clone(),
            None => self.account_id.to_string(),
        }
    }

    /// Whether the account's root user signed the request (with its own or temporary
    /// credentials).
    pub fn is_root(&self) -> bool {
        self.user.is_none() && self.role_session.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_digits() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        assert!("12345678901".parse::<AccountId>().is_err());
        assert!("1234567890123".parse::<AccountId>().is_err());
        assert!("12345678901a".parse::<AccountId>().is_err());
    }

    #[test]
    fn regions_look_like_aws_regions() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-10"] {
            assert!(ok.parse::<Region>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "us--1",
            "-east-1",
        ] {
            assert!(bad.parse::<Region>().is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_accept_only_the_hyphenated_form() {
        let id = KeyId::random();
        assert_eq!(id.to_string().parse::<KeyId>(), Ok(id));
        assert!("1234abcd12ab34cd56ef1234567890ab".parse::<KeyId>().is_err());
        assert!(
            "{1234abcd-12ab-34cd-56ef-1234567890ab}"
                .parse::<KeyId>()
                .is_err()
        );
        assert_eq!(KeyId::from_bytes(*id.as_bytes()), id);
    }

    #[test]
    fn a_user_caller_is_named_by_its_user_arn() {
        let mut caller = Caller {
            account_id: "111122223333".parse().expect("account"),
            region: "us-east-1".parse().expect("region"),
            access_key_id: "AKIAEXAMPLE".to_owned(),
            user: None,
            role_session: None,
            mfa_authenticated_at: None,
            session_created_at: None,
            service: None,
            via_service: None,
            source: RequestSource::default(),
        };
        assert_eq!(caller.principal_arn(), "arn:aws:iam::111122223333:root");
        assert_eq!(caller.user_id(), "111122223333");
        caller.user = Some(CallerUser {
            user_name: "alice".to_owned(),
            user_id: "AIDAEXAMPLE".to_owned(),
            path: "/team/".to_owned(),
        });
        assert_eq!(
            caller.principal_arn(),
            "arn:aws:iam::111122223333:user/team/alice"
        );
        assert_eq!(caller.user_id(), "AIDAEXAMPLE");
    }

    #[test]
    fn arns_have_aws_shape() {
        let region: Region = "us-east-2".parse().expect("valid region");
        let account: AccountId = "111122223333".parse().expect("valid account");
        let key: KeyId = "1234abcd-12ab-34cd-56ef-1234567890ab"
            .parse()
            .expect("valid key id");
        assert_eq!(
            key_arn(&region, &account, &key),
            "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_eq!(
            alias_arn(&region, &account, "alias/ExampleAlias"),
            "arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias"
        );
    }
}

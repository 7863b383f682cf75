//! The one error type every store backend returns.
//!
//! Variants state storage facts (a record is absent, already present, undecodable, or the database
//! cannot be reached); mapping them to AWS error codes is the service layer's job. No variant ever
//! carries sealed bytes: ids and decoder messages only, and the decoders never see sealed bytes
//! (see [`crate::persist`]).

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record a write refers to does not exist: `update_key`, `add_key_version`,
    /// `delete_key`, `update_alias`, `delete_alias`, `delete_grant` (the record itself), `create_alias`,
    /// `update_alias` and `create_grant` (the target key), `put_access_key` (the owning account).
    #[error("{what} {id} not found")]
    NotFound {
        /// Which kind of record, one of the constants in [`what`].
        what: &'static str,
        /// The record's id as text.
        id: String,
    },
    /// A create would overwrite an existing record: `create_account` (the account or one of its
    /// access keys), `create_key`, `add_key_version` (the version), `create_alias`, `create_grant`.
    #[error("{what} {id} already exists")]
    Conflict {
        /// Which kind of record, one of the constants in [`what`].
        what: &'static str,
        /// The record's id as text.
        id: String,
    },
    /// The records passed to one write contradict each other, for example a key version that
    /// belongs to another key, or an access key of another account. This is a caller bug;
    /// nothing was written.
    #[error("inconsistent {what}: {detail}")]
    Invalid {
        /// Which kind of record, one of the constants in [`what`].
        what: &'static str,
        /// Which ids disagree.
        detail: String,
    },
    /// A stored row does not decode: unknown `schema_version`, malformed JSON, or an id that is
    /// not well formed. Returned by `load` and `metadata`.
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// Which kind of record, one of the constants in [`what`].
        what: &'static str,
        /// The row's id and what is wrong with it.
        detail: String,
    },
    /// The database could not be opened, read or written (I/O error, locked, not a database, a
    /// schema from a newer keystead). The write, if any, was not committed.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The names of record kinds used in [`Error`]'s `what` fields. Every backend uses these, so
/// callers and the conformance suite can match on them.
pub mod what {
    /// An [`crate::AccountRecord`].
    pub const ACCOUNT: &str = "account";
    /// An [`crate::AccessKeyRecord`].
    pub const ACCESS_KEY: &str = "access key";
    /// A [`crate::KeyRecord`].
    pub const KEY: &str = "key";
    /// A [`crate::KeyVersionRecord`].
    pub const KEY_VERSION: &str = "key version";
    /// An [`crate::AliasRecord`].
    pub const ALIAS: &str = "alias";
    /// A [`crate::GrantRecord`].
    pub const GRANT: &str = "grant";
    /// A [`crate::UserRecord`].
    pub const USER: &str = "user";
    /// A [`crate::UserPolicyRecord`].
    pub const USER_POLICY: &str = "user policy";
    /// A [`crate::RoleRecord`].
    pub const ROLE: &str = "role";
    /// A [`crate::RolePolicyRecord`].
    pub const ROLE_POLICY: &str = "role policy";
    /// A [`crate::SessionRecord`].
    pub const SESSION: &str = "session";
    /// A virtual MFA device.
    pub const MFA_DEVICE: &str = "MFA device";
    /// A metadata entry.
    pub const METADATA: &str = "metadata";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_record_kind_and_id() {
        let err = Error::NotFound {
            what: what::KEY,
            id: "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "key 1234abcd-12ab-34cd-56ef-1234567890ab not found"
        );
        let err = Error::Conflict {
            what: what::ALIAS,
            id: "alias/a".to_owned(),
        };
        assert_eq!(err.to_string(), "alias alias/a already exists");
    }

    #[test]
    fn unavailable_keeps_its_cause_as_source() {
        let err = Error::Unavailable(Box::new(std::io::Error::other("disk full")));
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));
    }
}

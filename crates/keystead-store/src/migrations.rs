//! The numbered schema migrations every backend applies, in order.
//!
//! This module names migrations; each backend owns the DDL for them and matches exhaustively on
//! [`Migration`], so adding a migration here fails to compile until every backend implements it.
//! Backends record applied migrations by [`Migration::id`] in a `migrations` table, apply each at
//! most once inside a transaction, and refuse a database that has an id they do not know (it
//! was written by a newer keystead).

/// One schema migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Migration {
    /// Accounts, access keys, keys, key versions, aliases and metadata.
    Initial,
    /// Grants, deleted with their key.
    Grants,
    /// IAM users and their inline policies; access keys may belong to a user.
    Iam,
    /// IAM roles, their inline policies, and STS sessions.
    Roles,
    /// Virtual MFA devices, their sealed seeds and whom they are enabled for.
    MfaDevices,
    /// Secrets Manager: secrets and their encrypted versions.
    Secrets,
    /// Access keys that act as a service principal (`keystead service-credentials create`).
    ServiceCredentials,
}

impl Migration {
    /// Every migration, in the order it must be applied.
    pub const ALL: [Migration; 7] = [
        Migration::Initial,
        Migration::Grants,
        Migration::Iam,
        Migration::Roles,
        Migration::MfaDevices,
        Migration::Secrets,
        Migration::ServiceCredentials,
    ];

    /// The number recorded in the `migrations` table; strictly increasing along [`Self::ALL`].
    pub fn id(self) -> i64 {
        match self {
            Self::Initial => 1,
            Self::Grants => 2,
            Self::Iam => 3,
            Self::Roles => 4,
            Self::MfaDevices => 5,
            Self::Secrets => 6,
            Self::ServiceCredentials => 7,
        }
    }

    /// A short name recorded next to the id, for people reading the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Grants => "grants",
            Self::Iam => "iam",
            Self::Roles => "roles",
            Self::MfaDevices => "mfa_devices",
            Self::Secrets => "secrets",
            Self::ServiceCredentials => "service_credentials",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_ids_start_at_one_and_increase_by_one() {
        for (index, migration) in Migration::ALL.iter().enumerate() {
            assert_eq!(migration.id(), index as i64 + 1, "{migration:?}");
        }
    }
}

//! The Secrets Manager tables: `secrets` (one row per secret and region) and `secret_versions`
//! (the encrypted data key and sealed value of each version in BLOB columns). Like the rest of
//! this crate it stores what `keystead_store::secrets` encodes and interprets only ids.

use keystead_store::secrets::{
    WHAT_SECRET, WHAT_SECRET_VERSION, check_secret_changes, decode_secret, decode_secret_version,
    encode_secret, encode_secret_version,
};
use keystead_store::{Error, SecretChange, SecretsSnapshot, persist};
use rusqlite::{Connection, params};

use crate::error::unavailable;
use crate::{exists, load_rows, write};

/// Reads every secret and version in one read transaction.
pub(crate) fn load(conn: &mut Connection) -> Result<SecretsSnapshot, Error> {
    let tx = conn.transaction().map_err(unavailable)?;
    let secrets = load_rows(
        &tx,
        "SELECT arn, schema_version, record FROM secrets ORDER BY arn",
        |stored, _| decode_secret(stored),
    )?;
    let versions = load_rows(
        &tx,
        "SELECT secret_arn || '/' || version_id, schema_version, record, encrypted_data_key,
                sealed_value
         FROM secret_versions ORDER BY secret_arn, created_at, version_id",
        |stored, row| {
            decode_secret_version(
                stored,
                row.get(3).map_err(unavailable)?,
                row.get(4).map_err(unavailable)?,
            )
        },
    )?;
    tx.commit().map_err(unavailable)?;
    Ok(SecretsSnapshot { secrets, versions })
}

/// Applies a batch of changes in one write transaction.
pub(crate) fn apply(conn: &mut Connection, changes: &[SecretChange]) -> Result<(), Error> {
    check_secret_changes(changes)?;
    let tx = write(conn)?;
    for change in changes {
        match change {
            SecretChange::Put {
                secret,
                add_versions,
                remove_versions,
            } => {
                tx.execute(
                    "INSERT INTO secrets (arn, account_id, region, name, schema_version, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (arn) DO UPDATE SET
                         name = excluded.name,
                         schema_version = excluded.schema_version,
                         record = excluded.record",
                    params![
                        secret.arn,
                        secret.account_id.as_str(),
                        secret.region.as_str(),
                        secret.name,
                        persist::SCHEMA_VERSION,
                        encode_secret(secret),
                    ],
                )
                .map_err(unavailable)?;
                for version_id in remove_versions {
                    let deleted = tx
                        .execute(
                            "DELETE FROM secret_versions WHERE secret_arn = ?1 AND version_id = ?2",
                            params![secret.arn, version_id],
                        )
                        .map_err(unavailable)?;
                    if deleted == 0 {
                        return Err(Error::NotFound {
                            what: WHAT_SECRET_VERSION,
                            id: format!("{}/{version_id}", secret.arn),
                        });
                    }
                }
                for version in add_versions {
                    let sql = "SELECT EXISTS (SELECT 1 FROM secret_versions
                               WHERE secret_arn = ?1 AND version_id = ?2)";
                    if exists(&tx, sql, params![version.secret_arn, version.version_id])? {
                        return Err(Error::Conflict {
                            what: WHAT_SECRET_VERSION,
                            id: format!("{}/{}", version.secret_arn, version.version_id),
                        });
                    }
                    tx.execute(
                        "INSERT INTO secret_versions (secret_arn, version_id, created_at,
                             encrypted_data_key, sealed_value, schema_version, record)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            version.secret_arn,
                            version.version_id,
                            version.created_at.0,
                            version.encrypted_data_key,
                            version.sealed_value,
                            persist::SCHEMA_VERSION,
                            encode_secret_version(version),
                        ],
                    )
                    .map_err(unavailable)?;
                }
            }
            SecretChange::Delete { arn } => {
                tx.execute("DELETE FROM secret_versions WHERE secret_arn = ?1", [arn])
                    .map_err(unavailable)?;
                let deleted = tx
                    .execute("DELETE FROM secrets WHERE arn = ?1", [arn])
                    .map_err(unavailable)?;
                if deleted == 0 {
                    return Err(Error::NotFound {
                        what: WHAT_SECRET,
                        id: arn.clone(),
                    });
                }
            }
        }
    }
    tx.commit().map_err(unavailable)
}

/// The DDL of migration 6.
pub(crate) const MIGRATION_SQL: &str = "CREATE TABLE secrets (
         arn TEXT PRIMARY KEY NOT NULL,
         account_id TEXT NOT NULL,
         region TEXT NOT NULL,
         name TEXT NOT NULL,
         schema_version INTEGER NOT NULL,
         record TEXT NOT NULL
     ) STRICT;
     CREATE INDEX secrets_by_name ON secrets (account_id, region, name);
     CREATE TABLE secret_versions (
         secret_arn TEXT NOT NULL REFERENCES secrets (arn),
         version_id TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         encrypted_data_key BLOB NOT NULL,
         sealed_value BLOB NOT NULL,
         schema_version INTEGER NOT NULL,
         record TEXT NOT NULL,
         PRIMARY KEY (secret_arn, version_id)
     ) STRICT;";

//! keystead's embedded store: a [`Store`] on one SQLite file, the default backend.
//!
//! The database is a durable log of changes; keystead reads it once at start ([`Store::load`])
//! and serves from memory. Every write runs in one transaction that is fsync'd before the method
//! returns (write-ahead log, `synchronous=FULL`; see `schema.rs`). The file and its side files
//! have mode 0600. This crate stores what [`keystead_store::persist`] encodes and sealed bytes as
//! BLOBs; it never sees plaintext key material and must not interpret records beyond their ids.
//!
//! rusqlite is blocking: each call runs on tokio's blocking pool, holding the one connection
//! behind a mutex. That serializes writes, which are rare, and costs nothing for reads, which
//! happen only at load.

mod error;
mod schema;
mod secrets;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use keystead_store::persist::{self, StoredRow};
use keystead_store::{
    AccessKeyRecord, AccessKeyUserRecord, AccountRecord, AliasRecord, Error, GrantRecord,
    KeyRecord, KeyVersionRecord, MfaDeviceRecord, RolePolicyRecord, RoleRecord, SessionRecord,
    Snapshot, Store, UserPolicyRecord, UserRecord, alias_id, key_version_id, user_id_for_errors,
    what,
};
use keystead_types::{AccountId, KeyId, Region, UnixMillis};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::error::unavailable;

/// A [`Store`] backed by one SQLite database file.
///
/// Cloning is cheap and shares the connection. The database is closed when the last clone is
/// dropped and no call is in flight.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (mode 0600) if it does not exist, and applies
    /// any schema migrations it lacks.
    ///
    /// This blocks on file I/O; call it at start-up or from `spawn_blocking`. An existing
    /// database and its `-wal`/`-shm` files lose any group or other permissions.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`], whose source names the path and the reason: the file or its
    /// directory cannot be created, it is not a SQLite database, it belongs to another
    /// application, or it was migrated by a newer keystead.
    pub fn open(path: &Path) -> Result<SqliteStore, Error> {
        let conn = schema::open(path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                conn: Mutex::new(conn),
            }),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `op` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, op: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction half-applied: dropping
            // the `Transaction` during unwinding rolls it back. So a poisoned lock is safe to use.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            op(&mut conn)
        })
        .await
        .map_err(|join| Error::Unavailable(Box::new(join)))?
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn load(&self) -> Result<Snapshot, Error> {
        self.with_conn(|conn| {
            // One read transaction, so the snapshot is consistent even if another process writes.
            let tx = conn.transaction().map_err(unavailable)?;
            let snapshot = Snapshot {
                accounts: load_accounts(&tx)?,
                access_keys: load_access_keys(&tx)?,
                keys: load_keys(&tx)?,
                key_versions: load_key_versions(&tx)?,
                aliases: load_aliases(&tx)?,
                grants: load_grants(&tx)?,
                access_key_users: load_access_key_users(&tx)?,
                users: load_users(&tx)?,
                user_policies: load_user_policies(&tx)?,
                roles: load_roles(&tx)?,
                role_policies: load_role_policies(&tx)?,
                sessions: load_sessions(&tx)?,
                mfa_devices: load_mfa_devices(&tx)?,
                service_credentials: load_service_credentials(&tx)?,
            };
            tx.commit().map_err(unavailable)?;
            Ok(snapshot)
        })
        .await
    }

    async fn create_account(
        &self,
        account: &AccountRecord,
        access_keys: &[AccessKeyRecord],
    ) -> Result<(), Error> {
        keystead_store::check_access_keys_belong(account, access_keys)?;
        let account = account.clone();
        let access_keys = access_keys.to_vec();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let account_id = account.account_id.as_str();
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = ?1)",
                [account_id],
            )? {
                return Err(Error::Conflict {
                    what: what::ACCOUNT,
                    id: account_id.to_owned(),
                });
            }
            tx.execute(
                "INSERT INTO accounts (account_id, schema_version, record) VALUES (?1, ?2, ?3)",
                params![
                    account_id,
                    persist::SCHEMA_VERSION,
                    persist::encode_account(&account)
                ],
            )
            .map_err(unavailable)?;
            for key in &access_keys {
                // Checked one by one after each insert, so a duplicate within `access_keys` is a
                // conflict too.
                let sql = "SELECT EXISTS (SELECT 1 FROM access_keys WHERE access_key_id = ?1)";
                if exists(&tx, sql, [&key.access_key_id])? {
                    return Err(Error::Conflict {
                        what: what::ACCESS_KEY,
                        id: key.access_key_id.clone(),
                    });
                }
                upsert_access_key(&tx, key)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn put_access_key(&self, key: &AccessKeyRecord) -> Result<(), Error> {
        let key = key.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let account_id = key.account_id.as_str();
            if !exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = ?1)",
                [account_id],
            )? {
                return Err(Error::NotFound {
                    what: what::ACCOUNT,
                    id: account_id.to_owned(),
                });
            }
            upsert_access_key(&tx, &key)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_key(
        &self,
        key: &KeyRecord,
        first_version: &KeyVersionRecord,
    ) -> Result<(), Error> {
        keystead_store::check_version_belongs(key, first_version)?;
        let key = key.clone();
        let version = first_version.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if key_exists(&tx, &key.key_id)? {
                return Err(Error::Conflict {
                    what: what::KEY,
                    id: key.key_id.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO keys (key_id, account_id, region, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.key_id.to_string(),
                    key.account_id.as_str(),
                    key.region.as_str(),
                    persist::SCHEMA_VERSION,
                    persist::encode_key(&key),
                ],
            )
            .map_err(unavailable)?;
            insert_version(&tx, &version)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn update_key(&self, key: &KeyRecord) -> Result<(), Error> {
        let key = key.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            update_key_row(&tx, &key)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn add_key_version(
        &self,
        key: &KeyRecord,
        version: &KeyVersionRecord,
    ) -> Result<(), Error> {
        keystead_store::check_version_belongs(key, version)?;
        let key = key.clone();
        let version = version.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            update_key_row(&tx, &key)?;
            let sql =
                "SELECT EXISTS (SELECT 1 FROM key_versions WHERE key_id = ?1 AND version = ?2)";
            if exists(
                &tx,
                sql,
                params![version.key_id.to_string(), version.version],
            )? {
                // Returning drops `tx`, which rolls back the key update above.
                return Err(Error::Conflict {
                    what: what::KEY_VERSION,
                    id: key_version_id(&version.key_id, version.version),
                });
            }
            insert_version(&tx, &version)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_key(&self, key_id: &KeyId) -> Result<(), Error> {
        let key_id = *key_id;
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let id = key_id.to_string();
            tx.execute("DELETE FROM aliases WHERE target_key_id = ?1", [&id])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM grants WHERE key_id = ?1", [&id])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM key_versions WHERE key_id = ?1", [&id])
                .map_err(unavailable)?;
            let deleted = tx
                .execute("DELETE FROM keys WHERE key_id = ?1", [&id])
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(Error::NotFound {
                    what: what::KEY,
                    id,
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        let alias = alias.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if alias_exists(&tx, &alias.account_id, &alias.region, &alias.alias_name)? {
                return Err(Error::Conflict {
                    what: what::ALIAS,
                    id: alias_id(&alias.account_id, &alias.region, &alias.alias_name),
                });
            }
            if !key_exists(&tx, &alias.target_key_id)? {
                return Err(Error::NotFound {
                    what: what::KEY,
                    id: alias.target_key_id.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO aliases
                     (account_id, region, alias_name, target_key_id, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    alias.account_id.as_str(),
                    alias.region.as_str(),
                    alias.alias_name,
                    alias.target_key_id.to_string(),
                    persist::SCHEMA_VERSION,
                    persist::encode_alias(&alias),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn update_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        let alias = alias.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if !alias_exists(&tx, &alias.account_id, &alias.region, &alias.alias_name)? {
                return Err(Error::NotFound {
                    what: what::ALIAS,
                    id: alias_id(&alias.account_id, &alias.region, &alias.alias_name),
                });
            }
            if !key_exists(&tx, &alias.target_key_id)? {
                return Err(Error::NotFound {
                    what: what::KEY,
                    id: alias.target_key_id.to_string(),
                });
            }
            tx.execute(
                "UPDATE aliases SET target_key_id = ?4, schema_version = ?5, record = ?6
                 WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
                params![
                    alias.account_id.as_str(),
                    alias.region.as_str(),
                    alias.alias_name,
                    alias.target_key_id.to_string(),
                    persist::SCHEMA_VERSION,
                    persist::encode_alias(&alias),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_alias(
        &self,
        account: &AccountId,
        region: &Region,
        alias_name: &str,
    ) -> Result<(), Error> {
        let (account, region, alias_name) =
            (account.clone(), region.clone(), alias_name.to_owned());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let deleted = tx
                .execute(
                    "DELETE FROM aliases WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
                    params![account.as_str(), region.as_str(), alias_name],
                )
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(Error::NotFound {
                    what: what::ALIAS,
                    id: alias_id(&account, &region, &alias_name),
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), Error> {
        let grant = grant.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM grants WHERE grant_id = ?1)",
                [&grant.grant_id],
            )? {
                return Err(Error::Conflict {
                    what: what::GRANT,
                    id: grant.grant_id.clone(),
                });
            }
            if !key_exists(&tx, &grant.key_id)? {
                return Err(Error::NotFound {
                    what: what::KEY,
                    id: grant.key_id.to_string(),
                });
            }
            tx.execute(
                "INSERT INTO grants (grant_id, key_id, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    grant.grant_id,
                    grant.key_id.to_string(),
                    persist::SCHEMA_VERSION,
                    persist::encode_grant(&grant),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_grant(&self, key_id: &KeyId, grant_id: &str) -> Result<(), Error> {
        let (key_id, grant_id) = (key_id.to_string(), grant_id.to_owned());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let deleted = tx
                .execute(
                    "DELETE FROM grants WHERE key_id = ?1 AND grant_id = ?2",
                    params![key_id, grant_id],
                )
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(Error::NotFound {
                    what: what::GRANT,
                    id: grant_id,
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_user_access_key(
        &self,
        key: &AccessKeyRecord,
        owner: &AccessKeyUserRecord,
    ) -> Result<(), Error> {
        let (key, owner) = (key.clone(), owner.clone());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if owner.account_id != key.account_id || owner.access_key_id != key.access_key_id {
                return Err(Error::Invalid {
                    what: what::ACCESS_KEY,
                    detail: format!(
                        "access key {} does not match its owner record",
                        key.access_key_id
                    ),
                });
            }
            if !user_exists(&tx, &owner.account_id, &owner.user_name)? {
                return Err(Error::NotFound {
                    what: what::USER,
                    id: user_id_for_errors(&owner.account_id, &owner.user_name, None),
                });
            }
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM access_keys WHERE access_key_id = ?1)",
                [&key.access_key_id],
            )? {
                return Err(Error::Conflict {
                    what: what::ACCESS_KEY,
                    id: key.access_key_id.clone(),
                });
            }
            // `--dev` accounts and accounts made before IAM may lack an account row; the access
            // key table needs one.
            tx.execute(
                "INSERT INTO accounts (account_id, schema_version, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO NOTHING",
                params![
                    key.account_id.as_str(),
                    persist::SCHEMA_VERSION,
                    persist::encode_account(&AccountRecord {
                        account_id: key.account_id.clone(),
                        created_at: key.created_at,
                    }),
                ],
            )
            .map_err(unavailable)?;
            upsert_access_key(&tx, &key)?;
            tx.execute(
                "INSERT INTO access_key_users (access_key_id, account_id, user_name)
                 VALUES (?1, ?2, ?3)",
                params![
                    owner.access_key_id,
                    owner.account_id.as_str(),
                    owner.user_name
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_service_access_key(
        &self,
        key: &AccessKeyRecord,
        service: &keystead_store::ServiceCredentialRecord,
    ) -> Result<(), Error> {
        let (key, service) = (key.clone(), service.clone());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if service.account_id != key.account_id || service.access_key_id != key.access_key_id
            {
                return Err(Error::Invalid {
                    what: what::ACCESS_KEY,
                    detail: format!(
                        "access key {} does not match its service record",
                        key.access_key_id
                    ),
                });
            }
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM access_keys WHERE access_key_id = ?1)",
                [&key.access_key_id],
            )? {
                return Err(Error::Conflict {
                    what: what::ACCESS_KEY,
                    id: key.access_key_id.clone(),
                });
            }
            tx.execute(
                "INSERT INTO accounts (account_id, schema_version, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO NOTHING",
                params![
                    key.account_id.as_str(),
                    persist::SCHEMA_VERSION,
                    persist::encode_account(&AccountRecord {
                        account_id: key.account_id.clone(),
                        created_at: key.created_at,
                    }),
                ],
            )
            .map_err(unavailable)?;
            upsert_access_key(&tx, &key)?;
            tx.execute(
                "INSERT INTO service_credentials (access_key_id, account_id, service, schema_version)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    service.access_key_id,
                    service.account_id.as_str(),
                    service.service,
                    persist::SCHEMA_VERSION,
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<(), Error> {
        let access_key_id = access_key_id.to_owned();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            tx.execute(
                "DELETE FROM access_key_users WHERE access_key_id = ?1",
                [&access_key_id],
            )
            .map_err(unavailable)?;
            tx.execute(
                "DELETE FROM service_credentials WHERE access_key_id = ?1",
                [&access_key_id],
            )
            .map_err(unavailable)?;
            let deleted = tx
                .execute(
                    "DELETE FROM access_keys WHERE access_key_id = ?1",
                    [&access_key_id],
                )
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(Error::NotFound {
                    what: what::ACCESS_KEY,
                    id: access_key_id,
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_user(&self, user: &UserRecord) -> Result<(), Error> {
        let user = user.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if user_exists(&tx, &user.account_id, &user.user_name)? {
                return Err(Error::Conflict {
                    what: what::USER,
                    id: user_id_for_errors(&user.account_id, &user.user_name, None),
                });
            }
            tx.execute(
                "INSERT INTO users (account_id, user_name, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    user.account_id.as_str(),
                    user.user_name,
                    persist::SCHEMA_VERSION,
                    persist::encode_user(&user),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_user(&self, account: &AccountId, user_name: &str) -> Result<(), Error> {
        let (account, user_name) = (account.clone(), user_name.to_owned());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let id = user_id_for_errors(&account, &user_name, None);
            if !user_exists(&tx, &account, &user_name)? {
                return Err(Error::NotFound {
                    what: what::USER,
                    id,
                });
            }
            let params = params![account.as_str(), user_name];
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM access_key_users
                     WHERE account_id = ?1 AND user_name = ?2)
                 OR EXISTS (SELECT 1 FROM user_policies
                     WHERE account_id = ?1 AND user_name = ?2)",
                params,
            )? {
                return Err(Error::Conflict {
                    what: what::USER,
                    id,
                });
            }
            tx.execute(
                "DELETE FROM users WHERE account_id = ?1 AND user_name = ?2",
                params,
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn put_user_policy(&self, policy: &UserPolicyRecord) -> Result<(), Error> {
        let (account, owner, name) = (
            policy.account_id.clone(),
            policy.user_name.clone(),
            policy.policy_name.clone(),
        );
        let json = persist::encode_user_policy(policy);
        self.with_conn(move |conn| {
            put_inline_policy(conn, PolicyOwner::User, &account, &owner, &name, &json)
        })
        .await
    }

    async fn delete_user_policy(
        &self,
        account: &AccountId,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        let (account, owner, name) = (
            account.clone(),
            user_name.to_owned(),
            policy_name.to_owned(),
        );
        self.with_conn(move |conn| {
            delete_inline_policy(conn, PolicyOwner::User, &account, &owner, &name)
        })
        .await
    }

    async fn create_role(&self, role: &RoleRecord) -> Result<(), Error> {
        let role = role.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if role_exists(&tx, &role.account_id, &role.role_name)? {
                return Err(Error::Conflict {
                    what: what::ROLE,
                    id: user_id_for_errors(&role.account_id, &role.role_name, None),
                });
            }
            tx.execute(
                "INSERT INTO roles (account_id, role_name, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    role.account_id.as_str(),
                    role.role_name,
                    persist::SCHEMA_VERSION,
                    persist::encode_role(&role),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn update_role(&self, role: &RoleRecord) -> Result<(), Error> {
        let role = role.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let updated = tx
                .execute(
                    "UPDATE roles SET schema_version = ?3, record = ?4
                     WHERE account_id = ?1 AND role_name = ?2",
                    params![
                        role.account_id.as_str(),
                        role.role_name,
                        persist::SCHEMA_VERSION,
                        persist::encode_role(&role),
                    ],
                )
                .map_err(unavailable)?;
            if updated == 0 {
                return Err(Error::NotFound {
                    what: what::ROLE,
                    id: user_id_for_errors(&role.account_id, &role.role_name, None),
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_role(&self, account: &AccountId, role_name: &str) -> Result<(), Error> {
        let (account, role_name) = (account.clone(), role_name.to_owned());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let id = user_id_for_errors(&account, &role_name, None);
            if !role_exists(&tx, &account, &role_name)? {
                return Err(Error::NotFound {
                    what: what::ROLE,
                    id,
                });
            }
            let params = params![account.as_str(), role_name];
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM role_policies
                     WHERE account_id = ?1 AND role_name = ?2)",
                params,
            )? {
                return Err(Error::Conflict {
                    what: what::ROLE,
                    id,
                });
            }
            tx.execute(
                "DELETE FROM roles WHERE account_id = ?1 AND role_name = ?2",
                params,
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn put_role_policy(&self, policy: &RolePolicyRecord) -> Result<(), Error> {
        let (account, owner, name) = (
            policy.account_id.clone(),
            policy.role_name.clone(),
            policy.policy_name.clone(),
        );
        let json = persist::encode_role_policy(policy);
        self.with_conn(move |conn| {
            put_inline_policy(conn, PolicyOwner::Role, &account, &owner, &name, &json)
        })
        .await
    }

    async fn delete_role_policy(
        &self,
        account: &AccountId,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(), Error> {
        let (account, owner, name) = (
            account.clone(),
            role_name.to_owned(),
            policy_name.to_owned(),
        );
        self.with_conn(move |conn| {
            delete_inline_policy(conn, PolicyOwner::Role, &account, &owner, &name)
        })
        .await
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), Error> {
        let session = session.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            if exists(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE access_key_id = ?1)",
                params![session.access_key_id],
            )? {
                return Err(Error::Conflict {
                    what: what::SESSION,
                    id: session.access_key_id.clone(),
                });
            }
            tx.execute(
                "INSERT INTO sessions
                     (access_key_id, account_id, expiration, sealed_credentials, schema_version,
                      record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    session.access_key_id,
                    session.account_id.as_str(),
                    session.expiration.0,
                    session.sealed_credentials,
                    persist::SCHEMA_VERSION,
                    persist::encode_session(&session),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: UnixMillis) -> Result<u64, Error> {
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let deleted = tx
                .execute(
                    "DELETE FROM sessions WHERE expiration <= ?1",
                    params![now.0],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn put_mfa_device(&self, device: &MfaDeviceRecord) -> Result<(), Error> {
        let device = device.clone();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            tx.execute(
                "INSERT INTO mfa_devices
                     (serial_number, account_id, sealed_seed, schema_version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (serial_number) DO UPDATE SET
                     account_id = excluded.account_id,
                     sealed_seed = excluded.sealed_seed,
                     schema_version = excluded.schema_version,
                     record = excluded.record",
                params![
                    device.serial_number,
                    device.account_id.as_str(),
                    device.sealed_seed,
                    persist::SCHEMA_VERSION,
                    persist::encode_mfa_device(&device),
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn delete_mfa_device(&self, serial_number: &str) -> Result<(), Error> {
        let serial_number = serial_number.to_owned();
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            let deleted = tx
                .execute(
                    "DELETE FROM mfa_devices WHERE serial_number = ?1",
                    params![serial_number],
                )
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(Error::NotFound {
                    what: what::MFA_DEVICE,
                    id: serial_number,
                });
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn load_secrets(&self) -> Result<keystead_store::SecretsSnapshot, Error> {
        self.with_conn(secrets::load).await
    }

    async fn apply_secret_changes(
        &self,
        changes: &[keystead_store::SecretChange],
    ) -> Result<(), Error> {
        let changes = changes.to_vec();
        self.with_conn(move |conn| secrets::apply(conn, &changes))
            .await
    }

    async fn metadata(&self, name: &str) -> Result<Option<String>, Error> {
        let name = name.to_owned();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare("SELECT value FROM metadata WHERE name = ?1")
                .map_err(unavailable)?;
            let mut rows = statement.query([&name]).map_err(unavailable)?;
            match rows.next().map_err(unavailable)? {
                Some(row) => row.get(0).map(Some).map_err(unavailable),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_metadata(&self, name: &str, value: &str) -> Result<(), Error> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.with_conn(move |conn| {
            let tx = write(conn)?;
            tx.execute(
                "INSERT INTO metadata (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [&name, &value],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

/// Begins a write transaction. IMMEDIATE takes the write lock now, so the existence checks that
/// follow cannot be invalidated by another process before the writes.
fn write(conn: &mut Connection) -> Result<Transaction<'_>, Error> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)
}

fn exists<P: rusqlite::Params>(tx: &Transaction<'_>, sql: &str, params: P) -> Result<bool, Error> {
    tx.query_row(sql, params, |row| row.get(0))
        .map_err(unavailable)
}

fn key_exists(tx: &Transaction<'_>, key_id: &KeyId) -> Result<bool, Error> {
    exists(
        tx,
        "SELECT EXISTS (SELECT 1 FROM keys WHERE key_id = ?1)",
        [key_id.to_string()],
    )
}

/// Whose inline policy a row is: the two kinds share one shape in different tables.
#[derive(Clone, Copy)]
enum PolicyOwner {
    User,
    Role,
}

impl PolicyOwner {
    /// `(owner table, owner column, policy table, owner what, policy what)`.
    fn names(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Self::User => (
                "users",
                "user_name",
                "user_policies",
                what::USER,
                what::USER_POLICY,
            ),
            Self::Role => (
                "roles",
                "role_name",
                "role_policies",
                what::ROLE,
                what::ROLE_POLICY,
            ),
        }
    }
}

/// Inserts or replaces an inline policy of an existing user or role.
fn put_inline_policy(
    conn: &mut rusqlite::Connection,
    kind: PolicyOwner,
    account: &AccountId,
    owner: &str,
    policy_name: &str,
    json: &str,
) -> Result<(), Error> {
    let (owners, owner_column, policies, owner_what, _) = kind.names();
    let tx = write(conn)?;
    let owner_exists = exists(
        &tx,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM {owners} WHERE account_id = ?1 AND {owner_column} = ?2)"
        ),
        params![account.as_str(), owner],
    )?;
    if !owner_exists {
        return Err(Error::NotFound {
            what: owner_what,
            id: user_id_for_errors(account, owner, None),
        });
    }
    tx.execute(
        &format!(
            "INSERT INTO {policies} (account_id, {owner_column}, policy_name, schema_version, record)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account_id, {owner_column}, policy_name) DO UPDATE SET
                 schema_version = excluded.schema_version,
                 record = excluded.record"
        ),
        params![account.as_str(), owner, policy_name, persist::SCHEMA_VERSION, json],
    )
    .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}

/// Deletes an inline policy of a user or role; `NotFound` if there is none.
fn delete_inline_policy(
    conn: &mut rusqlite::Connection,
    kind: PolicyOwner,
    account: &AccountId,
    owner: &str,
    policy_name: &str,
) -> Result<(), Error> {
    let (_, owner_column, policies, _, policy_what) = kind.names();
    let tx = write(conn)?;
    let deleted = tx
        .execute(
            &format!(
                "DELETE FROM {policies}
                 WHERE account_id = ?1 AND {owner_column} = ?2 AND policy_name = ?3"
            ),
            params![account.as_str(), owner, policy_name],
        )
        .map_err(unavailable)?;
    if deleted == 0 {
        return Err(Error::NotFound {
            what: policy_what,
            id: user_id_for_errors(account, owner, Some(policy_name)),
        });
    }
    tx.commit().map_err(unavailable)
}

fn user_exists(tx: &Transaction<'_>, account: &AccountId, user_name: &str) -> Result<bool, Error> {
    exists(
        tx,
        "SELECT EXISTS (SELECT 1 FROM users WHERE account_id = ?1 AND user_name = ?2)",
        params![account.as_str(), user_name],
    )
}

fn role_exists(tx: &Transaction<'_>, account: &AccountId, role_name: &str) -> Result<bool, Error> {
    exists(
        tx,
        "SELECT EXISTS (SELECT 1 FROM roles WHERE account_id = ?1 AND role_name = ?2)",
        params![account.as_str(), role_name],
    )
}

fn alias_exists(
    tx: &Transaction<'_>,
    account: &AccountId,
    region: &Region,
    alias_name: &str,
) -> Result<bool, Error> {
    exists(
        tx,
        "SELECT EXISTS (SELECT 1 FROM aliases
             WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3)",
        params![account.as_str(), region.as_str(), alias_name],
    )
}

fn upsert_access_key(tx: &Transaction<'_>, key: &AccessKeyRecord) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO access_keys (access_key_id, account_id, sealed_secret, schema_version, record)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (access_key_id) DO UPDATE SET
             account_id = excluded.account_id,
             sealed_secret = excluded.sealed_secret,
             schema_version = excluded.schema_version,
             record = excluded.record",
        params![
            key.access_key_id,
            key.account_id.as_str(),
            key.sealed_secret,
            persist::SCHEMA_VERSION,
            persist::encode_access_key(key),
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn update_key_row(tx: &Transaction<'_>, key: &KeyRecord) -> Result<(), Error> {
    let updated = tx
        .execute(
            "UPDATE keys SET account_id = ?2, region = ?3, schema_version = ?4, record = ?5
             WHERE key_id = ?1",
            params![
                key.key_id.to_string(),
                key.account_id.as_str(),
                key.region.as_str(),
                persist::SCHEMA_VERSION,
                persist::encode_key(key),
            ],
        )
        .map_err(unavailable)?;
    if updated == 0 {
        return Err(Error::NotFound {
            what: what::KEY,
            id: key.key_id.to_string(),
        });
    }
    Ok(())
}

fn insert_version(tx: &Transaction<'_>, version: &KeyVersionRecord) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO key_versions (key_id, version, wrapped_material, schema_version, record)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            version.key_id.to_string(),
            version.version,
            version.wrapped_material,
            persist::SCHEMA_VERSION,
            persist::encode_key_version(version),
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// Runs `sql`, whose first three columns are an id for errors, `schema_version` and the JSON
/// `record`, and decodes each row with `decode` (which may read further columns, such as sealed
/// bytes).
fn load_rows<T>(
    tx: &Transaction<'_>,
    sql: &str,
    decode: impl Fn(StoredRow<'_>, &rusqlite::Row<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut statement = tx.prepare(sql).map_err(unavailable)?;
    let mut rows = statement.query([]).map_err(unavailable)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let id: String = row.get(0).map_err(unavailable)?;
        let schema_version: i64 = row.get(1).map_err(unavailable)?;
        let json: String = row.get(2).map_err(unavailable)?;
        let stored = StoredRow {
            id: &id,
            schema_version,
            json: &json,
        };
        records.push(decode(stored, row)?);
    }
    Ok(records)
}

fn load_accounts(tx: &Transaction<'_>) -> Result<Vec<AccountRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id, schema_version, record FROM accounts ORDER BY account_id",
        |stored, _| persist::decode_account(stored),
    )
}

fn load_access_keys(tx: &Transaction<'_>) -> Result<Vec<AccessKeyRecord>, Error> {
    load_rows(
        tx,
        "SELECT access_key_id, schema_version, record, sealed_secret FROM access_keys
         ORDER BY access_key_id",
        |stored, row| persist::decode_access_key(stored, row.get(3).map_err(unavailable)?),
    )
}

fn load_keys(tx: &Transaction<'_>) -> Result<Vec<KeyRecord>, Error> {
    load_rows(
        tx,
        "SELECT key_id, schema_version, record FROM keys ORDER BY key_id",
        |stored, _| persist::decode_key(stored),
    )
}

fn load_key_versions(tx: &Transaction<'_>) -> Result<Vec<KeyVersionRecord>, Error> {
    load_rows(
        tx,
        "SELECT key_id || '/' || version, schema_version, record, wrapped_material
         FROM key_versions ORDER BY key_id, version",
        |stored, row| persist::decode_key_version(stored, row.get(3).map_err(unavailable)?),
    )
}

fn load_aliases(tx: &Transaction<'_>) -> Result<Vec<AliasRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id || ':' || region || ':' || alias_name, schema_version, record
         FROM aliases ORDER BY account_id, region, alias_name",
        |stored, _| persist::decode_alias(stored),
    )
}

fn load_grants(tx: &Transaction<'_>) -> Result<Vec<GrantRecord>, Error> {
    load_rows(
        tx,
        "SELECT grant_id, schema_version, record FROM grants ORDER BY key_id, grant_id",
        |stored, _| persist::decode_grant(stored),
    )
}

fn load_service_credentials(
    tx: &Transaction<'_>,
) -> Result<Vec<keystead_store::ServiceCredentialRecord>, Error> {
    let mut statement = tx
        .prepare(
            "SELECT access_key_id, account_id, service FROM service_credentials
             ORDER BY access_key_id",
        )
        .map_err(unavailable)?;
    let mut rows = statement.query([]).map_err(unavailable)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let access_key_id: String = row.get(0).map_err(unavailable)?;
        let account: String = row.get(1).map_err(unavailable)?;
        let account_id = account.parse().map_err(|_| Error::Corrupt {
            what: what::ACCESS_KEY,
            detail: format!("{access_key_id}: service account {account:?} is not an account id"),
        })?;
        records.push(keystead_store::ServiceCredentialRecord {
            access_key_id,
            account_id,
            service: row.get(2).map_err(unavailable)?,
        });
    }
    Ok(records)
}

fn load_access_key_users(tx: &Transaction<'_>) -> Result<Vec<AccessKeyUserRecord>, Error> {
    let mut statement = tx
        .prepare(
            "SELECT access_key_id, account_id, user_name FROM access_key_users
             ORDER BY access_key_id",
        )
        .map_err(unavailable)?;
    let mut rows = statement.query([]).map_err(unavailable)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let access_key_id: String = row.get(0).map_err(unavailable)?;
        let account: String = row.get(1).map_err(unavailable)?;
        let account_id = account.parse().map_err(|_| Error::Corrupt {
            what: what::ACCESS_KEY,
            detail: format!("{access_key_id}: owner account {account:?} is not an account id"),
        })?;
        records.push(AccessKeyUserRecord {
            access_key_id,
            account_id,
            user_name: row.get(2).map_err(unavailable)?,
        });
    }
    Ok(records)
}

fn load_users(tx: &Transaction<'_>) -> Result<Vec<UserRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id || '/' || user_name, schema_version, record FROM users
         ORDER BY account_id, user_name",
        |stored, _| persist::decode_user(stored),
    )
}

fn load_user_policies(tx: &Transaction<'_>) -> Result<Vec<UserPolicyRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id || '/' || user_name || '/' || policy_name, schema_version, record
         FROM user_policies ORDER BY account_id, user_name, policy_name",
        |stored, _| persist::decode_user_policy(stored),
    )
}

fn load_roles(tx: &Transaction<'_>) -> Result<Vec<RoleRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id || '/' || role_name, schema_version, record FROM roles
         ORDER BY account_id, role_name",
        |stored, _| persist::decode_role(stored),
    )
}

fn load_role_policies(tx: &Transaction<'_>) -> Result<Vec<RolePolicyRecord>, Error> {
    load_rows(
        tx,
        "SELECT account_id || '/' || role_name || '/' || policy_name, schema_version, record
         FROM role_policies ORDER BY account_id, role_name, policy_name",
        |stored, _| persist::decode_role_policy(stored),
    )
}

fn load_sessions(tx: &Transaction<'_>) -> Result<Vec<SessionRecord>, Error> {
    load_rows(
        tx,
        "SELECT access_key_id, schema_version, record, sealed_credentials FROM sessions
         ORDER BY access_key_id",
        |stored, row| persist::decode_session(stored, row.get(3).map_err(unavailable)?),
    )
}

fn load_mfa_devices(tx: &Transaction<'_>) -> Result<Vec<MfaDeviceRecord>, Error> {
    load_rows(
        tx,
        "SELECT serial_number, schema_version, record, sealed_seed FROM mfa_devices
         ORDER BY serial_number",
        |stored, row| persist::decode_mfa_device(stored, row.get(3).map_err(unavailable)?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_durable_and_enforce_foreign_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("keystead.db")).expect("open");
        let conn = store.inner.conn.lock().expect("unpoisoned");
        let pragma = |name: &str| -> String {
            conn.pragma_query_value(None, name, |row| {
                row.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .expect("pragma")
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "synchronous must be FULL");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("secure_delete"), "1");
        assert_eq!(pragma("busy_timeout"), "5000");
        assert_eq!(pragma("application_id"), schema::APPLICATION_ID.to_string());
    }
}

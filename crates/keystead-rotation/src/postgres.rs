//! Built-in PostgreSQL rotation for a secret holding
//! `{"engine": "postgres", "host", "port", "username", "password", "dbname"}`, following AWS's
//! RDS PostgreSQL rotation templates:
//!
//! - single user: `setSecret` logs in as the user (with `AWSCURRENT`, else `AWSPREVIOUS`) and runs
//!   `ALTER ROLE <user> WITH PASSWORD <new>`. Between `setSecret` and `finishSecret` only the
//!   pending password works, as in AWS.
//! - alternating users: each rotation switches between `USER` and `USER_clone`. The master user
//!   (configured, or the `masterarn` secret's `AWSCURRENT`) creates the clone on first use with
//!   `GRANT <user> TO <clone>`, and afterwards sets the password of the user not in use, so the
//!   current credentials keep working throughout.
//!
//! Identifiers and literals are quoted by the server (`format('%I', ...)`/`format('%L', ...)`),
//! never by string pasting. The connection is plain TCP (no TLS) for now. This module never logs
//! or returns a password; other fields of the secret are carried over unchanged.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio_postgres::{Client, NoTls};
use zeroize::Zeroizing;

use crate::access::{PendingState, pending_state};
use crate::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error, PasswordOptions, Rotator, SecretAccess,
    SecretValue, Step, generate_password,
};

/// The engines this rotator accepts in the secret's `engine` field: AWS's own (`postgres`,
/// `aurora-postgresql`) and `postgresql`, which people write as often.
const ENGINES: [&str; 3] = ["postgres", "postgresql", "aurora-postgresql"];
/// The suffix of the alternate user.
const CLONE_SUFFIX: &str = "_clone";
/// PostgreSQL's longest identifier (NAMEDATALEN - 1).
const MAX_ROLE_NAME_LEN: usize = 63;
/// Characters AWS's templates keep out of generated database passwords.
const DEFAULT_EXCLUDED: &str = ":/@\"'\\";

/// Whether a database secret's `engine` field names PostgreSQL, that is whether
/// [`DatabaseCredentials::parse`] (and so [`PostgresRotator`]) accepts it: `postgres`,
/// `postgresql` or `aurora-postgresql`.
pub fn is_postgres_engine(engine: &str) -> bool {
    ENGINES.contains(&engine)
}

/// Connection credentials read from (or written to) a database secret's JSON. Fields other than
/// the known ones are kept and written back unchanged.
///
/// No `Debug`, `Clone` or `Serialize`: it holds a password.
pub struct DatabaseCredentials {
    host: String,
    port: u16,
    username: String,
    password: Zeroizing<String>,
    dbname: Option<String>,
    masterarn: Option<String>,
    /// Every field of the JSON object as read, for writing the pending value back.
    fields: Map<String, Value>,
}

impl DatabaseCredentials {
    /// Credentials given directly (for example the master user from configuration).
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        password: impl Into<String>,
        dbname: Option<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            username: username.into(),
            password: Zeroizing::new(password.into()),
            dbname,
            masterarn: None,
            fields: Map::new(),
        }
    }

    /// Parses a database secret's `SecretString`. `secret_id` only names the secret in errors.
    /// Requires `engine` (postgres, postgresql or aurora-postgresql), `host`, `username` and `password`;
    /// `port` (number or string) defaults to 5432, `dbname` to `postgres`.
    pub fn parse(secret_id: &str, value: &SecretValue) -> Result<Self, Error> {
        let malformed = |reason: &'static str| Error::MalformedSecret {
            secret_id: secret_id.to_owned(),
            reason,
        };
        let mut fields: Map<String, Value> = serde_json::from_str(value.expose())
            .map_err(|_| malformed("the value is not a JSON object"))?;
        let text = |name: &'static str, reason: &'static str| -> Result<Option<String>, Error> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(malformed(reason)),
            }
        };
        let engine = text("engine", "engine is not a string")?
            .ok_or_else(|| malformed("engine is missing"))?;
        if !is_postgres_engine(&engine) {
            return Err(Error::UnsupportedEngine {
                secret_id: secret_id.to_owned(),
                engine: engine.chars().take(64).collect(),
            });
        }
        let host =
            text("host", "host is not a string")?.ok_or_else(|| malformed("host is missing"))?;
        let username = text("username", "username is not a string")?
            .ok_or_else(|| malformed("username is missing"))?;
        let password = Zeroizing::new(
            text("password", "password is not a string")?
                .ok_or_else(|| malformed("password is missing"))?,
        );
        let port = match fields.get("port") {
            None | Some(Value::Null) => 5432,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| malformed("port is not a TCP port"))?,
            Some(Value::String(s)) => s.parse().map_err(|_| malformed("port is not a TCP port"))?,
            Some(_) => return Err(malformed("port is not a TCP port")),
        };
        let dbname = text("dbname", "dbname is not a string")?;
        let masterarn = text("masterarn", "masterarn is not a string")?;
        // The password lives only in the zeroizing field; `with_login` writes it back.
        fields.remove("password");
        Ok(Self {
            host,
            port,
            username,
            password,
            dbname,
            masterarn,
            fields,
        })
    }

    /// The database host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The database port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The role name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The database to connect to (`postgres` when the secret names none).
    pub fn dbname(&self) -> &str {
        self.dbname.as_deref().unwrap_or("postgres")
    }

    /// The password. Callers must not log it.
    pub fn expose_password(&self) -> &str {
        &self.password
    }

    /// The JSON `SecretString` of these credentials with `username` and `password` replaced:
    /// the pending value `createSecret` stores.
    fn with_login(&self, username: &str, password: &str) -> Result<SecretValue, Error> {
        let mut fields = self.fields.clone();
        fields.insert("username".into(), Value::String(username.to_owned()));
        fields.insert("password".into(), Value::String(password.to_owned()));
        let text = serde_json::to_string(&Value::Object(fields)).map_err(Error::internal)?;
        Ok(SecretValue::new(text))
    }
}

/// The other user of an alternating pair: `USER` ↔ `USER_clone`. Fails when `USER_clone` would
/// exceed PostgreSQL's 63-byte identifiers.
pub fn alternate_username(username: &str) -> Result<String, Error> {
    if let Some(base) = username.strip_suffix(CLONE_SUFFIX) {
        return Ok(base.to_owned());
    }
    let clone = format!("{username}{CLONE_SUFFIX}");
    if clone.len() > MAX_ROLE_NAME_LEN {
        return Err(Error::UsernameTooLong {
            username: username.to_owned(),
        });
    }
    Ok(clone)
}

/// How the rotator changes credentials.
pub enum PostgresStrategy {
    /// One user whose password changes (`ALTER ROLE ... PASSWORD` as that user).
    SingleUser,
    /// Two users, `USER` and `USER_clone`, used in turn; the master user creates the clone and
    /// sets passwords. `master`: the master credentials from configuration, or `None` to read
    /// `AWSCURRENT` of the secret named by the current value's `masterarn` field.
    AlternatingUsers {
        /// Master (superuser or `CREATEROLE`) credentials given by configuration.
        master: Option<DatabaseCredentials>,
    },
}

/// The built-in PostgreSQL rotator.
pub struct PostgresRotator {
    strategy: PostgresStrategy,
    password_options: PasswordOptions,
    connect_timeout: Duration,
}

impl PostgresRotator {
    /// A single-user rotator with AWS's template defaults: 32-character passwords without
    /// ``:/@"'\``, and a 5 s connect timeout.
    pub fn single_user() -> Self {
        Self::new(PostgresStrategy::SingleUser)
    }

    /// An alternating-users rotator (see [`PostgresStrategy::AlternatingUsers`]).
    pub fn alternating_users(master: Option<DatabaseCredentials>) -> Self {
        Self::new(PostgresStrategy::AlternatingUsers { master })
    }

    /// A rotator with `strategy` and the defaults of [`PostgresRotator::single_user`].
    pub fn new(strategy: PostgresStrategy) -> Self {
        Self {
            strategy,
            password_options: PasswordOptions {
                exclude_characters: DEFAULT_EXCLUDED.to_owned(),
                ..PasswordOptions::default()
            },
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Uses `options` for new passwords.
    pub fn with_password_options(mut self, options: PasswordOptions) -> Self {
        self.password_options = options;
        self
    }

    /// Gives up connecting after `timeout`.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    fn alternating(&self) -> bool {
        matches!(self.strategy, PostgresStrategy::AlternatingUsers { .. })
    }

    async fn credentials(
        access: &dyn SecretAccess,
        secret_id: &str,
        stage: &'static str,
        token: Option<&str>,
    ) -> Result<Option<DatabaseCredentials>, Error> {
        let value = match token {
            Some(token) => {
                access
                    .value_by_version(secret_id, token, Some(stage))
                    .await?
            }
            None => access.value_by_stage(secret_id, stage).await?,
        };
        value
            .map(|v| DatabaseCredentials::parse(secret_id, &v))
            .transpose()
    }

    async fn required(
        access: &dyn SecretAccess,
        secret_id: &str,
        stage: &'static str,
        token: Option<&str>,
    ) -> Result<DatabaseCredentials, Error> {
        Self::credentials(access, secret_id, stage, token)
            .await?
            .ok_or_else(|| Error::ValueMissing {
                secret_id: secret_id.to_owned(),
                stage,
            })
    }

    async fn connect(
        &self,
        credentials: &DatabaseCredentials,
    ) -> Result<Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(credentials.host())
            .port(credentials.port())
            .user(credentials.username())
            .password(credentials.expose_password())
            .dbname(credentials.dbname())
            .connect_timeout(self.connect_timeout)
            .application_name("keystead-rotation");
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "rotation database connection closed with an error");
            }
        });
        Ok(client)
    }

    /// Connects, or says why not at debug level (a failed login is an expected outcome here).
    async fn try_connect(&self, credentials: &DatabaseCredentials, label: &str) -> Option<Client> {
        match self.connect(credentials).await {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::debug!(user = credentials.username(), label, %error, "login failed");
                None
            }
        }
    }

    async fn create_secret(
        &self,
        access: &dyn SecretAccess,
        secret_id: &str,
        token: &str,
    ) -> Result<(), Error> {
        let current = Self::required(access, secret_id, AWSCURRENT, None).await?;
        if access
            .value_by_version(secret_id, token, Some(AWSPENDING))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let username = if self.alternating() {
            alternate_username(current.username())?
        } else {
            current.username().to_owned()
        };
        let password = generate_password(&self.password_options)?;
        let pending = current.with_login(&username, &password)?;
        access.put_pending(secret_id, token, &pending).await
    }

    async fn set_secret(
        &self,
        access: &dyn SecretAccess,
        secret_id: &str,
        token: &str,
    ) -> Result<(), Error> {
        let current = Self::required(access, secret_id, AWSCURRENT, None).await?;
        let pending = Self::required(access, secret_id, AWSPENDING, Some(token)).await?;
        if self.try_connect(&pending, AWSPENDING).await.is_some() {
            return Ok(());
        }
        let expected_user = if self.alternating() {
            alternate_username(current.username())?
        } else {
            current.username().to_owned()
        };
        if pending.username() != expected_user || pending.host() != current.host() {
            return Err(Error::PendingMismatch {
                secret_id: secret_id.to_owned(),
            });
        }
        match &self.strategy {
            PostgresStrategy::SingleUser => {
                let client = match self.try_connect(&current, AWSCURRENT).await {
                    Some(client) => client,
                    None => {
                        let previous = Self::credentials(access, secret_id, AWSPREVIOUS, None)
                            .await?
                            .filter(|p| {
                                p.username() == current.username() && p.host() == current.host()
                            });
                        let client = match &previous {
                            Some(previous) => self.try_connect(previous, AWSPREVIOUS).await,
                            None => None,
                        };
                        client.ok_or_else(|| Error::LoginFailed {
                            secret_id: secret_id.to_owned(),
                            stage: "AWSCURRENT or AWSPREVIOUS",
                        })?
                    }
                };
                set_password(&client, pending.username(), pending.expose_password()).await
            }
            PostgresStrategy::AlternatingUsers { master } => {
                // Log in with the current credentials first: the rotation must not be usable to
                // take over a role the secret's owner cannot use (AWS's confused-deputy check).
                if self.try_connect(&current, AWSCURRENT).await.is_none() {
                    return Err(Error::LoginFailed {
                        secret_id: secret_id.to_owned(),
                        stage: AWSCURRENT,
                    });
                }
                let loaded;
                let master = match master {
                    Some(master) => master,
                    None => {
                        let master_id = current.masterarn.clone().ok_or_else(|| {
                            Error::MalformedSecret {
                                secret_id: secret_id.to_owned(),
                                reason: "masterarn is missing (alternating users needs a master)",
                            }
                        })?;
                        let mut credentials =
                            Self::required(access, &master_id, AWSCURRENT, None).await?;
                        credentials.dbname = current.dbname.clone();
                        loaded = credentials;
                        &loaded
                    }
                };
                if master.host() != current.host() {
                    return Err(Error::PendingMismatch {
                        secret_id: secret_id.to_owned(),
                    });
                }
                let client =
                    self.try_connect(master, "master")
                        .await
                        .ok_or_else(|| Error::LoginFailed {
                            secret_id: secret_id.to_owned(),
                            stage: "master",
                        })?;
                let exists = client
                    .query_opt(
                        "SELECT 1 FROM pg_roles WHERE rolname = $1",
                        &[&pending.username()],
                    )
                    .await
                    .map_err(|source| Error::Database {
                        operation: "look up the role",
                        source,
                    })?
                    .is_some();
                if exists {
                    set_password(&client, pending.username(), pending.expose_password()).await
                } else {
                    let statement = quoted(
                        &client,
                        "SELECT format('CREATE ROLE %I WITH LOGIN PASSWORD %L; GRANT %I TO %I', \
                         $1::text, $2::text, $3::text, $1::text)",
                        &[
                            &pending.username(),
                            &pending.expose_password(),
                            &current.username(),
                        ],
                    )
                    .await?;
                    client
                        .batch_execute(&Zeroizing::new(format!(
                            "BEGIN; {}; COMMIT",
                            statement.as_str()
                        )))
                        .await
                        .map_err(|source| Error::Database {
                            operation: "create the alternate role",
                            source,
                        })
                }
            }
        }
    }

    async fn test_secret(
        &self,
        access: &dyn SecretAccess,
        secret_id: &str,
        token: &str,
    ) -> Result<(), Error> {
        let pending = Self::required(access, secret_id, AWSPENDING, Some(token)).await?;
        let client = self
            .try_connect(&pending, AWSPENDING)
            .await
            .ok_or_else(|| Error::LoginFailed {
                secret_id: secret_id.to_owned(),
                stage: AWSPENDING,
            })?;
        client
            .query_one("SELECT 1", &[])
            .await
            .map_err(|source| Error::Database {
                operation: "run SELECT 1 as the pending user",
                source,
            })?;
        Ok(())
    }
}

/// Builds a statement with the server's own quoting (`format` with `%I`/`%L`).
async fn quoted(
    client: &Client,
    query: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Zeroizing<String>, Error> {
    let row = client
        .query_one(query, params)
        .await
        .map_err(|source| Error::Database {
            operation: "quote the statement",
            source,
        })?;
    let statement: String = row.try_get(0).map_err(|source| Error::Database {
        operation: "quote the statement",
        source,
    })?;
    Ok(Zeroizing::new(statement))
}

async fn set_password(client: &Client, username: &str, password: &str) -> Result<(), Error> {
    let statement = quoted(
        client,
        "SELECT format('ALTER ROLE %I WITH PASSWORD %L', $1::text, $2::text)",
        &[&username, &password],
    )
    .await?;
    client
        .batch_execute(statement.as_str())
        .await
        .map_err(|source| Error::Database {
            operation: "set the password",
            source,
        })
}

#[async_trait]
impl Rotator for PostgresRotator {
    async fn run_step(
        &self,
        step: Step,
        secret_id: &str,
        token: &str,
        access: &dyn SecretAccess,
    ) -> Result<(), Error> {
        match pending_state(access, secret_id, token).await? {
            PendingState::AlreadyCurrent => return Ok(()),
            PendingState::Absent if step != Step::CreateSecret => {
                return Err(Error::VersionNotPending {
                    secret_id: secret_id.to_owned(),
                    version_id: token.to_owned(),
                });
            }
            PendingState::Absent | PendingState::Pending => {}
        }
        match step {
            Step::CreateSecret => self.create_secret(access, secret_id, token).await,
            Step::SetSecret => self.set_secret(access, secret_id, token).await,
            Step::TestSecret => self.test_secret(access, secret_id, token).await,
            Step::FinishSecret => access.finish(secret_id, token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_usernames_flip_between_user_and_clone() {
        assert_eq!(alternate_username("app").expect("ok"), "app_clone");
        assert_eq!(alternate_username("app_clone").expect("ok"), "app");
        assert!(alternate_username(&"x".repeat(58)).is_err());
        assert_eq!(alternate_username(&"x".repeat(57)).expect("ok").len(), 63);
    }

    #[test]
    fn credentials_parse_the_documented_shape_and_keep_other_fields() {
        let value = SecretValue::new(
            r#"{"engine":"postgres","host":"db","port":"6543","username":"app","password":"p",
                "dbname":"contacts","note":"kept"}"#,
        );
        let c = DatabaseCredentials::parse("s", &value).expect("valid");
        assert_eq!((c.host(), c.port(), c.username()), ("db", 6543, "app"));
        assert_eq!((c.dbname(), c.expose_password()), ("contacts", "p"));
        let out = c.with_login("app_clone", "q").expect("json");
        let json: Value = serde_json::from_str(out.expose()).expect("json");
        assert_eq!(json["username"], "app_clone");
        assert_eq!(json["password"], "q");
        assert_eq!(json["note"], "kept");
        assert_eq!(json["port"], "6543");
    }

    #[test]
    fn credentials_reject_other_engines_and_missing_fields() {
        let parse = |s: &str| DatabaseCredentials::parse("s", &SecretValue::new(s));
        assert!(matches!(
            parse(r#"{"engine":"mysql","host":"h","username":"u","password":"p"}"#),
            Err(Error::UnsupportedEngine { .. })
        ));
        assert!(matches!(
            parse(r#"{"engine":"postgres","host":"h","password":"p"}"#),
            Err(Error::MalformedSecret { .. })
        ));
        assert!(matches!(
            parse("not json"),
            Err(Error::MalformedSecret { .. })
        ));
        assert!(matches!(
            parse(r#"{"engine":"postgres","host":"h","username":"u","password":"p","port":70000}"#),
            Err(Error::MalformedSecret { .. })
        ));
        let c = parse(r#"{"engine":"aurora-postgresql","host":"h","username":"u","password":"p"}"#)
            .expect("defaults");
        assert_eq!((c.port(), c.dbname()), (5432, "postgres"));
    }

    #[test]
    fn every_postgres_engine_name_is_accepted_and_no_other() {
        for engine in ["postgres", "postgresql", "aurora-postgresql"] {
            assert!(is_postgres_engine(engine), "{engine}");
            let json =
                format!(r#"{{"engine":"{engine}","host":"h","username":"u","password":"p"}}"#);
            let c = DatabaseCredentials::parse("s", &SecretValue::new(json)).expect(engine);
            assert_eq!(c.username(), "u");
        }
        for engine in ["mysql", "Postgres", "postgres ", "aurora-mysql", ""] {
            assert!(!is_postgres_engine(engine), "{engine:?}");
        }
    }
}

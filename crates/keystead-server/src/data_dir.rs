//! The data directory: its layout, its one-time initialization, and opening it to serve.
//!
//! ```text
//! DATA_DIR/            mode 0700
//!   root.key           the root key every key version is sealed under (mode 0600)
//!   keystead.db        the SQLite store (mode 0600)
//!   credentials        the first account's root access key, AWS CLI format (mode 0600)
//!   audit-signing.key  the audit digests' Ed25519 key, sealed under the root key (mode 0600)
//!   audit/             the audit trail (logs/, digests/, the lookup index)
//! ```
//!
//! The audit signing key file is one line, the seed sealed with
//! [`RootKey::seal_secret`] under the label [`AUDIT_SIGNING_KEY_LABEL`]:
//! ```text
//! file = "keystead-sealed-ed25519-key-v1:" 1*HEXDIG [LF]   ; hex of the sealed seed
//! ```
//!
//! Initialization is idempotent and crash-safe: each step checks what exists, and the store's
//! `first_account` metadata, written last, is what marks the directory initialized. A directory
//! that has a database but no root key is refused rather than given a new root key, which would
//! make every sealed key unreadable.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keystead_crypto::RootKey;
use keystead_store::{AccessKeyRecord, AccessKeyStatus, AccountRecord, Store};
use keystead_store_sqlite::SqliteStore;
use keystead_types::{AccountId, Clock};
use zeroize::Zeroizing;

/// The profile name written to the credentials file.
pub const PROFILE: &str = "keystead";
const METADATA_FIRST_ACCOUNT: &str = "first_account";

/// Why the data directory cannot be initialized or opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be created, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database exists but the root key does not.
    #[error(
        "{root_key} is missing but {database} exists: refusing to create a new root key, which \
         would make every stored key unreadable. Restore the root key file."
    )]
    RootKeyMissing {
        /// The expected root key path.
        root_key: PathBuf,
        /// The database path.
        database: PathBuf,
    },
    /// `keystead account create` on a directory that `keystead init` has not initialized.
    #[error("{path} is not an initialized keystead data directory: run keystead init first")]
    NotInitialized {
        /// The data directory.
        path: PathBuf,
    },
    /// `keystead init` on a directory that is already initialized.
    #[error("{path} is already initialized (first account {account_id})")]
    AlreadyInitialized {
        /// The data directory.
        path: PathBuf,
        /// Its first account.
        account_id: String,
    },
    /// The root key file is unusable.
    #[error(transparent)]
    Crypto(#[from] keystead_crypto::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] keystead_store::Error),
    /// The audit signing key file is unusable: malformed, or sealed under another root key.
    #[error("{path}: {source}")]
    AuditSigningKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: keystead_crypto::SigningError,
    },
}

/// A new account's root credentials, made by initialization or `keystead account create`.
/// Shown once.
pub struct NewAccount {
    /// The 12-digit account id.
    pub account_id: AccountId,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key. Printed once and written to the credentials file; stored only
    /// sealed.
    pub secret_access_key: Zeroizing<String>,
    /// Where the credentials were written.
    pub credentials_file: PathBuf,
    /// The profile they were written as.
    pub profile: String,
}

impl NewAccount {
    /// What to tell the person who created the account, including the secret: shown once, on
    /// standard output.
    pub fn announcement(&self) -> String {
        let file = self.credentials_file.display();
        let profile = &self.profile;
        format!(
            "account id:            {}\n\
             aws_access_key_id:     {}\n\
             aws_secret_access_key: {}\n\
             These credentials are shown once. They are saved as profile '{profile}' in {file}:\n\
             export AWS_SHARED_CREDENTIALS_FILE={file} AWS_PROFILE={profile}",
            self.account_id,
            self.access_key_id,
            self.secret_access_key.as_str(),
        )
    }
}

/// An opened data directory.
pub struct Opened {
    /// The root key.
    pub root_key: Arc<RootKey>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Set when this open initialized the directory.
    pub initialized: Option<NewAccount>,
}

/// Paths inside a data directory.
pub fn root_key_path(dir: &Path) -> PathBuf {
    dir.join("root.key")
}

/// The SQLite database path.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join("keystead.db")
}

/// The credentials file path.
pub fn credentials_path(dir: &Path) -> PathBuf {
    dir.join("credentials")
}

/// The audit trail's directory (`logs/`, `digests/` and the lookup index live under it).
pub fn audit_dir(dir: &Path) -> PathBuf {
    dir.join("audit")
}

/// The file holding the Ed25519 key that signs the audit trail's digests (0600).
pub fn audit_signing_key_path(dir: &Path) -> PathBuf {
    dir.join("audit-signing.key")
}

/// The label the audit signing key's seed is sealed under (see [`RootKey::seal_secret`]).
pub const AUDIT_SIGNING_KEY_LABEL: &[u8] = b"audit-signing-key/v1";
/// The first bytes of the sealed audit signing key file.
const SEALED_SIGNING_KEY_PREFIX: &str = "keystead-sealed-ed25519-key-v1:";
/// Longest sealed key file accepted (the sealed seed is well under 100 bytes).
const MAX_SEALED_KEY_FILE: u64 = 1024;

/// Loads the audit trail's digest signing key from `dir`'s `audit-signing.key`, unsealing it
/// with `root` (the data directory's root key). For `keystead audit public-key` and the server.
pub fn load_audit_signing_key(
    dir: &Path,
    root: &RootKey,
) -> Result<keystead_crypto::SigningKey, Error> {
    use std::io::Read;
    let path = audit_signing_key_path(dir);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let malformed = || Error::AuditSigningKey {
        path: path.clone(),
        source: keystead_crypto::SigningError::MalformedKeyFile {
            path: path.clone(),
            reason: "expected one line keystead-sealed-ed25519-key-v1:<hex>",
        },
    };
    let mut text = String::new();
    std::fs::File::open(&path)
        .map_err(io)?
        .take(MAX_SEALED_KEY_FILE)
        .read_to_string(&mut text)
        .map_err(|_| malformed())?;
    let digits = text
        .trim_end_matches('\n')
        .strip_prefix(SEALED_SIGNING_KEY_PREFIX)
        .ok_or_else(malformed)?;
    let sealed = hex_decode(digits).ok_or_else(malformed)?;
    keystead_crypto::SigningKey::from_sealed(&sealed, root, AUDIT_SIGNING_KEY_LABEL).map_err(
        |source| Error::AuditSigningKey {
            path: path.clone(),
            source,
        },
    )
}

/// Loads the audit signing key, creating it (sealed, mode 0600, synced with its directory) when
/// `dir` has none yet.
pub fn open_audit_signing_key(
    dir: &Path,
    root: &RootKey,
) -> Result<keystead_crypto::SigningKey, Error> {
    let path = audit_signing_key_path(dir);
    if path.exists() {
        return load_audit_signing_key(dir, root);
    }
    let (key, sealed) = keystead_crypto::SigningKey::generate_sealed(root, AUDIT_SIGNING_KEY_LABEL)
        .map_err(|source| Error::AuditSigningKey {
            path: path.clone(),
            source,
        })?;
    let mut line = String::with_capacity(SEALED_SIGNING_KEY_PREFIX.len() + 2 * sealed.len() + 1);
    line.push_str(SEALED_SIGNING_KEY_PREFIX);
    for byte in &sealed {
        line.push_str(&format!("{byte:02x}"));
    }
    line.push('\n');
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(key)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The first account of an initialized directory's store.
pub(crate) async fn first_account(store: &dyn Store) -> Result<Option<AccountId>, Error> {
    Ok(store
        .metadata(METADATA_FIRST_ACCOUNT)
        .await?
        .and_then(|v| v.parse().ok()))
}

/// `keystead init`: initializes `dir`, failing if it already is.
pub async fn init(dir: &Path, clock: &dyn Clock) -> Result<NewAccount, Error> {
    let opened = open(dir, clock).await?;
    match opened.initialized {
        Some(first) => Ok(first),
        None => Err(Error::AlreadyInitialized {
            path: dir.to_owned(),
            account_id: opened
                .store
                .metadata(METADATA_FIRST_ACCOUNT)
                .await?
                .unwrap_or_default(),
        }),
    }
}

/// Opens `dir` to serve, initializing it first if it is new or a previous initialization was
/// interrupted.
pub async fn open(dir: &Path, clock: &dyn Clock) -> Result<Opened, Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
    let root_path = root_key_path(dir);
    let db_path = database_path(dir);
    let root_key = if root_path.exists() {
        RootKey::load(&root_path)?
    } else if db_path.exists() {
        return Err(Error::RootKeyMissing {
            root_key: root_path,
            database: db_path,
        });
    } else {
        RootKey::create(&root_path)?
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db_path)?);
    let initialized = if store.metadata(METADATA_FIRST_ACCOUNT).await?.is_some() {
        None
    } else {
        Some(create_first_account(dir, &root_key, store.as_ref(), clock).await?)
    };
    Ok(Opened {
        root_key: Arc::new(root_key),
        store,
        initialized,
    })
}

/// `keystead account create`: a further account with its own root access key, saved as profile
/// `keystead-ACCOUNT` in the credentials file. A running server learns of it at its next start.
pub async fn create_account(dir: &Path, clock: &dyn Clock) -> Result<NewAccount, Error> {
    let root_path = root_key_path(dir);
    let db_path = database_path(dir);
    if !root_path.exists() || !db_path.exists() {
        return Err(Error::NotInitialized {
            path: dir.to_owned(),
        });
    }
    let root_key = RootKey::load(&root_path)?;
    let store = SqliteStore::open(&db_path)?;
    if store.metadata(METADATA_FIRST_ACCOUNT).await?.is_none() {
        return Err(Error::NotInitialized {
            path: dir.to_owned(),
        });
    }
    let account_id = random_account_id()?;
    let profile = format!("{PROFILE}-{account_id}");
    new_account(dir, &root_key, &store, clock, account_id, profile).await
}

async fn create_first_account(
    dir: &Path,
    root_key: &RootKey,
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<NewAccount, Error> {
    let account_id = random_account_id()?;
    let account = new_account(dir, root_key, store, clock, account_id, PROFILE.to_owned()).await?;
    store
        .set_metadata(METADATA_FIRST_ACCOUNT, account.account_id.as_str())
        .await?;
    Ok(account)
}

/// Creates `account_id` with a root access key, writing the credentials file first (so a
/// crash can lose only an account nobody has credentials for, never credentials for no
/// account).
async fn new_account(
    dir: &Path,
    root_key: &RootKey,
    store: &dyn Store,
    clock: &dyn Clock,
    account_id: AccountId,
    profile: String,
) -> Result<NewAccount, Error> {
    let (access_key_id, secret_access_key) = keystead_identity::new_access_key()?;
    let credentials_file = credentials_path(dir);
    write_credentials_file(
        &credentials_file,
        &profile,
        &access_key_id,
        &secret_access_key,
    )?;
    let now = clock.now();
    let record = AccessKeyRecord {
        access_key_id: access_key_id.clone(),
        account_id: account_id.clone(),
        sealed_secret: root_key
            .seal_secret(secret_access_key.as_bytes(), access_key_id.as_bytes())?,
        status: AccessKeyStatus::Active,
        created_at: now,
    };
    store
        .create_account(
            &AccountRecord {
                account_id: account_id.clone(),
                created_at: now,
            },
            &[record],
        )
        .await?;
    Ok(NewAccount {
        account_id,
        access_key_id,
        secret_access_key,
        credentials_file,
        profile,
    })
}

/// A random 12-digit account id.
fn random_account_id() -> Result<AccountId, Error> {
    let bytes = keystead_crypto::random_array::<12>()?;
    let digits: String = bytes.iter().map(|b| char::from(b'0' + b % 10)).collect();
    Ok(digits
        .parse()
        .expect("twelve ASCII digits are an account id"))
}

/// Adds (or replaces) `profile` in the AWS CLI credentials file (mode 0600), through a temporary
/// file and a rename, so a crash leaves either the old file or the new one.
fn write_credentials_file(
    path: &Path,
    profile: &str,
    access_key_id: &str,
    secret: &str,
) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Zeroizing::new(String::new()),
        Err(e) => return Err(io(e)),
    };
    let mut text = Zeroizing::new(without_profile(&existing, profile));
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push_str(&format!(
        "[{profile}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
    ));
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// `text` without the section `[profile]`.
fn without_profile(text: &str, profile: &str) -> String {
    let header = format!("[{profile}]");
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use keystead_types::SystemClock;

    use super::*;

    #[tokio::test]
    async fn init_creates_private_files_and_credentials_once() {
        let dir = tempfile::tempdir().expect("temp");
        let data = dir.path().join("data");
        let clock = SystemClock::default();
        let first = init(&data, &clock).await.expect("init");
        assert_eq!(first.access_key_id.len(), 20);
        assert!(first.access_key_id.starts_with("AKIA"));
        assert_eq!(first.secret_access_key.len(), 40);
        for (path, mode) in [
            (data.clone(), 0o700),
            (root_key_path(&data), 0o600),
            (database_path(&data), 0o600),
            (credentials_path(&data), 0o600),
        ] {
            let actual = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(actual, mode, "{}", path.display());
        }
        let creds = std::fs::read_to_string(credentials_path(&data)).expect("read");
        assert!(creds.starts_with("[keystead]\n"));
        assert!(creds.contains(first.secret_access_key.as_str()));

        let again = init(&data, &clock).await.err().expect("second init fails");
        assert!(matches!(again, Error::AlreadyInitialized { .. }), "{again}");
        let opened = open(&data, &clock).await.expect("open");
        assert!(opened.initialized.is_none(), "opening never re-initializes");
        let snapshot = opened.store.load().await.expect("load");
        assert_eq!(snapshot.accounts.len(), 1);
        assert_eq!(snapshot.access_keys[0].access_key_id, first.access_key_id);
        assert!(
            !snapshot.access_keys[0]
                .sealed_secret
                .windows(40)
                .any(|w| w == first.secret_access_key.as_bytes()),
            "the secret is stored sealed"
        );
    }

    #[tokio::test]
    async fn account_create_adds_an_account_and_a_profile_beside_the_first() {
        let dir = tempfile::tempdir().expect("temp");
        let clock = SystemClock::default();
        let e = create_account(dir.path(), &clock)
            .await
            .err()
            .expect("not initialized");
        assert!(matches!(e, Error::NotInitialized { .. }), "{e}");

        let first = init(dir.path(), &clock).await.expect("init");
        let second = create_account(dir.path(), &clock).await.expect("create");
        assert_ne!(second.account_id, first.account_id);
        assert_ne!(second.access_key_id, first.access_key_id);
        assert_eq!(second.profile, format!("keystead-{}", second.account_id));
        let creds = std::fs::read_to_string(credentials_path(dir.path())).expect("read");
        for (profile, key) in [
            ("[keystead]", &first.access_key_id),
            (&*format!("[{}]", second.profile), &second.access_key_id),
        ] {
            let at = creds.find(profile).expect("profile present");
            assert!(creds[at..].contains(key.as_str()), "{profile} has its key");
        }
        let mode = std::fs::metadata(credentials_path(dir.path())).expect("meta");
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);

        let opened = open(dir.path(), &clock).await.expect("open");
        assert!(opened.initialized.is_none(), "still the same deployment");
        let snapshot = opened.store.load().await.expect("load");
        assert_eq!(snapshot.accounts.len(), 2);
        assert_eq!(snapshot.access_keys.len(), 2);
    }

    #[tokio::test]
    async fn the_audit_signing_key_is_stored_sealed_and_loads_only_under_its_root_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootKey::ephemeral().expect("root");
        let created = open_audit_signing_key(dir.path(), &root).expect("create");
        let path = audit_signing_key_path(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with(SEALED_SIGNING_KEY_PREFIX));
        let mode = std::fs::metadata(&path).expect("metadata").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let loaded = load_audit_signing_key(dir.path(), &root).expect("load");
        assert_eq!(created.public_key_der(), loaded.public_key_der());
        let again = open_audit_signing_key(dir.path(), &root).expect("reopen");
        assert_eq!(created.public_key_der(), again.public_key_der());
        let other = RootKey::ephemeral().expect("root");
        assert!(matches!(
            load_audit_signing_key(dir.path(), &other),
            Err(Error::AuditSigningKey { .. })
        ));
        std::fs::write(&path, "keystead-ed25519-key-v1:00\n").expect("write");
        assert!(matches!(
            load_audit_signing_key(dir.path(), &root),
            Err(Error::AuditSigningKey { .. })
        ));
    }

    #[tokio::test]
    async fn a_database_without_its_root_key_is_refused() {
        let dir = tempfile::tempdir().expect("temp");
        let clock = SystemClock::default();
        init(dir.path(), &clock).await.expect("init");
        std::fs::remove_file(root_key_path(dir.path())).expect("remove");
        let e = open(dir.path(), &clock).await.err().expect("refused");
        assert!(matches!(e, Error::RootKeyMissing { .. }), "{e}");
    }
}

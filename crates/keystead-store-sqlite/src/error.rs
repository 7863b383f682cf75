//! Why opening a database failed, carried as the source of [`keystead_store::Error::Unavailable`].
//!
//! Every method of this crate returns [`keystead_store::Error`], the error all backends share;
//! this type only adds the database path and the reason to failures of
//! [`crate::SqliteStore::open`], so `keystead serve` can say which file is wrong and why.

use std::path::PathBuf;

/// What went wrong opening a database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The file or its directory could not be created, inspected or given mode 0600.
    #[error("cannot prepare database file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused the file: not a database, corrupt, locked, read-only, ...
    #[error("cannot open database {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The file is a SQLite database of some other application.
    #[error("{path} is not a keystead database: {reason}")]
    Foreign { path: PathBuf, reason: String },
    /// The database was migrated by a newer keystead.
    #[error(
        "database {path} has schema migration {id}, but this keystead knows only up to \
         {latest}; it was written by a newer keystead"
    )]
    Newer { path: PathBuf, id: i64, latest: i64 },
    /// The file system does not support write-ahead logging.
    #[error("cannot use write-ahead logging for {path}: journal mode is {mode}")]
    JournalMode { path: PathBuf, mode: String },
}

impl From<OpenError> for keystead_store::Error {
    fn from(e: OpenError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// Wraps a database error from an operation on an open store.
pub(crate) fn unavailable(e: rusqlite::Error) -> keystead_store::Error {
    keystead_store::Error::Unavailable(Box::new(e))
}

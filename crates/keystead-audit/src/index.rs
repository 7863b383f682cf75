//! The lookup index: derived data that answers CloudTrail `LookupEvents` queries
//! ([`AuditLog::lookup`]) without reading the whole trail.
//!
//! The index is a SQLite file, `<dir>/index.sqlite`, that maps every `LookupAttributes` key
//! (and `eventTime` and `recipientAccountId`) to the record's place in its log file. The log is
//! the truth: the index holds no record contents, a lookup reads each record back from its log
//! file, and the index is rebuilt, or caught up, from the log files whenever it is missing,
//! damaged or behind (a crash between a batch's fsync and its index transaction).
//!
//! One indexer thread owns the write connection. The log writer hands it each batch after the
//! batch's fsync; the indexer inserts batches in transactions of up to 250 ms, without fsync
//! (`synchronous=OFF`: a transaction lost to a crash is caught up from the log at the next
//! open). A lookup asks for a commit and waits (at most 2 s) until every record acknowledged
//! before it was called is indexed, so a caller reads its own writes.
//!
//! This module must never make the log fail: an index that cannot be opened or written makes
//! lookups fail ([`Error::IndexUnavailable`]) and nothing else.
//!
//! Every lookup key of a record is one small row of one table, `entries(name, time, seq)`,
//! whose `name` is an integer: the id of an `(account, kind, value)` in `names` (ids are
//! cached by the indexer, so a record costs no string look-up), or, for an `eventID` (unique,
//! so not worth a `names` row), 63 bits of a SHA-256 of the account and the id, negative, and
//! checked against the record read back. A record is thus one `events` row and about ten
//! integer `entries` rows, most of them appended at the end of their name's range; a lookup
//! walks one name's range in `(time, seq)` order, newest first.
//!
//! ```text
//! events(seq PK, file_seq, offset, len)               ; one row per record
//! entries(name, time, seq) PK all                     ; one row per lookup key of a record
//! names(id PK, account, kind, value) UNIQUE(account, kind, value)
//!     ; kind 0 = every record of the account (value ""), 1 = eventName, 2 = readOnly
//!     ; ("true"/"false"), 3 = username, 4 = eventSource, 5 = accessKeyId,
//!     ; 6 = resource type, 7 = resource name (ARN, and a KMS key's id)
//! event id name = -1 - (u64be(SHA-256("keystead/lookup-event-id/v1" LF account LF id)[..8]) >> 1)
//! files(file_seq PK, name)
//! meta(key PK, value)                                 ; schema_version = 2
//! next_token = hex(time ":" seq ":" hex(SHA-256(query)[..8]))
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use keystead_crypto::digest::StreamingSha256;
use keystead_types::UnixMillis;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::chain;
use crate::event::{AuditEvent, IdentityType, UserIdentity};
use crate::layout::{self, Named};
use crate::{AuditLog, Error};

/// The index file's name in the trail directory.
pub(crate) const INDEX_FILE: &str = "index.sqlite";
/// Bumped when the schema changes; an index of another version is rebuilt.
const SCHEMA_VERSION: i64 = 2;
/// CloudTrail's default and largest page.
const DEFAULT_PAGE: usize = 50;
/// The largest page this crate serves (the server applies CloudTrail's own limit).
const MAX_PAGE: usize = 1000;
/// How long a lookup waits for the indexer to reach what was acknowledged before it.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
/// Records per transaction while catching up from the log files.
const CATCH_UP_CHUNK: usize = 20_000;
/// Longest a transaction of the indexer stays open while records keep coming.
const COMMIT_DELAY: Duration = Duration::from_millis(250);
/// Most records in one transaction of the indexer.
const COMMIT_RECORDS: usize = 100_000;
/// `names.kind`: see the module documentation.
const KIND_ACCOUNT: i64 = 0;
const KIND_EVENT_NAME: i64 = 1;
const KIND_READ_ONLY: i64 = 2;
const KIND_USERNAME: i64 = 3;
const KIND_EVENT_SOURCE: i64 = 4;
const KIND_ACCESS_KEY_ID: i64 = 5;
const KIND_RESOURCE_TYPE: i64 = 6;
const KIND_RESOURCE_NAME: i64 = 7;

/// A `LookupEvents` query, already validated by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// Only records whose `recipientAccountId` is this account are returned.
    pub account_id: String,
    /// At most one lookup attribute, as CloudTrail allows.
    pub attribute: Option<LookupAttribute>,
    /// Only records at or after this time.
    pub start: Option<UnixMillis>,
    /// Only records at or before this time.
    pub end: Option<UnixMillis>,
    /// The page size; 0 is taken as 50 (CloudTrail's default and maximum), and at most 1000
    /// are returned.
    pub max_results: usize,
    /// The token of a previous page of the same query (same account, attribute and times).
    pub next_token: Option<String>,
}

/// One `LookupAttributes` entry: the key and the value to match exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAttribute {
    /// `eventID`.
    EventId(String),
    /// `eventName`.
    EventName(String),
    /// `readOnly`.
    ReadOnly(bool),
    /// `userIdentity.userName`; for a role session the issuer's `userName` (the role's name);
    /// `root` for a root user without a name.
    Username(String),
    /// `resources[].type`.
    ResourceType(String),
    /// `resources[].ARN`, or the key id at the end of a KMS key ARN.
    ResourceName(String),
    /// `eventSource`.
    EventSource(String),
    /// `userIdentity.accessKeyId`.
    AccessKeyId(String),
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LookupPage {
    /// The records, newest first (by `eventTime`, then by position in the trail).
    pub events: Vec<LookedUpEvent>,
    /// Present when more records may match; pass it back in [`LookupQuery::next_token`].
    pub next_token: Option<String>,
}

/// One record as `LookupEvents` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUpEvent {
    /// `eventID`.
    pub event_id: String,
    /// `eventName`.
    pub event_name: String,
    /// `readOnly`.
    pub read_only: Option<bool>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `eventTime`.
    pub event_time: UnixMillis,
    /// `eventSource`.
    pub event_source: String,
    /// The lookup `Username` (see [`LookupAttribute::Username`]).
    pub username: Option<String>,
    /// `(type, ARN)` of each of `resources` (type empty when the record has none).
    pub resources: Vec<(String, String)>,
    /// The whole record, as the JSON string CloudTrail returns.
    pub cloud_trail_event: String,
}

impl AuditLog {
    /// Answers a `LookupEvents` query from the index, newest first.
    ///
    /// Blocking (SQLite and file reads, and a wait of at most 2 s for the indexer to reach the
    /// records acknowledged before the call): call it from `spawn_blocking`. A `next_token`
    /// not issued for this query is [`Error::InvalidNextToken`]; an index that could not be
    /// opened or written, or that points at a record the log no longer has where it was, is
    /// [`Error::IndexUnavailable`].
    pub fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, Error> {
        self.index
            .lookup(query, self.acknowledged_seq(), self.index_flush.as_ref())
    }
}

/// The fields of a record the index keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexKeys {
    account: String,
    time: i64,
    event_id: String,
    event_name: String,
    read_only: bool,
    username: Option<String>,
    event_source: String,
    access_key_id: Option<String>,
    /// (type, ARN)
    resources: Vec<(Option<String>, String)>,
}

impl IndexKeys {
    /// Takes the keys of `event`.
    pub(crate) fn of(event: &AuditEvent) -> Self {
        Self {
            account: event.recipient_account_id.clone(),
            time: millis(event.event_time),
            event_id: event.event_id.clone(),
            event_name: event.event_name.clone(),
            read_only: event.read_only,
            username: lookup_username(&event.user_identity),
            event_source: event.event_source.clone(),
            access_key_id: event.user_identity.access_key_id.clone(),
            resources: event
                .resources
                .iter()
                .map(|r| (r.resource_type.clone(), r.arn.clone()))
                .collect(),
        }
    }

    /// Takes the keys of a record read back from a log file.
    fn parse(event: &[u8]) -> Option<Self> {
        serde_json::from_slice::<AuditEvent>(event)
            .ok()
            .map(|e| Self::of(&e))
    }
}

/// The lookup `Username` of an identity, as CloudTrail fills it.
fn lookup_username(identity: &UserIdentity) -> Option<String> {
    if let Some(name) = &identity.user_name {
        return Some(name.clone());
    }
    if let Some(issuer) = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        && !issuer.user_name.is_empty()
    {
        return Some(issuer.user_name.clone());
    }
    (identity.identity_type == Some(IdentityType::Root)).then(|| "root".to_owned())
}

/// The names a resource is found under: its ARN and, for a KMS key, its key id.
fn resource_names(arn: &str) -> impl Iterator<Item = &str> {
    let key_id = arn
        .split_once(":key/")
        .filter(|_| arn.starts_with("arn:"))
        .map(|(_, id)| id);
    std::iter::once(arn).chain(key_id)
}

fn millis(time: time::OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What the indexer thread is sent.
pub(crate) enum IndexMessage {
    /// A batch the writer has synced.
    Batch(IndexBatch),
    /// A lookup is waiting: commit what is indexed.
    Flush,
    /// The records up to this number are written but were not sent (the indexer was too far
    /// behind): read them from the log files.
    Skipped(u64),
}

/// A record of a batch the writer has synced.
pub(crate) struct IndexedRecord {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) keys: IndexKeys,
}

/// A batch the writer has synced, all in one log file.
pub(crate) struct IndexBatch {
    pub(crate) file_seq: u64,
    pub(crate) file_name: String,
    pub(crate) records: Vec<IndexedRecord>,
}

/// What lookups share with the indexer thread.
pub(crate) struct Index {
    path: PathBuf,
    dir: PathBuf,
    logs: PathBuf,
    reader: Mutex<Option<Connection>>,
    progress: Mutex<Progress>,
    advanced: Condvar,
}

struct Progress {
    /// Every record up to this number is indexed (or was unreadable in the log).
    indexed: u64,
    /// Why the index is unusable, if it is.
    failed: Option<String>,
}

/// The indexer's write connection and where catching up starts, from [`Index::open`].
pub(crate) struct IndexWriter {
    conn: Option<Connection>,
    /// The ids of `names`.
    names: Names,
    /// Every record up to this number is indexed.
    indexed: u64,
    /// The log file holding the line after the last one indexed...
    resume_file_seq: u64,
    /// ...and where in it that line starts.
    resume_offset: u64,
}

impl Index {
    /// Opens (creating or rebuilding as needed) the index of the trail in `dir`, whose chain
    /// ends at `head_seq`. Never fails: an index that cannot be opened is recorded as failed,
    /// and lookups report it.
    pub(crate) fn open(dir: &Path, head_seq: u64) -> (Self, IndexWriter) {
        let path = dir.join(INDEX_FILE);
        let opened = open_writer(&path, head_seq).or_else(|_| {
            // A damaged index is derived data: start again from the log.
            remove_index(&path);
            open_writer(&path, head_seq)
        });
        let (writer, failed) = match opened {
            Ok((conn, resume, names)) => (
                IndexWriter {
                    conn: Some(conn),
                    names,
                    indexed: resume.indexed,
                    resume_file_seq: resume.file_seq,
                    resume_offset: resume.offset,
                },
                None,
            ),
            Err(e) => (
                IndexWriter {
                    conn: None,
                    names: Names::default(),
                    indexed: 0,
                    resume_file_seq: 0,
                    resume_offset: 0,
                },
                Some(e.to_string()),
            ),
        };
        let index = Self {
            path,
            dir: dir.to_owned(),
            logs: dir.join(layout::LOGS),
            reader: Mutex::new(None),
            progress: Mutex::new(Progress {
                indexed: writer.indexed,
                failed,
            }),
            advanced: Condvar::new(),
        };
        (index, writer)
    }

    /// An index that is not maintained: every lookup fails.
    pub(crate) fn disabled(dir: &Path) -> (Self, IndexWriter) {
        let index = Self {
            path: dir.join(INDEX_FILE),
            dir: dir.to_owned(),
            logs: dir.join(layout::LOGS),
            reader: Mutex::new(None),
            progress: Mutex::new(Progress {
                indexed: 0,
                failed: Some("the lookup index is disabled in the configuration".to_owned()),
            }),
            advanced: Condvar::new(),
        };
        let writer = IndexWriter {
            conn: None,
            names: Names::default(),
            indexed: 0,
            resume_file_seq: 0,
            resume_offset: 0,
        };
        (index, writer)
    }

    fn unavailable(&self, reason: impl Into<String>) -> Error {
        Error::IndexUnavailable {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn advance(&self, indexed: u64) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.indexed = progress.indexed.max(indexed);
        self.advanced.notify_all();
    }

    /// Every record up to this number is indexed.
    pub(crate) fn indexed(&self) -> u64 {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .indexed
    }

    fn fail(&self, reason: String) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        progress.failed = Some(reason);
        self.advanced.notify_all();
    }

    /// Waits until records up to `seq` are indexed (or the wait times out). Fails if the index
    /// is unusable.
    fn wait_for(&self, seq: u64) -> Result<(), Error> {
        let deadline = Instant::now() + CATCH_UP_WAIT;
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(reason) = &progress.failed {
                return Err(self.unavailable(reason.clone()));
            }
            let now = Instant::now();
            if progress.indexed >= seq || now >= deadline {
                return Ok(());
            }
            progress = self
                .advanced
                .wait_timeout(progress, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn lookup(
        &self,
        query: &LookupQuery,
        acknowledged: u64,
        flush: Option<&mpsc::Sender<IndexMessage>>,
    ) -> Result<LookupPage, Error> {
        let behind = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .indexed
            < acknowledged;
        if behind && let Some(flush) = flush {
            // An indexer that stopped has recorded why; `wait_for` reports it.
            let _ = flush.send(IndexMessage::Flush);
        }
        self.wait_for(acknowledged)?;
        let fingerprint = query_fingerprint(query);
        let after = match &query.next_token {
            Some(token) => decode_token(token, &fingerprint).ok_or(Error::InvalidNextToken)?,
            None => (i64::MAX, i64::MAX),
        };
        let limit = match query.max_results {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let start = query.start.map_or(i64::MIN, |t| t.0);
        let end = query.end.map_or(i64::MAX, |t| t.0);

        let rows = {
            let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            if reader.is_none() {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| self.unavailable(e.to_string()))?;
                *reader = Some(conn);
            }
            let conn = reader.as_ref().expect("invariant: opened just above");
            select(conn, query, start, end, after, limit + 1)
                .map_err(|e| self.unavailable(e.to_string()))?
        };

        let more = rows.len() > limit;
        let mut files: HashMap<u64, File> = HashMap::new();
        let mut events = Vec::with_capacity(rows.len().min(limit));
        for row in rows.iter().take(limit) {
            let event = self.read_back(row, &mut files)?;
            // An event id's name is a hash: keep only the record that has the id.
            if let Some(LookupAttribute::EventId(id)) = &query.attribute
                && event.event_id != *id
            {
                continue;
            }
            events.push(event);
        }
        let next_token = match rows.get(limit.saturating_sub(1)) {
            Some(last) if more => Some(encode_token(last.time, last.seq, &fingerprint)),
            _ => None,
        };
        Ok(LookupPage { events, next_token })
    }

    /// Reads the record a row points at from its log file.
    fn read_back(&self, row: &Row, files: &mut HashMap<u64, File>) -> Result<LookedUpEvent, Error> {
        let moved = || {
            self.unavailable(format!(
                "record {} is no longer at offset {} of log file {}; run `keystead audit \
                 verify`",
                row.seq, row.offset, row.file
            ))
        };
        let file = match files.entry(row.file_seq) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(File::open(self.logs.join(&row.file)).map_err(|_| moved())?)
            }
        };
        let len = usize::try_from(row.len).map_err(|_| moved())?;
        if len == 0 || len > crate::MAX_EVENT_BYTES + chain::LINE_OVERHEAD + 32 {
            return Err(moved());
        }
        let mut buffer = vec![0u8; len];
        file.read_exact_at(&mut buffer, row.offset)
            .map_err(|_| moved())?;
        let line = buffer.strip_suffix(b"\n").ok_or_else(moved)?;
        let line = chain::parse_line(line).ok_or_else(moved)?;
        if line.seq != row.seq {
            return Err(moved());
        }
        let event: AuditEvent = serde_json::from_slice(line.event).map_err(|_| moved())?;
        Ok(LookedUpEvent {
            event_id: event.event_id.clone(),
            event_name: event.event_name.clone(),
            read_only: Some(event.read_only),
            access_key_id: event.user_identity.access_key_id.clone(),
            event_time: UnixMillis(millis(event.event_time)),
            event_source: event.event_source.clone(),
            username: lookup_username(&event.user_identity),
            resources: event
                .resources
                .iter()
                .map(|r| (r.resource_type.clone().unwrap_or_default(), r.arn.clone()))
                .collect(),
            cloud_trail_event: String::from_utf8_lossy(line.event).into_owned(),
        })
    }
}

/// A row of a lookup: where one matching record is.
struct Row {
    seq: u64,
    time: i64,
    file_seq: u64,
    file: String,
    offset: u64,
    len: u64,
}

/// The matching rows, newest first, strictly before `after` (time, seq).
fn select(
    conn: &Connection,
    query: &LookupQuery,
    start: i64,
    end: i64,
    after: (i64, i64),
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let Some(name) = query_name(conn, query)? else {
        return Ok(Vec::new());
    };
    // One walk of the entries primary key over one name, in (time, seq) order from the
    // page's start, newest first.
    let mut statement = conn.prepare_cached(
        "SELECT n.seq, n.time, e.file_seq, f.name, e.offset, e.len FROM entries n \
         JOIN events e ON e.seq = n.seq JOIN files f ON f.file_seq = e.file_seq \
         WHERE n.name = ?1 AND n.time >= ?2 AND n.time <= ?3 AND (n.time, n.seq) < (?4, ?5) \
         ORDER BY n.time DESC, n.seq DESC LIMIT ?6",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![name, start, end, after.0, after.1, limit], |row| {
        Ok(Row {
            seq: row.get::<_, i64>(0)? as u64,
            time: row.get(1)?,
            file_seq: row.get::<_, i64>(2)? as u64,
            file: row.get(3)?,
            offset: row.get::<_, i64>(4)? as u64,
            len: row.get::<_, i64>(5)? as u64,
        })
    })?;
    rows.collect()
}

/// The `entries` name a query walks; `None` if no record was ever indexed under it.
fn query_name(conn: &Connection, query: &LookupQuery) -> rusqlite::Result<Option<i64>> {
    let account = query.account_id.as_str();
    let (kind, value) = match &query.attribute {
        None => (KIND_ACCOUNT, ""),
        Some(LookupAttribute::EventId(id)) => return Ok(Some(event_id_name(account, id))),
        Some(LookupAttribute::EventName(v)) => (KIND_EVENT_NAME, v.as_str()),
        Some(LookupAttribute::ReadOnly(v)) => (KIND_READ_ONLY, bool_text(*v)),
        Some(LookupAttribute::Username(v)) => (KIND_USERNAME, v.as_str()),
        Some(LookupAttribute::EventSource(v)) => (KIND_EVENT_SOURCE, v.as_str()),
        Some(LookupAttribute::AccessKeyId(v)) => (KIND_ACCESS_KEY_ID, v.as_str()),
        Some(LookupAttribute::ResourceType(v)) => (KIND_RESOURCE_TYPE, v.as_str()),
        Some(LookupAttribute::ResourceName(v)) => (KIND_RESOURCE_NAME, v.as_str()),
    };
    conn.prepare_cached("SELECT id FROM names WHERE account = ?1 AND kind = ?2 AND value = ?3")?
        .query_row(params![account, kind, value], |r| r.get(0))
        .optional()
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The `entries` name of an event id: negative, so apart from every `names` id.
fn event_id_name(account: &str, event_id: &str) -> i64 {
    let mut hasher = StreamingSha256::new();
    hasher.update(b"keystead/lookup-event-id/v1\n");
    hasher.update(account.as_bytes());
    hasher.update(b"\n");
    hasher.update(event_id.as_bytes());
    let digest = hasher.finish();
    let mut high = [0u8; 8];
    high.copy_from_slice(&digest[..8]);
    // 63 bits, so that the result is in [-2^63, -1].
    -1 - (u64::from_be_bytes(high) >> 1) as i64
}

/// The ids of `names`, as the indexer (their only writer) has seen them.
#[derive(Default)]
struct Names {
    /// `kind ":" len(account) ":" account value` → id.
    ids: HashMap<String, i64>,
    /// The key being looked up, reused.
    key: String,
}

impl Names {
    /// Every name in the index.
    fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut names = Self::default();
        let mut statement = conn.prepare("SELECT id, account, kind, value FROM names")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (id, account, kind, value) = row?;
            names.set_key(&account, kind, &value);
            names.ids.insert(names.key.clone(), id);
        }
        Ok(names)
    }

    fn set_key(&mut self, account: &str, kind: i64, value: &str) {
        use std::fmt::Write;
        self.key.clear();
        // The account's length makes the key unambiguous whatever the strings hold.
        let _ = write!(self.key, "{kind}:{}:{account}{value}", account.len());
    }

    /// The id of `(account, kind, value)`, added to `names` (in the open transaction) if new.
    fn id(
        &mut self,
        conn: &Connection,
        account: &str,
        kind: i64,
        value: &str,
    ) -> rusqlite::Result<i64> {
        self.set_key(account, kind, value);
        if let Some(id) = self.ids.get(&self.key) {
            return Ok(*id);
        }
        conn.prepare_cached(
            "INSERT INTO names (account, kind, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![account, kind, value])?;
        let id = conn
            .prepare_cached("SELECT id FROM names WHERE account = ?1 AND kind = ?2 AND value = ?3")?
            .query_row(params![account, kind, value], |r| r.get(0))?;
        self.ids.insert(self.key.clone(), id);
        Ok(id)
    }
}

/// A short hash of what a token is valid for.
fn query_fingerprint(query: &LookupQuery) -> String {
    let mut hasher = StreamingSha256::new();
    hasher.update(b"keystead/lookup-token/v1\n");
    hasher.update(query.account_id.as_bytes());
    hasher.update(
        format!(
            "\n{:?}\n{:?}\n{:?}",
            query.attribute, query.start, query.end
        )
        .as_bytes(),
    );
    hex::encode(&hasher.finish()[..8])
}

fn encode_token(time: i64, seq: u64, fingerprint: &str) -> String {
    hex::encode(format!("{time}:{seq}:{fingerprint}"))
}

fn decode_token(token: &str, fingerprint: &str) -> Option<(i64, i64)> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let mut parts = text.splitn(3, ':');
    let time = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    (parts.next()? == fingerprint).then_some((time, seq))
}

/// Removes the index and its WAL files.
fn remove_index(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = fs::remove_file(PathBuf::from(name));
    }
}

/// Opens the write connection; returns it with where to resume catching up from and the names
/// it holds. Drops an index of another schema or one ahead of the log.
fn open_writer(path: &Path, head_seq: u64) -> rusqlite::Result<(Connection, Resume, Names)> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Derived data: a transaction lost to a power cut is caught up from the log.
    conn.pragma_update(None, "synchronous", "OFF")?;
    // Index pages are touched at random by event ids; keep the hot ones in memory (64 MiB).
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Fewer, larger checkpoints: each copies every page changed since the last one (64 MiB).
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    let version: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap_or(None);
    let last = if version == Some(SCHEMA_VERSION) {
        conn.query_row(
            "SELECT seq, file_seq, offset + len FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                Ok(Resume {
                    indexed: r.get::<_, i64>(0)? as u64,
                    file_seq: r.get::<_, i64>(1)? as u64,
                    offset: r.get::<_, i64>(2)? as u64,
                })
            },
        )
        .optional()?
        .unwrap_or_default()
    } else {
        Resume::default()
    };
    if version == Some(SCHEMA_VERSION) && last.indexed <= head_seq {
        let names = Names::load(&conn)?;
        return Ok((conn, last, names));
    }
    // Another schema, or an index of records the log does not have: start again.
    conn.execute_batch(
        "DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS resources; \
         DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS names; \
         DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE files (file_seq INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE names (
             id INTEGER PRIMARY KEY, account TEXT NOT NULL, kind INTEGER NOT NULL,
             value TEXT NOT NULL, UNIQUE (account, kind, value));
         CREATE TABLE events (
             seq INTEGER PRIMARY KEY, file_seq INTEGER NOT NULL, offset INTEGER NOT NULL,
             len INTEGER NOT NULL);
         CREATE TABLE entries (
             name INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,
             PRIMARY KEY (name, time, seq)) WITHOUT ROWID;",
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok((conn, Resume::default(), Names::default()))
}

/// Where the indexer is: the highest record indexed, and the end of its line.
#[derive(Debug, Clone, Copy, Default)]
struct Resume {
    indexed: u64,
    file_seq: u64,
    offset: u64,
}

/// Inserts `batches` (the records after `after`) in the open transaction; returns the highest
/// record number inserted.
fn insert(
    conn: &Connection,
    names: &mut Names,
    batches: &[IndexBatch],
    after: u64,
) -> rusqlite::Result<u64> {
    let mut highest = after;
    let mut file = conn.prepare_cached("INSERT OR IGNORE INTO files VALUES (?1, ?2)")?;
    let mut event = conn.prepare_cached("INSERT OR IGNORE INTO events VALUES (?1, ?2, ?3, ?4)")?;
    // (name, time, seq) of every entry, inserted in key order at the end.
    let mut entries: Vec<[i64; 3]> = Vec::new();
    for batch in batches {
        let file_seq = batch.file_seq as i64;
        let mut named = false;
        for record in batch.records.iter().filter(|r| r.seq > after) {
            if !named {
                file.execute(params![file_seq, batch.file_name])?;
                named = true;
            }
            let keys = &record.keys;
            let seq = record.seq as i64;
            event.execute(params![
                seq,
                file_seq,
                record.offset as i64,
                record.len as i64
            ])?;
            let account = keys.account.as_str();
            entries.push([event_id_name(account, &keys.event_id), keys.time, seq]);
            let mut add = |kind: i64, value: &str| -> rusqlite::Result<()> {
                entries.push([names.id(conn, account, kind, value)?, keys.time, seq]);
                Ok(())
            };
            add(KIND_ACCOUNT, "")?;
            add(KIND_EVENT_NAME, &keys.event_name)?;
            add(KIND_READ_ONLY, bool_text(keys.read_only))?;
            add(KIND_EVENT_SOURCE, &keys.event_source)?;
            if let Some(username) = &keys.username {
                add(KIND_USERNAME, username)?;
            }
            if let Some(access_key_id) = &keys.access_key_id {
                add(KIND_ACCESS_KEY_ID, access_key_id)?;
            }
            for (resource_type, arn) in &keys.resources {
                if let Some(resource_type) = resource_type {
                    add(KIND_RESOURCE_TYPE, resource_type)?;
                }
                for name in resource_names(arn) {
                    add(KIND_RESOURCE_NAME, name)?;
                }
            }
            highest = highest.max(record.seq);
        }
    }
    insert_entries(conn, &mut entries)?;
    Ok(highest)
}

/// Rows of `entries` per `INSERT` statement.
const ENTRIES_PER_INSERT: usize = 64;

/// Inserts `entries` in key order, [`ENTRIES_PER_INSERT`] rows per statement: most land next
/// to the one before, on a page already in the cache.
fn insert_entries(conn: &Connection, entries: &mut [[i64; 3]]) -> rusqlite::Result<()> {
    entries.sort_unstable();
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let mut sql = String::from("INSERT OR IGNORE INTO entries VALUES (?, ?, ?)");
        for _ in 1..chunk.len() {
            sql.push_str(", (?, ?, ?)");
        }
        let mut statement = conn.prepare_cached(&sql)?;
        statement.execute(rusqlite::params_from_iter(chunk.iter().flatten()))?;
    }
    Ok(())
}

impl IndexWriter {
    /// The indexer thread: catches up from `files` (the log files that existed at open) up to
    /// record `bound`, then indexes what the writer sends until it hangs up.
    pub(crate) fn run(
        mut self,
        index: &Index,
        files: Vec<Named>,
        bound: u64,
        receiver: mpsc::Receiver<IndexMessage>,
    ) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if let Err(reason) = self.catch_up(&mut conn, index, &files, bound) {
            index.fail(reason);
            return;
        }
        if let Err(reason) = self.follow(&mut conn, index, &receiver) {
            index.fail(reason);
        }
    }

    /// Indexes what the writer sends. Commits are deferred (one per [`COMMIT_DELAY`] or
    /// [`COMMIT_RECORDS`] while records keep coming), since each commit writes every page the
    /// transaction touched, but made at once when a lookup asks ([`IndexMessage::Flush`]).
    ///
    /// A batch that does not follow what is indexed, or a [`IndexMessage::Skipped`] (the
    /// writer stops sending records while the indexer is more than
    /// `AuditLogConfig::lookup_index_backlog` behind, so that memory stays bounded), makes the
    /// indexer read the records in between back from the log files.
    fn follow(
        &mut self,
        conn: &mut Connection,
        index: &Index,
        receiver: &mpsc::Receiver<IndexMessage>,
    ) -> Result<(), String> {
        let sql = |e: rusqlite::Error| e.to_string();
        // (when the open transaction began, records in it, highest record in it)
        let mut open: Option<(Instant, usize, u64)> = None;
        loop {
            let message = match open {
                None => receiver
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some((began, ..)) => {
                    receiver.recv_timeout(COMMIT_DELAY.saturating_sub(began.elapsed()))
                }
            };
            let commit_now = match message {
                Ok(IndexMessage::Batch(batch)) => {
                    let first = batch.records.first().map_or(0, |r| r.seq);
                    if first > self.indexed + 1 {
                        if open.take().is_some() {
                            conn.execute_batch("COMMIT").map_err(sql)?;
                            index.advance(self.indexed);
                        }
                        let files = layout::list(&index.dir).map_err(|e| e.to_string())?.logs;
                        self.catch_up(conn, index, &files, first - 1)?;
                    }
                    let (began, count, _) = match open {
                        Some(open) => open,
                        None => {
                            conn.execute_batch("BEGIN").map_err(sql)?;
                            (Instant::now(), 0, self.indexed)
                        }
                    };
                    let highest = insert(
                        conn,
                        &mut self.names,
                        std::slice::from_ref(&batch),
                        self.indexed,
                    )
                    .map_err(sql)?;
                    if let Some(last) = batch.records.last() {
                        self.resume_file_seq = batch.file_seq;
                        self.resume_offset = last.offset + last.len;
                    }
                    self.indexed = highest;
                    let count = count + batch.records.len();
                    open = Some((began, count, highest));
                    count >= COMMIT_RECORDS || began.elapsed() >= COMMIT_DELAY
                }
                Ok(IndexMessage::Skipped(up_to)) => {
                    if up_to > self.indexed {
                        if open.take().is_some() {
                            conn.execute_batch("COMMIT").map_err(sql)?;
                            index.advance(self.indexed);
                        }
                        let files = layout::list(&index.dir).map_err(|e| e.to_string())?.logs;
                        self.catch_up(conn, index, &files, up_to)?;
                    }
                    false
                }
                Ok(IndexMessage::Flush) | Err(mpsc::RecvTimeoutError::Timeout) => true,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if open.is_some() {
                        conn.execute_batch("COMMIT").map_err(sql)?;
                        index.advance(self.indexed);
                    }
                    return Ok(());
                }
            };
            if commit_now && let Some((.., highest)) = open.take() {
                conn.execute_batch("COMMIT").map_err(sql)?;
                index.advance(highest);
            }
        }
    }

    /// Indexes the records after `self.indexed` and up to `bound` from the log files.
    fn catch_up(
        &mut self,
        conn: &mut Connection,
        index: &Index,
        files: &[Named],
        bound: u64,
    ) -> Result<(), String> {
        let resume = self.resume_file_seq;
        for named in files.iter().filter(|n| n.seq >= resume) {
            if self.indexed >= bound {
                break;
            }
            let path = index.logs.join(&named.name);
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let mut reader = BufReader::with_capacity(1 << 20, file);
            // Lines before the resume point of its file are indexed already.
            let mut offset = if named.seq == resume {
                self.resume_offset
            } else {
                0
            };
            if offset > 0 && reader.seek(SeekFrom::Start(offset)).is_err() {
                offset = 0;
            }
            let mut batch = IndexBatch {
                file_seq: named.seq,
                file_name: named.name.clone(),
                records: Vec::new(),
            };
            let mut buffer = Vec::with_capacity(4096);
            let mut beyond = false;
            loop {
                buffer.clear();
                let read = reader
                    .read_until(b'\n', &mut buffer)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                if read == 0 || buffer.last() != Some(&b'\n') {
                    break;
                }
                let Some(line) = chain::parse_line(&buffer[..read - 1]) else {
                    offset += read as u64;
                    continue;
                };
                if line.seq > bound {
                    // Not acknowledged yet when asked: the writer sends it, or a later
                    // catch-up reads it from here.
                    beyond = true;
                    break;
                }
                if line.seq > self.indexed
                    && let Some(keys) = IndexKeys::parse(line.event)
                {
                    batch.records.push(IndexedRecord {
                        seq: line.seq,
                        offset,
                        len: read as u64,
                        keys,
                    });
                }
                offset += read as u64;
                if batch.records.len() >= CATCH_UP_CHUNK {
                    self.flush(conn, index, &mut batch)?;
                }
            }
            self.flush(conn, index, &mut batch)?;
            self.resume_file_seq = named.seq;
            self.resume_offset = offset;
            if beyond {
                break;
            }
        }
        // Records the log no longer has (cut by a recovery) can never be indexed: do not wait
        // for them.
        self.indexed = self.indexed.max(bound);
        index.advance(self.indexed);
        Ok(())
    }

    fn flush(
        &mut self,
        conn: &mut Connection,
        index: &Index,
        batch: &mut IndexBatch,
    ) -> Result<(), String> {
        if batch.records.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let highest = insert(
            &tx,
            &mut self.names,
            std::slice::from_ref(batch),
            self.indexed,
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        batch.records.clear();
        self.indexed = highest;
        index.advance(highest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_arn_is_found_by_its_key_id_too() {
        let names: Vec<_> =
            resource_names("arn:aws:kms:us-east-1:111122223333:key/1234abcd").collect();
        assert_eq!(
            names,
            [
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd",
                "1234abcd"
            ]
        );
        let names: Vec<_> = resource_names("arn:aws:kms:us-east-1:1:alias/x").collect();
        assert_eq!(names, ["arn:aws:kms:us-east-1:1:alias/x"]);
    }

    #[test]
    fn event_id_names_are_negative_and_differ_by_account() {
        let id = "abcde202-ba1a-467c-b4ba-f729d45ae521";
        let name = event_id_name("111122223333", id);
        assert!(name < 0);
        assert_eq!(name, event_id_name("111122223333", id));
        assert_ne!(name, event_id_name("444455556666", id));
    }

    #[test]
    fn name_keys_are_unambiguous() {
        let mut names = Names::default();
        names.set_key("1", KIND_USERNAME, "2:3");
        let first = names.key.clone();
        names.set_key("1:2", KIND_USERNAME, "3");
        assert_ne!(first, names.key);
    }

    #[test]
    fn tokens_round_trip_only_for_their_query() {
        let token = encode_token(1_700_000_000_000, 42, "abcd");
        assert_eq!(decode_token(&token, "abcd"), Some((1_700_000_000_000, 42)));
        assert_eq!(decode_token(&token, "abce"), None);
        assert_eq!(decode_token("zz", "abcd"), None);
    }
}

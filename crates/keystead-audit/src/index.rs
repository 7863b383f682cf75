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
//! batch's fsync; the indexer inserts batches in transactions of up to 1 s, without fsync
//! (`synchronous=OFF`: a transaction lost to a crash is caught up from the log at the next
//! open). A lookup asks for a commit and waits (at most 2 s) until every record acknowledged
//! before it was called is indexed, so a caller reads its own writes.
//!
//! This module must never make the log fail: an index that cannot be opened or written makes
//! lookups fail ([`Error::IndexUnavailable`]) and nothing else.
//!
//! Records are indexed in *blocks* of consecutive records (up to [`BLOCK_RECORDS`], all of one
//! log file; a block is written when full and before every commit), so that what consecutive
//! records share costs one row per block rather than one per record:
//! - each lookup key present in a block (a *name*: 63 bits of a SHA-256 of the account, the
//!   key's kind and its value, so there is no string table to look up or grow) is one
//!   `postings` row that lists the block's records carrying it, keyed by the name and the
//!   newest `eventTime` among them;
//! - the records' places (number, offset and length in the log file, `eventTime`) are one
//!   `places` row per group of [`GROUP_RECORDS`], so that a lookup reads only the groups that
//!   hold what it wants;
//! - each record's `eventID`, which is unique, is one row of `event_ids`.
//!
//! A server under load (a few keys, users and operations) thus writes about one small row per
//! record instead of ten; when every record's keys differ, about five.
//!
//! A lookup walks one name's postings by descending (newest time, block), keeping the best
//! `limit` records it has seen, and stops once the oldest of them is newer than anything the
//! next posting can hold: the order is exact (`eventTime`, then record number, newest first),
//! even where blocks' times overlap, as they do when appenders race. Names are hashes, so every
//! record read back is checked against the query (account and attribute) and dropped if it
//! does not match: a collision costs a read, never a wrong answer.
//!
//! ```text
//! blocks(block PK = first seq, last, file_seq, end_offset)
//! places(block, grp, data BLOB) PK (block, grp)      ; grp = index in the block / 64
//!     data = per record: varint(seq - previous seq) zigzag(offset - previous end)
//!            varint(len) zigzag(time - previous time); "previous" of a group's first record
//!            = (block - 1, 0, 0)
//! postings(name, max_time, block, min_time, members BLOB) PK (name, max_time, block)
//!     members = 0x00 varint(first) varint(next - previous - 1)...  ; indexes in the block
//!             | 0x01 bitmap, bit i (of byte i/8, least significant first) = record i
//! name = u64be(SHA-256("keystead/lookup-name/v1" LF u8(kind) LF u64be(len(account)) account
//!        value)[..8]) >> 1
//!     ; kind 0 = every record of the account (value ""), 1 = eventName, 2 = readOnly
//!     ; ("true"/"false"), 3 = username, 4 = eventSource, 5 = accessKeyId,
//!     ; 6 = resource type, 7 = resource name (ARN, and a KMS key's id)
//! event_ids(id, seq) PK all
//!     id = -1 - (u64be(SHA-256("keystead/lookup-event-id/v1" LF account LF id)[..8]) >> 1)
//! files(file_seq PK, name)
//! meta(key PK, value)                                 ; schema_version = 3
//! next_token = hex(time ":" seq ":" hex(SHA-256(query)[..8]))
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use keystead_crypto::digest::StreamingSha256;
use keystead_types::UnixMillis;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params};

use crate::chain;
use crate::event::{AuditEvent, IdentityType, UserIdentity};
use crate::layout::{self, Named};
use crate::{AuditLog, Error};

/// The index file's name in the trail directory.
pub(crate) const INDEX_FILE: &str = "index.sqlite";
/// Bumped when the schema changes; an index of another version is rebuilt.
const SCHEMA_VERSION: i64 = 3;
/// CloudTrail's default and largest page.
const DEFAULT_PAGE: usize = 50;
/// The largest page this crate serves (the server applies CloudTrail's own limit).
const MAX_PAGE: usize = 1000;
/// How long a lookup waits for the indexer to reach what was acknowledged before it.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
/// Records per transaction while catching up from the log files.
const CATCH_UP_CHUNK: usize = 20_000;
/// Longest a transaction of the indexer stays open while records keep coming.
const COMMIT_DELAY: Duration = Duration::from_secs(1);
/// Most records in one transaction of the indexer.
const COMMIT_RECORDS: usize = 100_000;
/// Most records in one block (at most 65,536: a posting's members are `u16`s). Larger blocks
/// share more postings between records, at the cost of larger postings to read.
const BLOCK_RECORDS: usize = 4096;
/// Records whose places are one row of `places`: a lookup reads and decodes only the groups
/// that hold the records it wants.
const GROUP_RECORDS: usize = 64;
/// Most `(account, kind, value)` names the indexer keeps hashed in memory.
const NAME_CACHE_ENTRIES: usize = 100_000;
/// Rows per `INSERT` statement.
const ROWS_PER_INSERT: usize = 64;
/// `name` kinds: see the module documentation.
const KIND_ACCOUNT: u8 = 0;
const KIND_EVENT_NAME: u8 = 1;
const KIND_READ_ONLY: u8 = 2;
const KIND_USERNAME: u8 = 3;
const KIND_EVENT_SOURCE: u8 = 4;
const KIND_ACCESS_KEY_ID: u8 = 5;
const KIND_RESOURCE_TYPE: u8 = 6;
const KIND_RESOURCE_NAME: u8 = 7;
/// How many kinds there are.
const KINDS: usize = 8;

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
    /// The names of recent keys.
    names: Names,
    /// The names of the keys of the previous record of each recent account.
    memo: Memo,
    /// The block being filled (written when full and before every commit).
    block: OpenBlock,
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
            Ok((conn, resume)) => (IndexWriter::new(Some(conn), resume), None),
            Err(e) => (
                IndexWriter::new(None, Resume::default()),
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
        let writer = IndexWriter::new(None, Resume::default());
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
            // Names are hashes: keep only the records that match.
            if let Some(event) = self.read_back(row, &mut files, query)? {
                events.push(event);
            }
        }
        let next_token = match rows.get(limit.saturating_sub(1)) {
            Some(last) if more => Some(encode_token(last.time, last.seq, &fingerprint)),
            _ => None,
        };
        Ok(LookupPage { events, next_token })
    }

    /// Reads the record a row points at from its log file; `None` if it does not match `query`
    /// (a hash collision).
    fn read_back(
        &self,
        row: &Row,
        files: &mut HashMap<u64, File>,
        query: &LookupQuery,
    ) -> Result<Option<LookedUpEvent>, Error> {
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
                entry.insert(File::open(self.logs.join(&*row.file)).map_err(|_| moved())?)
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
        if !matches(query, &event) {
            return Ok(None);
        }
        Ok(Some(LookedUpEvent {
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
        }))
    }
}

/// A row of a lookup: where one matching record is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    seq: u64,
    time: i64,
    file_seq: u64,
    file: Rc<str>,
    offset: u64,
    len: u64,
}

/// The matching rows, newest first by `(time, seq)`, strictly before `after`, within
/// `[start, end]`, at most `limit`.
fn select(
    conn: &Connection,
    query: &LookupQuery,
    start: i64,
    end: i64,
    after: (i64, i64),
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let wanted = |time: i64, seq: u64| {
        time >= start && time <= end && (time, i64::try_from(seq).unwrap_or(i64::MAX)) < after
    };
    let mut blocks = Blocks::new(conn);
    if let Some(LookupAttribute::EventId(id)) = &query.attribute {
        let mut statement = conn.prepare_cached("SELECT seq FROM event_ids WHERE id = ?1")?;
        let seqs = statement
            .query_map([event_id_name(&query.account_id, id)], |r| {
                r.get::<_, i64>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut rows = Vec::new();
        for seq in seqs {
            if let Some(row) = blocks.find(seq as u64)?
                && wanted(row.time, row.seq)
            {
                rows.push(row);
            }
        }
        rows.sort_by_key(|row| Reverse((row.time, row.seq)));
        rows.truncate(limit);
        return Ok(rows);
    }

    // The postings of one name by descending (newest time, first record). Once `limit`
    // records are found and the oldest of them, (time, seq), is greater than the next
    // posting's (max_time, block), no posting not read yet holds a greater one: their times
    // are at most max_time, and those of time max_time are in that block or in older ones
    // (blocks are disjoint runs of record numbers, so seq, not in that block and greater than
    // its first record, is greater than all of them).
    let mut statement = conn.prepare_cached(
        "SELECT max_time, block, members FROM postings \
         WHERE name = ?1 AND max_time >= ?2 AND min_time <= ?3 \
         ORDER BY max_time DESC, block DESC",
    )?;
    let mut postings = statement.query(params![query_name(query), start, end.min(after.0)])?;
    // The best `limit` so far, the oldest on top: (time, seq, block, index in the block).
    let mut best: BinaryHeap<Reverse<(i64, u64, i64, usize)>> = BinaryHeap::new();
    let mut members = Vec::new();
    while let Some(posting) = postings.next()? {
        let max_time: i64 = posting.get(0)?;
        let block: i64 = posting.get(1)?;
        if best.len() >= limit
            && let Some(Reverse((time, seq, ..))) = best.peek()
            && (*time, *seq) > (max_time, block as u64)
        {
            break;
        }
        members.clear();
        if let ValueRef::Blob(bytes) = posting.get_ref(2)? {
            for_each_member(bytes, |i| members.push(i));
        }
        if let (Some(&first), Some(&last)) = (members.first(), members.last())
            && members.len() >= 8
        {
            blocks.read_groups(block, first / GROUP_RECORDS, last / GROUP_RECORDS)?;
        }
        let mut group: Option<(usize, Rc<[Place]>)> = None;
        // Newest first, mostly: once `best` is full, most records are then older than all of
        // it and cost one comparison.
        for &index in members.iter().rev() {
            let number = index / GROUP_RECORDS;
            let places = match &group {
                Some((n, places)) if *n == number => Rc::clone(places),
                _ => {
                    let places = blocks.group(block, number)?;
                    group = Some((number, Rc::clone(&places)));
                    places
                }
            };
            let Some(place) = places.get(index % GROUP_RECORDS) else {
                continue;
            };
            if !wanted(place.time, place.seq) {
                continue;
            }
            let candidate = (place.time, place.seq, block, index);
            if best.len() < limit {
                best.push(Reverse(candidate));
            } else if best
                .peek()
                .is_some_and(|Reverse(oldest)| candidate > *oldest)
            {
                best.pop();
                best.push(Reverse(candidate));
            }
        }
    }
    let mut found: Vec<_> = best.into_iter().map(|Reverse(c)| c).collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    let mut rows = Vec::with_capacity(found.len());
    for (_, _, block, index) in found {
        if let Some(row) = blocks.row(block, index)? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Whether `event` is one that `query` asks for (a name's hash may be another's).
fn matches(query: &LookupQuery, event: &AuditEvent) -> bool {
    if event.recipient_account_id != query.account_id {
        return false;
    }
    match &query.attribute {
        None => true,
        Some(LookupAttribute::EventId(v)) => event.event_id == *v,
        Some(LookupAttribute::EventName(v)) => event.event_name == *v,
        Some(LookupAttribute::ReadOnly(v)) => event.read_only == *v,
        Some(LookupAttribute::Username(v)) => {
            lookup_username(&event.user_identity).as_deref() == Some(v.as_str())
        }
        Some(LookupAttribute::EventSource(v)) => event.event_source == *v,
        Some(LookupAttribute::AccessKeyId(v)) => {
            event.user_identity.access_key_id.as_deref() == Some(v.as_str())
        }
        Some(LookupAttribute::ResourceType(v)) => event
            .resources
            .iter()
            .any(|r| r.resource_type.as_deref() == Some(v.as_str())),
        Some(LookupAttribute::ResourceName(v)) => event
            .resources
            .iter()
            .any(|r| resource_names(&r.arn).any(|name| name == v)),
    }
}

/// The name a query walks (not for [`LookupAttribute::EventId`], which has its own table).
fn query_name(query: &LookupQuery) -> i64 {
    let account = query.account_id.as_str();
    let (kind, value) = match &query.attribute {
        None | Some(LookupAttribute::EventId(_)) => (KIND_ACCOUNT, ""),
        Some(LookupAttribute::EventName(v)) => (KIND_EVENT_NAME, v.as_str()),
        Some(LookupAttribute::ReadOnly(v)) => (KIND_READ_ONLY, bool_text(*v)),
        Some(LookupAttribute::Username(v)) => (KIND_USERNAME, v.as_str()),
        Some(LookupAttribute::EventSource(v)) => (KIND_EVENT_SOURCE, v.as_str()),
        Some(LookupAttribute::AccessKeyId(v)) => (KIND_ACCESS_KEY_ID, v.as_str()),
        Some(LookupAttribute::ResourceType(v)) => (KIND_RESOURCE_TYPE, v.as_str()),
        Some(LookupAttribute::ResourceName(v)) => (KIND_RESOURCE_NAME, v.as_str()),
    };
    name_of(account, kind, value)
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The name of `(account, kind, value)` in `postings`: 63 bits of a SHA-256.
fn name_of(account: &str, kind: u8, value: &str) -> i64 {
    let mut hasher = StreamingSha256::new();
    hasher.update(b"keystead/lookup-name/v1\n");
    hasher.update(&[kind, b'\n']);
    // The account's length makes the input unambiguous whatever the strings hold.
    hasher.update(&(account.len() as u64).to_be_bytes());
    hasher.update(account.as_bytes());
    hasher.update(value.as_bytes());
    let digest = hasher.finish();
    let mut high = [0u8; 8];
    high.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(high) >> 1) as i64
}

/// The `event_ids` id of an event id: negative (apart from every name, though they are kept
/// in another table).
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

/// The names of recent `(account, kind, value)`s, so that a record whose keys were seen
/// recently costs no hashing. Bounded: cleared when it holds [`NAME_CACHE_ENTRIES`].
#[derive(Default)]
struct Names {
    /// account → per kind, value → name.
    accounts: HashMap<String, [HashMap<String, i64>; KINDS]>,
    entries: usize,
}

impl Names {
    fn name(&mut self, account: &str, kind: u8, value: &str) -> i64 {
        if let Some(kinds) = self.accounts.get(account)
            && let Some(name) = kinds[usize::from(kind)].get(value)
        {
            return *name;
        }
        if self.entries >= NAME_CACHE_ENTRIES {
            self.accounts.clear();
            self.entries = 0;
        }
        let name = name_of(account, kind, value);
        if !self.accounts.contains_key(account) {
            self.accounts.insert(account.to_owned(), Default::default());
        }
        if let Some(kinds) = self.accounts.get_mut(account) {
            kinds[usize::from(kind)].insert(value.to_owned(), name);
            self.entries += 1;
        }
        name
    }
}

/// The keys of the previous record of each of a few accounts, in the order [`IndexWriter`]
/// visits them, with their names and slots: consecutive records mostly share their keys, and
/// comparing a string is cheaper than hashing it.
#[derive(Default)]
struct Memo {
    accounts: Vec<(String, Vec<MemoEntry>)>,
    /// The entry of `accounts` to replace next when it is full.
    next: usize,
}

/// Accounts a [`Memo`] remembers.
const MEMO_ACCOUNTS: usize = 8;

impl Memo {
    fn of(&mut self, account: &str) -> &mut Vec<MemoEntry> {
        let found = self.accounts.iter().position(|(a, _)| a == account);
        let i = match found {
            Some(i) => i,
            None if self.accounts.len() < MEMO_ACCOUNTS => {
                self.accounts.push((account.to_owned(), Vec::new()));
                self.accounts.len() - 1
            }
            None => {
                let i = self.next;
                self.next = (self.next + 1) % MEMO_ACCOUNTS;
                let (a, entries) = &mut self.accounts[i];
                a.clear();
                a.push_str(account);
                entries.clear();
                i
            }
        };
        &mut self.accounts[i].1
    }
}

/// One key of a [`Memo`].
struct MemoEntry {
    /// `u8::MAX` while unused.
    kind: u8,
    value: String,
    name: i64,
    /// The [`OpenBlock::generation`] `slot` belongs to.
    generation: u64,
    slot: usize,
}

impl Default for MemoEntry {
    fn default() -> Self {
        Self {
            kind: u8::MAX,
            value: String::new(),
            name: 0,
            generation: u64::MAX,
            slot: 0,
        }
    }
}

/// Where one record of a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    seq: u64,
    offset: u64,
    len: u64,
    time: i64,
}

/// The blocks and groups of places a lookup has read.
struct Blocks<'c> {
    conn: &'c Connection,
    /// block → (file_seq, file name)
    files: HashMap<i64, (u64, Rc<str>)>,
    /// (block, group) → places
    groups: HashMap<(i64, usize), Rc<[Place]>>,
}

impl<'c> Blocks<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            files: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// The places of group `number` of `block`, read if needed.
    fn group(&mut self, block: i64, number: usize) -> rusqlite::Result<Rc<[Place]>> {
        if let Some(places) = self.groups.get(&(block, number)) {
            return Ok(Rc::clone(places));
        }
        let places: Rc<[Place]> = self
            .conn
            .prepare_cached("SELECT data FROM places WHERE block = ?1 AND grp = ?2")?
            .query_row(params![block, number as i64], |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Blob(bytes) => decode_places(block as u64, bytes),
                    _ => Vec::new(),
                })
            })
            .optional()?
            .unwrap_or_default()
            .into();
        self.groups.insert((block, number), Rc::clone(&places));
        Ok(places)
    }

    /// Reads groups `first..=last` of `block` with one statement (for a posting with many
    /// records).
    fn read_groups(&mut self, block: i64, first: usize, last: usize) -> rusqlite::Result<()> {
        let mut statement = self.conn.prepare_cached(
            "SELECT grp, data FROM places WHERE block = ?1 AND grp >= ?2 AND grp <= ?3",
        )?;
        let mut rows = statement.query(params![block, first as i64, last as i64])?;
        while let Some(row) = rows.next()? {
            let number = row.get::<_, i64>(0)? as usize;
            if self.groups.contains_key(&(block, number)) {
                continue;
            }
            let places: Rc<[Place]> = match row.get_ref(1)? {
                ValueRef::Blob(bytes) => decode_places(block as u64, bytes),
                _ => Vec::new(),
            }
            .into();
            self.groups.insert((block, number), places);
        }
        Ok(())
    }

    /// The place of record `index` of `block`.
    fn place(&mut self, block: i64, index: usize) -> rusqlite::Result<Option<Place>> {
        Ok(self
            .group(block, index / GROUP_RECORDS)?
            .get(index % GROUP_RECORDS)
            .copied())
    }

    /// The row of record `index` of `block`.
    fn row(&mut self, block: i64, index: usize) -> rusqlite::Result<Option<Row>> {
        let Some(place) = self.place(block, index)? else {
            return Ok(None);
        };
        if !self.files.contains_key(&block) {
            let file = self
                .conn
                .prepare_cached(
                    "SELECT b.file_seq, f.name FROM blocks b \
                     JOIN files f ON f.file_seq = b.file_seq WHERE b.block = ?1",
                )?
                .query_row([block], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, Rc::from(r.get::<_, String>(1)?)))
                })?;
            self.files.insert(block, file);
        }
        Ok(self.files.get(&block).map(|(file_seq, file)| Row {
            seq: place.seq,
            time: place.time,
            file_seq: *file_seq,
            file: Rc::clone(file),
            offset: place.offset,
            len: place.len,
        }))
    }

    /// The row of record `seq`, if a block holds it.
    fn find(&mut self, seq: u64) -> rusqlite::Result<Option<Row>> {
        let block: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT block FROM blocks WHERE block <= ?1 ORDER BY block DESC LIMIT 1",
            )?
            .query_row([seq as i64], |r| r.get(0))
            .optional()?;
        let Some(block) = block else {
            return Ok(None);
        };
        let groups = self
            .conn
            .prepare_cached("SELECT grp, data FROM places WHERE block = ?1 ORDER BY grp")?
            .query_map([block], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    match r.get_ref(1)? {
                        ValueRef::Blob(bytes) => decode_places(block as u64, bytes),
                        _ => Vec::new(),
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (group, places) in groups {
            if let Some(within) = places.iter().position(|p| p.seq == seq) {
                self.groups.insert((block, group), places.into());
                return self.row(block, group * GROUP_RECORDS + within);
            }
        }
        Ok(None)
    }
}

/// Appends `value` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint from the front of `input`.
fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// The places of a group of the block whose first record is `first` (see the module
/// documentation); a damaged blob gives the places before the damage.
fn decode_places(first: u64, mut bytes: &[u8]) -> Vec<Place> {
    let mut places = Vec::with_capacity(bytes.len() / 5 + 1);
    let (mut seq, mut end, mut time) = (first.wrapping_sub(1), 0u64, 0i64);
    while !bytes.is_empty() {
        let (Some(delta), Some(gap), Some(len), Some(time_delta)) = (
            take_varint(&mut bytes),
            take_varint(&mut bytes),
            take_varint(&mut bytes),
            take_varint(&mut bytes),
        ) else {
            break;
        };
        seq = seq.wrapping_add(delta);
        let offset = end.wrapping_add_signed(unzigzag(gap));
        time = time.wrapping_add(unzigzag(time_delta));
        end = offset.wrapping_add(len);
        places.push(Place {
            seq,
            offset,
            len,
            time,
        });
    }
    places
}

/// Calls `each` with every index a posting's `members` lists, in increasing order.
fn for_each_member(members: &[u8], mut each: impl FnMut(usize)) {
    match members.split_first() {
        Some((0, mut rest)) => {
            let mut next = 0u64;
            while let Some(gap) = take_varint(&mut rest) {
                let index = next.saturating_add(gap);
                each(usize::try_from(index).unwrap_or(usize::MAX));
                next = index.saturating_add(1);
            }
        }
        Some((1, bitmap)) => {
            for (byte_index, &byte) in bitmap.iter().enumerate() {
                let mut bits = byte;
                while bits != 0 {
                    let bit = bits.trailing_zeros() as usize;
                    each(byte_index * 8 + bit);
                    bits &= bits - 1;
                }
            }
        }
        _ => {}
    }
}

/// Encodes a posting's members (increasing indexes) as the smaller of a list and a bitmap.
fn encode_members(out: &mut Vec<u8>, members: &[u16]) {
    out.clear();
    let last = members.last().map_or(0, |&m| usize::from(m));
    out.push(0);
    let mut next = 0u64;
    for &member in members {
        put_varint(out, u64::from(member) - next);
        next = u64::from(member) + 1;
    }
    let bitmap_len = 1 + last / 8 + 1;
    if out.len() > bitmap_len {
        out.clear();
        out.push(1);
        out.resize(bitmap_len, 0);
        for &member in members {
            out[1 + usize::from(member) / 8] |= 1 << (member % 8);
        }
    }
}

/// One name's records in the open block.
#[derive(Default)]
struct Posting {
    name: i64,
    min_time: i64,
    max_time: i64,
    /// Indexes in the block, increasing.
    members: Vec<u16>,
}

/// The block the indexer is filling.
#[derive(Default)]
struct OpenBlock {
    /// The first record's number (meaningless while `count` is 0).
    first: u64,
    last: u64,
    file_seq: u64,
    /// Where the last record's line ends in its file.
    end: u64,
    count: usize,
    /// The places of each group of [`GROUP_RECORDS`] records; `groups[..groups_used]` are this
    /// block's, the rest keep their allocations for the next.
    groups: Vec<Vec<u8>>,
    groups_used: usize,
    /// The previous record's (seq, end, time) in its group, for the deltas.
    previous: (u64, u64, i64),
    /// `postings[..used]` are this block's; the rest keep their allocations for the next.
    postings: Vec<Posting>,
    used: usize,
    /// name → index in `postings`.
    slots: HashMap<i64, usize>,
    /// (id, seq) of each record.
    event_ids: Vec<(i64, i64)>,
    /// Counts the blocks written, so that a [`Memo`] knows whether its slots are this block's.
    generation: u64,
}

impl OpenBlock {
    /// Adds the place of a record of file `file_seq` (the block must be empty, or of that file
    /// and not full); returns its index in the block.
    fn place(&mut self, file_seq: u64, record: &IndexedRecord) -> u16 {
        if self.count == 0 {
            self.first = record.seq;
            self.file_seq = file_seq;
            self.groups_used = 0;
        }
        if self.count.is_multiple_of(GROUP_RECORDS) {
            if self.groups_used == self.groups.len() {
                self.groups.push(Vec::new());
            }
            self.groups[self.groups_used].clear();
            self.groups_used += 1;
            self.previous = (self.first.wrapping_sub(1), 0, 0);
        }
        let (seq, end, time) = self.previous;
        let places = &mut self.groups[self.groups_used - 1];
        put_varint(places, record.seq.wrapping_sub(seq));
        put_varint(
            places,
            zigzag((record.offset as i64).wrapping_sub(end as i64)),
        );
        put_varint(places, record.len);
        put_varint(places, zigzag(record.keys.time.wrapping_sub(time)));
        self.last = record.seq;
        self.end = record.offset + record.len;
        self.previous = (record.seq, self.end, record.keys.time);
        let index = self.count as u16;
        self.count += 1;
        index
    }

    /// The index in `postings` of `name`'s posting in this block, added if new.
    fn slot(&mut self, name: i64) -> usize {
        if let Some(&slot) = self.slots.get(&name) {
            return slot;
        }
        let slot = self.used;
        if slot == self.postings.len() {
            self.postings.push(Posting::default());
        }
        let posting = &mut self.postings[slot];
        posting.name = name;
        posting.min_time = i64::MAX;
        posting.max_time = i64::MIN;
        posting.members.clear();
        self.used += 1;
        self.slots.insert(name, slot);
        slot
    }

    /// Records that the record at `index` (time `time`) carries the name of `slot`.
    fn post(&mut self, slot: usize, index: u16, time: i64) {
        let Some(posting) = self.postings.get_mut(slot) else {
            return;
        };
        // A record carries a name once, however many of its keys give it.
        if posting.members.last() != Some(&index) {
            posting.members.push(index);
            posting.min_time = posting.min_time.min(time);
            posting.max_time = posting.max_time.max(time);
        }
    }

    /// Writes the block (in the open transaction) and empties it.
    fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let block = self.first as i64;
        let row = params![
            block,
            self.last as i64,
            self.file_seq as i64,
            self.end as i64
        ];
        let mut insert =
            conn.prepare_cached("INSERT OR IGNORE INTO blocks VALUES (?1, ?2, ?3, ?4)")?;
        if insert.execute(row)? == 0 {
            // These records are indexed already: another indexer of this trail (one whose log
            // was dropped without `close`) committed them after this one had read where to
            // resume. Replace what it wrote from here on (rare, so scans are fine).
            conn.execute_batch(&format!(
                "DELETE FROM blocks WHERE block >= {block}; \
                 DELETE FROM places WHERE block >= {block}; \
                 DELETE FROM postings WHERE block >= {block}; \
                 DELETE FROM event_ids WHERE seq >= {block};"
            ))?;
            insert.execute(row)?;
        }
        let groups = &self.groups[..self.groups_used];
        let numbers: Vec<i64> = (0..groups.len() as i64).collect();
        for (chunk, numbers) in groups
            .chunks(ROWS_PER_INSERT)
            .zip(numbers.chunks(ROWS_PER_INSERT))
        {
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 3);
            for (places, number) in chunk.iter().zip(numbers) {
                values.extend([&block as &dyn ToSql, number, places]);
            }
            conn.prepare_cached(&insert_sql("places", 3, chunk.len()))?
                .execute(values.as_slice())?;
        }
        // In key order, so that consecutive rows land on the same pages.
        let postings = &mut self.postings[..self.used];
        postings.sort_unstable_by_key(|p| (p.name, p.max_time));
        let mut blobs: Vec<Vec<u8>> = Vec::with_capacity(ROWS_PER_INSERT);
        for chunk in postings.chunks(ROWS_PER_INSERT) {
            blobs.clear();
            for posting in chunk {
                let mut blob = Vec::new();
                encode_members(&mut blob, &posting.members);
                blobs.push(blob);
            }
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
            for (posting, blob) in chunk.iter().zip(&blobs) {
                values.extend([
                    &posting.name as &dyn ToSql,
                    &posting.max_time,
                    &block,
                    &posting.min_time,
                    blob,
                ]);
            }
            conn.prepare_cached(&insert_sql("postings", 5, chunk.len()))?
                .execute(values.as_slice())?;
        }
        self.event_ids.sort_unstable();
        for chunk in self.event_ids.chunks(ROWS_PER_INSERT) {
            conn.prepare_cached(&insert_sql("event_ids", 2, chunk.len()))?
                .execute(rusqlite::params_from_iter(
                    chunk.iter().flat_map(|(id, seq)| [*id, *seq]),
                ))?;
        }
        self.event_ids.clear();
        self.slots.clear();
        self.used = 0;
        self.groups_used = 0;
        self.count = 0;
        self.generation += 1;
        Ok(())
    }
}

/// `INSERT INTO table VALUES (?, ...), ...` for `rows` rows of `columns` columns (duplicates
/// ignored: a record is indexed once, but a rebuilt index must not fail on a stray row).
fn insert_sql(table: &str, columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!(
        "INSERT OR IGNORE INTO {table} VALUES {}",
        vec![row; rows].join(", ")
    )
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

/// Opens the write connection; returns it with where to resume catching up from. Drops an
/// index of another schema or one ahead of the log.
fn open_writer(path: &Path, head_seq: u64) -> rusqlite::Result<(Connection, Resume)> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Derived data: a transaction lost to a power cut is caught up from the log.
    conn.pragma_update(None, "synchronous", "OFF")?;
    // Event ids are inserted at random places; keep the hot pages in memory (64 MiB).
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
            "SELECT last, file_seq, end_offset FROM blocks ORDER BY block DESC LIMIT 1",
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
        return Ok((conn, last));
    }
    // Another schema, or an index of records the log does not have: start again.
    conn.execute_batch(
        "DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS resources; \
         DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS names; \
         DROP TABLE IF EXISTS blocks; DROP TABLE IF EXISTS postings; \
         DROP TABLE IF EXISTS event_ids; DROP TABLE IF EXISTS places; \
         DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE files (file_seq INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE blocks (
             block INTEGER PRIMARY KEY, last INTEGER NOT NULL, file_seq INTEGER NOT NULL,
             end_offset INTEGER NOT NULL);
         CREATE TABLE places (
             block INTEGER NOT NULL, grp INTEGER NOT NULL, data BLOB NOT NULL,
             PRIMARY KEY (block, grp)) WITHOUT ROWID;
         CREATE TABLE postings (
             name INTEGER NOT NULL, max_time INTEGER NOT NULL, block INTEGER NOT NULL,
             min_time INTEGER NOT NULL, members BLOB NOT NULL,
             PRIMARY KEY (name, max_time, block)) WITHOUT ROWID;
         CREATE TABLE event_ids (
             id INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (id, seq)) WITHOUT ROWID;",
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok((conn, Resume::default()))
}

/// Where the indexer is: the highest record indexed, and the end of its line.
#[derive(Debug, Clone, Copy, Default)]
struct Resume {
    indexed: u64,
    file_seq: u64,
    offset: u64,
}

impl IndexWriter {
    fn new(conn: Option<Connection>, resume: Resume) -> Self {
        Self {
            conn,
            names: Names::default(),
            memo: Memo::default(),
            block: OpenBlock::default(),
            indexed: resume.indexed,
            resume_file_seq: resume.file_seq,
            resume_offset: resume.offset,
        }
    }

    /// Adds the records of `batch` after `self.indexed` to the open block (in the open
    /// transaction), writing the block whenever it fills; returns the highest record added.
    fn insert(&mut self, conn: &Connection, batch: &IndexBatch) -> rusqlite::Result<u64> {
        let after = self.indexed;
        let mut highest = after;
        let file_seq = batch.file_seq;
        let mut named = false;
        for record in batch.records.iter().filter(|r| r.seq > after) {
            if !named {
                conn.prepare_cached("INSERT OR IGNORE INTO files VALUES (?1, ?2)")?
                    .execute(params![file_seq as i64, batch.file_name])?;
                named = true;
            }
            let block = &mut self.block;
            if block.count > 0 && (block.file_seq != file_seq || block.count >= BLOCK_RECORDS) {
                block.write(conn)?;
            }
            let keys = &record.keys;
            let index = block.place(file_seq, record);
            let account = keys.account.as_str();
            block
                .event_ids
                .push((event_id_name(account, &keys.event_id), record.seq as i64));
            let names = &mut self.names;
            let memo = self.memo.of(account);
            let mut position = 0;
            let mut post = |kind: u8, value: &str| {
                if position == memo.len() {
                    memo.push(MemoEntry::default());
                }
                let entry = &mut memo[position];
                position += 1;
                if entry.kind != kind || entry.value != value {
                    entry.kind = kind;
                    entry.value.clear();
                    entry.value.push_str(value);
                    entry.name = names.name(account, kind, value);
                    entry.generation = u64::MAX;
                }
                if entry.generation != block.generation {
                    entry.slot = block.slot(entry.name);
                    entry.generation = block.generation;
                }
                block.post(entry.slot, index, keys.time);
            };
            post(KIND_ACCOUNT, "");
            post(KIND_EVENT_NAME, &keys.event_name);
            post(KIND_READ_ONLY, bool_text(keys.read_only));
            post(KIND_EVENT_SOURCE, &keys.event_source);
            if let Some(username) = &keys.username {
                post(KIND_USERNAME, username);
            }
            if let Some(access_key_id) = &keys.access_key_id {
                post(KIND_ACCESS_KEY_ID, access_key_id);
            }
            for (resource_type, arn) in &keys.resources {
                if let Some(resource_type) = resource_type {
                    post(KIND_RESOURCE_TYPE, resource_type);
                }
                for name in resource_names(arn) {
                    post(KIND_RESOURCE_NAME, name);
                }
            }
            highest = highest.max(record.seq);
        }
        Ok(highest)
    }

    /// Writes the open block and commits the open transaction.
    fn commit(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.block.write(conn)?;
        conn.execute_batch("COMMIT")
    }
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
                            self.commit(conn).map_err(sql)?;
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
                    let highest = self.insert(conn, &batch).map_err(sql)?;
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
                            self.commit(conn).map_err(sql)?;
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
                        self.commit(conn).map_err(sql)?;
                        index.advance(self.indexed);
                    }
                    return Ok(());
                }
            };
            if commit_now && let Some((.., highest)) = open.take() {
                self.commit(conn).map_err(sql)?;
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
        let highest = self.insert(&tx, batch).map_err(|e| e.to_string())?;
        self.block.write(&tx).map_err(|e| e.to_string())?;
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
    fn names_are_unambiguous_and_not_negative() {
        let name = name_of("1", KIND_USERNAME, "23");
        assert!(name >= 0);
        assert_ne!(name, name_of("12", KIND_USERNAME, "3"));
        assert_ne!(name, name_of("1", KIND_ACCESS_KEY_ID, "23"));
        assert_eq!(name, Names::default().name("1", KIND_USERNAME, "23"));
    }

    #[test]
    fn places_round_trip_through_a_block() {
        let mut block = OpenBlock::default();
        let keys = |time| IndexKeys {
            account: "1".into(),
            time,
            event_id: "e".into(),
            event_name: "Decrypt".into(),
            read_only: true,
            username: None,
            event_source: "kms.amazonaws.com".into(),
            access_key_id: None,
            resources: Vec::new(),
        };
        // Gaps in the numbers, a time going back, a line not right after the one before, and
        // more records than a group holds.
        let mut records = vec![
            (7, 100, 800, 5_000),
            (8, 900, 812, 4_990),
            (10, 5_000, 2, i64::MIN),
        ];
        for n in 0..130 {
            records.push((11 + n, 5_002 + n * 10, 10, 1_000 + (n as i64 % 7)));
        }
        let mut places = Vec::new();
        for &(seq, offset, len, time) in &records {
            let record = IndexedRecord {
                seq,
                offset,
                len,
                keys: keys(time),
            };
            block.place(3, &record);
            places.push(Place {
                seq,
                offset,
                len,
                time,
            });
        }
        assert_eq!(block.groups_used, 3);
        let decoded: Vec<Place> = block.groups[..block.groups_used]
            .iter()
            .flat_map(|group| decode_places(7, group))
            .collect();
        assert_eq!(decoded, places);
        assert_eq!(block.end, 5_002 + 129 * 10 + 10);
    }

    #[test]
    fn members_round_trip_as_a_list_or_a_bitmap() {
        let sparse: Vec<u16> = vec![0, 3, 700, 1023];
        let dense: Vec<u16> = (0..1024).filter(|i| i % 3 != 0).collect();
        for members in [sparse, dense, vec![5], Vec::new()] {
            let mut blob = Vec::new();
            encode_members(&mut blob, &members);
            let mut back = Vec::new();
            for_each_member(&blob, |i| back.push(i as u16));
            assert_eq!(back, members);
            assert!(blob.len() <= 2 + 1024 / 8, "{}", blob.len());
        }
    }

    #[test]
    fn varints_round_trip_at_their_limits() {
        for value in [0, 1, 127, 128, 300, u64::MAX] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, value);
            let mut input = bytes.as_slice();
            assert_eq!(take_varint(&mut input), Some(value));
            assert!(input.is_empty());
        }
        for value in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(value)), value);
        }
        assert_eq!(take_varint(&mut [0x80u8].as_slice()), None);
    }

    fn batch(seqs: std::ops::RangeInclusive<u64>) -> IndexBatch {
        IndexBatch {
            file_seq: 1,
            file_name: "f".into(),
            records: seqs
                .map(|seq| IndexedRecord {
                    seq,
                    offset: seq * 100,
                    len: 100,
                    keys: IndexKeys {
                        account: "1".into(),
                        time: seq as i64 * 1000,
                        event_id: format!("e{seq}"),
                        event_name: "Decrypt".into(),
                        read_only: true,
                        username: Some("u".into()),
                        event_source: "kms.amazonaws.com".into(),
                        access_key_id: None,
                        resources: Vec::new(),
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn records_indexed_twice_by_two_indexers_are_found_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(INDEX_FILE);
        let (conn, resume) = open_writer(&path, 10).expect("open");
        // The second had read where to resume before the first committed.
        let (second_conn, second_resume) = open_writer(&path, 10).expect("open");
        let mut first = IndexWriter::new(None, resume);
        conn.execute_batch("BEGIN").expect("begin");
        first.insert(&conn, &batch(1..=3)).expect("insert");
        first.commit(&conn).expect("commit");
        let mut second = IndexWriter::new(None, second_resume);
        second_conn.execute_batch("BEGIN").expect("begin");
        second.insert(&second_conn, &batch(1..=5)).expect("insert");
        second.commit(&second_conn).expect("commit");

        let query = LookupQuery {
            account_id: "1".into(),
            attribute: None,
            start: None,
            end: None,
            max_results: 0,
            next_token: None,
        };
        let rows =
            select(&conn, &query, i64::MIN, i64::MAX, (i64::MAX, i64::MAX), 100).expect("select");
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [5, 4, 3, 2, 1]
        );
        let ids: i64 = conn
            .query_row("SELECT count(*) FROM event_ids", [], |r| r.get(0))
            .expect("count");
        assert_eq!(ids, 5);
        let query = LookupQuery {
            attribute: Some(LookupAttribute::EventId("e2".into())),
            ..query
        };
        let rows =
            select(&conn, &query, i64::MIN, i64::MAX, (i64::MAX, i64::MAX), 100).expect("select");
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn tokens_round_trip_only_for_their_query() {
        let token = encode_token(1_700_000_000_000, 42, "abcd");
        assert_eq!(decode_token(&token, "abcd"), Some((1_700_000_000_000, 42)));
        assert_eq!(decode_token(&token, "abce"), None);
        assert_eq!(decode_token("zz", "abcd"), None);
    }
}

//! [`AuditLog`]: appends records durably to the hash chain, rolls log files, writes signed
//! digests, and recovers from a crash when opened.
//!
//! One writer thread owns every file. [`AuditLog::append`] serializes the event on the caller's
//! task, sends it to the writer and waits; the writer takes every record that is waiting
//! (group commit), chains them, writes them with one `write` and one `fdatasync`, and only then
//! answers each caller. A record is therefore on disk before `append` returns, and concurrent
//! appenders share the cost of a sync. The writer is a plain thread rather than a tokio task
//! because every step of its work blocks on the disk; callers await a tokio `oneshot`. When the
//! log was opened on a tokio runtime, the writer hands each batch's answers to one task on that
//! runtime, which sends them: one wake-up from outside the runtime per batch instead of one per
//! caller (waking a task from a foreign thread goes through the runtime's shared queue and
//! often a futex).
//!
//! This module must not interpret records (it only refuses secrets and oversized events) and
//! must never acknowledge a record it has not synced. After a failed write or sync it stops
//! ([`Error::WriterFailed`]): the file's state is unknown, and only reopening, which rescans
//! the newest file, can say which records are durable.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use keystead_crypto::SigningKey;
use keystead_crypto::digest::StreamingSha256;
use keystead_crypto::signing;
use keystead_types::{Clock, SystemClock};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::Error;
use crate::chain::{self, GENESIS};
use crate::digest::{self, ChainHead, DIGEST_VERSION, DigestBody, LogFileEntry};
use crate::event::AuditEvent;
use crate::index::{Index, IndexBatch, IndexKeys, IndexMessage, IndexedRecord};
use crate::layout::{self, DIGESTS, LOGS};
use crate::scan;

/// CloudTrail's largest record: 256 KiB.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Most records written by one `write` + `fdatasync`.
const MAX_BATCH_RECORDS: usize = 4096;
/// Most bytes written by one `write` + `fdatasync`.
const MAX_BATCH_BYTES: usize = 8 << 20;
/// Default of [`AuditLogConfig::lookup_index_backlog`].
const DEFAULT_INDEX_BACKLOG: u64 = 200_000;
/// `eventSource` of the records the log writes about itself.
pub const AUDIT_EVENT_SOURCE: &str = "audit.keystead";
/// `eventName` of the record that [`AuditLog::open`] writes after cutting off a torn tail.
pub const RECOVERY_EVENT_NAME: &str = "RecoverAuditLog";

/// How an [`AuditLog`] lays out and seals its files.
#[derive(Clone)]
pub struct AuditLogConfig {
    /// The trail's directory; `logs/` and `digests/` are created under it.
    pub dir: PathBuf,
    /// A log file is closed after the first batch that makes it this large (default 64 MiB).
    /// The verifier holds about 100 bytes per record of one file in memory.
    pub max_file_bytes: u64,
    /// A log file is closed when it is this old (default 5 minutes, CloudTrail's delivery
    /// interval).
    pub max_file_age: Duration,
    /// How often a signed digest is written (default 1 hour, as CloudTrail). Records written
    /// since the last digest are protected only by the hash chain until the next one.
    pub digest_interval: Duration,
    /// The account named in records the log writes about itself.
    pub account_id: String,
    /// The region named in records the log writes about itself.
    pub region: String,
    /// The source of wall-clock time for file names, digests and the log's own records.
    pub clock: Arc<dyn Clock>,
    /// Whether to maintain the lookup index (`index.sqlite`) that [`AuditLog::lookup`] reads
    /// (default true). Without it, lookups fail with [`Error::IndexUnavailable`].
    pub lookup_index: bool,
    /// How many records the index may lag behind the log before the writer stops handing it
    /// records (it then reads them back from the log files), which bounds the memory of the
    /// queue between them (default 200,000, some 60 MB).
    pub lookup_index_backlog: u64,
}

impl AuditLogConfig {
    /// The defaults above, for the trail in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_file_bytes: 64 << 20,
            max_file_age: Duration::from_secs(5 * 60),
            digest_interval: Duration::from_secs(60 * 60),
            account_id: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
            clock: Arc::new(SystemClock::default()),
            lookup_index: true,
            lookup_index_backlog: DEFAULT_INDEX_BACKLOG,
        }
    }
}

/// Where an appended record landed in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    /// The record's sequence number (the first record of a trail is 1).
    pub seq: u64,
    /// The record's hash.
    pub hash: [u8; 32],
}

/// Counters of the writer's work since open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Records written.
    pub records: u64,
    /// Batches written, each with one `write` and one `fdatasync` of a log file.
    pub batches: u64,
    /// Every `fsync`/`fdatasync` issued: of log files, digests and directories.
    pub syncs: u64,
}

/// What [`AuditLog::open`] cut off the newest log file, and the record it wrote about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The log file (under `logs/`).
    pub file: String,
    /// Where the torn tail started; the file now ends here.
    pub offset: u64,
    /// How many bytes were discarded.
    pub discarded_bytes: u64,
    /// SHA-256 of the discarded bytes.
    pub discarded_sha256: [u8; 32],
    /// Whether the file held nothing else and was removed.
    pub file_removed: bool,
    /// The sequence number of the recovery record.
    pub seq: u64,
}

/// An append-only, hash-chained, digest-sealed CloudTrail log in one directory.
///
/// Only one `AuditLog` may have a directory open at a time (the server opens it once); two
/// writers would fork the chain.
///
/// Call [`AuditLog::close`] on shutdown: it closes the current file and signs a final digest.
/// Dropping the log without closing it stops the writer after its current batch; every
/// acknowledged record is already durable, and the next open seals what was left unsealed.
pub struct AuditLog {
    sender: mpsc::Sender<Command>,
    public_key_der: Vec<u8>,
    counters: Arc<Counters>,
    recovery: Option<Recovery>,
    dir: PathBuf,
    pub(crate) index: Arc<Index>,
    /// Asks the indexer to commit now, for a waiting lookup.
    pub(crate) index_flush: Option<mpsc::Sender<IndexMessage>>,
    indexer: Option<thread::JoinHandle<()>>,
    lookup_index: bool,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// The replies of one batch, with what each caller is told.
type Answers = Vec<(Reply<AppendReceipt>, Result<AppendReceipt, Error>)>;

/// Sends each caller of a batch its answer. A caller that stopped waiting still got its record
/// written.
fn answer(answers: Answers) {
    for (reply, result) in answers {
        let _ = reply.send(result);
    }
}

// Nearly every command is an append: boxing it would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
enum Command {
    Append {
        event: Pending,
        reply: Reply<AppendReceipt>,
    },
    Seal {
        reply: Reply<()>,
    },
    Close {
        reply: Reply<()>,
    },
}

/// A serialized event waiting to be written, with what the index keeps of it.
struct Pending {
    bytes: Vec<u8>,
    keys: Option<IndexKeys>,
}

#[derive(Default)]
struct Counters {
    /// The last record acknowledged (0 before the first).
    acknowledged: AtomicU64,
    records: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
}

impl AuditLog {
    /// Opens (creating if needed) the trail in `config.dir`, signing its digests with `key`.
    ///
    /// Blocking: it reads the files written since the last digest. It checks that the newest
    /// digest is signed by `key` ([`Error::UntrustedDigest`] otherwise), removes half-written
    /// digests, and, if the newest log file ends in a torn line (a crash during a write), cuts
    /// it off at the last complete record and appends a `RecoverAuditLog` record that names the
    /// file, the offset and the SHA-256 of what was discarded ([`AuditLog::recovery`]). It
    /// never accepts a torn line as a record. Appends go to a new log file.
    pub fn open(config: AuditLogConfig, key: SigningKey) -> Result<Self, Error> {
        let counters = Arc::new(Counters::default());
        let public_key_der = key.public_key_der();
        let dir = config.dir.clone();
        let lookup_index = config.lookup_index;
        let (mut writer, torn) = Writer::open(config, key, Arc::clone(&counters))?;
        let (index, index_writer) = if lookup_index {
            Index::open(&dir, writer.next_seq - 1)
        } else {
            Index::disabled(&dir)
        };
        let index = Arc::new(index);
        let (index_sender, index_receiver) = mpsc::channel();
        let index_flush = lookup_index.then(|| index_sender.clone());
        if lookup_index {
            writer.index_sender = Some((index_sender, Arc::clone(&index)));
        }
        let recovery = match torn {
            Some(torn) => {
                let event = writer.recovery_event(&torn)?;
                let receipts = writer.commit(&mut [event])?;
                let seq = receipts.first().map_or(0, |r| r.seq);
                Some(Recovery {
                    file: torn.file,
                    offset: torn.offset,
                    discarded_bytes: torn.len,
                    discarded_sha256: torn.sha256,
                    file_removed: torn.removed,
                    seq,
                })
            }
            None => None,
        };
        // Files that exist now are complete up to `bound`: the indexer catches up from them
        // while the writer sends it everything after.
        let files = layout::list(&dir)?.logs;
        let bound = writer.next_seq - 1;
        counters.acknowledged.store(bound, Ordering::Relaxed);
        let indexer = {
            let index = Arc::clone(&index);
            thread::Builder::new()
                .name("audit-indexer".to_owned())
                .spawn(move || index_writer.run(&index, files, bound, index_receiver))
                .map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?
        };
        let (sender, receiver) = mpsc::channel();
        thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || writer.run(receiver))
            .map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        Ok(Self {
            sender,
            public_key_der,
            counters,
            recovery,
            dir,
            index,
            index_flush,
            indexer: Some(indexer),
            lookup_index,
        })
    }

    /// Appends `event` and returns once it is on disk (written and `fdatasync`ed, together with
    /// whatever other records were waiting).
    ///
    /// Refuses, before writing anything, an event that carries a secret
    /// ([`Error::SecretInEvent`]) or is larger than [`MAX_EVENT_BYTES`]
    /// ([`Error::EventTooLarge`]). If the future is dropped after the event was handed to the
    /// writer, the record may still be written.
    pub async fn append(&self, event: &AuditEvent) -> Result<AppendReceipt, Error> {
        event.check_no_secrets()?;
        // Most records are under 2 KiB: one allocation instead of a doubling series.
        let mut bytes = Vec::with_capacity(2048);
        serde_json::to_writer(&mut bytes, event).map_err(Error::Internal)?;
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(Error::EventTooLarge {
                limit: MAX_EVENT_BYTES,
                actual: bytes.len(),
            });
        }
        let keys = self.lookup_index.then(|| IndexKeys::of(event));
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Command::Append {
                event: Pending { bytes, keys },
                reply,
            })
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Closes the current log file and writes a signed digest now, whatever the timers say:
    /// afterwards every record appended so far is covered by a signature.
    pub async fn seal(&self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Command::Seal { reply })
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Seals the trail (as [`AuditLog::seal`]), stops the writer, and waits for the lookup
    /// index to take in the last records.
    pub async fn close(mut self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Command::Close { reply })
            .map_err(|_| Error::Closed)?;
        let result = answer.await.map_err(|_| Error::Closed)?;
        // The writer has exited and hung up on the indexer, which stops once it has caught up.
        self.index_flush = None;
        if let Some(indexer) = self.indexer.take() {
            let _ = tokio::task::spawn_blocking(move || indexer.join()).await;
        }
        result
    }

    /// The last record acknowledged to an appender.
    pub(crate) fn acknowledged_seq(&self) -> u64 {
        self.counters.acknowledged.load(Ordering::Relaxed)
    }

    /// The public half of the digest signing key, DER (SubjectPublicKeyInfo), as
    /// [`verify`](crate::verify) takes it.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The public half of the digest signing key in PEM, for `keystead audit verify`.
    pub fn public_key_pem(&self) -> String {
        signing::public_key_pem_from_der(&self.public_key_der)
    }

    /// What [`AuditLog::open`] repaired, if anything.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The writer's counters since open.
    pub fn stats(&self) -> LogStats {
        LogStats {
            records: self.counters.records.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
    }

    /// The trail's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The log file being appended to.
struct OpenFile {
    file: File,
    name: String,
    path: PathBuf,
    seq: u64,
    opened_at: OffsetDateTime,
    opened: Instant,
    size: u64,
    hasher: StreamingSha256,
    count: u64,
    first_seq: u64,
    previous_hash: [u8; 32],
    first_hash: [u8; 32],
    /// Whether the directory entry is durable yet.
    entry_synced: bool,
}

/// The newest digest, which the next one chains to.
struct DigestRef {
    name: String,
    seq: u64,
    signature_hex: String,
    last_file_seq: u64,
}

/// What a recovery cut off.
struct Torn {
    file: String,
    offset: u64,
    len: u64,
    sha256: [u8; 32],
    removed: bool,
}

/// The writer thread's state. Every field is touched only by that thread (or by `open` before
/// the thread starts).
struct Writer {
    dir: PathBuf,
    max_file_bytes: u64,
    max_file_age: Duration,
    digest_interval: Duration,
    account_id: String,
    region: String,
    clock: Arc<dyn Clock>,
    key: SigningKey,
    fingerprint: String,
    next_seq: u64,
    last_hash: [u8; 32],
    current: Option<OpenFile>,
    next_file_seq: u64,
    /// Closed log files no digest covers yet.
    pending: Vec<LogFileEntry>,
    last_digest: Option<DigestRef>,
    period_start: OffsetDateTime,
    next_digest: Instant,
    failed: Option<(PathBuf, io::ErrorKind)>,
    counters: Arc<Counters>,
    /// Where synced batches go to be indexed.
    index_sender: Option<(mpsc::Sender<IndexMessage>, Arc<Index>)>,
    /// [`AuditLogConfig::lookup_index_backlog`].
    index_backlog: u64,
    /// The task that answers the callers of each batch, on the runtime `open` was called on:
    /// waking 32 tasks from inside the runtime costs far less than from this thread.
    answerer: Option<tokio::sync::mpsc::UnboundedSender<Answers>>,
}

impl Writer {
    fn open(
        config: AuditLogConfig,
        key: SigningKey,
        counters: Arc<Counters>,
    ) -> Result<(Self, Option<Torn>), Error> {
        let dir = config.dir.clone();
        layout::create_dirs(&dir)?;
        let now = now(config.clock.as_ref());
        let mut listing = layout::list(&dir)?;

        // A digest that was being written when the process died was never part of the trail.
        if !listing.temporary.is_empty() {
            for temp in listing.temporary.drain(..) {
                let path = dir.join(&temp);
                fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            }
            layout::sync_dir(&dir.join(DIGESTS))?;
        }

        let public_key_der = key.public_key_der();
        let mut last_digest = None;
        let mut head = None;
        let mut period_start = None;
        if let Some(named) = listing.digests.last() {
            let path = layout::digest_path(&dir, &named.name);
            let untrusted = |reason: &str| Error::UntrustedDigest {
                path: path.clone(),
                reason: reason.to_owned(),
            };
            let digest = digest::read(&path)?.map_err(untrusted)?;
            if !digest.signature_valid(&public_key_der) {
                return Err(untrusted(
                    "its signature does not verify under the log's key",
                ));
            }
            if digest.body.digest_seq != named.seq {
                return Err(untrusted("its digestSeq differs from its file name"));
            }
            head = digest.body.chain_head;
            period_start = Some(digest.body.digest_end_time);
            last_digest = Some(DigestRef {
                name: named.name.clone(),
                seq: digest.body.digest_seq,
                signature_hex: digest.signature_hex(),
                last_file_seq: digest.body.last_file_seq,
            });
        }
        let covered = last_digest.as_ref().map_or(0, |d| d.last_file_seq);

        // Files written since the last digest: rescan them for the next digest, and repair a
        // torn tail of the newest.
        let newest = listing.logs.last().map(|n| n.seq);
        let mut torn = None;
        let mut pending = Vec::new();
        let mut next_file_seq = covered.max(newest.unwrap_or(0)) + 1;
        for named in listing.logs.iter().filter(|n| n.seq > covered) {
            let path = layout::log_path(&dir, &named.name);
            let mut found = scan::scan(&path)?;
            if Some(named.seq) == newest
                && let Some(tail) = found.tail
            {
                let removed = found.nodes.is_empty();
                truncate_torn(&path, tail.offset, removed, &counters)?;
                torn = Some(Torn {
                    file: named.name.clone(),
                    offset: tail.offset,
                    len: tail.len,
                    sha256: tail.sha256,
                    removed,
                });
                if removed {
                    next_file_seq = named.seq;
                    continue;
                }
                found = scan::scan(&path)?;
            }
            let (Some(first), Some(last)) = (found.nodes.first(), found.nodes.last()) else {
                // An empty file that is not the newest was not written by a writer: leave it
                // for the verifier to report.
                continue;
            };
            head = Some(ChainHead {
                seq: last.seq,
                hash: last.hash,
            });
            period_start.get_or_insert(named.time);
            pending.push(LogFileEntry {
                file: named.name.clone(),
                file_seq: named.seq,
                sha256: found.sha256,
                size: found.size,
                record_count: found.nodes.len() as u64,
                first_seq: first.seq,
                last_seq: last.seq,
                previous_record_hash: first.prev,
                first_record_hash: first.hash,
                last_record_hash: last.hash,
                opened_at: named.time,
                closed_at: now,
            });
        }

        let (next_seq, last_hash) = head.map_or((1, GENESIS), |h| (h.seq + 1, h.hash));
        let writer = Self {
            dir,
            max_file_bytes: config.max_file_bytes.max(1),
            max_file_age: config.max_file_age,
            digest_interval: config.digest_interval,
            account_id: config.account_id,
            region: config.region,
            clock: config.clock,
            fingerprint: digest::fingerprint(&public_key_der),
            key,
            next_seq,
            last_hash,
            current: None,
            next_file_seq,
            pending,
            last_digest,
            period_start: period_start.unwrap_or(now),
            next_digest: Instant::now() + config.digest_interval,
            failed: None,
            counters,
            index_sender: None,
            index_backlog: config.lookup_index_backlog,
            answerer: tokio::runtime::Handle::try_current().ok().map(|runtime| {
                let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
                runtime.spawn(async move {
                    while let Some(answers) = receiver.recv().await {
                        answer(answers);
                    }
                });
                sender
            }),
        };
        Ok((writer, torn))
    }

    /// The record that says what a recovery discarded, serialized.
    fn recovery_event(&self, torn: &Torn) -> Result<Pending, Error> {
        let mut event = AuditEvent::service_event(
            now(self.clock.as_ref()),
            AUDIT_EVENT_SOURCE,
            RECOVERY_EVENT_NAME,
            &self.region,
            &self.account_id,
            "keystead",
            random_event_id(),
        );
        let mut details = Map::new();
        details.insert("logFile".into(), Value::from(torn.file.clone()));
        details.insert("truncatedAtOffset".into(), Value::from(torn.offset));
        details.insert("discardedBytes".into(), Value::from(torn.len));
        details.insert(
            "discardedSha256".into(),
            Value::from(hex::encode(torn.sha256)),
        );
        details.insert("fileRemoved".into(), Value::from(torn.removed));
        details.insert(
            "lastSeqBeforeRecovery".into(),
            Value::from(self.next_seq - 1),
        );
        event.service_event_details = Some(details);
        Ok(Pending {
            bytes: serde_json::to_vec(&event).map_err(Error::Internal)?,
            keys: Some(IndexKeys::of(&event)),
        })
    }

    /// The writer thread: batches what is waiting, and runs the roll and digest timers.
    fn run(mut self, receiver: mpsc::Receiver<Command>) {
        loop {
            let wait = self
                .next_deadline()
                .saturating_duration_since(Instant::now());
            match receiver.recv_timeout(wait) {
                Ok(first) => {
                    let batch = Self::collect(first, &receiver);
                    if self.handle(batch) {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // Dropped without close: everything acknowledged is durable; the next open
                // seals the rest.
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            self.run_timers();
        }
    }

    /// Takes `first` and every command waiting behind it (up to the batch limits) into a
    /// batch.
    fn collect(first: Command, receiver: &mpsc::Receiver<Command>) -> Vec<Command> {
        let mut bytes = batch_bytes(&first);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_RECORDS && bytes < MAX_BATCH_BYTES {
            let Ok(command) = receiver.try_recv() else {
                break;
            };
            bytes += batch_bytes(&command);
            batch.push(command);
        }
        batch
    }

    /// Handles a batch in order: runs of appends are committed together, controls in between.
    /// Returns whether the writer is to stop.
    fn handle(&mut self, batch: Vec<Command>) -> bool {
        let mut events = Vec::new();
        let mut replies = Vec::new();
        for command in batch {
            match command {
                Command::Append { event, reply } => {
                    events.push(event);
                    replies.push(reply);
                }
                Command::Seal { reply } => {
                    self.flush(&mut events, &mut replies);
                    let _ = reply.send(self.seal());
                }
                Command::Close { reply } => {
                    self.flush(&mut events, &mut replies);
                    let result = self.seal();
                    self.current = None;
                    let _ = reply.send(result);
                    return true;
                }
            }
        }
        self.flush(&mut events, &mut replies);
        false
    }

    fn flush(&mut self, events: &mut Vec<Pending>, replies: &mut Vec<Reply<AppendReceipt>>) {
        if events.is_empty() {
            return;
        }
        let answers: Answers = match self.commit(events) {
            Ok(receipts) => replies
                .drain(..)
                .zip(receipts.into_iter().map(Ok))
                .collect(),
            Err(_) => replies
                .drain(..)
                .map(|reply| (reply, Err(self.failure())))
                .collect(),
        };
        events.clear();
        // One wake-up of the answering task per batch; without a runtime, answer from here.
        let answers = match &self.answerer {
            Some(answerer) => match answerer.send(answers) {
                Ok(()) => return,
                Err(unsent) => unsent.0,
            },
            None => answers,
        };
        answer(answers);
    }

    /// Chains `events`, writes them with one write and one fdatasync, hands them to the
    /// indexer, and returns their receipts. Nothing is acknowledged unless the sync succeeded.
    fn commit(&mut self, events: &mut [Pending]) -> Result<Vec<AppendReceipt>, Error> {
        if self.failed.is_some() {
            return Err(self.failure());
        }
        if self.current.is_none() {
            self.open_file()?;
        }
        let mut buffer = Vec::with_capacity(
            events
                .iter()
                .map(|e| e.bytes.len() + chain::LINE_OVERHEAD + 20)
                .sum(),
        );
        let mut receipts = Vec::with_capacity(events.len());
        let mut lines = Vec::with_capacity(events.len());
        let (mut seq, mut prev) = (self.next_seq, self.last_hash);
        for event in events.iter() {
            let hash = chain::record_hash(seq, &prev, &event.bytes);
            let start = buffer.len();
            chain::encode_line(&mut buffer, seq, &prev, &hash, &event.bytes);
            lines.push((start as u64, (buffer.len() - start) as u64));
            receipts.push(AppendReceipt { seq, hash });
            prev = hash;
            seq += 1;
        }

        let counters = Arc::clone(&self.counters);
        let Some(current) = self.current.as_mut() else {
            return Err(self.failure());
        };
        let written = current
            .file
            .write_all(&buffer)
            .and_then(|()| current.file.sync_data());
        counters.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = written {
            let path = current.path.clone();
            return Err(self.fail(path, e.kind()));
        }
        if !current.entry_synced {
            // The first batch of a new file: its name must be durable before we acknowledge.
            let logs = self.dir.join(LOGS);
            counters.syncs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = layout::sync_dir(&logs) {
                let kind = match &e {
                    Error::Io { source, .. } => source.kind(),
                    _ => io::ErrorKind::Other,
                };
                return Err(self.fail(logs, kind));
            }
            current.entry_synced = true;
        }

        if current.count == 0 {
            current.first_seq = self.next_seq;
            current.previous_hash = self.last_hash;
            current.first_hash = receipts.first().map_or(GENESIS, |r| r.hash);
        }
        let base = current.size;
        current.count += events.len() as u64;
        current.size += buffer.len() as u64;
        current.hasher.update(&buffer);
        if let Some((sender, index)) = &self.index_sender {
            // An indexer that stopped has recorded why; lookups report it.
            let _ = if self.next_seq.saturating_sub(index.indexed()) <= self.index_backlog {
                let records = events
                    .iter_mut()
                    .zip(&receipts)
                    .zip(&lines)
                    .filter_map(|((event, receipt), (start, len))| {
                        Some(IndexedRecord {
                            seq: receipt.seq,
                            offset: base + start,
                            len: *len,
                            keys: event.keys.take()?,
                        })
                    })
                    .collect();
                sender.send(IndexMessage::Batch(IndexBatch {
                    file_seq: current.seq,
                    file_name: current.name.clone(),
                    records,
                }))
            } else {
                // Too far behind: the indexer reads these back from the file, and the queue
                // between us stays small.
                sender.send(IndexMessage::Skipped(seq - 1))
            };
        }
        self.next_seq = seq;
        self.last_hash = prev;
        counters.acknowledged.store(seq - 1, Ordering::Relaxed);
        counters
            .records
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        counters.batches.fetch_add(1, Ordering::Relaxed);
        if current.size >= self.max_file_bytes {
            self.close_file();
        }
        Ok(receipts)
    }

    /// Creates the next log file (exclusively: an existing name is never reused).
    fn open_file(&mut self) -> Result<(), Error> {
        let opened_at = now(self.clock.as_ref());
        let name = layout::log_name(self.next_file_seq, opened_at);
        let path = layout::log_path(&self.dir, &name);
        // Readable by the service's group (an operator running `keystead audit verify`), never
        // by others: records name principals and keys.
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o640)
            .open(&path);
        let file = match file {
            Ok(file) => file,
            Err(e) => return Err(self.fail(path, e.kind())),
        };
        self.current = Some(OpenFile {
            file,
            name,
            path,
            seq: self.next_file_seq,
            opened_at,
            opened: Instant::now(),
            size: 0,
            hasher: StreamingSha256::new(),
            count: 0,
            first_seq: 0,
            previous_hash: GENESIS,
            first_hash: GENESIS,
            entry_synced: false,
        });
        self.next_file_seq += 1;
        Ok(())
    }

    /// Closes the current log file (it is already durable) and queues it for the next digest.
    fn close_file(&mut self) {
        let Some(current) = self.current.take() else {
            return;
        };
        if current.count == 0 {
            return;
        }
        self.pending.push(LogFileEntry {
            file: current.name,
            file_seq: current.seq,
            sha256: current.hasher.finish(),
            size: current.size,
            record_count: current.count,
            first_seq: current.first_seq,
            last_seq: self.next_seq - 1,
            previous_record_hash: current.previous_hash,
            first_record_hash: current.first_hash,
            last_record_hash: self.last_hash,
            opened_at: current.opened_at,
            closed_at: now(self.clock.as_ref()),
        });
    }

    /// Closes the current file and writes a digest of every file closed since the last one.
    fn seal(&mut self) -> Result<(), Error> {
        if self.failed.is_some() {
            return Err(self.failure());
        }
        self.close_file();
        let end = now(self.clock.as_ref()).max(self.period_start);
        let last_file_seq = self
            .pending
            .last()
            .map(|e| e.file_seq)
            .or(self.last_digest.as_ref().map(|d| d.last_file_seq))
            .unwrap_or(0);
        let body = DigestBody {
            digest_version: DIGEST_VERSION,
            digest_seq: self.last_digest.as_ref().map_or(1, |d| d.seq + 1),
            digest_start_time: self.period_start,
            digest_end_time: end,
            previous_digest_file: self.last_digest.as_ref().map(|d| d.name.clone()),
            previous_digest_signature: self.last_digest.as_ref().map(|d| d.signature_hex.clone()),
            public_key_fingerprint: self.fingerprint.clone(),
            signature_algorithm: "Ed25519".to_owned(),
            log_files: self.pending.clone(),
            last_file_seq,
            chain_head: (self.next_seq > 1).then_some(ChainHead {
                seq: self.next_seq - 1,
                hash: self.last_hash,
            }),
        };
        // The temporary file, and the directory after the rename.
        self.counters.syncs.fetch_add(2, Ordering::Relaxed);
        match digest::write(&self.dir, &body, &self.key) {
            Ok((name, signature)) => {
                self.last_digest = Some(DigestRef {
                    name,
                    seq: body.digest_seq,
                    signature_hex: hex::encode(signature),
                    last_file_seq,
                });
                self.pending.clear();
                self.period_start = end;
                self.next_digest = Instant::now() + self.digest_interval;
                Ok(())
            }
            Err(Error::Io { path, source }) => Err(self.fail(path, source.kind())),
            Err(other) => Err(other),
        }
    }

    fn next_deadline(&self) -> Instant {
        let roll = self.current.as_ref().map(|c| c.opened + self.max_file_age);
        roll.map_or(self.next_digest, |roll| roll.min(self.next_digest))
    }

    fn run_timers(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let now = Instant::now();
        if self.next_digest <= now {
            // A failure poisons the writer; appenders learn of it on their next append.
            let _ = self.seal();
        } else if self
            .current
            .as_ref()
            .is_some_and(|c| c.opened + self.max_file_age <= now)
        {
            self.close_file();
        }
    }

    /// Stops the writer after an I/O failure.
    fn fail(&mut self, path: PathBuf, kind: io::ErrorKind) -> Error {
        self.failed = Some((path, kind));
        self.current = None;
        self.failure()
    }

    fn failure(&self) -> Error {
        match &self.failed {
            Some((path, kind)) => Error::WriterFailed {
                path: path.clone(),
                kind: *kind,
            },
            None => Error::Closed,
        }
    }
}

/// Cuts a torn tail off the newest log file (or removes a file that held only a torn line),
/// durably.
fn truncate_torn(path: &Path, offset: u64, remove: bool, counters: &Counters) -> Result<(), Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if remove {
        fs::remove_file(path).map_err(io_error)?;
    } else {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error)?;
        file.set_len(offset).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        counters.syncs.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(parent) = path.parent() {
        layout::sync_dir(parent)?;
        counters.syncs.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The bytes a command adds to a batch.
fn batch_bytes(command: &Command) -> usize {
    match command {
        Command::Append { event, .. } => event.bytes.len(),
        _ => 0,
    }
}

/// The clock's reading as a UTC date-time.
fn now(clock: &dyn Clock) -> OffsetDateTime {
    let millis = i128::from(clock.now().0);
    OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Random bytes drawn for event ids at a time: one draw from the generator serves 256 ids.
const EVENT_ID_POOL_BYTES: usize = 4096;

thread_local! {
    /// This thread's unused random bytes for event ids, and where the unused ones start.
    static EVENT_ID_POOL: RefCell<(Box<[u8; EVENT_ID_POOL_BYTES]>, usize)> =
        RefCell::new((Box::new([0; EVENT_ID_POOL_BYTES]), EVENT_ID_POOL_BYTES));
}

/// A random UUID (version 4) for `eventID`, from keystead-crypto's generator. The bytes are
/// drawn 4 KiB at a time per thread: each draw costs about as much as formatting a whole
/// record, and event ids need randomness, not secrecy.
pub fn random_event_id() -> String {
    let mut bytes = EVENT_ID_POOL.with(|pool| {
        let (pool, used) = &mut *pool.borrow_mut();
        if *used + 16 > EVENT_ID_POOL_BYTES {
            **pool = keystead_crypto::random_array::<EVENT_ID_POOL_BYTES>()
                .map(|b| *b)
                .unwrap_or([0; EVENT_ID_POOL_BYTES]);
            *used = 0;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&pool[*used..*used + 16]);
        *used += 16;
        bytes
    });
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_distinct_version_4_uuids_across_refills_of_the_pool() {
        // 1000 ids use the thread's pool up four times over.
        let ids: Vec<String> = (0..1000).map(|_| random_event_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 36, "{id}");
            for (i, c) in id.char_indices() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    assert_eq!(c, '-', "{id}");
                } else {
                    assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{id}");
                }
            }
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}

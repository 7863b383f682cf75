//! [`verify`]: checks a whole trail, or the part of it in a time range, and says precisely what
//! is wrong.
//!
//! Two independent layers are checked:
//! - **digests**: every digest is signed by the given key, digests are numbered without gaps,
//!   each quotes its predecessor's signature and continues its period, and each log file a
//!   digest lists has exactly the SHA-256, size and chain endpoints the digest states;
//! - **the hash chain**: every record matches its own hash, links to the record before it by
//!   hash and sequence number, and stands in the file in sequence order.
//!
//! The chain alone is unkeyed, so someone who rewrites a file consistently defeats it; the
//! signed digests catch that. Records written since the newest digest are protected by the
//! chain only; the report lists them as unsealed.
//!
//! Each log file is read once with a buffered reader; per record only about 100 bytes are kept
//! (see [`scan`](crate::scan)), for the duration of that file.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use keystead_crypto::signing;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Error;
use crate::chain::{self, GENESIS};
use crate::digest::{self, Digest, LogFileEntry};
use crate::layout::{self, Listing, Named};
use crate::log::{AUDIT_EVENT_SOURCE, RECOVERY_EVENT_NAME};
use crate::scan::{self, Scan};

/// Something that shows the trail was changed or damaged after it was written. A crash never
/// causes a finding; see [`Notice`] for what one does leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A record's contents changed after it was written. With `rehashed: false` the record no
    /// longer matches its own hash; with `rehashed: true` its hash was recomputed, but the next
    /// record (or the digest) still commits to the original.
    RecordEdited {
        /// The log file.
        file: String,
        /// The record's line (1-based).
        line: u64,
        /// The record's sequence number.
        seq: u64,
        /// Whether the record's own hash was recomputed to hide the edit.
        rehashed: bool,
    },
    /// Records are missing from the chain: the record at `line` follows `first_seq - 1`
    /// directly.
    RecordsDeleted {
        /// The log file.
        file: String,
        /// The line of the first record after the gap.
        line: u64,
        /// The first missing sequence number.
        first_seq: u64,
        /// The last missing sequence number.
        last_seq: u64,
    },
    /// A line that the writer never wrote: it does not belong to the chain (a forged record, a
    /// copied line, a second record claiming a sequence number).
    RecordInserted {
        /// The log file.
        file: String,
        /// The inserted line.
        line: u64,
        /// The sequence number it claims.
        seq: u64,
    },
    /// A genuine record stands at the wrong place in its file.
    RecordOutOfOrder {
        /// The log file.
        file: String,
        /// Where the record stands.
        line: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// A complete line that is not a record, with records after it.
    MalformedLine {
        /// The log file.
        file: String,
        /// The line.
        line: u64,
    },
    /// A file other than the newest ends in an incomplete line. Only the newest file can be
    /// torn by a crash; any other file was complete when the next one was started.
    PartialLine {
        /// The log file.
        file: String,
        /// Where the incomplete part starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// A log file holds no record.
    LogFileEmpty {
        /// The log file.
        file: String,
    },
    /// A log file is gone: a digest lists it, or files on both sides of its number exist.
    LogFileMissing {
        /// The file's number.
        file_seq: u64,
        /// Its name, if a digest lists it.
        file: Option<String>,
        /// The records it held (first and last sequence number), if a digest lists it.
        records: Option<(u64, u64)>,
    },
    /// A sealed log file has another name than its digest states (its number and contents may
    /// still be as sealed; other findings say if not).
    LogFileRenamed {
        /// The name the digest states.
        sealed_as: String,
        /// The name found.
        file: String,
    },
    /// A log file differs from what its digest sealed (SHA-256 or size), and it is not simply
    /// shorter. Record findings, if any, say where.
    LogFileRewritten {
        /// The log file.
        file: String,
        /// The digest that sealed it.
        digest: String,
    },
    /// A sealed log file lost its last records: what remains is a clean prefix of what the
    /// digest sealed.
    LogFileTruncated {
        /// The log file.
        file: String,
        /// The digest that sealed it.
        digest: String,
        /// The size the digest states.
        expected_size: u64,
        /// The size found.
        actual_size: u64,
        /// The first sequence number lost.
        first_missing_seq: u64,
        /// The last sequence number lost.
        last_missing_seq: u64,
    },
    /// A file in the trail's directories that the writer did not create (a stray name, or a
    /// second file with a number already taken).
    UnexpectedFile {
        /// The path relative to the trail's directory.
        path: String,
    },
    /// A digest whose signature does not verify under the given key: forged or altered.
    DigestSignatureInvalid {
        /// The digest file.
        digest: String,
    },
    /// A digest file that cannot be parsed.
    DigestMalformed {
        /// The digest file.
        digest: String,
        /// Why.
        reason: String,
    },
    /// Digests with these numbers are missing (later ones exist).
    DigestMissing {
        /// The first missing number.
        first_seq: u64,
        /// The last missing number.
        last_seq: u64,
    },
    /// Validly signed digests that do not fit together: a digest does not quote its
    /// predecessor's signature, periods or file lists do not continue.
    DigestChainBroken {
        /// The digest file.
        digest: String,
        /// What does not fit.
        reason: String,
    },
}

/// Something worth knowing that is not evidence of tampering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The newest log file ends in an incomplete line: a crash during a write left it, and
    /// [`AuditLog::open`](crate::AuditLog::open) will cut it off (and record that it did).
    TornTail {
        /// The log file.
        file: String,
        /// Where the incomplete part starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// A recovery record: the log cut a torn tail off a file when it was opened.
    Recovered {
        /// The file holding the recovery record.
        file: String,
        /// The recovery record's sequence number.
        seq: u64,
        /// The file that was cut.
        recovered_file: String,
        /// How many bytes were discarded.
        discarded_bytes: u64,
    },
    /// Log files that no digest covers yet: protected by the hash chain only. Deleting records
    /// from the end of these, or rewriting them consistently, cannot be detected.
    Unsealed {
        /// The files, in order.
        files: Vec<String>,
    },
    /// A digest left half-written by a crash (the next open removes it).
    IncompleteDigest {
        /// The path relative to the trail's directory.
        path: String,
    },
    /// The checked range starts at a file whose predecessor is outside the range and not
    /// sealed, so its first record's link could not be checked.
    Unanchored {
        /// The log file.
        file: String,
    },
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Evidence of tampering or damage, in the order found. Empty means intact.
    pub findings: Vec<Finding>,
    /// Things worth knowing that are not tampering.
    pub notices: Vec<Notice>,
    /// Log files read.
    pub log_files: usize,
    /// Digest files read.
    pub digests: usize,
    /// Records read.
    pub records: u64,
    /// Bytes of log files read.
    pub bytes: u64,
}

impl Report {
    /// Whether nothing was found: every record, file and digest checked is as written.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks the trail in `dir` against `public_key_der` (the DER form of
/// [`AuditLog::public_key_der`](crate::AuditLog::public_key_der)).
///
/// `from` and `to` limit which log files are read: those whose time span (from their opening to
/// their closing, or the next file's opening) overlaps the range, at the whole-second precision
/// of the files' times; `None` means unbounded. Digests are small and
/// are always all checked. The first file read is linked to the sealed end of its predecessor
/// when a digest covers that; otherwise its first link is unchecked ([`Notice::Unanchored`]).
///
/// Errors only when the trail cannot be read at all; everything wrong with its contents is a
/// [`Finding`] in the report.
pub fn verify(
    dir: &Path,
    public_key_der: &[u8],
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
) -> Result<Report, Error> {
    if public_key_der.len() != signing::PUBLIC_KEY_DER_LEN {
        return Err(Error::InvalidPublicKey);
    }
    // File and digest times have whole seconds: a file closed at 12:00:00.7 says 12:00:00.
    let from = from.map(|f| f.replace_nanosecond(0).unwrap_or(f));
    let listing = layout::list(dir)?;
    let mut report = Report::default();
    for path in &listing.unexpected {
        report
            .findings
            .push(Finding::UnexpectedFile { path: path.clone() });
    }
    for path in &listing.temporary {
        report
            .notices
            .push(Notice::IncompleteDigest { path: path.clone() });
    }
    let coverage = check_digests(dir, &listing, public_key_der, &mut report)?;
    check_logs(dir, &listing, &coverage, from, to, &mut report)?;
    Ok(report)
}

/// What the trusted digests say about log files.
#[derive(Default)]
struct Coverage {
    /// File number → (entry, name of the digest listing it).
    entries: BTreeMap<u64, (LogFileEntry, String)>,
    /// Every file up to this number should be in `entries`.
    through: u64,
}

fn check_digests(
    dir: &Path,
    listing: &Listing,
    public_key_der: &[u8],
    report: &mut Report,
) -> Result<Coverage, Error> {
    let mut trusted: BTreeMap<u64, (&Named, Digest)> = BTreeMap::new();
    let mut expected = 1;
    for named in &listing.digests {
        report.digests += 1;
        if named.seq > expected {
            report.findings.push(Finding::DigestMissing {
                first_seq: expected,
                last_seq: named.seq - 1,
            });
        }
        expected = named.seq + 1;
        let digest = match digest::read(&layout::digest_path(dir, &named.name))? {
            Ok(digest) => digest,
            Err(reason) => {
                report.findings.push(Finding::DigestMalformed {
                    digest: named.name.clone(),
                    reason: reason.to_owned(),
                });
                continue;
            }
        };
        if !digest.signature_valid(public_key_der) {
            report.findings.push(Finding::DigestSignatureInvalid {
                digest: named.name.clone(),
            });
            continue;
        }
        if digest.body.digest_seq != named.seq {
            report.findings.push(Finding::DigestMalformed {
                digest: named.name.clone(),
                reason: "its digestSeq differs from its file name".to_owned(),
            });
            continue;
        }
        trusted.insert(named.seq, (named, digest));
    }

    let mut coverage = Coverage::default();
    for (&seq, (named, digest)) in &trusted {
        let body = &digest.body;
        let mut broken = |reason: String| {
            report.findings.push(Finding::DigestChainBroken {
                digest: named.name.clone(),
                reason,
            });
        };
        if seq == 1 {
            if body.previous_digest_file.is_some() || body.previous_digest_signature.is_some() {
                broken("the first digest names a predecessor".to_owned());
            }
        } else if let Some((previous_named, previous)) = trusted.get(&(seq - 1)) {
            if body.previous_digest_signature.as_deref() != Some(&previous.signature_hex())
                || body.previous_digest_file.as_deref() != Some(&previous_named.name)
            {
                broken(format!(
                    "it does not quote the signature of {}",
                    previous_named.name
                ));
            }
            if body.digest_start_time != previous.body.digest_end_time {
                broken(format!(
                    "its period does not start where {} ends",
                    previous_named.name
                ));
            }
            let expected_first = previous.body.last_file_seq + 1;
            if body
                .log_files
                .first()
                .is_some_and(|e| e.file_seq != expected_first)
                || body.last_file_seq < previous.body.last_file_seq
            {
                broken(format!(
                    "its log files do not continue from file {} of {}",
                    previous.body.last_file_seq, previous_named.name
                ));
            }
        }
        for pair in body.log_files.windows(2) {
            if pair[1].file_seq != pair[0].file_seq + 1
                || pair[1].first_seq != pair[0].last_seq + 1
                || pair[1].previous_record_hash != pair[0].last_record_hash
            {
                broken(format!(
                    "{} does not continue {}",
                    pair[1].file, pair[0].file
                ));
            }
        }
        if body
            .log_files
            .last()
            .is_some_and(|e| e.file_seq != body.last_file_seq)
        {
            broken("lastFileSeq is not its last file's number".to_owned());
        }
        for entry in &body.log_files {
            coverage
                .entries
                .insert(entry.file_seq, (entry.clone(), named.name.clone()));
        }
        coverage.through = coverage.through.max(body.last_file_seq);
    }
    Ok(coverage)
}

/// A point of the chain that the next record must link to.
#[derive(Debug, Clone)]
struct Anchor {
    seq: u64,
    hash: [u8; 32],
    /// Where that record is, if known (file, line).
    at: Option<(String, u64)>,
}

impl Anchor {
    fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS,
            at: None,
        }
    }

    fn sealed(entry: &LogFileEntry) -> Self {
        Self {
            seq: entry.last_seq,
            hash: entry.last_record_hash,
            at: Some((entry.file.clone(), entry.record_count)),
        }
    }
}

fn check_logs(
    dir: &Path,
    listing: &Listing,
    coverage: &Coverage,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    report: &mut Report,
) -> Result<(), Error> {
    let on_disk: BTreeMap<u64, &Named> = listing.logs.iter().map(|n| (n.seq, n)).collect();
    let newest = listing.logs.last().map(|n| n.seq);
    let last = newest.unwrap_or(0).max(coverage.through);

    // Which files to read, decided up front so that several can be read at once.
    let plan: Vec<(u64, bool)> = (1..=last)
        .map(|file_seq| {
            let entry = coverage.entries.get(&file_seq).map(|(e, _)| e);
            let named = on_disk.get(&file_seq);
            let opened = named.map(|n| n.time).or(entry.map(|e| e.opened_at));
            let closed = entry.map(|e| e.closed_at).or_else(|| {
                on_disk
                    .range(file_seq + 1..)
                    .next()
                    .map(|(_, next)| next.time)
            });
            let in_range = opened.is_none_or(|o| to.is_none_or(|to| o <= to))
                && closed.is_none_or(|c| from.is_none_or(|from| c >= from));
            (file_seq, in_range)
        })
        .collect();
    let to_read: Vec<&Named> = plan
        .iter()
        .filter(|&&(_, in_range)| in_range)
        .filter_map(|(file_seq, _)| on_disk.get(file_seq).copied())
        .collect();
    let mut reader = ParallelScans::new(dir, to_read);

    // `None`: the chain position is unknown (the file before is missing and was never sealed);
    // the next file's first record is then taken as given.
    let mut anchor = Some(Anchor::genesis());
    let mut started = false;
    let mut unsealed = Vec::new();
    for (file_seq, in_range) in plan {
        let entry = coverage.entries.get(&file_seq);
        if !in_range {
            anchor = entry.map(|(e, _)| Anchor::sealed(e));
            continue;
        }
        let Some(named) = on_disk.get(&file_seq).copied() else {
            report.findings.push(Finding::LogFileMissing {
                file_seq,
                file: entry.map(|(e, _)| e.file.clone()),
                records: entry.map(|(e, _)| (e.first_seq, e.last_seq)),
            });
            anchor = entry.map(|(e, _)| Anchor::sealed(e));
            started = true;
            continue;
        };
        if !started && anchor.is_none() {
            report.notices.push(Notice::Unanchored {
                file: named.name.clone(),
            });
        }
        started = true;

        let found = reader.next_scan()?;
        report.log_files += 1;
        report.bytes += found.size;
        report.records += found.nodes.len() as u64;

        // Which record the chain continues from: the digest says, or the next file does.
        let successor_link = match entry {
            Some((e, _)) => Some(e.last_record_hash),
            None => match on_disk.get(&(file_seq + 1)) {
                Some(next) => first_prev(&layout::log_path(dir, &next.name)),
                None => None,
            },
        };
        let classified = classify(&named.name, &found, anchor.as_ref(), successor_link);
        let is_newest = Some(file_seq) == newest;
        check_file(
            &named.name,
            &found,
            entry,
            classified.findings,
            is_newest,
            report,
        );
        notice_recovery(&named.name, &found, report);

        if found.nodes.is_empty() && found.tail.is_none() && found.malformed.is_empty() {
            report.findings.push(Finding::LogFileEmpty {
                file: named.name.clone(),
            });
        }
        anchor = match entry {
            Some((e, _)) => Some(Anchor::sealed(e)),
            None => classified.tail.or(anchor),
        };
        if entry.is_none() {
            unsealed.push(named.name.clone());
        }
    }
    if !unsealed.is_empty() {
        report.notices.push(Notice::Unsealed { files: unsealed });
    }
    Ok(())
}

/// Reads log files in order, several at a time on separate threads: hashing dominates the
/// verifier's time, and files are independent until their records are placed on the chain.
/// At most one file per core is held in memory (as nodes, not records).
struct ParallelScans<'a> {
    dir: &'a Path,
    files: std::vec::IntoIter<&'a Named>,
    ready: std::collections::VecDeque<Result<Scan, Error>>,
    workers: usize,
}

impl<'a> ParallelScans<'a> {
    fn new(dir: &'a Path, files: Vec<&'a Named>) -> Self {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(8);
        Self {
            dir,
            files: files.into_iter(),
            ready: std::collections::VecDeque::new(),
            workers,
        }
    }

    /// The scan of the next file of the list.
    fn next_scan(&mut self) -> Result<Scan, Error> {
        if self.ready.is_empty() {
            let batch: Vec<_> = self.files.by_ref().take(self.workers).collect();
            let dir = self.dir;
            let scans = std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|named| {
                        let path = layout::log_path(dir, &named.name);
                        scope.spawn(move || scan::scan(&path))
                    })
                    .collect();
                handles
                    .into_iter()
                    .zip(&batch)
                    .map(|(handle, named)| {
                        handle.join().unwrap_or_else(|_| {
                            Err(Error::Io {
                                path: layout::log_path(dir, &named.name),
                                source: std::io::Error::other("the reading thread panicked"),
                            })
                        })
                    })
                    .collect::<Vec<_>>()
            });
            self.ready.extend(scans);
        }
        self.ready.pop_front().unwrap_or_else(|| {
            Err(Error::Io {
                path: self.dir.to_owned(),
                source: std::io::Error::other("no file left to read"),
            })
        })
    }
}

/// Compares a file with its digest entry and reports what its scan and classification found.
fn check_file(
    file: &str,
    found: &Scan,
    entry: Option<&(LogFileEntry, String)>,
    record_findings: Vec<Finding>,
    is_newest: bool,
    report: &mut Report,
) {
    let mut findings = record_findings;
    for &(line, _) in &found.malformed {
        findings.push(Finding::MalformedLine {
            file: file.to_owned(),
            line,
        });
    }
    let mut tail = found.tail;
    if let Some((entry, _)) = entry
        && entry.file != file
    {
        findings.push(Finding::LogFileRenamed {
            sealed_as: entry.file.clone(),
            file: file.to_owned(),
        });
    }
    if let Some((entry, digest)) = entry
        && (found.sha256 != entry.sha256 || found.size != entry.size)
    {
        let last_found = found
            .nodes
            .last()
            .map_or(entry.first_seq.saturating_sub(1), |n| n.seq);
        let clean_prefix = findings.is_empty()
            && found.size < entry.size
            && found.nodes.first().is_none_or(|n| n.seq == entry.first_seq)
            && last_found < entry.last_seq;
        if clean_prefix {
            // A partial last line is part of the truncation, not a separate finding.
            tail = None;
            findings.push(Finding::LogFileTruncated {
                file: file.to_owned(),
                digest: digest.clone(),
                expected_size: entry.size,
                actual_size: found.size,
                first_missing_seq: last_found + 1,
                last_missing_seq: entry.last_seq,
            });
        } else {
            findings.insert(
                0,
                Finding::LogFileRewritten {
                    file: file.to_owned(),
                    digest: digest.clone(),
                },
            );
        }
    }
    if let Some(tail) = tail {
        if is_newest && entry.is_none() {
            report.notices.push(Notice::TornTail {
                file: file.to_owned(),
                offset: tail.offset,
                len: tail.len,
            });
        } else {
            findings.push(Finding::PartialLine {
                file: file.to_owned(),
                offset: tail.offset,
                len: tail.len,
            });
        }
    }
    report.findings.extend(findings);
}

/// Reports the recovery record a file starts with, if it does.
fn notice_recovery(file: &str, found: &Scan, report: &mut Report) {
    let (Some(event), Some(first)) = (&found.first_event, found.nodes.first()) else {
        return;
    };
    let Ok(event) = serde_json::from_slice::<Value>(event) else {
        return;
    };
    if event["eventSource"] != AUDIT_EVENT_SOURCE || event["eventName"] != RECOVERY_EVENT_NAME {
        return;
    }
    let details = &event["serviceEventDetails"];
    report.notices.push(Notice::Recovered {
        file: file.to_owned(),
        seq: first.seq,
        recovered_file: details["logFile"].as_str().unwrap_or_default().to_owned(),
        discarded_bytes: details["discardedBytes"].as_u64().unwrap_or_default(),
    });
}

/// The `prev` of the first record of the file at `path`, if it has one.
fn first_prev(path: &Path) -> Option<[u8; 32]> {
    let mut reader = BufReader::new(File::open(path).ok()?);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    let line = line.strip_suffix(b"\n")?;
    chain::parse_line(line).map(|l| l.prev)
}

/// The outcome of placing a file's records on the chain.
struct Classified {
    findings: Vec<Finding>,
    /// The last record of the chain in this file.
    tail: Option<Anchor>,
}

/// Where the chain walk stands.
#[derive(Clone, Copy)]
enum Cursor {
    /// Before the first record, with no known predecessor.
    Start,
    /// At the anchor (the end of the previous file).
    Anchor,
    /// At a record of this file.
    Node(usize),
}

/// Places a file's records on the chain and says which are edited, missing, inserted or out of
/// order.
///
/// Records are linked by hash and sequence number, never by position: record `i` is the child
/// of the record whose hash is its `prev` and whose number is one less. The genuine chain is the
/// longest path from `anchor`; where it stops (a deletion, or a record whose hash was
/// recomputed after an edit), it resumes at the next record that has no parent, and the gap
/// between says which. Records off the path were inserted. Records on the path whose positions
/// are not in the longest increasing run were moved.
fn classify(
    file: &str,
    found: &Scan,
    anchor: Option<&Anchor>,
    successor_link: Option<[u8; 32]>,
) -> Classified {
    let nodes = &found.nodes;
    let n = nodes.len();
    let mut findings = Vec::new();
    let record = |i: usize| (file.to_owned(), nodes[i].line, nodes[i].seq);

    for node in nodes.iter().filter(|node| !node.hash_ok) {
        findings.push(Finding::RecordEdited {
            file: file.to_owned(),
            line: node.line,
            seq: node.seq,
            rehashed: false,
        });
    }

    // Exact copies of a line share its hash; only the first takes part in the chain.
    let mut by_hash: HashMap<[u8; 32], usize> = HashMap::with_capacity(n);
    let mut duplicate = vec![false; n];
    for (i, node) in nodes.iter().enumerate() {
        match by_hash.entry(node.hash) {
            Entry::Occupied(_) => duplicate[i] = true,
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }

    // Edges in compressed form: the parent `n` stands for the anchor.
    let mut has_parent = vec![false; n];
    let mut edges: Vec<(usize, usize)> = Vec::with_capacity(n);
    for (i, node) in nodes.iter().enumerate() {
        if duplicate[i] {
            continue;
        }
        let parent = by_hash
            .get(&node.prev)
            .copied()
            .filter(|&p| p != i && nodes[p].seq.checked_add(1) == Some(node.seq))
            .or_else(|| {
                anchor
                    .filter(|a| a.hash == node.prev && a.seq.checked_add(1) == Some(node.seq))
                    .map(|_| n)
            });
        if let Some(parent) = parent {
            has_parent[i] = true;
            edges.push((parent, i));
        }
    }
    edges.sort_unstable();
    let mut edge_start = vec![0usize; n + 2];
    for &(parent, _) in &edges {
        edge_start[parent + 1] += 1;
    }
    for i in 0..=n {
        edge_start[i + 1] += edge_start[i];
    }
    let children = |parent: usize| {
        edges[edge_start[parent]..edge_start[parent + 1]]
            .iter()
            .map(|e| e.1)
    };

    // Length of the longest chain below each record; a record the successor links to counts
    // one more, as its chain continues beyond this file.
    let mut depth = vec![0u64; n];
    let mut by_seq_desc: Vec<usize> = (0..n).filter(|&i| !duplicate[i]).collect();
    by_seq_desc.sort_unstable_by(|&a, &b| nodes[b].seq.cmp(&nodes[a].seq));
    for &i in &by_seq_desc {
        let below = children(i).map(|c| depth[c]).max().unwrap_or(0);
        let continues = u64::from(below == 0 && successor_link == Some(nodes[i].hash));
        depth[i] = 1 + below + continues;
    }

    // Records without a parent, in sequence order: where the chain resumes after a break.
    let mut heads: Vec<usize> = (0..n)
        .filter(|&i| !duplicate[i] && !has_parent[i])
        .collect();
    heads.sort_unstable_by(|&a, &b| {
        (nodes[a].seq, std::cmp::Reverse(depth[a]), nodes[a].offset).cmp(&(
            nodes[b].seq,
            std::cmp::Reverse(depth[b]),
            nodes[b].offset,
        ))
    });
    let mut next_head = 0;

    let mut on_path = vec![false; n];
    let mut path = Vec::new();
    let mut cursor = if anchor.is_some() {
        Cursor::Anchor
    } else {
        Cursor::Start
    };
    loop {
        let parent = match cursor {
            Cursor::Start => None,
            Cursor::Anchor => Some(n),
            Cursor::Node(i) => Some(i),
        };
        let best = parent.and_then(|p| {
            children(p)
                .filter(|&c| !on_path[c])
                .max_by_key(|&c| (depth[c], nodes[c].offset))
        });
        if let Some(best) = best {
            on_path[best] = true;
            path.push(best);
            cursor = Cursor::Node(best);
            continue;
        }

        let (cursor_seq, cursor_offset) = match cursor {
            Cursor::Start => (0, None),
            Cursor::Anchor => (anchor.map_or(0, |a| a.seq), None),
            Cursor::Node(i) => (nodes[i].seq, Some(nodes[i].offset)),
        };
        let mut resume = None;
        while next_head < heads.len() {
            let h = heads[next_head];
            next_head += 1;
            let after = matches!(cursor, Cursor::Start) || nodes[h].seq > cursor_seq;
            let later = cursor_offset.is_none_or(|o| nodes[h].offset > o);
            if after && later && !on_path[h] {
                resume = Some(h);
                break;
            }
        }
        let Some(h) = resume else {
            break;
        };
        let head = nodes[h];
        match cursor {
            Cursor::Start => {}
            _ if head.seq == cursor_seq + 1 => {
                // The record before does not have the hash this one commits to.
                let (file_at, line) = match cursor {
                    Cursor::Node(i) => (file.to_owned(), nodes[i].line),
                    _ => anchor
                        .and_then(|a| a.at.clone())
                        .unwrap_or_else(|| (file.to_owned(), head.line)),
                };
                let (file_at, line, seq) = if cursor_seq == 0 {
                    // There is no record 0: the first record itself was rewritten.
                    (file.to_owned(), head.line, head.seq)
                } else {
                    (file_at, line, cursor_seq)
                };
                findings.push(Finding::RecordEdited {
                    file: file_at,
                    line,
                    seq,
                    rehashed: true,
                });
            }
            _ => {
                let missing = head.seq - cursor_seq - 1;
                let damaged_between = found
                    .malformed
                    .iter()
                    .filter(|&&(_, offset)| {
                        cursor_offset.is_none_or(|o| offset > o) && offset < head.offset
                    })
                    .count() as u64;
                if missing > damaged_between {
                    findings.push(Finding::RecordsDeleted {
                        file: file.to_owned(),
                        line: head.line,
                        first_seq: cursor_seq + 1,
                        last_seq: head.seq - 1,
                    });
                }
            }
        }
        on_path[h] = true;
        path.push(h);
        cursor = Cursor::Node(h);
    }

    for (i, _) in on_path.iter().enumerate().filter(|(_, on)| !**on) {
        let (file, line, seq) = record(i);
        findings.push(Finding::RecordInserted { file, line, seq });
    }

    let positions: Vec<u64> = path.iter().map(|&i| nodes[i].offset).collect();
    let in_order = longest_increasing(&positions);
    for (k, &i) in path.iter().enumerate() {
        if !in_order[k] {
            let (file, line, seq) = record(i);
            findings.push(Finding::RecordOutOfOrder { file, line, seq });
        }
    }

    let tail = path.last().map(|&i| Anchor {
        seq: nodes[i].seq,
        hash: nodes[i].hash,
        at: Some((file.to_owned(), nodes[i].line)),
    });
    findings.sort_by_key(|f| match f {
        Finding::RecordEdited { line, .. }
        | Finding::RecordsDeleted { line, .. }
        | Finding::RecordInserted { line, .. }
        | Finding::RecordOutOfOrder { line, .. } => *line,
        _ => 0,
    });
    Classified { findings, tail }
}

/// Which elements of `values` form a longest strictly increasing subsequence.
fn longest_increasing(values: &[u64]) -> Vec<bool> {
    // Patience sorting: `ends[k]` is the index ending the best run of length k + 1.
    let mut ends: Vec<usize> = Vec::new();
    let mut previous = vec![usize::MAX; values.len()];
    for (i, &value) in values.iter().enumerate() {
        let k = ends.partition_point(|&e| values[e] < value);
        if k > 0 {
            previous[i] = ends[k - 1];
        }
        if k == ends.len() {
            ends.push(i);
        } else {
            ends[k] = i;
        }
    }
    let mut keep = vec![false; values.len()];
    let mut at = ends.last().copied();
    while let Some(i) = at {
        keep[i] = true;
        at = (previous[i] != usize::MAX).then_some(previous[i]);
    }
    keep
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RecordEdited {
                file,
                line,
                seq,
                rehashed: false,
            } => write!(
                f,
                "{file}:{line}: record {seq} was edited (it no longer matches its hash)"
            ),
            Self::RecordEdited {
                file,
                line,
                seq,
                rehashed: true,
            } => write!(
                f,
                "{file}:{line}: record {seq} was edited and re-hashed (its successor commits to \
                 another hash)"
            ),
            Self::RecordsDeleted {
                file,
                line,
                first_seq,
                last_seq,
            } => write!(
                f,
                "{file}:{line}: records {first_seq}..={last_seq} were deleted"
            ),
            Self::RecordInserted { file, line, seq } => {
                write!(
                    f,
                    "{file}:{line}: a record claiming number {seq} was inserted"
                )
            }
            Self::RecordOutOfOrder { file, line, seq } => {
                write!(f, "{file}:{line}: record {seq} was moved out of order")
            }
            Self::MalformedLine { file, line } => {
                write!(f, "{file}:{line}: the line is not a record")
            }
            Self::PartialLine { file, offset, len } => write!(
                f,
                "{file}: ends in an incomplete line ({len} bytes at offset {offset}) though it is \
                 not the newest file"
            ),
            Self::LogFileEmpty { file } => write!(f, "{file}: holds no record"),
            Self::LogFileMissing {
                file_seq,
                file,
                records,
            } => {
                write!(f, "log file {file_seq} is missing")?;
                if let Some(file) = file {
                    write!(f, " ({file})")?;
                }
                if let Some((first, last)) = records {
                    write!(f, " with records {first}..={last}")?;
                }
                Ok(())
            }
            Self::LogFileRenamed { sealed_as, file } => {
                write!(f, "{file}: was sealed under the name {sealed_as}")
            }
            Self::LogFileRewritten { file, digest } => {
                write!(f, "{file}: differs from what digest {digest} sealed")
            }
            Self::LogFileTruncated {
                file,
                digest,
                expected_size,
                actual_size,
                first_missing_seq,
                last_missing_seq,
            } => write!(
                f,
                "{file}: truncated to {actual_size} of {expected_size} bytes sealed by {digest}; \
                 records {first_missing_seq}..={last_missing_seq} are gone"
            ),
            Self::UnexpectedFile { path } => write!(f, "{path}: not a file of the trail"),
            Self::DigestSignatureInvalid { digest } => {
                write!(
                    f,
                    "{digest}: the signature does not verify (forged or altered)"
                )
            }
            Self::DigestMalformed { digest, reason } => write!(f, "{digest}: malformed: {reason}"),
            Self::DigestMissing {
                first_seq,
                last_seq,
            } => write!(f, "digests {first_seq}..={last_seq} are missing"),
            Self::DigestChainBroken { digest, reason } => write!(f, "{digest}: {reason}"),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TornTail { file, offset, len } => write!(
                f,
                "{file}: ends in a line torn by a crash ({len} bytes at offset {offset}); the \
                 next open cuts it off"
            ),
            Self::Recovered {
                file,
                seq,
                recovered_file,
                discarded_bytes,
            } => write!(
                f,
                "{file}: record {seq} records a recovery that discarded {discarded_bytes} torn \
                 bytes of {recovered_file}"
            ),
            Self::Unsealed { files } => write!(
                f,
                "{} log file(s) not yet sealed by a digest: {}",
                files.len(),
                files.join(", ")
            ),
            Self::IncompleteDigest { path } => {
                write!(f, "{path}: a digest left incomplete by a crash")
            }
            Self::Unanchored { file } => write!(
                f,
                "{file}: its first record's link to the file before was not checked"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_increasing_keeps_the_longest_run() {
        assert_eq!(longest_increasing(&[]), Vec::<bool>::new());
        assert_eq!(longest_increasing(&[1, 2, 3]), [true, true, true]);
        let keep = longest_increasing(&[0, 20, 10, 30, 40]);
        assert_eq!(keep.iter().filter(|&&k| k).count(), 4);
        assert!(keep[0] && keep[3] && keep[4]);
        let keep = longest_increasing(&[50, 10, 20, 30, 40]);
        assert_eq!(keep, [false, true, true, true, true]);
    }
}

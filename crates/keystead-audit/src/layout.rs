//! Where the trail's files live and how they are named. Nothing else in the crate builds a path
//! or parses a file name.
//!
//! ```text
//! <dir>/logs/<seq>-<opened>.jsonl      a log file: lines of the hash chain (see chain.rs)
//! <dir>/digests/<seq>-<end>.digest     a signed digest (see digest.rs)
//! <dir>/digests/.tmp-<seq>             a digest being written; renamed when complete
//! seq    = 8*DIGIT (zero-padded, may grow wider); log files and digests count from 1
//! opened = end = YYYYMMDD "T" HHMMSS "Z"  (UTC)
//! ```

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

use crate::Error;

/// Subdirectory of log files.
pub(crate) const LOGS: &str = "logs";
/// Subdirectory of digest files.
pub(crate) const DIGESTS: &str = "digests";
const LOG_SUFFIX: &str = ".jsonl";
const DIGEST_SUFFIX: &str = ".digest";
/// Prefix of a digest file still being written.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

const STAMP: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// A file of the trail, known by its sequence number and the time in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) seq: u64,
    pub(crate) time: OffsetDateTime,
    pub(crate) name: String,
}

/// The files found in a trail directory.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Log files, by sequence number.
    pub(crate) logs: Vec<Named>,
    /// Digest files, by sequence number.
    pub(crate) digests: Vec<Named>,
    /// Files that are not part of the trail's layout, or a second file with a sequence number
    /// already taken (relative to `dir`).
    pub(crate) unexpected: Vec<String>,
    /// Digests left half-written by a crash (relative to `dir`).
    pub(crate) temporary: Vec<String>,
}

/// The name of log file `seq`, opened at `opened`.
pub(crate) fn log_name(seq: u64, opened: OffsetDateTime) -> String {
    format!("{seq:08}-{}{LOG_SUFFIX}", stamp(opened))
}

/// The name of digest `seq`, whose period ends at `end`.
pub(crate) fn digest_name(seq: u64, end: OffsetDateTime) -> String {
    format!("{seq:08}-{}{DIGEST_SUFFIX}", stamp(end))
}

/// The path of log file `name`.
pub(crate) fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(LOGS).join(name)
}

/// The path of digest `name`.
pub(crate) fn digest_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(DIGESTS).join(name)
}

fn stamp(time: OffsetDateTime) -> String {
    time.to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .unwrap_or_default()
}

fn parse_name(name: &str, suffix: &str) -> Option<(u64, OffsetDateTime)> {
    let stem = name.strip_suffix(suffix)?;
    let (seq, stamp) = stem.split_once('-')?;
    if seq.len() < 8 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = seq.parse().ok().filter(|&s| s > 0)?;
    let time = time::PrimitiveDateTime::parse(stamp, STAMP)
        .ok()?
        .assume_utc();
    Some((seq, time))
}

/// Lists the trail under `dir`. A missing `logs` or `digests` directory is an empty one.
pub(crate) fn list(dir: &Path) -> Result<Listing, Error> {
    let mut listing = Listing::default();
    for (sub, suffix) in [(LOGS, LOG_SUFFIX), (DIGESTS, DIGEST_SUFFIX)] {
        let path = dir.join(sub);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path, source }),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            match parse_name(&name, suffix) {
                Some((seq, time)) => found.push(Named { seq, time, name }),
                None if sub == DIGESTS && name.starts_with(TEMP_PREFIX) => {
                    listing.temporary.push(format!("{sub}/{name}"));
                }
                None => listing.unexpected.push(format!("{sub}/{name}")),
            }
        }
        found.sort_by(|a, b| (a.seq, &a.name).cmp(&(b.seq, &b.name)));
        let mut unique: Vec<Named> = Vec::with_capacity(found.len());
        for named in found {
            if unique.last().is_some_and(|last| last.seq == named.seq) {
                listing.unexpected.push(format!("{sub}/{}", named.name));
            } else {
                unique.push(named);
            }
        }
        if sub == LOGS {
            listing.logs = unique;
        } else {
            listing.digests = unique;
        }
    }
    listing.unexpected.sort();
    listing.temporary.sort();
    Ok(listing)
}

/// Creates `dir/logs` and `dir/digests` if needed, syncing each directory whose entries
/// changed.
pub(crate) fn create_dirs(dir: &Path) -> Result<(), Error> {
    for sub in [None, Some(LOGS), Some(DIGESTS)] {
        let path = sub.map_or_else(|| dir.to_owned(), |sub| dir.join(sub));
        match fs::create_dir(&path) {
            Ok(()) => {
                if let Some(parent) = path.parent() {
                    sync_dir(parent)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
    }
    Ok(())
}

/// Makes the entries of `dir` durable: needed after creating, renaming or removing a file in
/// it, because fsync of a file does not cover its name.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_round_trip_and_sort_by_sequence() {
        let name = log_name(7, datetime!(2025-05-20 20:45:00 UTC));
        assert_eq!(name, "00000007-20250520T204500Z.jsonl");
        assert_eq!(
            parse_name(&name, LOG_SUFFIX),
            Some((7, datetime!(2025-05-20 20:45:00 UTC)))
        );
        assert_eq!(
            digest_name(123_456_789, datetime!(2025-05-20 21:00:00 UTC)),
            "123456789-20250520T210000Z.digest"
        );
        for bad in [
            "7-20250520T204500Z.jsonl",
            "00000000-20250520T204500Z.jsonl",
            "00000007-20250520T204500Z.json",
            "00000007-2025-05-20.jsonl",
            "0000000x-20250520T204500Z.jsonl",
        ] {
            assert_eq!(parse_name(bad, LOG_SUFFIX), None, "{bad}");
        }
    }

    #[test]
    fn listing_separates_trail_files_from_strangers() {
        let dir = tempfile::tempdir().expect("tempdir");
        create_dirs(dir.path()).expect("dirs");
        let t = datetime!(2025-05-20 20:45:00 UTC);
        for name in [log_name(2, t), log_name(1, t), "notes.txt".into()] {
            fs::write(dir.path().join(LOGS).join(name), b"").expect("write");
        }
        fs::write(
            dir.path()
                .join(LOGS)
                .join(log_name(2, t + time::Duration::HOUR)),
            b"",
        )
        .expect("write");
        fs::write(dir.path().join(DIGESTS).join(digest_name(1, t)), b"").expect("write");
        fs::write(dir.path().join(DIGESTS).join(".tmp-00000002"), b"").expect("write");
        let listing = list(dir.path()).expect("list");
        assert_eq!(
            listing.logs.iter().map(|n| n.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(listing.digests.len(), 1);
        assert_eq!(
            listing.unexpected,
            ["logs/00000002-20250520T214500Z.jsonl", "logs/notes.txt"]
        );
        assert_eq!(listing.temporary, ["digests/.tmp-00000002"]);
    }
}

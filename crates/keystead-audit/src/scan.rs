//! Reading a log file: one streaming pass with a buffered reader that hashes the file, takes
//! every line apart, checks each record against its own hash, and finds the tail a crash may
//! have left. The writer (at open) and the verifier both read files only through [`scan`].
//!
//! Memory is one small [`Node`] per record (about 100 bytes), never the records themselves, so
//! a file's size is bounded by the log's roll size, not by memory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use keystead_crypto::digest::StreamingSha256;

use crate::Error;
use crate::chain;

/// Read buffer size: large enough that syscalls do not dominate.
const READ_BUFFER: usize = 1 << 20;

/// One record of a file, without its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) seq: u64,
    pub(crate) prev: [u8; 32],
    pub(crate) hash: [u8; 32],
    /// Whether `hash` is the hash of this line's seq, prev and event.
    pub(crate) hash_ok: bool,
    /// 1-based line number.
    pub(crate) line: u64,
    /// Byte offset of the line's start.
    pub(crate) offset: u64,
}

/// Bytes after the last well-formed line: what a crash in the middle of a write leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Where it starts (the end of the last well-formed line).
    pub(crate) offset: u64,
    /// Its length.
    pub(crate) len: u64,
    /// SHA-256 of its bytes, so a recovery can record exactly what it discarded.
    pub(crate) sha256: [u8; 32],
}

/// What one pass over a log file found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    /// Well-formed records, in file order.
    pub(crate) nodes: Vec<Node>,
    /// Complete lines that do not match the grammar and lie before the last well-formed line:
    /// damage, never a crash. (line, offset)
    pub(crate) malformed: Vec<(u64, u64)>,
    /// Bytes after the last well-formed line, if any.
    pub(crate) tail: Option<Tail>,
    /// The file's length.
    pub(crate) size: u64,
    /// SHA-256 of the whole file.
    pub(crate) sha256: [u8; 32],
    /// The event of the first record, to recognise a recovery record.
    pub(crate) first_event: Option<Vec<u8>>,
}

/// Reads the log file at `path` once.
pub(crate) fn scan(path: &Path) -> Result<Scan, Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let mut file_hash = StreamingSha256::new();
    let mut scan = Scan::default();
    let mut buf = Vec::with_capacity(4096);
    let mut offset = 0u64;
    let mut line_no = 0u64;
    // Lines since the last well-formed one: damage if a well-formed line follows, else tail.
    let mut pending: Vec<(u64, u64)> = Vec::new();
    let mut tail_hash = StreamingSha256::new();
    let mut tail_start = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_error)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        file_hash.update(&buf);
        let complete = buf.last() == Some(&b'\n');
        let parsed = if complete {
            chain::parse_line(&buf[..buf.len() - 1])
        } else {
            None
        };
        match parsed {
            Some(line) => {
                if scan.first_event.is_none() {
                    scan.first_event = Some(line.event.to_vec());
                }
                scan.nodes.push(Node {
                    seq: line.seq,
                    prev: line.prev,
                    hash: line.hash,
                    hash_ok: line.hash_matches(),
                    line: line_no,
                    offset,
                });
                scan.malformed.append(&mut pending);
                tail_hash = StreamingSha256::new();
                tail_start = offset + n as u64;
            }
            None => {
                pending.push((line_no, offset));
                tail_hash.update(&buf);
            }
        }
        offset += n as u64;
    }
    scan.size = offset;
    scan.sha256 = file_hash.finish();
    if tail_start < offset {
        scan.tail = Some(Tail {
            offset: tail_start,
            len: offset - tail_start,
            sha256: tail_hash.finish(),
        });
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{GENESIS, encode_line, record_hash};

    fn lines(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=n {
            let event = format!("{{\"n\":{seq}}}");
            let hash = record_hash(seq, &prev, event.as_bytes());
            encode_line(&mut out, seq, &prev, &hash, event.as_bytes());
            prev = hash;
        }
        out
    }

    #[test]
    fn a_clean_file_has_no_tail_and_its_hash_is_the_files_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let bytes = lines(5);
        std::fs::write(&path, &bytes).expect("write");
        let scan = scan(&path).expect("scan");
        assert_eq!(scan.nodes.len(), 5);
        assert!(scan.nodes.iter().all(|n| n.hash_ok));
        assert_eq!(scan.tail, None);
        assert!(scan.malformed.is_empty());
        assert_eq!(scan.sha256, keystead_crypto::digest::sha256(&bytes));
        assert_eq!(scan.size, bytes.len() as u64);
        assert_eq!(scan.first_event.as_deref(), Some(&b"{\"n\":1}"[..]));
    }

    #[test]
    fn garbage_after_the_last_record_is_a_tail_and_garbage_before_it_is_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let good = lines(3);
        let mut bytes = good.clone();
        bytes.extend_from_slice(b"{\"v\":1,\"seq\":4,\"pr");
        std::fs::write(&path, &bytes).expect("write");
        let found = scan(&path).expect("scan");
        assert_eq!(found.nodes.len(), 3);
        let tail = found.tail.expect("tail");
        assert_eq!(tail.offset, good.len() as u64);
        assert_eq!(tail.len, 18);
        assert_eq!(
            tail.sha256,
            keystead_crypto::digest::sha256(&bytes[good.len()..])
        );

        let mut bytes = b"garbage\n".to_vec();
        bytes.extend_from_slice(&good);
        bytes.extend_from_slice(b"\0\0\0\n\0\0");
        std::fs::write(&path, &bytes).expect("write");
        let found = scan(&path).expect("scan");
        assert_eq!(found.malformed, [(1, 0)]);
        assert_eq!(found.tail.expect("tail").len, 6);
    }
}

//! Reading the records of a trail back, in order, for exports: [`read_records`].
//!
//! This module does not check anything (that is [`verify`](crate::verify)'s work): it yields
//! every well-formed line of every log file in file order and skips the rest. Run the verifier
//! first when the export must be trustworthy.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::chain;
use crate::layout::{self, Named};

/// One record read back from a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailRecord {
    /// The log file (under `logs/`).
    pub file: String,
    /// The record's line in the file (1-based).
    pub line: u64,
    /// The record's sequence number.
    pub seq: u64,
    /// The CloudTrail record, as the exact JSON text that was written.
    pub event: String,
}

/// Every record of the trail in `dir`, in file and line order. Blocking; reads one line at a
/// time, so a trail of any size can be streamed.
pub fn read_records(dir: &Path) -> Result<Records, Error> {
    let files = layout::list(dir)?.logs;
    Ok(Records {
        logs: dir.join(layout::LOGS),
        files: files.into_iter(),
        current: None,
        buffer: Vec::with_capacity(4096),
    })
}

/// The iterator of [`read_records`].
pub struct Records {
    logs: PathBuf,
    files: std::vec::IntoIter<Named>,
    current: Option<(String, u64, BufReader<File>)>,
    buffer: Vec<u8>,
}

impl Iterator for Records {
    type Item = Result<TrailRecord, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                let named = self.files.next()?;
                let path = self.logs.join(&named.name);
                match File::open(&path) {
                    Ok(file) => {
                        self.current =
                            Some((named.name, 0, BufReader::with_capacity(1 << 20, file)));
                    }
                    Err(source) => return Some(Err(Error::Io { path, source })),
                }
            }
            let (name, line_no, reader) = self.current.as_mut().expect("invariant: set above");
            self.buffer.clear();
            match reader.read_until(b'\n', &mut self.buffer) {
                Ok(0) => {
                    self.current = None;
                    continue;
                }
                Ok(_) => {}
                Err(source) => {
                    let path = self.logs.join(name.as_str());
                    self.current = None;
                    return Some(Err(Error::Io { path, source }));
                }
            }
            *line_no += 1;
            let Some(text) = self.buffer.strip_suffix(b"\n") else {
                // A torn last line is not a record.
                continue;
            };
            let Some(line) = chain::parse_line(text) else {
                continue;
            };
            let Ok(event) = std::str::from_utf8(line.event) else {
                continue;
            };
            return Some(Ok(TrailRecord {
                file: name.clone(),
                line: *line_no,
                seq: line.seq,
                event: event.to_owned(),
            }));
        }
    }
}

//! Files that hold one 32-byte secret: the root key and the audit trail's signing key.
//!
//! A key file is one line, mode 0600 or stricter:
//! ```text
//! file = prefix 64*HEXDIG [LF]      ; 32 bytes, either case accepted
//! ```
//! Each kind of key names its own prefix ([`KeyFileFormat`]); everything else, from how the
//! file is created to what a malformed file is told apart by, is shared here. Nothing in this
//! module puts the file's contents into an error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Length of the secret a key file holds, in bytes.
pub(crate) const SECRET_LEN: usize = 32;
/// Longest file accepted: a prefix, 64 hex digits and a newline fit well within it.
const MAX_FILE_LEN: usize = 128;
/// Permission bits a key file must not have: any access by group or others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// One kind of key file: its first bytes, and what a file without them is told.
pub(crate) struct KeyFileFormat {
    /// The first bytes of the file; a `v1` in them names the text form.
    pub(crate) prefix: &'static [u8],
    /// The reason given for a file that does not start with `prefix`.
    pub(crate) no_prefix: &'static str,
    /// The reason given for a file whose digits after `prefix` are not 64.
    pub(crate) wrong_length: &'static str,
}

/// Why a key file could not be created or loaded; each kind of key turns it into its own error.
#[derive(Debug)]
pub(crate) enum KeyFileError {
    /// The file to create exists already.
    Exists,
    /// Reading or writing `path` (the file or, once it is written, its directory) failed.
    Io { path: PathBuf, source: io::Error },
    /// The file grants group or others some access.
    InsecurePermissions { mode: u32 },
    /// The file is not a key file of its kind (a fixed description, never its contents).
    Malformed(&'static str),
}

impl KeyFileFormat {
    /// Writes `secret` to `path`, which must not exist.
    ///
    /// The file is created exclusively with mode 0600 set at open time (so it is never readable
    /// by others, even briefly), written as one line, and synced together with its directory,
    /// so that a crash cannot lose a key that data was sealed or signed under. If anything fails
    /// after the file was created, the file is removed again.
    pub(crate) fn create(
        &self,
        path: &Path,
        secret: &[u8; SECRET_LEN],
    ) -> Result<(), KeyFileError> {
        let contents = self.encode(secret);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => KeyFileError::Exists,
                _ => KeyFileError::Io {
                    path: path.to_owned(),
                    source,
                },
            })?;
        let written = file
            .write_all(&contents)
            .and_then(|()| file.sync_all())
            .map_err(|source| KeyFileError::Io {
                path: path.to_owned(),
                source,
            })
            .and_then(|()| sync_parent_directory(path));
        drop(file);
        if let Err(error) = written {
            // We created the file (create_new), so removing it destroys nothing of anyone's.
            let _ = fs::remove_file(path);
            return Err(error);
        }
        Ok(())
    }

    /// Reads the secret in `path`.
    ///
    /// Refuses a file whose permissions grant group or others any access, that is not a regular
    /// file, or that is not exactly one line of the prefix followed by 64 hex digits. The mode
    /// is read from the opened file, so it is the mode of the file actually read.
    pub(crate) fn load(&self, path: &Path) -> Result<Zeroizing<[u8; SECRET_LEN]>, KeyFileError> {
        let io_error = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_error)?;
        let metadata = file.metadata().map_err(io_error)?;
        if !metadata.is_file() {
            return Err(KeyFileError::Malformed("not a regular file"));
        }
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & GROUP_OTHER_BITS != 0 {
            return Err(KeyFileError::InsecurePermissions { mode });
        }

        // A fixed buffer rather than read_to_end: a growing Vec would leave unwiped copies of
        // the key behind in freed memory.
        let mut contents = Zeroizing::new([0u8; MAX_FILE_LEN]);
        let mut len = 0;
        loop {
            if len == MAX_FILE_LEN {
                return Err(KeyFileError::Malformed("file is too long"));
            }
            match file.read(&mut contents[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        self.parse(&contents[..len])
            .map_err(KeyFileError::Malformed)
    }

    /// The file's contents: the prefix, 64 lower-case hex digits and a newline.
    fn encode(&self, secret: &[u8; SECRET_LEN]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; self.prefix.len() + 2 * SECRET_LEN + 1]);
        let (prefix, rest) = out.split_at_mut(self.prefix.len());
        prefix.copy_from_slice(self.prefix);
        let (digits, newline) = rest.split_at_mut(2 * SECRET_LEN);
        // Cannot fail: `digits` is exactly twice as long as `secret`.
        let _ = hex::encode_to_slice(secret, digits);
        newline[0] = b'\n';
        out
    }

    /// The secret in a file's contents, or why there is none. The reason never quotes the
    /// contents.
    fn parse(&self, contents: &[u8]) -> Result<Zeroizing<[u8; SECRET_LEN]>, &'static str> {
        let line = contents.strip_suffix(b"\n").unwrap_or(contents);
        let digits = line.strip_prefix(self.prefix).ok_or(self.no_prefix)?;
        if digits.len() != 2 * SECRET_LEN {
            return Err(self.wrong_length);
        }
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        hex::decode_to_slice(digits, &mut *secret)
            .map_err(|_| "key contains a character that is not a hex digit")?;
        Ok(secret)
    }
}

/// Makes the new directory entry durable: fsync of the file alone does not cover its name.
fn sync_parent_directory(path: &Path) -> Result<(), KeyFileError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| KeyFileError::Io {
            path: directory.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: KeyFileFormat = KeyFileFormat {
        prefix: b"test-key-v1:",
        no_prefix: "no prefix",
        wrong_length: "wrong length",
    };

    #[test]
    fn the_encoding_round_trips_and_accepts_either_case() {
        let secret: [u8; SECRET_LEN] = std::array::from_fn(|i| (i * 37) as u8);
        let encoded = FORMAT.encode(&secret);
        assert!(encoded.starts_with(b"test-key-v1:"));
        assert_eq!(encoded.last(), Some(&b'\n'));
        assert_eq!(*FORMAT.parse(&encoded).expect("parse"), secret);
        let upper = encoded.to_ascii_uppercase();
        let upper = [
            &encoded[..FORMAT.prefix.len()],
            &upper[FORMAT.prefix.len()..],
        ]
        .concat();
        assert_eq!(*FORMAT.parse(&upper).expect("parse"), secret);
    }

    #[test]
    fn a_malformed_line_is_refused_with_the_format_s_reason() {
        let digits = "ab".repeat(SECRET_LEN);
        assert_eq!(
            FORMAT.parse(format!("other-v1:{digits}").as_bytes()).err(),
            Some("no prefix")
        );
        assert_eq!(
            FORMAT
                .parse(format!("test-key-v1:{digits}00").as_bytes())
                .err(),
            Some("wrong length")
        );
        assert_eq!(
            FORMAT
                .parse(format!("test-key-v1:{}zz", &digits[2..]).as_bytes())
                .err(),
            Some("key contains a character that is not a hex digit")
        );
    }
}

//! Digest files: signed statements of which log files exist, what they hash to and where the
//! chain stood, each chained to the one before by its signature. They are what makes a
//! consistent rewrite of the unkeyed hash chain detectable.
//!
//! This module owns the digest file's format, its signing and its parsing. It must not decide
//! when digests are written (the writer does) or what a mismatch means (the verifier does).
//!
//! ```text
//! file      = body LF signature LF
//! body      = compact JSON object (DigestBody below), one line
//! signature = "{\"signature\":\"" 128LOWERHEX "\"}"
//! signed    = Ed25519(key, "keystead/audit-digest/v1" LF || body)
//! ```
//! The body's fields are listed in `docs/design/audit-chain.md`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use keystead_crypto::{SigningKey, digest::sha256, signing};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Error;
use crate::event::event_time;
use crate::layout::{self, DIGESTS, TEMP_PREFIX};

/// Purpose string that separates digest signatures from any other use of the key.
const DIGEST_PURPOSE: &[u8] = b"keystead/audit-digest/v1\n";
/// The `digestVersion` this build writes and reads.
pub(crate) const DIGEST_VERSION: u32 = 1;
/// Largest digest file read: a digest lists at most the files of one period.
pub(crate) const MAX_DIGEST_LEN: u64 = 64 << 20;

/// What a digest states (the first line of a digest file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DigestBody {
    /// The format version, [`DIGEST_VERSION`].
    pub(crate) digest_version: u32,
    /// This digest's number; digests count from 1 without gaps.
    pub(crate) digest_seq: u64,
    /// Start of the period this digest covers (the previous digest's end).
    #[serde(with = "event_time")]
    pub(crate) digest_start_time: OffsetDateTime,
    /// End of the period: when the digest was made.
    #[serde(with = "event_time")]
    pub(crate) digest_end_time: OffsetDateTime,
    /// File name of the previous digest, `null` for the first.
    pub(crate) previous_digest_file: Option<String>,
    /// Hex signature of the previous digest, `null` for the first.
    pub(crate) previous_digest_signature: Option<String>,
    /// Hex SHA-256 of the DER public key that signs this digest.
    pub(crate) public_key_fingerprint: String,
    /// Always `Ed25519`.
    pub(crate) signature_algorithm: String,
    /// The log files closed during the period, in order.
    pub(crate) log_files: Vec<LogFileEntry>,
    /// Every log file numbered up to this one is covered by this digest or an earlier one
    /// (0 if none exists yet).
    pub(crate) last_file_seq: u64,
    /// The last record written when the digest was made, `null` if none yet.
    pub(crate) chain_head: Option<ChainHead>,
}

/// One closed log file, as a digest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LogFileEntry {
    /// The file's name under `logs/`.
    pub(crate) file: String,
    /// The file's number.
    pub(crate) file_seq: u64,
    /// SHA-256 of the whole file.
    #[serde(with = "hex32")]
    pub(crate) sha256: [u8; 32],
    /// The file's length in bytes.
    pub(crate) size: u64,
    /// How many records it holds.
    pub(crate) record_count: u64,
    /// Sequence number of its first record.
    pub(crate) first_seq: u64,
    /// Sequence number of its last record.
    pub(crate) last_seq: u64,
    /// `prev` of its first record: the last hash of the file before.
    #[serde(with = "hex32")]
    pub(crate) previous_record_hash: [u8; 32],
    /// Hash of its first record.
    #[serde(with = "hex32")]
    pub(crate) first_record_hash: [u8; 32],
    /// Hash of its last record.
    #[serde(with = "hex32")]
    pub(crate) last_record_hash: [u8; 32],
    /// When it was opened.
    #[serde(with = "event_time")]
    pub(crate) opened_at: OffsetDateTime,
    /// When it was closed.
    #[serde(with = "event_time")]
    pub(crate) closed_at: OffsetDateTime,
}

/// A position in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainHead {
    /// Sequence number of the record.
    pub(crate) seq: u64,
    /// Its hash.
    #[serde(with = "hex32")]
    pub(crate) hash: [u8; 32],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureLine {
    signature: String,
}

/// A digest file taken apart, its signature not yet checked.
#[derive(Debug, Clone)]
pub(crate) struct Digest {
    pub(crate) body: DigestBody,
    body_bytes: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

impl Digest {
    /// Whether the signature is valid for the body under `public_key_der`.
    pub(crate) fn signature_valid(&self, public_key_der: &[u8]) -> bool {
        signing::verify(
            public_key_der,
            &signed_message(&self.body_bytes),
            &self.signature,
        )
    }

    /// The signature in hex, as the next digest quotes it.
    pub(crate) fn signature_hex(&self) -> String {
        hex::encode(&self.signature)
    }
}

/// Hex SHA-256 of a DER public key.
pub(crate) fn fingerprint(public_key_der: &[u8]) -> String {
    hex::encode(sha256(public_key_der))
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DIGEST_PURPOSE.len() + body.len());
    message.extend_from_slice(DIGEST_PURPOSE);
    message.extend_from_slice(body);
    message
}

/// The bytes of a digest file for `body`, signed with `key`, and the signature.
pub(crate) fn encode(body: &DigestBody, key: &SigningKey) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let body_bytes = serde_json::to_vec(body).map_err(Error::Internal)?;
    let signature = key.sign(&signed_message(&body_bytes));
    let signature_line = serde_json::to_vec(&SignatureLine {
        signature: hex::encode(&signature),
    })
    .map_err(Error::Internal)?;
    let mut file = body_bytes;
    file.push(b'\n');
    file.extend_from_slice(&signature_line);
    file.push(b'\n');
    Ok((file, signature))
}

/// Takes a digest file apart, or says why it cannot be.
pub(crate) fn parse(bytes: &[u8]) -> Result<Digest, &'static str> {
    let text = bytes
        .strip_suffix(b"\n")
        .ok_or("does not end with a line feed")?;
    let split = text
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("has no signature line")?;
    let (body_bytes, signature_line) = (&text[..split], &text[split + 1..]);
    let signature: SignatureLine =
        serde_json::from_slice(signature_line).map_err(|_| "the signature line is malformed")?;
    let signature = hex::decode(&signature.signature)
        .ok()
        .filter(|s| s.len() == signing::SIGNATURE_LEN)
        .ok_or("the signature is not 64 bytes of hex")?;
    let body: DigestBody =
        serde_json::from_slice(body_bytes).map_err(|_| "the body is not a digest")?;
    if body.digest_version != DIGEST_VERSION {
        return Err("unsupported digestVersion");
    }
    Ok(Digest {
        body,
        body_bytes: body_bytes.to_vec(),
        signature,
    })
}

/// Reads and takes apart the digest at `path`. `Ok(Err(reason))` if it is not a digest.
pub(crate) fn read(path: &Path) -> Result<Result<Digest, &'static str>, Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let len = fs::metadata(path).map_err(io_error)?.len();
    if len > MAX_DIGEST_LEN {
        return Ok(Err("is too large to be a digest"));
    }
    let bytes = fs::read(path).map_err(io_error)?;
    Ok(parse(&bytes))
}

/// Writes digest `body` durably under `dir/digests/` and returns its file name and signature.
///
/// The file is written as `.tmp-<seq>`, synced, renamed to its final name, and the directory
/// synced, so a crash leaves either no digest or a complete one (plus at most a temporary file,
/// which the next open removes).
pub(crate) fn write(
    dir: &Path,
    body: &DigestBody,
    key: &SigningKey,
) -> Result<(String, Vec<u8>), Error> {
    let (bytes, signature) = encode(body, key)?;
    let name = layout::digest_name(body.digest_seq, body.digest_end_time);
    let digests = dir.join(DIGESTS);
    let temp = digests.join(format!("{TEMP_PREFIX}{:08}", body.digest_seq));
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)
        .map_err(io_error(&temp))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temp))?;
    drop(file);
    let path = digests.join(&name);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    layout::sync_dir(&digests)?;
    Ok((name, signature))
}

/// `[u8; 32]` as 64 lower-case hex digits.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(de::Error::custom("expected lower-case hex"));
        }
        hex::decode_to_slice(&*text, &mut out)
            .map_err(|_| de::Error::custom("expected 64 hex digits"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn body() -> DigestBody {
        DigestBody {
            digest_version: DIGEST_VERSION,
            digest_seq: 1,
            digest_start_time: datetime!(2025-05-20 20:00:00 UTC),
            digest_end_time: datetime!(2025-05-20 21:00:00 UTC),
            previous_digest_file: None,
            previous_digest_signature: None,
            public_key_fingerprint: "00".repeat(32),
            signature_algorithm: "Ed25519".into(),
            log_files: vec![LogFileEntry {
                file: "00000001-20250520T200000Z.jsonl".into(),
                file_seq: 1,
                sha256: [1; 32],
                size: 10,
                record_count: 1,
                first_seq: 1,
                last_seq: 1,
                previous_record_hash: [0; 32],
                first_record_hash: [2; 32],
                last_record_hash: [2; 32],
                opened_at: datetime!(2025-05-20 20:00:00 UTC),
                closed_at: datetime!(2025-05-20 21:00:00 UTC),
            }],
            last_file_seq: 1,
            chain_head: Some(ChainHead {
                seq: 1,
                hash: [2; 32],
            }),
        }
    }

    #[test]
    fn a_digest_round_trips_and_its_signature_verifies() {
        let key = SigningKey::generate().expect("key");
        let (bytes, signature) = encode(&body(), &key).expect("encode");
        let digest = parse(&bytes).expect("parse");
        assert_eq!(digest.body, body());
        assert_eq!(digest.signature, signature);
        assert!(digest.signature_valid(&key.public_key_der()));
        let other = SigningKey::generate().expect("key");
        assert!(!digest.signature_valid(&other.public_key_der()));
    }

    #[test]
    fn any_change_to_the_body_breaks_the_signature() {
        let key = SigningKey::generate().expect("key");
        let (bytes, _) = encode(&body(), &key).expect("encode");
        let text = String::from_utf8(bytes).expect("utf8");
        let edited = text.replace("\"recordCount\":1", "\"recordCount\":2");
        assert_ne!(edited, text);
        let digest = parse(edited.as_bytes()).expect("still parses");
        assert!(!digest.signature_valid(&key.public_key_der()));
    }

    #[test]
    fn malformed_digests_are_refused_with_a_reason() {
        let key = SigningKey::generate().expect("key");
        let (bytes, _) = encode(&body(), &key).expect("encode");
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse(&bytes[..bytes.len() - 20]).is_err());
        let text = String::from_utf8(bytes).expect("utf8");
        assert!(
            parse(
                text.replace("\"digestVersion\":1", "\"digestVersion\":2")
                    .as_bytes()
            )
            .is_err()
        );
        assert!(parse(text.replace("\"sha256\"", "\"sha512\"").as_bytes()).is_err());
        assert!(parse(b"{}\n").is_err());
    }

    #[test]
    fn the_signed_message_matches_a_known_answer() {
        // The RFC 8032 TEST 1 key signing "keystead/audit-digest/v1\n{}", computed with
        // Python's `cryptography`: Ed25519PrivateKey.from_private_bytes(seed).sign(message).
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        fs::write(
            &path,
            "keystead-ed25519-key-v1:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let key = SigningKey::load(&path).expect("load");
        assert_eq!(
            hex::encode(key.sign(&signed_message(b"{}"))),
            "87bc1610dc9ef13f8033734c6d1a18f6304a529270cd8bc4e6c7ecb23e1308000dc2e0d35356ad76\
             645942332139d38132aaa92f8b0cf9a950a5645b7d41300e"
        );
    }
}

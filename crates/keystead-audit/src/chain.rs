//! The hash chain: how one record is framed as a line of a log file and how its hash is
//! computed. The writer and the verifier both use only this module for it, so the format has
//! one definition; `docs/design/audit-chain.md` mirrors it.
//!
//! ```text
//! line   = "{\"v\":1,\"seq\":" seq ",\"prev\":\"" prev "\",\"hash\":\"" hash "\",\"event\":"
//!          event "}" LF
//! seq    = 1*20DIGIT          ; decimal, no leading zero; the first record of a trail is 1
//! prev   = 64LOWERHEX         ; the hash of record seq-1; 64 "0" for record 1
//! hash   = 64LOWERHEX         ; SHA-256("keystead/audit-record/v1" || u64be(seq) || prev
//!                             ;          (32 raw bytes) || event)
//! event  = the CloudTrail record as compact JSON (serde_json; it never contains LF)
//! ```
//!
//! Each line is itself a JSON object, so `jq` reads the files. The hash covers the event's exact
//! bytes, so verification never re-serializes. A line without its final LF, or one that does
//! not match the grammar, is what a crash in the middle of a write leaves behind; where that is
//! possible (only at the end of the newest file) the verifier calls it torn, elsewhere damaged.

use keystead_crypto::digest::StreamingSha256;

/// The `prev` of the first record of a trail.
pub(crate) const GENESIS: [u8; 32] = [0u8; 32];
/// Purpose string that separates record hashes from every other SHA-256 in keystead.
const RECORD_PURPOSE: &[u8] = b"keystead/audit-record/v1";
const PREFIX: &[u8] = b"{\"v\":1,\"seq\":";
const PREV: &[u8] = b",\"prev\":\"";
const HASH: &[u8] = b"\",\"hash\":\"";
const EVENT: &[u8] = b"\",\"event\":";
/// Bytes a line adds to its event, besides the digits of `seq`.
pub(crate) const LINE_OVERHEAD: usize =
    PREFIX.len() + PREV.len() + 64 + HASH.len() + 64 + EVENT.len() + 2;

/// The hash of record `seq` whose predecessor's hash is `prev`.
pub(crate) fn record_hash(seq: u64, prev: &[u8; 32], event: &[u8]) -> [u8; 32] {
    let mut hasher = StreamingSha256::new();
    hasher.update(RECORD_PURPOSE);
    hasher.update(&seq.to_be_bytes());
    hasher.update(prev);
    hasher.update(event);
    hasher.finish()
}

/// Appends the line of record `seq` (with its final LF) to `out`.
pub(crate) fn encode_line(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &[u8; 32],
    hash: &[u8; 32],
    event: &[u8],
) {
    out.reserve(LINE_OVERHEAD + 20 + event.len());
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(PREV);
    push_hex(out, prev);
    out.extend_from_slice(HASH);
    push_hex(out, hash);
    out.extend_from_slice(EVENT);
    out.extend_from_slice(event);
    out.extend_from_slice(b"}\n");
}

/// A line taken apart, not yet checked against its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub(crate) seq: u64,
    pub(crate) prev: [u8; 32],
    pub(crate) hash: [u8; 32],
    pub(crate) event: &'a [u8],
}

impl Line<'_> {
    /// Whether the stored hash is the hash of the stored seq, prev and event.
    pub(crate) fn hash_matches(&self) -> bool {
        record_hash(self.seq, &self.prev, self.event) == self.hash
    }
}

/// Takes apart a line given without its final LF. `None` if it does not match the grammar.
pub(crate) fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    let rest = line.strip_prefix(PREFIX)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let seq = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let rest = rest[digits..].strip_prefix(PREV)?;
    let (prev, rest) = split_hex(rest)?;
    let rest = rest.strip_prefix(HASH)?;
    let (hash, rest) = split_hex(rest)?;
    let rest = rest.strip_prefix(EVENT)?;
    let event = rest.strip_suffix(b"}")?;
    if event.len() < 2 || event[0] != b'{' || event[event.len() - 1] != b'}' {
        return None;
    }
    Some(Line {
        seq,
        prev,
        hash,
        event,
    })
}

fn split_hex(text: &[u8]) -> Option<([u8; 32], &[u8])> {
    if text.len() < 64 {
        return None;
    }
    let (digits, rest) = text.split_at(64);
    let mut out = [0u8; 32];
    // One table look-up per digit and one check per byte: this runs twice per record verified.
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = LOWER_HEX[usize::from(pair[0])];
        let low = LOWER_HEX[usize::from(pair[1])];
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid & 0xf0 == 0).then_some((out, rest))
}

/// The value of each lower-case hex digit; 0xff for every other byte.
const LOWER_HEX: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

fn push_hex(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0x0f)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &[u8] = br#"{"eventVersion":"1.11","eventName":"Decrypt"}"#;

    #[test]
    fn a_line_round_trips_and_is_valid_json() {
        let hash = record_hash(7, &GENESIS, EVENT);
        let mut out = Vec::new();
        encode_line(&mut out, 7, &GENESIS, &hash, EVENT);
        assert_eq!(out.last(), Some(&b'\n'));
        let line = parse_line(&out[..out.len() - 1]).expect("parse");
        assert_eq!(line.seq, 7);
        assert_eq!(line.prev, GENESIS);
        assert_eq!(line.hash, hash);
        assert_eq!(line.event, EVENT);
        assert!(line.hash_matches());
        let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["event"]["eventName"], "Decrypt");
        assert_eq!(out.len(), LINE_OVERHEAD + 1 + EVENT.len());
    }

    #[test]
    fn the_record_hash_matches_a_known_answer() {
        // Computed independently:
        // python3 -c 'import hashlib; print(hashlib.sha256(b"keystead/audit-record/v1"
        //   + (1).to_bytes(8, "big") + bytes(32) + b"{}").hexdigest())'
        assert_eq!(
            hex::encode(record_hash(1, &GENESIS, b"{}")),
            "652ab73bf0daba3746cec3353714dc6fcda49c47dd534fb98cdf605ea8a6e350"
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        let prev = [0xab; 32];
        let hash = record_hash(1, &prev, EVENT);
        let mut good = Vec::new();
        encode_line(&mut good, 1, &prev, &hash, EVENT);
        good.pop();
        assert!(parse_line(&good).is_some());
        for len in 0..good.len() {
            assert!(parse_line(&good[..len]).is_none(), "prefix of length {len}");
        }
        let text = String::from_utf8(good.clone()).expect("utf8");
        for bad in [
            text.replace("\"seq\":1", "\"seq\":01"),
            text.replace("\"seq\":1", "\"seq\":x"),
            text.replace(&hex::encode(prev), &hex::encode(prev).to_uppercase()),
            text.replace(&hex::encode(hash), &hex::encode(hash).to_uppercase()),
            text.replace("\"event\":{", "\"event\":["),
            format!("{text} "),
            text.replace("{\"v\":1", "{\"v\":2"),
        ] {
            assert!(parse_line(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_part_of_a_record_is_covered_by_its_hash() {
        let hash = record_hash(5, &GENESIS, EVENT);
        assert_ne!(record_hash(6, &GENESIS, EVENT), hash);
        let mut prev = GENESIS;
        prev[31] = 1;
        assert_ne!(record_hash(5, &prev, EVENT), hash);
        assert_ne!(
            record_hash(5, &GENESIS, br#"{"eventName":"Encrypt"}"#),
            hash
        );
    }
}

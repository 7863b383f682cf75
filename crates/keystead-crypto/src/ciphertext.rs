//! Ciphertext blobs: the bytes KMS `Encrypt` (and `GenerateDataKey`, `ReEncrypt`) returns and
//! `Decrypt` accepts, for symmetric keys.
//!
//! This module owns the blob's byte format and the canonical encoding of the encryption context.
//! It knows nothing of key lookup, key state or authorization: the service reads the header with
//! [`read_header`], finds and checks the key version, and then calls [`decrypt`].
//!
//! ```text
//! blob          = format (1 byte, 0x01) || key_id (16 bytes, UUID) || key_version (u32 BE)
//!                 || nonce (12 bytes) || ciphertext (len(plaintext) bytes) || tag (16 bytes)
//! aad           = "keystead/ciphertext/v1" || format || key_id || key_version || context_bytes
//! context_bytes = count (u16 BE) || pair*          ; pairs sorted by key, bytewise
//! pair          = len(key) (u16 BE) || key || len(value) (u16 BE) || value
//! ```
//! The cipher is AES-256-GCM with a random 96-bit nonce. An empty context encodes as `0x0000`.
//! `docs/design/ciphertext-format.md` explains each part.
//!
//! Every decryption failure is the one opaque [`DecryptError`].

use std::collections::BTreeMap;

use aws_lc_rs::aead::{Aad, Nonce};
use keystead_types::KeyId;
use zeroize::{Zeroize, Zeroizing};

use crate::error::Reason;
use crate::key_material::{KeyMaterial, NONCE_LEN, TAG_LEN, random_nonce};
use crate::{DecryptError, Error};

/// The format byte of this version of the blob: AES-256-GCM, 96-bit random nonce, 128-bit tag,
/// AAD as in the module documentation.
pub const FORMAT_V1: u8 = 0x01;

/// Length of the header: format, key id and key version.
pub const HEADER_LEN: usize = 1 + 16 + 4;

/// Bytes a blob adds to its plaintext: header, nonce and tag (49).
pub const BLOB_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Separates blob AADs from every other use of AES-GCM in keystead.
const PURPOSE: &[u8] = b"keystead/ciphertext/v1";

/// AADs up to this length are built on the stack; longer contexts use one heap allocation.
const STACK_AAD_LEN: usize = 512;

/// The largest count or length the context encoding can express.
const U16_LIMIT: usize = u16::MAX as usize;

/// The unencrypted start of a blob: which key version encrypted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobHeader {
    /// The KMS key; this is what lets `Decrypt` be called without a `KeyId`.
    pub key_id: KeyId,
    /// The version of the key's material, so that rotation leaves old ciphertexts readable.
    pub key_version: u32,
}

impl BlobHeader {
    /// `format || key_id || key_version`, as written into the blob and the AAD.
    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = FORMAT_V1;
        out[1..17].copy_from_slice(self.key_id.as_bytes());
        out[17..21].copy_from_slice(&self.key_version.to_be_bytes());
        out
    }
}

/// An encryption context: the name–value pairs that `Encrypt` binds to a ciphertext and that
/// `Decrypt` must repeat exactly. Pairs are ordered by key (a `BTreeMap` of `String`s orders
/// bytewise), so the encoding does not depend on the order a client sent them in.
///
/// It borrows the map the service parsed from JSON, so building one costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct EncryptionContext<'a> {
    pairs: &'a BTreeMap<String, String>,
}

/// The pairs of [`EncryptionContext::empty`].
static NO_PAIRS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> EncryptionContext<'a> {
    /// The context made of `pairs`.
    pub fn new(pairs: &'a BTreeMap<String, String>) -> Self {
        Self { pairs }
    }

    /// The empty context, used when a request has no `EncryptionContext`.
    pub fn empty() -> EncryptionContext<'static> {
        EncryptionContext { pairs: &NO_PAIRS }
    }

    /// The canonical encoding (`context_bytes` in the grammar). Fails if the context has more
    /// than 65535 pairs or a key or value longer than 65535 bytes.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.encoded_len()?);
        self.write_canonical(&mut |bytes| out.extend_from_slice(bytes));
        Ok(out)
    }

    /// Length of the canonical encoding, checking every count and length against the `u16`
    /// fields that will hold it. Sums cannot overflow: each term is at most 65535 and there are
    /// at most 2 * 65535 + 1 of them.
    fn encoded_len(&self) -> Result<usize, Error> {
        let too_large = |what, actual| Error::ContextTooLarge {
            what,
            limit: U16_LIMIT,
            actual,
        };
        if self.pairs.len() > U16_LIMIT {
            return Err(too_large("pair count", self.pairs.len()));
        }
        let mut len = 2;
        for (key, value) in self.pairs {
            if key.len() > U16_LIMIT {
                return Err(too_large("key length", key.len()));
            }
            if value.len() > U16_LIMIT {
                return Err(too_large("value length", value.len()));
            }
            len += 2 + key.len() + 2 + value.len();
        }
        Ok(len)
    }

    /// Writes the canonical encoding to `put`. Call only after [`Self::encoded_len`] succeeded.
    fn write_canonical(&self, put: &mut impl FnMut(&[u8])) {
        put(&u16_len(self.pairs.len()).to_be_bytes());
        for (key, value) in self.pairs {
            put(&u16_len(key.len()).to_be_bytes());
            put(key.as_bytes());
            put(&u16_len(value.len()).to_be_bytes());
            put(value.as_bytes());
        }
    }
}

impl<'a> From<&'a BTreeMap<String, String>> for EncryptionContext<'a> {
    fn from(pairs: &'a BTreeMap<String, String>) -> Self {
        Self::new(pairs)
    }
}

fn u16_len(len: usize) -> u16 {
    u16::try_from(len).expect("invariant: encoded_len checked every length against u16::MAX")
}

/// Reads the header of `blob` without any cryptography, so that the service can find the key
/// version before decrypting. Fails if the blob is too short to be a blob or has an unknown
/// format byte. A header that parses proves nothing: only [`decrypt`] authenticates it.
pub fn read_header(blob: &[u8]) -> Result<BlobHeader, DecryptError> {
    if blob.len() < BLOB_OVERHEAD {
        return Err(DecryptError::new(Reason::Malformed));
    }
    let (header, _) = blob
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(DecryptError::new(Reason::Malformed))?;
    if header[0] != FORMAT_V1 {
        return Err(DecryptError::new(Reason::UnsupportedFormat));
    }
    let mut key_id = [0u8; 16];
    key_id.copy_from_slice(&header[1..17]);
    let mut key_version = [0u8; 4];
    key_version.copy_from_slice(&header[17..21]);
    Ok(BlobHeader {
        key_id: KeyId::from_bytes(key_id),
        key_version: u32::from_be_bytes(key_version),
    })
}

/// Encrypts `plaintext` under `material`, the material of `header`'s key version, binding
/// `context`. Returns the blob, built in one allocation of exactly its final size and sealed in
/// place.
pub fn encrypt(
    material: &KeyMaterial,
    header: &BlobHeader,
    context: &EncryptionContext<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    encrypt_with_nonce(material, header, context, random_nonce()?, plaintext)
}

/// [`encrypt`] with a given nonce: the production path, and with a fixed nonce the known-answer
/// tests. A nonce must never repeat under one key, so this is not public.
pub(crate) fn encrypt_with_nonce(
    material: &KeyMaterial,
    header: &BlobHeader,
    context: &EncryptionContext<'_>,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let header = header.to_bytes();
    let capacity = BLOB_OVERHEAD
        .checked_add(plaintext.len())
        .ok_or(Error::PlaintextTooLong {
            len: plaintext.len(),
        })?;
    with_aad(&header, context, |aad| {
        let mut blob = Vec::with_capacity(capacity);
        blob.extend_from_slice(&header);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(plaintext);
        let sealed = material.aead().seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut blob[HEADER_LEN + NONCE_LEN..],
        );
        match sealed {
            Ok(tag) => {
                blob.extend_from_slice(tag.as_ref());
                debug_assert_eq!(blob.len(), capacity);
                Ok(blob)
            }
            Err(e) => {
                // The buffer may still hold the plaintext.
                blob.zeroize();
                Err(e.into())
            }
        }
    })?
}

/// Decrypts `blob` with `material`, which the caller chose from [`read_header`]'s key id and
/// version, checking that it was encrypted with exactly `context`. The plaintext is zeroized
/// when dropped.
///
/// Any failure — malformed, unknown format, wrong key, wrong context, modified byte — is the same
/// [`DecryptError`].
pub fn decrypt(
    material: &KeyMaterial,
    blob: &[u8],
    context: &EncryptionContext<'_>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    read_header(blob)?;
    let malformed = DecryptError::new(Reason::Malformed);
    let (header, rest) = blob.split_first_chunk::<HEADER_LEN>().ok_or(malformed)?;
    let (nonce, rest) = rest.split_first_chunk::<NONCE_LEN>().ok_or(malformed)?;
    let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(malformed)?;

    let mut plaintext = Zeroizing::new(vec![0u8; ciphertext.len()]);
    with_aad(header, context, |aad| {
        material.aead().open_separate_gather(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            ciphertext,
            tag,
            &mut plaintext,
        )
    })
    .map_err(|_| DecryptError::new(Reason::ContextTooLarge))?
    .map_err(|_| DecryptError::new(Reason::TagMismatch))?;
    Ok(plaintext)
}

/// Builds `PURPOSE || header || context_bytes` and passes it to `f`: on the stack when it fits
/// in [`STACK_AAD_LEN`] bytes (every context seen in practice), else in one exact allocation.
fn with_aad<R>(
    header: &[u8; HEADER_LEN],
    context: &EncryptionContext<'_>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Error> {
    let len = PURPOSE.len() + HEADER_LEN + context.encoded_len()?;
    let write = |buf: &mut [u8]| {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(PURPOSE);
        put(header);
        context.write_canonical(&mut put);
        debug_assert_eq!(at, buf.len());
    };
    if len <= STACK_AAD_LEN {
        let mut buf = [0u8; STACK_AAD_LEN];
        write(&mut buf[..len]);
        Ok(f(&buf[..len]))
    } else {
        let mut buf = vec![0u8; len];
        write(&mut buf);
        Ok(f(&buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn header() -> BlobHeader {
        BlobHeader {
            key_id: KEY_ID.parse().expect("valid key id"),
            key_version: 7,
        }
    }

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn fixed_material() -> KeyMaterial {
        KeyMaterial::from_bytes(Zeroizing::new(std::array::from_fn(|i| i as u8))).expect("material")
    }

    fn department() -> BTreeMap<String, String> {
        pairs(&[("Department", "Finance"), ("Purpose", "known-answer test")])
    }

    fn encrypted(material: &KeyMaterial, context: &BTreeMap<String, String>) -> Vec<u8> {
        encrypt(
            material,
            &header(),
            &EncryptionContext::new(context),
            b"attack at dawn",
        )
        .expect("encrypt")
    }

    #[test]
    fn blobs_match_a_known_answer() {
        // Computed independently with Python's `cryptography` AESGCM from the grammar in the
        // module docs. If this fails, the blob format changed, and every ciphertext that clients
        // hold would stop decrypting: add a new format byte instead.
        let context = department();
        let blob = encrypt_with_nonce(
            &fixed_material(),
            &header(),
            &EncryptionContext::new(&context),
            std::array::from_fn(|i| 0xa0 + i as u8),
            b"keystead known-answer plaintext",
        )
        .expect("encrypt");
        assert_eq!(
            hex::encode(&blob),
            "011234abcd12ab34cd56ef1234567890ab00000007a0a1a2a3a4a5a6a7a8a9aaab8d7d055e31ae63db\
             420ee9bc7014edbf1edf2e75e0973200fd6748f21ad301277a4fae25d2ec121e5e440fa33efd45"
        );
        let plaintext =
            decrypt(&fixed_material(), &blob, &EncryptionContext::new(&context)).expect("decrypt");
        assert_eq!(&**plaintext, b"keystead known-answer plaintext");
    }

    #[test]
    fn the_aad_matches_the_grammar() {
        let context = department();
        let aad = with_aad(
            &header().to_bytes(),
            &EncryptionContext::new(&context),
            <[u8]>::to_vec,
        )
        .expect("aad");
        assert_eq!(
            hex::encode(aad),
            "6b657973746561642f636970686572746578742f7631011234abcd12ab34cd56ef1234567890ab0000\
             00070002000a4465706172746d656e74000746696e616e63650007507572706f736500116b6e6f776e\
             2d616e737765722074657374"
        );
    }

    #[test]
    fn the_empty_context_encodes_as_two_zero_bytes() {
        assert_eq!(
            EncryptionContext::empty()
                .to_canonical_bytes()
                .expect("encode"),
            [0, 0]
        );
    }

    #[test]
    fn context_pairs_are_encoded_in_bytewise_key_order() {
        let context = pairs(&[("b", "2"), ("B", "3"), ("a", "1")]);
        let bytes = EncryptionContext::new(&context)
            .to_canonical_bytes()
            .expect("encode");
        assert_eq!(
            bytes,
            [
                0, 3, 0, 1, b'B', 0, 1, b'3', 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2'
            ]
        );
    }

    #[test]
    fn blobs_round_trip_for_every_plaintext_length() {
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        for len in [0, 1, 15, 16, 17, 4096] {
            let plaintext = vec![0x5a; len];
            let blob = encrypt(
                &material,
                &header(),
                &EncryptionContext::new(&context),
                &plaintext,
            )
            .expect("encrypt");
            assert_eq!(blob.len(), BLOB_OVERHEAD + len);
            assert_eq!(blob.capacity(), blob.len(), "one exact allocation");
            assert_eq!(read_header(&blob), Ok(header()));
            let opened =
                decrypt(&material, &blob, &EncryptionContext::new(&context)).expect("decrypt");
            assert_eq!(*opened, plaintext);
        }
    }

    #[test]
    fn blobs_round_trip_with_the_empty_context() {
        let material = KeyMaterial::generate().expect("material");
        let blob =
            encrypt(&material, &header(), &EncryptionContext::empty(), b"hi").expect("encrypt");
        let opened = decrypt(&material, &blob, &EncryptionContext::empty()).expect("decrypt");
        assert_eq!(&**opened, b"hi");
        // An explicitly empty map is the same context.
        let none = BTreeMap::new();
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&none)).is_ok());
    }

    #[test]
    fn blobs_round_trip_with_a_context_too_long_for_the_stack_buffer() {
        let material = KeyMaterial::generate().expect("material");
        let context = pairs(&[("SecretARN", &"x".repeat(2000)), ("k", "v")]);
        let blob = encrypted(&material, &context);
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&context)).is_ok());
        let shorter = pairs(&[("SecretARN", &"x".repeat(1999)), ("k", "v")]);
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&shorter)).is_err());
    }

    #[test]
    fn encrypting_twice_gives_different_blobs() {
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        assert_ne!(
            encrypted(&material, &context),
            encrypted(&material, &context)
        );
    }

    #[test]
    fn a_context_built_in_another_order_still_decrypts() {
        let material = KeyMaterial::generate().expect("material");
        let mut forward = BTreeMap::new();
        forward.insert("a".to_owned(), "1".to_owned());
        forward.insert("b".to_owned(), "2".to_owned());
        forward.insert("c".to_owned(), "3".to_owned());
        let blob = encrypted(&material, &forward);
        let mut backward = BTreeMap::new();
        backward.insert("c".to_owned(), "3".to_owned());
        backward.insert("b".to_owned(), "2".to_owned());
        backward.insert("a".to_owned(), "1".to_owned());
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&backward)).is_ok());
    }

    #[test]
    fn decrypt_with_a_different_context_is_a_decrypt_error() {
        let material = KeyMaterial::generate().expect("material");
        let context = pairs(&[("Department", "Finance"), ("Project", "Alpha")]);
        let blob = encrypted(&material, &context);
        let wrong: [BTreeMap<String, String>; 6] = [
            pairs(&[("Department", "Finance"), ("Project", "Beta")]),
            pairs(&[("Department", "Finance")]),
            pairs(&[]),
            pairs(&[
                ("Department", "Finance"),
                ("Project", "Alpha"),
                ("Extra", "1"),
            ]),
            pairs(&[("department", "Finance"), ("Project", "Alpha")]),
            // The same bytes split differently between key and value.
            pairs(&[("Department", "Finance"), ("ProjectA", "lpha")]),
        ];
        for context in &wrong {
            let error = decrypt(&material, &blob, &EncryptionContext::new(context))
                .expect_err("wrong context");
            assert_eq!(error.reason(), "tag mismatch", "{context:?}");
        }
    }

    #[test]
    fn decrypt_without_the_context_is_a_decrypt_error() {
        let material = KeyMaterial::generate().expect("material");
        let blob = encrypted(&material, &department());
        assert!(decrypt(&material, &blob, &EncryptionContext::empty()).is_err());
    }

    #[test]
    fn decrypt_with_another_key_is_a_decrypt_error() {
        let context = department();
        let blob = encrypted(&KeyMaterial::generate().expect("material"), &context);
        let other = KeyMaterial::generate().expect("material");
        let error =
            decrypt(&other, &blob, &EncryptionContext::new(&context)).expect_err("wrong key");
        assert_eq!(error.reason(), "tag mismatch");
    }

    #[test]
    fn a_blob_whose_header_names_another_version_is_a_decrypt_error() {
        // A service that trusted an edited header would pick another version's material; even
        // with the right material, the header is authenticated.
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        let mut blob = encrypted(&material, &context);
        blob[20] = 8;
        assert_eq!(read_header(&blob).map(|h| h.key_version), Ok(8));
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&context)).is_err());
        let mut blob = encrypted(&material, &context);
        blob[1..17].copy_from_slice(KeyId::random().as_bytes());
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&context)).is_err());
    }

    #[test]
    fn every_single_byte_tamper_is_a_decrypt_error() {
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        let blob = encrypted(&material, &context);
        for i in 0..blob.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut tampered = blob.clone();
                tampered[i] ^= flip;
                assert!(
                    decrypt(&material, &tampered, &EncryptionContext::new(&context)).is_err(),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn truncated_and_extended_blobs_are_decrypt_errors() {
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        let blob = encrypted(&material, &context);
        for len in 0..blob.len() {
            assert!(
                decrypt(&material, &blob[..len], &EncryptionContext::new(&context)).is_err(),
                "length {len}"
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert!(decrypt(&material, &longer, &EncryptionContext::new(&context)).is_err());
    }

    #[test]
    fn foreign_bytes_are_decrypt_errors() {
        let material = KeyMaterial::generate().expect("material");
        let empty = EncryptionContext::empty();
        assert_eq!(
            decrypt(&material, &[], &empty).expect_err("empty").reason(),
            "malformed"
        );
        assert_eq!(read_header(&[]).expect_err("empty").reason(), "malformed");
        for len in [1, 48, 49, 64, 300] {
            let mut random = crate::random_bytes(len).expect("rng").to_vec();
            random[0] = FORMAT_V1;
            assert!(decrypt(&material, &random, &empty).is_err(), "length {len}");
            random[0] = 0x02;
            assert!(decrypt(&material, &random, &empty).is_err(), "length {len}");
        }
        // An AWS KMS ciphertext blob starts with 0x01 0x02 0x02 0x00 and is much longer.
        let mut aws_like = vec![0x01, 0x02, 0x02, 0x00];
        aws_like.extend_from_slice(&crate::random_bytes(180).expect("rng"));
        assert!(decrypt(&material, &aws_like, &empty).is_err());
    }

    #[test]
    fn an_unknown_format_byte_is_reported_as_unsupported() {
        let material = KeyMaterial::generate().expect("material");
        let mut blob =
            encrypt(&material, &header(), &EncryptionContext::empty(), b"x").expect("encrypt");
        blob[0] = 0x02;
        assert_eq!(
            read_header(&blob).expect_err("format").reason(),
            "unsupported format"
        );
    }

    #[test]
    fn every_decrypt_error_displays_the_same_message() {
        let material = KeyMaterial::generate().expect("material");
        let context = department();
        let blob = encrypted(&material, &context);
        let mut bad_format = blob.clone();
        bad_format[0] = 9;
        let errors = [
            decrypt(&material, &[], &EncryptionContext::new(&context)),
            decrypt(&material, &bad_format, &EncryptionContext::new(&context)),
            decrypt(&material, &blob, &EncryptionContext::empty()),
        ];
        let messages: Vec<String> = errors
            .iter()
            .map(|r| r.as_ref().expect_err("fails").to_string())
            .collect();
        assert!(
            messages
                .iter()
                .all(|m| m == "ciphertext cannot be decrypted")
        );
    }

    #[test]
    fn oversized_contexts_are_refused_on_encrypt_and_decrypt() {
        let material = KeyMaterial::generate().expect("material");
        let long_value = pairs(&[("k", &"v".repeat(U16_LIMIT + 1))]);
        let result = encrypt(
            &material,
            &header(),
            &EncryptionContext::new(&long_value),
            b"x",
        );
        assert!(matches!(
            result,
            Err(Error::ContextTooLarge {
                what: "value length",
                ..
            })
        ));
        let long_key = pairs(&[(&"k".repeat(U16_LIMIT + 1), "v")]);
        assert!(matches!(
            EncryptionContext::new(&long_key).to_canonical_bytes(),
            Err(Error::ContextTooLarge {
                what: "key length",
                ..
            })
        ));
        let many: BTreeMap<String, String> = (0..=U16_LIMIT)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        assert!(matches!(
            EncryptionContext::new(&many).to_canonical_bytes(),
            Err(Error::ContextTooLarge {
                what: "pair count",
                ..
            })
        ));

        let blob =
            encrypt(&material, &header(), &EncryptionContext::empty(), b"x").expect("encrypt");
        let error =
            decrypt(&material, &blob, &EncryptionContext::new(&long_value)).expect_err("too large");
        assert_eq!(error.reason(), "context too large");
    }

    #[test]
    fn the_largest_encodable_lengths_are_accepted() {
        let material = KeyMaterial::generate().expect("material");
        let context = pairs(&[(&"k".repeat(U16_LIMIT), &"v".repeat(U16_LIMIT))]);
        let blob = encrypted(&material, &context);
        assert!(decrypt(&material, &blob, &EncryptionContext::new(&context)).is_ok());
    }
}

//! [`KeyMaterial`], the secret of one version of a symmetric KMS key, and [`WrappedKey`], the same
//! material sealed under the root key, which is all that storage ever sees.
//!
//! Key material never leaves this crate in plaintext: there is no accessor for its bytes, no
//! `Debug`, `Clone` or `Serialize`. The only ways out are [`RootKey::seal`](crate::RootKey::seal)
//! and the ciphertext functions.

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use zeroize::Zeroizing;

use crate::Error;
use crate::random::fill;

/// Length in bytes of an AES-256-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length in bytes of an AES-256-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// A 256-bit symmetric key: the material of one version of a KMS key, used with AES-256-GCM.
///
/// It also holds the prepared aws-lc AEAD key (the expanded AES key schedule and GHASH key),
/// built once when the material is created or unsealed, so that each `Encrypt` and `Decrypt`
/// does no key setup. aws-lc frees that context with `OPENSSL_free`, which wipes it.
pub struct KeyMaterial {
    bytes: Zeroizing<[u8; KeyMaterial::LEN]>,
    aead: LessSafeKey,
}

impl KeyMaterial {
    /// Length of the material in bytes.
    pub const LEN: usize = 32;

    /// Fresh random key material.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; Self::LEN]);
        fill(&mut *bytes)?;
        Self::from_bytes(bytes)
    }

    /// Material from its bytes (unsealed from storage, or fixed in tests).
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; Self::LEN]>) -> Result<Self, Error> {
        let aead = aes_256_gcm_key(&bytes)?;
        Ok(Self { bytes, aead })
    }

    /// The raw bytes, for sealing under the root key only.
    pub(crate) fn bytes(&self) -> &[u8; Self::LEN] {
        &self.bytes
    }

    /// The prepared AES-256-GCM key.
    pub(crate) fn aead(&self) -> &LessSafeKey {
        &self.aead
    }
}

/// An AES-256-GCM key prepared once. `LessSafeKey` rather than `RandomizedNonceKey` because the
/// nonce must be chosen by us in one place: random in production, a fixed value in known-answer
/// tests, so that the tests exercise the production code path.
pub(crate) fn aes_256_gcm_key(bytes: &[u8; 32]) -> Result<LessSafeKey, Error> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes)?))
}

/// A fresh random 96-bit nonce. With random nonces a key must seal fewer than 2^32 messages
/// (NIST SP 800-38D, 8.3); see `docs/design/ciphertext-format.md` for why that holds.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN], Error> {
    let mut nonce = [0u8; NONCE_LEN];
    fill(&mut nonce)?;
    Ok(nonce)
}

/// Key material sealed under the root key: `format (0x01) || nonce (12) || ciphertext (32) ||
/// tag (16)`, 61 bytes. These bytes are public in the sense that storage, backups and logs may
/// hold them: without the root key they reveal nothing, and they unseal only for the key id and
/// version they were sealed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// The sealed bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Sealed bytes read back from storage. They are checked when unsealed, not here.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The sealed bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{Aad, Nonce};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn key_material_can_be_shared_between_threads() {
        assert_send_sync::<KeyMaterial>();
    }

    #[test]
    fn generated_key_material_differs() {
        let a = KeyMaterial::generate().expect("generate");
        let b = KeyMaterial::generate().expect("generate");
        assert_ne!(a.bytes(), b.bytes());
    }

    #[test]
    fn aes_256_gcm_matches_mcgrew_viega_test_case_16() {
        // "The Galois/Counter Mode of Operation (GCM)", McGrew and Viega, test case 16
        // (AES-256, 96-bit IV, with AAD), also in NIST CAVP gcmEncryptExtIV256.
        let key: [u8; 32] =
            hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
                .expect("hex")
                .try_into()
                .expect("32 bytes");
        let plaintext = hex::decode(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        )
        .expect("hex");
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").expect("hex");
        let iv: [u8; 12] = hex::decode("cafebabefacedbaddecaf888")
            .expect("hex")
            .try_into()
            .expect("12 bytes");
        let expected_ciphertext = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                                   8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
        let expected_tag = "76fc6ece0f4e1768cddf8853bb2d551b";

        let material = KeyMaterial::from_bytes(Zeroizing::new(key)).expect("key");
        let mut in_out = plaintext.clone();
        let tag = material
            .aead()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(&aad),
                &mut in_out,
            )
            .expect("seal");
        assert_eq!(hex::encode(&in_out), expected_ciphertext);
        assert_eq!(hex::encode(tag.as_ref()), expected_tag);

        in_out.extend_from_slice(tag.as_ref());
        let opened = material
            .aead()
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(&aad),
                &mut in_out,
            )
            .expect("open");
        assert_eq!(opened, &plaintext[..]);
    }

    #[test]
    fn wrapped_keys_round_trip_through_bytes() {
        let wrapped = WrappedKey::from_bytes(vec![1, 2, 3]);
        assert_eq!(wrapped.as_bytes(), &[1, 2, 3]);
        assert_eq!(wrapped.clone().into_bytes(), vec![1, 2, 3]);
    }
}

//! Sealing a value under a 256-bit data key (envelope encryption, as Secrets Manager does with
//! the data key KMS's GenerateDataKey returns). The data key itself is protected by KMS; this
//! module only owns the symmetric step.
//!
//! Format, version 1:
//!
//! ```text
//! sealed = 0x01 || nonce (12 bytes, random) || AES-256-GCM(data_key, value, aad) || tag (16)
//! ```
//!
//! `aad` is chosen by the caller and binds the sealed value to what it belongs to (for secrets,
//! the secret ARN and version id). It must not hold secrets: it is not encrypted.

use aws_lc_rs::aead::{Aad, Nonce};
use zeroize::Zeroizing;

use crate::Error;
use crate::key_material::{NONCE_LEN, TAG_LEN, aes_256_gcm_key, random_nonce};

/// The format byte of version 1.
const FORMAT_V1: u8 = 0x01;

/// Bytes [`seal_with_data_key`] adds to the value: format, nonce and tag.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Seals `value` under `data_key` (exactly 32 bytes) with `aad` authenticated.
pub fn seal_with_data_key(data_key: &[u8], aad: &[u8], value: &[u8]) -> Result<Vec<u8>, Error> {
    let key = prepared(data_key)?;
    let nonce = random_nonce()?;
    let mut out = Vec::with_capacity(value.len() + OVERHEAD);
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    let mut body = value.to_vec();
    let tag = key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )?;
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_ref());
    // `body` held ciphertext only; nothing secret to wipe.
    Ok(out)
}

/// Opens what [`seal_with_data_key`] sealed with the same key and `aad`. Every failure
/// (malformed, wrong key, wrong aad, tampered) is the same [`Error::Unseal`].
pub fn open_with_data_key(
    data_key: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let unseal_error = |reason| Error::Unseal { reason };
    let key = prepared(data_key)?;
    let (&format, rest) = sealed.split_first().ok_or(unseal_error("malformed"))?;
    if format != FORMAT_V1 {
        return Err(unseal_error("unsupported format"));
    }
    let (nonce, rest) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(unseal_error("malformed"))?;
    let (ciphertext, tag) = rest
        .split_last_chunk::<TAG_LEN>()
        .ok_or(unseal_error("malformed"))?;
    let mut out = Zeroizing::new(vec![0u8; ciphertext.len()]);
    key.open_separate_gather(
        Nonce::assume_unique_for_key(*nonce),
        Aad::from(aad),
        ciphertext,
        tag,
        &mut out,
    )
    .map_err(|_| {
        zeroize::Zeroize::zeroize(&mut *out);
        unseal_error("tag mismatch")
    })?;
    Ok(out)
}

fn prepared(data_key: &[u8]) -> Result<aws_lc_rs::aead::LessSafeKey, Error> {
    let bytes: Zeroizing<[u8; 32]> =
        Zeroizing::new(data_key.try_into().map_err(|_| Error::Unseal {
            reason: "data key is not 32 bytes",
        })?);
    aes_256_gcm_key(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_aad_only() {
        let key = [7u8; 32];
        let sealed = seal_with_data_key(&key, b"arn/v1", b"hunter2").expect("seal");
        assert_eq!(sealed.len(), 7 + OVERHEAD);
        let opened = open_with_data_key(&key, b"arn/v1", &sealed).expect("open");
        assert_eq!(&opened[..], b"hunter2");
        assert!(open_with_data_key(&key, b"arn/v2", &sealed).is_err());
        assert!(open_with_data_key(&[8u8; 32], b"arn/v1", &sealed).is_err());
        assert!(open_with_data_key(&key, b"arn/v1", &sealed[..10]).is_err());
    }

    #[test]
    fn a_data_key_of_the_wrong_length_is_refused() {
        assert!(seal_with_data_key(&[1u8; 16], b"", b"x").is_err());
    }
}

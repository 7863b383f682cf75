//! [`SecretValue`]: a version's plaintext, a string or bytes, and its encoding before sealing.
//!
//! Encoding, version 1: `kind (0x00 string | 0x01 binary) || bytes`.

use zeroize::Zeroizing;

use crate::Error;

/// A secret's value in plaintext. Zeroized on drop; no `Debug`, no `Clone`.
pub enum SecretValue {
    /// `SecretString`.
    String(Zeroizing<String>),
    /// `SecretBinary`.
    Binary(Zeroizing<Vec<u8>>),
}

impl SecretValue {
    /// The value's size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::String(s) => s.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two values are the same (idempotent retries), in constant time for equal
    /// lengths.
    pub fn same_as(&self, other: &SecretValue) -> bool {
        let (a, b) = (self.encode(), other.encode());
        a.len() == b.len() && keystead_crypto::digest::constant_time_eq(&a, &b)
    }

    /// The value's plaintext as a string, for a rotator that must read it. Uses of this
    /// function expose the secret: say why at the call site.
    pub fn expose_string(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            Self::Binary(_) => None,
        }
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.len() + 1));
        match self {
            Self::String(s) => {
                out.push(0);
                out.extend_from_slice(s.as_bytes());
            }
            Self::Binary(b) => {
                out.push(1);
                out.extend_from_slice(b);
            }
        }
        out
    }

    pub(crate) fn decode(bytes: Zeroizing<Vec<u8>>) -> Result<SecretValue, Error> {
        let corrupt = || Error::Internal("a sealed secret value has an unknown encoding".into());
        match bytes.split_first() {
            Some((0, rest)) => {
                let text = std::str::from_utf8(rest).map_err(|_| corrupt())?;
                Ok(Self::String(Zeroizing::new(text.to_owned())))
            }
            Some((1, rest)) => Ok(Self::Binary(Zeroizing::new(rest.to_vec()))),
            _ => Err(corrupt()),
        }
    }
}

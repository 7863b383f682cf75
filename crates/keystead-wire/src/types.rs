//! The scalar wire types the generated code uses: blobs, secrets, timestamps, and the
//! `wire_enum!` macro behind every generated enum.
//!
//! On the AWS JSON wire a blob is a standard base64 string and a timestamp is a number of
//! seconds since the Unix epoch. Secrets (`sensitive` shapes in the model) are held in
//! `Zeroizing` buffers and implement neither `Debug` nor `Clone`; they do implement `Serialize`,
//! because a response such as `Decrypt`'s must carry its plaintext, and this crate is the one
//! place where that is meant to happen.

use std::fmt;

use base64::Engine as _;
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

/// Decodes standard base64 into `out`, which is reserved up front so that decoding never
/// reallocates (a reallocation would leave an un-zeroized copy behind).
fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    out.reserve(base64::decoded_len_estimate(text.len()));
    STANDARD.decode_vec(text, out)
}

/// The message every base64 failure gets; it never includes the offending text.
const INVALID_BASE64: &str = "invalid base64";

/// A non-secret binary value (a ciphertext, a public key, a signature): base64 on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(Vec<u8>);

impl Blob {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, by value.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(&self.0, &STANDARD))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Blob, E> {
                let mut out = Vec::new();
                decode_into(text, &mut out).map_err(|_| E::custom(INVALID_BASE64))?;
                Ok(Blob(out))
            }
        }
        deserializer.deserialize_str(BlobVisitor)
    }
}

/// A secret binary value (a plaintext, a data key, a secret's binary value): base64 on the
/// wire, zeroized on drop, never `Debug`.
#[derive(Default)]
pub struct SensitiveBlob(Zeroizing<Vec<u8>>);

impl SensitiveBlob {
    /// Wraps `bytes`.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Every caller is a place where the secret is used on purpose.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, by value, still zeroized on drop.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }

    /// The length in bytes (not secret: AWS reports length violations).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SensitiveBlob {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl From<Vec<u8>> for SensitiveBlob {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl Serialize for SensitiveBlob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Encoded in small chunks on the stack straight into the output, so no heap copy of
        // the secret's base64 form is left behind to zeroize.
        serializer.collect_str(&Base64Display::new(&self.0, &STANDARD))
    }
}

impl<'de> Deserialize<'de> for SensitiveBlob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SensitiveBlobVisitor;
        impl Visitor<'_> for SensitiveBlobVisitor {
            type Value = SensitiveBlob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<SensitiveBlob, E> {
                let mut out = Zeroizing::new(Vec::new());
                decode_into(text, &mut out).map_err(|_| E::custom(INVALID_BASE64))?;
                Ok(SensitiveBlob(out))
            }
        }
        deserializer.deserialize_str(SensitiveBlobVisitor)
    }
}

/// A secret string (a secret's value, a password): zeroized on drop, never `Debug`.
#[derive(Default)]
pub struct SensitiveString(Zeroizing<String>);

impl SensitiveString {
    /// Wraps `text`.
    pub fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The secret text. Every caller is a place where the secret is used on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret text, by value, still zeroized on drop.
    pub fn into_inner(self) -> Zeroizing<String> {
        self.0
    }
}

impl From<Zeroizing<String>> for SensitiveString {
    fn from(text: Zeroizing<String>) -> Self {
        Self(text)
    }
}

impl From<String> for SensitiveString {
    fn from(text: String) -> Self {
        Self(Zeroizing::new(text))
    }
}

impl Serialize for SensitiveString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SensitiveString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SensitiveStringVisitor;
        impl Visitor<'_> for SensitiveStringVisitor {
            type Value = SensitiveString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<SensitiveString, E> {
                Ok(SensitiveString(Zeroizing::new(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<SensitiveString, E> {
                Ok(SensitiveString(Zeroizing::new(text)))
            }
        }
        deserializer.deserialize_string(SensitiveStringVisitor)
    }
}

/// A point in time as AWS JSON sends it: seconds since the Unix epoch, possibly fractional.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// The timestamp `seconds` after the epoch.
    pub fn from_epoch_seconds(seconds: i64) -> Self {
        // Exact for every second within ±2^53, i.e. any date that matters.
        Self(seconds as f64)
    }

    /// The timestamp `millis` milliseconds after the epoch.
    pub fn from_epoch_millis(millis: i64) -> Self {
        Self(millis as f64 / 1000.0)
    }

    /// Seconds since the epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0
    }
}

impl From<f64> for Timestamp {
    fn from(seconds: f64) -> Self {
        Self(seconds)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Whole seconds go out as integers (`1700000000`, not `1700000000.0`), as AWS sends them.
        let whole = self.0.fract() == 0.0 && self.0.abs() < 9.0e15;
        if whole {
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds since the epoch")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
        }
        deserializer.deserialize_f64(TimestampVisitor)
    }
}

/// Defines a model enum: one variant per listed value, plus `Unknown(String)` for anything
/// else a client sends (validation then reports it, as AWS does, instead of a parse error).
///
/// Generated code invokes it as
/// `wire_enum! { /// doc \n KeyState { Enabled = "Enabled", PendingDeletion = "PendingDeletion", } }`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $value, "`")]
                $variant,
            )*
            /// A value the model does not list; fails validation and is never sent by keystead.
            Unknown(String),
        }

        impl $name {
            /// Every listed value, in model order.
            pub const VALUES: &'static [&'static str] = &[$($value),*];

            /// The exact wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(other) => other,
                }
            }

            /// The variant for a wire string; unlisted strings become `Unknown`.
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from_wire(value)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct EnumVisitor;
                impl ::serde::de::Visitor<'_> for EnumVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        Ok($name::from_wire(value))
                    }
                }
                deserializer.deserialize_str(EnumVisitor)
            }
        }

        impl $crate::validate::WireEnum for $name {
            const VALUES: &'static [&'static str] = $name::VALUES;
            fn unknown(&self) -> Option<&str> {
                match self {
                    Self::Unknown(other) => Some(other),
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trips_through_base64() {
        let blob: Blob = serde_json::from_str("\"AQID\"").expect("valid");
        assert_eq!(blob.as_bytes(), &[1, 2, 3]);
        assert_eq!(
            serde_json::to_string(&blob).expect("serializes"),
            "\"AQID\""
        );
    }

    #[test]
    fn invalid_base64_is_an_error_that_does_not_echo_the_input() {
        let err = serde_json::from_str::<SensitiveBlob>("\"not*base64\"")
            .err()
            .expect("fails");
        assert!(!err.to_string().contains("not*base64"), "{err}");
    }

    #[test]
    fn timestamps_accept_integers_and_fractions() {
        let t: Timestamp = serde_json::from_str("1700000000").expect("valid");
        assert_eq!(t, Timestamp(1.7e9));
        let t: Timestamp = serde_json::from_str("1.5").expect("valid");
        assert_eq!(t, Timestamp(1.5));
        assert_eq!(
            serde_json::to_string(&Timestamp(1.7e9)).expect("ok"),
            "1700000000"
        );
        assert_eq!(serde_json::to_string(&Timestamp(1.25)).expect("ok"), "1.25");
    }
}

//! The scalar wire types the generated code uses: blobs, secrets, timestamps, and the
//! `wire_enum!` macro behind every generated enum.
//!
//! On the AWS JSON wire a blob is a standard base64 string and a timestamp is a number of
//! seconds since the Unix epoch; on the Query wire a blob is base64 too but a timestamp is
//! ISO 8601 ([`Timestamp::to_iso8601`], [`Timestamp::parse_iso8601`]). Secrets (`sensitive` shapes in the model) are held in
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
pub(crate) fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
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

    /// ISO 8601 in UTC as the Query protocol sends it: `2026-11-28T12:00:00Z`, or with
    /// milliseconds (`2026-11-28T12:00:00.250Z`) when the time is not a whole second.
    /// Times outside years 0000–9999 are clamped to that range; NaN is the epoch.
    pub fn to_iso8601(self) -> String {
        const MIN_MILLIS: f64 = -62_167_219_200_000.0; // 0000-01-01T00:00:00Z
        const MAX_MILLIS: f64 = 253_402_300_799_999.0; // 9999-12-31T23:59:59.999Z
        let millis = (self.0 * 1000.0).round();
        let millis = if millis.is_nan() {
            0
        } else {
            // Clamped to a range well inside i64, so the cast is exact.
            millis.clamp(MIN_MILLIS, MAX_MILLIS) as i64
        };
        let (seconds, millis) = (millis.div_euclid(1000), millis.rem_euclid(1000));
        let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60,
        );
        let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
        if millis != 0 {
            out.push_str(&format!(".{millis:03}"));
        }
        out.push('Z');
        out
    }

    /// Parses ISO 8601 as botocore sends it on the Query wire:
    /// `YYYY-MM-DDTHH:MM:SS`, optional `.fraction`, then `Z` or an offset `±HH:MM`.
    pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(range)?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            part.iter().try_fold(0i64, |n, d| {
                n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
            })
        };
        let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
        if separators.iter().any(|(at, c)| b.get(*at) != Some(c))
            || !matches!(b.get(10), Some(b'T' | b't'))
        {
            return None;
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let mut at = 19;
        let mut fraction = 0.0;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
            if end == start || end - start > 9 {
                return None;
            }
            fraction = digits(start..end)? as f64 / 10f64.powi((end - start) as i32);
            at = end;
        }
        let offset = match b.get(at..)? {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), ..] => {
                let rest = &b[at + 1..];
                let (h, m) = match rest.len() {
                    5 if rest[2] == b':' => (digits(at + 1..at + 3)?, digits(at + 4..at + 6)?),
                    4 => (digits(at + 1..at + 3)?, digits(at + 3..at + 5)?),
                    _ => return None,
                };
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                if *sign == b'+' {
                    minutes * 60
                } else {
                    -minutes * 60
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
        Some(Timestamp(seconds as f64 + fraction))
    }
}

/// (year, month, day) of the day `days` after 1970-01-01 (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The number of days from 1970-01-01 to (year, month, day); the inverse of
/// [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
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

        impl $crate::query::FromQueryValue for $name {
            const EXPECTED: &'static str = "a string";
            fn from_query_value(text: &str) -> Option<Self> {
                Some($name::from_wire(text))
            }
        }

        impl $crate::query::XmlValue for $name {
            fn write_text(&self, xml: &mut $crate::query::XmlWriter) {
                xml.text(self.as_str());
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

    #[test]
    fn iso8601_is_whole_seconds_unless_there_are_milliseconds() {
        assert_eq!(Timestamp(0.0).to_iso8601(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_epoch_seconds(1_795_867_200).to_iso8601(),
            "2026-11-28T12:00:00Z"
        );
        assert_eq!(
            Timestamp(1_795_867_200.25).to_iso8601(),
            "2026-11-28T12:00:00.250Z"
        );
        assert_eq!(Timestamp(-1.0).to_iso8601(), "1969-12-31T23:59:59Z");
        assert_eq!(
            Timestamp(951_782_400.0).to_iso8601(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(Timestamp(f64::NAN).to_iso8601(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1e300).to_iso8601(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn iso8601_parses_what_botocore_sends_and_round_trips() {
        let parse = |t: &str| Timestamp::parse_iso8601(t).map(|t| t.0);
        assert_eq!(parse("2026-11-28T12:00:00Z"), Some(1_795_867_200.0));
        assert_eq!(parse("2026-11-28T12:00:00.250000Z"), Some(1_795_867_200.25));
        assert_eq!(parse("2026-11-28T13:30:00+01:30"), Some(1_795_867_200.0));
        assert_eq!(parse("2026-11-28T10:00:00-0200"), Some(1_795_867_200.0));
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T12:00:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T12:00:00.Z",
            "2026-11-28T12:00:00Zjunk",
            "+026-11-28T12:00:00Z",
            "2026-11-28T12:00:00+1:00",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for seconds in [
            -62_167_219_200,
            -1,
            0,
            951_782_400,
            1_795_867_200,
            253_402_300_799,
        ] {
            let t = Timestamp::from_epoch_seconds(seconds);
            assert_eq!(Timestamp::parse_iso8601(&t.to_iso8601()), Some(t));
        }
    }
}

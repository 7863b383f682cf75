//! SigV4's timestamp format, ISO 8601 basic (`YYYYMMDD'T'HHMMSS'Z'`, always UTC), parsed and
//! written by hand: the format is fixed-width, and this runs on every request.
//!
//! Grammar accepted by [`parse_amz_date`], nothing else:
//!
//! ```text
//! amz-date = year month day "T" hour minute second "Z"   ; 16 octets
//! year = 4DIGIT   month = 2DIGIT   day = 2DIGIT
//! hour = 2DIGIT   minute = 2DIGIT  second = 2DIGIT        ; second 00-59, no leap seconds
//! ```

use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into a UTC date-time, or `None` if the text is anything else.
pub(crate) fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let day = u8::try_from(digits(6..8)?).ok()?;
    let hour = u8::try_from(digits(9..11)?).ok()?;
    let minute = u8::try_from(digits(11..13)?).ok()?;
    let second = u8::try_from(digits(13..15)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// A date-time written as `YYYYMMDD'T'HHMMSS'Z'` in UTC, on the stack.
///
/// Years outside `0..=9999` cannot be written in four digits; they wrap, which only matters for
/// clocks that are off by millennia.
#[derive(Clone, Copy)]
pub(crate) struct AmzDate([u8; 16]);

impl AmzDate {
    /// Formats `at` (converted to UTC; sub-second precision is dropped).
    pub(crate) fn new(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let mut out = *b"00000000T000000Z";
        let put = |out: &mut [u8; 16], start: usize, width: usize, value: u32| {
            let mut v = value;
            for i in (start..start + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut out, 0, 4, at.year().rem_euclid(10_000).unsigned_abs());
        put(&mut out, 4, 2, u32::from(u8::from(at.month())));
        put(&mut out, 6, 2, u32::from(at.day()));
        put(&mut out, 9, 2, u32::from(at.hour()));
        put(&mut out, 11, 2, u32::from(at.minute()));
        put(&mut out, 13, 2, u32::from(at.second()));
        AmzDate(out)
    }

    /// The full timestamp, `YYYYMMDD'T'HHMMSS'Z'`.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("invariant: only ASCII digits, 'T' and 'Z' are written")
    }

    /// The date part, `YYYYMMDD`, as used in credential scopes.
    pub(crate) fn date(&self) -> &str {
        &self.as_str()[..8]
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parses_and_writes_the_basic_format() {
        let t = parse_amz_date("20150830T123600Z").expect("valid");
        assert_eq!(t, datetime!(2015-08-30 12:36:00 UTC));
        assert_eq!(AmzDate::new(t).as_str(), "20150830T123600Z");
        assert_eq!(AmzDate::new(t).date(), "20150830");
    }

    #[test]
    fn writing_converts_to_utc_and_drops_subseconds() {
        let t = datetime!(2015-08-30 23:36:00.999 -01:00);
        assert_eq!(AmzDate::new(t).as_str(), "20150831T003600Z");
    }

    #[test]
    fn rejects_anything_but_the_basic_format() {
        for bad in [
            "",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830T123600z",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20150830T123660Z",
            "+0150830T123600Z",
            "Sun, 30 Aug 2015 12:36:00 GMT",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad:?} was accepted");
        }
    }
}

//! Dates as the `Date*` condition operators read them: ISO 8601 (W3C profile) or epoch seconds,
//! converted to milliseconds since the Unix epoch, UTC. Also the formatting of `aws:CurrentTime`.
//!
//! Accepted forms (IAM User Guide, "Date condition operators": "ISO 8601 date format or epoch
//! (UNIX) time"):
//!
//! ```text
//! epoch    = ["-"] 1*DIGIT ["." 1*DIGIT]                      ; seconds
//! iso      = date [ "T" hh ":" mm [ ":" ss [ "." 1*DIGIT ] ] [ zone ] ]
//! date     = YYYY "-" MM "-" DD
//! zone     = "Z" / ( "+" / "-" ) hh [":"] mm                   ; none means UTC
//! ```
//!
//! No clock is read here: the request context carries the time.

/// Milliseconds since the epoch for `text`, or `None` when it is neither form.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    parse_epoch(text).or_else(|| parse_iso(text))
}

fn parse_epoch(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis = whole.parse::<i64>().ok()? * 1000;
    if let Some(fraction) = fraction {
        millis += fraction_millis(fraction)?;
    }
    Some(if negative { -millis } else { millis })
}

/// The first three digits of a fraction of a second, as milliseconds.
fn fraction_millis(fraction: &str) -> Option<i64> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis = 0;
    for (i, b) in fraction.bytes().take(3).enumerate() {
        millis += i64::from(b - b'0') * [100, 10, 1][i];
    }
    Some(millis)
}

fn parse_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(millis);
    }
    let rest = rest.strip_prefix(['T', 't'])?;
    let rb = rest.as_bytes();
    if rb.len() < 5 || rb[2] != b':' {
        return None;
    }
    let hour = digits(&rb[0..2])?;
    let minute = digits(&rb[3..5])?;
    let mut second = 0;
    let mut rest = &rest[5..];
    if let Some(after) = rest.strip_prefix(':') {
        let sb = after.as_bytes();
        if sb.len() < 2 {
            return None;
        }
        second = digits(&sb[0..2])?;
        rest = &after[2..];
        if let Some(after) = rest.strip_prefix('.') {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            millis += fraction_millis(&after[..end])?;
            rest = &after[end..];
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    millis += (hour * 3600 + minute * 60 + second) * 1000;
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = zone[1..].replace(':', "");
            if z.len() != 4 {
                return None;
            }
            let zh = digits(&z.as_bytes()[0..2])?;
            let zm = digits(&z.as_bytes()[2..4])?;
            if zh > 23 || zm > 59 {
                return None;
            }
            sign * (zh * 60 + zm)
        }
    };
    Some(millis - offset_minutes * 60_000)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDThh:mm:ssZ`, the form AWS gives `aws:CurrentTime`.
pub(crate) fn format_iso(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let in_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_parse_in_every_documented_form() {
        let noon = 1_563_278_400_000; // 2019-07-16T12:00:00Z
        assert_eq!(parse_date("2019-07-16T12:00:00Z"), Some(noon));
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(noon));
        assert_eq!(parse_date("2019-07-16T12:00:00"), Some(noon));
        assert_eq!(parse_date("2019-07-16T12:00:00.250Z"), Some(noon + 250));
        assert_eq!(parse_date("2019-07-16T14:00:00+02:00"), Some(noon));
        assert_eq!(parse_date("2019-07-16T07:00:00-0500"), Some(noon));
        assert_eq!(parse_date("2019-07-16"), Some(noon - 12 * 3_600_000));
        assert_eq!(parse_date("1563278400"), Some(noon));
        assert_eq!(parse_date("1563278400.5"), Some(noon + 500));
    }

    #[test]
    fn malformed_dates_do_not_parse() {
        for bad in [
            "",
            "2019-13",
            "2019-13-01",
            "2019-02-30",
            "2019-07-16T25:00:00Z",
            "2019-07-16X",
            "2019-07-16T12:00:00+2",
            "yesterday",
            "1e9",
            "12.",
            "-",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for millis in [0, 1_563_278_400_000, 951_782_400_000, -86_400_000] {
            assert_eq!(parse_date(&format_iso(millis)), Some(millis));
        }
        assert_eq!(format_iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}

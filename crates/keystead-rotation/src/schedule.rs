//! Rotation schedules: `RotationRules` (`AutomaticallyAfterDays`, `ScheduleExpression` with
//! `rate(...)` or AWS's 6-field `cron(...)`, and the `Duration` window) and [`next_rotation`],
//! the window in which the next rotation should run.
//!
//! Windows, as Secrets Manager documents them:
//! - `AutomaticallyAfterDays = N` or `rate(N days)`: the UTC day N days after the last rotation;
//!   by default the whole day, with `Duration` its first hours.
//! - `rate(N hours)`: N hours after the last rotation, open for `Duration` (default 1 hour).
//! - `cron(...)`: the first matching minute after the last rotation, open for `Duration`
//!   (default: until the end of that UTC day).
//!
//! A window never runs into the next UTC day, nor past the next window. Grammar accepted:
//! ```text
//! rate  = "rate(" N (" day" | " days" | " hours") ")"   ; days 1-1000, hours 4-23
//! cron  = "cron(" minutes SP hours SP day-of-month SP month SP day-of-week SP year ")"
//! field = "*" | "?" | item *("," item)          ; "?" only in day-of-month or day-of-week, one of them
//! item  = (value | value "-" value | "*") ["/" step]
//! day-of-month may also be "L" (last day); day-of-week (1-7 = SUN-SAT or SUN..SAT) may be
//! "d#n" (n-th weekday d of the month) or "dL" (last weekday d); month may use JAN..DEC.
//! duration = N "h"                                        ; 1-24 hours
//! ```
//! This module computes times only; it never reads the clock (callers pass `now`).

use time::{Date, OffsetDateTime, Time};

use crate::Error;

const MAX_ROTATION_DAYS: i64 = 1000;
const MIN_RATE_HOURS: i64 = 4;
const MAX_RATE_HOURS: i64 = 23;
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;

/// A secret's `RotationRules`, as given to `RotateSecret`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationRules {
    /// `AutomaticallyAfterDays`: 1 to 1000.
    pub automatically_after_days: Option<i64>,
    /// `Duration`: the window's length, `"<N>h"` with N from 1 to 24.
    pub duration: Option<String>,
    /// `ScheduleExpression`: `rate(...)` or `cron(...)`.
    pub schedule_expression: Option<String>,
}

/// When a rotation should run: at or after `start`, and preferably before `end`. A worker that
/// finds itself past `end` (it was down) rotates at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationWindow {
    /// The window opens.
    pub start: OffsetDateTime,
    /// The window closes.
    pub end: OffsetDateTime,
}

/// A parsed `ScheduleExpression`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(N days)`.
    RateDays(i64),
    /// `rate(N hours)`.
    RateHours(i64),
    /// `cron(...)`.
    Cron(Box<Cron>),
}

/// A parsed 6-field cron expression (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    day_of_month: DayOfMonth,
    months: Vec<bool>,
    day_of_week: DayOfWeek,
    years: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Days(Vec<bool>),
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Indexed 1 = Sunday .. 7 = Saturday.
    Days(Vec<bool>),
    Nth {
        weekday: u8,
        n: u8,
    },
    Last {
        weekday: u8,
    },
}

impl ScheduleExpression {
    /// Parses `rate(...)` or `cron(...)`.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        let invalid = |reason: &'static str| Error::InvalidScheduleExpression {
            expression: expression.chars().take(256).collect(),
            reason,
        };
        let text = expression.trim();
        if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
            let mut parts = inner.split_whitespace();
            let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(invalid("rate() takes a number and a unit"));
            };
            let n: i64 = n.parse().map_err(|_| invalid("the rate is not a number"))?;
            return match unit {
                "day" | "days" if (1..=MAX_ROTATION_DAYS).contains(&n) => {
                    if (unit == "day") != (n == 1) {
                        return Err(invalid("use 'day' for 1 and 'days' otherwise"));
                    }
                    Ok(Self::RateDays(n))
                }
                "day" | "days" => Err(invalid("a rate in days must be 1 to 1000")),
                "hours" if (MIN_RATE_HOURS..=MAX_RATE_HOURS).contains(&n) => Ok(Self::RateHours(n)),
                "hour" | "hours" => Err(invalid("a rate in hours must be 4 to 23")),
                _ => Err(invalid("the rate unit must be days or hours")),
            };
        }
        if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            return Cron::parse(inner)
                .map(|c| Self::Cron(Box::new(c)))
                .map_err(invalid);
        }
        Err(invalid("expected rate(...) or cron(...)"))
    }
}

impl Cron {
    fn parse(inner: &str) -> Result<Self, &'static str> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err("cron() takes 6 fields: minutes hours day-of-month month day-of-week year");
        };
        let day_of_month = match dom {
            "?" => DayOfMonth::Any,
            "L" => DayOfMonth::Last,
            _ => DayOfMonth::Days(parse_set(dom, 1, 31, &[])?),
        };
        let day_of_week = if dow == "?" {
            DayOfWeek::Any
        } else if let Some((day, n)) = dow.split_once('#') {
            let weekday = parse_value(day, 1, 7, &WEEKDAYS)? as u8;
            let n: u8 = n
                .parse()
                .map_err(|_| "the week number after # must be 1 to 5")?;
            if !(1..=5).contains(&n) {
                return Err("the week number after # must be 1 to 5");
            }
            DayOfWeek::Nth { weekday, n }
        } else if let Some(day) = dow.strip_suffix('L') {
            let weekday = if day.is_empty() {
                7
            } else {
                parse_value(day, 1, 7, &WEEKDAYS)? as u8
            };
            DayOfWeek::Last { weekday }
        } else {
            DayOfWeek::Days(parse_set(dow, 1, 7, &WEEKDAYS)?)
        };
        match (&day_of_month, &day_of_week) {
            (DayOfMonth::Any, DayOfWeek::Any) => {
                return Err("only one of day-of-month and day-of-week may be ?");
            }
            (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
            _ => return Err("one of day-of-month and day-of-week must be ?"),
        }
        Ok(Self {
            minutes: parse_set(minutes, 0, 59, &[])?,
            hours: parse_set(hours, 0, 23, &[])?,
            day_of_month,
            months: parse_set(month, 1, 12, &MONTHS)?,
            day_of_week,
            years: parse_set(year, MIN_YEAR as u32, MAX_YEAR as u32, &[])?,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        // Tables are indexed by value: `years[2026]`, `months[12]`.
        let year_ok = usize::try_from(date.year()).is_ok_and(|y| self.years.get(y) == Some(&true));
        if !year_ok || !self.months[u8::from(date.month()) as usize] {
            return false;
        }
        let last_day = date.month().length(date.year());
        let dom_ok = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Last => date.day() == last_day,
            DayOfMonth::Days(days) => days[date.day() as usize],
        };
        let weekday = date.weekday().number_from_sunday();
        let dow_ok = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(days) => days[weekday as usize],
            DayOfWeek::Nth { weekday: w, n } => weekday == *w && (date.day() - 1) / 7 + 1 == *n,
            DayOfWeek::Last { weekday: w } => weekday == *w && date.day() + 7 > last_day,
        };
        dom_ok && dow_ok
    }

    /// The first matching minute strictly after `after`, if any before the end of year 2199.
    fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let mut date = after.date();
        loop {
            if date.year() > MAX_YEAR {
                return None;
            }
            if self.day_matches(date) {
                for hour in (0..24u8).filter(|h| self.hours[*h as usize]) {
                    for minute in (0..60u8).filter(|m| self.minutes[*m as usize]) {
                        // The loops only yield hours below 24 and minutes below 60.
                        let time = Time::from_hms(hour, minute, 0).expect("hour < 24, minute < 60");
                        let candidate = date.with_time(time).assume_utc();
                        if candidate > after {
                            return Some(candidate);
                        }
                    }
                }
            }
            date = date.next_day()?;
        }
    }

    /// The latest minute of a day at which this cron can fire (for window checks).
    fn latest_minute_of_day(&self) -> u32 {
        let hour = (0..24).rev().find(|h| self.hours[*h]).unwrap_or(0) as u32;
        let minute = (0..60).rev().find(|m| self.minutes[*m]).unwrap_or(0) as u32;
        hour * 60 + minute
    }
}

/// Parses one value: a number in `min..=max`, or a name from `names` (index 0 = `min`).
fn parse_value(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, &'static str> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(min + i as u32);
    }
    let value: u32 = text
        .parse()
        .map_err(|_| "a cron field has a value that is not a number")?;
    if !(min..=max).contains(&value) {
        return Err("a cron field has a value out of range");
    }
    Ok(value)
}

/// Parses a list field into a membership table indexed by value (`0..=max`).
fn parse_set(field: &str, min: u32, max: u32, names: &[&str]) -> Result<Vec<bool>, &'static str> {
    let mut set = vec![false; max as usize + 1];
    if field == "?" {
        return Err("? is only allowed in day-of-month or day-of-week");
    }
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| "a cron step is not a number")?;
                if step == 0 {
                    return Err("a cron step must be positive");
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, min, max, names)?,
                parse_value(b, min, max, names)?,
            )
        } else {
            let value = parse_value(range, min, max, names)?;
            // `a/s` means from a to the end in steps of s.
            (value, if item.contains('/') { max } else { value })
        };
        if low > high {
            return Err("a cron range runs backwards");
        }
        for value in (low..=high).step_by(step as usize) {
            set[value as usize] = true;
        }
    }
    Ok(set)
}

/// Parses `Duration` (`"3h"`): 1 to 24 hours.
fn parse_duration(duration: &str) -> Result<time::Duration, Error> {
    let invalid = Error::InvalidRotationRules {
        reason: "Duration must be 1h to 24h",
    };
    let hours: i64 = duration
        .strip_suffix('h')
        .and_then(|n| n.parse().ok())
        .ok_or(Error::InvalidRotationRules {
            reason: "Duration must be 1h to 24h",
        })?;
    if !(1..=24).contains(&hours) {
        return Err(invalid);
    }
    Ok(time::Duration::hours(hours))
}

/// What the rules say, parsed and checked.
enum Schedule {
    Days(i64),
    Hours(i64),
    Cron(Box<Cron>),
}

impl RotationRules {
    /// Checks the rules as `RotateSecret` must: exactly one of `AutomaticallyAfterDays` and
    /// `ScheduleExpression`, values in range, and a `Duration` that ends the window before the
    /// next UTC day and before the next window.
    pub fn validate(&self) -> Result<(), Error> {
        self.parse().map(|_| ())
    }

    fn parse(&self) -> Result<(Schedule, Option<time::Duration>), Error> {
        let schedule = match (&self.automatically_after_days, &self.schedule_expression) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidRotationRules {
                    reason: "give AutomaticallyAfterDays or ScheduleExpression, not both",
                });
            }
            (None, None) => {
                return Err(Error::InvalidRotationRules {
                    reason: "give AutomaticallyAfterDays or ScheduleExpression",
                });
            }
            (Some(days), None) if (1..=MAX_ROTATION_DAYS).contains(days) => Schedule::Days(*days),
            (Some(_), None) => {
                return Err(Error::InvalidRotationRules {
                    reason: "AutomaticallyAfterDays must be 1 to 1000",
                });
            }
            (None, Some(expression)) => match ScheduleExpression::parse(expression)? {
                ScheduleExpression::RateDays(n) => Schedule::Days(n),
                ScheduleExpression::RateHours(n) => Schedule::Hours(n),
                ScheduleExpression::Cron(c) => Schedule::Cron(c),
            },
        };
        let duration = self.duration.as_deref().map(parse_duration).transpose()?;
        if let Some(duration) = duration {
            let fits = match &schedule {
                Schedule::Days(_) => true,
                Schedule::Hours(n) => duration <= time::Duration::hours(*n),
                Schedule::Cron(cron) => {
                    i64::from(cron.latest_minute_of_day()) + duration.whole_minutes() <= 24 * 60
                }
            };
            if !fits {
                return Err(Error::InvalidRotationRules {
                    reason: "the Duration window would run into the next UTC day or window",
                });
            }
        }
        Ok((schedule, duration))
    }
}

/// The window of the next rotation under `rules`, counted from `last_rotated` (or from `now` for
/// a secret never rotated). The window may lie in the past: the rotation is then due.
pub fn next_rotation(
    rules: &RotationRules,
    last_rotated: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<RotationWindow, Error> {
    let (schedule, duration) = rules.parse()?;
    let base = last_rotated.unwrap_or(now).to_offset(time::UtcOffset::UTC);
    let day = time::Duration::days(1);
    let window = match schedule {
        Schedule::Days(n) => {
            let start = (base + time::Duration::days(n))
                .date()
                .midnight()
                .assume_utc();
            RotationWindow {
                start,
                end: start + duration.unwrap_or(day),
            }
        }
        Schedule::Hours(n) => {
            let start = base + time::Duration::hours(n);
            RotationWindow {
                start,
                end: start + duration.unwrap_or(time::Duration::hours(1)),
            }
        }
        Schedule::Cron(cron) => {
            let start = cron.next_after(base).ok_or(Error::InvalidRotationRules {
                reason: "the cron expression never matches again",
            })?;
            let end_of_day = start.date().midnight().assume_utc() + day;
            RotationWindow {
                start,
                end: duration.map_or(end_of_day, |d| (start + d).min(end_of_day)),
            }
        }
    };
    Ok(window)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn rules(days: Option<i64>, expression: Option<&str>, duration: Option<&str>) -> RotationRules {
        RotationRules {
            automatically_after_days: days,
            duration: duration.map(str::to_owned),
            schedule_expression: expression.map(str::to_owned),
        }
    }

    fn window(r: &RotationRules, last: OffsetDateTime) -> RotationWindow {
        next_rotation(r, Some(last), last).expect("valid rules")
    }

    #[test]
    fn automatically_after_days_opens_the_whole_utc_day_n_days_later() {
        let w = window(
            &rules(Some(30), None, None),
            datetime!(2026-11-28 18:30 UTC),
        );
        assert_eq!(w.start, datetime!(2026-12-28 00:00 UTC));
        assert_eq!(w.end, datetime!(2026-12-29 00:00 UTC));
        let w = window(
            &rules(Some(1), None, Some("3h")),
            datetime!(2026-11-28 18:30 UTC),
        );
        assert_eq!(
            (w.start, w.end),
            (
                datetime!(2026-11-29 00:00 UTC),
                datetime!(2026-11-29 03:00 UTC)
            )
        );
    }

    #[test]
    fn rate_in_days_matches_automatically_after_days() {
        let last = datetime!(2026-02-27 23:59 UTC);
        assert_eq!(
            window(&rules(None, Some("rate(10 days)"), None), last),
            window(&rules(Some(10), None, None), last)
        );
        assert_eq!(
            window(&rules(None, Some("rate(1 day)"), None), last).start,
            datetime!(2026-02-28 00:00 UTC)
        );
    }

    #[test]
    fn rate_in_hours_opens_n_hours_later_for_an_hour_by_default() {
        let last = datetime!(2026-11-28 22:15 UTC);
        let w = window(&rules(None, Some("rate(4 hours)"), None), last);
        assert_eq!(
            (w.start, w.end),
            (
                datetime!(2026-11-29 02:15 UTC),
                datetime!(2026-11-29 03:15 UTC)
            )
        );
        let w = window(&rules(None, Some("rate(6 hours)"), Some("2h")), last);
        assert_eq!(w.end - w.start, time::Duration::hours(2));
    }

    #[test]
    fn a_secret_never_rotated_counts_from_now() {
        let now = datetime!(2026-11-28 10:00 UTC);
        let w = next_rotation(&rules(Some(2), None, None), None, now).expect("valid");
        assert_eq!(w.start, datetime!(2026-11-30 00:00 UTC));
    }

    #[test]
    fn cron_finds_the_next_matching_minute() {
        let last = datetime!(2026-11-28 18:30 UTC);
        // 16:00 on the 1st and 15th of every month.
        let w = window(&rules(None, Some("cron(0 16 1,15 * ? *)"), None), last);
        assert_eq!(
            (w.start, w.end),
            (
                datetime!(2026-12-01 16:00 UTC),
                datetime!(2026-12-02 00:00 UTC)
            )
        );
        // Every day at 20:00: later the same day.
        let w = window(&rules(None, Some("cron(0 20 * * ? *)"), Some("2h")), last);
        assert_eq!(
            (w.start, w.end),
            (
                datetime!(2026-11-28 20:00 UTC),
                datetime!(2026-11-28 22:00 UTC)
            )
        );
        // Mondays to Fridays at 08:30 (28 Nov 2026 is a Saturday).
        let w = window(&rules(None, Some("cron(30 8 ? * MON-FRI *)"), None), last);
        assert_eq!(w.start, datetime!(2026-11-30 08:30 UTC));
        // Every 4 hours from midnight.
        let w = window(&rules(None, Some("cron(0 */4 * * ? *)"), Some("1h")), last);
        assert_eq!(w.start, datetime!(2026-11-28 20:00 UTC));
        // Last day of the month; first Sunday; last Friday; only in 2027.
        let w = window(&rules(None, Some("cron(0 0 L * ? *)"), None), last);
        assert_eq!(w.start, datetime!(2026-11-30 00:00 UTC));
        let w = window(&rules(None, Some("cron(0 1 ? * 1#1 *)"), None), last);
        assert_eq!(w.start, datetime!(2026-12-06 01:00 UTC));
        let w = window(&rules(None, Some("cron(0 1 ? * 6L *)"), None), last);
        assert_eq!(w.start, datetime!(2026-12-25 01:00 UTC));
        let w = window(&rules(None, Some("cron(0 1 1 JAN ? 2027)"), None), last);
        assert_eq!(w.start, datetime!(2027-01-01 01:00 UTC));
    }

    #[test]
    fn bad_rules_are_refused() {
        let bad = [
            rules(None, None, None),
            rules(Some(0), None, None),
            rules(Some(1001), None, None),
            rules(Some(5), Some("rate(5 days)"), None),
            rules(None, Some("rate(3 hours)"), None),
            rules(None, Some("rate(24 hours)"), None),
            rules(None, Some("rate(0 days)"), None),
            rules(None, Some("rate(2 day)"), None),
            rules(None, Some("rate(5 minutes)"), None),
            rules(None, Some("cron(0 16 * * *)"), None),
            rules(None, Some("cron(0 16 * * * *)"), None),
            rules(None, Some("cron(0 16 ? * ? *)"), None),
            rules(None, Some("cron(60 16 * * ? *)"), None),
            rules(None, Some("cron(0 24 * * ? *)"), None),
            rules(None, Some("cron(0 16 5-1 * ? *)"), None),
            rules(None, Some("cron(0 16 ? * 8 *)"), None),
            rules(None, Some("cron(0 16 ? * 2#6 *)"), None),
            rules(None, Some("every day"), None),
            rules(Some(1), None, Some("0h")),
            rules(Some(1), None, Some("25h")),
            rules(Some(1), None, Some("3")),
            rules(None, Some("rate(4 hours)"), Some("5h")),
            rules(None, Some("cron(0 22 * * ? *)"), Some("3h")),
        ];
        for r in bad {
            assert!(r.validate().is_err(), "{r:?} should be refused");
        }
        assert!(
            rules(None, Some("cron(0 21 * * ? *)"), Some("3h"))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn a_cron_that_never_matches_again_is_an_error() {
        let r = rules(None, Some("cron(0 0 1 1 ? 2020)"), None);
        assert!(next_rotation(&r, None, datetime!(2026-01-01 00:00 UTC)).is_err());
    }
}

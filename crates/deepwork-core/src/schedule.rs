//! Local clock times, and turning "for 90m / until 11:30 / check in at 11:00" into
//! instants, DST-correct in the user's time zone.

use crate::config::Length;
use crate::session::MAX_SESSION;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A local time of day, written `"HH:MM"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct ClockTime(pub Time);

impl ClockTime {
    /// The instant this time of day falls at on `date` in `tz`. A time skipped by a DST
    /// change moves forward by the gap, as people expect of an alarm clock.
    pub fn on(self, date: Date, tz: &TimeZone) -> Timestamp {
        let civil = date.to_datetime(self.0);
        tz.to_ambiguous_timestamp(civil)
            .compatible()
            .unwrap_or_else(|_| {
                civil
                    .to_zoned(TimeZone::UTC)
                    .map_or(Timestamp::MAX, |z| z.timestamp())
            })
    }
}

impl FromStr for ClockTime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a time of day; write it like \"09:30\" or \"14:00\"");
        let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
        let hours: i8 = hours.parse().map_err(|_| bad())?;
        if minutes.len() != 2 {
            return Err(bad());
        }
        let minutes: i8 = minutes.parse().map_err(|_| bad())?;
        Time::new(hours, minutes, 0, 0)
            .map(ClockTime)
            .map_err(|_| bad())
    }
}

text_serde!(ClockTime);

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

/// How a session's end is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SessionEnd {
    /// A length from now.
    For(Length),
    /// A local time of day (the next one to come).
    Until(ClockTime),
}

/// What the user asked for when starting or extending a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionPlan {
    /// The end; the configured default length when absent.
    pub end: Option<SessionEnd>,
    /// An explicit check-in; the configured slots apply when absent.
    pub check_in: Option<ClockTime>,
}

/// A plan turned into instants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPlan {
    /// When the session ends.
    pub until: Timestamp,
    /// Every check-in, sorted, the last one at `until`.
    pub check_ins: Vec<Timestamp>,
}

/// Why a plan cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The session would be too long.
    #[error("a session can last at most 12h; this one would last {length:#}")]
    TooLong {
        /// The length asked for.
        length: SignedDuration,
    },
    /// The explicit check-in time has passed.
    #[error("check-in {at} is in the past")]
    CheckInInPast {
        /// The time given.
        at: ClockTime,
    },
    /// The explicit check-in falls after the session's end.
    #[error("check-in {at} is after the session ends ({end})")]
    CheckInAfterEnd {
        /// The time given.
        at: ClockTime,
        /// The session's end, local time.
        end: ClockTime,
    },
}

fn clock_of(at: Timestamp, tz: &TimeZone) -> ClockTime {
    let time = at.to_zoned(tz.clone()).time();
    ClockTime(Time::constant(time.hour(), time.minute(), 0, 0))
}

fn today(now: Timestamp, tz: &TimeZone) -> Date {
    now.to_zoned(tz.clone()).date()
}

/// The next instant after `now` at which the local clock reads `time`.
pub fn next_occurrence(now: Timestamp, tz: &TimeZone, time: ClockTime) -> Timestamp {
    let date = today(now, tz);
    let at = time.on(date, tz);
    if at > now {
        return at;
    }
    date.checked_add(1.day())
        .map_or(Timestamp::MAX, |tomorrow| time.on(tomorrow, tz))
}

/// Resolves a session plan starting `now`. `since` is the session's start when
/// extending (the 12h limit counts from there), else `now`.
pub fn resolve_plan(
    now: Timestamp,
    since: Timestamp,
    tz: &TimeZone,
    plan: &SessionPlan,
    default_length: Length,
    slots: &[ClockTime],
) -> Result<ResolvedPlan, PlanError> {
    let until = match plan.end {
        None => now
            .saturating_add(default_length.0)
            .unwrap_or(Timestamp::MAX),
        Some(SessionEnd::For(length)) => now.saturating_add(length.0).unwrap_or(Timestamp::MAX),
        Some(SessionEnd::Until(time)) => next_occurrence(now, tz, time),
    };
    let length = until.duration_since(since);
    if length > MAX_SESSION {
        return Err(PlanError::TooLong { length });
    }
    let mut check_ins = match plan.check_in {
        Some(at) => vec![explicit_check_in(now, until, tz, at)?],
        None => slot_check_ins(now, until, tz, slots),
    };
    check_ins.push(until);
    Ok(ResolvedPlan { until, check_ins })
}

fn explicit_check_in(
    now: Timestamp,
    until: Timestamp,
    tz: &TimeZone,
    at: ClockTime,
) -> Result<Timestamp, PlanError> {
    let date = today(now, tz);
    let on_today = at.on(date, tz);
    let candidate = if on_today > now {
        on_today
    } else {
        let tomorrow = date
            .checked_add(1.day())
            .map_or(Timestamp::MAX, |d| at.on(d, tz));
        if tomorrow > until {
            return Err(PlanError::CheckInInPast { at });
        }
        tomorrow
    };
    if candidate > until {
        return Err(PlanError::CheckInAfterEnd {
            at,
            end: clock_of(until, tz),
        });
    }
    Ok(candidate)
}

/// The configured slots falling strictly inside (`now`, `until`), sorted.
pub fn slot_check_ins(
    now: Timestamp,
    until: Timestamp,
    tz: &TimeZone,
    slots: &[ClockTime],
) -> Vec<Timestamp> {
    let mut found = Vec::new();
    let last = today(until, tz);
    let mut date = today(now, tz);
    while date <= last {
        for slot in slots {
            let at = slot.on(date, tz);
            if at > now && at < until {
                found.push(at);
            }
        }
        match date.checked_add(1.day()) {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("tzdb has Europe/Berlin")
    }

    fn at(text: &str) -> Timestamp {
        let zoned: jiff::Zoned = format!("{text}[Europe/Berlin]")
            .parse()
            .expect("test time parses");
        zoned.timestamp()
    }

    fn clock(text: &str) -> ClockTime {
        text.parse().expect("test clock time parses")
    }

    fn plan(end: Option<SessionEnd>, check_in: Option<&str>) -> SessionPlan {
        SessionPlan {
            end,
            check_in: check_in.map(clock),
        }
    }

    fn length(text: &str) -> Length {
        text.parse().expect("test length parses")
    }

    #[test]
    fn clock_times_parse_strictly() {
        assert_eq!(clock("9:05").to_string(), "09:05");
        for bad in ["25:00", "11:60", "11", "11:5", "noon", ""] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn for_ends_after_the_length_and_slots_fall_inside() {
        let slots = [clock("10:00"), clock("11:00"), clock("14:00")];
        let plan = plan(Some(SessionEnd::For(length("2h"))), None);
        let resolved = resolve_plan(
            at("2026-11-25T09:00"),
            at("2026-11-25T09:00"),
            &tz(),
            &plan,
            length("50m"),
            &slots,
        )
        .expect("valid plan");
        assert_eq!(resolved.until, at("2026-11-25T11:00"));
        assert_eq!(
            resolved.check_ins,
            vec![at("2026-11-25T10:00"), at("2026-11-25T11:00")]
        );
    }

    #[test]
    fn until_a_passed_time_means_tomorrow() {
        let plan = plan(Some(SessionEnd::Until(clock("01:00"))), None);
        let resolved = resolve_plan(
            at("2026-11-25T23:00"),
            at("2026-11-25T23:00"),
            &tz(),
            &plan,
            length("50m"),
            &[],
        )
        .expect("valid plan");
        assert_eq!(resolved.until, at("2026-11-26T01:00"));
    }

    #[test]
    fn too_long_and_misplaced_check_ins_are_refused() {
        let now = at("2026-11-25T09:00");
        let err = resolve_plan(
            now,
            now,
            &tz(),
            &plan(Some(SessionEnd::For(length("13h"))), None),
            length("50m"),
            &[],
        );
        assert!(matches!(err, Err(PlanError::TooLong { .. })), "{err:?}");
        let err = resolve_plan(
            now,
            now,
            &tz(),
            &plan(Some(SessionEnd::For(length("1h"))), Some("08:00")),
            length("50m"),
            &[],
        );
        assert_eq!(err, Err(PlanError::CheckInInPast { at: clock("08:00") }));
        let err = resolve_plan(
            now,
            now,
            &tz(),
            &plan(Some(SessionEnd::For(length("1h"))), Some("11:00")),
            length("50m"),
            &[],
        );
        assert_eq!(
            err,
            Err(PlanError::CheckInAfterEnd {
                at: clock("11:00"),
                end: clock("10:00")
            })
        );
    }

    #[test]
    fn an_explicit_check_in_replaces_the_slots() {
        let now = at("2026-11-25T09:00");
        let resolved = resolve_plan(
            now,
            now,
            &tz(),
            &plan(Some(SessionEnd::For(length("3h"))), Some("09:30")),
            length("50m"),
            &[clock("10:00")],
        )
        .expect("valid plan");
        assert_eq!(
            resolved.check_ins,
            vec![at("2026-11-25T09:30"), at("2026-11-25T12:00")]
        );
    }

    #[test]
    fn slots_are_dst_correct() {
        // 2026-03-29: Berlin skips 02:00-03:00. A 02:30 slot falls at 03:30 local (01:30 UTC).
        let now = at("2026-03-29T00:00");
        let slots = slot_check_ins(
            now,
            now + SignedDuration::from_hours(6),
            &tz(),
            &[clock("02:30"), clock("04:00")],
        );
        let utc: Vec<String> = slots.iter().map(ToString::to_string).collect();
        assert_eq!(utc, vec!["2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z"]);
    }

    #[test]
    fn extending_counts_the_limit_from_the_start() {
        let start = at("2026-11-25T08:00");
        let now = at("2026-11-25T17:00");
        let err = resolve_plan(
            now,
            start,
            &tz(),
            &plan(Some(SessionEnd::For(length("4h"))), None),
            length("50m"),
            &[],
        );
        assert!(matches!(err, Err(PlanError::TooLong { .. })), "{err:?}");
    }
}

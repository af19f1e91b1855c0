//! Work hours, and reply-by counted in working time: a blocker held at 20:41 on a
//! Saturday is owed by Monday 13:00, not by Sunday 00:41.
//!
//! Pure: the days, spans and time zone come in, instants go out. With no work hours
//! configured every moment is working time and reply-by is arrival plus the window.

use crate::config::{Length, ResponseWindows};
use crate::item::Class;
use crate::schedule::ClockTime;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

mod blocks;
pub mod calendar;

pub use blocks::{FocusBlock, Occurrence, Planned, Planner};

/// The `[plans]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlansConfig {
    /// When you work, e.g. `["mon-fri 09:00-17:30"]`; none means every hour counts.
    pub work_hours: Vec<WorkSpan>,
    /// Days off and holidays, e.g. `["2026-12-24", "2026-12-25"]`.
    pub days_off: Vec<Date>,
    /// Outside work hours, hold what arrives for the next working morning (emergencies
    /// still break through). Only with `work_hours`.
    pub hold_after_hours: bool,
    /// Recurring focus blocks: sessions that start and end by themselves.
    pub blocks: Vec<FocusBlock>,
    /// Calendars to follow: focus events become sessions, meetings end them.
    pub calendars: Vec<CalendarConfig>,
    /// Calendar events whose title or a category matches this (case-insensitive
    /// regular expression) are focus time.
    pub focus_match: FocusMatch,
    /// How long before a meeting a running session checks in (the meeting ends it).
    pub before_meeting: Length,
    /// The chat status outside work hours, while what arrives is held (`{check_in}`:
    /// the next working start); empty leaves the status alone.
    pub after_hours_status: String,
}

/// A calendar to follow, one `[[plans.calendars]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// An ICS feed (`https://…/basic.ics`; `webcal://` is read as `https://`) or a
    /// CalDAV calendar collection.
    pub url: CalendarUrl,
    /// `true` for a CalDAV collection.
    #[serde(default)]
    pub caldav: bool,
    /// The sign-in name, when the server asks for one; the password is kept in the
    /// keyring (`deepwork plan password URL`).
    #[serde(default)]
    pub user: Option<String>,
}

/// An `http(s)://` or `webcal(s)://` address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CalendarUrl(String);

impl CalendarUrl {
    /// The address to fetch: `webcal://` becomes `https://`.
    pub fn to_fetch(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("webcal")
                    || scheme.eq_ignore_ascii_case("webcals") =>
            {
                format!("https://{rest}")
            }
            _ => self.0.clone(),
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a password sent to it stays private: https (webcals), or plain http to
    /// this computer.
    pub fn is_private_transport(&self) -> bool {
        crate::config::is_private_transport(&self.0)
    }
}

impl FromStr for CalendarUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http" | "https" | "webcal" | "webcals")
                if text.len() > text.find("://").unwrap_or(0) + 3 =>
            {
                Ok(CalendarUrl(text.to_owned()))
            }
            _ => Err(format!(
                "{text:?} is not a calendar address; write it like \"https://example.com/calendar.ics\""
            )),
        }
    }
}

text_serde!(CalendarUrl);

impl fmt::Display for CalendarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A case-insensitive regular expression, kept with its text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FocusMatch {
    text: String,
    regex: Regex,
}

impl FocusMatch {
    /// The compiled expression.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

impl Default for FocusMatch {
    fn default() -> Self {
        FocusMatch::from_str("Focus|Deep work").unwrap_or_else(|_| unreachable!("a valid default"))
    }
}

impl PartialEq for FocusMatch {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for FocusMatch {}

impl FromStr for FocusMatch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let regex = RegexBuilder::new(text)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("{text:?} is not a regular expression: {e}"))?;
        Ok(FocusMatch {
            text: text.to_owned(),
            regex,
        })
    }
}

text_serde!(FocusMatch);

impl fmt::Display for FocusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Default for PlansConfig {
    fn default() -> Self {
        PlansConfig {
            work_hours: Vec::new(),
            days_off: Vec::new(),
            hold_after_hours: true,
            blocks: Vec::new(),
            calendars: Vec::new(),
            focus_match: FocusMatch::default(),
            before_meeting: Length(SignedDuration::from_mins(5)),
            after_hours_status: String::new(),
        }
    }
}

/// A set of weekdays, written `"mon-fri"`, `"sat,sun"` or `"mon,wed,fri"`; a range may
/// wrap around the week (`"fri-mon"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct Days(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| name.starts_with(d) && d.len() <= name.len())
        .map(|i| i as u8)
}

impl Days {
    /// Every day of the week.
    pub const ALL: Days = Days(0b111_1111);

    /// Whether `day` is one of them.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }
}

impl FromStr for Days {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{text:?} is not a list of weekdays; write it like \"mon-fri\" or \"mon,wed,fri\""
            )
        };
        let mut days = 0u8;
        for part in text.split(',') {
            match part.split_once('-') {
                Some((first, last)) => {
                    let (first, last) = (
                        day_index(first).ok_or_else(bad)?,
                        day_index(last).ok_or_else(bad)?,
                    );
                    let mut day = first;
                    loop {
                        days |= 1 << day;
                        if day == last {
                            break;
                        }
                        day = (day + 1) % 7;
                    }
                }
                None => days |= 1 << day_index(part).ok_or_else(bad)?,
            }
        }
        Ok(Days(days))
    }
}

text_serde!(Days);

/// "mon-fri", "sat,sun", "mon,wed-fri": runs of three or more days as ranges.
impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut day = 0;
        while day < 7 {
            if self.0 & (1 << day) == 0 {
                day += 1;
                continue;
            }
            let first = day;
            while day + 1 < 7 && self.0 & (1 << (day + 1)) != 0 {
                day += 1;
            }
            match day - first {
                0 => parts.push(DAY_NAMES[first].to_owned()),
                1 => parts.push(format!("{},{}", DAY_NAMES[first], DAY_NAMES[day])),
                _ => parts.push(format!("{}-{}", DAY_NAMES[first], DAY_NAMES[day])),
            }
            day += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// Some weekdays and one span of each, written `"mon-fri 09:00-17:30"`,
/// `"sat 10:00-12:00"` or `"mon,wed,fri 08:00-12:00"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct WorkSpan {
    /// The days it applies on.
    pub days: Days,
    /// Start.
    pub from: ClockTime,
    /// End, later than `from` on the same day.
    pub until: ClockTime,
}

impl WorkSpan {
    /// Whether it applies on `day`.
    pub fn on(&self, day: Weekday) -> bool {
        self.days.contains(day)
    }
}

impl FromStr for WorkSpan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{text:?} is not work hours; write them like \"mon-fri 09:00-17:30\" or \"sat 10:00-12:00\""
            )
        };
        let (days_text, span) = text.trim().split_once(' ').ok_or_else(bad)?;
        let days: Days = days_text.parse().map_err(|_| bad())?;
        let (from, until) = span.trim().split_once('-').ok_or_else(bad)?;
        let (from, until): (ClockTime, ClockTime) = (from.parse()?, until.parse()?);
        if until <= from {
            return Err(format!(
                "{text:?}: the span must end after it starts on the same day (split a night shift in two)"
            ));
        }
        Ok(WorkSpan { days, from, until })
    }
}

text_serde!(WorkSpan);

impl fmt::Display for WorkSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-{}", self.days, self.from, self.until)
    }
}

/// Work hours in a time zone: when reply-by clocks run.
#[derive(Clone, Debug)]
pub struct WorkHours<'a> {
    plans: &'a PlansConfig,
    tz: &'a TimeZone,
}

/// Searches for working time stop after this many days: a config whose every day is
/// off has no working time, and reply-by falls back to the plain window.
const SEARCH_DAYS: i32 = 400;

impl<'a> WorkHours<'a> {
    /// The hours `plans` names, in `tz`.
    pub fn new(plans: &'a PlansConfig, tz: &'a TimeZone) -> Self {
        WorkHours { plans, tz }
    }

    /// Whether every hour counts (no work hours configured).
    pub fn always(&self) -> bool {
        self.plans.work_hours.is_empty()
    }

    /// The working spans of `date`, in order, as instants (none on a day off).
    pub fn spans(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        if self.plans.days_off.contains(&date) {
            return Vec::new();
        }
        let mut spans: Vec<(Timestamp, Timestamp)> = self
            .plans
            .work_hours
            .iter()
            .filter(|span| span.on(date.weekday()))
            .map(|span| (span.from.on(date, self.tz), span.until.on(date, self.tz)))
            .collect();
        spans.sort();
        // Overlapping spans ("mon-fri 09:00-17:00" and "mon 08:00-10:00") count once.
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
        for (from, until) in spans {
            match merged.last_mut() {
                Some((_, end)) if from <= *end => *end = (*end).max(until),
                _ => merged.push((from, until)),
            }
        }
        merged
    }

    pub(crate) fn date_of(&self, at: Timestamp) -> Date {
        at.to_zoned(self.tz.clone()).date()
    }

    /// Whether `at` falls in working time.
    pub fn is_working(&self, at: Timestamp) -> bool {
        self.always()
            || self
                .spans(self.date_of(at))
                .iter()
                .any(|(from, until)| *from <= at && at < *until)
    }

    /// The instant `length` of working time after `from`; `None` when no working time
    /// is found within a year.
    pub fn add_working(&self, from: Timestamp, length: SignedDuration) -> Option<Timestamp> {
        if self.always() {
            return from.checked_add(length).ok();
        }
        let mut left = length;
        let mut date = self.date_of(from);
        for _ in 0..SEARCH_DAYS {
            for (start, end) in self.spans(date) {
                let start = start.max(from);
                if start >= end {
                    continue;
                }
                let here = end.duration_since(start);
                if here >= left {
                    return start.checked_add(left).ok();
                }
                left -= here;
            }
            date = date.checked_add(1.day()).ok()?;
        }
        None
    }

    /// The first start of working time after `after`; `None` without work hours or
    /// when none falls within a year.
    pub fn next_start(&self, after: Timestamp) -> Option<Timestamp> {
        self.next_boundary(after, |(from, _)| [Some(from), None])
    }

    /// The first start or end of working time after `after`.
    pub fn next_change(&self, after: Timestamp) -> Option<Timestamp> {
        self.next_boundary(after, |(from, until)| [Some(from), Some(until)])
    }

    /// The earliest of `pick`'s instants after `after`, day by day.
    fn next_boundary(
        &self,
        after: Timestamp,
        pick: impl Fn((Timestamp, Timestamp)) -> [Option<Timestamp>; 2],
    ) -> Option<Timestamp> {
        if self.always() {
            return None;
        }
        let mut date = self.date_of(after);
        for _ in 0..SEARCH_DAYS {
            if let Some(at) = self
                .spans(date)
                .into_iter()
                .flat_map(&pick)
                .flatten()
                .filter(|at| *at > after)
                .min()
            {
                return Some(at);
            }
            date = date.checked_add(1.day()).ok()?;
        }
        None
    }

    /// The end of the `n`th working day after the day of `from` (n = 1: the next one).
    pub fn end_of_working_day(&self, from: Timestamp, n: u32) -> Option<Timestamp> {
        let mut date = self.date_of(from);
        let mut found = 0;
        for _ in 0..SEARCH_DAYS {
            date = date.checked_add(1.day()).ok()?;
            if let Some((_, end)) = self.spans(date).last() {
                found += 1;
                if found == n {
                    return Some(*end);
                }
            }
        }
        None
    }
}

/// When an item of `class` that arrived at `received` should be answered by. An
/// emergency's window runs on the wall clock. With work hours, a window under a day is
/// counted in working time (a blocker's 4 hours), and one of a day or more gives that
/// many working days, to the end of the last (an update: the next working day).
pub fn reply_by(
    received: Timestamp,
    class: Class,
    windows: &ResponseWindows,
    hours: &WorkHours<'_>,
) -> Timestamp {
    let window = windows.for_class(class);
    let plain = received.checked_add(window).unwrap_or(Timestamp::MAX);
    if class == Class::Emergency || hours.always() {
        return plain;
    }
    let day = SignedDuration::from_hours(24);
    let counted = if window < day {
        hours.add_working(received, window)
    } else {
        let days = window
            .as_secs()
            .unsigned_abs()
            .div_ceil(day.as_secs().unsigned_abs());
        hours.end_of_working_day(received, u32::try_from(days).unwrap_or(u32::MAX))
    };
    counted.unwrap_or(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn office() -> PlansConfig {
        PlansConfig {
            work_hours: vec!["mon-fri 09:00-17:30".parse().unwrap()],
            days_off: vec!["2026-12-24".parse().unwrap()],
            ..PlansConfig::default()
        }
    }

    fn local(text: &str) -> Timestamp {
        text.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(berlin())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn a_password_goes_only_over_https_or_to_this_computer() {
        let private = |url: &str| url.parse::<CalendarUrl>().unwrap().is_private_transport();
        assert!(private("https://dav.example.com/ana/work/"));
        assert!(private("webcal://example.com/team.ics"));
        assert!(private("http://127.0.0.1:5232/ana/work/"));
        assert!(private("http://localhost/cal.ics"));
        assert!(private("http://[::1]:8080/cal.ics"));
        assert!(!private("http://dav.example.com/ana/work/"));
        assert!(!private("http://127.0.0.1.example.org/cal.ics"));
        let refused = crate::config::Config::from_toml_str(
            "[[plans.calendars]]\nurl = \"http://dav.example.com/\"\nuser = \"ana\"\n",
        )
        .unwrap_err();
        assert_eq!(refused.key.as_deref(), Some("plans.calendars[0].url"));
        assert!(refused.message.contains("unencrypted"), "{refused}");
    }

    #[test]
    fn work_hours_read_the_way_people_write_them() {
        let span: WorkSpan = "mon-fri 09:00-17:30".parse().unwrap();
        assert_eq!(span.to_string(), "mon-fri 09:00-17:30");
        assert!(span.on(Weekday::Friday) && !span.on(Weekday::Saturday));
        let wrapped: WorkSpan = "fri-mon 10:00-12:00".parse().unwrap();
        assert!(wrapped.on(Weekday::Sunday) && !wrapped.on(Weekday::Wednesday));
        let listed: WorkSpan = "Mon,Wed,Friday 08:00-12:00".parse().unwrap();
        assert_eq!(listed.to_string(), "mon,wed,fri 08:00-12:00");
        let week: Days = "sat,sun,mon-thu".parse().unwrap();
        assert_eq!(week.to_string(), "mon-thu,sat,sun");
        assert_eq!(Days::ALL.to_string(), "mon-sun");
        assert!(
            "weekdays 09:00-17:00"
                .parse::<WorkSpan>()
                .unwrap_err()
                .contains("mon-fri")
        );
        assert!(
            "mon 17:00-09:00"
                .parse::<WorkSpan>()
                .unwrap_err()
                .contains("night shift")
        );
        assert!("mon 9-17".parse::<WorkSpan>().is_err());
    }

    #[test]
    fn a_blocker_held_on_saturday_evening_is_owed_on_monday() {
        let plans = office();
        let tz = berlin();
        let hours = WorkHours::new(&plans, &tz);
        let windows = ResponseWindows::default();
        let by = |at: &str, class| reply_by(local(at), class, &windows, &hours);
        // Saturday 20:41: four working hours from Monday 09:00.
        assert_eq!(
            by("2026-11-28T20:41", Class::Blocker),
            local("2026-11-30T13:00")
        );
        // Friday 16:00: 1.5 h on Friday, the rest on Monday.
        assert_eq!(
            by("2026-11-27T16:00", Class::Blocker),
            local("2026-11-30T11:30")
        );
        // An update on Friday: the next working day, to its end.
        assert_eq!(
            by("2026-11-27T10:00", Class::Update),
            local("2026-11-30T17:30")
        );
        // Strategic input: two working days; Christmas Eve is off.
        assert_eq!(
            by("2026-12-22T10:00", Class::Strategic),
            local("2026-12-25T17:30")
        );
        // Emergencies keep their 15 minutes on the wall clock.
        assert_eq!(
            by("2026-11-28T20:41", Class::Emergency),
            local("2026-11-28T20:56")
        );
        let none = PlansConfig::default();
        let always = WorkHours::new(&none, &tz);
        assert_eq!(
            reply_by(local("2026-11-28T20:41"), Class::Blocker, &windows, &always),
            local("2026-11-29T00:41"),
            "without work hours, the plain window"
        );
    }

    #[test]
    fn working_time_follows_the_local_clock_across_a_dst_change() {
        let plans = PlansConfig {
            work_hours: vec!["mon-sun 09:00-17:00".parse().unwrap()],
            days_off: Vec::new(),
            ..PlansConfig::default()
        };
        let tz = berlin();
        let hours = WorkHours::new(&plans, &tz);
        // 2027-03-28 is the last Sunday of March: clocks go forward overnight.
        let at = hours
            .add_working(local("2027-03-27T15:00"), SignedDuration::from_hours(4))
            .unwrap();
        assert_eq!(at, local("2027-03-28T11:00"));
    }

    #[test]
    fn a_year_with_no_working_day_falls_back_to_the_plain_window() {
        let plans = PlansConfig {
            work_hours: vec!["mon 09:00-10:00".parse().unwrap()],
            days_off: Vec::new(),
            ..PlansConfig::default()
        };
        let mut all_off = plans.clone();
        let mut day: Date = "2026-11-01".parse().unwrap();
        for _ in 0..500 {
            all_off.days_off.push(day);
            day = day.tomorrow().unwrap();
        }
        let tz = berlin();
        let hours = WorkHours::new(&all_off, &tz);
        let windows = ResponseWindows::default();
        let at = local("2026-11-28T20:41");
        assert_eq!(
            reply_by(at, Class::Blocker, &windows, &hours),
            local("2026-11-29T00:41")
        );
    }

    fn plans_strategy() -> impl Strategy<Value = PlansConfig> {
        let span = (1u8..128, 0i8..23, 1i8..4).prop_map(|(days, start, length)| {
            let end = (start + length).min(23);
            format!(
                "{} {start:02}:00-{end:02}:30",
                (0..7)
                    .filter(|i| days & (1 << i) != 0)
                    .map(|i| DAY_NAMES[i])
                    .collect::<Vec<_>>()
                    .join(",")
            )
            .parse::<WorkSpan>()
            .unwrap()
        });
        (
            proptest::collection::vec(span, 1..4),
            proptest::collection::vec(0i32..60, 0..5),
        )
            .prop_map(|(work_hours, offsets)| PlansConfig {
                work_hours,
                days_off: offsets
                    .into_iter()
                    .map(|o| Date::constant(2026, 11, 1).checked_add(o.days()).unwrap())
                    .collect(),
                ..PlansConfig::default()
            })
    }

    proptest! {
        /// A reply-by counted in working time never falls inside off hours (it ends a
        /// working span or lies within one), and a later arrival is never owed earlier.
        #[test]
        fn reply_by_is_never_inside_off_hours_and_monotone(
            plans in plans_strategy(),
            minutes in 0i64..(60 * 24 * 40),
            later in 0i64..(60 * 24 * 3),
            class in prop_oneof![Just(Class::Blocker), Just(Class::Update), Just(Class::Strategic), Just(Class::PrePing)],
        ) {
            let tz = berlin();
            let hours = WorkHours::new(&plans, &tz);
            let windows = ResponseWindows::default();
            let first = local("2026-11-01T00:00") + SignedDuration::from_mins(minutes);
            let second = first + SignedDuration::from_mins(later);
            let (a, b) = (reply_by(first, class, &windows, &hours), reply_by(second, class, &windows, &hours));
            let just_before = a - SignedDuration::from_secs(1);
            prop_assert!(hours.is_working(a) || hours.is_working(just_before), "{a} for {first}");
            prop_assert!(a >= first);
            prop_assert!(b >= a, "arrival {first} → {a}, later {second} → {b}");
        }
    }
}

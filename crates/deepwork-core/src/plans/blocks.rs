//! Recurring focus blocks, and what the plans want at a given moment: a focus session,
//! an after-hours hold, or nothing.

use super::calendar::CalendarEvent;
use super::{Days, PlansConfig, SEARCH_DAYS, WorkHours};
use crate::schedule::ClockTime;
use crate::session::MAX_SESSION;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// A recurring focus block, one `[[plans.blocks]]` entry:
/// `days = "mon-fri"`, `from = "09:00"`, `until = "11:30"`, `check_ins = ["10:30"]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BlockFields", into = "BlockFields")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FocusBlock {
    /// The days it recurs on.
    pub days: Days,
    /// When its session starts.
    pub from: ClockTime,
    /// When its session ends, later the same day.
    pub until: ClockTime,
    /// Check-ins inside it; the `[session] check_in_slots` apply when empty.
    pub check_ins: Vec<ClockTime>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockFields {
    days: Days,
    from: ClockTime,
    until: ClockTime,
    #[serde(default)]
    check_ins: Vec<ClockTime>,
}

impl TryFrom<BlockFields> for FocusBlock {
    type Error = String;

    fn try_from(fields: BlockFields) -> Result<Self, Self::Error> {
        let BlockFields {
            days,
            from,
            until,
            check_ins,
        } = fields;
        if until <= from {
            return Err(format!(
                "the focus block {from}-{until} must end after it starts on the same day"
            ));
        }
        let minutes = |at: ClockTime| i32::from(at.0.hour()) * 60 + i32::from(at.0.minute());
        if i64::from(minutes(until) - minutes(from)) * 60 > MAX_SESSION.as_secs() {
            return Err(format!(
                "the focus block {from}-{until} is longer than a session may last (12h)"
            ));
        }
        if let Some(at) = check_ins.iter().find(|at| **at <= from || **at >= until) {
            return Err(format!(
                "check-in {at} is outside the focus block {from}-{until}"
            ));
        }
        Ok(FocusBlock {
            days,
            from,
            until,
            check_ins,
        })
    }
}

impl From<FocusBlock> for BlockFields {
    fn from(block: FocusBlock) -> Self {
        BlockFields {
            days: block.days,
            from: block.from,
            until: block.until,
            check_ins: block.check_ins,
        }
    }
}

/// One stretch of planned focus: a day's instance of a block or a calendar focus event,
/// or the part of one left between meetings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// Names it across restarts (`"2026-11-30 09:00-11:30"`, and `"… from 10:30"` for
    /// the part after a meeting), so that one stopped or skipped does not start again.
    pub key: String,
    /// The whole block or event it is part of (skipping that skips every part).
    pub block: String,
    /// Its start.
    pub from: Timestamp,
    /// Its end.
    pub until: Timestamp,
    /// Its own check-in times; empty for the session's slots.
    pub check_ins: Vec<ClockTime>,
    /// A calendar event's title; `None` for a block of `[plans]`.
    pub title: Option<String>,
    /// The check-in before the meeting that ends it (`before_meeting` ahead).
    pub before_meeting: Option<Timestamp>,
}

/// What the plans want at a moment, when no session of the user's own is running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// Planned focus runs now and has not been run or skipped yet.
    Focus(Occurrence),
    /// Outside work hours: hold what arrives until `until`, the next working start.
    OffHours {
        /// When working time starts again.
        until: Timestamp,
    },
    /// Nothing: items are shown as they come.
    Open,
}

/// Busy calendar time: one meeting, or overlapping ones merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    /// When a session checks in for it (`before_meeting` before `from`).
    pub check_in: Timestamp,
    /// When the first of its meetings starts.
    pub from: Timestamp,
    /// When the last ends.
    pub until: Timestamp,
}

/// Work hours, focus blocks and calendar events in a time zone.
#[derive(Clone, Debug)]
pub struct Planner<'a> {
    plans: &'a PlansConfig,
    tz: &'a TimeZone,
    hours: WorkHours<'a>,
    /// Calendar focus events, by start.
    focus: Vec<&'a CalendarEvent>,
    /// Meetings, by start, overlapping ones merged (from their check-ins on).
    busy: Vec<Busy>,
    /// The pieces of the day asked about last.
    last_day: RefCell<Option<(Date, Rc<[Occurrence]>)>>,
}

impl<'a> Planner<'a> {
    /// The plans of `[plans]`, in `tz`.
    pub fn new(plans: &'a PlansConfig, tz: &'a TimeZone) -> Self {
        Planner {
            plans,
            tz,
            hours: WorkHours::new(plans, tz),
            focus: Vec::new(),
            busy: Vec::new(),
            last_day: RefCell::new(None),
        }
    }

    /// With the calendars' events: focus events plan sessions, other events are
    /// meetings, which no planned session overlaps.
    pub fn with_events(mut self, events: &'a [CalendarEvent]) -> Self {
        let before = self.plans.before_meeting.0;
        self.last_day = RefCell::new(None);
        self.focus = events.iter().filter(|e| e.focus).collect();
        self.focus.sort_by_key(|e| e.from);
        let mut meetings: Vec<Busy> = events
            .iter()
            .filter(|e| !e.focus && e.until > e.from)
            .map(|e| Busy {
                check_in: e.from.checked_sub(before).unwrap_or(e.from),
                from: e.from,
                until: e.until,
            })
            .collect();
        meetings.sort_by_key(|m| m.check_in);
        for meeting in meetings {
            match self.busy.last_mut() {
                Some(last) if meeting.check_in <= last.until => {
                    last.until = last.until.max(meeting.until);
                }
                _ => self.busy.push(meeting),
            }
        }
        self
    }

    /// The work hours.
    pub fn hours(&self) -> &WorkHours<'a> {
        &self.hours
    }

    /// The blocks of `date` (none on a day off), by start.
    pub fn blocks_on(&self, date: Date) -> Vec<Occurrence> {
        if self.plans.days_off.contains(&date) {
            return Vec::new();
        }
        let mut found: Vec<Occurrence> = self
            .plans
            .blocks
            .iter()
            .filter(|block| block.days.contains(date.weekday()))
            .map(|block| {
                let key = format!("{date} {}-{}", block.from, block.until);
                Occurrence {
                    block: key.clone(),
                    key,
                    from: block.from.on(date, self.tz),
                    until: block.until.on(date, self.tz),
                    check_ins: block.check_ins.clone(),
                    title: None,
                    before_meeting: None,
                }
            })
            .filter(|occurrence| occurrence.from < occurrence.until)
            .collect();
        found.sort_by_key(|occurrence| occurrence.from);
        found
    }

    /// The blocks and calendar focus events starting on `date`, by start.
    pub fn focus_on(&self, date: Date) -> Vec<Occurrence> {
        let (start, end) = self.day_bounds(date);
        let mut found = self.blocks_on(date);
        let first = self.focus.partition_point(|e| e.from < start);
        found.extend(
            self.focus[first..]
                .iter()
                .take_while(|e| e.from < end)
                .map(|e| {
                    let key = format!("calendar {} {}", e.uid, e.from);
                    Occurrence {
                        block: key.clone(),
                        key,
                        from: e.from,
                        until: e.until,
                        check_ins: Vec::new(),
                        title: Some(e.title.clone()),
                        before_meeting: None,
                    }
                }),
        );
        found.sort_by_key(|o| o.from);
        found
    }

    /// The meetings overlapping `date`.
    pub fn busy_on(&self, date: Date) -> &[Busy] {
        let (start, end) = self.day_bounds(date);
        let first = self.busy.partition_point(|b| b.until <= start);
        let last = self.busy.partition_point(|b| b.check_in < end);
        &self.busy[first..last.max(first)]
    }

    /// The first meeting whose check-in is after `after`, or that runs at `after`.
    pub fn busy_after(&self, after: Timestamp) -> Option<Busy> {
        let first = self.busy.partition_point(|b| b.until <= after);
        self.busy.get(first).copied()
    }

    fn day_bounds(&self, date: Date) -> (Timestamp, Timestamp) {
        let start = date
            .to_zoned(self.tz.clone())
            .map_or(Timestamp::MIN, |z| z.timestamp());
        let end = date
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(self.tz.clone()).ok())
            .map_or(Timestamp::MAX, |z| z.timestamp());
        (start, end)
    }

    /// The planned focus of `date` with meetings cut out: a piece ends when a meeting
    /// starts, with a check-in `before_meeting` ahead of it, and the next begins when
    /// the meeting ends. Less than `before_meeting` of focus before a meeting is none.
    pub fn pieces_on(&self, date: Date) -> Vec<Occurrence> {
        let mut pieces = Vec::new();
        for whole in self.focus_on(date) {
            let mut from = whole.from;
            let first = self.busy.partition_point(|b| b.until <= whole.from);
            for busy in self.busy[first..]
                .iter()
                .take_while(|b| b.check_in < whole.until)
            {
                if busy.check_in > from {
                    let mut piece = self.piece(&whole, from, busy.from.min(whole.until));
                    piece.before_meeting = Some(busy.check_in);
                    pieces.push(piece);
                }
                from = from.max(busy.until);
            }
            if from < whole.until {
                pieces.push(self.piece(&whole, from, whole.until));
            }
        }
        pieces
    }

    fn piece(&self, whole: &Occurrence, from: Timestamp, until: Timestamp) -> Occurrence {
        let key = if from == whole.from {
            whole.key.clone()
        } else {
            format!(
                "{} from {}",
                whole.key,
                from.to_zoned(self.tz.clone()).strftime("%H:%M")
            )
        };
        Occurrence {
            key,
            from,
            until,
            ..whole.clone()
        }
    }

    /// The first block or focus event starting after `after`, within a year.
    pub fn next_block(&self, after: Timestamp) -> Option<Occurrence> {
        if self.plans.blocks.is_empty() && self.focus.last().is_none_or(|e| e.from <= after) {
            return None;
        }
        let mut date = self.hours.date_of(after);
        for _ in 0..SEARCH_DAYS {
            if let Some(next) = self
                .focus_on(date)
                .into_iter()
                .find(|occurrence| occurrence.from > after)
            {
                return Some(next);
            }
            date = date.checked_add(1.day()).ok()?;
        }
        None
    }

    /// The pieces of `date`, computed once for the day asked last (the engine asks
    /// about the same day several times a tick).
    fn pieces_of_day(&self, date: Date) -> Rc<[Occurrence]> {
        if let Some((day, pieces)) = &*self.last_day.borrow()
            && *day == date
        {
            return pieces.clone();
        }
        let pieces: Rc<[Occurrence]> = self.pieces_on(date).into();
        *self.last_day.borrow_mut() = Some((date, pieces.clone()));
        pieces
    }

    /// The pieces of planned focus that may cover `at`: those of its day, and those of
    /// a calendar focus event from the day before that runs past midnight (blocks end
    /// on their own day).
    fn pieces_around(&self, at: Timestamp) -> (Rc<[Occurrence]>, Vec<Occurrence>) {
        let today = self.hours.date_of(at);
        let (start, _) = self.day_bounds(today);
        let runs_over = self.focus.iter().any(|e| {
            e.from < start && e.until > start && e.from > start - SignedDuration::from_hours(24)
        });
        let overrun = match (runs_over, today.yesterday()) {
            (true, Ok(yesterday)) => self
                .pieces_on(yesterday)
                .into_iter()
                .filter(|o| o.until > start)
                .collect(),
            _ => Vec::new(),
        };
        (self.pieces_of_day(today), overrun)
    }

    /// What the plans want at `now`; `taken` says whether a piece of planned focus
    /// already ran or was skipped.
    pub fn planned_at(&self, now: Timestamp, taken: impl Fn(&Occurrence) -> bool) -> Planned {
        let (today, overrun) = self.pieces_around(now);
        let running = overrun
            .iter()
            .chain(today.iter())
            .find(|o| o.from <= now && now < o.until && !taken(o))
            .cloned();
        if let Some(occurrence) = running {
            return Planned::Focus(occurrence);
        }
        if !self.plans.hold_after_hours || self.hours.is_working(now) {
            return Planned::Open;
        }
        match self.hours.next_start(now) {
            Some(until) => Planned::OffHours { until },
            None => Planned::Open,
        }
    }

    /// The next moment after `now` at which [`Planner::planned_at`] may change: planned
    /// focus starts or ends, or working time starts or ends.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let (today, overrun) = self.pieces_around(now);
        let mut focus = overrun
            .iter()
            .chain(today.iter())
            .flat_map(|o| [o.from, o.until])
            .filter(|at| *at > now)
            .min();
        if focus.is_none() {
            let mut date = self.hours.date_of(now).tomorrow().ok();
            for _ in 0..SEARCH_DAYS {
                let Some(day) = date else { break };
                if self.plans.blocks.is_empty() && self.focus.last().is_none_or(|e| e.until <= now)
                {
                    break;
                }
                if let Some(first) = self.pieces_of_day(day).first() {
                    focus = Some(first.from);
                    break;
                }
                date = day.tomorrow().ok();
            }
        }
        let hours = if self.plans.hold_after_hours {
            self.hours.next_change(now)
        } else {
            None
        };
        focus.into_iter().chain(hours).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;
    use proptest::prelude::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn local(text: &str) -> Timestamp {
        text.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(berlin())
            .unwrap()
            .timestamp()
    }

    fn plans(toml_text: &str) -> PlansConfig {
        toml::from_str(toml_text).unwrap()
    }

    fn office() -> PlansConfig {
        plans(
            r#"
            work_hours = ["mon-fri 09:00-17:30"]
            days_off = ["2026-12-24"]
            [[blocks]]
            days = "mon-fri"
            from = "09:00"
            until = "11:30"
            check_ins = ["10:15"]
            [[blocks]]
            days = "sat"
            from = "10:00"
            until = "12:00"
            "#,
        )
    }

    #[test]
    fn blocks_are_read_and_checked() {
        let office = office();
        assert_eq!(office.blocks.len(), 2);
        assert_eq!(office.blocks[0].check_ins[0].to_string(), "10:15");
        let backwards = toml::from_str::<PlansConfig>(
            "[[blocks]]\ndays = \"mon\"\nfrom = \"11:00\"\nuntil = \"09:00\"",
        )
        .unwrap_err()
        .to_string();
        assert!(
            backwards.contains("must end after it starts"),
            "{backwards}"
        );
        let outside = toml::from_str::<PlansConfig>(
            "[[blocks]]\ndays = \"mon\"\nfrom = \"09:00\"\nuntil = \"10:00\"\ncheck_ins = [\"12:00\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(outside.contains("check-in 12:00 is outside"), "{outside}");
        let long = toml::from_str::<PlansConfig>(
            "[[blocks]]\ndays = \"mon\"\nfrom = \"06:00\"\nuntil = \"19:00\"",
        )
        .unwrap_err()
        .to_string();
        assert!(long.contains("longer than a session"), "{long}");
        let unknown = toml::from_str::<PlansConfig>(
            "[[blocks]]\ndays = \"mon\"\nfrom = \"09:00\"\nuntil = \"10:00\"\nstart = \"x\"",
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("start"), "{unknown}");
        let text = toml::to_string(&office).unwrap();
        assert_eq!(toml::from_str::<PlansConfig>(&text).unwrap(), office);
    }

    #[test]
    fn a_block_runs_once_and_after_hours_are_held_until_morning() {
        let office = office();
        let tz = berlin();
        let planner = Planner::new(&office, &tz);
        let nothing_taken = |_: &Occurrence| false;
        // Monday 09:10, inside the block.
        let Planned::Focus(block) = planner.planned_at(local("2026-11-30T09:10"), nothing_taken)
        else {
            panic!("the Monday block runs at 09:10");
        };
        assert_eq!(block.key, "2026-11-30 09:00-11:30");
        assert_eq!(block.until, local("2026-11-30T11:30"));
        // Stopped or skipped: not again today.
        assert_eq!(
            planner.planned_at(local("2026-11-30T09:10"), |o| o.key == block.key),
            Planned::Open
        );
        // Friday 19:30: held until Monday 09:00.
        assert_eq!(
            planner.planned_at(local("2026-11-27T19:30"), nothing_taken),
            Planned::OffHours {
                until: local("2026-11-30T09:00")
            }
        );
        // Saturday's own block wins over the after-hours hold.
        assert!(matches!(
            planner.planned_at(local("2026-11-28T10:30"), nothing_taken),
            Planned::Focus(_)
        ));
        // Christmas Eve is off: no block, held until the 25th.
        assert_eq!(
            planner.planned_at(local("2026-12-24T09:30"), nothing_taken),
            Planned::OffHours {
                until: local("2026-12-25T09:00")
            }
        );
        let mut open = office.clone();
        open.hold_after_hours = false;
        assert_eq!(
            Planner::new(&open, &tz).planned_at(local("2026-11-27T19:30"), nothing_taken),
            Planned::Open
        );
        assert_eq!(
            Planner::new(&PlansConfig::default(), &tz)
                .planned_at(local("2026-11-27T19:30"), nothing_taken),
            Planned::Open,
            "without plans nothing changes"
        );
    }

    #[test]
    fn the_next_change_is_the_next_block_or_working_boundary() {
        let office = office();
        let tz = berlin();
        let planner = Planner::new(&office, &tz);
        assert_eq!(
            planner.next_change(local("2026-11-30T12:00")),
            Some(local("2026-11-30T17:30"))
        );
        assert_eq!(
            planner.next_change(local("2026-11-27T19:30")),
            Some(local("2026-11-28T10:00")),
            "Saturday's block"
        );
        assert_eq!(
            planner.next_change(local("2026-11-28T12:30")),
            Some(local("2026-11-30T09:00"))
        );
        assert_eq!(
            Planner::new(&PlansConfig::default(), &tz).next_change(local("2026-11-27T19:30")),
            None,
            "without plans nothing wakes the engine"
        );
    }

    #[test]
    fn a_block_keeps_its_local_times_across_a_dst_change() {
        let daily = plans("[[blocks]]\ndays = \"mon-sun\"\nfrom = \"09:00\"\nuntil = \"11:00\"");
        let tz = berlin();
        let planner = Planner::new(&daily, &tz);
        // 2027-03-28 is the last Sunday of March; 2027-10-31 the last of October.
        for day in ["2027-03-27", "2027-03-28", "2027-10-30", "2027-10-31"] {
            let block = planner.next_block(local(&format!("{day}T00:00"))).unwrap();
            assert_eq!(block.from, local(&format!("{day}T09:00")), "{day}");
            assert_eq!(
                block.until.duration_since(block.from),
                SignedDuration::from_hours(2)
            );
        }
    }

    fn event(uid: &str, from: &str, until: &str, focus: bool) -> CalendarEvent {
        CalendarEvent {
            uid: uid.into(),
            title: uid.into(),
            from: local(from),
            until: local(until),
            focus,
        }
    }

    #[test]
    fn meetings_cut_planned_focus_and_focus_events_plan_sessions() {
        let office = office();
        let tz = berlin();
        let events = [
            event("standup", "2026-11-30T10:00", "2026-11-30T10:30", false),
            event("writing", "2026-11-30T14:00", "2026-11-30T16:00", true),
            event("1:1", "2026-11-30T15:00", "2026-11-30T15:30", false),
        ];
        let planner = Planner::new(&office, &tz).with_events(&events);
        let pieces: Vec<(String, Timestamp, Timestamp)> = planner
            .pieces_on(local("2026-11-30T00:00").to_zoned(tz.clone()).date())
            .into_iter()
            .map(|o| (o.key, o.from, o.until))
            .collect();
        let writing = format!("calendar writing {}", local("2026-11-30T14:00"));
        assert_eq!(
            pieces,
            [
                (
                    "2026-11-30 09:00-11:30".to_owned(),
                    local("2026-11-30T09:00"),
                    local("2026-11-30T10:00")
                ),
                (
                    "2026-11-30 09:00-11:30 from 10:30".to_owned(),
                    local("2026-11-30T10:30"),
                    local("2026-11-30T11:30")
                ),
                (
                    writing.clone(),
                    local("2026-11-30T14:00"),
                    local("2026-11-30T15:00")
                ),
                (
                    format!("{writing} from 15:30"),
                    local("2026-11-30T15:30"),
                    local("2026-11-30T16:00")
                ),
            ],
            "each meeting ends the focus; it resumes after"
        );
        assert_eq!(
            planner
                .pieces_on(local("2026-11-30T00:00").to_zoned(tz.clone()).date())
                .first()
                .and_then(|piece| piece.before_meeting),
            Some(local("2026-11-30T09:55")),
            "with a check-in five minutes before the meeting"
        );
        assert_eq!(
            planner.planned_at(local("2026-11-30T10:10"), |_: &Occurrence| false),
            Planned::Open,
            "nothing is planned during the standup"
        );
        let Planned::Focus(after) =
            planner.planned_at(local("2026-11-30T10:31"), |_: &Occurrence| false)
        else {
            panic!("the block resumes after the standup");
        };
        assert_eq!(after.block, "2026-11-30 09:00-11:30");
        assert_eq!(
            planner.next_change(local("2026-11-30T09:30")),
            Some(local("2026-11-30T10:00"))
        );
        assert_eq!(
            planner.busy_after(local("2026-11-30T09:30")),
            Some(Busy {
                check_in: local("2026-11-30T09:55"),
                from: local("2026-11-30T10:00"),
                until: local("2026-11-30T10:30"),
            })
        );
        assert_eq!(
            planner
                .next_block(local("2026-11-30T12:00"))
                .map(|o| o.title),
            Some(Some("writing".to_owned()))
        );
    }

    proptest! {
        /// The engine sleeps until `next_change`: nothing the plans want may change in
        /// between, and the change is always in the future.
        #[test]
        fn nothing_changes_before_the_next_change(
            minutes in 0i64..(60 * 24 * 21),
            step in 1i64..600,
            events in proptest::collection::vec((0i64..(60 * 24 * 21), 5i64..300, any::<bool>()), 0..12),
        ) {
            let office = office();
            let tz = berlin();
            let start = local("2026-11-20T00:00");
            let events: Vec<CalendarEvent> = events
                .into_iter()
                .enumerate()
                .map(|(n, (at, length, focus))| CalendarEvent {
                    uid: n.to_string(),
                    title: String::new(),
                    from: start + SignedDuration::from_mins(at),
                    until: start + SignedDuration::from_mins(at + length),
                    focus,
                })
                .collect();
            let planner = Planner::new(&office, &tz).with_events(&events);
            let now = local("2026-11-20T00:00") + SignedDuration::from_mins(minutes);
            let next = planner.next_change(now).unwrap();
            prop_assert!(next > now);
            let between = now + SignedDuration::from_mins(step);
            if between < next {
                let at = |t| match planner.planned_at(t, |_: &Occurrence| false) {
                    Planned::Focus(o) => format!("focus {}", o.key),
                    Planned::OffHours { until } => format!("off until {until}"),
                    Planned::Open => "open".to_owned(),
                };
                prop_assert_eq!(at(now), at(between));
            }
        }
    }
}

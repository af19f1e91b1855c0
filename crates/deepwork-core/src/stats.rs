//! Weekly focus statistics: a pure function over session and item rows.
//!
//! A session's focus time is split across the local days (and weeks) it spans; its
//! count, length, stops and items belong to the week it started in.

use crate::item::{Class, Disposition, SessionId};
use crate::standup::{Intent, Outcome};
use jiff::civil::{Date, ISOWeekDate, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Knowledge workers' average weekly deep focus, the reference line.
pub const REFERENCE_HOURS: f64 = 11.7;
/// The focus an interruption costs to recover from.
pub const RECOVERY_PER_INTERRUPTION: SignedDuration = SignedDuration::from_mins(23);
/// Arrivals this close together count as one interruption avoided.
pub const SAME_INTERRUPTION_WINDOW: SignedDuration = SignedDuration::from_mins(2);

/// An ISO week, written `2026-W48`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct IsoWeek(ISOWeekDate);

impl IsoWeek {
    /// The week containing `date`.
    pub fn containing(date: Date) -> Self {
        let iso = date.iso_week_date();
        IsoWeek(ISOWeekDate::new(iso.year(), iso.week(), Weekday::Monday).unwrap_or(iso))
    }

    /// The week containing `at` in `tz`.
    pub fn at(at: Timestamp, tz: &TimeZone) -> Self {
        IsoWeek::containing(at.to_zoned(tz.clone()).date())
    }

    /// Its Monday.
    pub fn monday(self) -> Date {
        self.0.date()
    }

    /// The week before.
    pub fn previous(self) -> Self {
        IsoWeek::containing(self.monday().checked_sub(7.days()).unwrap_or(self.monday()))
    }

    /// Its seven days.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let monday = self.monday();
        (0..7).map(move |n| monday.checked_add(n.days()).unwrap_or(monday))
    }
}

impl FromStr for IsoWeek {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not an ISO week; write it like \"2026-W48\"");
        let (year, week) = text.trim().split_once("-W").ok_or_else(bad)?;
        let year: i16 = year.parse().map_err(|_| bad())?;
        let week: i8 = week.parse().map_err(|_| bad())?;
        ISOWeekDate::new(year, week, Weekday::Monday)
            .map(IsoWeek)
            .map_err(|_| bad())
    }
}

text_serde!(IsoWeek);

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.0.year(), self.0.week())
    }
}

/// A session as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Its id.
    pub id: SessionId,
    /// When it started.
    pub started_at: Timestamp,
    /// When it was planned to end.
    pub planned_end: Timestamp,
    /// When its focus ended; `None` while it runs.
    pub ended_at: Option<Timestamp>,
    /// Whether it was stopped early.
    pub early: bool,
    /// Whether a plan started it (not the user by hand).
    pub planned: bool,
    /// Spans inside it when the user was away from the computer (locked or idle),
    /// which are not focus time; an absence still going on ends at `now`.
    #[serde(default)]
    pub away: Vec<(Timestamp, Timestamp)>,
}

impl SessionRecord {
    /// The end of its focus so far.
    pub fn end_or(&self, now: Timestamp) -> Timestamp {
        self.ended_at
            .unwrap_or_else(|| now.min(self.planned_end))
            .max(self.started_at)
    }
}

/// What stats need of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFact {
    /// The session it arrived in.
    pub session: SessionId,
    /// When it arrived.
    pub received_at: Timestamp,
    /// Its class.
    pub class: Class,
    /// What happened to it.
    pub disposition: Disposition,
    /// A deadline it stated.
    pub deadline: Option<Timestamp>,
    /// When it was done (marked, or answered where it lives).
    pub done_at: Option<Timestamp>,
}

/// How many items of a class were done within their reply-by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnsweredInTime {
    /// The class.
    pub class: Class,
    /// Done by their reply-by.
    pub in_time: u32,
    /// All of them.
    pub items: u32,
}

/// How the intents of the week's sessions went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IntentTally {
    /// Done.
    pub done: u32,
    /// Partly done.
    pub partly: u32,
    /// Not done.
    pub not_done: u32,
    /// Not said yet.
    pub unsaid: u32,
}

impl IntentTally {
    /// All of them.
    pub fn total(&self) -> u32 {
        self.done + self.partly + self.not_done + self.unsaid
    }
}

/// Focus on one local day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayFocus {
    /// The day.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub date: Date,
    /// Hours of focus.
    pub hours: f64,
    /// Hours of focus planned (focus blocks and calendar focus events, less meetings).
    pub planned_hours: f64,
}

/// One past week's total, for the trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WeekTotal {
    /// The week.
    pub week: IsoWeek,
    /// Hours of focus.
    pub hours: f64,
}

/// The weekly view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WeeklyStats {
    /// The week.
    pub week: IsoWeek,
    /// Focus per day, Monday first.
    pub days: Vec<DayFocus>,
    /// Focus hours in the week.
    pub total_hours: f64,
    /// The user's goal.
    pub goal_hours: f64,
    /// The 11.7 h reference.
    pub reference_hours: f64,
    /// Focus hours planned in the week.
    pub planned_hours: f64,
    /// Sessions started this week.
    pub sessions: u32,
    /// Of them, those a plan started (a focus block or calendar event); the rest were
    /// started by hand.
    pub planned_sessions: u32,
    /// Their average length in minutes (0 with none).
    pub average_session_minutes: f64,
    /// Those stopped before their end.
    pub early_stops: u32,
    /// Emergencies that broke through.
    pub interruptions: u32,
    /// Items held.
    pub items_held: u32,
    /// Held non-emergency items, arrivals within 2 minutes counted once.
    pub interruptions_avoided: u32,
    /// Interruptions avoided × 23 min, capped by each session's length.
    pub recovery_minutes_saved: f64,
    /// Totals of this week and the ones before it, oldest first.
    pub trend: Vec<WeekTotal>,
    /// Per class with items, how many of its sessions' items were done (answered where
    /// they live, or marked) within their reply-by.
    pub answered_in_time: Vec<AnsweredInTime>,
    /// How the intents of the week's sessions went.
    pub intents: IntentTally,
    /// The longest stretch of a session no breakthrough or absence cut, in minutes.
    pub longest_block_minutes: f64,
    /// Time inside the week's sessions when the user was away from the computer, not
    /// counted as focus.
    pub away_hours: f64,
}

impl WeeklyStats {
    /// The weekly review as Markdown: focus against the goal, then output.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Deep work, week {}\n\n- Focus: {:.1} h (goal {:.1} h, reference {:.1} h)\n",
            self.week, self.total_hours, self.goal_hours, self.reference_hours
        );
        if self.planned_hours > 0.0 {
            out.push_str(&format!("- Planned: {:.1} h\n", self.planned_hours));
        }
        out.push_str(&format!(
            "- Sessions: {}, average {}, longest uninterrupted block {}\n",
            self.sessions,
            minutes_words(self.average_session_minutes),
            minutes_words(self.longest_block_minutes)
        ));
        if self.away_hours > 0.0 {
            out.push_str(&format!(
                "- Away from the computer during sessions: {} (not counted as focus)\n",
                minutes_words(self.away_hours * 60.0)
            ));
        }
        let tally = &self.intents;
        if tally.total() > 0 {
            let parts: Vec<String> = [
                (tally.done, "done"),
                (tally.partly, "partly"),
                (tally.not_done, "not done"),
                (tally.unsaid, "not said"),
            ]
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, label)| format!("{count} {label}"))
            .collect();
            out.push_str(&format!("- Intents: {}\n", parts.join(", ")));
        }
        if !self.answered_in_time.is_empty() {
            let parts: Vec<String> = self
                .answered_in_time
                .iter()
                .map(|a| format!("{} {}/{}", a.class.plural(), a.in_time, a.items))
                .collect();
            out.push_str(&format!(
                "- Handled within their reply-by: {}\n",
                parts.join(", ")
            ));
        }
        out.push_str(&format!(
            "- Interruptions avoided: {} (about {} of recovery saved); breakthroughs: {}\n",
            self.interruptions_avoided,
            minutes_words(self.recovery_minutes_saved),
            self.interruptions
        ));
        out.push_str("\n| Day | Focus (h) | Planned (h) |\n|---|---:|---:|\n");
        for day in &self.days {
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} |\n",
                day.date.strftime("%a %d %b"),
                day.hours,
                day.planned_hours
            ));
        }
        out
    }

    /// One CSV row per day: `week,date,weekday,focus_hours,planned_hours`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("week,date,weekday,focus_hours,planned_hours\n");
        for day in &self.days {
            out.push_str(&format!(
                "{},{},{},{:.3},{:.3}\n",
                self.week,
                day.date,
                day.date.strftime("%a"),
                day.hours,
                day.planned_hours
            ));
        }
        out
    }
}

/// "1 h 50 min", "45 min".
fn minutes_words(minutes: f64) -> String {
    let minutes = minutes.round() as i64;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The longest stretch of `session` between breakthroughs (`cuts`, any order) and
/// outside its away spans.
fn longest_stretch(session: &SessionRecord, now: Timestamp, cuts: &[Timestamp]) -> SignedDuration {
    let (start, end) = (session.started_at, session.end_or(now));
    // Each gap is a span no focus happened in: a breakthrough is an instant, an absence
    // a span.
    let mut gaps: Vec<(Timestamp, Timestamp)> = cuts
        .iter()
        .map(|at| (*at, *at))
        .chain(session.away.iter().copied())
        .filter(|(from, to)| *to > start && *from < end)
        .collect();
    gaps.sort();
    gaps.push((end, end));
    let mut longest = SignedDuration::ZERO;
    let mut from = start;
    for (gap_start, gap_end) in gaps {
        if gap_start > from {
            longest = longest.max(gap_start.duration_since(from));
        }
        from = from.max(gap_end);
    }
    longest
}

fn start_of_day(date: Date, tz: &TimeZone) -> Timestamp {
    date.to_zoned(tz.clone())
        .and_then(|z| z.start_of_day())
        .map_or(Timestamp::MIN, |z| z.timestamp())
}

fn overlap(a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)) -> SignedDuration {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    if end > start {
        end.duration_since(start)
    } else {
        SignedDuration::ZERO
    }
}

fn hours(duration: SignedDuration) -> f64 {
    duration.as_secs_f64() / 3600.0
}

/// The instants a week starts and ends at (local midnights, DST-correct).
pub fn week_bounds(week: IsoWeek, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let monday = week.monday();
    let next = monday.checked_add(7.days()).unwrap_or(monday);
    (start_of_day(monday, tz), start_of_day(next, tz))
}

fn focus_in(
    bounds: (Timestamp, Timestamp),
    sessions: &[SessionRecord],
    now: Timestamp,
) -> SignedDuration {
    sessions
        .iter()
        .map(|s| overlap(bounds, (s.started_at, s.end_or(now))) - away_in(bounds, s, now))
        .sum()
}

/// The time `session` was away within `bounds` (its spans do not overlap).
fn away_in(
    bounds: (Timestamp, Timestamp),
    session: &SessionRecord,
    now: Timestamp,
) -> SignedDuration {
    let inside = (session.started_at, session.end_or(now));
    session
        .away
        .iter()
        .map(|span| overlap(bounds, (span.0.max(inside.0), span.1.min(inside.1))))
        .sum()
}

fn planned_in(
    bounds: (Timestamp, Timestamp),
    planned: &[(Timestamp, Timestamp)],
) -> SignedDuration {
    planned.iter().map(|span| overlap(bounds, *span)).sum()
}

/// Computes the stats of `week`, with a trend of `trend_weeks` weeks ending with it;
/// `planned` are the spans of planned focus in it, `intents` the intents of recent
/// sessions, and `reply_by` tells an item's.
#[allow(clippy::too_many_arguments)]
pub fn weekly_stats(
    week: IsoWeek,
    tz: &TimeZone,
    now: Timestamp,
    sessions: &[SessionRecord],
    items: &[ItemFact],
    intents: &[Intent],
    planned: &[(Timestamp, Timestamp)],
    goal_hours: f64,
    trend_weeks: usize,
    reply_by: impl Fn(&ItemFact) -> Timestamp,
) -> WeeklyStats {
    let bounds = week_bounds(week, tz);
    let touching: Vec<SessionRecord> = sessions
        .iter()
        .filter(|s| s.started_at < bounds.1 && s.end_or(now) > bounds.0)
        .cloned()
        .collect();
    let days: Vec<DayFocus> = week
        .days()
        .map(|date| {
            let next = date.checked_add(1.day()).unwrap_or(date);
            let day = (start_of_day(date, tz), start_of_day(next, tz));
            DayFocus {
                date,
                hours: hours(focus_in(day, &touching, now)),
                planned_hours: hours(planned_in(day, planned)),
            }
        })
        .collect();
    let total_hours = hours(focus_in(bounds, &touching, now));

    let started: HashMap<SessionId, &SessionRecord> = touching
        .iter()
        .filter(|s| s.started_at >= bounds.0)
        .map(|s| (s.id, s))
        .collect();
    let total_length: SignedDuration = started
        .values()
        .map(|s| s.end_or(now).duration_since(s.started_at))
        .sum();
    let session_count = started.len() as u32;

    let answered_in_time = Class::ALL
        .into_iter()
        .filter_map(|class| {
            let of_class: Vec<&ItemFact> = items
                .iter()
                .filter(|i| started.contains_key(&i.session) && i.class == class)
                .collect();
            let in_time = of_class
                .iter()
                .filter(|i| i.done_at.is_some_and(|done| done <= reply_by(i)))
                .count() as u32;
            (!of_class.is_empty()).then_some(AnsweredInTime {
                class,
                in_time,
                items: of_class.len() as u32,
            })
        })
        .collect();
    let mut interruptions = 0;
    let mut items_held = 0;
    let mut held_arrivals: HashMap<SessionId, Vec<Timestamp>> = HashMap::new();
    for item in items.iter().filter(|i| started.contains_key(&i.session)) {
        match item.disposition {
            Disposition::BrokeThrough => interruptions += 1,
            Disposition::Held => {
                items_held += 1;
                if item.class != Class::Emergency {
                    held_arrivals
                        .entry(item.session)
                        .or_default()
                        .push(item.received_at);
                }
            }
            Disposition::Shown => {}
        }
    }
    let mut avoided_total = 0;
    let mut recovery = SignedDuration::ZERO;
    for (session, mut arrivals) in held_arrivals {
        arrivals.sort();
        let avoided = arrivals
            .iter()
            .zip(std::iter::once(None).chain(arrivals.iter().map(Some)))
            .filter(|(at, previous)| {
                previous.is_none_or(|p| at.duration_since(*p) > SAME_INTERRUPTION_WINDOW)
            })
            .count() as u32;
        avoided_total += avoided;
        let length = started.get(&session).map_or(SignedDuration::ZERO, |s| {
            s.end_or(now).duration_since(s.started_at)
        });
        recovery += (RECOVERY_PER_INTERRUPTION * avoided as i32).min(length);
    }

    let mut breakthroughs: HashMap<SessionId, Vec<Timestamp>> = HashMap::new();
    for item in items
        .iter()
        .filter(|i| i.disposition == Disposition::BrokeThrough)
    {
        breakthroughs
            .entry(item.session)
            .or_default()
            .push(item.received_at);
    }
    let longest_block = started
        .values()
        .map(|s| {
            let cuts = breakthroughs.get(&s.id).map_or(&[][..], Vec::as_slice);
            longest_stretch(s, now, cuts)
        })
        .max()
        .unwrap_or(SignedDuration::ZERO);
    let mut tally = IntentTally::default();
    for intent in intents.iter().filter(|i| started.contains_key(&i.session)) {
        match intent.outcome {
            Some(Outcome::Done) => tally.done += 1,
            Some(Outcome::Partly) => tally.partly += 1,
            Some(Outcome::NotDone) => tally.not_done += 1,
            None => tally.unsaid += 1,
        }
    }

    let mut trend = Vec::with_capacity(trend_weeks);
    let mut past = week;
    for _ in 0..trend_weeks {
        trend.push(WeekTotal {
            week: past,
            hours: hours(focus_in(week_bounds(past, tz), sessions, now)),
        });
        past = past.previous();
    }
    trend.reverse();

    WeeklyStats {
        week,
        days,
        total_hours,
        goal_hours,
        reference_hours: REFERENCE_HOURS,
        planned_hours: hours(planned_in(bounds, planned)),
        sessions: session_count,
        planned_sessions: started.values().filter(|s| s.planned).count() as u32,
        average_session_minutes: if session_count == 0 {
            0.0
        } else {
            total_length.as_secs_f64() / 60.0 / f64::from(session_count)
        },
        early_stops: started.values().filter(|s| s.early).count() as u32,
        interruptions,
        items_held,
        interruptions_avoided: avoided_total,
        recovery_minutes_saved: recovery.as_secs_f64() / 60.0,
        trend,
        answered_in_time,
        intents: tally,
        longest_block_minutes: longest_block.as_secs_f64() / 60.0,
        away_hours: hours(touching.iter().map(|s| away_in(bounds, s, now)).sum()),
    }
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

    fn session(id: i64, start: &str, end: &str, early: bool) -> SessionRecord {
        SessionRecord {
            id: SessionId(id),
            started_at: at(start),
            planned_end: at(end),
            ended_at: Some(at(end)),
            early,
            planned: false,
            away: vec![],
        }
    }

    fn four_hours(item: &ItemFact) -> Timestamp {
        item.received_at + SignedDuration::from_hours(4)
    }

    fn fact(session: i64, at_: &str, class: Class, disposition: Disposition) -> ItemFact {
        ItemFact {
            session: SessionId(session),
            received_at: at(at_),
            class,
            disposition,
            deadline: None,
            done_at: None,
        }
    }

    #[test]
    fn items_answered_within_their_reply_by_are_counted_per_class() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let sessions = [session(1, "2026-11-23T09:00", "2026-11-23T11:00", false)];
        let done = |mut item: ItemFact, at_: &str| {
            item.done_at = Some(at(at_));
            item
        };
        let items = [
            done(
                fact(1, "2026-11-23T09:10", Class::Blocker, Disposition::Held),
                "2026-11-23T11:30",
            ),
            done(
                fact(1, "2026-11-23T09:20", Class::Blocker, Disposition::Held),
                "2026-11-23T14:00",
            ),
            fact(1, "2026-11-23T09:30", Class::Blocker, Disposition::Held),
            done(
                fact(1, "2026-11-23T09:40", Class::Update, Disposition::Held),
                "2026-11-23T09:50",
            ),
            fact(9, "2026-11-23T09:40", Class::Strategic, Disposition::Shown),
        ];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &sessions,
            &items,
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(
            stats.answered_in_time,
            [
                AnsweredInTime {
                    class: Class::Blocker,
                    in_time: 1,
                    items: 3
                },
                AnsweredInTime {
                    class: Class::Update,
                    in_time: 1,
                    items: 1
                },
            ],
            "the second blocker was answered after its 4 hours; an item outside the week's sessions is not counted"
        );
    }

    #[test]
    fn weeks_parse_and_print() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        assert_eq!(week.to_string(), "2026-W48");
        assert_eq!(week.monday().to_string(), "2026-11-23");
        assert_eq!(week.previous().to_string(), "2026-W47");
        assert!("2026-W54".parse::<IsoWeek>().is_err());
        assert!("2026/48".parse::<IsoWeek>().is_err());
    }

    #[test]
    fn the_weekly_review_counts_intents_and_the_longest_uncut_stretch() {
        use crate::standup::{Intent, Outcome};
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let sessions = [
            // 09:00–12:00 cut at 09:40 by an emergency: 2 h 20 min uncut.
            session(1, "2026-11-23T09:00", "2026-11-23T12:00", false),
            session(2, "2026-11-24T14:00", "2026-11-24T16:00", false),
            // Last week's: neither its intent nor its length counts.
            session(3, "2026-11-20T08:00", "2026-11-20T13:00", false),
        ];
        let items = [
            fact(
                1,
                "2026-11-23T09:40",
                Class::Emergency,
                Disposition::BrokeThrough,
            ),
            fact(1, "2026-11-23T10:00", Class::Update, Disposition::Held),
            fact(
                2,
                "2026-11-24T15:00",
                Class::Emergency,
                Disposition::BrokeThrough,
            ),
        ];
        let intent = |id: i64, outcome: Option<Outcome>| Intent {
            session: SessionId(id),
            started_at: at("2026-11-23T09:00"),
            text: format!("intent {id}"),
            outcome,
            note: None,
        };
        let intents = [
            intent(1, Some(Outcome::Done)),
            intent(2, None),
            intent(3, Some(Outcome::NotDone)),
        ];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &sessions,
            &items,
            &intents,
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(stats.longest_block_minutes, 140.0);
        assert_eq!(
            stats.intents,
            IntentTally {
                done: 1,
                partly: 0,
                not_done: 0,
                unsaid: 1
            }
        );
        let review = stats.to_markdown();
        assert!(
            review.starts_with(
                "# Deep work, week 2026-W48\n\n- Focus: 5.0 h (goal 15.0 h, reference 11.7 h)\n"
            ),
            "{review}"
        );
        assert!(
            review.contains(
                "- Sessions: 2, average 2 h 30 min, longest uninterrupted block 2 h 20 min\n"
            ),
            "{review}"
        );
        assert!(
            review.contains("- Intents: 1 done, 1 not said\n"),
            "{review}"
        );
        assert!(
            review.contains("- Handled within their reply-by: emergencies 0/2, updates 0/1\n"),
            "{review}"
        );
        assert!(review.contains("| Mon 23 Nov | 3.0 | 0.0 |\n"), "{review}");
    }

    #[test]
    fn a_session_across_midnight_is_split_between_days() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let sessions = [session(1, "2026-11-24T23:00", "2026-11-25T01:30", false)];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &sessions,
            &[],
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(stats.days[1].hours, 1.0, "Tuesday");
        assert_eq!(stats.days[2].hours, 1.5, "Wednesday");
        assert_eq!(stats.total_hours, 2.5);
        assert_eq!(stats.sessions, 1);
        assert_eq!(stats.average_session_minutes, 150.0);
    }

    #[test]
    fn dst_days_have_their_real_length() {
        // 2026-10-25: Berlin's clocks go back at 03:00, so that Sunday has 25 hours.
        let week: IsoWeek = "2026-W43".parse().expect("parses");
        let sessions = [session(1, "2026-10-25T00:00", "2026-10-25T11:00", false)];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-01T00:00"),
            &sessions,
            &[],
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(
            stats.days[6].hours, 12.0,
            "00:00 to 11:00 spans 12 real hours that night"
        );
    }

    #[test]
    fn planned_focus_against_achieved_and_sessions_by_plan() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let mut by_plan = session(1, "2026-11-23T09:00", "2026-11-23T11:30", false);
        by_plan.planned = true;
        let by_hand = session(2, "2026-11-24T14:00", "2026-11-24T15:00", false);
        let planned = [
            (at("2026-11-23T09:00"), at("2026-11-23T11:30")),
            (at("2026-11-24T09:00"), at("2026-11-24T11:30")),
        ];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &[by_plan, by_hand],
            &[],
            &[],
            &planned,
            15.0,
            1,
            four_hours,
        );
        assert_eq!(
            stats
                .days
                .iter()
                .take(2)
                .map(|d| (d.hours, d.planned_hours))
                .collect::<Vec<_>>(),
            [(2.5, 2.5), (1.0, 2.5)],
            "Tuesday's block was skipped for an hour by hand in the afternoon"
        );
        assert_eq!(stats.planned_hours, 5.0);
        assert_eq!((stats.sessions, stats.planned_sessions), (2, 1));
        assert!(
            stats.to_csv().contains("2026-11-24,Tue,1.000,2.500\n"),
            "{}",
            stats.to_csv()
        );
    }

    #[test]
    fn interruptions_and_recovery() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let sessions = [
            session(1, "2026-11-23T09:00", "2026-11-23T11:00", false),
            session(2, "2026-11-24T09:00", "2026-11-24T09:30", true),
        ];
        let items = [
            fact(1, "2026-11-23T09:10", Class::Update, Disposition::Held),
            fact(1, "2026-11-23T09:11", Class::PrePing, Disposition::Held),
            fact(1, "2026-11-23T09:12:30", Class::Update, Disposition::Held),
            fact(1, "2026-11-23T10:00", Class::Blocker, Disposition::Held),
            fact(
                1,
                "2026-11-23T10:05",
                Class::Emergency,
                Disposition::BrokeThrough,
            ),
            fact(2, "2026-11-24T09:01", Class::Update, Disposition::Held),
            fact(2, "2026-11-24T09:05", Class::Update, Disposition::Held),
        ];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &sessions,
            &items,
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(stats.items_held, 6);
        assert_eq!(stats.interruptions, 1);
        assert_eq!(stats.early_stops, 1);
        // Session 1: 09:10, 09:11 and 09:12:30 chain into one; 10:00 is another: 2 avoided.
        // Session 2: 2 avoided, but 46 min is capped at the session's 30 min.
        assert_eq!(stats.interruptions_avoided, 4);
        assert_eq!(stats.recovery_minutes_saved, 46.0 + 30.0);
    }

    #[test]
    fn a_running_session_counts_up_to_now() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let running = SessionRecord {
            id: SessionId(1),
            started_at: at("2026-11-25T09:00"),
            planned_end: at("2026-11-25T11:00"),
            ended_at: None,
            early: false,
            planned: false,
            away: vec![],
        };
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-25T10:00"),
            &[running],
            &[],
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        assert_eq!(stats.total_hours, 1.0);
    }

    #[test]
    fn the_trend_ends_with_this_week() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let sessions = [
            session(1, "2026-11-16T09:00", "2026-11-16T10:00", false),
            session(2, "2026-11-23T09:00", "2026-11-23T11:00", false),
        ];
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-30T00:00"),
            &sessions,
            &[],
            &[],
            &[],
            15.0,
            3,
            four_hours,
        );
        let trend: Vec<(String, f64)> = stats
            .trend
            .iter()
            .map(|w| (w.week.to_string(), w.hours))
            .collect();
        assert_eq!(
            trend,
            vec![
                ("2026-W46".into(), 0.0),
                ("2026-W47".into(), 1.0),
                ("2026-W48".into(), 2.0)
            ]
        );
    }

    #[test]
    fn away_time_is_not_focus_and_cuts_the_longest_block() {
        let week: IsoWeek = "2026-W48".parse().expect("parses");
        let mut morning = session(1, "2026-11-23T09:00", "2026-11-23T12:00", false);
        // Lunch came early: away 10:30–11:15; and 11:50 to past the end.
        morning.away = vec![
            (at("2026-11-23T10:30"), at("2026-11-23T11:15")),
            (at("2026-11-23T11:50"), at("2026-11-23T12:00")),
        ];
        // Still running at `now`, away since 15:30 and not back yet.
        let running = SessionRecord {
            ended_at: None,
            away: vec![(at("2026-11-24T15:30"), at("2026-11-24T16:00"))],
            ..session(2, "2026-11-24T14:00", "2026-11-24T18:00", false)
        };
        let stats = weekly_stats(
            week,
            &tz(),
            at("2026-11-24T16:00"),
            &[morning, running],
            &[],
            &[],
            &[],
            15.0,
            1,
            four_hours,
        );
        let minutes = |hours: f64| (hours * 60.0).round();
        assert_eq!(minutes(stats.away_hours), 85.0);
        assert_eq!(minutes(stats.total_hours), 180.0 + 120.0 - 85.0);
        assert_eq!(minutes(stats.days[0].hours), 180.0 - 55.0);
        assert_eq!(minutes(stats.days[1].hours), 120.0 - 30.0);
        assert_eq!(stats.trend[0].hours, stats.total_hours);
        // 09:00–10:30 is the longest stretch with the user there.
        assert_eq!(stats.longest_block_minutes, 90.0);
        assert!(
            stats.to_markdown().contains(
                "- Away from the computer during sessions: 1 h 25 min (not counted as focus)\n"
            ),
            "{}",
            stats.to_markdown()
        );
    }
}

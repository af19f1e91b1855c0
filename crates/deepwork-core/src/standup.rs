//! The written standup: what was shipped on the last working day, what is planned
//! today, and what is blocking, drafted from sessions' intents, handled items, plans
//! and replies owed today or overdue. Pure: the engine gathers the facts and passes the
//! time in.

use crate::digest::ItemRecord;
use crate::item::SessionId;
use crate::plans::WorkHours;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest intent kept, in characters.
pub const MAX_INTENT_CHARS: usize = 200;
/// How far back the last working day is looked for.
const LOOK_BACK_DAYS: i32 = 14;

/// How a session's intent turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Outcome {
    /// Done.
    Done,
    /// Partly done.
    Partly,
    /// Not done.
    NotDone,
}

impl Outcome {
    /// The stable name used in the store and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Partly => "partly",
            Outcome::NotDone => "not_done",
        }
    }

    /// Parses [`Outcome::as_str`] (also "not-done").
    pub fn parse(name: &str) -> Option<Outcome> {
        match name {
            "done" => Some(Outcome::Done),
            "partly" => Some(Outcome::Partly),
            "not_done" | "not-done" => Some(Outcome::NotDone),
            _ => None,
        }
    }
}

/// What a session was for, and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Intent {
    /// The session.
    pub session: SessionId,
    /// When it started.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub started_at: Timestamp,
    /// What it was for ("Finish the billing RFC").
    pub text: String,
    /// How it went, once the user said.
    pub outcome: Option<Outcome>,
    /// The user's note on it.
    pub note: Option<String>,
}

/// Work shipped elsewhere, as a source tells it: a merged pull request, a closed ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipped {
    /// The source ("github").
    pub source: String,
    /// What it was ("Add retries to the payment client (#12)").
    pub title: String,
    /// When it was shipped.
    pub at: Timestamp,
}

/// A blocker still owed, with its reply-by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owed {
    /// The item.
    pub item: ItemRecord,
    /// Its reply-by.
    pub reply_by: Timestamp,
}

/// A planned focus span today.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFocus {
    /// Its start.
    pub from: Timestamp,
    /// Its end.
    pub until: Timestamp,
    /// A calendar event's title; `None` for a focus block.
    pub title: Option<String>,
}

/// What a standup draft is written from.
#[derive(Clone, Debug)]
pub struct StandupFacts<'a> {
    /// Now.
    pub now: Timestamp,
    /// The local time zone.
    pub tz: &'a TimeZone,
    /// Work hours, to find the last working day.
    pub hours: &'a WorkHours<'a>,
    /// Intents of recent sessions (the last two weeks), oldest first.
    pub intents: &'a [Intent],
    /// Items done recently (answered where they live or marked), with when.
    pub done_items: &'a [ItemRecord],
    /// What the sources say was shipped recently.
    pub shipped: &'a [Shipped],
    /// Focus planned today.
    pub planned: &'a [PlannedFocus],
    /// Blockers still owed.
    pub owed: &'a [Owed],
}

/// A standup: three short lists, editable before it is posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StandupDraft {
    /// The day it is for.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub date: Date,
    /// The working day it looks back on.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub since: Date,
    /// What was shipped.
    pub shipped: Vec<String>,
    /// What is planned today.
    pub today: Vec<String>,
    /// What is blocking.
    pub blockers: Vec<String>,
}

impl StandupDraft {
    /// The draft as Markdown, the form it is posted and copied in.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("**Standup {}**\n", self.date);
        for (heading, lines) in [
            ("Shipped", &self.shipped),
            ("Today", &self.today),
            ("Blockers", &self.blockers),
        ] {
            let _ = write!(out, "\n*{heading}*\n");
            if lines.is_empty() {
                out.push_str("- none\n");
            }
            for line in lines {
                let _ = writeln!(out, "- {}", one_line(line));
            }
        }
        out
    }
}

/// The working day before `today`: the last day with work hours (yesterday when every
/// day is a working day), within two weeks.
pub fn previous_working_day(today: Date, hours: &WorkHours<'_>) -> Date {
    let mut day = today;
    for _ in 0..LOOK_BACK_DAYS {
        day = day.checked_sub(1.day()).unwrap_or(day);
        if hours.always() || !hours.spans(day).is_empty() {
            return day;
        }
    }
    today.checked_sub(1.day()).unwrap_or(today)
}

/// Drafts the standup for the local day of `facts.now`.
pub fn draft(facts: &StandupFacts<'_>) -> StandupDraft {
    let tz = facts.tz;
    let today = facts.now.to_zoned(tz.clone()).date();
    let since = previous_working_day(today, facts.hours);
    // From the start of the last working day up to now (a weekend's work counts too).
    let from = since
        .to_zoned(tz.clone())
        .map_or(facts.now, |start| start.timestamp());
    let in_window = |at: Timestamp| at >= from && at <= facts.now;
    let clock = |at: Timestamp| at.to_zoned(tz.clone()).strftime("%H:%M").to_string();

    let mut shipped = Vec::new();
    for intent in facts.intents.iter().filter(|i| in_window(i.started_at)) {
        match intent.outcome {
            Some(Outcome::Done) => shipped.push(with_note(&intent.text, intent.note.as_deref())),
            Some(Outcome::Partly) => shipped.push(format!(
                "Partly: {}",
                with_note(&intent.text, intent.note.as_deref())
            )),
            Some(Outcome::NotDone) | None => {}
        }
    }
    shipped.extend(
        facts
            .shipped
            .iter()
            .filter(|s| in_window(s.at))
            .map(|s| format!("{} ({})", s.title, s.source)),
    );
    let answered: Vec<&ItemRecord> = facts
        .done_items
        .iter()
        .filter(|item| item.done_at.is_some_and(in_window))
        .collect();
    if !answered.is_empty() {
        let mut senders: Vec<&str> = answered.iter().map(|i| i.sender.as_str()).collect();
        senders.sort_unstable();
        senders.dedup();
        shipped.push(format!(
            "Handled {} {} (from {})",
            answered.len(),
            if answered.len() == 1 {
                "request"
            } else {
                "requests"
            },
            senders.join(", ")
        ));
    }

    let mut today_lines: Vec<String> = facts
        .planned
        .iter()
        .filter(|p| p.until > facts.now)
        .map(|p| match &p.title {
            Some(title) => format!("{}–{} {title}", clock(p.from), clock(p.until)),
            None => format!("{}–{} focus block", clock(p.from), clock(p.until)),
        })
        .collect();
    // The latest word on each intent not finished: carried over to today.
    let mut open: Vec<&Intent> = Vec::new();
    for intent in facts.intents {
        open.retain(|o| !same_intent(&o.text, &intent.text));
        if intent.outcome != Some(Outcome::Done) {
            open.push(intent);
        }
    }
    today_lines.extend(open.into_iter().map(|i| i.text.clone()));

    // Blocking: a reply owed today, or overdue.
    let tomorrow = today
        .checked_add(1.day())
        .ok()
        .and_then(|day| day.to_zoned(tz.clone()).ok())
        .map_or(Timestamp::MAX, |start| start.timestamp());
    let mut owed: Vec<&Owed> = facts
        .owed
        .iter()
        .filter(|o| o.reply_by < tomorrow)
        .collect();
    owed.sort_by_key(|o| o.reply_by);
    let blockers = owed
        .into_iter()
        .map(|o| {
            let when = if o.reply_by <= facts.now {
                format!("overdue since {}", clock(o.reply_by))
            } else {
                format!("due {}", clock(o.reply_by))
            };
            format!("Reply owed to {}: {} ({when})", o.item.sender, o.item.title)
        })
        .collect();

    StandupDraft {
        date: today,
        since,
        shipped,
        today: today_lines,
        blockers,
    }
}

fn with_note(text: &str, note: Option<&str>) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{text} — {note}"),
        None => text.to_owned(),
    }
}

fn same_intent(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// A line as one Markdown list entry: no line breaks, no leading markup.
fn one_line(text: &str) -> String {
    crate::text::one_line(text)
}

/// An intent as the user wrote it, made safe and short; `None` when empty.
pub fn clean_intent(text: &str) -> Option<String> {
    let line = crate::text::one_line(text);
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    Some(line.chars().take(MAX_INTENT_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::DoneBy;
    use crate::item::{Class, Disposition, ItemId};
    use crate::plans::PlansConfig;
    use crate::triage::Reason;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("tzdb")
    }

    fn at(text: &str) -> Timestamp {
        let zoned: jiff::Zoned = format!("{text}[Europe/Berlin]").parse().expect("time");
        zoned.timestamp()
    }

    fn intent(id: i64, start: &str, text: &str, outcome: Option<Outcome>) -> Intent {
        Intent {
            session: SessionId(id),
            started_at: at(start),
            text: text.into(),
            outcome,
            note: None,
        }
    }

    fn item(id: i64, sender: &str, title: &str, done_at: Option<&str>) -> ItemRecord {
        ItemRecord {
            id: ItemId(id),
            session: None,
            received_at: at("2026-11-27T09:00"),
            source: "slack".into(),
            sender: sender.into(),
            channel: None,
            title: title.into(),
            body: None,
            url: None,
            class: Class::Blocker,
            reason: Reason::Default,
            deadline: None,
            disposition: Disposition::Held,
            digest: None,
            done_at: done_at.map(at),
            done_by: done_at.map(|_| DoneBy::Answer),
            message_id: None,
            conversation: None,
        }
    }

    fn office() -> PlansConfig {
        PlansConfig {
            work_hours: vec!["mon-fri 09:00-17:30".parse().expect("valid")],
            ..PlansConfig::default()
        }
    }

    #[test]
    fn monday_looks_back_on_friday_and_carries_what_is_unfinished() {
        let (plans, tz) = (office(), tz());
        let hours = WorkHours::new(&plans, &tz);
        // Monday 30 November 2026, 09:15.
        let now = at("2026-11-30T09:15");
        let intents = [
            intent(1, "2026-11-26T10:00", "Old thing", Some(Outcome::Done)),
            intent(
                2,
                "2026-11-27T09:00",
                "Finish the billing RFC",
                Some(Outcome::Done),
            ),
            intent(
                3,
                "2026-11-27T14:00",
                "Refund webhook",
                Some(Outcome::Partly),
            ),
            intent(4, "2026-11-27T16:00", "Load test", Some(Outcome::NotDone)),
            intent(5, "2026-11-25T16:00", "Flaky CI", None),
            intent(6, "2026-11-27T16:30", "flaky ci", Some(Outcome::Done)),
        ];
        let done = [
            item(1, "bob", "Review the retry PR", Some("2026-11-27T11:00")),
            item(2, "carol", "Budget sign-off", Some("2026-11-27T12:00")),
            item(3, "dave", "Last week's question", Some("2026-11-20T12:00")),
        ];
        let shipped = [Shipped {
            source: "github".into(),
            title: "Add retries to the payment client (#12)".into(),
            at: at("2026-11-27T15:00"),
        }];
        let planned = [PlannedFocus {
            from: at("2026-11-30T09:30"),
            until: at("2026-11-30T11:30"),
            title: None,
        }];
        let owed = [
            Owed {
                item: item(4, "erin", "Access to the prod dashboard", None),
                reply_by: at("2026-11-30T10:00"),
            },
            Owed {
                item: item(5, "frank", "Next quarter's plan", None),
                reply_by: at("2026-12-01T10:00"),
            },
            Owed {
                item: item(6, "gina", "Contract sign-off", None),
                reply_by: at("2026-11-27T17:00"),
            },
        ];
        let draft = draft(&StandupFacts {
            now,
            tz: &tz,
            hours: &hours,
            intents: &intents,
            done_items: &done,
            shipped: &shipped,
            planned: &planned,
            owed: &owed,
        });
        assert_eq!(
            draft.since.to_string(),
            "2026-11-27",
            "Friday, over the weekend"
        );
        assert_eq!(
            draft.shipped,
            [
                "Finish the billing RFC",
                "Partly: Refund webhook",
                "flaky ci",
                "Add retries to the payment client (#12) (github)",
                "Handled 2 requests (from bob, carol)",
            ]
        );
        assert_eq!(
            draft.today,
            ["09:30–11:30 focus block", "Refund webhook", "Load test"],
            "the flaky CI was done on Friday; unfinished intents carry over"
        );
        assert_eq!(
            draft.blockers,
            [
                "Reply owed to gina: Contract sign-off (overdue since 17:00)",
                "Reply owed to erin: Access to the prod dashboard (due 10:00)",
            ]
        );
        let markdown = draft.to_markdown();
        assert!(
            markdown.starts_with("**Standup 2026-11-30**\n\n*Shipped*\n- Finish the billing RFC\n")
        );
        assert!(markdown.contains("\n*Blockers*\n- Reply owed to gina"));
    }

    #[test]
    fn an_empty_day_reads_none_and_intents_are_one_short_line() {
        let plans = PlansConfig::default();
        let tz = tz();
        let hours = WorkHours::new(&plans, &tz);
        let draft = draft(&StandupFacts {
            now: at("2026-11-29T09:00"),
            tz: &tz,
            hours: &hours,
            intents: &[],
            done_items: &[],
            shipped: &[],
            planned: &[],
            owed: &[],
        });
        assert_eq!(
            draft.since.to_string(),
            "2026-11-28",
            "every day works without hours"
        );
        assert_eq!(draft.to_markdown().matches("- none").count(), 3);
        assert_eq!(clean_intent("  \n "), None);
        assert_eq!(
            clean_intent("Finish\nthe RFC\u{1b}[2J").as_deref(),
            Some("Finish the RFC [2J")
        );
        assert_eq!(clean_intent(&"x".repeat(500)).map(|t| t.len()), Some(200));
    }

    proptest::proptest! {
        #[test]
        fn every_line_is_one_line_and_nothing_from_outside_the_window_is_shipped(
            offsets in proptest::collection::vec(-20_000i64..20_000, 0..20),
            texts in proptest::collection::vec(".{0,40}", 0..20),
        ) {
            let plans = office();
            let tz = tz();
            let hours = WorkHours::new(&plans, &tz);
            let now = at("2026-11-30T09:15");
            let intents: Vec<Intent> = offsets
                .iter()
                .zip(texts.iter())
                .enumerate()
                .map(|(n, (minutes, text))| Intent {
                    session: SessionId(n as i64),
                    started_at: now - jiff::SignedDuration::from_mins(*minutes),
                    text: text.clone(),
                    outcome: Some(Outcome::Done),
                    note: Some("a\nnote".into()),
                })
                .collect();
            let draft = draft(&StandupFacts {
                now,
                tz: &tz,
                hours: &hours,
                intents: &intents,
                done_items: &[],
                shipped: &[],
                planned: &[],
                owed: &[],
            });
            let friday = at("2026-11-27T00:00");
            let expected = intents
                .iter()
                .filter(|i| i.started_at >= friday && i.started_at <= now)
                .count();
            proptest::prop_assert_eq!(draft.shipped.len(), expected);
            let markdown = draft.to_markdown();
            let entries = markdown.lines().filter(|l| l.starts_with("- ")).count();
            proptest::prop_assert_eq!(entries, draft.shipped.len().max(1) + draft.today.len().max(1) + 1);
        }
    }
}

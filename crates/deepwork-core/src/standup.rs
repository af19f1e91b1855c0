//! The written standup: what was shipped on the last working day, what is planned
//! today, and what is blocking, drafted from sessions' intents, handled items, plans
//! and replies owed today or overdue. Pure: the engine gathers the facts and passes the
//! time in.

use crate::digest::ItemRecord;
use crate::item::SessionId;
use crate::plans::{Days, WorkHours};
use crate::schedule::ClockTime;
use crate::text::escape_html;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

/// Work a source reports: a merged pull request or a closed ticket (shipped), or one of
/// the user's tickets marked blocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceWork {
    /// The source ("github").
    pub source: String,
    /// The source's own name for it (a pull request's URL, a ticket's key), unique
    /// within the source.
    pub key: String,
    /// What it is ("Add retries to the payment client (#12)").
    pub title: String,
    /// When it was shipped, or last changed while blocked.
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
    pub shipped: &'a [SourceWork],
    /// The user's tickets the sources say are blocked.
    pub blocked: &'a [SourceWork],
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
    fn sections(&self) -> [(&'static str, &[String]); 3] {
        [
            ("Shipped", &self.shipped),
            ("Today", &self.today),
            ("Blockers", &self.blockers),
        ]
    }

    /// The draft as Markdown, the form it is copied and posted to Mattermost in.
    pub fn to_markdown(&self) -> String {
        self.render(&Markup {
            title: |date| format!("**Standup {date}**\n"),
            heading: |heading| format!("\n*{heading}*\n"),
            item: |line| format!("- {}\n", escape_markdown(line)),
            list: ("", ""),
        })
    }

    /// The draft as HTML (Matrix's formatted body, a Teams message), every line escaped.
    pub fn to_html(&self) -> String {
        self.render(&Markup {
            title: |date| format!("<p><strong>Standup {date}</strong></p>"),
            heading: |heading| format!("<p><em>{heading}</em></p>"),
            item: |line| format!("<li>{}</li>", escape_html(line)),
            list: ("<ul>", "</ul>"),
        })
    }

    /// The draft in Slack's mrkdwn: bold headings, bullets, `&`, `<` and `>` escaped as
    /// Slack asks, so no line becomes a link or a mention.
    pub fn to_slack(&self) -> String {
        self.render(&Markup {
            title: |date| format!("*Standup {date}*\n"),
            heading: |heading| format!("\n*{heading}*\n"),
            item: |line| {
                let escaped = line
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                format!("• {escaped}\n")
            },
            list: ("", ""),
        })
    }

    /// The draft in `markup`, each line one line that notifies no one ([`entry`]), an
    /// empty section reading "none".
    fn render(&self, markup: &Markup) -> String {
        let mut out = (markup.title)(self.date);
        for (heading, lines) in self.sections() {
            out.push_str(&(markup.heading)(heading));
            out.push_str(markup.list.0);
            if lines.is_empty() {
                out.push_str(&(markup.item)("none"));
            }
            for line in lines {
                out.push_str(&(markup.item)(&entry(line)));
            }
            out.push_str(markup.list.1);
        }
        out
    }

    /// The draft with every line made one short safe line, empty ones dropped: what an
    /// edit from the window is stored and posted as.
    pub fn cleaned(mut self) -> StandupDraft {
        for lines in [&mut self.shipped, &mut self.today, &mut self.blockers] {
            let kept: Vec<String> = lines
                .iter()
                .filter_map(|line| short_line(line, MAX_LINE_CHARS))
                .take(MAX_LINES)
                .collect();
            *lines = kept;
        }
        self
    }
}

/// How one markup writes a draft: its title, a section's heading, one entry (given as
/// one safe line, to escape), and what opens and closes a section's list.
struct Markup {
    title: fn(Date) -> String,
    heading: fn(&str) -> String,
    item: fn(&str) -> String,
    list: (&'static str, &'static str),
}

/// The most lines kept in one section.
pub const MAX_LINES: usize = 50;
/// The longest line kept, in characters.
pub const MAX_LINE_CHARS: usize = 500;

/// `text` as one safe line of at most `max` characters; `None` when empty.
fn short_line(text: &str, max: usize) -> Option<String> {
    let line = crate::text::one_line(text);
    let line = line.trim();
    (!line.is_empty()).then(|| line.chars().take(max).collect())
}

/// A line as one list entry: one line, and a mention of everyone in a room (`@channel`,
/// `@here`, `@all`, `@everyone`, `@room`) broken with a word joiner, since a line may
/// quote someone else's message and a standup should notify no one.
fn entry(text: &str) -> String {
    let line = crate::text::one_line(text);
    let mut out = String::with_capacity(line.len());
    let mut rest = line.as_str();
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..=at]);
        let in_address = rest[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        rest = &rest[at + 1..];
        if in_address {
            continue;
        }
        let word_end = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        if ["channel", "here", "all", "everyone", "room"]
            .iter()
            .any(|broadcast| word.eq_ignore_ascii_case(broadcast))
        {
            out.push('\u{2060}');
        }
    }
    out.push_str(rest);
    out
}

/// Markdown's inline markup escaped, so that a quoted title cannot become a link or
/// bold text in someone else's client.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The platforms a standup can be posted to.
pub const POSTING_PLATFORMS: [&str; 4] = ["slack", "mattermost", "matrix", "teams"];

/// Where a standup is posted, written `"platform:channel"`: `"slack:C0123ABC"` or
/// `"slack:#team"`, `"mattermost:team-name/channel-name"` or a channel id,
/// `"matrix:#standup:example.org"` or a room id, `"teams:CHAT_ID"` or
/// `"teams:TEAM_ID/CHANNEL_ID"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct PostTarget {
    /// The platform, one of [`POSTING_PLATFORMS`].
    pub platform: String,
    /// The channel, room or chat, as the platform names it.
    pub channel: String,
}

impl FromStr for PostTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{text:?} is not a place to post; write it like \"slack:#team\", \"mattermost:team/channel\", \"matrix:#standup:example.org\" or \"teams:TEAM_ID/CHANNEL_ID\""
            )
        };
        let (platform, channel) = text.trim().split_once(':').ok_or_else(bad)?;
        let platform = platform.trim().to_ascii_lowercase();
        if !POSTING_PLATFORMS.contains(&platform.as_str()) {
            return Err(format!(
                "{text:?}: standups are posted to {}, not {platform:?}",
                POSTING_PLATFORMS.join(", ")
            ));
        }
        let channel = channel.trim();
        if channel.is_empty() || channel.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        Ok(PostTarget {
            platform,
            channel: channel.to_owned(),
        })
    }
}

text_serde!(PostTarget);

impl fmt::Display for PostTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.channel)
    }
}

/// The `[standup]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StandupConfig {
    /// When the daily draft is written (and a notice says it is ready); none writes it
    /// only when asked.
    pub at: Option<ClockTime>,
    /// The days it is written on (not on `[plans] days_off`).
    pub days: Days,
    /// Where `deepwork standup --post` and the window's Post button send it.
    pub post_to: Option<PostTarget>,
}

impl Default for StandupConfig {
    fn default() -> Self {
        StandupConfig {
            at: None,
            days: "mon-fri".parse().expect("weekdays"),
            post_to: None,
        }
    }
}

/// When the next daily draft is due: today's time if today is a standup day not yet
/// drafted (now, if that time has passed), else the next standup day's. `None` without
/// `at`, or when no day of the next week is a standup day.
pub fn next_draft_at(
    config: &StandupConfig,
    days_off: &[Date],
    now: Timestamp,
    tz: &TimeZone,
    last_drafted: Option<Date>,
) -> Option<Timestamp> {
    let at = config.at?;
    let today = now.to_zoned(tz.clone()).date();
    (0..8).find_map(|ahead| {
        let day = today.checked_add(ahead.days()).ok()?;
        let wanted = config.days.contains(day.weekday())
            && !days_off.contains(&day)
            && last_drafted.is_none_or(|last| last < day);
        wanted.then(|| at.on(day, tz).max(now))
    })
}

/// A standup kept in history: the draft as last saved, and where it was posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StandupEntry {
    /// The draft.
    pub draft: StandupDraft,
    /// Whether it is kept (drafted at the standup time, edited or posted); a fresh
    /// draft is not until then.
    pub kept: bool,
    /// When the user last edited it.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub edited_at: Option<Timestamp>,
    /// Where and when it was posted.
    pub posted: Option<Posted>,
}

/// A standup's posting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Posted {
    /// Where.
    pub to: PostTarget,
    /// When.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: Timestamp,
    /// A link to the message, where the platform gives one.
    pub link: Option<String>,
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
    let mut blockers: Vec<String> = owed
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
    blockers.extend(
        facts
            .blocked
            .iter()
            .map(|b| format!("Blocked: {} ({})", b.title, b.source)),
    );

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

/// An intent as the user wrote it, made safe and short; `None` when empty.
pub fn clean_intent(text: &str) -> Option<String> {
    short_line(text, MAX_INTENT_CHARS)
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
        let shipped = [SourceWork {
            source: "github".into(),
            key: "https://github.com/acme/pay/pull/12".into(),
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
            blocked: &[SourceWork {
                source: "jira".into(),
                key: "PAY-7".into(),
                title: "PAY-7 Migrate the ledger".into(),
                at: at("2026-11-27T10:00"),
            }],
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
                "Blocked: PAY-7 Migrate the ledger (jira)",
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
            blocked: &[],
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

    fn sample() -> StandupDraft {
        StandupDraft {
            date: "2026-11-30".parse().expect("date"),
            since: "2026-11-27".parse().expect("date"),
            shipped: vec!["Fix <b>bold</b> & [link](https://evil.example) *now*".into()],
            today: vec![],
            blockers: vec!["Reply owed to bob: @channel look @Here, mail me@all.example".into()],
        }
    }

    #[test]
    fn every_form_escapes_its_markup_and_mentions_no_one() {
        let draft = sample();
        let markdown = draft.to_markdown();
        assert!(
            markdown.contains(
                "- Fix \\<b\\>bold\\</b\\> & \\[link\\](https://evil.example) \\*now\\*\n"
            ),
            "{markdown}"
        );
        assert!(markdown.contains("*Today*\n- none\n"));
        assert!(markdown.contains("@\u{2060}channel look @\u{2060}Here,"));
        assert!(
            markdown.contains("me@all.example"),
            "an address is no mention"
        );
        let html = draft.to_html();
        assert!(html.starts_with("<p><strong>Standup 2026-11-30</strong></p><p><em>Shipped</em></p><ul><li>Fix &lt;b&gt;bold&lt;/b&gt; &amp; [link]"));
        assert!(html.contains("<li>none</li>"));
        assert!(!html.contains("<b>"));
        let slack = draft.to_slack();
        assert!(
            slack.starts_with(
                "*Standup 2026-11-30*\n\n*Shipped*\n• Fix &lt;b&gt;bold&lt;/b&gt; &amp; [link]"
            ),
            "{slack}"
        );
        assert!(slack.contains("@\u{2060}channel"));
    }

    #[test]
    fn an_edited_draft_keeps_short_single_lines() {
        let mut draft = sample();
        draft.today = vec!["  ".into(), "Ship\nthe RFC".into(), "y".repeat(900)];
        draft.shipped = (0..80).map(|n| format!("line {n}")).collect();
        let cleaned = draft.cleaned();
        assert_eq!(cleaned.today[0], "Ship the RFC");
        assert_eq!(cleaned.today[1].chars().count(), MAX_LINE_CHARS);
        assert_eq!(cleaned.today.len(), 2);
        assert_eq!(cleaned.shipped.len(), MAX_LINES);
    }

    #[test]
    fn post_targets_name_a_platform_that_posts_and_a_channel() {
        let target: PostTarget = "matrix:#standup:example.org".parse().expect("valid");
        assert_eq!(
            (target.platform.as_str(), target.channel.as_str()),
            ("matrix", "#standup:example.org")
        );
        assert_eq!(target.to_string(), "matrix:#standup:example.org");
        assert_eq!(
            "Slack:#team".parse::<PostTarget>().expect("valid").platform,
            "slack"
        );
        for bad in ["slack", "slack:", "github:org/repo", "teams:a b", ":x"] {
            assert!(bad.parse::<PostTarget>().is_err(), "{bad}");
        }
        let err = "github:x".parse::<PostTarget>().unwrap_err();
        assert!(err.contains("slack, mattermost, matrix, teams"), "{err}");
    }

    #[test]
    fn the_daily_draft_comes_once_on_standup_days() {
        let tz = tz();
        let config = StandupConfig {
            at: Some("09:15".parse().expect("time")),
            ..StandupConfig::default()
        };
        let friday: Date = "2026-11-27".parse().expect("date");
        // Friday 08:00: today at 09:15.
        assert_eq!(
            next_draft_at(&config, &[], at("2026-11-27T08:00"), &tz, None),
            Some(at("2026-11-27T09:15"))
        );
        // Started late and not drafted today: now.
        let late = at("2026-11-27T11:00");
        assert_eq!(next_draft_at(&config, &[], late, &tz, None), Some(late));
        // Drafted on Friday: Monday, over the weekend.
        assert_eq!(
            next_draft_at(&config, &[], late, &tz, Some(friday)),
            Some(at("2026-11-30T09:15"))
        );
        // Monday is a day off: Tuesday.
        let monday: Date = "2026-11-30".parse().expect("date");
        assert_eq!(
            next_draft_at(&config, &[monday], late, &tz, Some(friday)),
            Some(at("2026-12-01T09:15"))
        );
        assert_eq!(
            next_draft_at(&StandupConfig::default(), &[], late, &tz, None),
            None
        );
    }

    /// A generated fortnight, in hours from its start: now, sessions (start, outcome,
    /// text), answers, and owed blockers' reply-by relative to now.
    type Fortnight = (i64, Vec<(i64, u8, u8)>, Vec<i64>, Vec<i64>);

    fn fortnight() -> impl proptest::strategy::Strategy<Value = Fortnight> {
        (
            0i64..14 * 24,
            proptest::collection::vec((0i64..14 * 24, 0u8..4, 0u8..5), 0..30),
            proptest::collection::vec(0i64..14 * 24, 0..20),
            proptest::collection::vec(-48i64..72, 0..10),
        )
    }

    proptest::proptest! {
        #[test]
        fn a_generated_fortnight_drafts_a_consistent_standup(
            (now_hours, sessions, answers, owed_hours) in fortnight()
        ) {
            let plans = office();
            let tz = tz();
            let hours = WorkHours::new(&plans, &tz);
            let start = at("2026-11-16T00:00");
            let hour = |h: i64| start + jiff::SignedDuration::from_hours(h);
            let now = hour(now_hours);
            let outcomes = [None, Some(Outcome::Done), Some(Outcome::Partly), Some(Outcome::NotDone)];
            let mut intents: Vec<Intent> = sessions
                .iter()
                .enumerate()
                .filter(|(_, (h, _, _))| hour(*h) <= now)
                .map(|(n, (h, outcome, text))| Intent {
                    session: SessionId(n as i64),
                    started_at: hour(*h),
                    text: format!("task {text}"),
                    outcome: outcomes[usize::from(*outcome)],
                    note: None,
                })
                .collect();
            intents.sort_by_key(|i| i.started_at);
            let done: Vec<ItemRecord> = answers
                .iter()
                .enumerate()
                .filter(|(_, h)| hour(**h) <= now)
                .map(|(n, h)| {
                    let mut record = item(n as i64, &format!("p{}", n % 3), "q", None);
                    record.done_at = Some(hour(*h));
                    record
                })
                .collect();
            let owed: Vec<Owed> = owed_hours
                .iter()
                .enumerate()
                .map(|(n, h)| Owed {
                    item: item(100 + n as i64, "erin", &format!("ask {n}"), None),
                    reply_by: now + jiff::SignedDuration::from_hours(*h),
                })
                .collect();
            let draft = draft(&StandupFacts {
                now,
                tz: &tz,
                hours: &hours,
                intents: &intents,
                done_items: &done,
                shipped: &[],
                blocked: &[],
                planned: &[],
                owed: &owed,
            });
            let today = now.to_zoned(tz.clone()).date();
            proptest::prop_assert_eq!(draft.date, today);
            // The last working day: before today, Monday to Friday, the nearest such.
            proptest::prop_assert!(draft.since < today);
            proptest::prop_assert!(!matches!(draft.since.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday));
            let mut between = draft.since.tomorrow().expect("a day");
            while between < today {
                proptest::prop_assert!(matches!(between.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday));
                between = between.tomorrow().expect("a day");
            }
            let from = draft.since.to_zoned(tz.clone()).expect("midnight").timestamp();
            // Every intent done or partly done in the window is shipped, once each.
            let shipped_intents = intents
                .iter()
                .filter(|i| i.started_at >= from && matches!(i.outcome, Some(Outcome::Done | Outcome::Partly)))
                .count();
            let answered = done.iter().any(|d| d.done_at.is_some_and(|t| t >= from));
            proptest::prop_assert_eq!(draft.shipped.len(), shipped_intents + usize::from(answered));
            // Today: each intent whose latest word is not "done", once; none that is done.
            for line in &draft.today {
                let latest = intents.iter().rev().find(|i| i.text.eq_ignore_ascii_case(line)).expect("an intent");
                proptest::prop_assert_ne!(latest.outcome, Some(Outcome::Done));
            }
            let mut unique = draft.today.clone();
            unique.sort();
            unique.dedup();
            proptest::prop_assert_eq!(unique.len(), draft.today.len());
            // Blockers: owed before tomorrow, soonest first.
            let tomorrow = today.tomorrow().expect("a day").to_zoned(tz.clone()).expect("midnight").timestamp();
            let due: Vec<&Owed> = owed.iter().filter(|o| o.reply_by < tomorrow).collect();
            proptest::prop_assert_eq!(draft.blockers.len(), due.len());
            let mut order: Vec<Timestamp> = due.iter().map(|o| o.reply_by).collect();
            order.sort();
            for (line, reply_by) in draft.blockers.iter().zip(order) {
                let owed_item = owed.iter().find(|o| o.reply_by == reply_by).expect("owed");
                proptest::prop_assert!(line.contains(&owed_item.item.title) || owed.iter().filter(|o| o.reply_by == reply_by).count() > 1);
            }
        }

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
                blocked: &[],
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

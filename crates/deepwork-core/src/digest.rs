//! The check-in digest: held items grouped by class, then by reply-by time.

use crate::config::ResponseWindows;
use crate::escalation::TimelineEntry;
use crate::item::{Class, Disposition, ItemId, SessionId};
use crate::plans::{self, WorkHours};
use crate::session::ClassCounts;
use crate::triage::Reason;
use crate::triage::deadline::StatedDeadline;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Identifies a delivered digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "number"))]
pub struct DigestId(pub i64);

/// An item as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Its id.
    pub id: ItemId,
    /// The session it arrived in, if any.
    pub session: Option<SessionId>,
    /// When it arrived.
    pub received_at: Timestamp,
    /// Where it came from.
    pub source: String,
    /// Who sent it.
    pub sender: String,
    /// The channel or room.
    pub channel: Option<String>,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: Option<String>,
    /// Its link.
    pub url: Option<String>,
    /// Its class.
    pub class: Class,
    /// Why it got that class.
    pub reason: Reason,
    /// A deadline the message stated.
    pub deadline: Option<StatedDeadline>,
    /// What happened to it.
    pub disposition: Disposition,
    /// The digest that delivered it.
    pub digest: Option<DigestId>,
    /// When it was done.
    pub done_at: Option<Timestamp>,
    /// How it came to be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<DoneBy>,
    /// Its source's own id for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Where it lives on its platform, to notice the user answering there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// How an item came to be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DoneBy {
    /// The user marked it done.
    You,
    /// The user answered it where it lives (a reply, a comment, a review).
    Answer,
}

impl DoneBy {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            DoneBy::You => "you",
            DoneBy::Answer => "answer",
        }
    }

    /// Parses the name written by [`DoneBy::as_str`].
    pub fn parse(name: &str) -> Option<DoneBy> {
        [DoneBy::You, DoneBy::Answer]
            .into_iter()
            .find(|done| done.as_str() == name)
    }
}

impl ItemRecord {
    /// The item as its source handed it in, e.g. to learn from it.
    pub fn to_new_item(&self) -> crate::item::NewItem {
        crate::item::NewItem {
            source: self.source.clone(),
            sender: self.sender.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            url: self.url.clone(),
            channel: self.channel.clone(),
            urgency: None,
            message_id: self.message_id.clone(),
            source_class: None,
            conversation: self.conversation.clone(),
        }
    }
}

/// One item in a digest, as shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DigestEntry {
    /// Its id (for `deepwork done`).
    pub id: ItemId,
    /// Who sent it.
    pub sender: String,
    /// Where it came from.
    pub source: String,
    /// The channel or room.
    pub channel: Option<String>,
    /// Its title.
    pub title: String,
    /// The start of its body, on one line.
    pub snippet: Option<String>,
    /// A link back to it.
    pub url: Option<String>,
    /// When it arrived.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub received_at: Timestamp,
    /// When it should be answered by: the response matrix's window, or the deadline the
    /// message stated when that is earlier.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub reply_by: Timestamp,
    /// The words that stated a deadline earlier than the class's window ("by 3pm").
    pub stated_deadline: Option<String>,
    /// For an emergency that broke through: when it was shown. It is listed so that a
    /// missed popup loses nothing.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub shown_at: Option<Timestamp>,
    /// For an emergency: what followed it, oldest first ("SMS 09:17", "acknowledged
    /// 09:19 by SMS"); filled in by the engine from the escalation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation: Vec<TimelineEntry>,
    /// Why it was classed so, readable.
    pub why: String,
    /// Why it was classed so, typed.
    pub reason: Reason,
    /// Whether it is done.
    pub done: bool,
    /// How it came to be done: marked by the user, or answered where it lives.
    #[serde(default)]
    pub done_by: Option<DoneBy>,
}

/// The items of one class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DigestGroup {
    /// The class.
    pub class: Class,
    /// Its items, soonest reply-by first.
    pub items: Vec<DigestEntry>,
}

/// A delivered digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Digest {
    /// Its id.
    pub id: DigestId,
    /// The session it belongs to.
    pub session: SessionId,
    /// When it was delivered.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub delivered_at: Timestamp,
    /// Held items per class. Emergencies that broke through are listed in `groups`
    /// but not counted here: they were not held.
    pub counts: ClassCounts,
    /// "9 held: 1 blocker, 6 updates, 2 pre-pings".
    pub summary: String,
    /// The items, most urgent class first.
    pub groups: Vec<DigestGroup>,
}

/// Longest snippet shown, in characters.
pub const SNIPPET_CHARS: usize = 160;

/// Builds a digest from its held items.
pub fn build_digest(
    id: DigestId,
    session: SessionId,
    delivered_at: Timestamp,
    mut items: Vec<ItemRecord>,
    windows: &ResponseWindows,
    hours: &WorkHours<'_>,
) -> Digest {
    let counts = ClassCounts::of(
        items
            .iter()
            .filter(|i| i.disposition != Disposition::BrokeThrough)
            .map(|i| i.class),
    );
    let broke_through = items
        .iter()
        .filter(|i| i.disposition == Disposition::BrokeThrough)
        .count();
    // Sort small keys and move fields out in that order: sorting the records themselves
    // moved ~300 bytes per swap and dominated large digests.
    let mut order: Vec<(Class, Timestamp, ItemId, usize)> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let reply_by = reply_by(item, windows, hours).0;
            (item.class, reply_by, item.id, index)
        })
        .collect();
    order.sort_unstable();
    let mut groups: Vec<DigestGroup> = Vec::new();
    for (class, reply_by, item_id, index) in order {
        let item = &mut items[index];
        let reason = std::mem::replace(&mut item.reason, Reason::Default);
        let stated_deadline = reply_by_stated(item, windows, hours);
        let entry = DigestEntry {
            stated_deadline,
            shown_at: (item.disposition == Disposition::BrokeThrough).then_some(item.received_at),
            escalation: Vec::new(),
            id: item_id,
            snippet: item.body.as_deref().and_then(snippet),
            why: reason.to_string(),
            reason,
            sender: std::mem::take(&mut item.sender),
            source: std::mem::take(&mut item.source),
            channel: item.channel.take(),
            title: std::mem::take(&mut item.title),
            url: item.url.take(),
            received_at: item.received_at,
            reply_by,
            done: item.done_at.is_some(),
            done_by: item.done_by,
        };
        match groups.last_mut() {
            Some(group) if group.class == class => group.items.push(entry),
            _ => {
                let mut entries = Vec::with_capacity(counts.get(class) as usize);
                entries.push(entry);
                groups.push(DigestGroup {
                    class,
                    items: entries,
                });
            }
        }
    }
    Digest {
        id,
        session,
        delivered_at,
        summary: summary(&counts, broke_through),
        counts,
        groups,
    }
}

/// "9 held: 1 blocker, 8 updates", and the emergencies already shown, if any.
fn summary(held: &ClassCounts, broke_through: usize) -> String {
    let summary = held.summary();
    match broke_through {
        0 => summary,
        n => format!(
            "{summary}; {} shown at once",
            Class::Emergency.count_label(n)
        ),
    }
}

/// An item's reply-by: its stated deadline when earlier than its class's window.
pub fn item_reply_by(
    item: &ItemRecord,
    windows: &ResponseWindows,
    hours: &WorkHours<'_>,
) -> Timestamp {
    reply_by(item, windows, hours).0
}

/// An item's reply-by, and whether a stated deadline set it.
fn reply_by(
    item: &ItemRecord,
    windows: &ResponseWindows,
    hours: &WorkHours<'_>,
) -> (Timestamp, bool) {
    let by_class = plans::reply_by(item.received_at, item.class, windows, hours);
    match &item.deadline {
        Some(deadline) if deadline.at < by_class => (deadline.at.max(item.received_at), true),
        _ => (by_class, false),
    }
}

fn reply_by_stated(
    item: &mut ItemRecord,
    windows: &ResponseWindows,
    hours: &WorkHours<'_>,
) -> Option<String> {
    let (_, stated) = reply_by(item, windows, hours);
    let deadline = item.deadline.take()?;
    stated.then_some(deadline.phrase)
}

/// The body on one line, shortened; `None` when it has no text.
///
/// Whitespace runs become one space and control characters are dropped. Most bodies
/// start with plain ASCII, which is copied as is; the rest take the general path.
pub fn snippet(body: &str) -> Option<String> {
    let body = body.trim_start();
    let limit = body.len().min(SNIPPET_CHARS);
    let head = &body.as_bytes()[..limit];
    let plain = head.iter().all(|b| (0x21..0x7f).contains(b) || *b == b' ')
        && !head.windows(2).any(|pair| pair == b"  ")
        && head.last() != Some(&b' ');
    if !plain {
        return general_snippet(body);
    }
    let rest = &body[limit..];
    let mut out = String::with_capacity(limit + '…'.len_utf8());
    out.push_str(&body[..limit]);
    if rest.chars().any(|c| !c.is_whitespace() && !c.is_control()) {
        if rest.starts_with(char::is_whitespace) {
            // The general path counts the space before the next word as a character.
            return general_snippet(body);
        }
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

fn general_snippet(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0;
    for word in body.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars().filter(|c| !c.is_control()) {
            if chars == SNIPPET_CHARS {
                out.push('…');
                return Some(out);
            }
            out.push(c);
            chars += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::PlansConfig;

    /// No work hours: every hour counts.
    fn always() -> WorkHours<'static> {
        static NONE: std::sync::LazyLock<(PlansConfig, jiff::tz::TimeZone)> =
            std::sync::LazyLock::new(|| (PlansConfig::default(), jiff::tz::TimeZone::UTC));
        WorkHours::new(&NONE.0, &NONE.1)
    }
    use jiff::SignedDuration;

    fn record(id: i64, class: Class, minute: i64) -> ItemRecord {
        ItemRecord {
            id: ItemId(id),
            session: Some(SessionId(1)),
            received_at: Timestamp::from_second(1_800_000_000 + minute * 60).expect("in range"),
            source: "slack".into(),
            sender: "bob".into(),
            channel: None,
            title: format!("item {id}"),
            body: Some("  first line\n\tsecond\u{7} line ".into()),
            url: None,
            class,
            reason: Reason::Default,
            deadline: None,
            disposition: Disposition::Held,
            digest: None,
            done_at: None,
            done_by: None,
            message_id: None,
            conversation: None,
        }
    }

    #[test]
    fn groups_by_class_then_reply_by() {
        let items = vec![
            record(1, Class::Update, 0),
            record(2, Class::Blocker, 10),
            record(3, Class::Update, 5),
            record(4, Class::Blocker, 1),
            record(5, Class::PrePing, 2),
        ];
        let windows = ResponseWindows::default();
        let digest = build_digest(
            DigestId(1),
            SessionId(1),
            Timestamp::UNIX_EPOCH,
            items,
            &windows,
            &always(),
        );
        let layout: Vec<(Class, Vec<i64>)> = digest
            .groups
            .iter()
            .map(|g| (g.class, g.items.iter().map(|i| i.id.0).collect()))
            .collect();
        assert_eq!(
            layout,
            vec![
                (Class::Blocker, vec![4, 2]),
                (Class::Update, vec![1, 3]),
                (Class::PrePing, vec![5])
            ]
        );
        assert_eq!(digest.summary, "5 held: 2 blockers, 2 updates, 1 pre-ping");
        let first = &digest.groups[0].items[0];
        assert_eq!(
            first.reply_by.duration_since(first.received_at),
            SignedDuration::from_hours(4)
        );
        assert_eq!(first.snippet.as_deref(), Some("first line second line"));
    }

    #[test]
    fn breakthroughs_are_listed_as_shown_and_not_counted_as_held() {
        let mut emergency = record(1, Class::Emergency, 3);
        emergency.disposition = Disposition::BrokeThrough;
        let items = vec![emergency, record(2, Class::Update, 0)];
        let digest = build_digest(
            DigestId(1),
            SessionId(1),
            Timestamp::UNIX_EPOCH,
            items,
            &ResponseWindows::default(),
            &always(),
        );
        assert_eq!(
            digest.summary,
            "1 held: 1 update; 1 emergency shown at once"
        );
        let shown = &digest.groups[0].items[0];
        assert_eq!(digest.groups[0].class, Class::Emergency);
        assert_eq!(shown.shown_at, Some(shown.received_at));
        assert_eq!(digest.groups[1].items[0].shown_at, None);
    }

    #[test]
    fn a_stated_deadline_earlier_than_the_window_sets_reply_by() {
        let mut asked = record(1, Class::Update, 0);
        let by = asked.received_at + SignedDuration::from_hours(2);
        asked.deadline = Some(StatedDeadline {
            at: by,
            phrase: "by 3pm".into(),
        });
        let mut later = record(2, Class::Blocker, 0);
        later.deadline = Some(StatedDeadline {
            at: later.received_at + SignedDuration::from_hours(30),
            phrase: "by tomorrow".into(),
        });
        let digest = build_digest(
            DigestId(1),
            SessionId(1),
            Timestamp::UNIX_EPOCH,
            vec![asked, later],
            &ResponseWindows::default(),
            &always(),
        );
        let blocker = &digest.groups[0].items[0];
        assert_eq!(
            (
                blocker.reply_by.duration_since(blocker.received_at),
                blocker.stated_deadline.as_deref()
            ),
            (SignedDuration::from_hours(4), None),
            "a deadline later than the window changes nothing"
        );
        let update = &digest.groups[1].items[0];
        assert_eq!(
            (update.reply_by, update.stated_deadline.as_deref()),
            (by, Some("by 3pm"))
        );
    }

    proptest::proptest! {
        #[test]
        fn the_plain_path_agrees_with_the_general_one(body in proptest::prop_oneof![
            "[a-c \t\n\u{0}-\u{1f}\u{a0}é]{0,400}",
            "[a-c ]{150,200}",
            "[a-c ]{155,165}[ \t\n\u{0}\u{a0}]{0,3}[a-c ]{0,5}",
        ]) {
            proptest::prop_assert_eq!(snippet(&body), general_snippet(&body));
        }
    }

    #[test]
    fn snippets_are_bounded() {
        let long = "word ".repeat(100);
        let cut = snippet(&long).expect("has text");
        assert_eq!(cut.chars().count(), SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(snippet(" \n\t "), None);
    }
}

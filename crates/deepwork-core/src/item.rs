//! Items: what arrives from a source, and how it was classed.

use crate::text;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies a held, shown or broken-through item. Allocated by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "number"))]
pub struct ItemId(pub i64);

/// Identifies a focus session. Allocated by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "number"))]
pub struct SessionId(pub i64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The class an item is triaged into: the response matrix plus pre-pings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Class {
    /// Production outage, security breach: breaks through at once.
    Emergency,
    /// Blocks someone's scheduled work.
    Blocker,
    /// Non-urgent news or review.
    Update,
    /// Input on longer-term plans.
    Strategic,
    /// "hi", "got a sec?": an interruption with no request in it.
    PrePing,
}

impl Class {
    /// Every class, in digest order (most urgent first).
    pub const ALL: [Class; 5] = [
        Class::Emergency,
        Class::Blocker,
        Class::Update,
        Class::Strategic,
        Class::PrePing,
    ];

    /// The stable name used in config, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Emergency => "emergency",
            Class::Blocker => "blocker",
            Class::Update => "update",
            Class::Strategic => "strategic",
            Class::PrePing => "pre_ping",
        }
    }

    /// The class's position in [`Class::ALL`].
    pub fn index(self) -> usize {
        match self {
            Class::Emergency => 0,
            Class::Blocker => 1,
            Class::Update => 2,
            Class::Strategic => 3,
            Class::PrePing => 4,
        }
    }

    /// Parses the name written by [`Class::as_str`].
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.as_str() == name)
    }

    /// The class as people read it ("pre-ping").
    pub fn label(self) -> &'static str {
        match self {
            Class::Emergency => "emergency",
            Class::Blocker => "blocker",
            Class::Update => "update",
            Class::Strategic => "strategic",
            Class::PrePing => "pre-ping",
        }
    }

    /// The plural name: "blockers", "strategic items".
    pub fn plural(self) -> &'static str {
        match self {
            Class::Emergency => "emergencies",
            Class::Blocker => "blockers",
            Class::Update => "updates",
            Class::Strategic => "strategic items",
            Class::PrePing => "pre-pings",
        }
    }

    /// How a count of this class reads in a summary ("1 blocker", "6 updates").
    pub fn count_label(self, count: usize) -> String {
        let (one, many) = match self {
            Class::Emergency => ("emergency", "emergencies"),
            Class::Blocker => ("blocker", "blockers"),
            Class::Update => ("update", "updates"),
            Class::Strategic => ("strategic item", "strategic items"),
            Class::PrePing => ("pre-ping", "pre-pings"),
        };
        format!("{count} {}", if count == 1 { one } else { many })
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Urgency a source may declare for its own item (`deepwork push --urgency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Declared an emergency.
    Emergency,
    /// Declared a blocker.
    Blocker,
    /// Declared an update.
    Update,
    /// Declared strategic.
    Strategic,
}

impl Urgency {
    /// The class this urgency maps to.
    pub fn class(self) -> Class {
        match self {
            Urgency::Emergency => Class::Emergency,
            Urgency::Blocker => Class::Blocker,
            Urgency::Update => Class::Update,
            Urgency::Strategic => Class::Strategic,
        }
    }
}

/// What happened to an item when it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Held for the next check-in's digest.
    Held,
    /// An emergency during focus: shown at once, counted as an interruption.
    BrokeThrough,
    /// Arrived outside a session: shown at once and recorded.
    Shown,
}

impl Disposition {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Held => "held",
            Disposition::BrokeThrough => "broke_through",
            Disposition::Shown => "shown",
        }
    }

    /// Parses the name written by [`Disposition::as_str`].
    pub fn parse(name: &str) -> Option<Disposition> {
        [
            Disposition::Held,
            Disposition::BrokeThrough,
            Disposition::Shown,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }
}

/// Longest title accepted, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Longest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest source, sender or channel name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest link accepted, in bytes.
pub const MAX_URL_BYTES: usize = 4096;

/// An item as a source hands it in, before triage. All text is untrusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    /// Where it came from: "slack", "ci", "desktop", …
    pub source: String,
    /// Who sent it.
    pub sender: String,
    /// One line saying what it is.
    pub title: String,
    /// More text, if any.
    #[serde(default)]
    pub body: Option<String>,
    /// A link back to where it lives.
    #[serde(default)]
    pub url: Option<String>,
    /// The channel or room it was posted in.
    #[serde(default)]
    pub channel: Option<String>,
    /// Urgency the source declared, trusted only for configured sources.
    #[serde(default)]
    pub urgency: Option<Urgency>,
    /// The source's own id for it: an item whose source and id were seen before is the
    /// same item, so a batch read or pushed twice is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The class the source gives items of its kind, from the response matrix (a review
    /// request is a blocker, a comment on a document strategic). The user's rules and
    /// corrections override it, and the model raises it when the text is more urgent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_class: Option<Class>,
    /// Where it lives on its platform (a conversation, a pull request, a ticket), to
    /// notice the user answering it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
}

/// Why a [`NewItem`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// A required field was empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The field's name.
        field: &'static str,
    },
    /// A field was longer than allowed.
    #[error("{field} is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The link was not an http(s) link.
    #[error("url must be an http:// or https:// link, got {0:?}")]
    BadUrl(String),
    /// A field held control characters that would garble a notification or terminal.
    #[error("{field} contains control characters")]
    ControlCharacters {
        /// The field's name.
        field: &'static str,
    },
}

impl NewItem {
    /// Checks sizes and shapes, so that nothing unbounded or unlinkable is stored.
    pub fn validate(&self) -> Result<(), ItemError> {
        check_name("source", &self.source, true)?;
        check_name("sender", &self.sender, true)?;
        if let Some(channel) = &self.channel {
            check_name("channel", channel, false)?;
        }
        if let Some(id) = &self.message_id {
            check_name("message_id", id, true)?;
        }
        check_len("title", &self.title, MAX_TITLE_BYTES)?;
        if self.title.trim().is_empty() {
            return Err(ItemError::Empty { field: "title" });
        }
        if let Some(body) = &self.body {
            check_len("body", body, MAX_BODY_BYTES)?;
        }
        if let Some(url) = &self.url {
            check_url(url)?;
        }
        if let Some(conversation) = &self.conversation {
            check_len("conversation", conversation, MAX_URL_BYTES)?;
            if conversation.chars().any(text::is_unsafe) {
                return Err(ItemError::ControlCharacters {
                    field: "conversation",
                });
            }
        }
        Ok(())
    }

    /// The item made valid whatever a platform sent: every field cleaned of unsafe
    /// characters and shortened to its limit, a blank sender or title named, a link that
    /// is not http(s) and an id too long to be a key dropped. What a source could not
    /// help sending never stops the items after it.
    pub fn sanitized(self) -> NewItem {
        let name = |value: &str, fallback: &str| {
            let clean = text::one_line(value);
            let name = text::truncate(&clean, MAX_NAME_BYTES);
            if name.is_empty() {
                fallback.to_owned()
            } else {
                name.to_owned()
            }
        };
        let title = text::one_line(&self.title);
        let body = self
            .body
            .map(|body| text::truncate(text::plain(&body).trim(), MAX_BODY_BYTES).to_owned())
            .filter(|body| !body.is_empty());
        NewItem {
            source: name(&self.source, "unknown"),
            sender: name(&self.sender, "unknown sender"),
            title: name_or(text::truncate(&title, MAX_TITLE_BYTES), "(no text)"),
            body,
            url: self.url.filter(|url| check_url(url).is_ok()),
            channel: self
                .channel
                .map(|channel| name(&channel, ""))
                .filter(|channel| !channel.is_empty()),
            urgency: self.urgency,
            message_id: self.message_id.filter(|id| {
                id.len() <= MAX_NAME_BYTES
                    && !id.trim().is_empty()
                    && !id.chars().any(text::is_unsafe)
            }),
            source_class: self.source_class,
            conversation: self
                .conversation
                .filter(|c| c.len() <= MAX_URL_BYTES && !c.chars().any(text::is_unsafe)),
        }
    }
}

fn name_or(value: &str, fallback: &str) -> String {
    if value.trim().is_empty() {
        fallback.to_owned()
    } else {
        value.to_owned()
    }
}

/// An http(s) link with a host, within the length limit, with nothing unsafe in it.
fn check_url(url: &str) -> Result<(), ItemError> {
    check_len("url", url, MAX_URL_BYTES)?;
    let lower = url.to_ascii_lowercase();
    let has_host = |rest: &str| !rest.is_empty() && !rest.starts_with('/');
    let ok = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .is_some_and(has_host);
    if !ok || url.chars().any(|c| c.is_whitespace() || text::is_unsafe(c)) {
        return Err(ItemError::BadUrl(url.to_owned()));
    }
    Ok(())
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ItemError> {
    if value.len() > max {
        return Err(ItemError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn check_name(field: &'static str, value: &str, required: bool) -> Result<(), ItemError> {
    check_len(field, value, MAX_NAME_BYTES)?;
    if required && value.trim().is_empty() {
        return Err(ItemError::Empty { field });
    }
    if value.chars().any(text::is_unsafe) {
        return Err(ItemError::ControlCharacters { field });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> NewItem {
        NewItem {
            source: "ci".into(),
            sender: "build-bot".into(),
            title: "Deploy failed".into(),
            body: None,
            url: Some("https://ci.example/run/1".into()),
            channel: None,
            urgency: None,
            message_id: None,
            source_class: None,
            conversation: None,
        }
    }

    #[test]
    fn a_plain_item_is_valid() {
        assert_eq!(item().validate(), Ok(()));
    }

    #[test]
    fn links_must_be_http_with_a_host() {
        for bad in [
            "javascript:alert(1)",
            "https://",
            "file:///etc/passwd",
            "http:///x",
            "https://a b",
        ] {
            let mut it = item();
            it.url = Some(bad.into());
            assert!(
                matches!(it.validate(), Err(ItemError::BadUrl(_))),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn oversized_fields_are_refused_with_their_name() {
        let mut it = item();
        it.body = Some("x".repeat(MAX_BODY_BYTES + 1));
        assert_eq!(
            it.validate(),
            Err(ItemError::TooLong {
                field: "body",
                len: MAX_BODY_BYTES + 1,
                max: MAX_BODY_BYTES
            })
        );
    }

    #[test]
    fn blank_titles_and_senders_are_refused() {
        let mut it = item();
        it.title = "   ".into();
        assert_eq!(it.validate(), Err(ItemError::Empty { field: "title" }));
        let mut it = item();
        it.sender = String::new();
        assert_eq!(it.validate(), Err(ItemError::Empty { field: "sender" }));
    }

    #[test]
    fn bidi_controls_in_names_are_refused() {
        let mut it = item();
        it.sender = "gro\u{202E}gpj.exe".into();
        assert_eq!(
            it.validate(),
            Err(ItemError::ControlCharacters { field: "sender" })
        );
    }

    #[test]
    fn whatever_a_platform_sends_becomes_a_valid_item() {
        let it = NewItem {
            source: "xmpp".into(),
            sender: format!("{}@example.org", "a".repeat(400)),
            title: "\u{202E}  ".into(),
            body: Some("\n\u{1b}[2J\n".into()),
            url: Some("javascript:alert(1)".into()),
            channel: Some("r".repeat(300)),
            urgency: None,
            message_id: Some("x".repeat(300)),
            source_class: None,
            conversation: None,
        }
        .sanitized();
        assert_eq!(it.validate(), Ok(()));
        assert_eq!(it.title, "(no text)");
        assert_eq!(it.body.as_deref(), Some("[2J"));
        assert_eq!((it.url, it.message_id), (None, None));
        assert_eq!(it.sender.len(), MAX_NAME_BYTES);
        let empty_app = NewItem {
            sender: String::new(),
            ..item()
        }
        .sanitized();
        assert_eq!(empty_app.sender, "unknown sender");
        let kept = item().sanitized();
        assert_eq!(kept, item());
    }

    proptest::proptest! {
        #[test]
        fn sanitized_items_are_always_valid(
            source in ".{0,300}", sender in ".{0,300}", title in ".{0,1100}",
            body in proptest::option::of(".{0,200}"), url in proptest::option::of(".{0,40}"),
            channel in proptest::option::of(".{0,300}"), id in proptest::option::of(".{0,300}"),
        ) {
            let it = NewItem { source, sender, title, body, url, channel, urgency: None, message_id: id, source_class: None , conversation: None};
            proptest::prop_assert_eq!(it.sanitized().validate(), Ok(()));
        }
    }

    #[test]
    fn class_names_round_trip() {
        for (index, class) in Class::ALL.into_iter().enumerate() {
            assert_eq!(Class::parse(class.as_str()), Some(class));
            assert_eq!(class.index(), index);
        }
        assert_eq!(Class::PrePing.count_label(2), "2 pre-pings");
        assert_eq!(Class::Blocker.count_label(1), "1 blocker");
    }
}

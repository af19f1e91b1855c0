//! The shapes of the homeserver's answers that Deepwork reads, from the Matrix
//! client-server API (only the fields used; the rest is ignored).

use crate::http::Lenient;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::HashMap;

/// A refusal: the error's code and words, and how long to wait when rate limited.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MatrixError {
    pub errcode: String,
    pub error: String,
    pub retry_after_ms: Option<u64>,
}

/// `GET /sync`.
#[derive(Debug, Deserialize)]
pub(super) struct SyncResponse {
    pub next_batch: String,
    #[serde(default)]
    pub rooms: SyncRooms,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SyncRooms {
    pub join: HashMap<String, JoinedRoom>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct JoinedRoom {
    pub timeline: Timeline,
    pub state: Timeline,
    pub summary: RoomSummary,
}

impl JoinedRoom {
    /// Whether the room's members or name changed in this sync: what is known of it
    /// (direct or not, display names) must be read again.
    pub fn changed(&self) -> bool {
        self.summary.joined_member_count.is_some()
            || self
                .timeline
                .events()
                .chain(self.state.events())
                .any(|event| matches!(event.kind.as_deref(), Some("m.room.member" | "m.room.name")))
    }
}

/// Sent with a room's counts when they change; only whether the count came is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RoomSummary {
    #[serde(rename = "m.joined_member_count")]
    pub joined_member_count: Option<IgnoredAny>,
}

/// A room's timeline or state events; each is read alone, so one with odd fields is
/// skipped, never the sync around it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Timeline {
    events: Vec<Lenient<Event>>,
}

impl Timeline {
    /// The events that read.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter_map(|event| match event {
            Lenient::Read(event) => Some(event),
            Lenient::Unreadable(_) => None,
        })
    }
}

/// A room event: a message, or a change of members or name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Event {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub sender: Option<String>,
    pub event_id: Option<String>,
    /// Milliseconds since the epoch.
    pub origin_server_ts: Option<i64>,
    pub content: Content,
}

/// An `m.room.message`'s content (other events' content reads as empty).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Content {
    pub body: Option<String>,
    pub msgtype: Option<String>,
    #[serde(rename = "m.mentions")]
    pub mentions: Option<Mentions>,
    #[serde(rename = "m.relates_to")]
    pub relates_to: Option<Relation>,
}

/// How a message relates to another: an edit (`m.replace`), a thread (`m.thread`, to
/// the thread's root), and the message it replies to.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Relation {
    pub rel_type: Option<String>,
    pub event_id: Option<String>,
    #[serde(rename = "m.in_reply_to")]
    pub in_reply_to: Option<InReplyTo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct InReplyTo {
    pub event_id: Option<String>,
}

impl Content {
    /// The root of the thread the message is in, if it is in one.
    pub fn thread(&self) -> Option<&str> {
        let relation = self.relates_to.as_ref()?;
        (relation.rel_type.as_deref() == Some("m.thread"))
            .then_some(relation.event_id.as_deref())
            .flatten()
    }

    /// The message it replies to, if it is a reply.
    pub fn reply_to(&self) -> Option<&str> {
        self.relates_to
            .as_ref()?
            .in_reply_to
            .as_ref()?
            .event_id
            .as_deref()
    }

    /// Whether it replaces an earlier message (an edit).
    pub fn is_edit(&self) -> bool {
        self.relates_to
            .as_ref()
            .is_some_and(|r| r.rel_type.as_deref() == Some("m.replace"))
    }
}

/// `GET /rooms/{roomId}/messages`: a page of events, and where the next begins (absent
/// at the end of the room).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Messages {
    pub chunk: Vec<Lenient<Event>>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Mentions {
    pub user_ids: Vec<String>,
}

/// `GET /rooms/{roomId}/joined_members`: members by user id. A member that does not
/// read still counts as one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct JoinedMembers {
    pub joined: HashMap<String, Lenient<Member>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Member {
    pub display_name: Option<String>,
}

/// `GET /rooms/{roomId}/state/m.room.name/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RoomName {
    pub name: Option<String>,
}

/// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
#[derive(Debug, Deserialize)]
pub(super) struct Sent {
    pub event_id: String,
}

/// `GET /directory/room/{roomAlias}`.
#[derive(Debug, Deserialize)]
pub(super) struct RoomAlias {
    pub room_id: String,
}

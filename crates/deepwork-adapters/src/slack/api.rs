//! The shapes of the Slack answers Deepwork reads, from Slack's Web API and Socket Mode
//! references (only the fields used; the rest is ignored).

use super::AUTO_REPLY_EVENT;
use crate::http::Lenient;
use serde::Deserialize;

/// What every Web API answer carries: `ok`, and on failure the error's name (and for
/// `missing_scope`, the scope needed).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Envelope {
    pub ok: bool,
    pub error: Option<String>,
    pub needed: Option<String>,
}

/// `auth.test`.
#[derive(Debug, Deserialize)]
pub(super) struct AuthTest {
    pub user_id: String,
}

/// `conversations.list`.
#[derive(Debug, Deserialize)]
pub(super) struct ConversationList {
    #[serde(default = "Vec::new")]
    pub channels: Vec<Lenient<Conversation>>,
}

/// `conversations.history` and `conversations.replies`: a page of messages, and the
/// cursor to the next when there is more.
#[derive(Debug, Deserialize)]
pub(super) struct History {
    #[serde(default = "Vec::new")]
    pub messages: Vec<Lenient<SlackMessage>>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub response_metadata: Option<ResponseMetadata>,
}

impl History {
    /// The cursor to the next page, if there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        self.response_metadata
            .as_ref()
            .map(|m| m.next_cursor.as_str())
            .filter(|cursor| self.has_more && !cursor.is_empty())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResponseMetadata {
    pub next_cursor: String,
}

/// `chat.postMessage`: the channel's id (also when it was named) and the message's.
#[derive(Debug, Deserialize)]
pub(super) struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

/// `chat.getPermalink`.
#[derive(Debug, Deserialize)]
pub(super) struct Permalink {
    pub permalink: String,
}

/// `users.info`.
#[derive(Debug, Deserialize)]
pub(super) struct UserInfo {
    pub user: UserNames,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UserNames {
    pub name: Option<String>,
    pub profile: Option<DisplayName>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DisplayName {
    pub display_name: Option<String>,
}

impl UserNames {
    /// The name Slack shows: the display name if set, else the account name.
    pub fn shown(&self) -> Option<&str> {
        self.profile
            .as_ref()
            .and_then(|p| p.display_name.as_deref())
            .filter(|n| !n.is_empty())
            .or(self.name.as_deref())
    }
}

/// `conversations.info`.
#[derive(Debug, Deserialize)]
pub(super) struct ConversationInfo {
    pub channel: ChannelName,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChannelName {
    pub name: Option<String>,
    #[serde(default)]
    pub is_im: bool,
}

/// `users.profile.get`.
#[derive(Debug, Deserialize)]
pub(super) struct ProfileAnswer {
    pub profile: Profile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Profile {
    pub status_text: String,
    pub status_emoji: String,
    /// Unix seconds; 0 for none.
    pub status_expiration: i64,
}

/// `dnd.info`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DndInfo {
    pub snooze_enabled: bool,
    pub snooze_endtime: Option<i64>,
}

/// `apps.connections.open`.
#[derive(Debug, Deserialize)]
pub(super) struct ConnectionsOpen {
    pub url: String,
}

/// `oauth.v2.access`, for the user token.
#[derive(Debug, Deserialize)]
pub(super) struct OauthAccess {
    pub authed_user: Option<AuthedUser>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AuthedUser {
    pub access_token: Option<String>,
}

/// A Socket Mode frame: `hello`, `disconnect` (with its reason) or an envelope to
/// acknowledge, with an Events API event.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SocketFrame {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub envelope_id: Option<String>,
    pub reason: Option<String>,
    pub payload: Option<EventPayload>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EventPayload {
    pub event: Option<Lenient<SlackMessage>>,
}

/// A conversation as `conversations.list` names it.
#[derive(Debug, Deserialize)]
pub(super) struct Conversation {
    pub id: String,
}

/// A message as `conversations.history` lists it and `message` / `app_mention` events
/// carry it: the fields read. Each is read alone, so one with odd fields is skipped,
/// never the batch around it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SlackMessage {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub subtype: Option<String>,
    pub ts: Option<String>,
    pub user: Option<String>,
    pub bot_id: Option<String>,
    pub text: Option<String>,
    pub channel: Option<String>,
    pub channel_type: Option<String>,
    pub metadata: Option<Metadata>,
    /// The thread's first message, on every message of a thread (itself included).
    pub thread_ts: Option<String>,
    /// On a thread's first message: its newest reply, and who replied.
    pub latest_reply: Option<String>,
    pub reply_users: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Metadata {
    pub event_type: Option<String>,
}

impl SlackMessage {
    /// Who wrote it, unless it is the user's own or housekeeping (joins, edits).
    pub fn sender_other_than(&self, me: &str) -> Option<&str> {
        let housekeeping = self.subtype.as_deref().is_some_and(|s| s != "bot_message");
        if housekeeping || self.user.as_deref() == Some(me) {
            return None;
        }
        self.user.as_deref().or(self.bot_id.as_deref())
    }

    /// Written by `me` as a person: their own message, not housekeeping (a join, an
    /// edit), not sent for them by an app or as Deepwork's auto-reply.
    pub fn said_by(&self, me: &str) -> bool {
        let written = self.subtype.as_deref().is_none_or(|s| {
            // A reply also sent to the channel, a file with a comment, a `/me`.
            matches!(s, "thread_broadcast" | "file_share" | "me_message")
        });
        written && self.user.as_deref() == Some(me) && !self.automated()
    }

    /// Written by a bot, or an auto-reply (Deepwork's marks them): never answered.
    pub fn automated(&self) -> bool {
        self.bot_id.is_some()
            || self.metadata.as_ref().and_then(|m| m.event_type.as_deref())
                == Some(AUTO_REPLY_EVENT)
    }
}

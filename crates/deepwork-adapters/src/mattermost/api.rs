//! The shapes of the Mattermost answers and events that Deepwork reads, from the v4 API
//! and WebSocket references (only the fields used; the rest is ignored).

use crate::http::Lenient;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// An AppError, the body of a refusal (its `status_code` repeats the HTTP status).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AppError {
    pub id: String,
    pub message: String,
}

/// `GET /users/me` and `GET /users/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct User {
    pub id: Option<String>,
    pub username: Option<String>,
    pub props: Option<UserProps>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UserProps {
    /// The custom status, itself JSON in a string.
    #[serde(rename = "customStatus")]
    pub custom_status: Option<String>,
}

impl User {
    /// The custom status, if one is set.
    pub fn custom_status(&self) -> Option<CustomStatus> {
        let text = self.props.as_ref()?.custom_status.as_deref()?;
        let custom: CustomStatus = serde_json::from_str(text).ok()?;
        let set = |field: &Option<String>| field.as_deref().is_some_and(|f| !f.is_empty());
        (set(&custom.text) || set(&custom.emoji)).then_some(custom)
    }
}

/// A custom status as Mattermost keeps it, read and put back whole: the fields Deepwork
/// does not read (`duration`, and any a later Mattermost adds) are kept as they came.
/// Kept in the status snapshot too, in Mattermost's own field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CustomStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `GET /users/{id}/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Status {
    pub status: Option<String>,
    /// Whether the user set the status by hand (else Mattermost follows activity).
    pub manual: bool,
    /// Unix seconds; 0 for none.
    pub dnd_end_time: i64,
}

/// A channel, as `GET /users/{id}/channels` lists it and `GET /channels/{id}` answers.
#[derive(Debug, Deserialize)]
pub(super) struct Channel {
    pub id: String,
    /// `O` public, `P` private, `D` direct, `G` group message.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub last_post_at: i64,
    /// Empty for direct and group messages, which belong to no team.
    #[serde(default)]
    pub team_id: String,
}

/// `GET /teams/{id}`: the name its addresses use.
#[derive(Debug, Deserialize)]
pub(super) struct Team {
    pub name: String,
}

/// `GET /channels/{id}/posts`: posts by id, each read alone so one with odd fields is
/// skipped, never the channel's others.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PostList {
    pub posts: HashMap<String, Lenient<Post>>,
}

/// A post as the API and the `posted` event carry it.
#[derive(Debug, Deserialize)]
pub(super) struct Post {
    pub id: String,
    pub user_id: String,
    pub channel_id: String,
    pub create_at: i64,
    #[serde(default)]
    pub message: String,
    /// Empty for what a person wrote; system messages (joins, header changes) have one.
    #[serde(default, rename = "type")]
    pub kind: String,
    pub props: Option<PostProps>,
    /// The thread's first post, on a reply; empty otherwise.
    #[serde(default)]
    pub root_id: String,
    /// When it was deleted; 0 while it stands.
    #[serde(default)]
    pub delete_at: i64,
}

impl Post {
    /// From a bot, a webhook, or another Deepwork's auto-reply: never answered.
    pub fn automated(&self) -> bool {
        self.props.as_ref().is_some_and(|props| {
            props.from_bot.0 || props.from_webhook.0 || props.deepwork_auto_reply.0
        })
    }
}

/// The props that mark a post as automated.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PostProps {
    from_bot: Flag,
    from_webhook: Flag,
    /// [`AUTO_REPLY_PROP`](super::AUTO_REPLY_PROP).
    deepwork_auto_reply: Flag,
}

/// A prop that is set when it is `"true"` (as Mattermost writes them) or `true`; any
/// other value is unset, never a post that does not read.
#[derive(Debug, Default, Deserialize)]
#[serde(from = "FlagValue")]
struct Flag(bool);

#[derive(Deserialize)]
#[serde(untagged)]
enum FlagValue {
    Bool(bool),
    Text(String),
    Other(IgnoredAny),
}

impl From<FlagValue> for Flag {
    fn from(value: FlagValue) -> Self {
        Flag(match value {
            FlagValue::Bool(set) => set,
            FlagValue::Text(text) => text == "true",
            FlagValue::Other(_) => false,
        })
    }
}

/// An event on the event socket: its name, and for `posted` the post and whom it is for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SocketEvent {
    pub event: Option<String>,
    pub data: Posted,
}

/// A `posted` event's data.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Posted {
    /// The post, as JSON in a string.
    pub post: Option<String>,
    pub channel_type: Option<String>,
    /// The ids of the users mentioned, as a JSON list in a string.
    pub mentions: Option<String>,
    /// `@` and the username.
    pub sender_name: Option<String>,
    pub channel_display_name: Option<String>,
    /// Empty for direct and group messages.
    pub team_id: Option<String>,
}

/// The server's reply to a request on the event socket, by the request's `seq`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SocketReply {
    pub seq_reply: Option<i64>,
    pub status: Option<String>,
    pub error: Option<SocketError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SocketError {
    pub id: Option<String>,
}

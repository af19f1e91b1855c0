//! The shapes of the identity platform's and Graph's answers that Deepwork reads, from
//! Microsoft's references (only the fields used; the rest is ignored).

use crate::http::Lenient;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The token endpoint's answer to a refresh-token or device-code grant.
#[derive(Debug, Deserialize)]
pub(super) struct Tokens {
    pub access_token: Option<String>,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
}

/// The device-code endpoint's answer.
#[derive(Debug, Deserialize)]
pub(super) struct DeviceCodeAnswer {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub message: String,
    pub interval: Option<u64>,
    pub expires_in: Option<u64>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct OauthRefusal {
    pub error: String,
    pub error_description: String,
}

/// Graph's error answer, `{"error": {"code", "message"}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GraphRefusal {
    pub error: GraphErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GraphErrorDetail {
    pub code: String,
    pub message: String,
}

/// A collection; entries that do not read as `T` are skipped, not fatal. Where there
/// is more, `@odata.nextLink` is the address of the next page.
#[derive(Debug, Deserialize)]
pub(super) struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<Lenient<T>>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

impl<T> Page<T> {
    pub fn entries(self) -> impl Iterator<Item = T> {
        self.value.into_iter().filter_map(Lenient::into_read)
    }
}

/// `GET /me`.
#[derive(Debug, Deserialize)]
pub(super) struct User {
    pub id: String,
}

/// A chat from `GET /me/chats`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Chat {
    pub id: String,
    pub chat_type: String,
    pub topic: Option<String>,
    pub web_url: Option<String>,
    pub last_message_preview: Option<MessagePreview>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessagePreview {
    pub created_date_time: Option<Timestamp>,
}

/// A chat message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChatMessage {
    pub id: String,
    pub message_type: String,
    pub created_date_time: Timestamp,
    /// Set once the message is deleted.
    #[serde(default)]
    pub deleted_date_time: Option<Timestamp>,
    pub from: Option<IdentitySet>,
    pub body: ItemBody,
    #[serde(default)]
    pub mentions: Vec<Mention>,
    /// The link to the message in Teams.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The message `POST /chats/{id}/messages` (or a channel's) created.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Sent {
    pub id: String,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// Who sent a message: a person or an app.
#[derive(Debug, Deserialize)]
pub(super) struct IdentitySet {
    pub user: Option<Identity>,
    pub application: Option<Identity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Identity {
    pub id: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Mention {
    pub mentioned: Option<Mentioned>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Mentioned {
    pub user: Option<Identity>,
}

/// A message body or status message text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ItemBody {
    pub content: String,
    pub content_type: String,
}

impl ItemBody {
    pub fn text(content: &str) -> Self {
        ItemBody {
            content: content.to_owned(),
            content_type: "text".into(),
        }
    }
}

/// `GET /me/presence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Presence {
    pub availability: Option<String>,
    pub status_message: Option<StatusMessage>,
}

/// A presence status message, as read and as set (`setStatusMessage`). Kept in the
/// status snapshot too, in Graph's own field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusMessage {
    #[serde(default)]
    pub message: ItemBody,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date_time: Option<DateTimeTimeZone>,
}

/// Graph's `dateTimeTimeZone`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DateTimeTimeZone {
    pub date_time: String,
    pub time_zone: String,
}

//! Whether the user answered held messages where they live. Per room, one
//! `GET /rooms/{roomId}/messages` backwards from now, filtered on the server to the
//! user's own `m.room.message` events (threads are part of a room's timeline, so
//! thread replies come with it), paged back only until the earliest item.
//!
//! What counts is a message the user wrote after the item arrived: in the room's main
//! timeline (in a direct room that is the answer; in a group room, the user speaking
//! up there after it is taken as having seen it), in the item's thread, or as a reply
//! to it. In a direct room a message in any thread counts too. Notices never count:
//! they are how Deepwork sends its auto-replies. Nor do edits of older messages.

use super::MatrixAdapter;
use super::api::{Event, Messages};
use crate::http::Lenient;
use crate::{AdapterError, Answered, Asked, FollowUp, answers_per_conversation};
use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// Events asked for per page.
const PAGE: u32 = 50;
/// Pages read per room at most: further back than this many of the user's own
/// messages, an answer is left untold.
const MOST_PAGES: usize = 5;

/// A message of the user's.
struct Said {
    at: Timestamp,
    thread: Option<String>,
    reply_to: Option<String>,
}

#[async_trait]
impl FollowUp for MatrixAdapter {
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        answers_per_conversation("matrix", asked, |room, items| async move {
            self.answered_in(room, &items).await
        })
        .await
    }
}

impl MatrixAdapter {
    /// The answers to `items`, all in `room`.
    async fn answered_in(
        &self,
        room: &str,
        items: &[&Asked],
    ) -> Result<Vec<Answered>, AdapterError> {
        let Some(earliest) = items.iter().map(|item| item.since).min() else {
            return Ok(Vec::new());
        };
        let said = self.said_since(room, earliest).await?;
        let mut direct = None;
        let mut answered = Vec::new();
        for item in items {
            let id = item.message_id.as_str();
            let after: Vec<&Said> = said.iter().filter(|s| s.at > item.since).collect();
            let answer = |counts: &dyn Fn(&Said) -> bool| {
                after.iter().filter(|s| counts(s)).map(|s| s.at).min()
            };
            let mut at = answer(&|s| {
                s.thread.is_none()
                    || s.thread.as_deref() == Some(id)
                    || s.reply_to.as_deref() == Some(id)
            });
            // Said in some other thread: it counts in a direct room, or where that thread
            // is the one the item itself is in. Each is asked only when needed.
            if at.is_none() && after.iter().any(|s| s.thread.is_some()) {
                let is_direct = match direct {
                    Some(known) => known,
                    None => *direct.insert(self.room_info(room).await?.direct),
                };
                at = if is_direct {
                    answer(&|_| true)
                } else {
                    match self.thread_of(room, id).await? {
                        Some(root) => answer(&|s| s.thread.as_deref() == Some(root.as_str())),
                        None => None,
                    }
                };
            }
            answered.extend(at.map(|at| Answered {
                message_id: item.message_id.clone(),
                at,
            }));
        }
        Ok(answered)
    }

    /// The user's own messages in `room` after `since`, newest first.
    async fn said_since(&self, room: &str, since: Timestamp) -> Result<Vec<Said>, AdapterError> {
        let filter = json!({ "types": ["m.room.message"], "senders": [self.user_id] }).to_string();
        let mut said = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..MOST_PAGES {
            let mut query = vec![
                ("dir", "b".to_owned()),
                ("limit", PAGE.to_string()),
                ("filter", filter.clone()),
            ];
            if let Some(from) = from.take() {
                query.push(("from", from));
            }
            let page: Messages = self
                .call(
                    Method::GET,
                    &["rooms", room, "messages"],
                    &query,
                    None,
                    Duration::ZERO,
                )
                .await?;
            let mut reached = page.chunk.is_empty();
            for event in page.chunk.iter().filter_map(Lenient::as_read) {
                let Some(at) = event
                    .origin_server_ts
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                else {
                    continue;
                };
                if at <= since {
                    reached = true;
                    continue;
                }
                if self.said(event) {
                    said.push(Said {
                        at,
                        thread: event.content.thread().map(str::to_owned),
                        reply_to: event.content.reply_to().map(str::to_owned),
                    });
                }
            }
            match page.end {
                Some(end) if !reached => from = Some(end),
                _ => break,
            }
        }
        Ok(said)
    }

    /// Whether `event` is something the user said: their own message with a body, not
    /// a notice (Deepwork's auto-replies are notices) and not an edit.
    fn said(&self, event: &Event) -> bool {
        let content = &event.content;
        event.kind.as_deref() == Some("m.room.message")
            && event.sender.as_deref() == Some(self.user_id.as_str())
            && content.body.is_some()
            && content.msgtype.as_deref() != Some("m.notice")
            && !content.is_edit()
    }

    /// The root of the thread `event_id` is in, if it is in one
    /// (`GET /rooms/{roomId}/event/{eventId}`); an event the server no longer has is in
    /// none.
    async fn thread_of(&self, room: &str, event_id: &str) -> Result<Option<String>, AdapterError> {
        match self
            .call::<Event>(
                Method::GET,
                &["rooms", room, "event", event_id],
                &[],
                None,
                Duration::ZERO,
            )
            .await
        {
            Ok(event) => Ok(event.content.thread().map(str::to_owned)),
            Err(AdapterError::Malformed { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A link to `event_id` in `room_id` that any Matrix client opens (matrix.to, its parts
/// percent-encoded), routed through `server`, the user's own homeserver, which is in
/// the room: a room id alone does not say where to find the room.
pub(super) fn permalink(room_id: &str, event_id: &str, server: &str) -> String {
    format!(
        "https://matrix.to/#/{}/{}?via={}",
        percent_encoded(room_id),
        percent_encoded(event_id),
        percent_encoded(server)
    )
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permalinks_are_percent_encoded_and_routed() {
        assert_eq!(
            permalink("!room:example.org", "$ev/ent+1", "example.org"),
            "https://matrix.to/#/%21room%3Aexample.org/%24ev%2Fent%2B1?via=example.org"
        );
    }

    #[test]
    fn threads_replies_and_edits_are_told_apart() {
        let content = |value: serde_json::Value| -> super::super::api::Content {
            serde_json::from_value(value).unwrap()
        };
        let in_thread = content(json!({
            "body": "on it",
            "m.relates_to": { "rel_type": "m.thread", "event_id": "$root", "m.in_reply_to": { "event_id": "$last" } },
        }));
        assert_eq!(in_thread.thread(), Some("$root"));
        assert_eq!(in_thread.reply_to(), Some("$last"));
        let reply = content(
            json!({ "body": "yes", "m.relates_to": { "m.in_reply_to": { "event_id": "$q" } } }),
        );
        assert_eq!((reply.thread(), reply.reply_to()), (None, Some("$q")));
        assert!(
            content(json!({ "body": "* fixed", "m.relates_to": { "rel_type": "m.replace", "event_id": "$old" } }))
                .is_edit()
        );
    }
}

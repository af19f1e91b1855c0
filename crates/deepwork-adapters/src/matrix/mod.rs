//! Matrix, over the client-server API: presence for the focus status, `/sync` long-poll
//! for direct messages and mentions, `m.notice` for auto-replies (clients and bots do
//! not answer notices, which also keeps two Deepwork users from replying to each other).
//! Held messages link to matrix.to; answers where items live are read back with
//! `/rooms/{roomId}/messages` (see `follow_up`).

use crate::plain;
use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Post,
    PostedMessage, Poster, Replier, ReplyTarget, StatusAdapter, StatusSnapshot,
};
use api::{Content, JoinedMembers, MatrixError, RoomName, SyncResponse};
use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod api;
mod follow_up;

const NAME: &str = "matrix";
/// Most events read per room per sync.
const TIMELINE_LIMIT: u32 = 100;
/// Time allowed for a request beyond its long-poll wait.
const REQUEST_SLACK: Duration = Duration::from_secs(15);

/// A Matrix account.
#[derive(Debug)]
pub struct MatrixAdapter {
    http: reqwest::Client,
    homeserver: Url,
    user_id: String,
    access_token: String,
    rooms: Mutex<HashMap<String, RoomInfo>>,
    next_txn: AtomicU64,
}

#[derive(Clone, Debug)]
struct RoomInfo {
    direct: bool,
    name: Option<String>,
    /// Members' display names, by user id.
    display_names: HashMap<String, String>,
}

/// The presence recorded before a session, as `GET /presence/{userId}/status` answers
/// it (its other fields are not kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Presence {
    presence: String,
    #[serde(default)]
    status_msg: Option<String>,
}

impl MatrixAdapter {
    /// An adapter for `user_id` on `homeserver` (e.g. `https://matrix.example.org`).
    pub fn new(
        homeserver: &str,
        user_id: &str,
        access_token: String,
    ) -> Result<Self, AdapterError> {
        let homeserver = Url::parse(homeserver).map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("the homeserver address {homeserver:?} is not a URL ({e}); fix matrix.homeserver in the config"),
        })?;
        let http = crate::http::client(NAME, None)?;
        Ok(MatrixAdapter {
            http,
            homeserver,
            user_id: user_id.to_owned(),
            access_token,
            rooms: Mutex::new(HashMap::new()),
            next_txn: AtomicU64::new(0),
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, AdapterError> {
        let mut url = self.homeserver.clone();
        url.path_segments_mut()
            .map_err(|()| AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("{} cannot be a homeserver address", self.homeserver),
            })?
            .pop_if_empty()
            .extend(["_matrix", "client", "v3"])
            .extend(segments);
        Ok(url)
    }

    /// A client-server API call, its answer read as `T` (`IgnoredAny` where only success
    /// matters).
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
        wait: Duration,
    ) -> Result<T, AdapterError> {
        let mut request = self
            .http
            .request(method, self.url(segments)?)
            .bearer_auth(&self.access_token)
            .query(query)
            .timeout(wait + REQUEST_SLACK);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&without_url(&e)))?;
        let status = response.status();
        let retry_after = crate::http::retry_after(response.headers(), jiff::Timestamp::now());
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(&without_url(&e)))?;
        if status.is_success() {
            // Every Matrix answer is a JSON object (`{}` when there is nothing to say),
            // so an empty body is as wrong as one that is not JSON.
            return serde_json::from_str(&text).map_err(|e| {
                if e.is_data() {
                    malformed(&format!("{}: {e}", segments.join("/")))
                } else {
                    malformed(&format!("a {status} answer that is not JSON"))
                }
            });
        }
        let MatrixError {
            errcode,
            error: message,
            retry_after_ms,
        } = serde_json::from_str(&text).unwrap_or_default();
        let refusal = crate::http::Refusal {
            adapter: NAME,
            status,
            // Matrix says how long to wait in the body too (`retry_after_ms`).
            retry_after: retry_after_ms.map(Duration::from_millis).or(retry_after),
            default_wait: Duration::from_secs(5),
            detail: format!("{errcode} {message}"),
        };
        Err(refusal.into_error(|status| match status {
            StatusCode::UNAUTHORIZED => format!(
                "the access token for {} was refused ({errcode}); sign in to Matrix again",
                self.user_id
            ),
            _ => format!("{} may not do this ({errcode}: {message})", self.user_id),
        }))
    }

    /// Whether a room is a direct chat, and its name. An error here fails the whole
    /// fetch, so the cursor does not move past a message that could not be judged.
    async fn room_info(&self, room_id: &str) -> Result<RoomInfo, AdapterError> {
        if let Some(info) = self
            .rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(room_id)
        {
            return Ok(info.clone());
        }
        let members: JoinedMembers = self
            .call(
                Method::GET,
                &["rooms", room_id, "joined_members"],
                &[],
                None,
                Duration::ZERO,
            )
            .await?;
        let count = members.joined.len();
        let display_names = members
            .joined
            .into_iter()
            .filter_map(|(id, member)| {
                let name = plain(&member.into_read()?.display_name?);
                (!name.trim().is_empty()).then_some((id, name))
            })
            .collect();
        // A room without a name answers 404 M_NOT_FOUND; any other failure fails the fetch.
        let name = match self
            .call::<RoomName>(
                Method::GET,
                &["rooms", room_id, "state", "m.room.name", ""],
                &[],
                None,
                Duration::ZERO,
            )
            .await
        {
            Ok(state) => state.name.as_deref().map(plain),
            Err(AdapterError::Malformed { .. }) => None,
            Err(error) => return Err(error),
        };
        let info = RoomInfo {
            direct: count > 0 && count <= 2,
            name,
            display_names,
        };
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(room_id.to_owned(), info.clone());
        Ok(info)
    }

    async fn put_presence(&self, presence: &str, status_msg: &str) -> Result<(), AdapterError> {
        let body = json!({ "presence": presence, "status_msg": status_msg });
        self.call::<IgnoredAny>(
            Method::PUT,
            &["presence", &self.user_id, "status"],
            &[],
            Some(body),
            Duration::ZERO,
        )
        .await
        .map(drop)
    }

    /// The user's homeserver, as their id names it (`@alice:example.org`).
    fn server_name(&self) -> &str {
        self.user_id
            .split_once(':')
            .map_or(self.user_id.as_str(), |(_, server)| server)
    }

    fn mentions_me(&self, content: &Content) -> bool {
        let listed = content
            .mentions
            .as_ref()
            .is_some_and(|m| m.user_ids.contains(&self.user_id));
        let body = content.body.as_deref().unwrap_or("").to_lowercase();
        let localpart = self
            .user_id
            .trim_start_matches('@')
            .split(':')
            .next()
            .unwrap_or("")
            .to_lowercase();
        listed
            || body.contains(&self.user_id.to_lowercase())
            || (!localpart.is_empty() && contains_word(&body, &localpart))
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

/// reqwest errors name the URL, which carries no secret here but is noise for people.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "the homeserver");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl StatusAdapter for MatrixAdapter {
    fn name(&self) -> &str {
        NAME
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let presence: Presence = self
            .call(
                Method::GET,
                &["presence", &self.user_id, "status"],
                &[],
                None,
                Duration::ZERO,
            )
            .await?;
        let data = serde_json::to_value(&presence).map_err(|e| malformed(&e.to_string()))?;
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        self.put_presence("unavailable", &status.text).await
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let before: Presence = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored presence: {e}")))?;
        self.put_presence(&before.presence, &before.status_msg.unwrap_or_default())
            .await
    }
}

#[async_trait]
impl MessageSource for MatrixAdapter {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let filter = json!({
            "presence": { "not_types": ["*"] },
            "account_data": { "not_types": ["*"] },
            "room": {
                "timeline": { "limit": if cursor.is_some() { TIMELINE_LIMIT } else { 1 }, "types": ["m.room.message", "m.room.member", "m.room.name"] },
                "state": { "lazy_load_members": true },
                "ephemeral": { "not_types": ["*"] },
                "account_data": { "not_types": ["*"] },
            },
        });
        // Syncing as `unavailable` keeps the default `online` from undoing the focus status.
        let mut query = vec![
            ("filter", filter.to_string()),
            ("set_presence", "unavailable".to_owned()),
            (
                "timeout",
                if cursor.is_some() {
                    wait.as_millis().to_string()
                } else {
                    "0".to_owned()
                },
            ),
        ];
        if let Some(cursor) = cursor {
            query.push(("since", cursor.to_owned()));
        }
        let wait = if cursor.is_some() {
            wait
        } else {
            Duration::ZERO
        };
        let sync: SyncResponse = self
            .call(Method::GET, &["sync"], &query, None, wait)
            .await?;
        let mut messages = Vec::new();
        if cursor.is_some() {
            for (room_id, room) in &sync.rooms.join {
                if room.changed() {
                    self.rooms
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(room_id);
                }
                for event in room.timeline.events() {
                    if event.kind.as_deref() != Some("m.room.message")
                        || event.sender.as_deref() == Some(&self.user_id)
                    {
                        continue;
                    }
                    let content = &event.content;
                    let Some(body) = content.body.as_deref() else {
                        continue;
                    };
                    let info = self.room_info(room_id).await?;
                    let addressed = if info.direct {
                        Addressed::Direct
                    } else if self.mentions_me(content) {
                        Addressed::Mention
                    } else {
                        continue;
                    };
                    let event_id = event.event_id.clone().unwrap_or_default();
                    let sender = event.sender.clone().unwrap_or_default();
                    messages.push((
                        event.origin_server_ts.unwrap_or(0),
                        IncomingMessage {
                            url: Some(follow_up::permalink(room_id, &event_id, self.server_name())),
                            id: event_id,
                            sender_name: info.display_names.get(&sender).cloned(),
                            channel: if info.direct {
                                None
                            } else {
                                info.name.clone().or_else(|| Some(room_id.clone()))
                            },
                            addressed,
                            text: plain(body),
                            automated: content.msgtype.as_deref() == Some("m.notice"),
                            reply_to: ReplyTarget {
                                conversation: room_id.clone(),
                                sender: sender.clone(),
                            },
                            sender,
                            usual_class: None,
                        },
                    ));
                }
            }
        }
        messages.sort_by_key(|(ts, _)| *ts);
        Ok(Batch {
            messages: messages.into_iter().map(|(_, m)| m).collect(),
            cursor: sync.next_batch,
        })
    }
}

impl MatrixAdapter {
    /// Sends `content` to `room` as an `m.room.message`, with a transaction id of its
    /// own; the event's id.
    async fn send(&self, room: &str, content: Value) -> Result<String, AdapterError> {
        let txn = format!(
            "deepwork-{}-{}",
            jiff::Timestamp::now().as_millisecond(),
            self.next_txn.fetch_add(1, Ordering::Relaxed)
        );
        let sent: api::Sent = self
            .call(
                Method::PUT,
                &["rooms", room, "send", "m.room.message", &txn],
                &[],
                Some(content),
                Duration::ZERO,
            )
            .await?;
        Ok(sent.event_id)
    }
}

#[async_trait]
impl Replier for MatrixAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let body = json!({ "msgtype": "m.notice", "body": text });
        self.send(&to.conversation, body).await.map(drop)
    }
}

#[async_trait]
impl Poster for MatrixAdapter {
    /// `channel` is a room id (`!abc:example.org`) or an alias (`#standup:example.org`),
    /// looked up in the room directory. `m.mentions` is empty: the post notifies no one.
    async fn post(&self, channel: &str, post: &Post) -> Result<PostedMessage, AdapterError> {
        let room = if channel.starts_with('#') {
            let found: api::RoomAlias = self
                .call(
                    Method::GET,
                    &["directory", "room", channel],
                    &[],
                    None,
                    Duration::ZERO,
                )
                .await?;
            found.room_id
        } else {
            channel.to_owned()
        };
        let content = json!({
            "msgtype": "m.text",
            "body": post.markdown,
            "format": "org.matrix.custom.html",
            "formatted_body": post.html,
            "m.mentions": {},
        });
        let event_id = self.send(&room, content).await?;
        Ok(PostedMessage {
            link: Some(follow_up::permalink(&room, &event_id, self.server_name())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_whole_words() {
        assert!(contains_word("hey alice, the deploy", "alice"));
        assert!(!contains_word("malice aforethought", "alice"));
        assert!(contains_word("alice", "alice"));
    }

    #[test]
    fn paths_are_encoded() {
        let adapter =
            MatrixAdapter::new("http://127.0.0.1:8008/", "@alice:localhost", "t".into()).unwrap();
        let url = adapter
            .url(&["presence", "@alice:localhost", "status"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8008/_matrix/client/v3/presence/@alice:localhost/status"
        );
        let url = adapter.url(&["rooms", "!a/b:x", "send"]).unwrap();
        assert!(url.as_str().contains("!a%2Fb:x"), "{url}");
    }

    #[test]
    fn an_odd_event_costs_itself_not_the_sync() {
        let sync: SyncResponse = serde_json::from_value(json!({
            "next_batch": "s2",
            "rooms": { "join": {
                "!a:x": { "timeline": { "events": [
                    { "type": "m.room.message", "sender": "@bob:x", "content": "not an object" },
                    { "type": "m.room.message", "sender": "@bob:x", "content": { "body": "hi", "msgtype": "m.text" } },
                ] } },
                "!b:x": {
                    "state": { "events": [{ "type": "m.room.member", "content": { "membership": "join" } }] },
                    "summary": {},
                },
                "!c:x": { "summary": { "m.joined_member_count": 3 } },
            } },
        }))
        .unwrap();
        let rooms = &sync.rooms.join;
        let read: Vec<_> = rooms["!a:x"].timeline.events().collect();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].content.body.as_deref(), Some("hi"));
        assert!(!rooms["!a:x"].changed());
        assert!(rooms["!b:x"].changed(), "a member event");
        assert!(rooms["!c:x"].changed(), "a new member count");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(plain("a\u{1b}[31mb\nc\u{0}"), "a[31mb\nc");
    }
}

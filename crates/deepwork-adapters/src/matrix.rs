//! Matrix, over the client-server API: presence for the focus status, `/sync` long-poll
//! for direct messages and mentions, `m.notice` for auto-replies (clients and bots do
//! not answer notices, which also keeps two Deepwork users from replying to each other).

use crate::plain;
use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// The presence recorded before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Presence {
    presence: String,
    #[serde(default)]
    status_msg: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SyncResponse {
    next_batch: String,
    #[serde(default)]
    rooms: SyncRooms,
}

#[derive(Debug, Default, Deserialize)]
struct SyncRooms {
    #[serde(default)]
    join: HashMap<String, JoinedRoom>,
}

#[derive(Debug, Default, Deserialize)]
struct JoinedRoom {
    #[serde(default)]
    timeline: Timeline,
    #[serde(default)]
    state: Timeline,
    #[serde(default)]
    summary: Value,
}

impl JoinedRoom {
    /// Whether the room's members or name changed in this sync: what is known of it
    /// (direct or not, display names) must be read again.
    fn changed(&self) -> bool {
        self.summary.get("m.joined_member_count").is_some()
            || self
                .timeline
                .events
                .iter()
                .chain(&self.state.events)
                .any(|event| {
                    matches!(
                        event["type"].as_str(),
                        Some("m.room.member" | "m.room.name")
                    )
                })
    }
}

#[derive(Debug, Default, Deserialize)]
struct Timeline {
    #[serde(default)]
    events: Vec<Value>,
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

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
        wait: Duration,
    ) -> Result<Value, AdapterError> {
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
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return json.ok_or_else(|| malformed(&format!("a {status} answer that is not JSON")));
        }
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j[name].as_str())
                .unwrap_or("")
                .to_owned()
        };
        let (errcode, message) = (field("errcode"), field("error"));
        // Matrix says how long to wait in the body too (`retry_after_ms`).
        let from_body = json
            .as_ref()
            .and_then(|j| j["retry_after_ms"].as_u64())
            .map(Duration::from_millis);
        let refusal = crate::http::Refusal {
            adapter: NAME,
            status,
            retry_after: from_body.or(retry_after),
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
        let members = self
            .call(
                Method::GET,
                &["rooms", room_id, "joined_members"],
                &[],
                None,
                Duration::ZERO,
            )
            .await?;
        let joined = members["joined"].as_object();
        let count = joined.map_or(0, serde_json::Map::len);
        let display_names = joined
            .into_iter()
            .flatten()
            .filter_map(|(id, member)| {
                let name = plain(member["display_name"].as_str()?);
                (!name.trim().is_empty()).then(|| (id.clone(), name))
            })
            .collect();
        // A room without a name answers 404 M_NOT_FOUND; any other failure fails the fetch.
        let name = match self
            .call(
                Method::GET,
                &["rooms", room_id, "state", "m.room.name", ""],
                &[],
                None,
                Duration::ZERO,
            )
            .await
        {
            Ok(state) => state["name"].as_str().map(plain),
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
        self.call(
            Method::PUT,
            &["presence", &self.user_id, "status"],
            &[],
            Some(body),
            Duration::ZERO,
        )
        .await
        .map(drop)
    }

    fn mentions_me(&self, content: &Value) -> bool {
        let listed = content["m.mentions"]["user_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(&self.user_id)));
        let body = content["body"].as_str().unwrap_or("").to_lowercase();
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
        let now = self
            .call(
                Method::GET,
                &["presence", &self.user_id, "status"],
                &[],
                None,
                Duration::ZERO,
            )
            .await?;
        let presence: Presence =
            serde_json::from_value(now).map_err(|e| malformed(&format!("presence: {e}")))?;
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
        let response = self
            .call(Method::GET, &["sync"], &query, None, wait)
            .await?;
        let sync: SyncResponse =
            serde_json::from_value(response).map_err(|e| malformed(&format!("sync: {e}")))?;
        let mut messages = Vec::new();
        if cursor.is_some() {
            for (room_id, room) in &sync.rooms.join {
                if room.changed() {
                    self.rooms
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(room_id);
                }
                for event in &room.timeline.events {
                    if event["type"] != "m.room.message"
                        || event["sender"].as_str() == Some(&self.user_id)
                    {
                        continue;
                    }
                    let content = &event["content"];
                    let Some(body) = content["body"].as_str() else {
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
                    let event_id = event["event_id"].as_str().unwrap_or_default().to_owned();
                    let sender = event["sender"].as_str().unwrap_or_default().to_owned();
                    messages.push((
                        event["origin_server_ts"].as_i64().unwrap_or(0),
                        IncomingMessage {
                            url: Some(format!("https://matrix.to/#/{room_id}/{event_id}")),
                            id: event_id,
                            sender_name: info.display_names.get(&sender).cloned(),
                            channel: if info.direct {
                                None
                            } else {
                                info.name.clone().or_else(|| Some(room_id.clone()))
                            },
                            addressed,
                            text: plain(body),
                            automated: content["msgtype"] == "m.notice",
                            reply_to: ReplyTarget {
                                conversation: room_id.clone(),
                                sender: sender.clone(),
                            },
                            sender,
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

#[async_trait]
impl Replier for MatrixAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let txn = format!(
            "deepwork-{}-{}",
            jiff::Timestamp::now().as_millisecond(),
            self.next_txn.fetch_add(1, Ordering::Relaxed)
        );
        let body = json!({ "msgtype": "m.notice", "body": text });
        self.call(
            Method::PUT,
            &["rooms", &to.conversation, "send", "m.room.message", &txn],
            &[],
            Some(body),
            Duration::ZERO,
        )
        .await
        .map(drop)
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
    fn control_characters_are_dropped() {
        assert_eq!(plain("a\u{1b}[31mb\nc\u{0}"), "a[31mb\nc");
    }
}

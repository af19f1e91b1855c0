//! Mattermost, over the v4 REST API with a personal access token: the user status
//! (`PUT /users/{id}/status` with `dnd` and `dnd_end_time`) and the custom status
//! (`PUT`/`DELETE /users/{id}/status/custom`); messages from the WebSocket's `posted`
//! events, with what came while no socket was open read back from
//! `GET /users/{id}/channels` and `GET /channels/{id}/posts?since=`; auto-replies with
//! `POST /posts`, marked in the post's props. Held posts link to their permalink; answers
//! where items live are read back with `GET /channels/{id}/posts?since=` (see
//! `follow_up`). Errors come as an AppError body (`id`, `message`, `status_code`); rate
//! limits as HTTP 429 with `X-Ratelimit-Reset`.

use crate::http::Lenient;
use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Post as Outgoing,
    PostedMessage, Poster, Replier, ReplyTarget, StatusAdapter, StatusSnapshot, plain,
};
use api::{
    AppError, Channel, CustomStatus, Post, PostList, SocketEvent, SocketReply, Status, Team, User,
};
use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message;

mod api;
mod follow_up;

const NAME: &str = "mattermost";
/// Mattermost's limit for a custom status text.
const STATUS_LIMIT: usize = 100;
/// The emoji shown with the focus status.
pub const FOCUS_EMOJI: &str = "headphones";
/// The post prop that marks Deepwork's auto-replies, so no Deepwork answers them.
pub const AUTO_REPLY_PROP: &str = "deepwork_auto_reply";
/// The server pings an idle socket about once a minute; this long without any frame
/// means the connection is gone.
const SILENCE: Duration = Duration::from_secs(150);
/// How long the server may take to accept the token on a new socket.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// A Mattermost account.
#[derive(Debug)]
pub struct MattermostAdapter {
    http: reqwest::Client,
    server: Url,
    token: String,
    me: OnceCell<Me>,
    usernames: Mutex<HashMap<String, String>>,
    /// Teams' names by id, for links, asked once each.
    teams: Mutex<HashMap<String, String>>,
}

/// The token's own account.
#[derive(Clone, Debug)]
struct Me {
    id: String,
    username: String,
}

/// The status and custom status from before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct MattermostStatus {
    user_id: String,
    status: String,
    /// Whether the user set the status by hand (else Mattermost follows activity).
    manual: bool,
    /// Unix seconds; 0 for none.
    dnd_end_time: i64,
    /// The custom status as Mattermost keeps it, if any.
    custom: Option<CustomStatus>,
}

impl MattermostAdapter {
    /// An adapter for the server at `server` (e.g. `https://chat.example.org`).
    pub fn new(server: &str, token: String) -> Result<Self, AdapterError> {
        let server = Url::parse(server).map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("the Mattermost address {server:?} is not a URL ({e})"),
        })?;
        let http = crate::http::client(NAME, Some(Duration::from_secs(30)))?;
        Ok(MattermostAdapter {
            http,
            server,
            token,
            me: OnceCell::new(),
            usernames: Mutex::default(),
            teams: Mutex::default(),
        })
    }

    fn api_url(&self, segments: &[&str]) -> Result<Url, AdapterError> {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .map_err(|()| malformed("the server address cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v4"])
            .extend(segments);
        Ok(url)
    }

    /// A v4 API call, its answer read as `T` (`IgnoredAny` where only success matters).
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<T, AdapterError> {
        self.call_with_query(method, segments, &[], body).await
    }

    async fn call_with_query<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, AdapterError> {
        let url = self.api_url(segments)?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let status = response.status();
        // Mattermost names the wait in X-Ratelimit-Reset (seconds until the limit resets).
        let reset = response
            .headers()
            .get("X-Ratelimit-Reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let retry_after = crate::http::retry_after(response.headers(), jiff::Timestamp::now());
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if status.is_success() {
            // Calls that succeed with no content answer nothing to read.
            let text = if text.trim().is_empty() {
                "null"
            } else {
                &text
            };
            return serde_json::from_str(text).map_err(|e| {
                malformed(&format!("{}: unexpected answer ({e})", segments.join("/")))
            });
        }
        let AppError { id, message } = serde_json::from_str(&text).unwrap_or_default();
        let refusal = crate::http::Refusal {
            adapter: NAME,
            status,
            retry_after: reset.or(retry_after),
            default_wait: Duration::from_secs(1),
            detail: format!("{id} {message}"),
        };
        Err(refusal.into_error(|status| match status {
            StatusCode::UNAUTHORIZED => format!(
                "the Mattermost token was refused ({id}); create a new personal access token"
            ),
            _ => format!("the Mattermost account may not do this ({id}: {message})"),
        }))
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

#[async_trait]
impl StatusAdapter for MattermostAdapter {
    fn name(&self) -> &str {
        NAME
    }

    fn status_limit(&self) -> usize {
        STATUS_LIMIT
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let me: User = self.call(Method::GET, &["users", "me"], None).await?;
        let user_id = me
            .id
            .clone()
            .ok_or_else(|| malformed("users/me has no id"))?;
        let status: Status = self
            .call(Method::GET, &["users", &user_id, "status"], None)
            .await?;
        let before = MattermostStatus {
            status: status.status.unwrap_or_else(|| "online".into()),
            manual: status.manual,
            dnd_end_time: status.dnd_end_time,
            custom: me.custom_status(),
            user_id,
        };
        let data = serde_json::to_value(before).map_err(|e| malformed(&e.to_string()))?;
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        let user_id = self.me().await?.id.as_str();
        let until = status.until.as_second();
        let dnd = json!({ "user_id": user_id, "status": "dnd", "dnd_end_time": until });
        self.call::<IgnoredAny>(Method::PUT, &["users", user_id, "status"], Some(dnd))
            .await?;
        let custom = json!({
            "emoji": FOCUS_EMOJI,
            "text": status.text,
            "duration": "date_and_time",
            "expires_at": status.until.to_string(),
        });
        self.call::<IgnoredAny>(
            Method::PUT,
            &["users", user_id, "status", "custom"],
            Some(custom),
        )
        .await
        .map(drop)
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let before: MattermostStatus = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored status: {e}")))?;
        let now = jiff::Timestamp::now().as_second();
        // A status the user did not set by hand goes back to following activity ("online").
        let (status, end) = match (before.manual, before.status.as_str()) {
            (true, "dnd") if before.dnd_end_time != 0 && before.dnd_end_time <= now => {
                ("online", 0)
            }
            (true, other) => (other, before.dnd_end_time),
            (false, _) => ("online", 0),
        };
        let mut body = json!({ "user_id": before.user_id, "status": status });
        if status == "dnd" && end > 0 {
            body["dnd_end_time"] = json!(end);
        }
        self.call::<IgnoredAny>(
            Method::PUT,
            &["users", &before.user_id, "status"],
            Some(body),
        )
        .await?;
        let expired = before
            .custom
            .as_ref()
            .and_then(|c| c.expires_at.as_deref())
            .and_then(|at| at.parse::<jiff::Timestamp>().ok())
            .is_some_and(|at| at.as_second() <= now);
        match before.custom.filter(|_| !expired) {
            Some(custom) => {
                let custom = serde_json::to_value(custom).map_err(|e| malformed(&e.to_string()))?;
                self.call::<IgnoredAny>(
                    Method::PUT,
                    &["users", &before.user_id, "status", "custom"],
                    Some(custom),
                )
                .await
            }
            None => {
                self.call::<IgnoredAny>(
                    Method::DELETE,
                    &["users", &before.user_id, "status", "custom"],
                    None,
                )
                .await
            }
        }
        .map(drop)
    }
}

/// Why a post in a channel of `kind` reaches the user, if it does: every direct
/// message; in a group message or a channel, what mentions them. A group message is
/// held like a mention so that no auto-reply goes to the whole group.
fn addressed(kind: &str, mentioned: bool) -> Option<Addressed> {
    match kind {
        "D" => Some(Addressed::Direct),
        "G" => Some(Addressed::Mention),
        _ => mentioned.then_some(Addressed::Mention),
    }
}

/// Whether `text` mentions `@username`, or the whole channel (Mattermost notifies
/// members of `@channel`, `@all` and `@here` by default).
fn mentions(text: &str, username: &str) -> bool {
    let in_name = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    text.match_indices('@').any(|(at, _)| {
        let rest = &text[at + 1..];
        let end = rest.find(|c| !in_name(c)).unwrap_or(rest.len());
        // A sentence may end right after the name: "thanks @alice."
        let name = rest[..end].trim_end_matches('.');
        name.eq_ignore_ascii_case(username) || matches!(name, "channel" | "all" | "here")
    })
}

/// A post held for the user: when it was posted, its channel's team (empty for direct
/// and group messages), and the message.
struct Held {
    at: i64,
    team_id: String,
    message: IncomingMessage,
}

/// Milliseconds since the epoch, Mattermost's clock for posts.
fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl MattermostAdapter {
    /// The token's own account, asked once.
    async fn me(&self) -> Result<&Me, AdapterError> {
        self.me
            .get_or_try_init(|| async {
                let me: User = self.call(Method::GET, &["users", "me"], None).await?;
                match (me.id, me.username) {
                    (Some(id), Some(username)) => Ok(Me { id, username }),
                    _ => Err(malformed("users/me has no id or username")),
                }
            })
            .await
    }

    /// A sender's username, asked once per sender; their id if the server will not say.
    async fn username(&self, user_id: &str) -> String {
        if let Some(known) = self.usernames.lock().expect("usernames").get(user_id) {
            return known.clone();
        }
        let user = self
            .call::<User>(Method::GET, &["users", user_id], None)
            .await;
        let Some(username) = user.ok().and_then(|u| u.username) else {
            return user_id.to_owned();
        };
        self.usernames
            .lock()
            .expect("usernames")
            .insert(user_id.to_owned(), username.clone());
        username
    }

    /// Opens the event socket and has the server accept the token on it.
    async fn listen(&self) -> Result<Socket, AdapterError> {
        let mut url = self.api_url(&["websocket"])?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| malformed("the server address cannot be used for a WebSocket"))?;
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| unavailable(&format!("event socket: {e}")))?;
        let challenge = json!({ "seq": 1, "action": "authentication_challenge", "data": { "token": self.token } });
        socket
            .send(Message::text(challenge.to_string()))
            .await
            .map_err(|e| unavailable(&format!("event socket: {e}")))?;
        let accepted = async {
            while let Some(frame) = socket.next().await {
                let frame = frame.map_err(|e| unavailable(&format!("event socket: {e}")))?;
                let Message::Text(text) = frame else { continue };
                // Events may come before the reply; they have no `seq_reply`.
                let Ok(reply) = serde_json::from_str::<SocketReply>(&text) else {
                    continue;
                };
                if reply.seq_reply != Some(1) {
                    continue;
                }
                return match reply.status.as_deref() {
                    Some("OK") => Ok(()),
                    _ => Err(AdapterError::Unauthorized {
                        adapter: NAME.into(),
                        fix: format!(
                            "the Mattermost token was refused on the event socket ({}); create a new personal access token",
                            reply
                                .error
                                .and_then(|error| error.id)
                                .as_deref()
                                .unwrap_or("no reason given")
                        ),
                    }),
                };
            }
            Err(unavailable(
                "the event socket closed before the token was accepted",
            ))
        };
        tokio::time::timeout(HANDSHAKE, accepted)
            .await
            .map_err(|_| unavailable("the event socket did not answer the token"))??;
        Ok(socket)
    }

    /// What was posted to the user after `since` while no socket was open.
    async fn catch_up(&self, me: &Me, since: i64) -> Result<Vec<Held>, AdapterError> {
        let channels: Vec<Lenient<Channel>> = self
            .call(Method::GET, &["users", &me.id, "channels"], None)
            .await?;
        let mut found = Vec::new();
        for channel in channels
            .into_iter()
            .filter_map(Lenient::into_read)
            .filter(|c| c.last_post_at > since)
        {
            let list: PostList = self
                .call_with_query(
                    Method::GET,
                    &["channels", &channel.id, "posts"],
                    &[("since", since.to_string())],
                    None,
                )
                .await?;
            for post in list.posts.into_values().filter_map(Lenient::into_read) {
                if post.create_at <= since || post.user_id == me.id || !post.kind.is_empty() {
                    continue;
                }
                let Some(addressed) =
                    addressed(&channel.kind, mentions(&post.message, &me.username))
                else {
                    continue;
                };
                let sender_name = self.username(&post.user_id).await;
                let room = (addressed == Addressed::Mention).then(|| channel.display_name.clone());
                found.push(held(post, addressed, sender_name, room, &channel.team_id));
            }
        }
        Ok(found)
    }

    /// The message a `posted` event carries, if it is for the user and after `since`.
    fn posted(&self, me: &Me, event: &str, since: i64) -> Option<Held> {
        let event: SocketEvent = serde_json::from_str(event).ok()?;
        if event.event.as_deref() != Some("posted") {
            return None;
        }
        let data = event.data;
        let post: Post = serde_json::from_str(data.post.as_deref()?).ok()?;
        if post.create_at <= since || post.user_id == me.id || !post.kind.is_empty() {
            return None;
        }
        let mentioned = data
            .mentions
            .and_then(|m| serde_json::from_str::<Vec<String>>(&m).ok())
            .is_some_and(|ids| ids.contains(&me.id));
        let addressed = addressed(data.channel_type.as_deref().unwrap_or(""), mentioned)?;
        let sender_name = data
            .sender_name
            .map(|name| name.trim_start_matches('@').to_owned())
            .unwrap_or_else(|| post.user_id.clone());
        let room = (addressed == Addressed::Mention)
            .then(|| data.channel_display_name.unwrap_or_default());
        let team_id = data.team_id.unwrap_or_default();
        Some(held(post, addressed, sender_name, room, &team_id))
    }

    /// A post's permalink: under its team's name where it is in a team (the name asked
    /// once per team), else through `/_redirect/pl/`, which Mattermost (5.16 on) sends
    /// to the post wherever it is: direct and group messages have no team.
    async fn permalink(&self, team_id: &str, post_id: &str) -> String {
        let team = match team_id {
            "" => None,
            team_id => self.team_name(team_id).await,
        };
        let mut link = self.server.clone();
        if let Ok(mut path) = link.path_segments_mut() {
            path.pop_if_empty()
                .extend([team.as_deref().unwrap_or("_redirect"), "pl", post_id]);
        }
        link.to_string()
    }

    /// A team's name (`GET /teams/{id}`), or `None` when the server will not say.
    async fn team_name(&self, team_id: &str) -> Option<String> {
        if let Some(known) = self.teams.lock().expect("teams").get(team_id) {
            return Some(known.clone());
        }
        let team: Team = self
            .call(Method::GET, &["teams", team_id], None)
            .await
            .inspect_err(|error| tracing::debug!(%error, "no team name for a link"))
            .ok()?;
        self.teams
            .lock()
            .expect("teams")
            .insert(team_id.to_owned(), team.name.clone());
        Some(team.name)
    }
}

/// A post as held, with what its link needs.
fn held(
    post: Post,
    addressed: Addressed,
    sender_name: String,
    room: Option<String>,
    team_id: &str,
) -> Held {
    let message = IncomingMessage {
        automated: post.automated(),
        sender: post.user_id.clone(),
        sender_name: Some(sender_name),
        channel: room.filter(|name| !name.is_empty()),
        addressed,
        text: plain(&post.message),
        url: None,
        reply_to: ReplyTarget {
            conversation: post.channel_id,
            sender: post.user_id,
        },
        id: post.id,
        usual_class: None,
    };
    Held {
        at: post.create_at,
        team_id: team_id.to_owned(),
        message,
    }
}

#[async_trait]
impl MessageSource for MattermostAdapter {
    /// Waits on the event socket however long it takes (not `_wait`): the server says
    /// when something is posted, so a quiet session costs no requests.
    async fn fetch(&self, cursor: Option<&str>, _wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: now_ms().to_string(),
            });
        };
        let since: i64 = cursor
            .parse()
            .map_err(|_| malformed(&format!("bad cursor {cursor:?}")))?;
        let me = self.me().await?.clone();
        // Listening before catching up leaves no gap for a post to fall into.
        let mut socket = self.listen().await?;
        let mut found = self.catch_up(&me, since).await?;
        while found.is_empty() {
            let frame = match tokio::time::timeout(SILENCE, socket.next()).await {
                // A dead connection: the next fetch opens a new one and catches up.
                Err(_) => break,
                Ok(None) => return Err(unavailable("the server closed the event socket")),
                Ok(Some(frame)) => frame.map_err(|e| unavailable(&format!("event socket: {e}")))?,
            };
            match frame {
                Message::Text(text) => found.extend(self.posted(&me, &text, since)),
                Message::Close(_) => {
                    return Err(unavailable("the server closed the event socket"));
                }
                _ => {}
            }
        }
        found.sort_by_key(|held| held.at);
        let cursor = found
            .last()
            .map_or_else(|| since.to_string(), |held| held.at.to_string());
        let mut messages = Vec::with_capacity(found.len());
        for held in found {
            let mut message = held.message;
            message.url = Some(self.permalink(&held.team_id, &message.id).await);
            messages.push(message);
        }
        Ok(Batch { messages, cursor })
    }
}

#[async_trait]
impl Replier for MattermostAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let post = json!({
            "channel_id": to.conversation,
            "message": text,
            "props": { AUTO_REPLY_PROP: "true" },
        });
        self.call::<IgnoredAny>(Method::POST, &["posts"], Some(post))
            .await
            .map(drop)
    }
}

#[async_trait]
impl Poster for MattermostAdapter {
    /// `channel` is `team-name/channel-name` (as in the channel's address) or a
    /// channel id.
    async fn post(&self, channel: &str, post: &Outgoing) -> Result<PostedMessage, AdapterError> {
        let channel: Channel = match channel.split_once('/') {
            Some((team, name)) => {
                self.call(
                    Method::GET,
                    &["teams", "name", team, "channels", "name", name],
                    None,
                )
                .await?
            }
            None => self.call(Method::GET, &["channels", channel], None).await?,
        };
        let message = json!({ "channel_id": channel.id, "message": post.markdown });
        let created: Post = self.call(Method::POST, &["posts"], Some(message)).await?;
        let link = self.permalink(&channel.team_id, &created.id).await;
        Ok(PostedMessage { link: Some(link) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_the_whole_username_or_the_whole_channel() {
        assert!(mentions("@alice can you look?", "alice"));
        assert!(mentions("thanks @Alice.", "alice"));
        assert!(mentions("@here deploy in 5", "alice"));
        assert!(!mentions("@alice.smith can you look?", "alice"));
        assert!(!mentions("@alicea", "alice"));
        assert!(!mentions("mail alice@example.org", "alice"));
        assert!(!mentions("no one", "alice"));
    }

    #[test]
    fn direct_messages_always_count_and_channels_only_when_mentioned() {
        assert_eq!(addressed("D", false), Some(Addressed::Direct));
        assert_eq!(addressed("G", false), Some(Addressed::Mention));
        assert_eq!(addressed("O", true), Some(Addressed::Mention));
        assert_eq!(addressed("P", false), None);
    }

    #[test]
    fn bots_webhooks_and_other_deepworks_are_automated() {
        let post = |props: Value| -> Post {
            serde_json::from_value(json!({
                "id": "p", "user_id": "u", "channel_id": "c", "create_at": 1, "props": props,
            }))
            .unwrap()
        };
        assert!(post(json!({ "from_bot": "true" })).automated());
        assert!(post(json!({ "from_webhook": "true" })).automated());
        assert!(post(json!({ AUTO_REPLY_PROP: "true" })).automated());
        assert!(post(json!({ "from_bot": true })).automated());
        assert!(!post(json!({ "from_bot": "false", "from_webhook": 1 })).automated());
        assert!(!post(json!({})).automated());
        assert!(!post(Value::Null).automated());
    }

    #[test]
    fn a_stored_custom_status_is_put_back_as_it_was() {
        let custom = json!({
            "emoji": "sandwich",
            "text": "Lunch",
            "duration": "date_and_time",
            "expires_at": "2099-01-01T00:00:00Z",
            "a_later_field": { "kept": [1, 2] },
        });
        let stored = json!({
            "user_id": "u", "status": "away", "manual": true, "dnd_end_time": 0, "custom": custom,
        });
        let before: MattermostStatus = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(before.custom.as_ref()).unwrap(),
            custom,
            "what is put back"
        );
        assert_eq!(
            serde_json::to_value(before).unwrap(),
            stored,
            "what is stored"
        );
    }

    #[test]
    fn a_custom_status_is_one_with_a_text_or_an_emoji() {
        let user = |custom: Value| -> User {
            serde_json::from_value(
                json!({ "id": "u", "props": { "customStatus": custom.to_string() } }),
            )
            .unwrap()
        };
        let lunch = user(json!({ "text": "Lunch", "duration": "today" }));
        assert_eq!(
            lunch.custom_status().map(|c| c.other),
            Some(serde_json::Map::from_iter([(
                "duration".into(),
                json!("today")
            )]))
        );
        assert!(
            user(json!({ "emoji": "sandwich" }))
                .custom_status()
                .is_some()
        );
        assert!(
            user(json!({ "text": "", "emoji": "" }))
                .custom_status()
                .is_none()
        );
        let cleared: User =
            serde_json::from_value(json!({ "id": "u", "props": { "customStatus": "" } })).unwrap();
        assert!(cleared.custom_status().is_none());
    }
}

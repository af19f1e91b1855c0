//! Slack, over the Web API with a user token: the profile status (`users.profile.get`
//! / `users.profile.set`, 100 characters, with an expiration), do-not-disturb
//! (`dnd.info`, `dnd.setSnooze`, `dnd.endSnooze`), direct messages polled with
//! `conversations.list` + `conversations.history` or, with an app-level token, pushed
//! by Socket Mode (`apps.connections.open`, then `events_api` envelopes acknowledged by
//! `envelope_id`: `message` events in direct conversations and messages or
//! `app_mention`s naming the user), and auto-replies with `chat.postMessage` carrying
//! metadata that marks them, so no Deepwork answers them.
//! Errors come as HTTP 200 with `"ok": false`; rate limits as HTTP 429 with
//! `Retry-After` (seconds).

use crate::plain;
use crate::slack_text::{self, Named};
use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

const NAME: &str = "slack";
/// Slack's limit for `status_text`.
const STATUS_LIMIT: usize = 100;
/// The emoji shown with the focus status.
pub const FOCUS_EMOJI: &str = ":headphones:";
/// The metadata event type that marks Deepwork's auto-replies.
pub const AUTO_REPLY_EVENT: &str = "deepwork_auto_reply";
/// The longest a fetch waits between polls: `conversations.history` is a Tier 3
/// method (about 50 calls a minute), and each poll reads every direct conversation.
const POLL_INTERVAL: Duration = Duration::from_secs(20);
/// A Socket Mode connection nobody has read from for this long is closed: sessions
/// read continuously, so it is not needed between them.
const SOCKET_IDLE: Duration = Duration::from_secs(120);
/// Slack's clock (its `Date` header, whole seconds) within this of ours counts as ours.
const CLOCKS_AGREE: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);
/// How long Slack may take to say hello on a new connection.
const HELLO: Duration = Duration::from_secs(15);

/// A Slack account, by its user token (`xoxp-…`).
#[derive(Debug)]
pub struct SlackAdapter {
    http: reqwest::Client,
    api: Url,
    token: String,
    /// The app-level token (`xapp-…`) that opens Socket Mode connections, if given.
    app_token: Option<String>,
    me: tokio::sync::OnceCell<String>,
    /// The live Socket Mode connection, if one is open.
    feed: tokio::sync::Mutex<Option<Arc<Feed>>>,
    /// People's and channels' names by id, asked once each.
    names: Mutex<HashMap<String, String>>,
    /// How far Slack's clock (its answers' `Date`) is ahead of ours: read positions
    /// are Slack timestamps, so "now" must be Slack's now.
    clock_offset: Mutex<Option<jiff::SignedDuration>>,
}

/// The status and do-not-disturb state from before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SlackStatus {
    status_text: String,
    status_emoji: String,
    /// Unix seconds; 0 for none.
    status_expiration: i64,
    snooze_enabled: bool,
    /// Unix seconds, when snoozed.
    snooze_endtime: Option<i64>,
}

impl SlackAdapter {
    /// An adapter for the Web API at `api` (normally `https://slack.com/api/`).
    pub fn new(api: &str, token: String) -> Result<Self, AdapterError> {
        let mut api = Url::parse(api).map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("the Slack API address {api:?} is not a URL ({e})"),
        })?;
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        let http = crate::http::client(NAME, Some(Duration::from_secs(30)))?;
        Ok(SlackAdapter {
            http,
            api,
            token,
            app_token: None,
            me: tokio::sync::OnceCell::new(),
            feed: tokio::sync::Mutex::default(),
            names: Mutex::default(),
            clock_offset: Mutex::default(),
        })
    }

    /// Messages are pushed over Socket Mode, opened with this app-level token, instead
    /// of polled; mentions in channels are read too.
    #[must_use]
    pub fn with_app_token(mut self, app_token: String) -> Self {
        self.app_token = Some(app_token);
        self
    }

    async fn call(&self, method: &str, body: Body) -> Result<Value, AdapterError> {
        self.call_as(&self.token, method, body).await
    }

    async fn call_as(&self, token: &str, method: &str, body: Body) -> Result<Value, AdapterError> {
        let url = self
            .api
            .join(method)
            .map_err(|e| malformed(&e.to_string()))?;
        let request = self.http.post(url).bearer_auth(token);
        let request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(fields) => request.form(&fields),
        };
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date)
        {
            // `Date` has whole seconds, so within a couple of seconds the clocks agree
            // and ours, to the microsecond, is the better measure of "now".
            let offset = date.duration_since(jiff::Timestamp::now());
            let offset = if offset.abs() <= CLOCKS_AGREE {
                jiff::SignedDuration::ZERO
            } else {
                offset
            };
            *self.clock_offset.lock().expect("clock") = Some(offset);
        }
        let status = response.status();
        // Slack answers most refusals as HTTP 200 with `ok: false` (below); these come
        // as statuses.
        let refused = [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
        ];
        if refused.contains(&status) || status.is_server_error() {
            let refusal = crate::http::Refusal {
                adapter: NAME,
                status,
                retry_after: crate::http::retry_after(response.headers(), jiff::Timestamp::now()),
                default_wait: Duration::from_secs(30),
                detail: method.to_owned(),
            };
            return Err(refusal.into_error(|status| {
                format!("the Slack token was refused (HTTP {status}); connect Slack again")
            }));
        }
        let value: Value = response
            .json()
            .await
            .map_err(|e| malformed(&format!("{method}: not JSON ({e})")))?;
        if value["ok"] == true {
            return Ok(value);
        }
        let error = value["error"].as_str().unwrap_or("unknown_error");
        Err(match error {
            "not_authed" | "invalid_auth" | "token_revoked" | "token_expired"
            | "account_inactive" => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("the Slack token was refused ({error}); connect Slack again"),
            },
            "missing_scope" => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!(
                    "the Slack token lacks the scope {}; add it to the app's user token scopes and reinstall",
                    value["needed"].as_str().unwrap_or("needed for this")
                ),
            },
            "ratelimited" => AdapterError::RateLimited {
                adapter: NAME.into(),
                retry_after: Duration::from_secs(30),
            },
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                unavailable(&format!("{method}: {error}"))
            }
            other => malformed(&format!("{method}: {other}")),
        })
    }

    async fn set_profile(
        &self,
        text: &str,
        emoji: &str,
        expiration: i64,
    ) -> Result<(), AdapterError> {
        let profile = json!({ "profile": { "status_text": text, "status_emoji": emoji, "status_expiration": expiration } });
        self.call("users.profile.set", Body::Json(profile))
            .await
            .map(drop)
    }

    async fn snooze(&self, minutes: i64) -> Result<(), AdapterError> {
        self.call(
            "dnd.setSnooze",
            Body::Form(vec![("num_minutes", minutes.max(1).to_string())]),
        )
        .await
        .map(drop)
    }

    async fn end_snooze(&self) -> Result<(), AdapterError> {
        match self.call("dnd.endSnooze", Body::None).await {
            Ok(_) => Ok(()),
            // Nothing to end is what we wanted.
            Err(AdapterError::Malformed { detail, .. })
                if detail.ends_with("snooze_not_active") =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl SlackAdapter {
    /// The token's own user id (`auth.test`), asked once.
    async fn me(&self) -> Result<&str, AdapterError> {
        self.me
            .get_or_try_init(|| async {
                let who = self.call("auth.test", Body::None).await?;
                who["user_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed("auth.test: no user_id"))
            })
            .await
            .map(String::as_str)
    }
}

/// A Slack timestamp for `at`, as a read position.
fn ts_at(at: jiff::Timestamp) -> String {
    format!("{}.{:06}", at.as_second(), at.subsec_microsecond())
}

/// An HTTP `Date` (RFC 9110's IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT").
fn http_date(value: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Orders Slack timestamps (`seconds.micros`) by value.
fn ts_key(ts: &str) -> (i64, i64) {
    let (seconds, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (seconds.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

fn minutes_until(until: i64, now: i64) -> i64 {
    (until - now + 59) / 60
}

#[async_trait]
impl StatusAdapter for SlackAdapter {
    fn name(&self) -> &str {
        NAME
    }

    fn status_limit(&self) -> usize {
        STATUS_LIMIT
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let profile = self.call("users.profile.get", Body::None).await?;
        let dnd = self.call("dnd.info", Body::None).await?;
        let profile = &profile["profile"];
        let status = SlackStatus {
            status_text: profile["status_text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status_emoji: profile["status_emoji"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            status_expiration: profile["status_expiration"].as_i64().unwrap_or(0),
            snooze_enabled: dnd["snooze_enabled"] == true,
            snooze_endtime: dnd["snooze_endtime"].as_i64(),
        };
        let data = serde_json::to_value(status).map_err(|e| malformed(&e.to_string()))?;
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        let until = status.until.as_second();
        self.set_profile(&status.text, FOCUS_EMOJI, until).await?;
        self.snooze(minutes_until(until, jiff::Timestamp::now().as_second()))
            .await
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let before: SlackStatus = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored status: {e}")))?;
        let now = jiff::Timestamp::now().as_second();
        // A status that would have expired during the session is not brought back.
        let expired = before.status_expiration != 0 && before.status_expiration <= now;
        if expired {
            self.set_profile("", "", 0).await?;
        } else {
            self.set_profile(
                &before.status_text,
                &before.status_emoji,
                before.status_expiration,
            )
            .await?;
        }
        match before
            .snooze_endtime
            .filter(|end| before.snooze_enabled && *end > now)
        {
            Some(end) => self.snooze(minutes_until(end, now)).await,
            None => self.end_snooze().await,
        }
    }
}

#[async_trait]
impl MessageSource for SlackAdapter {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: self.slack_now().await?,
            });
        };
        let found = if self.app_token.is_some() {
            self.pushed(cursor).await?
        } else {
            let found = self.read_direct(cursor).await?;
            if found.is_empty() {
                // Slack has no long poll for user tokens: pace the polls instead.
                tokio::time::sleep(wait.min(POLL_INTERVAL)).await;
            }
            found
        };
        let found = self.readable(found).await;
        let newest = found
            .last()
            .map_or_else(|| cursor.to_owned(), |m| m.id.clone());
        Ok(Batch {
            messages: found,
            cursor: newest,
        })
    }
}

impl SlackAdapter {
    /// Direct messages after `cursor`, oldest first, read from every direct conversation.
    async fn read_direct(&self, cursor: &str) -> Result<Vec<IncomingMessage>, AdapterError> {
        let me = self.me().await?.to_owned();
        let list = self
            .call(
                "conversations.list",
                Body::Form(vec![("types", "im".into()), ("limit", "200".into())]),
            )
            .await?;
        let mut found = Vec::new();
        for im in list["channels"].as_array().into_iter().flatten() {
            let Some(channel) = im["id"].as_str() else {
                continue;
            };
            let history = self
                .call(
                    "conversations.history",
                    Body::Form(vec![
                        ("channel", channel.to_owned()),
                        ("oldest", cursor.to_owned()),
                        ("limit", "100".into()),
                        ("include_all_metadata", "true".into()),
                    ]),
                )
                .await?;
            for message in history["messages"].as_array().into_iter().flatten() {
                let Some(ts) = message["ts"].as_str() else {
                    continue;
                };
                let user = message["user"].as_str();
                let bot = message["bot_id"].as_str();
                let subtype = message["subtype"].as_str();
                // Joins, edits and other housekeeping are not messages to the user.
                if user == Some(me.as_str()) || subtype.is_some_and(|s| s != "bot_message") {
                    continue;
                }
                let Some(sender) = user.or(bot) else { continue };
                let automated =
                    bot.is_some() || message["metadata"]["event_type"] == AUTO_REPLY_EVENT;
                found.push(IncomingMessage {
                    id: ts.to_owned(),
                    sender: sender.to_owned(),
                    sender_name: self.name_of(Lookup::User, sender).await,
                    channel: None,
                    addressed: Addressed::Direct,
                    text: plain(message["text"].as_str().unwrap_or_default()),
                    automated,
                    url: None,
                    reply_to: ReplyTarget {
                        conversation: channel.to_owned(),
                        sender: sender.to_owned(),
                    },
                });
            }
        }
        found.sort_by_key(|m| ts_key(&m.id));
        Ok(found)
    }
}

/// What a name is looked up for.
#[derive(Clone, Copy)]
enum Lookup {
    User,
    Channel,
}

/// A live Socket Mode connection: the messages it brought that no read has taken yet.
struct Feed {
    /// When the connection began to deliver; what came between a cursor and this is
    /// read back from the history.
    opened_at: String,
    queue: Mutex<Vec<IncomingMessage>>,
    /// Set once the connection is gone, with why.
    ended: Mutex<Option<Ended>>,
    changed: Notify,
    /// Reads waiting now, and when the last one ended (for closing an unused socket).
    readers: Mutex<(usize, Instant)>,
    task: tokio::task::AbortHandle,
}

/// Why a Socket Mode connection ended.
enum Ended {
    /// Slack asked for a new connection (`refresh_requested`, `warning`) or it dropped:
    /// open another.
    Reconnect,
    /// It cannot go on (Socket Mode turned off for the app, a refused token).
    Failed(AdapterError),
    /// Nobody read from it for a while.
    Idle,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("opened_at", &self.opened_at)
            .finish_non_exhaustive()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a waiting read for as long as it waits.
struct Reading<'a>(&'a Feed);

impl<'a> Reading<'a> {
    fn new(feed: &'a Feed) -> Self {
        feed.readers.lock().expect("readers").0 += 1;
        Reading(feed)
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let mut readers = self.0.readers.lock().expect("readers");
        *readers = (readers.0 - 1, Instant::now());
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl SlackAdapter {
    /// A person's or channel's name, or `None` when Slack will not say (a missing
    /// `users:read` or `channels:read` scope costs names, not messages).
    async fn name_of(&self, what: Lookup, id: &str) -> Option<String> {
        if let Some(name) = self.names.lock().expect("names").get(id) {
            return Some(name.clone());
        }
        let (method, key, pick): (_, _, fn(&Value) -> Option<&str>) = match what {
            Lookup::User => ("users.info", "user", |v| {
                v["user"]["profile"]["display_name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .or(v["user"]["name"].as_str())
            }),
            Lookup::Channel => ("conversations.info", "channel", |v| {
                v["channel"]["name"].as_str()
            }),
        };
        let answer = self
            .call(method, Body::Form(vec![(key, id.to_owned())]))
            .await
            .ok()?;
        let name = plain(pick(&answer)?);
        self.names
            .lock()
            .expect("names")
            .insert(id.to_owned(), name.clone());
        Some(name)
    }

    /// Slack's timestamp for now, by its clock (asking it once if nothing was asked yet);
    /// our own clock may be minutes off, which would skip or repeat messages.
    async fn slack_now(&self) -> Result<String, AdapterError> {
        let known = *self.clock_offset.lock().expect("clock");
        let offset = match known {
            Some(offset) => offset,
            None => {
                self.call("auth.test", Body::None).await?;
                self.clock_offset.lock().expect("clock").unwrap_or_default()
            }
        };
        Ok(ts_at(jiff::Timestamp::now() + offset))
    }

    /// Messages with Slack's escapes and `<…>` sequences written out, mentions and
    /// channels by name (looked up once each; an id Slack will not name stays an id).
    async fn readable(&self, mut messages: Vec<IncomingMessage>) -> Vec<IncomingMessage> {
        for message in &mut messages {
            let mut names = HashMap::new();
            for named in slack_text::unlabelled(&message.text) {
                let name = match &named {
                    Named::User(id) => self.name_of(Lookup::User, id).await,
                    Named::Channel(id) => self.name_of(Lookup::Channel, id).await,
                };
                if let Some(name) = name {
                    names.insert(named, name);
                }
            }
            message.text = plain(&slack_text::decode(&message.text, &names));
        }
        messages
    }

    /// Messages after `cursor` from the Socket Mode connection, opening one if none is
    /// live and reading back what came before it from the history.
    async fn pushed(&self, cursor: &str) -> Result<Vec<IncomingMessage>, AdapterError> {
        let feed = self.live_feed().await?;
        let _reading = Reading::new(&feed);
        let mut found = if ts_key(cursor) < ts_key(&feed.opened_at) {
            self.read_direct(cursor).await?
        } else {
            Vec::new()
        };
        loop {
            let changed = feed.changed.notified();
            {
                let mut queue = feed.queue.lock().expect("queue");
                queue.retain(|m| ts_key(&m.id) > ts_key(cursor));
                for message in queue.iter() {
                    let known = found
                        .iter()
                        .any(|f| f.id == message.id && f.reply_to == message.reply_to);
                    if !known {
                        found.push(message.clone());
                    }
                }
            }
            if !found.is_empty() {
                break;
            }
            let ended = feed.ended.lock().expect("ended").take();
            if let Some(ended) = ended {
                *self.feed.lock().await = None;
                return match ended {
                    Ended::Failed(error) => Err(error),
                    // The next read opens a new connection and reads back the gap.
                    Ended::Reconnect | Ended::Idle => Ok(Vec::new()),
                };
            }
            changed.await;
        }
        found.sort_by_key(|m| ts_key(&m.id));
        for message in &mut found {
            if message.sender_name.is_none() {
                message.sender_name = self.name_of(Lookup::User, &message.sender).await;
            }
            if let Some(channel) = message.channel.take() {
                message.channel = Some(
                    self.name_of(Lookup::Channel, &channel)
                        .await
                        .unwrap_or(channel),
                );
            }
        }
        Ok(found)
    }

    /// The open Socket Mode connection, or a new one.
    async fn live_feed(&self) -> Result<Arc<Feed>, AdapterError> {
        let mut live = self.feed.lock().await;
        if let Some(feed) = live.as_ref()
            && feed.ended.lock().expect("ended").is_none()
        {
            return Ok(feed.clone());
        }
        let app_token = self.app_token.as_deref().unwrap_or_default();
        let opened = self
            .call_as(app_token, "apps.connections.open", Body::None)
            .await
            .map_err(|error| match error {
                AdapterError::Unauthorized { .. } | AdapterError::Malformed { .. } => {
                    AdapterError::Unauthorized {
                        adapter: NAME.into(),
                        fix: format!(
                            "Socket Mode could not be opened ({error}); store an app-level token with the connections:write scope and turn Socket Mode on for the app"
                        ),
                    }
                }
                other => other,
            })?;
        let url = opened["url"]
            .as_str()
            .ok_or_else(|| malformed("apps.connections.open: no url"))?;
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| unavailable(&format!("Socket Mode: {e}")))?;
        let hello = async {
            while let Some(frame) = socket.next().await {
                if let Ok(Message::Text(text)) = frame
                    && serde_json::from_str::<Value>(&text).is_ok_and(|v| v["type"] == "hello")
                {
                    return true;
                }
            }
            false
        };
        if !tokio::time::timeout(HELLO, hello).await.unwrap_or(false) {
            return Err(unavailable("Socket Mode: no hello from Slack"));
        }
        let me = self.me().await?.to_owned();
        let opened_at = self.slack_now().await?;
        let feed = Arc::new_cyclic(|weak: &std::sync::Weak<Feed>| {
            let task = tokio::spawn(run_feed(socket, weak.clone(), me)).abort_handle();
            Feed {
                opened_at: opened_at.clone(),
                queue: Mutex::default(),
                ended: Mutex::default(),
                changed: Notify::new(),
                readers: Mutex::new((0, Instant::now())),
                task,
            }
        });
        *live = Some(feed.clone());
        Ok(feed)
    }
}

/// Reads one Socket Mode connection until it ends: acknowledges every envelope and
/// queues the messages addressed to `me`.
async fn run_feed(mut socket: Socket, feed: std::sync::Weak<Feed>, me: String) {
    let mut idle_check = tokio::time::interval(SOCKET_IDLE / 2);
    let ended = loop {
        tokio::select! {
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break Ended::Reconnect,
                    Some(Ok(_)) => continue,
                };
                let Ok(envelope) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(id) = envelope["envelope_id"].as_str() {
                    let ack = json!({ "envelope_id": id }).to_string();
                    if socket.send(Message::text(ack)).await.is_err() {
                        break Ended::Reconnect;
                    }
                }
                match envelope["type"].as_str() {
                    Some("disconnect") if envelope["reason"] == "link_disabled" => {
                        break Ended::Failed(AdapterError::Unauthorized {
                            adapter: NAME.into(),
                            fix: "Socket Mode was turned off for the Slack app; turn it back on, or remove the app-level token to poll instead".into(),
                        });
                    }
                    Some("disconnect") => break Ended::Reconnect,
                    Some("events_api") => {
                        let Some(feed) = feed.upgrade() else { return };
                        if let Some(message) = event_message(&envelope["payload"]["event"], &me) {
                            feed.queue.lock().expect("queue").push(message);
                            feed.changed.notify_waiters();
                        }
                    }
                    _ => {}
                }
            }
            _ = idle_check.tick() => {
                let Some(feed) = feed.upgrade() else { return };
                let (waiting, since) = *feed.readers.lock().expect("readers");
                if waiting == 0 && since.elapsed() >= SOCKET_IDLE {
                    break Ended::Idle;
                }
            }
        }
    };
    let _ = socket.close(None).await;
    if let Some(feed) = feed.upgrade() {
        *feed.ended.lock().expect("ended") = Some(ended);
        feed.changed.notify_waiters();
    }
}

/// The message a `message` or `app_mention` event carries, if it is for `me`: anything
/// in a direct conversation, elsewhere only what names them.
fn event_message(event: &Value, me: &str) -> Option<IncomingMessage> {
    let kind = event["type"].as_str()?;
    let subtype = event["subtype"].as_str();
    if !matches!(kind, "message" | "app_mention") || subtype.is_some_and(|s| s != "bot_message") {
        return None;
    }
    let user = event["user"].as_str();
    if user == Some(me) {
        return None;
    }
    let sender = user.or(event["bot_id"].as_str())?;
    let channel = event["channel"].as_str()?;
    let text = event["text"].as_str().unwrap_or_default();
    let direct = event["channel_type"] == "im";
    if !direct && !text.contains(&format!("<@{me}>")) {
        return None;
    }
    Some(IncomingMessage {
        id: event["ts"].as_str()?.to_owned(),
        sender: sender.to_owned(),
        sender_name: None,
        channel: (!direct).then(|| channel.to_owned()),
        addressed: if direct {
            Addressed::Direct
        } else {
            Addressed::Mention
        },
        text: plain(text),
        automated: event["bot_id"].is_string()
            || event["metadata"]["event_type"] == AUTO_REPLY_EVENT,
        url: None,
        reply_to: ReplyTarget {
            conversation: channel.to_owned(),
            sender: sender.to_owned(),
        },
    })
}

#[async_trait]
impl Replier for SlackAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let body = json!({
            "channel": to.conversation,
            "text": text,
            "metadata": { "event_type": AUTO_REPLY_EVENT, "event_payload": {} },
        });
        self.call("chat.postMessage", Body::Json(body))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_read() {
        assert_eq!(
            super::http_date("Sun, 06 Nov 1994 08:49:37 GMT").map(|t| t.as_second()),
            Some(784_111_777)
        );
        assert_eq!(super::http_date("yesterday"), None);
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            super::challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = super::random_text(64).unwrap();
        assert_eq!(verifier.len(), 86, "43 to 128 characters, as PKCE asks");
        assert_ne!(verifier, super::random_text(64).unwrap());
    }

    #[test]
    fn snoozes_round_up_to_whole_minutes() {
        assert_eq!(super::minutes_until(1_000 + 60, 1_000), 1);
        assert_eq!(super::minutes_until(1_000 + 61, 1_000), 2);
        assert_eq!(super::minutes_until(1_000 + 7_200, 1_000), 120);
    }
}

/// The user token scopes Deepwork asks for when it signs in.
pub const USER_SCOPES: &str = "users.profile:read,users.profile:write,dnd:read,dnd:write,im:read,im:history,chat:write,users:read,channels:read";
/// How long the browser may take to come back from Slack's consent page.
const SIGN_IN_WAIT: Duration = Duration::from_secs(600);

/// A sign-in with Slack (OAuth v2 with PKCE, for a public client): the page to open,
/// and a loopback listener that waits for the browser to come back to it.
#[derive(Debug)]
pub struct SlackSignIn {
    listener: tokio::net::TcpListener,
    http: reqwest::Client,
    api: Url,
    client_id: String,
    redirect_uri: String,
    verifier: String,
    state: String,
}

/// How long one connection to the sign-in's loopback address may take to send its
/// request.
const CALLBACK_WITHIN: Duration = Duration::from_secs(5);

/// Reads one request to the loopback address and answers it: `None` when it is not
/// the sign-in's (wrong path or state), else the sign-in's outcome.
async fn answer_callback(
    mut stream: tokio::net::TcpStream,
    state: String,
) -> Option<Result<HashMap<String, String>, AdapterError>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut buffer = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let target = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let query: HashMap<String, String> = url
        .as_ref()
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let ours = url.as_ref().is_some_and(|u| u.path() == "/slack/signed-in")
        && query.get("state") == Some(&state);
    let (status, body) = match (ours, query.get("error"), query.contains_key("code")) {
        (true, Some(_), _) | (true, None, true) => (
            "200 OK",
            "Deepwork has what it needs from Slack. You can close this tab.",
        ),
        _ => ("404 Not Found", "Not found."),
    };
    let page = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(page.as_bytes()).await;
    let _ = stream.shutdown().await;
    if !ours {
        return None;
    }
    if let Some(error) = query.get("error") {
        return Some(Err(AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("Slack did not sign in ({error})"),
        }));
    }
    query.contains_key("code").then_some(Ok(query))
}

/// `bytes` random bytes, base64url without padding.
fn random_text(bytes: usize) -> Result<String, AdapterError> {
    use base64::Engine;
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| unavailable(&format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer))
}

/// The PKCE challenge for `verifier`: its SHA-256, base64url without padding.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// Starts a sign-in for the Slack app `client_id` (PKCE on): returns the address of
/// Slack's consent page to open in the browser. `authorize` is that page's address,
/// normally `https://slack.com/oauth/v2/authorize`; `api` is the Web API.
pub async fn start_sign_in(
    api: &str,
    authorize: &str,
    client_id: &str,
) -> Result<(String, SlackSignIn), AdapterError> {
    let mut api = Url::parse(api).map_err(|e| malformed(&e.to_string()))?;
    if !api.path().ends_with('/') {
        api.set_path(&format!("{}/", api.path()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| unavailable(&format!("cannot listen for the sign-in: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| unavailable(&e.to_string()))?
        .port();
    // The address it listens on, not `localhost`, which may resolve to ::1 first.
    let redirect_uri = format!("http://127.0.0.1:{port}/slack/signed-in");
    let verifier = random_text(64)?;
    let state = random_text(24)?;
    let mut page = Url::parse(authorize).map_err(|e| malformed(&e.to_string()))?;
    page.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("user_scope", USER_SCOPES)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    let sign_in = SlackSignIn {
        listener,
        http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
        api,
        client_id: client_id.to_owned(),
        redirect_uri,
        verifier,
        state,
    };
    Ok((page.to_string(), sign_in))
}

impl SlackSignIn {
    /// Waits for the browser to come back from Slack, then trades the code for the
    /// user token.
    pub async fn finish(self) -> Result<String, AdapterError> {
        let query = tokio::time::timeout(SIGN_IN_WAIT, self.callback())
            .await
            .map_err(|_| AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: "the sign-in was not finished in the browser within 10 minutes; try again"
                    .into(),
            })??;
        let answer = self
            .http
            .post(
                self.api
                    .join("oauth.v2.access")
                    .map_err(|e| malformed(&e.to_string()))?,
            )
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("code", &query["code"]),
                ("code_verifier", &self.verifier),
                ("redirect_uri", &self.redirect_uri),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let value: Value = answer
            .json()
            .await
            .map_err(|e| malformed(&format!("oauth.v2.access: not JSON ({e})")))?;
        if value["ok"] != true {
            return Err(AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!(
                    "Slack refused the sign-in ({}); check [adapters.slack] client_id and that PKCE is on for the app",
                    value["error"].as_str().unwrap_or("unknown_error")
                ),
            });
        }
        value["authed_user"]["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                malformed("oauth.v2.access: no user token; the app must ask for user scopes")
            })
    }

    /// The query of the browser's request to the redirect address, once it has the
    /// right `state`; anything else (a favicon, a stray request) gets a 404. Each
    /// connection is answered on its own, within a few seconds, so one that stalls
    /// holds up no other.
    async fn callback(&self) -> Result<HashMap<String, String>, AdapterError> {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|e| unavailable(&e.to_string()))?;
                    let state = self.state.clone();
                    connections.spawn(tokio::time::timeout(CALLBACK_WITHIN, answer_callback(stream, state)));
                }
                Some(answered) = connections.join_next() => {
                    if let Ok(Ok(Some(outcome))) = answered {
                        return outcome;
                    }
                }
            }
        }
    }
}

//! Messages addressed to the user: direct conversations read back from the history,
//! and Socket Mode's pushed events, with names and Slack's formatting written out.

use super::api::{
    AuthTest, ConnectionsOpen, ConversationInfo, ConversationList, History, Permalink,
    SlackMessage, SocketFrame, UserInfo,
};
use super::text::{self, Named};
use super::{Body, HELLO, NAME, SOCKET_IDLE, SlackAdapter, ts_at, ts_key, unavailable};
use crate::http::Lenient;
use crate::{AdapterError, Addressed, IncomingMessage, ReplyTarget, plain};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

impl SlackAdapter {
    /// Direct messages after `cursor`, oldest first, read from every direct conversation.
    pub(super) async fn read_direct(
        &self,
        cursor: &str,
    ) -> Result<Vec<IncomingMessage>, AdapterError> {
        let me = self.me().await?.to_owned();
        let list: ConversationList = self
            .call(
                "conversations.list",
                Body::Form(vec![("types", "im".into()), ("limit", "200".into())]),
            )
            .await?;
        let mut found = Vec::new();
        for conversation in list.channels.into_iter().filter_map(Lenient::into_read) {
            let channel = conversation.id.as_str();
            let history: History = self
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
            for message in history.messages.into_iter().filter_map(Lenient::into_read) {
                let (Some(ts), Some(sender)) = (&message.ts, message.sender_other_than(&me)) else {
                    continue;
                };
                found.push(IncomingMessage {
                    id: ts.clone(),
                    sender: sender.to_owned(),
                    sender_name: self.name_of(Lookup::User, sender).await,
                    channel: None,
                    addressed: Addressed::Direct,
                    text: plain(message.text.as_deref().unwrap_or_default()),
                    automated: message.automated(),
                    url: None,
                    reply_to: ReplyTarget {
                        conversation: channel.to_owned(),
                        sender: sender.to_owned(),
                    },
                    usual_class: None,
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
pub(super) struct Feed {
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
        let asked = |key: &'static str| Body::Form(vec![(key, id.to_owned())]);
        let name = match what {
            Lookup::User => {
                let info: UserInfo = self.call("users.info", asked("user")).await.ok()?;
                plain(info.user.shown()?)
            }
            Lookup::Channel => {
                let info: ConversationInfo = self
                    .call("conversations.info", asked("channel"))
                    .await
                    .ok()?;
                plain(&info.channel.name?)
            }
        };
        self.names
            .lock()
            .expect("names")
            .insert(id.to_owned(), name.clone());
        Some(name)
    }

    /// Slack's timestamp for now, by its clock (asking it once if nothing was asked yet);
    /// our own clock may be minutes off, which would skip or repeat messages.
    pub(super) async fn slack_now(&self) -> Result<String, AdapterError> {
        let known = *self.clock_offset.lock().expect("clock");
        let offset = match known {
            Some(offset) => offset,
            None => {
                self.call::<AuthTest>("auth.test", Body::None).await?;
                self.clock_offset.lock().expect("clock").unwrap_or_default()
            }
        };
        // A `Date` near the end of time must not overflow the clock: such a server is
        // as wrong as one far behind, and read positions then stay ours.
        let now = jiff::Timestamp::now();
        Ok(ts_at(now.checked_add(offset).unwrap_or(now)))
    }

    /// Messages with Slack's escapes and `<…>` sequences written out, mentions and
    /// channels by name (looked up once each; an id Slack will not name stays an id).
    pub(super) async fn readable(
        &self,
        mut messages: Vec<IncomingMessage>,
    ) -> Vec<IncomingMessage> {
        for message in &mut messages {
            let mut names = HashMap::new();
            for named in text::unlabelled(&message.text) {
                let name = match &named {
                    Named::User(id) => self.name_of(Lookup::User, id).await,
                    Named::Channel(id) => self.name_of(Lookup::Channel, id).await,
                };
                if let Some(name) = name {
                    names.insert(named, name);
                }
            }
            message.text = plain(&text::decode(&message.text, &names));
        }
        messages
    }

    /// Messages with their links (`chat.getPermalink`, one each: a Tier 4 method). A
    /// message Slack will not link keeps none; it is held all the same.
    pub(super) async fn linked(&self, mut messages: Vec<IncomingMessage>) -> Vec<IncomingMessage> {
        for message in &mut messages {
            let asked = Body::Form(vec![
                ("channel", message.reply_to.conversation.clone()),
                ("message_ts", message.id.clone()),
            ]);
            match self.call::<Permalink>("chat.getPermalink", asked).await {
                Ok(link) => message.url = Some(link.permalink),
                Err(error) => tracing::debug!(%error, "no link for a Slack message"),
            }
        }
        messages
    }

    /// Messages after `cursor` from the Socket Mode connection, opening one if none is
    /// live and reading back what came before it from the history.
    pub(super) async fn pushed(&self, cursor: &str) -> Result<Vec<IncomingMessage>, AdapterError> {
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
        let opened: ConnectionsOpen = self
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
        let (mut socket, _) = tokio_tungstenite::connect_async(&opened.url)
            .await
            .map_err(|e| unavailable(&format!("Socket Mode: {e}")))?;
        let hello = async {
            while let Some(frame) = socket.next().await {
                if let Ok(Message::Text(text)) = frame
                    && serde_json::from_str::<SocketFrame>(&text)
                        .is_ok_and(|frame| frame.kind.as_deref() == Some("hello"))
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
                let Ok(frame) = serde_json::from_str::<SocketFrame>(&text) else { continue };
                if let Some(id) = &frame.envelope_id {
                    let ack = json!({ "envelope_id": id }).to_string();
                    if socket.send(Message::text(ack)).await.is_err() {
                        break Ended::Reconnect;
                    }
                }
                match frame.kind.as_deref() {
                    Some("disconnect") if frame.reason.as_deref() == Some("link_disabled") => {
                        break Ended::Failed(AdapterError::Unauthorized {
                            adapter: NAME.into(),
                            fix: "Socket Mode was turned off for the Slack app; turn it back on, or remove the app-level token to poll instead".into(),
                        });
                    }
                    Some("disconnect") => break Ended::Reconnect,
                    Some("events_api") => {
                        let Some(feed) = feed.upgrade() else { return };
                        let event = frame.payload.and_then(|p| p.event).and_then(Lenient::into_read);
                        if let Some(message) = event.and_then(|event| event_message(event, &me)) {
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
fn event_message(event: SlackMessage, me: &str) -> Option<IncomingMessage> {
    if !matches!(event.kind.as_deref(), Some("message" | "app_mention")) {
        return None;
    }
    let sender = event.sender_other_than(me)?;
    let channel = event.channel.as_deref()?;
    let text = event.text.as_deref().unwrap_or_default();
    let direct = event.channel_type.as_deref() == Some("im");
    if !direct && !text.contains(&format!("<@{me}>")) {
        return None;
    }
    Some(IncomingMessage {
        id: event.ts.clone()?,
        sender: sender.to_owned(),
        sender_name: None,
        channel: (!direct).then(|| channel.to_owned()),
        addressed: if direct {
            Addressed::Direct
        } else {
            Addressed::Mention
        },
        text: plain(text),
        automated: event.automated(),
        url: None,
        reply_to: ReplyTarget {
            conversation: channel.to_owned(),
            sender: sender.to_owned(),
        },
        usual_class: None,
    })
}

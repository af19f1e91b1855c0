//! XMPP, as a client of the user's own account (STARTTLS, then SASL). While focusing,
//! Deepwork is one more resource of the account, online with `<show>dnd</show>`, the
//! status text and the highest priority (127), so contacts see "do not disturb" and
//! messages to the bare JID come to Deepwork to be held instead of to the user's other
//! clients. At the end the resource goes offline; the user's other resources were never
//! touched, so nothing else needs restoring. Auto-replies carry an element in Deepwork's
//! namespace that other Deepworks recognise.

use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot, plain,
};
use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_xmpp::connect::{DnsConfig, ServerConnector, StartTlsServerConnector};
use tokio_xmpp::parsers::bind::BindQuery;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::jid::{BareJid, Jid};
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::minidom::Element;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::{Presence, Show, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts, XmppStream, XmppStreamElement};
use tokio_xmpp::{Stanza, client_login};

const NAME: &str = "xmpp";
/// The namespace of the element that marks Deepwork's auto-replies.
pub const AUTO_REPLY_NS: &str = "urn:deepwork:auto-reply:0";
/// The resource Deepwork binds.
const RESOURCE: &str = "deepwork";
/// The highest presence priority: messages to the bare JID come here while focusing.
const PRIORITY: i8 = 127;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long connecting and signing in may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Held messages kept for the engine to read; more than this unread means the engine
/// is not reading, and the oldest go (the server's archive still has them).
const MAX_QUEUED: usize = 1_000;

/// An XMPP account, by its password.
pub struct XmppAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XmppAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmppAdapter")
            .field("jid", &self.inner.jid)
            .finish_non_exhaustive()
    }
}

struct Inner {
    jid: BareJid,
    password: String,
    /// `host:port` to connect to instead of the domain's SRV records.
    server: Option<(String, u16)>,
    /// The online resource, while focusing.
    session: tokio::sync::Mutex<Option<Session>>,
    queue: Mutex<Queue>,
    changed: Notify,
    /// Tells cursors of an earlier run of the engine from this one's.
    epoch: String,
}

/// The connection of a focus session, kept up by its task; closing `outgoing` ends it.
struct Session {
    outgoing: mpsc::Sender<Stanza>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Queue {
    last_seq: u64,
    held: Vec<(u64, IncomingMessage)>,
    /// News about the connection for the next read to pass on.
    report: Option<Report>,
}

/// What became of the connection, told to the engine through the next read.
enum Report {
    /// It dropped; it is being retried.
    Lost(String),
    /// The server refused the password: retrying will not help.
    Refused(String),
    /// It is back.
    Back,
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

fn refused(jid: &BareJid) -> AdapterError {
    AdapterError::Unauthorized {
        adapter: NAME.into(),
        fix: format!(
            "the server refused the password for {jid}; store the right one with `deepwork adapters token xmpp`"
        ),
    }
}

impl XmppAdapter {
    /// An adapter for `jid` (`alice@example.org`), connecting to `server` (`host:port`)
    /// when given, else where the domain's DNS records point.
    pub fn new(jid: &str, password: String, server: Option<&str>) -> Result<Self, AdapterError> {
        let jid: BareJid = jid.parse().map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("{jid:?} is not a Jabber ID ({e}); write it like \"alice@example.org\""),
        })?;
        if jid.node().is_none() {
            return Err(AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("{jid} names a server, not an account; write it like \"alice@{jid}\""),
            });
        }
        let server = match server {
            None => None,
            Some(address) => {
                let (host, port) = address
                    .rsplit_once(':')
                    .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
                    .ok_or_else(|| AdapterError::Unauthorized {
                        adapter: NAME.into(),
                        fix: format!("the XMPP server {address:?} is not host:port"),
                    })?;
                Some((host, port))
            }
        };
        Ok(XmppAdapter {
            inner: Arc::new(Inner {
                jid,
                password,
                server,
                session: tokio::sync::Mutex::default(),
                queue: Mutex::default(),
                changed: Notify::new(),
                epoch: jiff::Timestamp::now().as_millisecond().to_string(),
            }),
        })
    }
}

impl Drop for XmppAdapter {
    /// The connection task keeps the adapter's state alive, so it would outlive the
    /// adapter (when the engine reconnects the platforms) and fight the new one for
    /// the same resource; it ends with the adapter, and the server takes the resource
    /// offline.
    fn drop(&mut self) {
        if let Ok(mut session) = self.inner.session.try_lock()
            && let Some(live) = session.take()
        {
            live.task.abort();
        }
    }
}

/// The focus presence: do not disturb, the status text, the highest priority.
fn focus_presence(text: &str) -> Presence {
    let mut presence = Presence::available()
        .with_show(Show::Dnd)
        .with_priority(PRIORITY);
    presence.set_status(Lang::from(""), text.to_owned());
    presence
}

type Stream = XmppStream<<StartTlsServerConnector as ServerConnector>::Stream>;

impl Inner {
    /// Connects, signs in and binds Deepwork's resource.
    async fn connect(&self) -> Result<Stream, AdapterError> {
        let dns = match &self.server {
            Some((host, port)) => DnsConfig::no_srv(host, *port),
            None => DnsConfig::srv_default_client(self.jid.domain().as_str()),
        };
        let connector = StartTlsServerConnector::from(dns);
        let jid = Jid::from(self.jid.clone());
        let io = |e: &dyn std::fmt::Display| unavailable(&e.to_string());
        let login = async {
            let (pending, binding) = connector
                .connect(&jid, ns::JABBER_CLIENT, Timeouts::default())
                .await
                .map_err(|e| io(&e))?;
            let (features, stream) = pending.recv_features().await.map_err(|e| io(&e))?;
            let credentials = sasl::common::Credentials::default()
                .with_username(self.jid.node().map(|n| n.as_str()).unwrap_or_default())
                .with_password(self.password.clone())
                .with_channel_binding(binding);
            let stream = client_login(stream, features.sasl_mechanisms, credentials)
                .await
                .map_err(|e| match e {
                    tokio_xmpp::Error::Auth(_) => refused(&self.jid),
                    other => io(&other),
                })?;
            let stream = stream
                .send_header(StreamHeader {
                    to: Some(Cow::Borrowed(self.jid.domain().as_str())),
                    from: None,
                    id: None,
                })
                .await
                .map_err(|e| io(&e))?;
            let (_, mut stream): (_, Stream) = stream.recv_features().await.map_err(|e| io(&e))?;
            let bind = Iq::from_set("bind", BindQuery::new(Some(RESOURCE.into())));
            stream
                .send(&XmppStreamElement::Stanza(bind.into()))
                .await
                .map_err(|e| io(&e))?;
            loop {
                match next_element(&mut stream).await? {
                    XmppStreamElement::Stanza(Stanza::Iq(Iq::Result { id, .. }))
                        if id == "bind" =>
                    {
                        return Ok(stream);
                    }
                    XmppStreamElement::Stanza(Stanza::Iq(Iq::Error { id, error, .. }))
                        if id == "bind" =>
                    {
                        return Err(malformed(&format!("binding a resource: {error:?}")));
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, login)
            .await
            .map_err(|_| unavailable("connecting and signing in took too long"))?
    }

    /// Keeps the focus resource online: sends what comes on `outgoing`, holds what
    /// comes in, and reconnects (presence and all) when the connection drops.
    async fn run(
        self: Arc<Self>,
        mut stream: Stream,
        mut presence: Presence,
        mut outgoing: mpsc::Receiver<Stanza>,
    ) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let ended = self.serve(&mut stream, &mut presence, &mut outgoing).await;
            match ended {
                Served::Closed => {
                    let offline = Presence::new(PresenceType::Unavailable);
                    let _ = stream
                        .send(&XmppStreamElement::Stanza(offline.into()))
                        .await;
                    let _ = <Stream as SinkExt<&XmppStreamElement>>::close(&mut stream).await;
                    return;
                }
                Served::Dropped(reason) => {
                    tracing::warn!(%reason, "XMPP connection lost; reconnecting");
                    self.report(Report::Lost(reason));
                }
            }
            stream = loop {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                if outgoing.is_closed() {
                    return;
                }
                match self.connect().await {
                    Ok(stream) => break stream,
                    Err(AdapterError::Unauthorized { fix, .. }) => {
                        self.report(Report::Refused(fix));
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "XMPP reconnect failed"),
                }
            };
            backoff = FIRST_BACKOFF;
            self.report(Report::Back);
        }
    }

    fn report(&self, report: Report) {
        self.queue.lock().expect("queue").report = Some(report);
        self.changed.notify_waiters();
    }

    async fn serve(
        &self,
        stream: &mut Stream,
        presence: &mut Presence,
        outgoing: &mut mpsc::Receiver<Stanza>,
    ) -> Served {
        if let Err(e) = stream
            .send(&XmppStreamElement::Stanza(presence.clone().into()))
            .await
        {
            return Served::Dropped(e.to_string());
        }
        loop {
            tokio::select! {
                stanza = outgoing.recv() => {
                    let Some(stanza) = stanza else { return Served::Closed };
                    if let Stanza::Presence(update) = &stanza {
                        *presence = update.clone();
                    }
                    if let Err(e) = stream.send(&XmppStreamElement::Stanza(stanza)).await {
                        return Served::Dropped(e.to_string());
                    }
                }
                element = next_element(stream) => match element {
                    Ok(XmppStreamElement::Stanza(Stanza::Message(message))) => self.hold(message),
                    Ok(XmppStreamElement::Stanza(Stanza::Iq(iq))) => {
                        if let Some(answer) = answer(iq)
                            && let Err(e) = stream.send(&XmppStreamElement::Stanza(answer.into())).await
                        {
                            return Served::Dropped(e.to_string());
                        }
                    }
                    Ok(XmppStreamElement::StreamError(error)) => {
                        return Served::Dropped(format!("stream error: {error:?}"));
                    }
                    Ok(_) => {}
                    Err(error) => return Served::Dropped(error.to_string()),
                },
            }
        }
    }

    /// Queues a message for the engine when it is one to the user.
    fn hold(&self, message: Message) {
        let Some(incoming) = incoming(&self.jid, message) else {
            return;
        };
        let mut queue = self.queue.lock().expect("queue");
        queue.last_seq += 1;
        let seq = queue.last_seq;
        queue.held.push((seq, incoming));
        if queue.held.len() > MAX_QUEUED {
            queue.held.remove(0);
        }
        drop(queue);
        self.changed.notify_waiters();
    }
}

/// How a connection ended.
enum Served {
    /// Deepwork closed it: the focus is over.
    Closed,
    /// It dropped, for this reason.
    Dropped(String),
}

/// The next element from the server, or why there is none.
async fn next_element(stream: &mut Stream) -> Result<XmppStreamElement, AdapterError> {
    loop {
        match stream.next().await {
            None => return Err(unavailable("the server closed the connection")),
            Some(Ok(element)) => match element.into_read_error() {
                Ok(element) => return Ok(element),
                // One element the parser does not know is skipped, not fatal.
                Err(tokio_xmpp::xmlstream::ReadError::ParseError(e)) => {
                    tracing::debug!(%e, "skipped an XMPP element");
                }
                Err(e) => return Err(unavailable(&e.to_string())),
            },
            Some(Err(tokio_xmpp::xmlstream::ReadError::SoftTimeout)) => {}
            Some(Err(e)) => return Err(unavailable(&e.to_string())),
        }
    }
}

/// The answer to a request from the server or a contact: pings are answered, anything
/// else is not offered here.
fn answer(iq: Iq) -> Option<Iq> {
    let (from, id, payload) = match iq {
        Iq::Get {
            from, id, payload, ..
        }
        | Iq::Set {
            from, id, payload, ..
        } => (from, id, payload),
        Iq::Result { .. } | Iq::Error { .. } => return None,
    };
    if payload.is("ping", ns::PING) {
        return Some(Iq::Result {
            from: None,
            to: from,
            id,
            payload: None,
        });
    }
    Some(Iq::Error {
        from: None,
        to: from,
        id,
        error: StanzaError::new(
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            "en",
            "",
        ),
        payload: None,
    })
}

/// The message to hold, if `message` is one to the user: a chat or normal message with a
/// body, from someone else.
fn incoming(me: &BareJid, message: Message) -> Option<IncomingMessage> {
    if !matches!(message.type_, MessageType::Chat | MessageType::Normal) {
        return None;
    }
    let from = message.from.clone()?;
    let sender = from.to_bare();
    if &sender == me {
        return None;
    }
    let body = message
        .bodies
        .get(&Lang::from(""))
        .or_else(|| message.bodies.values().next())?;
    let automated = message
        .payloads
        .iter()
        .any(|payload| payload.ns() == AUTO_REPLY_NS);
    Some(IncomingMessage {
        id: message
            .id
            .as_ref()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        sender: sender.to_string(),
        sender_name: None,
        channel: None,
        addressed: Addressed::Direct,
        text: plain(body),
        automated,
        url: None,
        reply_to: ReplyTarget {
            conversation: from.to_string(),
            sender: sender.to_string(),
        },
        usual_class: None,
    })
}

#[async_trait]
impl StatusAdapter for XmppAdapter {
    fn name(&self) -> &str {
        NAME
    }

    /// Deepwork's resource is offline outside a session; that is all there is to keep.
    /// Signing in (without going online) checks the server and the password first.
    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        if self.inner.session.lock().await.is_none() {
            let mut stream = self.inner.connect().await?;
            let _ = <Stream as SinkExt<&XmppStreamElement>>::close(&mut stream).await;
        }
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data: serde_json::json!({ "resource": RESOURCE, "online": false }),
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        let presence = focus_presence(&status.text);
        let mut session = self.inner.session.lock().await;
        if let Some(live) = session.as_ref()
            && !live.task.is_finished()
        {
            return live
                .outgoing
                .send(presence.into())
                .await
                .map_err(|_| unavailable("the connection task stopped"));
        }
        let stream = self.inner.connect().await?;
        self.inner.queue.lock().expect("queue").report = None;
        let (outgoing, receiver) = mpsc::channel(16);
        let task = tokio::spawn(self.inner.clone().run(stream, presence, receiver));
        *session = Some(Session { outgoing, task });
        Ok(())
    }

    async fn restore(&self, _snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let Some(Session { outgoing, mut task }) = self.inner.session.lock().await.take() else {
            // Nothing online: after a crash the server took the resource offline itself.
            return Ok(());
        };
        // Closing the channel has the task go offline and close the stream.
        drop(outgoing);
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
        Ok(())
    }
}

#[async_trait]
impl MessageSource for XmppAdapter {
    /// Waits for a message however long that takes (not `_wait`): the server pushes
    /// them, so a quiet session costs nothing.
    async fn fetch(&self, cursor: Option<&str>, _wait: Duration) -> Result<Batch, AdapterError> {
        let epoch = &self.inner.epoch;
        let Some(cursor) = cursor else {
            let last = self.inner.queue.lock().expect("queue").last_seq;
            return Ok(Batch {
                messages: Vec::new(),
                cursor: format!("{epoch}:{last}"),
            });
        };
        // A cursor from an earlier run of the engine: everything queued now is new.
        let after = match cursor.split_once(':') {
            Some((from, seq)) if from == epoch => seq
                .parse::<u64>()
                .map_err(|_| malformed(&format!("bad cursor {cursor:?}")))?,
            _ => 0,
        };
        loop {
            let changed = self.inner.changed.notified();
            {
                let mut queue = self.inner.queue.lock().expect("queue");
                queue.held.retain(|(seq, _)| *seq > after);
                if let Some((last, _)) = queue.held.last() {
                    let cursor = format!("{epoch}:{last}");
                    let messages = queue.held.iter().map(|(_, m)| m.clone()).collect();
                    return Ok(Batch { messages, cursor });
                }
                match queue.report.take() {
                    Some(Report::Lost(reason)) => return Err(unavailable(&reason)),
                    Some(Report::Refused(fix)) => {
                        return Err(AdapterError::Unauthorized {
                            adapter: NAME.into(),
                            fix,
                        });
                    }
                    Some(Report::Back) => {
                        return Ok(Batch {
                            messages: Vec::new(),
                            cursor: format!("{epoch}:{after}"),
                        });
                    }
                    None => {}
                }
            }
            changed.await;
        }
    }
}

#[async_trait]
impl Replier for XmppAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let recipient: Jid = to
            .conversation
            .parse()
            .map_err(|_| malformed(&format!("cannot reply to {:?}", to.conversation)))?;
        let mut message = Message::chat(recipient).with_body(Lang::from(""), text.to_owned());
        message
            .payloads
            .push(Element::builder("auto-reply", AUTO_REPLY_NS).build());
        let session = self.inner.session.lock().await;
        let live = session
            .as_ref()
            .ok_or_else(|| unavailable("not connected"))?;
        live.outgoing
            .send(message.into())
            .await
            .map_err(|_| unavailable("the connection task stopped"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> BareJid {
        "alice@localhost".parse().unwrap()
    }

    fn chat(from: &str, body: &str) -> Message {
        let mut message = Message::chat(Jid::from(me())).with_body(Lang::from(""), body.into());
        message.from = Some(from.parse().unwrap());
        message
    }

    #[test]
    fn chats_from_others_are_held_as_plain_text() {
        let held = incoming(&me(), chat("bob@localhost/phone", "hi\u{1b}[2J")).unwrap();
        assert_eq!(
            (held.sender.as_str(), held.text.as_str(), held.addressed),
            ("bob@localhost", "hi[2J", Addressed::Direct)
        );
        assert_eq!(held.reply_to.conversation, "bob@localhost/phone");
        assert!(!held.automated);
    }

    #[test]
    fn own_group_bodiless_and_marked_messages_are_told_apart() {
        assert!(incoming(&me(), chat("alice@localhost/laptop", "note to self")).is_none());
        let mut group = chat("room@conference.localhost/bob", "hi all");
        group.type_ = MessageType::Groupchat;
        assert!(incoming(&me(), group).is_none());
        let mut typing = chat("bob@localhost/phone", "");
        typing.bodies.clear();
        assert!(incoming(&me(), typing).is_none());
        let mut marked = chat("bob@localhost/deepwork", "I'm in deep work until 15:00.");
        marked
            .payloads
            .push(Element::builder("auto-reply", AUTO_REPLY_NS).build());
        assert!(incoming(&me(), marked).unwrap().automated);
    }

    #[test]
    fn the_focus_presence_is_do_not_disturb_at_the_highest_priority() {
        let presence = focus_presence("Deep work — checking messages at 14:00");
        assert_eq!(presence.show, Some(Show::Dnd));
        assert_eq!(presence.priority.0, PRIORITY);
        assert_eq!(
            presence.statuses.get(&Lang::from("")).map(String::as_str),
            Some("Deep work — checking messages at 14:00")
        );
    }
}

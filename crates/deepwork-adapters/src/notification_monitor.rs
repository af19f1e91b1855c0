//! Other apps' desktop notifications, held during deep work.
//!
//! Capture does not replace the user's notification daemon: a second connection to the
//! session bus becomes a monitor (`BecomeMonitor`) for `Notify` calls and the daemon's
//! answers, and the desktop's own do-not-disturb keeps popups off the screen for the
//! session ([`Dnd`]). Seen from the engine this is one more platform: its "status" is
//! the do-not-disturb state (snapshotted and persisted before it changes, restored at
//! the end or after a crash), its messages are the held notifications.
//!
//! A held notification is closed in the daemon once the engine has stored it (the next
//! read's cursor says so), so the daemon has nothing queued to replay at check-in.

use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, ReplyTarget,
    StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use deepwork_core::held_notifications::{
    CapturedNotice, DoNotDisturb, HoldNotificationsConfig, NoticeUrgency, Verdict, plain_text,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OnceCell, watch};
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, Message, MessageStream};

const NAME: &str = "desktop";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
const DUNST: &str = "org.dunstproject.cmd0";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// At most this many captured notifications wait to be stored; beyond it the oldest
/// are dropped (a runaway app must not grow the resident without bound).
const MAX_QUEUED: usize = 10_000;

/// Which do-not-disturb to drive: found from the running daemon, or named in config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DndKind {
    /// GNOME Shell: `org.gnome.desktop.notifications show-banners`.
    Gnome,
    /// KDE Plasma: the notification server's `Inhibit`.
    Kde,
    /// dunst: `paused`.
    Dunst,
    /// mako: the `do-not-disturb` mode.
    Mako,
}

impl DndKind {
    /// The one named in config; `None` for "find out".
    pub fn configured(setting: DoNotDisturb) -> Option<Self> {
        match setting {
            DoNotDisturb::Auto => None,
            DoNotDisturb::Gnome => Some(DndKind::Gnome),
            DoNotDisturb::Kde => Some(DndKind::Kde),
            DoNotDisturb::Dunst => Some(DndKind::Dunst),
            DoNotDisturb::Mako => Some(DndKind::Mako),
        }
    }
}

/// The do-not-disturb state before the session: what restore puts back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "daemon", rename_all = "snake_case")]
pub enum Dnd {
    /// GNOME's banners were on or off.
    Gnome {
        /// `show-banners`.
        show_banners: bool,
    },
    /// KDE: an inhibition lives as long as the connection that asked for it, so a crash
    /// lifts it by itself; nothing to record.
    Kde,
    /// dunst was paused or not.
    Dunst {
        /// `paused`.
        paused: bool,
    },
    /// mako had these modes.
    Mako {
        /// `makoctl mode` before.
        modes: Vec<String>,
    },
    /// No do-not-disturb Deepwork knows: notifications are still held and closed, but
    /// may flash on screen first.
    Unknown {
        /// The daemon's name, if one answered.
        server: Option<String>,
    },
}

/// Holds desktop notifications while focusing.
pub struct DesktopNotifications {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DesktopNotifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifications")
            .field("policy", &self.inner.policy)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// This monitor's run: sequence numbers restart with each run, so ids and cursors
    /// carry it, and a cursor from an earlier run (before a restart) covers none of ours.
    run: u64,
    policy: HoldNotificationsConfig,
    kind: Option<DndKind>,
    capture: Mutex<Capture>,
    captured: watch::Sender<u64>,
    control: OnceCell<Connection>,
    /// The task following the bus; started again at the next read after it ends.
    monitor: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Why the monitor ended, until it runs again: reads report it instead of waiting
    /// for captures that can no longer come.
    monitor_lost: Mutex<Option<String>>,
    kde_cookie: Mutex<Option<u32>>,
    dunst: tokio::sync::Mutex<DunstPause>,
}

/// dunst has no pause that lets some notifications through (its pause levels need the
/// user's own rules), so while one that must show is on screen the pause is lifted, and
/// put back when the last such one closes.
#[derive(Default)]
struct DunstPause {
    /// Deepwork paused dunst for the session.
    paused_by_us: bool,
    /// Ids of notifications that must show and are still open.
    showing: std::collections::HashSet<u32>,
}

/// What the monitor has seen, shared with the reads.
#[derive(Default)]
struct Capture {
    /// Since when notifications are held: the sequence number at arming.
    armed_from: Option<u64>,
    last_seq: u64,
    /// What the engine has stored (the last read's cursor).
    stored_up_to: u64,
    held: VecDeque<Held>,
    /// Notify calls held or dropped, waiting for the daemon's id: (caller, serial).
    awaiting_id: HashMap<(String, u32), Awaiting>,
    /// Held notifications' message ids by the daemon's id, so that a notification
    /// replacing one (`replaces_id`, a progress update) updates its item.
    message_ids: HashMap<u32, String>,
}

struct Held {
    seq: u64,
    message: IncomingMessage,
    id: Option<u32>,
}

#[derive(Clone, Copy)]
enum Awaiting {
    Held(u64),
    Dropped,
    Passing,
}

impl DesktopNotifications {
    /// Holds by `policy`; `kind` forces a do-not-disturb, `None` detects it.
    pub fn new(policy: HoldNotificationsConfig, kind: Option<DndKind>) -> Self {
        DesktopNotifications {
            inner: Arc::new(Inner {
                run: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_millis() as u64),
                policy,
                kind,
                capture: Mutex::new(Capture::default()),
                captured: watch::channel(0).0,
                control: OnceCell::new(),
                monitor: tokio::sync::Mutex::new(None),
                monitor_lost: Mutex::new(None),
                kde_cookie: Mutex::new(None),
                dunst: tokio::sync::Mutex::new(DunstPause::default()),
            }),
        }
    }

    /// Starts holding from now on (idempotent): the monitor runs from the first session.
    async fn arm(&self) -> Result<(), AdapterError> {
        self.inner.start_monitor().await?;
        let mut capture = self.inner.capture.lock().expect("capture lock");
        if capture.armed_from.is_none() {
            capture.armed_from = Some(capture.last_seq);
            capture.stored_up_to = capture.last_seq;
        }
        Ok(())
    }

    fn disarm(&self) {
        let mut capture = self.inner.capture.lock().expect("capture lock");
        capture.armed_from = None;
        capture.held.clear();
        capture.awaiting_id.clear();
        capture.message_ids.clear();
    }
}

impl Inner {
    async fn control(&self) -> Result<&Connection, AdapterError> {
        self.control
            .get_or_try_init(|| async {
                Connection::session()
                    .await
                    .map_err(|e| unavailable(&format!("no session bus: {e}")))
            })
            .await
    }

    async fn start_monitor(self: &Arc<Self>) -> Result<(), AdapterError> {
        let mut monitor = self.monitor.lock().await;
        if monitor.as_ref().is_some_and(|task| !task.is_finished()) {
            return Ok(());
        }
        let stream = monitor_stream(self).await?;
        *self.monitor_lost.lock().expect("monitor lock") = None;
        *monitor = Some(tokio::spawn(self.clone().watch(stream)));
        Ok(())
    }

    /// The monitor ended: reads waiting for captures are told.
    fn lose_monitor(&self, why: &str) {
        tracing::warn!(why, "the notification monitor stopped");
        *self.monitor_lost.lock().expect("monitor lock") = Some(why.to_owned());
        self.captured.send_modify(|_| {});
    }

    /// Follows the bus until it goes away; a message it cannot read is skipped. When
    /// the notification daemon is replaced, the monitor follows the new one (its answers
    /// come from a new name) and a paused dunst is paused again.
    async fn watch(self: Arc<Self>, mut stream: MessageStream) {
        loop {
            let Some(message) = stream.next().await else {
                self.lose_monitor("it lost the session bus");
                return;
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "an unreadable message on the bus; skipped");
                    continue;
                }
            };
            if !is_new_daemon(&message) {
                self.see(&message).await;
                continue;
            }
            tracing::info!("the notification daemon changed; following the new one");
            match monitor_stream(&self).await {
                Ok(next) => stream = next,
                Err(error) => {
                    self.lose_monitor(&format!(
                        "it cannot follow the new notification daemon: {error}"
                    ));
                    return;
                }
            }
            self.daemon_replaced().await;
        }
    }

    /// A new daemon starts unpaused and shows nothing of the old one's.
    async fn daemon_replaced(&self) {
        let mut dunst = self.dunst.lock().await;
        dunst.showing.clear();
        if dunst.paused_by_us
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, true).await
        {
            tracing::warn!(%error, "could not pause the new dunst");
        }
    }

    async fn see(&self, message: &Message) {
        let header = message.header();
        match header.message_type() {
            MessageType::MethodCall => {
                let Some(caller) = header.sender().map(|s| s.to_string()) else {
                    return;
                };
                let serial = header.primary().serial_num().get();
                match read_notify(message) {
                    Ok((notice, replaces)) => self.capture(notice, replaces, (caller, serial)),
                    Err(error) => {
                        tracing::warn!(%error, "a Notify call that is not one; ignored")
                    }
                }
            }
            MessageType::Signal => {
                if let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>() {
                    self.closed(id).await;
                }
            }
            MessageType::MethodReturn => {
                let (Some(caller), Some(serial)) = (header.destination(), header.reply_serial())
                else {
                    return;
                };
                let key = (caller.to_string(), serial.get());
                if let Ok(id) = message.body().deserialize::<u32>() {
                    self.answered(key, id).await;
                }
            }
            _ => {}
        }
    }

    fn capture(&self, notice: CapturedNotice, replaces: u32, caller: (String, u32)) {
        let mut capture = self.capture.lock().expect("capture lock");
        if capture.armed_from.is_none() {
            return;
        }
        let verdict = self.policy.verdict(&notice);
        tracing::debug!(app = %notice.app, ?verdict, "a notification during deep work");
        match verdict {
            Verdict::Pass => {
                capture.awaiting_id.insert(caller, Awaiting::Passing);
            }
            Verdict::Drop => {
                capture.awaiting_id.insert(caller, Awaiting::Dropped);
            }
            Verdict::Hold => {
                let replaced = capture.message_ids.get(&replaces).cloned();
                let queued = capture
                    .held
                    .iter()
                    .position(|held| replaces != 0 && held.id == Some(replaces));
                if let Some(at) = queued {
                    // Not stored yet: the queued one takes the new text.
                    let held = &mut capture.held[at];
                    let id = held.message.id.clone();
                    held.message = IncomingMessage {
                        id,
                        ..incoming(self.run, held.seq, &notice)
                    };
                    let seq = held.seq;
                    capture.awaiting_id.insert(caller, Awaiting::Held(seq));
                    self.captured.send_modify(|_| {});
                    return;
                }
                capture.last_seq += 1;
                let seq = capture.last_seq;
                capture.awaiting_id.insert(caller, Awaiting::Held(seq));
                let mut message = incoming(self.run, seq, &notice);
                if let Some(id) = replaced {
                    // Stored already: the same message id makes the engine update it.
                    message.id = id;
                }
                capture.held.push_back(Held {
                    seq,
                    message,
                    id: None,
                });
                if capture.held.len() > MAX_QUEUED
                    && let Some(lost) = capture.held.pop_front()
                {
                    tracing::warn!(
                        app = %lost.message.sender,
                        "more notifications waiting to be stored than the limit; the oldest is dropped"
                    );
                }
                self.captured.send_replace(seq);
            }
        }
    }

    /// The daemon gave a notification its id: close it if it is already stored.
    async fn answered(&self, key: (String, u32), id: u32) {
        let awaiting = self
            .capture
            .lock()
            .expect("capture lock")
            .awaiting_id
            .remove(&key);
        if let Some(Awaiting::Passing) = awaiting {
            self.let_through(id).await;
            return;
        }
        let close = {
            let mut capture = self.capture.lock().expect("capture lock");
            let stored_up_to = capture.stored_up_to;
            match awaiting {
                None | Some(Awaiting::Passing) => false,
                Some(Awaiting::Dropped) => true,
                Some(Awaiting::Held(seq)) => {
                    if capture.message_ids.len() >= MAX_QUEUED {
                        capture.message_ids.clear();
                    }
                    let message_id = capture
                        .held
                        .iter()
                        .find(|h| h.seq == seq)
                        .map_or_else(|| cursor(self.run, seq), |h| h.message.id.clone());
                    capture.message_ids.insert(id, message_id);
                    let position = capture.held.iter().position(|h| h.seq == seq);
                    match position {
                        Some(at) if seq <= stored_up_to => {
                            capture.held.remove(at);
                            true
                        }
                        Some(at) => {
                            capture.held[at].id = Some(id);
                            false
                        }
                        None => false,
                    }
                }
            }
        };
        if close {
            self.close(&[id]).await;
        }
    }

    /// A notification that must show went to a paused dunst: lift the pause while it is
    /// open.
    async fn let_through(&self, id: u32) {
        let mut dunst = self.dunst.lock().await;
        if !dunst.paused_by_us {
            return;
        }
        let first = dunst.showing.is_empty();
        dunst.showing.insert(id);
        if first
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, false).await
        {
            tracing::warn!(%error, "could not let a notification through dunst's pause");
        }
    }

    /// A notification closed: when it was the last one let through, pause dunst again.
    async fn closed(&self, id: u32) {
        let mut dunst = self.dunst.lock().await;
        if dunst.showing.remove(&id)
            && dunst.showing.is_empty()
            && dunst.paused_by_us
            && let Ok(control) = self.control().await
            && let Err(error) = set_dunst_paused(control, true).await
        {
            tracing::warn!(%error, "could not pause dunst again");
        }
    }

    /// Takes notifications off the daemon's screen and queue.
    async fn close(&self, ids: &[u32]) {
        let Ok(control) = self.control().await else {
            return;
        };
        for id in ids {
            if let Err(error) = call(control, NOTIFICATIONS, "CloseNotification", &(*id,)).await {
                tracing::debug!(%error, id, "could not close a held notification");
            }
        }
    }
}

/// Calls `interface.method` on the notification server's object.
async fn call<B>(
    control: &Connection,
    interface: &str,
    method: &str,
    body: &B,
) -> zbus::Result<Message>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    control
        .call_method(
            Some(NOTIFICATIONS),
            NOTIFICATIONS_PATH,
            Some(interface),
            method,
            body,
        )
        .await
}

/// Whether `message` says a notification daemon now owns the name.
fn is_new_daemon(message: &Message) -> bool {
    let header = message.header();
    header.message_type() == MessageType::Signal
        && header
            .member()
            .is_some_and(|m| m.as_str() == "NameOwnerChanged")
        && message
            .body()
            .deserialize::<(String, String, String)>()
            .is_ok_and(|(name, _old, new)| name == NOTIFICATIONS && !new.is_empty())
}

/// A monitor connection for `Notify` calls, the daemon's answers to them, and a new
/// daemon taking the name.
async fn monitor_stream(inner: &Inner) -> Result<MessageStream, AdapterError> {
    let control = inner.control().await?;
    let daemon = zbus::fdo::DBusProxy::new(control)
        .await
        .map_err(|e| unavailable(&e.to_string()))?
        .get_name_owner(NOTIFICATIONS.try_into().expect("a valid bus name"))
        .await
        .ok();
    let mut rules = vec![
        MatchRule::builder()
            .msg_type(MessageType::MethodCall)
            .interface(NOTIFICATIONS)
            .member("Notify")
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    ];
    rules.push(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .arg(0, NOTIFICATIONS)
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    );
    rules.push(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(NOTIFICATIONS)
            .member("NotificationClosed")
            .build()
            .map_err(|e| unavailable(&e.to_string()))?,
    );
    if let Some(daemon) = &daemon {
        rules.push(
            MatchRule::builder()
                .msg_type(MessageType::MethodReturn)
                .sender(daemon.as_str())
                .build()
                .map_err(|e| unavailable(&e.to_string()))?,
        );
    }
    let monitor = Connection::session()
        .await
        .map_err(|e| unavailable(&format!("no session bus: {e}")))?;
    zbus::fdo::MonitoringProxy::new(&monitor)
        .await
        .map_err(|e| unavailable(&e.to_string()))?
        .become_monitor(&rules, 0)
        .await
        .map_err(|e| unavailable(&format!("the bus refused a monitor: {e}")))?;
    Ok(MessageStream::from(monitor))
}

type NotifyArgs = (
    String,
    u32,
    String,
    String,
    String,
    Vec<String>,
    HashMap<String, zbus::OwnedVariant>,
    i32,
);

/// A Notify call's notice, and the id of the notification it replaces (0 for none).
fn read_notify(message: &Message) -> Result<(CapturedNotice, u32), zbus::Error> {
    let (app, replaces, _icon, summary, body, _actions, hints, _timeout): NotifyArgs =
        message.body().deserialize()?;
    let urgency = hints
        .get("urgency")
        .and_then(|value| u8::try_from(value).ok());
    let desktop_entry = hints
        .get("desktop-entry")
        .and_then(|value| <&str>::try_from(value).ok())
        .map(str::to_owned);
    let notice = CapturedNotice {
        app,
        desktop_entry,
        summary,
        body,
        urgency: NoticeUrgency::from_hint(urgency),
    };
    Ok((notice, replaces))
}

/// A held notification as the engine takes messages: the summary is the first line,
/// the body (markup removed) the rest. Never answered: it is not a person writing.
fn incoming(run: u64, seq: u64, notice: &CapturedNotice) -> IncomingMessage {
    let summary = plain_text(&notice.summary).replace('\n', " ");
    let body = plain_text(&notice.body);
    let text = if body.trim().is_empty() {
        summary
    } else {
        format!("{summary}\n{body}")
    };
    IncomingMessage {
        id: cursor(run, seq),
        sender: notice.app.clone(),
        sender_name: None,
        channel: None,
        addressed: Addressed::Direct,
        text,
        automated: true,
        url: None,
        reply_to: ReplyTarget {
            conversation: String::new(),
            sender: notice.app.clone(),
        },
    }
}

/// A message id and read position: the run and the sequence number in it.
fn cursor(run: u64, seq: u64) -> String {
    format!("{run}.{seq}")
}

/// The last sequence number of this run that the engine stored; none for a cursor from
/// an earlier run.
fn stored_seq(run: u64, cursor: &str) -> Result<u64, AdapterError> {
    let bad = || AdapterError::malformed(NAME, &format!("bad cursor {cursor:?}"));
    match cursor.split_once('.') {
        Some((their_run, seq)) if their_run.parse::<u64>().map_err(|_| bad())? == run => {
            seq.parse().map_err(|_| bad())
        }
        _ => Ok(0),
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

#[async_trait]
impl MessageSource for DesktopNotifications {
    /// Waits for a capture however long that takes (not `_wait`): the monitor says
    /// when one comes, so a quiet desktop costs no wakeups.
    async fn fetch(&self, cursor: Option<&str>, _wait: Duration) -> Result<Batch, AdapterError> {
        self.arm().await?;
        let mut captured = self.inner.captured.subscribe();
        let Some(cursor) = cursor else {
            let capture = self.inner.capture.lock().expect("capture lock");
            let from = capture.armed_from.unwrap_or(capture.last_seq);
            return Ok(Batch {
                messages: Vec::new(),
                cursor: self::cursor(self.inner.run, from),
            });
        };
        let stored = stored_seq(self.inner.run, cursor)?;
        let to_close = {
            let mut capture = self.inner.capture.lock().expect("capture lock");
            capture.stored_up_to = capture.stored_up_to.max(stored);
            let mut ids = Vec::new();
            capture.held.retain(|held| {
                if held.seq > stored {
                    return true;
                }
                match held.id {
                    Some(id) => {
                        ids.push(id);
                        false
                    }
                    // Closed when the daemon's answer comes.
                    None => true,
                }
            });
            ids
        };
        self.inner.close(&to_close).await;
        let newer = |capture: &Capture| -> Vec<(u64, IncomingMessage)> {
            capture
                .held
                .iter()
                .filter(|held| held.seq > stored)
                .map(|held| (held.seq, held.message.clone()))
                .collect()
        };
        let mut messages = newer(&self.inner.capture.lock().expect("capture lock"));
        while messages.is_empty() {
            if let Some(why) = self
                .inner
                .monitor_lost
                .lock()
                .expect("monitor lock")
                .clone()
            {
                return Err(unavailable(&format!(
                    "the notification monitor stopped: {why}"
                )));
            }
            if captured.changed().await.is_err() {
                return Err(unavailable("the notification monitor stopped"));
            }
            messages = newer(&self.inner.capture.lock().expect("capture lock"));
        }
        // By sequence number: a replacement keeps the id of the one it replaces.
        let last = messages.last().map_or(stored, |(seq, _)| *seq);
        Ok(Batch {
            messages: messages.into_iter().map(|(_, message)| message).collect(),
            cursor: self::cursor(self.inner.run, last),
        })
    }
}

#[async_trait]
impl StatusAdapter for DesktopNotifications {
    fn name(&self) -> &str {
        NAME
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let dnd = match self.kind().await? {
            Some(kind) => read_dnd(kind, self.inner.control().await?).await?,
            None => Dnd::Unknown {
                server: server_name(self.inner.control().await?).await,
            },
        };
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data: serde_json::to_value(&dnd)
                .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?,
        })
    }

    async fn set_focus(&self, _status: &FocusStatus) -> Result<(), AdapterError> {
        self.arm().await?;
        let control = self.inner.control().await?;
        match self.kind().await? {
            Some(DndKind::Gnome) => gsettings_set_banners(false).await,
            Some(DndKind::Dunst) => {
                let mut dunst = self.inner.dunst.lock().await;
                // A check-in renews the status; a notification let through stays up.
                if dunst.showing.is_empty() {
                    set_dunst_paused(control, true).await?;
                }
                dunst.paused_by_us = true;
                Ok(())
            }
            Some(DndKind::Mako) => makoctl(&["mode", "-a", "do-not-disturb"]).await.map(|_| ()),
            Some(DndKind::Kde) => {
                let cookie: u32 = call(
                    control,
                    NOTIFICATIONS,
                    "Inhibit",
                    &(
                        "deepwork",
                        "Deep work",
                        HashMap::<&str, zbus::Variant>::new(),
                    ),
                )
                .await
                .and_then(|reply| reply.body().deserialize())
                .map_err(|e| unavailable(&format!("Plasma refused Inhibit: {e}")))?;
                *self.inner.kde_cookie.lock().expect("cookie lock") = Some(cookie);
                Ok(())
            }
            None => Err(AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: "no do-not-disturb Deepwork can drive (GNOME, KDE Plasma, dunst or \
                      mako): other apps' notifications are still held, but may flash on \
                      screen first"
                    .into(),
            }),
        }
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        self.disarm();
        let dnd: Dnd = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| AdapterError::malformed(NAME, &format!("a stored state: {e}")))?;
        let control = self.inner.control().await?;
        match dnd {
            Dnd::Gnome { show_banners } => gsettings_set_banners(show_banners).await,
            Dnd::Dunst { paused } => {
                let mut dunst = self.inner.dunst.lock().await;
                set_dunst_paused(control, paused).await?;
                *dunst = DunstPause::default();
                Ok(())
            }
            Dnd::Mako { modes } => {
                let mut args = vec!["mode"];
                for mode in &modes {
                    args.extend(["-s", mode.as_str()]);
                }
                if modes.is_empty() {
                    args.extend(["-r", "do-not-disturb"]);
                }
                makoctl(&args).await.map(|_| ())
            }
            Dnd::Kde => {
                let cookie = self.inner.kde_cookie.lock().expect("cookie lock").take();
                if let Some(cookie) = cookie {
                    call(control, NOTIFICATIONS, "UnInhibit", &(cookie,))
                        .await
                        .map_err(|e| unavailable(&format!("Plasma refused UnInhibit: {e}")))?;
                }
                Ok(())
            }
            Dnd::Unknown { .. } => Ok(()),
        }
    }
}

impl DesktopNotifications {
    /// The do-not-disturb to drive: the configured one, else the running daemon's,
    /// else the desktop's (`XDG_CURRENT_DESKTOP`).
    async fn kind(&self) -> Result<Option<DndKind>, AdapterError> {
        if self.inner.kind.is_some() {
            return Ok(self.inner.kind);
        }
        let server = server_name(self.inner.control().await?).await;
        let desktop = std::env::var("XDG_CURRENT_DESKTOP").unwrap_or_default();
        Ok(detect(server.as_deref(), &desktop))
    }
}

/// The do-not-disturb for a daemon called `server` on desktop `desktop`.
pub fn detect(server: Option<&str>, desktop: &str) -> Option<DndKind> {
    match server.map(str::to_ascii_lowercase).as_deref() {
        Some("dunst") => return Some(DndKind::Dunst),
        Some("mako") => return Some(DndKind::Mako),
        Some("plasma") => return Some(DndKind::Kde),
        Some("gnome-shell") => return Some(DndKind::Gnome),
        _ => {}
    }
    let desktop = desktop.to_ascii_lowercase();
    desktop.split(':').find_map(|part| match part {
        "gnome" | "ubuntu" | "unity" => Some(DndKind::Gnome),
        "kde" => Some(DndKind::Kde),
        _ => None,
    })
}

async fn server_name(control: &Connection) -> Option<String> {
    let reply = call(control, NOTIFICATIONS, "GetServerInformation", &())
        .await
        .ok()?;
    let (name, _vendor, _version, _spec): (String, String, String, String) =
        reply.body().deserialize().ok()?;
    Some(name)
}

async fn read_dnd(kind: DndKind, control: &Connection) -> Result<Dnd, AdapterError> {
    Ok(match kind {
        DndKind::Gnome => Dnd::Gnome {
            show_banners: gsettings_get_banners().await?,
        },
        DndKind::Kde => Dnd::Kde,
        DndKind::Dunst => {
            let reply = call(control, PROPERTIES, "Get", &(DUNST, "paused"))
                .await
                .map_err(|e| unavailable(&format!("dunst did not say if it is paused: {e}")))?;
            let value: zbus::OwnedVariant = reply
                .body()
                .deserialize()
                .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?;
            Dnd::Dunst {
                paused: bool::try_from(&value)
                    .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?,
            }
        }
        DndKind::Mako => {
            let modes = makoctl(&["mode"]).await?;
            Dnd::Mako {
                modes: modes
                    .lines()
                    .map(str::trim)
                    .filter(|mode| !mode.is_empty() && *mode != "do-not-disturb")
                    .map(str::to_owned)
                    .collect(),
            }
        }
    })
}

async fn set_dunst_paused(control: &Connection, paused: bool) -> Result<(), AdapterError> {
    call(
        control,
        PROPERTIES,
        "Set",
        &(DUNST, "paused", zbus::Variant::from(paused)),
    )
    .await
    .map(|_| ())
    .map_err(|e| unavailable(&format!("dunst refused to change pause: {e}")))
}

const BANNERS: [&str; 2] = ["org.gnome.desktop.notifications", "show-banners"];

async fn gsettings_get_banners() -> Result<bool, AdapterError> {
    let output = run("gsettings", &["get", BANNERS[0], BANNERS[1]]).await?;
    match output.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(AdapterError::malformed(
            NAME,
            &format!("gsettings said {other:?} for show-banners"),
        )),
    }
}

async fn gsettings_set_banners(on: bool) -> Result<(), AdapterError> {
    let value = if on { "true" } else { "false" };
    run("gsettings", &["set", BANNERS[0], BANNERS[1], value])
        .await
        .map(|_| ())
}

async fn makoctl(args: &[&str]) -> Result<String, AdapterError> {
    run("makoctl", args).await
}

/// Runs a desktop's own tool; its stdout, or an error naming the command.
async fn run(program: &str, args: &[&str]) -> Result<String, AdapterError> {
    let command = format!("{program} {}", args.join(" "));
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| unavailable(&format!("cannot run `{command}`: {e}")))?;
    if !output.status.success() {
        return Err(unavailable(&format!(
            "`{command}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_decides_before_the_desktop() {
        assert_eq!(detect(Some("dunst"), "GNOME"), Some(DndKind::Dunst));
        assert_eq!(detect(Some("Plasma"), ""), Some(DndKind::Kde));
        assert_eq!(detect(Some("mako"), ""), Some(DndKind::Mako));
        assert_eq!(detect(None, "ubuntu:GNOME"), Some(DndKind::Gnome));
        assert_eq!(detect(Some("xfce4-notifyd"), "XFCE"), None);
        assert_eq!(detect(None, ""), None);
    }

    #[test]
    fn a_cursor_from_an_earlier_run_covers_none_of_this_run() {
        assert_eq!(stored_seq(5, "5.9").unwrap(), 9);
        assert_eq!(stored_seq(5, "4.57").unwrap(), 0);
        assert_eq!(stored_seq(5, "57").unwrap(), 0);
        assert!(stored_seq(5, "5.x").is_err());
        assert_eq!(incoming(5, 9, &notice_from("")).id, "5.9");
    }

    #[test]
    fn a_notification_with_no_app_name_is_still_held() {
        let item = incoming(1, 1, &notice_from("")).to_item("desktop");
        assert_eq!(item.validate(), Ok(()));
        assert_eq!(item.sender, "unknown sender");
    }

    fn notice_from(app: &str) -> CapturedNotice {
        CapturedNotice {
            app: app.into(),
            desktop_entry: None,
            summary: "Build finished".into(),
            body: String::new(),
            urgency: NoticeUrgency::Normal,
        }
    }

    #[test]
    fn a_held_notification_reads_as_plain_text() {
        let notice = CapturedNotice {
            app: "Thunderbird".into(),
            desktop_entry: None,
            summary: "New mail\nfrom Ann".into(),
            body: "<b>Budget</b> &amp; plan".into(),
            urgency: NoticeUrgency::Normal,
        };
        let message = incoming(1, 7, &notice);
        let item = message.to_item("desktop");
        assert_eq!(item.title, "New mail from Ann");
        assert_eq!(item.body.as_deref(), Some("Budget & plan"));
        assert_eq!(item.sender, "Thunderbird");
        assert!(message.automated, "never auto-replied to");
    }

    #[test]
    fn the_state_before_is_stored_as_json_that_reads_back() {
        for dnd in [
            Dnd::Gnome { show_banners: true },
            Dnd::Dunst { paused: false },
            Dnd::Mako {
                modes: vec!["default".into()],
            },
            Dnd::Kde,
            Dnd::Unknown { server: None },
        ] {
            let json = serde_json::to_value(&dnd).unwrap();
            assert_eq!(serde_json::from_value::<Dnd>(json).unwrap(), dnd);
        }
    }
}

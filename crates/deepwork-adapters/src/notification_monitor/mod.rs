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

mod dnd;
mod monitor;

pub use dnd::detect;
use dnd::{gsettings_set_banners, makoctl, read_dnd, server_name, set_dunst_paused};
use monitor::{call, cursor, stored_seq};

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

#[cfg(test)]
mod tests {
    use super::monitor::incoming;
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

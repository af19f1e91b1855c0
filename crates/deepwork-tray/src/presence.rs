//! Seeing the user leave the computer and come back, for the engine: the screen lock
//! from logind's session `LockedHint` (system bus), and idle time from GNOME's
//! `org.gnome.Mutter.IdleMonitor` (session bus, on X11 and Wayland alike), from other
//! Wayland compositors' `ext-idle-notify-v1` (KDE, sway, Hyprland), or on other X11
//! desktops from the MIT-SCREEN-SAVER extension.
//!
//! logind, Mutter and the Wayland compositor send events, so nothing wakes while
//! nothing changes. The X11 extension has no idle event: the watcher sleeps until the
//! idle threshold could first be reached, and while the user is away it asks every few
//! seconds whether they are back.

use deepwork_engine::api::ShellPart;
use deepwork_engine::server::clock_now;
use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use wayland_client::globals::GlobalListContents;
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_protocols::ext::idle_notify::v1::client::ext_idle_notification_v1::{
    Event as IdleNotificationEvent, ExtIdleNotificationV1,
};
use wayland_protocols::ext::idle_notify::v1::client::ext_idle_notifier_v1::ExtIdleNotifierV1;
use zbus::OwnedObjectPath;

/// How often the X11 watcher asks whether an away user is back.
const X11_RETURN_CHECK: Duration = Duration::from_secs(2);

#[zbus::proxy(
    interface = "org.freedesktop.login1.Manager",
    default_service = "org.freedesktop.login1",
    default_path = "/org/freedesktop/login1"
)]
trait LoginManager {
    fn get_session(&self, session_id: &str) -> zbus::Result<OwnedObjectPath>;
    #[zbus(name = "GetSessionByPID")]
    fn get_session_by_pid(&self, pid: u32) -> zbus::Result<OwnedObjectPath>;
}

#[zbus::proxy(
    interface = "org.freedesktop.login1.Session",
    default_service = "org.freedesktop.login1"
)]
trait LoginSession {
    #[zbus(property)]
    fn locked_hint(&self) -> zbus::Result<bool>;
}

#[zbus::proxy(
    interface = "org.gnome.Mutter.IdleMonitor",
    default_service = "org.gnome.Mutter.IdleMonitor",
    default_path = "/org/gnome/Mutter/IdleMonitor/Core"
)]
trait IdleMonitor {
    fn add_idle_watch(&self, interval: u64) -> zbus::Result<u32>;
    fn add_user_active_watch(&self) -> zbus::Result<u32>;
    #[zbus(signal)]
    fn watch_fired(&self, id: u32) -> zbus::Result<()>;
}

/// One signal about the user, from one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Locked(Option<Timestamp>),
    Idle(Option<Timestamp>),
}

/// The lock and idle signals combined: away while either says so, since the earlier.
#[derive(Debug, Default)]
struct Away {
    locked: Option<Timestamp>,
    idle: Option<Timestamp>,
}

impl Away {
    /// Applies `seen`; the new "away since" when it changed whether the user is away.
    fn apply(&mut self, seen: Seen) -> Option<Option<Timestamp>> {
        let before = self.since();
        match seen {
            Seen::Locked(at) => self.locked = at,
            Seen::Idle(at) => self.idle = at,
        }
        let after = self.since();
        (before.is_some() != after.is_some()).then_some(after)
    }

    fn since(&self) -> Option<Timestamp> {
        match (self.locked, self.idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Starts watching the lock and idle time; each change of whether the user is away is
/// sent on `changes` (`Some(since)`: away, `None`: back). `away_after` is the idle time
/// that counts as away (`None`: only the lock counts). Says which sources work.
pub async fn spawn(
    away_after: Option<Duration>,
    changes: UnboundedSender<Option<Timestamp>>,
) -> ShellPart {
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    match watch_lock(seen_tx.clone()).await {
        Ok(()) => sources.push("the screen lock from logind".to_owned()),
        Err(error) => problems.push(format!("the screen lock cannot be seen ({error})")),
    }
    if let Some(after) = away_after {
        let words = minutes_words(after);
        match watch_mutter_idle(after, seen_tx.clone()).await {
            Ok(()) => sources.push(format!("{words} without input, from GNOME's idle monitor")),
            Err(mutter) => match watch_wayland_idle(after, seen_tx.clone()) {
                Ok(()) => sources.push(format!(
                    "{words} without input, from the Wayland compositor (ext-idle-notify)"
                )),
                Err(wayland) => match watch_x11_idle(after, seen_tx) {
                    Ok(()) => sources.push(format!("{words} without input, from X11")),
                    Err(x11) => problems.push(format!(
                        "idle time cannot be seen (no GNOME idle monitor: {mutter}; {wayland}; {x11})"
                    )),
                },
            },
        }
    }
    tokio::spawn(async move {
        let mut away = Away::default();
        while let Some(signal) = seen.recv().await {
            if let Some(change) = away.apply(signal)
                && changes.send(change).is_err()
            {
                return;
            }
        }
    });
    let working = !sources.is_empty();
    let mut how = if working {
        format!("away is {}", sources.join(" or "))
    } else {
        "away time is not seen: check-ins do not wait for you and stats count locked time as focus"
            .to_owned()
    };
    if !problems.is_empty() {
        how.push_str(&format!("; {}", problems.join("; ")));
    }
    ShellPart { working, how }
}

fn minutes_words(after: Duration) -> String {
    match after.as_secs() {
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Follows this login session's `LockedHint` on the system bus.
async fn watch_lock(seen: UnboundedSender<Seen>) -> zbus::Result<()> {
    let bus = zbus::Connection::system().await?;
    let manager = LoginManagerProxy::new(&bus).await?;
    let path = match std::env::var("XDG_SESSION_ID") {
        Ok(id) if !id.is_empty() => manager.get_session(&id).await?,
        _ => manager.get_session_by_pid(std::process::id()).await?,
    };
    let session = LoginSessionProxy::builder(&bus).path(path).build().await?;
    let mut changes = session.receive_locked_hint_changed().await;
    let locked_now = session.locked_hint().await?;
    if locked_now {
        let _ = seen.send(Seen::Locked(Some(clock_now())));
    }
    tokio::spawn(async move {
        while let Some(change) = changes.next().await {
            let Ok(locked) = change.get().await else {
                continue;
            };
            let at = locked.then(clock_now);
            if seen.send(Seen::Locked(at)).is_err() {
                return;
            }
        }
        tracing::warn!("logind's session went away: the screen lock is no longer seen");
    });
    Ok(())
}

/// Asks Mutter to say when the user has been idle `after`, and when they are back.
async fn watch_mutter_idle(after: Duration, seen: UnboundedSender<Seen>) -> zbus::Result<()> {
    let bus = zbus::Connection::session().await?;
    let monitor = IdleMonitorProxy::new(&bus).await?;
    let mut fired = monitor.receive_watch_fired().await?;
    let idle_watch = monitor
        .add_idle_watch(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
        .await?;
    tokio::spawn(async move {
        // Mutter removes a user-active watch once it fired: one is added each time the
        // user goes idle.
        let mut active_watch = None;
        while let Some(signal) = fired.next().await {
            let Ok(args) = signal.args() else {
                continue;
            };
            let id = *args.id();
            let change = if id == idle_watch {
                match monitor.add_user_active_watch().await {
                    Ok(watch) => active_watch = Some(watch),
                    Err(error) => {
                        tracing::warn!(%error, "cannot ask Mutter when the user is back");
                        continue;
                    }
                }
                Seen::Idle(Some(idle_start(clock_now(), after)))
            } else if Some(id) == active_watch {
                active_watch = None;
                Seen::Idle(None)
            } else {
                continue;
            };
            if seen.send(change).is_err() {
                return;
            }
        }
        tracing::warn!("Mutter's idle monitor went away: idle time is no longer seen");
    });
    Ok(())
}

/// Asks the Wayland compositor to say when the user has been idle `after`, and when
/// they are back (ext-idle-notify-v1), on a thread that blocks on the connection.
fn watch_wayland_idle(after: Duration, seen: UnboundedSender<Seen>) -> Result<(), String> {
    use wayland_client::globals::registry_queue_init;
    let connection = wayland_client::Connection::connect_to_env()
        .map_err(|error| format!("no Wayland compositor: {error}"))?;
    let (globals, mut queue) = registry_queue_init::<WaylandIdle>(&connection)
        .map_err(|error| format!("the Wayland compositor did not answer: {error}"))?;
    let handle = queue.handle();
    let seat: WlSeat = globals
        .bind(&handle, 1..=1, ())
        .map_err(|_| "the Wayland compositor has no seat".to_owned())?;
    let notifier: ExtIdleNotifierV1 = globals
        .bind(&handle, 1..=1, ())
        .map_err(|_| "the Wayland compositor has no ext-idle-notify".to_owned())?;
    let timeout = u32::try_from(after.as_millis()).unwrap_or(u32::MAX);
    notifier.get_idle_notification(timeout, &seat, &handle, ());
    let mut state = WaylandIdle { after, seen };
    queue
        .roundtrip(&mut state)
        .map_err(|error| format!("the Wayland compositor went away: {error}"))?;
    std::thread::Builder::new()
        .name("wayland-idle".into())
        .spawn(move || {
            // Kept alive for as long as the notification is wanted.
            let _objects = (seat, notifier, connection);
            loop {
                if let Err(error) = queue.blocking_dispatch(&mut state) {
                    tracing::warn!(%error, "the Wayland compositor went away: idle time is no longer seen");
                    return;
                }
                if state.seen.is_closed() {
                    return;
                }
            }
        })
        .map_err(|error| format!("cannot start the idle thread: {error}"))?;
    Ok(())
}

struct WaylandIdle {
    after: Duration,
    seen: UnboundedSender<Seen>,
}

impl wayland_client::Dispatch<ExtIdleNotificationV1, ()> for WaylandIdle {
    fn event(
        state: &mut Self,
        _: &ExtIdleNotificationV1,
        event: IdleNotificationEvent,
        (): &(),
        _: &wayland_client::Connection,
        _: &wayland_client::QueueHandle<Self>,
    ) {
        let change = match event {
            IdleNotificationEvent::Idled => Seen::Idle(Some(idle_start(clock_now(), state.after))),
            IdleNotificationEvent::Resumed => Seen::Idle(None),
            _ => return,
        };
        let _ = state.seen.send(change);
    }
}

impl wayland_client::Dispatch<wayland_client::protocol::wl_registry::WlRegistry, GlobalListContents>
    for WaylandIdle
{
    fn event(
        _: &mut Self,
        _: &wayland_client::protocol::wl_registry::WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &wayland_client::Connection,
        _: &wayland_client::QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(WaylandIdle: ignore WlSeat);
wayland_client::delegate_noop!(WaylandIdle: ExtIdleNotifierV1);

/// Reads the X server's time since the last input (MIT-SCREEN-SAVER) on a thread of its
/// own.
fn watch_x11_idle(after: Duration, seen: UnboundedSender<Seen>) -> Result<(), String> {
    if std::env::var_os("WAYLAND_DISPLAY").is_some() {
        // XWayland sees only the input of X11 windows.
        return Err("on Wayland, X11 idle time misses most input".into());
    }
    let idle = X11Idle::connect()?;
    idle.since_input()?;
    std::thread::Builder::new()
        .name("idle".into())
        .spawn(move || idle.watch(after, &seen))
        .map_err(|error| format!("cannot start the idle thread: {error}"))?;
    Ok(())
}

struct X11Idle {
    connection: x11rb::rust_connection::RustConnection,
    root: u32,
}

impl X11Idle {
    fn connect() -> Result<X11Idle, String> {
        use x11rb::connection::Connection;
        let (connection, screen) =
            x11rb::connect(None).map_err(|error| format!("no X display for idle time: {error}"))?;
        let root = connection.setup().roots[screen].root;
        Ok(X11Idle { connection, root })
    }

    /// Time since the last keyboard or pointer input.
    fn since_input(&self) -> Result<Duration, String> {
        use x11rb::protocol::screensaver::ConnectionExt;
        let info = self
            .connection
            .screensaver_query_info(self.root)
            .map_err(|error| format!("the X display closed: {error}"))?
            .reply()
            .map_err(|error| format!("no MIT-SCREEN-SAVER extension: {error}"))?;
        Ok(Duration::from_millis(u64::from(info.ms_since_user_input)))
    }

    fn watch(self, after: Duration, seen: &UnboundedSender<Seen>) {
        let mut away = false;
        loop {
            let idle = match self.since_input() {
                Ok(idle) => idle,
                Err(error) => {
                    tracing::warn!(%error, "idle time is no longer seen");
                    return;
                }
            };
            let now_away = idle >= after;
            if now_away != away {
                away = now_away;
                let change = Seen::Idle(away.then(|| idle_start(clock_now(), idle)));
                if seen.send(change).is_err() {
                    return;
                }
            }
            // Present: nothing can change before the threshold could be reached.
            std::thread::sleep(if away {
                X11_RETURN_CHECK
            } else {
                after.saturating_sub(idle).max(X11_RETURN_CHECK)
            });
        }
    }
}

/// When the idle spell that has lasted `idle` at `now` began.
fn idle_start(now: Timestamp, idle: Duration) -> Timestamp {
    SignedDuration::try_from(idle)
        .ok()
        .and_then(|idle| now.checked_sub(idle).ok())
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + minutes * 60).expect("in range")
    }

    #[test]
    fn away_while_locked_or_idle_since_the_earlier_and_back_when_neither() {
        let mut away = Away::default();
        assert_eq!(away.apply(Seen::Idle(Some(t(5)))), Some(Some(t(5))));
        assert_eq!(away.apply(Seen::Locked(Some(t(7)))), None, "still away");
        assert_eq!(away.since(), Some(t(5)));
        assert_eq!(away.apply(Seen::Idle(None)), None, "still locked");
        assert_eq!(away.since(), Some(t(7)));
        assert_eq!(away.apply(Seen::Locked(None)), Some(None), "back");
        assert_eq!(away.apply(Seen::Locked(None)), None, "no change, no report");
    }
}

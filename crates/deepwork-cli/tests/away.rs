//! Away time, end to end: a real `deepwork daemon` sees the user leave and come back
//! through stand-ins of logind (`org.freedesktop.login1`, on a private system bus) and
//! GNOME's `org.gnome.Mutter.IdleMonitor` written from their D-Bus interfaces, through a
//! stand-in Wayland compositor offering `ext-idle-notify-v1` (Debian 12 has no
//! compositor with it), and through a private X server's own MIT-SCREEN-SAVER idle time.

mod support;

use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use support::{Bus, Env, Recorder, TrayHost, Xvfb, eventually};
use wayland_protocols::ext::idle_notify::v1::server::ext_idle_notification_v1::ExtIdleNotificationV1;
use wayland_protocols::ext::idle_notify::v1::server::ext_idle_notifier_v1::{
    self, ExtIdleNotifierV1,
};
use wayland_server::protocol::wl_seat::WlSeat;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New};
use zbus::object_server::SignalEmitter;

const SESSION_PATH: &str = "/org/freedesktop/login1/session/_32";

/// logind's manager: every caller is in session "2".
struct LoginManager;

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl LoginManager {
    fn get_session(&self, id: String) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        if id != "2" {
            return Err(zbus::fdo::Error::Failed(format!("No session '{id}' known")));
        }
        Ok(zbus::OwnedObjectPath::try_from(SESSION_PATH).expect("a path"))
    }

    #[zbus(name = "GetSessionByPID")]
    fn get_session_by_pid(&self, _pid: u32) -> zbus::OwnedObjectPath {
        zbus::OwnedObjectPath::try_from(SESSION_PATH).expect("a path")
    }
}

/// One login session, with the `LockedHint` a screen locker sets.
struct LoginSession {
    locked: bool,
}

#[zbus::interface(name = "org.freedesktop.login1.Session")]
impl LoginSession {
    #[zbus(property)]
    fn locked_hint(&self) -> bool {
        self.locked
    }
}

struct Logind {
    connection: zbus::Connection,
}

impl Logind {
    fn start(address: &str) -> Logind {
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address)
                .name("org.freedesktop.login1")
                .serve_at("/org/freedesktop/login1", LoginManager)
                .serve_at(SESSION_PATH, LoginSession { locked: false })
                .build()
                .await
        })
        .expect("serve logind's stand-in on the private system bus");
        Logind { connection }
    }

    /// Locks or unlocks the screen, as the desktop's locker tells logind.
    fn set_locked(&self, locked: bool) {
        zbus::block_on(async {
            let session = self
                .connection
                .object_server()
                .interface::<_, LoginSession>(SESSION_PATH)
                .await?;
            session.get_mut().await.locked = locked;
            session
                .get()
                .await
                .locked_hint_changed(session.signal_emitter())
                .await
        })
        .expect("set LockedHint");
    }
}

/// Mutter's idle monitor: watches are added by clients and fired by the test.
#[derive(Default)]
struct IdleMonitor {
    watches: Arc<Mutex<Vec<Watch>>>,
    next_id: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Watch {
    Idle { id: u32, interval_ms: u64 },
    UserActive { id: u32 },
}

#[zbus::interface(name = "org.gnome.Mutter.IdleMonitor")]
impl IdleMonitor {
    fn get_idletime(&self) -> u64 {
        0
    }

    fn add_idle_watch(&mut self, interval: u64) -> u32 {
        self.next_id += 1;
        self.watches.lock().expect("watches").push(Watch::Idle {
            id: self.next_id,
            interval_ms: interval,
        });
        self.next_id
    }

    fn add_user_active_watch(&mut self) -> u32 {
        self.next_id += 1;
        self.watches
            .lock()
            .expect("watches")
            .push(Watch::UserActive { id: self.next_id });
        self.next_id
    }

    fn remove_watch(&mut self, id: u32) {
        self.watches.lock().expect("watches").retain(|watch| {
            !matches!(watch, Watch::Idle { id: w, .. } | Watch::UserActive { id: w } if *w == id)
        });
    }

    #[zbus(signal)]
    async fn watch_fired(emitter: &SignalEmitter<'_>, id: u32) -> zbus::Result<()>;
}

const MONITOR_PATH: &str = "/org/gnome/Mutter/IdleMonitor/Core";

struct Mutter {
    connection: zbus::Connection,
    watches: Arc<Mutex<Vec<Watch>>>,
}

impl Mutter {
    fn start(address: &str) -> Mutter {
        let monitor = IdleMonitor::default();
        let watches = Arc::clone(&monitor.watches);
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address)
                .name("org.gnome.Mutter.IdleMonitor")
                .serve_at(MONITOR_PATH, monitor)
                .build()
                .await
        })
        .expect("serve Mutter's idle monitor stand-in on the private bus");
        Mutter {
            connection,
            watches,
        }
    }

    fn watches(&self) -> Vec<Watch> {
        self.watches.lock().expect("watches").clone()
    }

    /// Fires a watch as Mutter does; a user-active watch is removed once fired.
    fn fire(&self, watch: Watch) {
        let id = match watch {
            Watch::Idle { id, .. } => id,
            Watch::UserActive { id } => {
                self.watches
                    .lock()
                    .expect("watches")
                    .retain(|w| *w != watch);
                id
            }
        };
        zbus::block_on(async {
            let emitter = SignalEmitter::new(&self.connection, MONITOR_PATH)?;
            IdleMonitor::watch_fired(&emitter, id).await
        })
        .expect("emit WatchFired");
    }
}

fn status(env: &Env) -> Value {
    env.json(&["status", "--json"])
}

/// What the resident's shell says of away detection, once it has reported.
fn presence_report(env: &Env) -> Value {
    eventually("the shell's report", || {
        let desktop = status(env)["desktop"].clone();
        (!desktop.is_null()).then(|| desktop["presence"].clone())
    })
}

#[test]
fn a_check_in_while_the_screen_is_locked_waits_and_the_user_is_welcomed_back() {
    let mut env = Env::new("[desktop]\naway_after = \"3m\"\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    let system_dir = env.dir.path().join("system");
    std::fs::create_dir(&system_dir).expect("a folder for the system bus");
    let system = Bus::start(&system_dir);
    let logind = Logind::start(&system.address);
    let mutter = Mutter::start(&bus.address);
    let notifications = Recorder::start(&bus.address);
    let _tray_host = TrayHost::start(&bus.address);
    env.bus = Some(bus.address.clone());
    env.system_bus = Some(system.address.clone());
    env.display = Some(x.display.clone());
    let _daemon = env.daemon();

    let presence = presence_report(&env);
    assert_eq!(presence["working"], true, "{presence}");
    assert_eq!(
        presence["how"],
        "away is the screen lock from logind or 3 min without input, from GNOME's idle monitor"
    );
    let idle_watch = eventually("an idle watch of 3 min", || {
        mutter
            .watches()
            .into_iter()
            .find(|w| matches!(w, Watch::Idle { .. }))
    });
    assert_eq!(
        idle_watch,
        Watch::Idle {
            id: 1,
            interval_ms: 180_000
        }
    );

    env.ok(&["start", "--for", "6s"]);
    env.push("slack", "bob", "the notes from Monday are in the wiki", &[]);
    logind.set_locked(true);
    let away = eventually("the lock seen as away", || {
        let status = status(&env);
        status["away_since"].as_str().map(str::to_owned)
    });
    eventually("the end reached while away", || {
        let status = status(&env);
        (status["check_in_waiting"] == true).then_some(())
    });
    let waiting = status(&env);
    assert!(
        !waiting["session"].is_null(),
        "the session waits: {waiting}"
    );
    let held: u64 = ["blocker", "update", "strategic", "pre_ping"]
        .iter()
        .filter_map(|class| waiting["held"][class].as_u64())
        .sum();
    assert_eq!(held, 1, "{waiting}");
    let text = env.ok(&["status"]);
    assert!(
        text.contains("the check-in waits until you are back"),
        "{text}"
    );
    notifications.quiet_for(std::time::Duration::from_millis(500));

    // Idle as well while locked, then unlocked: still away until there is input.
    mutter.fire(idle_watch);
    let active = eventually("a watch for the user's return", || {
        mutter
            .watches()
            .into_iter()
            .find(|w| matches!(w, Watch::UserActive { .. }))
    });
    logind.set_locked(false);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        status(&env)["away_since"].as_str(),
        Some(away.as_str()),
        "unlocked but not yet touched: still away since the lock"
    );
    notifications.quiet_for(std::time::Duration::from_millis(200));
    mutter.fire(active);
    let welcome = notifications.next();
    assert!(
        welcome.summary.starts_with("Welcome back: 1 held: "),
        "{welcome:?}"
    );
    let back = status(&env);
    assert!(back["away_since"].is_null(), "{back}");
    assert!(back["session"].is_null(), "the session ended: {back}");
    let stats = env.json(&["stats", "--json"]);
    let away_hours = stats["away_hours"].as_f64().expect("away_hours");
    assert!(
        away_hours > 0.0 && away_hours < 6.0 / 3600.0,
        "away from the lock to the planned end, within the 6 s session: {stats}"
    );
}

#[test]
fn on_x11_without_gnome_idle_time_comes_from_the_x_server() {
    let mut env = Env::new("[desktop]\nhotkey = \"\"\naway_after = \"2s\"\n");
    let x = Xvfb::start();
    env.display = Some(x.display.clone());
    let _daemon = env.daemon();
    let presence = presence_report(&env);
    assert_eq!(presence["working"], true, "{presence}");
    let how = presence["how"].as_str().expect("how");
    assert!(
        how.starts_with("away is 2 s without input, from X11;")
            && how.contains("the screen lock cannot be seen"),
        "{how}"
    );
    // Nobody touches this X server: after 2 s the user is away.
    eventually("idle seen as away", || {
        status(&env)["away_since"].as_str().map(str::to_owned)
    });
    let moved = Command::new("xdotool")
        .args(["mousemove", "40", "40"])
        .env("DISPLAY", &x.display)
        .status()
        .expect("xdotool is installed (make test installs it)");
    assert!(moved.success());
    eventually("input seen as back", || {
        status(&env)["away_since"].is_null().then_some(())
    });
}

/// A Wayland compositor reduced to what idle notifications need: a seat and the
/// `ext_idle_notifier_v1` global. Its clients' notifications are idled and resumed by
/// the test.
struct Compositor {
    socket: std::path::PathBuf,
    commands: mpsc::Sender<Fired>,
    timeouts: Arc<Mutex<Vec<u32>>>,
}

#[derive(Clone, Copy)]
enum Fired {
    Idled,
    Resumed,
}

#[derive(Default)]
struct CompositorState {
    notifications: Vec<ExtIdleNotificationV1>,
    timeouts: Arc<Mutex<Vec<u32>>>,
}

struct ClientState;

impl wayland_server::backend::ClientData for ClientState {}

impl GlobalDispatch<WlSeat, ()> for CompositorState {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<WlSeat>,
        (): &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<WlSeat, ()> for CompositorState {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &WlSeat,
        _: wayland_server::protocol::wl_seat::Request,
        (): &(),
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
    }
}

impl GlobalDispatch<ExtIdleNotifierV1, ()> for CompositorState {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<ExtIdleNotifierV1>,
        (): &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtIdleNotifierV1, ()> for CompositorState {
    fn request(
        state: &mut Self,
        _: &Client,
        _: &ExtIdleNotifierV1,
        request: ext_idle_notifier_v1::Request,
        (): &(),
        _: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let ext_idle_notifier_v1::Request::GetIdleNotification { id, timeout, .. } = request {
            state.notifications.push(data_init.init(id, ()));
            state.timeouts.lock().expect("timeouts").push(timeout);
        }
    }
}

impl Dispatch<ExtIdleNotificationV1, ()> for CompositorState {
    fn request(
        _: &mut Self,
        _: &Client,
        _: &ExtIdleNotificationV1,
        _: wayland_protocols::ext::idle_notify::v1::server::ext_idle_notification_v1::Request,
        (): &(),
        _: &DisplayHandle,
        _: &mut DataInit<'_, Self>,
    ) {
    }
}

impl Compositor {
    fn start(socket: std::path::PathBuf) -> Compositor {
        let mut display =
            wayland_server::Display::<CompositorState>::new().expect("a Wayland display");
        let handle = display.handle();
        handle.create_global::<CompositorState, WlSeat, ()>(7, ());
        handle.create_global::<CompositorState, ExtIdleNotifierV1, ()>(1, ());
        let listener = wayland_server::ListeningSocket::bind_absolute(socket.clone())
            .expect("bind the Wayland socket");
        let timeouts = Arc::default();
        let mut state = CompositorState {
            notifications: Vec::new(),
            timeouts: Arc::clone(&timeouts),
        };
        let (commands, fired) = mpsc::channel();
        // A test's stand-in may poll: it runs for seconds, not all day.
        std::thread::spawn(move || {
            loop {
                while let Ok(Some(stream)) = listener.accept() {
                    display
                        .handle()
                        .insert_client(stream, Arc::new(ClientState))
                        .expect("a client");
                }
                match fired.try_recv() {
                    Ok(Fired::Idled) => state.notifications.iter().for_each(|n| n.idled()),
                    Ok(Fired::Resumed) => state.notifications.iter().for_each(|n| n.resumed()),
                    Err(mpsc::TryRecvError::Disconnected) => return,
                    Err(mpsc::TryRecvError::Empty) => {}
                }
                let _ = display.dispatch_clients(&mut state);
                let _ = display.flush_clients();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Compositor {
            socket,
            commands,
            timeouts,
        }
    }

    fn fire(&self, fired: Fired) {
        self.commands.send(fired).expect("the compositor runs");
    }

    /// The idle timeouts clients asked for, in milliseconds.
    fn timeouts(&self) -> Vec<u32> {
        self.timeouts.lock().expect("timeouts").clone()
    }
}

#[test]
fn on_wayland_beyond_gnome_idle_time_comes_from_ext_idle_notify() {
    let mut env = Env::new("[desktop]\nhotkey = \"\"\naway_after = \"4m\"\n");
    let compositor = Compositor::start(env.dir.path().join("wayland-test"));
    env.wayland = Some(compositor.socket.display().to_string());
    let _daemon = env.daemon();
    let presence = presence_report(&env);
    assert_eq!(presence["working"], true, "{presence}");
    let how = presence["how"].as_str().expect("how");
    assert!(
        how.starts_with(
            "away is 4 min without input, from the Wayland compositor (ext-idle-notify);"
        ),
        "{how}"
    );
    eventually("an idle notification of 4 min", || {
        (compositor.timeouts() == [240_000]).then_some(())
    });
    compositor.fire(Fired::Idled);
    let away = eventually("idle seen as away", || {
        status(&env)["away_since"].as_str().map(str::to_owned)
    });
    let since: jiff::Timestamp = away.parse().expect("a timestamp");
    let now = jiff::Timestamp::now();
    assert!(
        since <= now - jiff::SignedDuration::from_mins(4),
        "away since the last input, 4 min before the compositor said idle: {since}"
    );
    compositor.fire(Fired::Resumed);
    eventually("input seen as back", || {
        status(&env)["away_since"].is_null().then_some(())
    });
}

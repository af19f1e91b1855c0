//! Other apps' desktop notifications held during deep work, against a real dunst on a
//! private X server and session bus, with `notify-send` (libnotify) and a raw D-Bus
//! sender for hostile input. The GNOME path runs against dconf on a private bus.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{Bus, Env, Xvfb, eventually};

/// dunst, the user's notification daemon, on the test's display and bus.
struct Dunst {
    child: Child,
    bus: String,
}

impl Dunst {
    fn start(bus: &str, display: &str) -> Dunst {
        let child = Command::new("dunst")
            .args(["-config", "/dev/null"])
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env("DISPLAY", display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst is installed (make test installs it)");
        let dunst = Dunst {
            child,
            bus: bus.to_owned(),
        };
        eventually("dunst on the bus", || dunst.try_ctl(&["is-paused"]));
        dunst
    }

    fn try_ctl(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("dunstctl");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn ctl(&self, args: &[&str]) -> String {
        self.try_ctl(args)
            .unwrap_or_else(|| panic!("dunstctl {args:?} failed"))
    }

    fn paused(&self) -> bool {
        self.ctl(&["is-paused"]) == "true"
    }

    /// Notifications on screen and queued for later.
    fn shown_and_waiting(&self) -> (u32, u32) {
        let count = |what| self.ctl(&["count", what]).parse().expect("a count");
        (count("displayed"), count("waiting"))
    }
}

impl Drop for Dunst {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn notify_send(bus: &str, args: &[&str]) {
    let status = Command::new("notify-send")
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .status()
        .expect("notify-send is installed (libnotify-bin)");
    assert!(status.success(), "notify-send {args:?}");
}

/// A Notify call made directly, as any app's D-Bus library would.
fn notify_raw(
    bus: &str,
    app: &str,
    summary: &str,
    body: &str,
    hints: HashMap<&str, zbus::Variant>,
) {
    zbus::block_on(async {
        let connection = zbus::connection::Builder::address(bus)
            .build()
            .await
            .expect("connect to the bus");
        connection
            .call_method(
                Some("org.freedesktop.Notifications"),
                "/org/freedesktop/Notifications",
                Some("org.freedesktop.Notifications"),
                "Notify",
                &(
                    app,
                    0u32,
                    "",
                    summary,
                    body,
                    Vec::<&str>::new(),
                    hints,
                    -1i32,
                ),
            )
            .await
            .expect("Notify answered");
    });
}

fn held_total(env: &Env) -> u64 {
    env.json(&["status", "--json"])["held"]
        .as_object()
        .map(|counts| counts.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or(0)
}

fn desktop_adapter(env: &Env) -> serde_json::Value {
    env.json(&["status", "--json"])["adapters"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["name"] == "desktop").cloned())
        .unwrap_or_default()
}

#[test]
fn dunst_is_paused_for_the_session_and_other_apps_notifications_are_held_not_replayed() {
    let mut env = Env::new("[hold_notifications]\nallow = [\"calendar\"]\nignore = [\"music\"]\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let dunst = Dunst::start(&bus.address, &x.display);
    assert!(!dunst.paused());
    let _daemon = env.daemon();

    env.ok(&["start", "--for", "50m"]);
    eventually("dunst paused by the session", || {
        dunst.paused().then_some(())
    });

    notify_send(
        &bus.address,
        &[
            "-a",
            "Thunderbird",
            "New mail from Ann",
            "<b>Budget</b> &amp; plan",
        ],
    );
    let huge = "x".repeat(200_000);
    let mut hints = HashMap::new();
    hints.insert("urgency", zbus::Variant::from(1u8));
    hints.insert(
        "x-weird",
        zbus::Variant::from("\u{1b}[2J<script>alert(1)</script>"),
    );
    notify_raw(
        &bus.address,
        "ci",
        "<img src=x onerror=alert(1)> nightly report is ready",
        &huge,
        hints,
    );
    eventually("both held", || (held_total(&env) == 2).then_some(()));
    // Stored, then closed in dunst: nothing on screen and nothing queued to replay.
    eventually("dunst holding nothing", || {
        (dunst.shown_and_waiting() == (0, 0)).then_some(())
    });

    // A call that is not a Notify of the specification's shape: refused by dunst,
    // skipped by the monitor, which goes on (the next ones are still handled).
    zbus::block_on(async {
        let connection = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .expect("connect to the bus");
        let refused = connection
            .call_method(
                Some("org.freedesktop.Notifications"),
                "/org/freedesktop/Notifications",
                Some("org.freedesktop.Notifications"),
                "Notify",
                &("only a string", 42u64),
            )
            .await;
        assert!(refused.is_err(), "dunst refuses a malformed Notify");
    });
    notify_send(&bus.address, &["-a", "music", "Now playing", "a song"]);
    notify_send(&bus.address, &["-a", "calendar", "Standup in 5 min"]);
    notify_send(
        &bus.address,
        &["-a", "backup", "-u", "critical", "Disk full"],
    );
    // The allowed and the critical one show: the pause is lifted while they are up.
    // The music one is dropped: closed, neither shown nor held.
    eventually("the two that pass on screen", || {
        (dunst.shown_and_waiting() == (2, 0)).then_some(())
    });
    assert!(!dunst.paused(), "lifted while they show");
    assert_eq!(
        held_total(&env),
        2,
        "allowed, critical and ignored are not held"
    );
    dunst.ctl(&["close-all"]);
    eventually("paused again once they are closed", || {
        dunst.paused().then_some(())
    });

    // Deepwork's own notifications always show: an emergency breaking through.
    let shown = env.push("pager", "ops", "Production outage", &[]);
    assert!(shown.contains("broke through"), "{shown}");
    eventually("the breakthrough on screen", || {
        (dunst.shown_and_waiting() == (1, 0)).then_some(())
    });
    dunst.ctl(&["close-all"]);
    eventually("paused again", || dunst.paused().then_some(()));

    env.ok(&["checkin"]);
    let digest = env.json(&["digest", "--json"]);
    let items: Vec<&serde_json::Value> = digest["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["items"].as_array().expect("items"))
        .filter(|item| item["source"] == "desktop")
        .collect();
    assert_eq!(items.len(), 2, "{digest}");
    let mail = items
        .iter()
        .find(|item| item["sender"] == "Thunderbird")
        .expect("the mail notification");
    assert_eq!(mail["title"], "New mail from Ann");
    let ci = items
        .iter()
        .find(|item| item["sender"] == "ci")
        .expect("the raw one");
    assert_eq!(
        ci["title"], "nightly report is ready",
        "markup is text, tags dropped"
    );
    // The check-in summary is Deepwork's own, so it shows too.
    eventually("the check-in summary on screen", || {
        (dunst.shown_and_waiting() == (1, 0)).then_some(())
    });
    dunst.ctl(&["close-all"]);

    env.ok(&["stop"]);
    eventually("dunst unpaused as before", || {
        (!dunst.paused()).then_some(())
    });
    // Nothing held is replayed when the pause ends: on screen is only Deepwork's own
    // end-of-session summary.
    eventually("the session's summary on screen", || {
        (dunst.shown_and_waiting() == (1, 0)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dunst.shown_and_waiting(), (1, 0));
    assert_eq!(
        desktop_adapter(&env)["state"]["state"],
        "ok",
        "{}",
        desktop_adapter(&env)
    );
}

#[test]
fn a_paused_dunst_stays_paused_and_a_crash_is_put_right_at_the_next_start() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let dunst = Dunst::start(&bus.address, &x.display);

    // Paused by the user before: still paused after.
    dunst.ctl(&["set-paused", "true"]);
    let daemon = env.daemon();
    env.ok(&["start", "--for", "50m"]);
    eventually("the desktop adapter ready", || {
        (desktop_adapter(&env)["state"]["state"] == "ok").then_some(())
    });
    env.ok(&["stop"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(dunst.paused(), "the user's own pause is kept");
    dunst.ctl(&["set-paused", "false"]);

    // A crash mid-session leaves dunst paused; the next start puts it back once the
    // session is over.
    env.ok(&["start", "--for", "3s"]);
    eventually("dunst paused", || dunst.paused().then_some(()));
    daemon.kill_9();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        dunst.paused(),
        "nothing restored it while the engine was dead"
    );
    let _daemon = env.daemon();
    eventually("dunst unpaused after the restart", || {
        (!dunst.paused()).then_some(())
    });
}

/// dconf's writer on the test's bus, with the test's home, so GSettings changes land in
/// a private database (started here, before the bus would activate one with ours).
struct Dconf {
    child: Child,
    bus: String,
    home: std::path::PathBuf,
}

impl Dconf {
    fn start(bus: &str, home: &std::path::Path) -> Dconf {
        let child = Command::new("/usr/libexec/dconf-service")
            .env_clear()
            .env("HOME", home)
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dconf-service is installed (make test installs it)");
        let dconf = Dconf {
            child,
            bus: bus.to_owned(),
            home: home.to_owned(),
        };
        eventually("dconf answering", || {
            dconf.try_gsettings(&["list-keys", BANNERS.0])
        });
        dconf
    }

    fn try_gsettings(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("gsettings")
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("gsettings is installed (libglib2.0-bin)");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn banners(&self) -> String {
        self.try_gsettings(&["get", BANNERS.0, BANNERS.1])
            .expect("gsettings get")
    }

    fn set_banners(&self, on: bool) {
        let value = if on { "true" } else { "false" };
        self.try_gsettings(&["set", BANNERS.0, BANNERS.1, value])
            .expect("gsettings set");
    }
}

impl Drop for Dconf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BANNERS: (&str, &str) = ("org.gnome.desktop.notifications", "show-banners");

#[test]
fn gnome_banners_go_off_for_the_session_and_come_back_exactly_as_they_were() {
    let mut env = Env::new(
        "[notifications]\nenabled = false\n[hold_notifications]\ndo_not_disturb = \"gnome\"\n",
    );
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let dconf = Dconf::start(&bus.address, env.dir.path());
    assert_eq!(dconf.banners(), "true");
    let _daemon = env.daemon();

    env.ok(&["start", "--for", "50m"]);
    eventually("banners off", || (dconf.banners() == "false").then_some(()));
    env.ok(&["stop"]);
    eventually("banners back on", || {
        (dconf.banners() == "true").then_some(())
    });

    // Off by the user's choice before: still off after.
    dconf.set_banners(false);
    env.ok(&["start", "--for", "50m"]);
    eventually("the desktop adapter ok", || {
        (desktop_adapter(&env)["state"]["state"] == "ok").then_some(())
    });
    env.ok(&["stop"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dconf.banners(), "false", "the user's own setting is kept");
}

/// A stand-in for KDE Plasma's notification server, written from plasma-workspace's
/// interface (`Inhibit(s desktop_entry, s reason, a{sv} hints) -> u`, `UnInhibit(u)`,
/// `GetServerInformation` naming "Plasma"): Plasma itself cannot run here.
#[derive(Default)]
struct PlasmaState {
    next_id: u32,
    inhibitions: Vec<(u32, String)>,
    uninhibited: Vec<u32>,
    closed: Vec<u32>,
}

struct Plasma(std::sync::Arc<std::sync::Mutex<PlasmaState>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Plasma {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        _summary: String,
        _body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut state = self.0.lock().unwrap();
        state.next_id += 1;
        state.next_id
    }

    fn close_notification(&self, id: u32) {
        self.0.lock().unwrap().closed.push(id);
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "inhibitions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("Plasma".into(), "KDE".into(), "6.0".into(), "1.2".into())
    }

    fn inhibit(
        &self,
        desktop_entry: String,
        _reason: String,
        _hints: HashMap<String, zbus::OwnedVariant>,
    ) -> u32 {
        let mut state = self.0.lock().unwrap();
        let cookie = 100 + state.inhibitions.len() as u32;
        state.inhibitions.push((cookie, desktop_entry));
        cookie
    }

    fn un_inhibit(&self, cookie: u32) {
        self.0.lock().unwrap().uninhibited.push(cookie);
    }
}

#[test]
fn plasma_is_inhibited_for_the_session_and_uninhibited_with_the_same_cookie() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let state = std::sync::Arc::new(std::sync::Mutex::new(PlasmaState::default()));
    let _plasma = zbus::block_on(async {
        zbus::connection::Builder::address(bus.address.as_str())
            .name("org.freedesktop.Notifications")
            .serve_at("/org/freedesktop/Notifications", Plasma(state.clone()))
            .build()
            .await
            .expect("the Plasma stand-in on the bus")
    });
    let _daemon = env.daemon();

    env.ok(&["start", "--for", "50m"]);
    eventually("Plasma inhibited", || {
        (state.lock().unwrap().inhibitions.len() == 1).then_some(())
    });
    let (cookie, entry) = state.lock().unwrap().inhibitions[0].clone();
    assert_eq!(entry, "deepwork");

    notify_send(&bus.address, &["-a", "mail", "New mail"]);
    eventually("held", || (held_total(&env) == 1).then_some(()));
    eventually("closed in Plasma once stored", || {
        (state.lock().unwrap().closed == [1]).then_some(())
    });

    env.ok(&["stop"]);
    eventually("uninhibited", || {
        (state.lock().unwrap().uninhibited == [cookie]).then_some(())
    });
}

/// A stand-in `makoctl`, from mako's manual: `makoctl mode` lists the active modes one
/// per line, `-a MODE` adds one, `-r MODE` removes one, `-s MODE...` sets them. mako
/// itself needs a Wayland compositor, which cannot run here.
const MAKOCTL: &str = r#"#!/bin/sh
state="$(dirname "$0")/modes"
[ "$1" = mode ] || { echo "makoctl stand-in: only mode" >&2; exit 2; }
shift
if [ $# -eq 0 ]; then cat "$state"; exit 0; fi
set_modes=""
while [ $# -gt 0 ]; do
  case "$1" in
    -a) grep -qx "$2" "$state" || echo "$2" >> "$state" ;;
    -r) grep -vx "$2" "$state" > "$state.new"; mv "$state.new" "$state" ;;
    -s) set_modes="$set_modes$2\n" ;;
    *) echo "makoctl stand-in: bad argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$set_modes" ] && printf "$set_modes" > "$state"
exit 0
"#;

#[test]
fn mako_gets_do_not_disturb_added_for_the_session_and_its_modes_back_after() {
    let mut env = Env::new(
        "[notifications]\nenabled = false\n[hold_notifications]\ndo_not_disturb = \"mako\"\n",
    );
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let tools = env.dir.path().join("tools");
    std::fs::create_dir(&tools).expect("tools folder");
    std::fs::write(tools.join("makoctl"), MAKOCTL).expect("the makoctl stand-in");
    std::fs::set_permissions(
        tools.join("makoctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("make it executable");
    std::fs::write(tools.join("modes"), "default\naway\n").expect("modes before");
    env.tools = Some(tools.clone());
    let modes = || std::fs::read_to_string(tools.join("modes")).expect("modes");
    let _daemon = env.daemon();

    env.ok(&["start", "--for", "50m"]);
    eventually("do-not-disturb added", || {
        (modes() == "default\naway\ndo-not-disturb\n").then_some(())
    });
    env.ok(&["stop"]);
    eventually("the modes from before", || {
        (modes() == "default\naway\n").then_some(())
    });
}

#[test]
fn a_notification_daemon_without_a_known_do_not_disturb_is_named_in_status_and_holding_goes_on() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _recorder = support::Recorder::start(&bus.address);
    let _daemon = env.daemon();

    env.ok(&["start", "--for", "50m"]);
    let status = eventually("the desktop adapter's problem in status", || {
        let status = env.ok(&["status"]);
        status.contains("needs attention").then_some(status)
    });
    assert!(
        status.contains("desktop") && status.contains("no do-not-disturb Deepwork can drive"),
        "{status}"
    );
    notify_send(&bus.address, &["-a", "mail", "New mail"]);
    eventually("held all the same", || {
        (held_total(&env) == 1).then_some(())
    });
}

/// `notify-send` with `args`, printing the daemon's id for the notification.
fn notify_send_id(bus: &str, args: &[&str]) -> String {
    let output = Command::new("notify-send")
        .arg("--print-id")
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .output()
        .expect("notify-send is installed (libnotify-bin)");
    assert!(output.status.success(), "notify-send {args:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn a_notification_that_replaces_a_held_one_updates_its_item() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let dunst = Dunst::start(&bus.address, &x.display);
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "50m"]);
    eventually("dunst paused", || dunst.paused().then_some(()));

    let id = notify_send_id(&bus.address, &["-a", "backup", "Backup at 10%"]);
    eventually("held", || (held_total(&env) == 1).then_some(()));
    notify_send_id(&bus.address, &["-a", "backup", "-r", &id, "Backup at 60%"]);
    notify_send_id(
        &bus.address,
        &["-a", "backup", "-r", &id, "Backup finished"],
    );
    notify_send(&bus.address, &["-a", "mail", "New mail"]);
    eventually("the mail after them is held", || {
        (held_total(&env) == 2).then_some(())
    });

    env.ok(&["checkin"]);
    let digest = env.json(&["digest", "--json"]);
    let titles: Vec<&str> = digest["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["items"].as_array().expect("items"))
        .filter_map(|item| item["title"].as_str())
        .collect();
    assert!(titles.contains(&"Backup finished"), "{digest}");
    assert_eq!(
        titles.len(),
        2,
        "one item per notification, not per update: {digest}"
    );
}

#[test]
fn a_monitor_that_loses_the_bus_is_reported_not_shown_as_ok() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let dunst = Dunst::start(&bus.address, &x.display);
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "50m"]);
    eventually("dunst paused and the desktop adapter ok", || {
        (dunst.paused() && desktop_adapter(&env)["state"]["state"] == "ok").then_some(())
    });

    drop(dunst);
    drop(bus);
    let state = eventually("the lost monitor in status", || {
        let state = desktop_adapter(&env)["state"].clone();
        (state["state"] != "ok").then_some(state)
    });
    assert!(
        state.to_string().contains("notification monitor stopped"),
        "{state}"
    );
}

#[test]
fn a_notification_daemon_replaced_mid_session_is_paused_and_followed() {
    let mut env = Env::new("[notifications]\nenabled = false\n");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let first = Dunst::start(&bus.address, &x.display);
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "50m"]);
    eventually("dunst paused", || first.paused().then_some(()));

    drop(first);
    let second = Dunst::start(&bus.address, &x.display);
    eventually("the new dunst paused too", || second.paused().then_some(()));
    notify_send(&bus.address, &["-a", "mail", "New mail"]);
    eventually("held", || (held_total(&env) == 1).then_some(()));
    // Its id came from the new daemon, so it is closed there: nothing to replay.
    eventually("nothing queued in the new dunst", || {
        (second.shown_and_waiting() == (0, 0)).then_some(())
    });
    env.ok(&["stop"]);
    eventually("unpaused at the end", || (!second.paused()).then_some(()));
}

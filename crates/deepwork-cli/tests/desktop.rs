//! The resident's tray and hotkey, end to end: a real `deepwork daemon` on a private X
//! server (Xvfb) and a private session bus, driven the way a desktop drives it — the
//! menu through com.canonical.dbusmenu with `busctl`, the hotkey with `xdotool key`.

mod support;

use serde_json::Value;
use std::process::Command;
use support::{Bus, Env, QUIET, Recorder, TrayHost, Xvfb, eventually, raw_exchange};

/// One entry of the tray's menu as the bus shows it.
#[derive(Debug)]
struct Entry {
    id: i64,
    label: String,
    enabled: bool,
}

/// The daemon's StatusNotifierItem, seen from the bus with `busctl`.
struct Tray {
    bus: String,
    name: String,
}

impl Tray {
    fn find(bus: &str, pid: u32) -> Tray {
        let name = format!("org.kde.StatusNotifierItem-{pid}-1");
        let tray = Tray {
            bus: bus.to_owned(),
            name: name.clone(),
        };
        eventually(&format!("{name} on the bus"), || {
            let names = tray.busctl(&[
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "ListNames",
            ])?;
            names["data"][0]
                .as_array()?
                .iter()
                .any(|n| n.as_str() == Some(&name))
                .then_some(())
        });
        tray
    }

    /// `busctl --user --json=short ARGS` on the private bus: its JSON answer (null for a
    /// method that returns nothing), `None` when it fails.
    fn busctl(&self, args: &[&str]) -> Option<Value> {
        let output = Command::new("busctl")
            .args(["--user", "--json=short"])
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("busctl is installed (systemd)");
        if !output.status.success() {
            return None;
        }
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Some(Value::Null);
        }
        serde_json::from_slice(&output.stdout).ok()
    }

    fn menu(&self) -> Vec<Entry> {
        let layout = self
            .busctl(&[
                "call",
                "--",
                &self.name,
                "/MenuBar",
                "com.canonical.dbusmenu",
                "GetLayout",
                "iias",
                "0",
                "-1",
                "0",
            ])
            .expect("GetLayout answers");
        let mut entries = Vec::new();
        flatten(&layout["data"][1], &mut entries);
        entries
    }

    fn entry(&self, label: &str) -> Entry {
        let menu = self.menu();
        let labels: Vec<String> = menu.iter().map(|e| e.label.clone()).collect();
        menu.into_iter()
            .find(|e| e.label == label)
            .unwrap_or_else(|| panic!("no {label:?} in the tray menu: {labels:?}"))
    }

    /// Clicks an entry as a tray host does.
    fn click(&self, label: &str) {
        self.send_click(label)
            .unwrap_or_else(|| panic!("clicking {label:?} failed"));
    }

    /// Clicks an entry whose work may end the tray's process before it answers the
    /// click (Quit): the caller checks what the click did instead.
    fn click_and_let_go(&self, label: &str) {
        let _ = self.send_click(label);
    }

    fn send_click(&self, label: &str) -> Option<Value> {
        let id = self.entry(label).id.to_string();
        self.busctl(&[
            "call",
            "--",
            &self.name,
            "/MenuBar",
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            &id,
            "clicked",
            "s",
            "",
            "0",
        ])
    }

    fn property(&self, name: &str) -> Value {
        self.busctl(&[
            "get-property",
            &self.name,
            "/StatusNotifierItem",
            "org.kde.StatusNotifierItem",
            name,
        ])
        .unwrap_or_else(|| panic!("no {name} property"))
    }

    fn tooltip(&self) -> String {
        let tooltip = self.property("ToolTip");
        tooltip["data"][3].as_str().unwrap_or_default().to_owned()
    }

    fn wait_for_tooltip(&self, expected: &str) {
        eventually(&format!("the tooltip {expected:?}"), || {
            (self.tooltip() == expected).then_some(())
        });
    }
}

/// Walks a dbusmenu layout node `[id, {properties}, [children]]`.
fn flatten(node: &Value, out: &mut Vec<Entry>) {
    let properties = &node[1];
    if let Some(label) = properties["label"]["data"].as_str() {
        out.push(Entry {
            id: node[0].as_i64().expect("item id"),
            label: label.to_owned(),
            enabled: properties["enabled"]["data"].as_bool().unwrap_or(true),
        });
    }
    for child in node[2].as_array().into_iter().flatten() {
        flatten(&child["data"], out);
    }
}

fn session_running(env: &Env) -> bool {
    !env.json(&["status", "--json"])["session"].is_null()
}

#[test]
fn the_tray_menu_starts_checks_in_and_stops_a_session_and_shows_counts_live() {
    let mut env = Env::new("");
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    let recorder = Recorder::start(&bus.address);
    let host = TrayHost::start(&bus.address);
    env.bus = Some(bus.address.clone());
    env.display = Some(x.display.clone());
    // A stand-in for the window that records how the tray launched it.
    let window = env.dir.path().join("deepwork-app");
    std::fs::write(
        &window,
        format!(
            "#!/bin/sh\necho \"$*\" \"$DEEPWORK_SOCKET\" > {}\n",
            env.dir.path().join("launched").display()
        ),
    )
    .expect("write the stand-in window");
    std::fs::set_permissions(&window, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make it executable");
    env.window = Some(window.clone());
    let daemon = env.daemon();
    let tray = Tray::find(&bus.address, daemon.child.id());

    tray.wait_for_tooltip("Deepwork — not focusing");
    eventually("the item registered with the tray host", || {
        (!host.registered().is_empty()).then_some(())
    });
    let desktop = eventually("the shell's report", || {
        let status = env.json(&["status", "--json"]);
        (!status["desktop"].is_null()).then(|| status["desktop"].clone())
    });
    assert_eq!(desktop["tray"]["working"], true, "{desktop}");
    let idle_icon = tray.property("IconPixmap");
    let labels: Vec<String> = tray.menu().into_iter().map(|e| e.label).collect();
    for expected in [
        "Deepwork — not focusing",
        "Start deep work (50 min)",
        "Start for…",
        "25 min",
        "50 min",
        "90 min",
        "2 hours",
        "Stop deep work",
        "Check in now",
        "Open digest",
        "Open Deepwork",
        "Quit Deepwork",
    ] {
        assert!(
            labels.iter().any(|l| l == expected),
            "{expected:?} in {labels:?}"
        );
    }
    assert!(!tray.entry("Stop deep work").enabled, "nothing to stop yet");
    assert!(!tray.entry("No emergency to acknowledge").enabled);

    tray.click("Start deep work (50 min)");
    eventually("a running session", || session_running(&env).then_some(()));
    tray.wait_for_tooltip("Deep work — 50 min left · 0 held");
    assert_ne!(
        tray.property("IconPixmap"),
        idle_icon,
        "the icon shows focus"
    );
    assert!(!tray.entry("Start deep work (50 min)").enabled);
    assert!(tray.entry("Stop deep work").enabled);

    env.push("slack", "bob", "design review notes", &[]);
    tray.wait_for_tooltip("Deep work — 50 min left · 1 held");

    // An emergency waits for an acknowledgement; the tray gives one.
    env.push("pager", "ops", "checkout down", &["--urgency", "emergency"]);
    tray.wait_for_tooltip("Deep work — 50 min left · 1 held · 1 emergency unacknowledged");
    tray.click("I'm on it: acknowledge the emergency");
    tray.wait_for_tooltip("Deep work — 50 min left · 1 held");
    assert!(!tray.entry("No emergency to acknowledge").enabled);
    while recorder.try_next().is_some() {}

    tray.click("Check in now");
    eventually("the digest of the check-in", || {
        let digest = env.json(&["digest", "--json"]);
        (digest.to_string().contains("design review notes")).then_some(())
    });
    tray.wait_for_tooltip("Deep work — 50 min left · 0 held");
    // A check-in that holds something opens the window on the digest, for this engine.
    let launched = env.dir.path().join("launched");
    let window_opened = || {
        let args = eventually("the window to be launched", || {
            std::fs::read_to_string(&launched)
                .ok()
                .filter(|text| text.ends_with('\n'))
        });
        std::fs::remove_file(&launched).expect("reset");
        args
    };
    let digest_view = format!("--view digest {}\n", env.socket.display());
    assert_eq!(window_opened(), digest_view);
    let check_in_notice = eventually("the check-in notification", || {
        recorder
            .try_next()
            .filter(|n| n.summary.starts_with("Deep work check-in"))
    });
    assert!(
        check_in_notice.actions.iter().any(|a| a == "open-digest"),
        "{check_in_notice:?}"
    );

    env.push("slack", "carol", "budget question", &[]);
    tray.click("Stop deep work");
    eventually("the session to end", || {
        (!session_running(&env)).then_some(())
    });
    tray.wait_for_tooltip("Check-in — 1 item in your digest");
    assert_eq!(window_opened(), digest_view);

    // "Open digest" opens it again, and the tray stops saying a digest is waiting.
    tray.click("Open digest");
    tray.wait_for_tooltip("Deepwork — not focusing");
    assert_eq!(window_opened(), digest_view);

    // The check-in notification's "Open digest" button opens it too.
    recorder.invoke(&check_in_notice, "open-digest");
    assert_eq!(window_opened(), digest_view);

    // With no window installed, the tray says so instead of failing silently.
    while recorder.try_next().is_some() {}
    std::fs::remove_file(&window).expect("uninstall the window");
    tray.click("Open Deepwork");
    let told = eventually("a notification about the window", || {
        recorder
            .try_next()
            .filter(|n| n.summary == "Cannot open the Deepwork window")
    });
    assert!(told.body.contains("could not start"), "{told:?}");

    tray.click_and_let_go("Quit Deepwork");
    let mut daemon = daemon;
    let exit = eventually("the resident to quit", || {
        daemon.child.try_wait().expect("poll")
    });
    assert!(exit.success(), "{exit}");
}

#[test]
fn the_hotkey_toggles_a_session_and_a_taken_hotkey_is_reported() {
    let mut env = Env::new(QUIET);
    let x = Xvfb::start();
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    env.display = Some(x.display.clone());
    let daemon = env.daemon();
    eventually("the hotkey grab", || {
        daemon.log_text().contains("hotkey ready").then_some(())
    });
    let desktop = |env: &Env| {
        eventually("the shell's report", || {
            let status = env.json(&["status", "--json"]);
            (!status["desktop"].is_null()).then(|| status["desktop"].clone())
        })
    };
    let shell = desktop(&env);
    assert_eq!(shell["hotkey"]["working"], true, "{shell}");
    assert_eq!(shell["hotkey"]["how"], "Ctrl+Alt+D, grabbed on X11");
    // This bus has no tray host: the window is told what to do.
    assert_eq!(shell["tray"]["working"], false, "{shell}");
    assert!(
        shell["tray"]["how"]
            .as_str()
            .is_some_and(|how| how.contains("AppIndicator extension")),
        "{shell}"
    );
    let press_keys = |keys: &str| {
        let status = Command::new("xdotool")
            .args(["key", keys])
            .env("DISPLAY", &x.display)
            .status()
            .expect("xdotool is installed (make test installs it)");
        assert!(status.success());
    };
    let press = || press_keys("ctrl+alt+d");

    press();
    eventually("a session started by the hotkey", || {
        session_running(&env).then_some(())
    });
    press();
    eventually("the session stopped by the hotkey", || {
        (!session_running(&env)).then_some(())
    });

    let mut second = Env::new(QUIET);
    second.bus = Some(bus.address.clone());
    second.display = Some(x.display.clone());
    let other = second.daemon();
    eventually("the second resident to report the taken hotkey", || {
        other
            .log_text()
            .contains("Ctrl+Alt+D is already taken by another application; choose another with `desktop.hotkey` in config.toml")
            .then_some(())
    });
    let status = second.json(&["status", "--json"]);
    assert!(
        status["session"].is_null(),
        "the second resident works without it"
    );
    let taken = desktop(&second);
    assert_eq!(taken["hotkey"]["working"], false, "{taken}");
    assert!(
        taken["hotkey"]["how"]
            .as_str()
            .is_some_and(|how| how.contains("already taken") && how.contains("deepwork toggle")),
        "{taken}"
    );

    // Saved settings move the hotkey at once, without a restart.
    let answer: Value =
        serde_json::from_str(&raw_exchange(&env.socket, b"{\"method\":\"settings\"}\n"))
            .expect("json");
    let mut settings = answer["ok"]["settings"].clone();
    settings["hotkey"] = Value::from("Ctrl+Alt+J");
    let save = serde_json::json!({ "method": "save_settings", "params": { "settings": settings } });
    let answer = raw_exchange(&env.socket, format!("{save}\n").as_bytes());
    assert!(answer.contains("\"hotkey\":\"Ctrl+Alt+J\""), "{answer}");
    let config = std::fs::read_to_string(&env.config).expect("config");
    assert!(config.contains("hotkey = \"Ctrl+Alt+J\""), "{config}");
    eventually("the new hotkey grab", || {
        daemon
            .log_text()
            .contains("hotkey set hotkey=Ctrl+Alt+J")
            .then_some(())
    });
    press_keys("ctrl+alt+j");
    eventually("a session started by the new hotkey", || {
        session_running(&env).then_some(())
    });
    eventually("the window told of the new hotkey", || {
        let status = env.json(&["status", "--json"]);
        (status["desktop"]["hotkey"]["how"] == "Ctrl+Alt+J, grabbed on X11").then_some(())
    });
}

#[test]
fn install_puts_a_valid_menu_entry_and_an_autostart_entry_for_the_resident() {
    let home = tempfile::tempdir().expect("temp home");
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_deepwork"))
        .parent()
        .expect("target dir");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let output = Command::new("bash")
        .arg(format!("{repo}/scripts/install.sh"))
        .arg(built)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .output()
        .expect("run install.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bin = home.path().join(".local/bin/deepwork");
    let menu = home
        .path()
        .join(".local/share/applications/org.deepwork.Deepwork.desktop");
    let autostart = home
        .path()
        .join(".config/autostart/org.deepwork.Deepwork.Resident.desktop");
    for entry in [&menu, &autostart] {
        let check = Command::new("desktop-file-validate")
            .arg(entry)
            .output()
            .expect("desktop-file-validate is installed (make test installs desktop-file-utils)");
        assert!(
            check.status.success() && check.stdout.is_empty(),
            "{}: {}",
            entry.display(),
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let autostart = std::fs::read_to_string(&autostart).expect("autostart entry");
    assert!(
        autostart.contains(&format!("Exec={} daemon\n", bin.display())),
        "{autostart}"
    );
    let menu = std::fs::read_to_string(&menu).expect("menu entry");
    assert!(
        menu.contains(&format!("Exec={}-app\n", bin.display())),
        "{menu}"
    );
    let runs = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run it");
    assert!(runs.status.success(), "the installed deepwork runs");
}

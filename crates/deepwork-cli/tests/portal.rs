//! The hotkey on Wayland, end to end: a real `deepwork daemon` with `WAYLAND_DISPLAY` set
//! and no X display, on a private session bus where a stand-in of the desktop's
//! GlobalShortcuts portal binds the shortcut and presses it, as a desktop does.

mod support;

use serde_json::Value;
use support::{Bus, Env, PortalDialog, PortalStandIn, QUIET, eventually, raw_exchange};

/// The name of no compositor: the hotkey needs only the session bus, and the resident
/// reads just that the variable is set.
const NO_COMPOSITOR: &str = "deepwork-test-no-compositor";

/// A resident's environment on Wayland, on `bus`, without an X display.
fn on_wayland(env: &mut Env, bus: &Bus) {
    env.bus = Some(bus.address.clone());
    env.wayland = Some(NO_COMPOSITOR.to_owned());
    env.display = None;
}

fn session_running(env: &Env) -> bool {
    !env.json(&["status", "--json"])["session"].is_null()
}

/// The hotkey as the window is told, once `ready` holds for it.
fn hotkey_when(env: &Env, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(what, || {
        let hotkey = env.json(&["status", "--json"])["desktop"]["hotkey"].clone();
        ready(&hotkey).then_some(hotkey)
    })
}

/// Saves the settings with `hotkey`, as the window does.
fn save_hotkey(env: &Env, hotkey: &str) {
    let answer: Value =
        serde_json::from_str(&raw_exchange(&env.socket, b"{\"method\":\"settings\"}\n"))
            .expect("json");
    let mut settings = answer["ok"]["settings"].clone();
    settings["hotkey"] = Value::from(hotkey);
    let save = serde_json::json!({ "method": "save_settings", "params": { "settings": settings } });
    let answer = raw_exchange(&env.socket, format!("{save}\n").as_bytes());
    assert!(
        answer.contains(&format!("\"hotkey\":\"{hotkey}\"")),
        "{answer}"
    );
}

#[test]
fn the_portal_binds_the_hotkey_its_presses_toggle_a_session_and_new_settings_rebind_it() {
    let mut env = Env::new(QUIET);
    let bus = Bus::start(env.dir.path());
    let portal = PortalStandIn::start(&bus.address);
    on_wayland(&mut env, &bus);
    let daemon = env.daemon();

    let bound = eventually("the hotkey bound on the portal", || {
        let bound = portal.bound();
        (!bound.is_empty()).then_some(bound)
    });
    assert_eq!(bound.len(), 1, "one shortcut: {bound:?}");
    assert_eq!(bound[0].id, "toggle");
    assert_eq!(bound[0].description, "Start or stop deep work");
    assert_eq!(
        bound[0].preferred_trigger, "CTRL+ALT+d",
        "Ctrl+Alt+D as the XDG shortcuts spec writes a trigger"
    );
    let hotkey = hotkey_when(&env, "the window told the hotkey works", |hotkey| {
        hotkey["working"] == true
    });
    assert_eq!(
        hotkey["how"],
        "Ctrl+Alt+D, through the desktop's GlobalShortcuts portal"
    );
    assert!(
        daemon.log_text().contains("hotkey ready"),
        "the log says the hotkey works:\n{}",
        daemon.log_text()
    );

    portal.press("toggle");
    eventually("a session started by the hotkey", || {
        session_running(&env).then_some(())
    });
    portal.press("toggle");
    eventually("the session stopped by the hotkey", || {
        (!session_running(&env)).then_some(())
    });

    // A session binds once (the spec), so a new key takes a new session; settings saved
    // with the same key again bind nothing.
    save_hotkey(&env, "Ctrl+Alt+J");
    save_hotkey(&env, "Ctrl+Alt+J");
    save_hotkey(&env, "Ctrl+Alt+K");
    let bound = eventually("the new hotkeys bound on the portal", || {
        let bound = portal.bound();
        (bound.len() >= 3).then_some(bound)
    });
    let triggers: Vec<&str> = bound.iter().map(|b| b.preferred_trigger.as_str()).collect();
    assert_eq!(
        triggers,
        ["CTRL+ALT+d", "CTRL+ALT+j", "CTRL+ALT+k"],
        "each new key bound once, the unchanged one not again"
    );
    let closed = eventually("the old sessions closed", || {
        let closed = portal.closed();
        (closed.len() >= 2).then_some(closed)
    });
    assert_eq!(
        closed,
        [bound[0].session.clone(), bound[1].session.clone()],
        "the sessions of the old keys are closed, and with them the old keys"
    );
    hotkey_when(&env, "the window told of the new hotkey", |hotkey| {
        hotkey["how"] == "Ctrl+Alt+K, through the desktop's GlobalShortcuts portal"
    });
    portal.press("toggle");
    eventually("a session started by the new hotkey", || {
        session_running(&env).then_some(())
    });
}

#[test]
fn a_cancelled_portal_dialog_is_reported_and_a_key_the_user_picked_there_is_shown() {
    let mut env = Env::new(QUIET);
    let bus = Bus::start(env.dir.path());
    let portal = PortalStandIn::start(&bus.address);
    portal.dialog(PortalDialog::Cancel);
    on_wayland(&mut env, &bus);
    let _daemon = env.daemon();

    let hotkey = hotkey_when(&env, "the window told of the cancelled dialog", |hotkey| {
        hotkey["how"]
            .as_str()
            .is_some_and(|how| how.contains("cancelled"))
    });
    assert_eq!(hotkey["working"], false, "{hotkey}");
    assert_eq!(
        hotkey["how"],
        "the desktop's GlobalShortcuts portal did not bind Ctrl+Alt+D: you cancelled its dialog; bind `deepwork toggle` as a system shortcut instead"
    );
    let bound = portal.bound();
    assert_eq!(
        portal.closed(),
        [bound[0].session.clone()],
        "a failed bind's session is closed"
    );

    // Saved settings try again, even with the same key; this time the user picks another.
    portal.dialog(PortalDialog::Assign("Super+D".into()));
    save_hotkey(&env, "Ctrl+Alt+D");
    let hotkey = hotkey_when(
        &env,
        "the window told of the key the user picked",
        |hotkey| hotkey["working"] == true,
    );
    assert_eq!(
        hotkey["how"],
        "Super+D, as the desktop's GlobalShortcuts portal set it (Deepwork asked for Ctrl+Alt+D)"
    );
    portal.press("toggle");
    eventually("a session started by the picked key", || {
        session_running(&env).then_some(())
    });
}

#[test]
fn a_key_changed_in_the_desktop_settings_is_shown_and_a_session_the_desktop_ends_is_reported() {
    let mut env = Env::new(QUIET);
    let bus = Bus::start(env.dir.path());
    let portal = PortalStandIn::start(&bus.address);
    on_wayland(&mut env, &bus);
    let _daemon = env.daemon();
    hotkey_when(&env, "the hotkey bound", |hotkey| hotkey["working"] == true);

    portal.change_trigger("toggle", "Super+F9");
    hotkey_when(
        &env,
        "the window told of the key set in the desktop",
        |hotkey| {
            hotkey["how"]
                == "Super+F9, as the desktop's GlobalShortcuts portal set it (Deepwork asked for Ctrl+Alt+D)"
        },
    );
    portal.press("toggle");
    eventually("a session started by the changed key", || {
        session_running(&env).then_some(())
    });

    portal.end_session("toggle");
    let hotkey = hotkey_when(&env, "the window told the binding ended", |hotkey| {
        hotkey["working"] == false
    });
    assert_eq!(
        hotkey["how"],
        "the desktop ended the GlobalShortcuts portal's session, and with it Ctrl+Alt+D's binding (saving the settings asks for it again); bind `deepwork toggle` as a system shortcut instead"
    );
    assert!(
        portal.closed().is_empty(),
        "a session the desktop ended is not closed again: {:?}",
        portal.closed()
    );

    // The same key saved again binds it anew, in a new session.
    save_hotkey(&env, "Ctrl+Alt+D");
    let bound = eventually("the hotkey bound again", || {
        let bound = portal.bound();
        (bound.len() == 2).then_some(bound)
    });
    assert_ne!(bound[0].session, bound[1].session);
    hotkey_when(&env, "the window told the hotkey works again", |hotkey| {
        hotkey["how"] == "Ctrl+Alt+D, through the desktop's GlobalShortcuts portal"
    });
    portal.press("toggle");
    eventually("the session stopped by the bound-again key", || {
        (!session_running(&env)).then_some(())
    });
}

#[test]
fn without_a_portal_on_wayland_the_window_says_to_bind_deepwork_toggle() {
    let mut env = Env::new(QUIET);
    let bus = Bus::start(env.dir.path());
    on_wayland(&mut env, &bus);
    let _daemon = env.daemon();

    let hotkey = hotkey_when(&env, "the window told there is no hotkey", |hotkey| {
        hotkey["how"]
            .as_str()
            .is_some_and(|how| how.contains("deepwork toggle"))
    });
    assert_eq!(hotkey["working"], false, "{hotkey}");
    let how = hotkey["how"].as_str().unwrap_or_default();
    assert!(
        how.starts_with("your desktop offers no GlobalShortcuts portal"),
        "it says why: {how}"
    );
    assert!(
        how.contains("cannot connect to the X display"),
        "and that the X11 fallback has no display either: {how}"
    );
}

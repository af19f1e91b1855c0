//! The hotkey on Wayland, where no app may grab keys for the whole desktop: the desktop
//! binds it for us through its GlobalShortcuts portal (`org.freedesktop.portal.
//! GlobalShortcuts`, in xdg-desktop-portal 1.17 and later with a backend that has it)
//! and says on the session bus when it is pressed. Without that portal the hotkey falls
//! back to the X11 grab, which on Wayland sees only X11 windows' keys.
//!
//! The portal may ask the user in a dialog before it binds, so its answer can come at
//! any time: a task of its own waits for it and publishes each answer as a [`Binding`].
//! Nothing polls; the task sleeps on the bus until the desktop speaks or the settings
//! change.

use crate::hotkey;
use deepwork_core::resident::{Hotkey, Key};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use zbus::export::futures_core::Stream;
use zbus::export::serde::Serialize;
use zbus::message::Type as MessageType;
use zbus::{Connection, DynamicType, MatchRule, Message, MessageStream};
use zbus::{OwnedObjectPath, OwnedVariant, Variant};

const DESKTOP: &str = "org.freedesktop.portal.Desktop";
const DESKTOP_PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";
const REQUEST: &str = "org.freedesktop.portal.Request";
const SESSION: &str = "org.freedesktop.portal.Session";
/// The one shortcut bound, by the id the portal names on `Activated`.
const TOGGLE: &str = "toggle";
/// What the desktop shows the user about it.
const TOGGLE_DESCRIPTION: &str = "Start or stop deep work";
/// How long a method call may take: D-Bus's usual reply timeout, which also covers the
/// bus starting the portal on demand.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// What came of binding the hotkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// No hotkey is set.
    Unset,
    /// The portal was asked to bind it and has not answered yet: it may be asking the
    /// user.
    Asking(Hotkey),
    /// The desktop's portal bound it; `trigger` is the desktop's description of the
    /// key when it differs from the one asked for (the user may have picked another).
    Portal {
        hotkey: Hotkey,
        trigger: Option<String>,
    },
    /// Grabbed on the X display.
    X11(Hotkey),
    /// Not bound, and why, in a sentence that names the hotkey.
    Failed { hotkey: Hotkey, why: String },
}

impl Binding {
    /// What came of an X11 grab of `hotkey`.
    pub fn grabbed(hotkey: Option<Hotkey>, grab: Result<(), String>) -> Binding {
        match (hotkey, grab) {
            (None, _) => Binding::Unset,
            (Some(hotkey), Ok(())) => Binding::X11(hotkey),
            (Some(hotkey), Err(why)) => Binding::Failed { hotkey, why },
        }
    }
}

/// The hotkey on Wayland, bound by a task of its own, which ends when this is dropped.
#[derive(Debug)]
pub struct WaylandHotkey {
    rebinds: mpsc::UnboundedSender<Option<Hotkey>>,
    bindings: watch::Receiver<Binding>,
}

impl WaylandHotkey {
    /// Starts binding `hotkey` through the desktop's portal, or on X11 when there is none,
    /// and calls `pressed` on each press. Call it inside a tokio runtime.
    pub fn spawn(hotkey: Option<Hotkey>, pressed: impl Fn() + Send + 'static) -> WaylandHotkey {
        let (rebinds, requests) = mpsc::unbounded_channel();
        let (told, bindings) = watch::channel(hotkey.map_or(Binding::Unset, Binding::Asking));
        tokio::spawn(drive(hotkey, requests, pressed, told));
        WaylandHotkey { rebinds, bindings }
    }

    /// Binds `hotkey` instead (after the settings changed); the answer comes later.
    pub fn rebind(&self, hotkey: Option<Hotkey>) {
        // The task only ends when this handle is dropped, so the send cannot fail.
        let _ = self.rebinds.send(hotkey);
    }

    /// The latest answer, and each new one as it comes.
    pub fn bindings(&self) -> watch::Receiver<Binding> {
        self.bindings.clone()
    }
}

/// Binds the hotkey through the portal, or on X11 without one, and again on each
/// request, until the handle is dropped.
async fn drive(
    hotkey: Option<Hotkey>,
    requests: mpsc::UnboundedReceiver<Option<Hotkey>>,
    pressed: impl Fn() + Send + 'static,
    told: watch::Sender<Binding>,
) {
    let portal = match Portal::find().await {
        Ok(portal) => portal,
        Err(absent) => {
            tracing::info!(%absent, "no GlobalShortcuts portal: the hotkey is grabbed on X11");
            return grab_on_x11(hotkey, requests, pressed, told, &absent).await;
        }
    };
    // Listening before the first bind, so no press falls between the two.
    match portal.signals().await {
        Ok(signals) => portal.serve(hotkey, requests, signals, pressed, told).await,
        Err(why) => {
            if let Some(hotkey) = hotkey {
                told.send_replace(Binding::Failed { hotkey, why });
            }
        }
    }
}

/// The fallback without a portal: the X11 grab (through XWayland, when it runs).
async fn grab_on_x11(
    hotkey: Option<Hotkey>,
    mut requests: mpsc::UnboundedReceiver<Option<Hotkey>>,
    pressed: impl Fn() + Send + 'static,
    told: watch::Sender<Binding>,
    absent: &str,
) {
    let no_x11 = |error: String| {
        format!("your desktop offers no GlobalShortcuts portal ({absent}), and {error}")
    };
    let grab = match hotkey::spawn(hotkey, pressed) {
        Ok(grab) => grab,
        Err(error) => {
            // No display to grab on, for this key or the next.
            let why = no_x11(error);
            told.send_replace(Binding::grabbed(hotkey, Err(why.clone())));
            while let Some(hotkey) = requests.recv().await {
                told.send_replace(Binding::grabbed(hotkey, Err(why.clone())));
            }
            return;
        }
    };
    told.send_replace(Binding::grabbed(hotkey, Ok(())));
    while let Some(hotkey) = requests.recv().await {
        told.send_replace(Binding::grabbed(hotkey, grab.rebind(hotkey)));
    }
}

/// The desktop's portal on the session bus.
struct Portal {
    connection: Connection,
    /// This connection's unique name as the portal writes it in the paths of requests
    /// and sessions: without the `:`, with `_` for `.`.
    sender: String,
}

/// A shortcut the desktop bound.
struct Bound {
    session: OwnedObjectPath,
    trigger: Option<String>,
}

impl Portal {
    /// The session bus's portal, if it has GlobalShortcuts; else why not.
    async fn find() -> Result<Portal, String> {
        let connection = zbus::connection::Builder::session()
            .method_timeout(CALL_TIMEOUT)
            .build()
            .await
            .map_err(|error| format!("no session bus: {error}"))?;
        // Reading the version also starts a portal the bus starts on demand; a bus
        // without a portal, or a portal without the interface, answers with an error.
        let version = connection
            .call_method(
                Some(DESKTOP),
                DESKTOP_PATH,
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(SHORTCUTS, "version"),
            )
            .await
            .and_then(|reply| u32::try_from(reply.body().deserialize::<OwnedVariant>()?))
            .map_err(|error| error.to_string())?;
        let sender = connection
            .unique_name()
            .map(|name| sender_in_paths(name.as_str()))
            .ok_or("the session bus gave no name")?;
        tracing::info!(version, "GlobalShortcuts portal found");
        Ok(Portal { connection, sender })
    }

    /// What the portal says of this connection's sessions: presses and changed keys on
    /// its own path, a session's end on the session's.
    async fn signals(&self) -> Result<Signals, String> {
        let listen = |rule: zbus::Result<MatchRule<'static>>| async {
            let rule = rule.map_err(|error| error.to_string())?;
            MessageStream::for_match_rule(rule, &self.connection, None)
                .await
                .map_err(|error| format!("cannot listen to the GlobalShortcuts portal: {error}"))
        };
        let shortcuts = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(DESKTOP)
            .path(DESKTOP_PATH)
            .interface(SHORTCUTS)
            .build();
        let sessions = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(DESKTOP)
            .interface(SESSION)
            .member("Closed")
            .build();
        Ok(Signals {
            shortcuts: listen(shortcuts).await?,
            sessions: listen(sessions).await?,
        })
    }

    /// Binds `hotkey`, calls `pressed` on its presses, follows what the desktop changes of
    /// the binding, and binds again on each request, until the requests end.
    async fn serve(
        &self,
        mut hotkey: Option<Hotkey>,
        mut requests: mpsc::UnboundedReceiver<Option<Hotkey>>,
        mut signals: Signals,
        pressed: impl Fn() + Send,
        told: watch::Sender<Binding>,
    ) {
        loop {
            let mut session = match hotkey {
                Some(hotkey) => {
                    told.send_replace(Binding::Asking(hotkey));
                    match self.bind(hotkey).await {
                        Ok(bound) => {
                            told.send_replace(Binding::Portal {
                                hotkey,
                                trigger: bound.trigger,
                            });
                            Some(bound.session)
                        }
                        Err(why) => {
                            told.send_replace(Binding::Failed { hotkey, why });
                            None
                        }
                    }
                }
                None => {
                    told.send_replace(Binding::Unset);
                    None
                }
            };
            let wanted = loop {
                let message = tokio::select! {
                    request = requests.recv() => match request {
                        // A session binds once (the spec), so only a new key needs a new
                        // one; a failed or ended one is tried again.
                        Some(wanted) if wanted == hotkey && session.is_some() => continue,
                        Some(wanted) => break Some(wanted),
                        None => break None,
                    },
                    message = next(&mut signals.shortcuts) => message,
                    message = next(&mut signals.sessions) => message,
                };
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "unreadable message from the GlobalShortcuts portal");
                        continue;
                    }
                    None => {
                        if let Some(hotkey) = hotkey {
                            told.send_replace(Binding::Failed {
                                hotkey,
                                why: format!(
                                    "the session bus closed, and with it {hotkey}'s binding"
                                ),
                            });
                        }
                        return;
                    }
                };
                let (Some(ours), Some(hotkey)) = (session.as_ref(), hotkey) else {
                    continue;
                };
                match heard(&message, ours) {
                    Some(Heard::Pressed) => pressed(),
                    Some(Heard::Trigger(described)) => {
                        told.send_replace(Binding::Portal {
                            hotkey,
                            trigger: described.filter(|text| !names(text, hotkey)),
                        });
                    }
                    Some(Heard::Closed) => {
                        // The desktop (or the user, in its settings) ended the session: the
                        // key does nothing now, and binding it again unasked could go
                        // against the user's wish, so the window says so and a save of
                        // the settings binds it anew.
                        session = None;
                        told.send_replace(Binding::Failed {
                            hotkey,
                            why: format!(
                                "the desktop ended the GlobalShortcuts portal's session, and with it {hotkey}'s binding (saving the settings asks for it again)"
                            ),
                        });
                    }
                    None => {}
                }
            };
            if let Some(session) = session {
                self.close(&session).await;
            }
            match wanted {
                Some(wanted) => hotkey = wanted,
                None => return,
            }
        }
    }

    /// Asks the desktop to bind `hotkey` in a new session: the session and the key as
    /// the desktop describes it, or why not.
    async fn bind(&self, hotkey: Hotkey) -> Result<Bound, String> {
        let not_bound = |reason: String| {
            format!("the desktop's GlobalShortcuts portal did not bind {hotkey}: {reason}")
        };
        let session = self.create_session().await.map_err(not_bound)?;
        let shortcut = HashMap::from([
            ("description", Variant::from(TOGGLE_DESCRIPTION)),
            ("preferred_trigger", Variant::from(trigger(hotkey))),
        ]);
        let token = token();
        let options = HashMap::from([("handle_token", Variant::from(token.as_str()))]);
        let asked = self
            .request(
                "BindShortcuts",
                &token,
                &(&session, vec![(TOGGLE, shortcut)], "", options),
            )
            .await;
        let bound = asked.and_then(|results| {
            let shortcuts = results
                .get("shortcuts")
                .ok_or("its answer lists no shortcuts")?
                .try_clone()
                .map_err(|error| error.to_string())?;
            let shortcuts = Vec::<(String, HashMap<String, OwnedVariant>)>::try_from(shortcuts)
                .map_err(|error| format!("its list of shortcuts is unreadable: {error}"))?;
            let (_, toggle) = shortcuts
                .into_iter()
                .find(|(id, _)| id == TOGGLE)
                .ok_or("it left the shortcut out of those it bound")?;
            Ok(described_trigger(&toggle).filter(|text| !names(text, hotkey)))
        });
        match bound {
            Ok(trigger) => Ok(Bound { session, trigger }),
            Err(reason) => {
                self.close(&session).await;
                Err(not_bound(reason))
            }
        }
    }

    /// A new session, by its path.
    async fn create_session(&self) -> Result<OwnedObjectPath, String> {
        let (request_token, session_token) = (token(), token());
        let expected = self.path("session", &session_token)?;
        let options = HashMap::from([
            ("handle_token", Variant::from(request_token.as_str())),
            (
                "session_handle_token",
                Variant::from(session_token.as_str()),
            ),
        ]);
        let results = self
            .request("CreateSession", &request_token, &(options,))
            .await?;
        // Portals send the handle as a string (the spec's mistake, kept for
        // compatibility) or as an object path; it is the one asked for either way.
        match results.get("session_handle").map(|handle| &**handle) {
            Some(Variant::Str(handle)) => OwnedObjectPath::try_from(handle.as_str())
                .map_err(|error| format!("its session handle is no path: {error}")),
            Some(Variant::ObjectPath(handle)) => Ok(handle.clone().into()),
            _ => Ok(expected),
        }
    }

    /// Calls `method`, whose options carry `handle_token = token`, and waits for the
    /// answer the portal sends on the request's path: its results, or why not.
    async fn request<B>(
        &self,
        method: &str,
        token: &str,
        body: &B,
    ) -> Result<HashMap<String, OwnedVariant>, String>
    where
        B: Serialize + DynamicType,
    {
        // Listening before the call, as the spec asks: the answer may come before the
        // call returns.
        let expected = self.path("request", token)?;
        let mut answers = self.answers(&expected).await?;
        let reply = self
            .connection
            .call_method(Some(DESKTOP), DESKTOP_PATH, Some(SHORTCUTS), method, body)
            .await
            .map_err(|error| format!("{method} failed: {error}"))?;
        let handle: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|error| format!("{method} answered no request handle: {error}"))?;
        if handle != expected {
            // The spec's advice for portals that choose the path themselves.
            answers = self.answers(&handle).await?;
        }
        let answer = next(&mut answers)
            .await
            .ok_or("the session bus closed")?
            .map_err(|error| error.to_string())?;
        let (code, results): (u32, HashMap<String, OwnedVariant>) = answer
            .body()
            .deserialize()
            .map_err(|error| format!("its answer is unreadable: {error}"))?;
        match code {
            0 => Ok(results),
            1 => Err("you cancelled its dialog".into()),
            2 => Err("it ended the request".into()),
            other => Err(format!("it answered {other}")),
        }
    }

    /// The `Response` of the request at `path`.
    async fn answers(&self, path: &OwnedObjectPath) -> Result<MessageStream, String> {
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(DESKTOP)
            .path(path.as_ref())
            .interface(REQUEST)
            .member("Response")
            .build()
            .map_err(|error| error.to_string())?;
        MessageStream::for_match_rule(rule, &self.connection, NonZeroUsize::new(1))
            .await
            .map_err(|error| format!("cannot listen for the portal's answer: {error}"))
    }

    /// Ends a session, and with it its shortcut.
    async fn close(&self, session: &OwnedObjectPath) {
        let closed = self
            .connection
            .call_method(Some(DESKTOP), session, Some(SESSION), "Close", &())
            .await;
        if let Err(error) = closed {
            tracing::warn!(%error, %session, "cannot close the GlobalShortcuts session");
        }
    }

    /// `/org/freedesktop/portal/desktop/{kind}/SENDER/{token}`, the path the portal
    /// gives a request or a session of this connection's.
    fn path(&self, kind: &str, token: &str) -> Result<OwnedObjectPath, String> {
        OwnedObjectPath::try_from(format!("{DESKTOP_PATH}/{kind}/{}/{token}", self.sender))
            .map_err(|error| error.to_string())
    }
}

/// The portal's signals this connection listens to.
struct Signals {
    /// `Activated` and `ShortcutsChanged`, on the portal's own path.
    shortcuts: MessageStream,
    /// `Session.Closed`, on each session's path.
    sessions: MessageStream,
}

/// What a signal of the portal's says of the toggle shortcut.
#[derive(Debug, PartialEq)]
enum Heard {
    /// It was pressed.
    Pressed,
    /// The desktop changed its key (the user did, in its settings), now described so.
    Trigger(Option<String>),
    /// The desktop ended its session, and with it the binding.
    Closed,
}

/// What `message` says of the toggle shortcut in `session`, if anything.
fn heard(message: &Message, session: &OwnedObjectPath) -> Option<Heard> {
    let header = message.header();
    let body = message.body();
    match (header.interface()?.as_str(), header.member()?.as_str()) {
        (SHORTCUTS, "Activated") => {
            let (activated, id, _timestamp, _options) = body
                .deserialize::<(OwnedObjectPath, String, u64, HashMap<String, OwnedVariant>)>()
                .ok()?;
            (activated == *session && id == TOGGLE).then_some(Heard::Pressed)
        }
        (SHORTCUTS, "ShortcutsChanged") => {
            let (changed, shortcuts) = body
                .deserialize::<(
                    OwnedObjectPath,
                    Vec<(String, HashMap<String, OwnedVariant>)>,
                )>()
                .ok()?;
            if changed != *session {
                return None;
            }
            let (_, toggle) = shortcuts.into_iter().find(|(id, _)| id == TOGGLE)?;
            Some(Heard::Trigger(described_trigger(&toggle)))
        }
        (SESSION, "Closed") => {
            (header.path()?.as_str() == session.as_str()).then_some(Heard::Closed)
        }
        _ => None,
    }
}

/// The desktop's words for a shortcut's key, when it gives any.
fn described_trigger(shortcut: &HashMap<String, OwnedVariant>) -> Option<String> {
    shortcut
        .get("trigger_description")
        .and_then(|text| String::try_from(text.try_clone().ok()?).ok())
        .filter(|text| !text.is_empty())
}

/// The next item of a zbus stream (the `StreamExt::next` of futures, which this crate
/// does not otherwise need).
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|context| Pin::new(&mut *stream).poll_next(context)).await
}

/// A token for the last element of a request's or a session's path: the spec asks for
/// one that is unique and hard to guess, with a prefix of the caller's.
fn token() -> String {
    format!(
        "deepwork_{:016x}",
        RandomState::new().build_hasher().finish()
    )
}

/// A unique bus name (`:1.42`) as the portal writes it in paths (`1_42`).
fn sender_in_paths(unique_name: &str) -> String {
    unique_name.trim_start_matches(':').replace('.', "_")
}

/// `hotkey` as the XDG shortcuts specification writes a trigger: the modifiers by
/// xkbcommon's names (CTRL, ALT, SHIFT, LOGO), then the keysym the key types on the base
/// layer (xkbcommon's name without `XKB_KEY_`), joined by `+`: Ctrl+Alt+D is `CTRL+ALT+d`.
fn trigger(hotkey: Hotkey) -> String {
    let held = [
        (hotkey.modifiers.ctrl, "CTRL"),
        (hotkey.modifiers.alt, "ALT"),
        (hotkey.modifiers.shift, "SHIFT"),
        (hotkey.modifiers.logo, "LOGO"),
    ];
    let key = match hotkey.key {
        Key::Letter(letter) => letter.to_ascii_lowercase().to_string(),
        Key::Digit(digit) => digit.to_string(),
        Key::Function(number) => format!("F{number}"),
        Key::Space => "space".into(),
    };
    held.iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .chain([key.as_str()])
        .collect::<Vec<_>>()
        .join("+")
}

/// Whether the desktop's description of a trigger just names `hotkey` (as Deepwork
/// writes it, or as the shortcuts specification does), in any case.
fn names(description: &str, hotkey: Hotkey) -> bool {
    description.eq_ignore_ascii_case(&hotkey.to_string())
        || description.eq_ignore_ascii_case(&trigger(hotkey))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_follow_the_shortcuts_spec() {
        for (hotkey, spec) in [
            ("Ctrl+Alt+D", "CTRL+ALT+d"),
            ("Shift+Super+F12", "SHIFT+LOGO+F12"),
            ("Alt+Space", "ALT+space"),
            ("Ctrl+7", "CTRL+7"),
        ] {
            assert_eq!(trigger(hotkey.parse().unwrap()), spec, "{hotkey}");
        }
    }

    #[test]
    fn a_description_that_restates_the_hotkey_is_not_news() {
        let hotkey: Hotkey = "Ctrl+Alt+D".parse().unwrap();
        assert!(names("Ctrl+Alt+D", hotkey));
        assert!(names("CTRL+ALT+d", hotkey));
        assert!(!names("Super+D", hotkey));
    }

    const OURS: &str = "/org/freedesktop/portal/desktop/session/1_42/deepwork_1";
    const THEIRS: &str = "/org/freedesktop/portal/desktop/session/1_42/deepwork_2";

    fn signal<B>(path: &str, interface: &str, member: &str, body: &B) -> Message
    where
        B: Serialize + DynamicType,
    {
        Message::signal(path, interface, member)
            .build(body)
            .expect("a signal")
    }

    fn changed(session: &str, id: &str, words: &str) -> Message {
        let session = OwnedObjectPath::try_from(session).unwrap();
        let fields = HashMap::from([("trigger_description", Variant::from(words))]);
        signal(
            DESKTOP_PATH,
            SHORTCUTS,
            "ShortcutsChanged",
            &(session, vec![(id, fields)]),
        )
    }

    #[test]
    fn only_the_toggle_of_our_session_is_heard() {
        let ours = OwnedObjectPath::try_from(OURS).unwrap();
        let press = |session: &str, id: &str| {
            let session = OwnedObjectPath::try_from(session).unwrap();
            let options = HashMap::<&str, Variant>::new();
            signal(
                DESKTOP_PATH,
                SHORTCUTS,
                "Activated",
                &(session, id, 7u64, options),
            )
        };
        assert_eq!(heard(&press(OURS, TOGGLE), &ours), Some(Heard::Pressed));
        assert_eq!(heard(&press(THEIRS, TOGGLE), &ours), None);
        assert_eq!(heard(&press(OURS, "other"), &ours), None);

        assert_eq!(
            heard(&changed(OURS, TOGGLE, "Super+F9"), &ours),
            Some(Heard::Trigger(Some("Super+F9".into())))
        );
        assert_eq!(
            heard(&changed(OURS, TOGGLE, ""), &ours),
            Some(Heard::Trigger(None)),
            "no words is no news"
        );
        assert_eq!(heard(&changed(THEIRS, TOGGLE, "Super+F9"), &ours), None);
        assert_eq!(heard(&changed(OURS, "other", "Super+F9"), &ours), None);

        let closed =
            |path: &str| signal(path, SESSION, "Closed", &(HashMap::<&str, Variant>::new(),));
        assert_eq!(heard(&closed(OURS), &ours), Some(Heard::Closed));
        assert_eq!(heard(&closed(THEIRS), &ours), None);
    }

    #[test]
    fn paths_carry_the_unique_name_as_the_portal_writes_it() {
        assert_eq!(sender_in_paths(":1.42"), "1_42");
    }

    #[test]
    fn tokens_are_valid_path_elements_and_differ() {
        let (one, two) = (token(), token());
        assert_ne!(one, two);
        assert!(
            one.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{one}"
        );
    }
}

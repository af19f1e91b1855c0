//! The resident's desktop shell: the tray icon with its menu, and the global hotkey.
//!
//! It is a client of the engine like the CLI: it acts through the socket API and
//! follows the engine's event stream, so the tray shows what every other client sees.
//! Nothing here links GTK or WebKit; the tray speaks D-Bus (StatusNotifierItem and
//! dbusmenu) and the hotkey speaks X11, or on Wayland the desktop's GlobalShortcuts
//! portal.

mod hotkey;
mod icons;
mod portal;
mod prefetch;
mod presence;
mod tray;
pub mod view;

use crate::hotkey::HotkeyGrab;
use crate::icons::Icons;
use crate::portal::{Binding, WaylandHotkey};
use crate::tray::{Action, TrayHandle};
use crate::view::{next_tick, tray_view};
use deepwork_core::config::{Config, Length};
use deepwork_core::escalation::AckVia;
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_engine::api::{DesktopState, Event, ShellPart, Status};
use deepwork_engine::notify::{DesktopNotifier, Loudness, Notice, Notifier};
use deepwork_engine::paths::sibling_program;
use deepwork_engine::server::{clock_now, load_config};
use deepwork_engine::{Client, ClientError};
use jiff::tz::TimeZone;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::{Notify, watch};

/// The program that shows the window: `$DEEPWORK_APP`, else beside `deepwork`, else on `PATH`.
const WINDOW_PROGRAM: &str = "deepwork-app";

/// Starts the tray and the hotkey for the engine listening on `socket`. Call it inside
/// the engine's runtime once the socket listens; `quit` is notified when the user picks
/// "Quit Deepwork". Failures are logged and shown; the engine goes on without them.
pub fn start(socket: PathBuf, config_file: PathBuf, config: Config, quit: Arc<Notify>) {
    if config.desktop.prefetch_window {
        let app = window_program();
        let spawned = std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || prefetch::window_files(&app));
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot read the window's files ahead");
        }
    }
    let (actions_tx, actions) = mpsc::unbounded_channel();
    let toggles = actions_tx.clone();
    let pressed = move || {
        let _ = toggles.send(Action::Toggle);
    };
    let hotkey = config.desktop.hotkey.0;
    let (grab, wayland, hotkey_state) = if on_wayland() {
        let wayland = WaylandHotkey::spawn(hotkey, pressed);
        let hotkey_state = hotkey_part(&wayland.bindings().borrow());
        (None, Some(wayland), hotkey_state)
    } else {
        let grabbed = hotkey::spawn(hotkey, pressed);
        let binding = Binding::grabbed(hotkey, grabbed.as_ref().map(|_| ()).map_err(Clone::clone));
        log_binding(&binding);
        (grabbed.ok(), None, hotkey_part(&binding))
    };
    let shell = Shell {
        socket,
        config_file,
        tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
        config,
        quit,
        hotkey: grab,
        wayland,
        hotkey_state,
        digest_waiting: None,
    };
    tokio::spawn(async move {
        if let Err(error) = shell.run(actions_tx, actions).await {
            tracing::warn!(%error, "the tray lost the engine");
        }
    });
}

struct Shell {
    socket: PathBuf,
    config_file: PathBuf,
    config: Config,
    hotkey: Option<HotkeyGrab>,
    /// On Wayland, the hotkey bound through the desktop's portal (or its X11 fallback)
    /// instead of `hotkey`.
    wayland: Option<WaylandHotkey>,
    /// The hotkey's state, as the window is told.
    hotkey_state: ShellPart,
    tz: TimeZone,
    quit: Arc<Notify>,
    /// Items in the digest of the last check-in, until the user opens it or starts again.
    digest_waiting: Option<u32>,
}

impl Shell {
    async fn run(
        mut self,
        actions_tx: UnboundedSender<Action>,
        mut actions: UnboundedReceiver<Action>,
    ) -> Result<(), ClientError> {
        // Subscribe before reading the status, so no change falls between the two.
        let mut events = Client::connect(&self.socket).await?.subscribe().await?;
        let mut engine = Client::connect(&self.socket).await?;
        let mut status = engine.status().await?;
        let tray = self.start_tray(&status, actions_tx).await;
        let tray_state = tray_part(tray.is_some(), tray_host_present().await);
        if !tray_state.working {
            tracing::warn!(problem = %tray_state.how, "no tray icon shown");
            tell_user("Deepwork has no tray icon", tray_state.how.clone());
        }
        let (presence_tx, mut presence) = mpsc::unbounded_channel();
        let presence_state = if self.config.desktop.detect_away {
            let after = self.config.desktop.away_after.0.unsigned_abs();
            presence::spawn(Some(after), presence_tx).await
        } else {
            ShellPart {
                working: false,
                how: "turned off ([desktop] detect_away = false)".into(),
            }
        };
        tracing::info!(how = %presence_state.how, "presence");
        // The portal answers when the desktop does, maybe after asking the user.
        let mut bindings = self.wayland.as_ref().map(WaylandHotkey::bindings);
        if let Some(receiver) = &mut bindings {
            let binding = receiver.borrow_and_update().clone();
            log_binding(&binding);
            self.hotkey_state = hotkey_part(&binding);
        }
        // What the shell reports: only the hotkey's part changes while it runs.
        let desktop = |hotkey: &ShellPart| DesktopState {
            tray: tray_state.clone(),
            hotkey: hotkey.clone(),
            presence: presence_state.clone(),
        };
        status = engine.report_desktop(desktop(&self.hotkey_state)).await?;
        loop {
            let now = clock_now();
            let tick = next_tick(&status, now).map(|at| {
                let wait = at.duration_since(now).unsigned_abs();
                tokio::time::Instant::now() + wait
            });
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(event)) => {
                        self.note(&event);
                        status = match event {
                            // A new hotkey may have been grabbed: the window is told.
                            Event::ConfigChanged => {
                                engine.report_desktop(desktop(&self.hotkey_state)).await?
                            }
                            _ => engine.status().await?,
                        };
                    }
                    Some(Err(error)) => return Err(error),
                    None => return Ok(()),
                },
                Some(binding) = next_binding(&mut bindings) => {
                    log_binding(&binding);
                    self.hotkey_state = hotkey_part(&binding);
                    status = engine.report_desktop(desktop(&self.hotkey_state)).await?;
                }
                Some(away_since) = presence.recv() => {
                    tracing::info!(?away_since, "the user is {}", if away_since.is_some() { "away" } else { "back" });
                    status = engine.report_presence(away_since).await?;
                }
                Some(action) = actions.recv() => {
                    if let Some(new_status) = self.act(action, &status, &mut engine).await? {
                        status = new_status;
                    }
                }
                () = sleep_until(tick) => {}
            }
            if let Some(tray) = &tray {
                tray.show(tray_view(
                    &status,
                    self.digest_waiting,
                    &self.config,
                    &self.tz,
                    clock_now(),
                ));
            }
        }
    }

    async fn start_tray(
        &self,
        status: &Status,
        actions: UnboundedSender<Action>,
    ) -> Option<TrayHandle> {
        let first = tray_view(
            status,
            self.digest_waiting,
            &self.config,
            &self.tz,
            clock_now(),
        );
        let theme = self.config.desktop.tray_icon;
        let started = tokio::task::spawn_blocking(move || {
            let icons = Icons::for_panel(theme)?;
            tray::spawn(first, icons, actions)
        })
        .await;
        match started {
            Ok(Ok(tray)) => {
                tracing::info!("tray icon published");
                Some(tray)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "no tray icon");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "no tray icon");
                None
            }
        }
    }

    fn note(&mut self, event: &Event) {
        match event {
            Event::ConfigChanged => self.reload(),
            Event::OpenDigest => {
                self.digest_waiting = None;
                open_window(&self.socket, "digest");
            }
            Event::OpenStandup => open_window(&self.socket, "standup"),
            Event::CheckIn { counts, .. } => {
                self.digest_waiting = Some(counts.total());
                if counts.total() > 0 && self.config.desktop.open_digest_at_check_in {
                    open_window(&self.socket, "digest");
                }
            }
            Event::SessionChanged { status } if status.session.is_some() => {
                self.digest_waiting = None;
            }
            _ => {}
        }
    }

    /// Picks up saved settings: the default length and slots for the menu, the hotkey.
    fn reload(&mut self) {
        match load_config(&self.config_file) {
            Ok(config) => {
                let hotkey = config.desktop.hotkey.0;
                if let Some(grab) = &self.hotkey {
                    match grab.rebind(hotkey) {
                        Ok(()) => {
                            tracing::info!(hotkey = %config.desktop.hotkey, "hotkey set");
                            self.hotkey_state = hotkey_part(&Binding::grabbed(hotkey, Ok(())));
                        }
                        Err(error) => {
                            tracing::warn!(%error, "hotkey unchanged");
                            tell_user("The Deepwork hotkey did not change", error);
                        }
                    }
                }
                if let Some(wayland) = &self.wayland {
                    // The desktop answers later; until then the window is told the last
                    // answer, and the run loop reports the next one.
                    wayland.rebind(hotkey);
                    self.hotkey_state = hotkey_part(&wayland.bindings().borrow());
                }
                self.config = config;
            }
            Err(error) => tracing::warn!(%error, "cannot reload the settings"),
        }
    }

    /// Does what the user picked; the new status when the engine answered with one.
    async fn act(
        &mut self,
        action: Action,
        status: &Status,
        engine: &mut Client,
    ) -> Result<Option<Status>, ClientError> {
        let plan = |end| SessionPlan {
            end,
            check_in: None,
        };
        let outcome = match action {
            Action::Start => engine.start(plan(None)).await,
            Action::StartFor(length) => {
                engine
                    .start(plan(Some(SessionEnd::For(Length(length)))))
                    .await
            }
            Action::StartUntilSlot => {
                let view = tray_view(status, None, &self.config, &self.tz, clock_now());
                match view.until_slot {
                    Some((slot, _)) => engine.start(plan(Some(SessionEnd::Until(slot)))).await,
                    None => return Ok(None),
                }
            }
            Action::Toggle if status.session.is_some() => engine.stop().await,
            Action::Toggle => engine.start(plan(None)).await,
            Action::Stop => engine.stop().await,
            Action::CheckIn => engine.check_in().await,
            // The block the menu named, not whichever is next by the time it arrives.
            Action::SkipBlock => {
                let shown = status.next_block.as_ref().map(|block| block.plan.clone());
                engine.skip_block(shown).await
            }
            Action::Acknowledge => match engine.acknowledge(None, AckVia::Tray).await {
                Ok(_) => engine.status().await,
                Err(error) => Err(error),
            },
            Action::OpenDigest => {
                self.digest_waiting = None;
                open_window(&self.socket, "digest");
                return Ok(None);
            }
            Action::OpenWindow | Action::StartWithIntent => {
                open_window(&self.socket, "now");
                return Ok(None);
            }
            Action::OpenStandup => {
                open_window(&self.socket, "standup");
                return Ok(None);
            }
            // The intent the menu named, not whichever is latest by the time it arrives.
            Action::Outcome(outcome) => {
                let Some(intent) = &status.unsaid_intent else {
                    return Ok(None);
                };
                match engine.outcome(Some(intent.session), outcome, None).await {
                    Ok(_) => engine.status().await,
                    Err(error) => Err(error),
                }
            }
            Action::Quit => {
                tracing::info!("quit from the tray");
                self.quit.notify_one();
                return Ok(None);
            }
        };
        match outcome {
            Ok(status) => Ok(Some(status)),
            Err(ClientError::Api(refusal)) => {
                tell_user("Deepwork", refusal.message);
                Ok(Some(engine.status().await?))
            }
            Err(other) => Err(other),
        }
    }
}

/// The Wayland hotkey's next answer; `None` once it will answer no more (then the
/// receiver is dropped, so this is never polled again).
async fn next_binding(bindings: &mut Option<watch::Receiver<Binding>>) -> Option<Binding> {
    let receiver = bindings.as_mut()?;
    match receiver.changed().await {
        Ok(()) => Some(receiver.borrow_and_update().clone()),
        Err(_) => {
            *bindings = None;
            None
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The D-Bus name of the StatusNotifierItem host registry every tray host (KDE, XFCE,
/// most panels, GNOME's AppIndicator extension) owns.
const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Whether a tray host is there to show the icon; `None` when the bus cannot be asked.
async fn tray_host_present() -> Option<bool> {
    let asked = async {
        let connection = zbus::Connection::session().await?;
        let bus = zbus::fdo::DBusProxy::new(&connection).await?;
        let name = zbus::names::BusName::try_from(WATCHER)?;
        Ok::<bool, zbus::Error>(bus.name_has_owner(name).await?)
    };
    match asked.await {
        Ok(present) => Some(present),
        Err(error) => {
            tracing::warn!(%error, "cannot ask the session bus for a tray host");
            None
        }
    }
}

/// The tray icon's state, for the window: published (and whether a host shows it).
fn tray_part(published: bool, host: Option<bool>) -> ShellPart {
    match (published, host) {
        (true, Some(true)) => ShellPart {
            working: true,
            how: "shown by the desktop's tray (StatusNotifierItem)".into(),
        },
        (true, None) => ShellPart {
            working: true,
            how: "published as a StatusNotifierItem".into(),
        },
        (true, Some(false)) => ShellPart {
            working: false,
            how: "your desktop shows no tray icons (no StatusNotifierItem host): on GNOME, install and turn on the AppIndicator extension (gnome-shell-extension-appindicator); until then, use this window or `deepwork toggle`".into(),
        },
        (false, _) => ShellPart {
            working: false,
            how: "the tray icon could not be published on the session bus; use this window or `deepwork toggle`".into(),
        },
    }
}

/// Whether the resident runs in a Wayland session, where the hotkey goes through the
/// desktop's portal.
fn on_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|display| !display.is_empty())
}

/// The hotkey's state, for the window: which key works and how, or why not.
fn hotkey_part(binding: &Binding) -> ShellPart {
    let (working, how) = match binding {
        Binding::Unset => (false, "no hotkey is set ([desktop] hotkey)".into()),
        Binding::Asking(hotkey) => (
            false,
            format!(
                "waiting for the desktop's GlobalShortcuts portal to bind {hotkey}: if your desktop asks about it, confirm it there"
            ),
        ),
        Binding::Portal {
            hotkey,
            trigger: None,
        } => (
            true,
            format!("{hotkey}, through the desktop's GlobalShortcuts portal"),
        ),
        Binding::Portal {
            hotkey,
            trigger: Some(trigger),
        } => (
            true,
            format!(
                "{trigger}, as the desktop's GlobalShortcuts portal set it (Deepwork asked for {hotkey})"
            ),
        ),
        // Only without a portal: otherwise the portal binds the hotkey on Wayland.
        Binding::X11(hotkey) if on_wayland() => (
            false,
            format!(
                "your desktop offers no GlobalShortcuts portal, and {hotkey} is grabbed on X11, which on Wayland sees only X11 windows' keys: bind `deepwork toggle` as a system shortcut in your desktop's keyboard settings"
            ),
        ),
        Binding::X11(hotkey) => (true, format!("{hotkey}, grabbed on X11")),
        Binding::Failed { why, .. } => (
            false,
            format!("{why}; bind `deepwork toggle` as a system shortcut instead"),
        ),
    };
    ShellPart { working, how }
}

/// Logs what came of binding the hotkey, and shows a failure.
fn log_binding(binding: &Binding) {
    match binding {
        Binding::Unset => {}
        Binding::Asking(hotkey) => {
            tracing::info!(%hotkey, "asking the desktop's GlobalShortcuts portal for the hotkey");
        }
        Binding::Portal { hotkey, trigger } => {
            let trigger = trigger.as_deref().unwrap_or_default();
            tracing::info!(%hotkey, trigger, via = "GlobalShortcuts portal", "hotkey ready");
        }
        Binding::X11(hotkey) => tracing::info!(%hotkey, "hotkey ready"),
        Binding::Failed { why, .. } => {
            tracing::warn!(error = %why, "no hotkey");
            tell_user(
                "The Deepwork hotkey does not work",
                hotkey_part(binding).how,
            );
        }
    }
}

/// The window's program: `$DEEPWORK_APP`, else beside `deepwork`, else on `PATH`.
fn window_program() -> PathBuf {
    std::env::var_os("DEEPWORK_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| sibling_program(WINDOW_PROGRAM))
}

/// Launches the window on `view`, pointed at this engine's socket.
fn open_window(socket: &std::path::Path, view: &str) {
    let program = window_program();
    let spawned = tokio::process::Command::new(&program)
        .args(["--view", view])
        .env("DEEPWORK_SOCKET", socket)
        .stdin(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(error) => {
            tracing::warn!(%error, program = %program.display(), "cannot open the window");
            tell_user(
                "Cannot open the Deepwork window",
                format!("{} could not start: {error}", program.display()),
            );
        }
    }
}

/// A desktop notification from the tray itself. Its notifier starts at the first one:
/// most days the tray has nothing to tell.
fn tell_user(summary: &'static str, body: String) {
    static NOTIFIER: OnceLock<Option<DesktopNotifier>> = OnceLock::new();
    let notifier = NOTIFIER.get_or_init(|| {
        DesktopNotifier::start(|_| {})
            .inspect_err(|error| tracing::warn!(%error, "cannot start the tray's notifier"))
            .ok()
    });
    if let Some(notifier) = notifier {
        notifier.notify(Notice {
            summary: summary.into(),
            body,
            loudness: Loudness::Normal,
            action: None,
            emergency: None,
        });
    }
}

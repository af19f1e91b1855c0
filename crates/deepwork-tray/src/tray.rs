//! The tray icon and its menu, on a thread of their own: the menu's items are not
//! `Send`, so one thread owns them and applies each new [`TrayView`] it is sent.
//! It sleeps in a blocking receive, so it costs nothing between updates.

use crate::icons::Icons;
use crate::view::{IconState, TrayView};
use deepwork_core::standup::Outcome;
use jiff::SignedDuration;
use std::sync::mpsc;
use tokio::sync::mpsc::UnboundedSender;
use tray_icon::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tray_icon::{TrayIcon, TrayIconBuilder};

/// What the user asked for from the tray or the hotkey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start a session of the default length.
    Start,
    /// Start a session this long.
    StartFor(SignedDuration),
    /// Start a session until the next check-in slot.
    StartUntilSlot,
    /// Start a session if none runs, else stop it (the hotkey).
    Toggle,
    /// Stop the session.
    Stop,
    /// Deliver the digest now.
    CheckIn,
    /// Acknowledge every emergency being escalated.
    Acknowledge,
    /// Skip today's focus block (stopping it if it runs).
    SkipBlock,
    /// Open the window on the digest.
    OpenDigest,
    /// Open the window on the standup.
    OpenStandup,
    /// Open the window to start a session with an intent.
    StartWithIntent,
    /// Say how the latest session's intent went.
    Outcome(Outcome),
    /// Open the window.
    OpenWindow,
    /// Stop the resident.
    Quit,
}

/// The lengths offered besides the default, in minutes.
const LENGTHS: [(i64, &str); 4] = [
    (25, "25 min"),
    (50, "50 min"),
    (90, "90 min"),
    (120, "2 hours"),
];

fn action_of(id: &str) -> Option<Action> {
    Some(match id {
        "start" => Action::Start,
        "start-until" => Action::StartUntilSlot,
        "stop" => Action::Stop,
        "check-in" => Action::CheckIn,
        "acknowledge" => Action::Acknowledge,
        "skip-block" => Action::SkipBlock,
        "open-digest" => Action::OpenDigest,
        "open-standup" => Action::OpenStandup,
        "start-intent" => Action::StartWithIntent,
        "outcome-done" => Action::Outcome(Outcome::Done),
        "outcome-partly" => Action::Outcome(Outcome::Partly),
        "outcome-not-done" => Action::Outcome(Outcome::NotDone),
        "open" => Action::OpenWindow,
        "quit" => Action::Quit,
        other => {
            let minutes: i64 = other.strip_prefix("start-")?.parse().ok()?;
            Action::StartFor(SignedDuration::from_mins(minutes))
        }
    })
}

/// Sends new looks to the tray thread.
#[derive(Debug, Clone)]
pub struct TrayHandle {
    views: mpsc::Sender<TrayView>,
}

impl TrayHandle {
    /// Shows `view`; false once the tray is gone.
    pub fn show(&self, view: TrayView) -> bool {
        self.views.send(view).is_ok()
    }
}

/// Publishes the tray icon (StatusNotifierItem with a dbusmenu menu) on the session bus.
/// Menu choices arrive on `actions`.
pub fn spawn(
    first: TrayView,
    icons: Icons,
    actions: UnboundedSender<Action>,
) -> Result<TrayHandle, String> {
    let (views, updates) = mpsc::channel();
    let (started, outcome) = mpsc::sync_channel(1);
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        if let Some(action) = action_of(event.id().as_ref()) {
            let _ = actions.send(action);
        }
    }));
    std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || match Tray::new(&first, icons) {
            Ok(mut tray) => {
                let _ = started.send(Ok(()));
                for view in updates {
                    tray.show(&view);
                }
            }
            Err(error) => {
                let _ = started.send(Err(error));
            }
        })
        .map_err(|error| format!("cannot start the tray thread: {error}"))?;
    outcome
        .recv()
        .map_err(|_| "the tray thread ended before the tray was ready".to_owned())??;
    Ok(TrayHandle { views })
}

struct Tray {
    icon: TrayIcon,
    icons: Icons,
    shown: IconState,
    status_line: MenuItem,
    start: MenuItem,
    start_for: Submenu,
    until_slot: MenuItem,
    stop: MenuItem,
    check_in: MenuItem,
    acknowledge: MenuItem,
    next_block: MenuItem,
    skip_block: MenuItem,
    outcome: Submenu,
    // Kept so the menu the tray shows stays alive.
    _menu: Menu,
}

impl Tray {
    fn new(first: &TrayView, icons: Icons) -> Result<Tray, String> {
        let status_line = MenuItem::with_id("status", &first.tooltip, false, None);
        let start = MenuItem::with_id("start", &first.start_label, first.can_start, None);
        let until_slot = MenuItem::with_id("start-until", "Until the next check-in", false, None);
        let lengths: Vec<MenuItem> = LENGTHS
            .iter()
            .map(|(minutes, label)| {
                MenuItem::with_id(format!("start-{minutes}"), label, true, None)
            })
            .collect();
        let start_intent = MenuItem::with_id("start-intent", "Start with an intent…", true, None);
        let outcome = Submenu::with_id("outcome", "How did it go?", false);
        for (id, label) in [
            ("outcome-done", "Done"),
            ("outcome-partly", "Partly done"),
            ("outcome-not-done", "Not done"),
        ] {
            outcome
                .append(&MenuItem::with_id(id, label, true, None))
                .map_err(menu_error)?;
        }
        let start_for = Submenu::with_id("start-for", "Start for…", first.can_start);
        for item in &lengths {
            start_for.append(item).map_err(menu_error)?;
        }
        start_for.append(&until_slot).map_err(menu_error)?;
        let stop = MenuItem::with_id("stop", "Stop deep work", first.focusing, None);
        let check_in = MenuItem::with_id("check-in", "Check in now", first.focusing, None);
        let acknowledge = MenuItem::with_id(
            "acknowledge",
            "I'm on it: acknowledge the emergency",
            first.acknowledge.is_some(),
            None,
        );
        let next_block = MenuItem::with_id("next-block", "No focus blocks planned", false, None);
        let skip_block = MenuItem::with_id("skip-block", "Skip today's block", false, None);
        let open_digest = MenuItem::with_id("open-digest", "Open digest", true, None);
        let open_standup = MenuItem::with_id("open-standup", "Open standup", true, None);
        let open = MenuItem::with_id("open", "Open Deepwork", true, None);
        let quit = MenuItem::with_id("quit", "Quit Deepwork", true, None);
        let menu = Menu::with_items(&[
            &status_line,
            &acknowledge,
            &PredefinedMenuItem::separator(),
            &start,
            &start_for,
            &start_intent,
            &stop,
            &check_in,
            &outcome,
            &PredefinedMenuItem::separator(),
            &next_block,
            &skip_block,
            &PredefinedMenuItem::separator(),
            &open_digest,
            &open_standup,
            &open,
            &PredefinedMenuItem::separator(),
            &quit,
        ])
        .map_err(menu_error)?;
        let icon = TrayIconBuilder::new()
            .with_id("deepwork")
            .with_title("Deepwork")
            .with_tooltip(&first.tooltip)
            .with_icon(icons.for_state(first.icon))
            .with_menu(Box::new(menu.clone()))
            .build()
            .map_err(|error| format!("cannot publish the tray icon on the session bus: {error}"))?;
        let mut tray = Tray {
            icon,
            icons,
            shown: first.icon,
            status_line,
            start,
            start_for,
            until_slot,
            stop,
            check_in,
            acknowledge,
            next_block,
            skip_block,
            outcome,
            _menu: menu,
        };
        tray.show(first);
        Ok(tray)
    }

    fn show(&mut self, view: &TrayView) {
        if view.icon != self.shown {
            if let Err(error) = self.icon.set_icon(Some(self.icons.for_state(view.icon))) {
                tracing::warn!(%error, "cannot change the tray icon");
            }
            self.shown = view.icon;
        }
        if let Err(error) = self.icon.set_tooltip(Some(&view.tooltip)) {
            tracing::warn!(%error, "cannot change the tray tooltip");
        }
        self.status_line.set_text(&view.tooltip);
        self.start.set_text(&view.start_label);
        self.start.set_enabled(view.can_start);
        self.start_for.set_enabled(view.can_start);
        match &view.until_slot {
            Some((_, label)) => {
                self.until_slot.set_text(label);
                self.until_slot.set_enabled(view.can_start);
            }
            None => {
                self.until_slot
                    .set_text("Until the next check-in (no slots set)");
                self.until_slot.set_enabled(false);
            }
        }
        self.stop.set_enabled(view.focusing);
        self.check_in.set_enabled(view.focusing);
        match &view.acknowledge {
            Some(label) => {
                self.acknowledge.set_text(label);
                self.acknowledge.set_enabled(true);
            }
            None => {
                self.acknowledge.set_text("No emergency to acknowledge");
                self.acknowledge.set_enabled(false);
            }
        }
        self.next_block.set_text(
            view.next_block
                .as_deref()
                .unwrap_or("No focus blocks planned"),
        );
        match &view.skip_block {
            Some(label) => {
                self.skip_block.set_text(label);
                self.skip_block.set_enabled(true);
            }
            None => {
                self.skip_block.set_text("Skip today's block");
                self.skip_block.set_enabled(false);
            }
        }
        match &view.outcome {
            Some(label) => {
                self.outcome.set_text(label);
                self.outcome.set_enabled(true);
            }
            None => {
                self.outcome.set_text("How did it go?");
                self.outcome.set_enabled(false);
            }
        }
    }
}

fn menu_error(error: tray_icon::menu::Error) -> String {
    format!("cannot build the tray menu: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_menu_id_maps_to_its_action() {
        assert_eq!(action_of("start"), Some(Action::Start));
        assert_eq!(
            action_of("start-90"),
            Some(Action::StartFor(SignedDuration::from_mins(90)))
        );
        for (minutes, _) in LENGTHS {
            assert!(action_of(&format!("start-{minutes}")).is_some());
        }
        assert_eq!(action_of("start-until"), Some(Action::StartUntilSlot));
        assert_eq!(action_of("quit"), Some(Action::Quit));
        assert_eq!(action_of("skip-block"), Some(Action::SkipBlock));
        assert_eq!(action_of("next-block"), None, "the block line does nothing");
        assert_eq!(action_of("status"), None, "the status line does nothing");
        assert_eq!(action_of("start-for"), None);
        assert_eq!(
            action_of("outcome"),
            None,
            "the submenu itself does nothing"
        );
        assert_eq!(
            action_of("outcome-not-done"),
            Some(Action::Outcome(Outcome::NotDone))
        );
        assert_eq!(action_of("start-intent"), Some(Action::StartWithIntent));
        assert_eq!(action_of("open-standup"), Some(Action::OpenStandup));
    }
}

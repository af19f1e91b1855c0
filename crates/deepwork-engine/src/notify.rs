//! Desktop notifications: breakthroughs, check-ins, and items outside a session.

use deepwork_core::ItemId;
use std::sync::{Arc, mpsc};

/// How loudly a notice asks for attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loudness {
    /// An emergency breaking through.
    Critical,
    /// Anything else.
    Normal,
}

/// One desktop notification. All text is plain: the notifier escapes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The first line.
    pub summary: String,
    /// The text under it.
    pub body: String,
    /// How loud.
    pub loudness: Loudness,
    /// A button on the notice, if any.
    pub action: Option<NoticeAction>,
    /// The emergency it alerts to: its failure to show is reported, since the
    /// escalation then goes straight on.
    pub emergency: Option<ItemId>,
}

/// What a notice's buttons do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeAction {
    /// "Open digest": the resident opens the window on the digest.
    OpenDigest,
    /// "Open standup": the resident opens the window on the standup.
    OpenStandup,
    /// "I'm on it" acknowledges the emergency; "Open" opens the window.
    Acknowledge(ItemId),
}

impl NoticeAction {
    /// The open action's key on the notification bus.
    pub const OPEN_DIGEST_KEY: &str = "open-digest";
    /// The standup's open action's key.
    pub const OPEN_STANDUP_KEY: &str = "open-standup";
    /// The acknowledge action's key.
    pub const ACKNOWLEDGE_KEY: &str = "acknowledge";
}

/// What became of a notice, reported from the notification thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeReport {
    /// The user clicked a button.
    Acted(NoticeAction),
    /// An emergency's notice could not be shown.
    NotShown {
        /// The emergency.
        item: ItemId,
        /// Why, for the user.
        reason: String,
    },
}

/// Shows notices. Never blocks the engine and never fails it: a notice that cannot be
/// shown is logged, and reported when it was an emergency's.
pub trait Notifier: Send + 'static {
    /// Queues one notice.
    fn notify(&self, notice: Notice);

    /// Whether notices reach the desktop at all.
    fn shows(&self) -> bool {
        true
    }
}

/// Sends notices over the freedesktop notification bus (notify-rust, pure-Rust D-Bus),
/// from its own thread so a slow notification server never stalls the engine.
#[derive(Debug)]
pub struct DesktopNotifier {
    queue: mpsc::Sender<Notice>,
}

impl DesktopNotifier {
    /// Starts the sending thread; it sleeps on its queue, costing nothing while idle.
    /// `report` is called, from another thread, when the user clicks a notice's button
    /// or an emergency's notice could not be shown.
    pub fn start(report: impl Fn(NoticeReport) + Send + Sync + 'static) -> std::io::Result<Self> {
        let (queue, notices) = mpsc::channel::<Notice>();
        let report: Reporter = Arc::new(report);
        std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                for notice in notices {
                    send(&notice, &report);
                }
            })?;
        Ok(DesktopNotifier { queue })
    }
}

impl Notifier for DesktopNotifier {
    fn notify(&self, notice: Notice) {
        if self.queue.send(notice).is_err() {
            tracing::warn!("the notification thread has stopped; a notice was not shown");
        }
    }
}

/// Drops notices: for `notifications.enabled = false`.
#[derive(Debug)]
pub struct SilentNotifier;

impl Notifier for SilentNotifier {
    fn notify(&self, _notice: Notice) {}

    fn shows(&self) -> bool {
        false
    }
}

type Reporter = Arc<dyn Fn(NoticeReport) + Send + Sync>;

fn send(notice: &Notice, report: &Reporter) {
    let urgency = match notice.loudness {
        Loudness::Critical => notify_rust::Urgency::Critical,
        Loudness::Normal => notify_rust::Urgency::Normal,
    };
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Deepwork")
        .summary(&notice.summary)
        .body(&escape_markup(&notice.body))
        .urgency(urgency);
    match notice.action {
        // "default" is a click on the notice itself, where the server supports it.
        Some(NoticeAction::OpenDigest) => {
            notification
                .action("default", "Open digest")
                .action(NoticeAction::OPEN_DIGEST_KEY, "Open digest");
        }
        Some(NoticeAction::OpenStandup) => {
            notification
                .action("default", "Open standup")
                .action(NoticeAction::OPEN_STANDUP_KEY, "Open standup");
        }
        Some(NoticeAction::Acknowledge(_)) => {
            notification
                .action(NoticeAction::ACKNOWLEDGE_KEY, "I'm on it")
                .action(NoticeAction::OPEN_DIGEST_KEY, "Open");
        }
        None => {}
    }
    match notification.show() {
        Ok(handle) => {
            if let Some(action) = notice.action {
                let report = Arc::clone(report);
                // Waits on the bus (no polling) until the notice is clicked or closed.
                let waiting = std::thread::Builder::new()
                    .name("notice-action".into())
                    .spawn(move || {
                        handle.wait_for_action(|key| match (key, action) {
                            (NoticeAction::ACKNOWLEDGE_KEY, NoticeAction::Acknowledge(_)) => {
                                report(NoticeReport::Acted(action));
                            }
                            (
                                "default" | NoticeAction::OPEN_STANDUP_KEY,
                                NoticeAction::OpenStandup,
                            ) => report(NoticeReport::Acted(NoticeAction::OpenStandup)),
                            ("default" | NoticeAction::OPEN_DIGEST_KEY, _) => {
                                report(NoticeReport::Acted(NoticeAction::OpenDigest));
                            }
                            _ => {}
                        });
                    });
                if let Err(error) = waiting {
                    tracing::warn!(%error, "cannot wait for the notice's button");
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, summary = %notice.summary, "could not show a desktop notification");
            if let Some(item) = notice.emergency {
                report(NoticeReport::NotShown {
                    item,
                    reason: deepwork_core::text::one_line(&error.to_string()),
                });
            }
        }
    }
}

/// Notification servers may render a subset of HTML in bodies; message text is
/// untrusted, so every markup character is escaped.
pub use deepwork_core::text::escape_html as escape_markup;

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            super::escape_markup("<img src=x onerror=\"a()\"> & 'b'"),
            "&lt;img src=x onerror=&quot;a()&quot;&gt; &amp; &#39;b&#39;"
        );
    }
}

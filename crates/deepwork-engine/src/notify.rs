//! Desktop notifications: breakthroughs, check-ins, and items outside a session.

use deepwork_core::ItemId;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, mpsc};

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

/// Sends notices over the freedesktop notification bus (zbus, pure-Rust D-Bus), from its
/// own thread so a slow notification server never stalls the engine. One connection,
/// opened at the first notice, carries every notice and hears every button: an outage
/// of fifty alerts costs no more threads or connections than one.
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
                let mut bus = None;
                for notice in notices {
                    send(&mut bus, &notice, &report);
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

const BUS_NAME: &str = "org.freedesktop.Notifications";
const OBJECT_PATH: &str = "/org/freedesktop/Notifications";
/// Notices whose buttons are still listened for, at most: a server that never says a
/// notice closed (one restarted meanwhile) would otherwise grow the list for good.
const MOST_WAITING: usize = 256;

/// Notices shown with buttons, by the server's id, until clicked or closed.
type Waiting = Arc<Mutex<BTreeMap<u32, NoticeAction>>>;

/// The connection to the session bus, and the notices waiting on it.
struct Bus {
    connection: zbus::Connection,
    waiting: Waiting,
}

impl Bus {
    /// Connects and starts listening for clicks and closes. Some servers (KDE Plasma's)
    /// send these signals only to the connection that showed the notice, so this one
    /// connection both shows and listens.
    fn open(report: &Reporter) -> zbus::Result<Bus> {
        let (connection, signals) = zbus::block_on(async {
            let connection = zbus::Connection::session().await?;
            let rule = zbus::MatchRule::builder()
                .msg_type(zbus::message::Type::Signal)
                .interface(BUS_NAME)
                .path(OBJECT_PATH)
                .build()?;
            let signals = zbus::MessageStream::for_match_rule(rule, &connection, None).await?;
            Ok::<_, zbus::Error>((connection, signals))
        })?;
        let waiting = Waiting::default();
        let listening = Arc::clone(&waiting);
        let report = Arc::clone(report);
        // Ends when the connection does (closed for a new one, or the bus gone).
        std::thread::Builder::new()
            .name("notice-actions".into())
            .spawn(move || zbus::block_on(listen(signals, &listening, &report)))
            .map_err(|e| zbus::Error::InputOutput(Arc::new(e)))?;
        Ok(Bus {
            connection,
            waiting,
        })
    }

    /// Shows a notice; its id, as the server numbered it.
    fn show(&self, notice: &Notice) -> zbus::Result<u32> {
        let urgency: u8 = match notice.loudness {
            Loudness::Critical => 2,
            Loudness::Normal => 1,
        };
        let hints = HashMap::from([("urgency", zbus::Variant::from(urgency))]);
        let actions: &[&str] = match notice.action {
            // "default" is a click on the notice itself, where the server supports it.
            Some(NoticeAction::OpenDigest) => &[
                "default",
                "Open digest",
                NoticeAction::OPEN_DIGEST_KEY,
                "Open digest",
            ],
            Some(NoticeAction::OpenStandup) => &[
                "default",
                "Open standup",
                NoticeAction::OPEN_STANDUP_KEY,
                "Open standup",
            ],
            Some(NoticeAction::Acknowledge(_)) => &[
                NoticeAction::ACKNOWLEDGE_KEY,
                "I'm on it",
                NoticeAction::OPEN_DIGEST_KEY,
                "Open",
            ],
            None => &[],
        };
        let body = escape_markup(&notice.body);
        // App name, id replaced (none), icon, summary, body, actions, hints, expiry
        // (-1: the server's default), as the Desktop Notifications Specification orders them.
        let reply = zbus::block_on(self.connection.call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some(BUS_NAME),
            "Notify",
            &(
                "Deepwork",
                0u32,
                "",
                notice.summary.as_str(),
                body.as_str(),
                actions,
                hints,
                -1i32,
            ),
        ))?;
        let id: u32 = reply.body().deserialize()?;
        if let Some(action) = notice.action {
            remember(&mut lock(&self.waiting), id, action);
        }
        Ok(id)
    }
}

/// Listens for a notice's buttons, forgetting the oldest beyond [`MOST_WAITING`] (servers
/// number notices upwards).
fn remember(waiting: &mut BTreeMap<u32, NoticeAction>, id: u32, action: NoticeAction) {
    waiting.insert(id, action);
    while waiting.len() > MOST_WAITING {
        waiting.pop_first();
    }
}

fn lock(waiting: &Waiting) -> std::sync::MutexGuard<'_, BTreeMap<u32, NoticeAction>> {
    waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reports each click on a waiting notice's button, once, until the stream ends.
async fn listen(mut signals: zbus::MessageStream, waiting: &Waiting, report: &Reporter) {
    while let Some(message) = signals.next().await {
        // One unreadable message is skipped; the stream ends when the connection does.
        let Ok(message) = message else { continue };
        let header = message.header();
        match header.member().map(|m| m.as_str()) {
            Some("ActionInvoked") => {
                let Ok((id, key)) = message.body().deserialize::<(u32, String)>() else {
                    continue;
                };
                let action = lock(waiting).remove(&id);
                if let Some(acted) = action.and_then(|action| acted_on(&key, action)) {
                    report(NoticeReport::Acted(acted));
                }
            }
            Some("NotificationClosed") => {
                if let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>() {
                    lock(waiting).remove(&id);
                }
            }
            _ => {}
        }
    }
}

/// What a click on the button `key` of a notice with `action` asks for.
fn acted_on(key: &str, action: NoticeAction) -> Option<NoticeAction> {
    match (key, action) {
        (NoticeAction::ACKNOWLEDGE_KEY, NoticeAction::Acknowledge(_)) => Some(action),
        ("default" | NoticeAction::OPEN_STANDUP_KEY, NoticeAction::OpenStandup) => {
            Some(NoticeAction::OpenStandup)
        }
        ("default" | NoticeAction::OPEN_DIGEST_KEY, _) => Some(NoticeAction::OpenDigest),
        _ => None,
    }
}

/// Shows one notice, opening the connection first if there is none. A connection that
/// failed is replaced once: the session bus may have restarted. A server's refusal is
/// not the connection's fault and keeps it, with the buttons still waiting on it.
fn send(bus: &mut Option<Bus>, notice: &Notice, report: &Reporter) {
    let mut shown = show_on(bus, notice, report);
    if let Err(error) = &shown
        && !matches!(error, zbus::Error::MethodError(..))
        && let Some(failed) = bus.take()
    {
        // Closed, not just dropped: its listening thread holds it and ends with it.
        let _ = zbus::block_on(failed.connection.close());
        shown = show_on(bus, notice, report);
    }
    if let Err(error) = shown {
        tracing::warn!(%error, summary = %notice.summary, "could not show a desktop notification");
        if let Some(item) = notice.emergency {
            report(NoticeReport::NotShown {
                item,
                reason: deepwork_core::text::one_line(&error.to_string()),
            });
        }
    }
}

fn show_on(bus: &mut Option<Bus>, notice: &Notice, report: &Reporter) -> zbus::Result<u32> {
    let bus = match bus {
        Some(bus) => bus,
        None => bus.insert(Bus::open(report)?),
    };
    bus.show(notice)
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

    #[test]
    fn the_oldest_notices_are_forgotten_beyond_the_bound() {
        use super::{MOST_WAITING, NoticeAction, remember};
        let mut waiting = std::collections::BTreeMap::new();
        let last = u32::try_from(MOST_WAITING).expect("small") + 10;
        for id in 1..=last {
            remember(&mut waiting, id, NoticeAction::OpenDigest);
        }
        assert_eq!(waiting.len(), MOST_WAITING);
        assert_eq!(waiting.keys().next(), Some(&11), "the ten oldest forgotten");
        assert!(waiting.contains_key(&last));
    }

    #[test]
    fn each_button_asks_for_what_it_says() {
        use super::{NoticeAction, acted_on};
        let item = deepwork_core::ItemId(7);
        let acknowledge = NoticeAction::Acknowledge(item);
        assert_eq!(acted_on("acknowledge", acknowledge), Some(acknowledge));
        assert_eq!(
            acted_on("open-digest", acknowledge),
            Some(NoticeAction::OpenDigest)
        );
        assert_eq!(
            acted_on("default", NoticeAction::OpenStandup),
            Some(NoticeAction::OpenStandup)
        );
        assert_eq!(
            acted_on("default", NoticeAction::OpenDigest),
            Some(NoticeAction::OpenDigest)
        );
        assert_eq!(acted_on("acknowledge", NoticeAction::OpenDigest), None);
        assert_eq!(acted_on("snooze", acknowledge), None);
    }
}

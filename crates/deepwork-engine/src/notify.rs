//! Desktop notifications: breakthroughs, check-ins, and items outside a session.

use std::sync::mpsc;

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
}

/// Shows notices. Never blocks the engine and never fails it: a notice that cannot be
/// shown is logged.
pub trait Notifier: Send + 'static {
    /// Queues one notice.
    fn notify(&self, notice: Notice);
}

/// Sends notices over the freedesktop notification bus (notify-rust, pure-Rust D-Bus),
/// from its own thread so a slow notification server never stalls the engine.
#[derive(Debug)]
pub struct DesktopNotifier {
    queue: mpsc::Sender<Notice>,
}

impl DesktopNotifier {
    /// Starts the sending thread; it sleeps on its queue, costing nothing while idle.
    pub fn start() -> std::io::Result<Self> {
        let (queue, notices) = mpsc::channel::<Notice>();
        std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                for notice in notices {
                    send(&notice);
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
}

fn send(notice: &Notice) {
    let urgency = match notice.loudness {
        Loudness::Critical => notify_rust::Urgency::Critical,
        Loudness::Normal => notify_rust::Urgency::Normal,
    };
    let result = notify_rust::Notification::new()
        .appname("Deepwork")
        .summary(&notice.summary)
        .body(&escape_markup(&notice.body))
        .urgency(urgency)
        .show();
    if let Err(error) = result {
        tracing::warn!(%error, summary = %notice.summary, "could not show a desktop notification");
    }
}

/// Notification servers may render a subset of HTML in bodies; message text is
/// untrusted, so every markup character is escaped.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

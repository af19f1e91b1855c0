//! Other apps' desktop notifications during deep work: which ones are held, which pass,
//! which are dropped, and how a captured one becomes plain text for the hold queue.
//! The capture itself (a D-Bus monitor) and the desktop's do-not-disturb live in the
//! adapters crate; this is the decision, without IO.

use serde::{Deserialize, Serialize};

/// The app name Deepwork's own notifications carry; they always show.
pub const OWN_APP_NAME: &str = "Deepwork";

/// The `[hold_notifications]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoldNotificationsConfig {
    /// Hold other apps' notifications while focusing.
    pub enabled: bool,
    /// Apps whose notifications always show (e.g. calendar reminders).
    pub allow: Vec<String>,
    /// Apps whose notifications are held even when they say they are critical.
    pub hold: Vec<String>,
    /// Apps whose notifications are dropped during a session, neither shown nor held
    /// (e.g. a music player's track changes).
    pub ignore: Vec<String>,
    /// Whose do-not-disturb keeps popups off the screen.
    pub do_not_disturb: DoNotDisturb,
}

/// The desktop do-not-disturb Deepwork switches on for a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoNotDisturb {
    /// Whichever the running notification daemon (or else the desktop) is.
    #[default]
    Auto,
    /// GNOME Shell's banners.
    Gnome,
    /// KDE Plasma's notification inhibition.
    Kde,
    /// dunst's pause.
    Dunst,
    /// mako's `do-not-disturb` mode.
    Mako,
}

impl Default for HoldNotificationsConfig {
    fn default() -> Self {
        HoldNotificationsConfig {
            enabled: true,
            allow: Vec::new(),
            hold: Vec::new(),
            ignore: Vec::new(),
            do_not_disturb: DoNotDisturb::Auto,
        }
    }
}

/// The urgency a notification declares (the `urgency` hint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeUrgency {
    /// 0.
    Low,
    /// 1, and the default when the hint is missing or unknown.
    Normal,
    /// 2.
    Critical,
}

impl NoticeUrgency {
    /// From the hint's byte.
    pub fn from_hint(level: Option<u8>) -> Self {
        match level {
            Some(0) => NoticeUrgency::Low,
            Some(2) => NoticeUrgency::Critical,
            _ => NoticeUrgency::Normal,
        }
    }
}

/// A notification another app sent, as captured from the bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedNotice {
    /// `app_name`.
    pub app: String,
    /// The `desktop-entry` hint, when given (e.g. "org.gnome.Evolution").
    pub desktop_entry: Option<String>,
    /// `summary`: plain text by the specification.
    pub summary: String,
    /// `body`: may carry the specification's small markup subset.
    pub body: String,
    /// The `urgency` hint.
    pub urgency: NoticeUrgency,
}

/// What happens to a notification during a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It shows as usual.
    Pass,
    /// It is kept off the screen and held for the digest.
    Hold,
    /// It is kept off the screen and forgotten.
    Drop,
}

impl HoldNotificationsConfig {
    /// The verdict for `notice`. Per-app rules come first (drop, then hold, then
    /// allow), then critical urgency passes; everything else is held. Deepwork's own
    /// notifications always pass.
    pub fn verdict(&self, notice: &CapturedNotice) -> Verdict {
        if notice.app == OWN_APP_NAME {
            return Verdict::Pass;
        }
        let listed = |apps: &[String]| apps.iter().any(|app| names_app(app, notice));
        if listed(&self.ignore) {
            Verdict::Drop
        } else if listed(&self.hold) {
            Verdict::Hold
        } else if listed(&self.allow) || notice.urgency == NoticeUrgency::Critical {
            Verdict::Pass
        } else {
            Verdict::Hold
        }
    }
}

/// Whether `name` from config names the app: its `app_name` or its desktop entry,
/// without regard to case (people write "Thunderbird", apps send "thunderbird").
fn names_app(name: &str, notice: &CapturedNotice) -> bool {
    let name = name.trim();
    notice.app.eq_ignore_ascii_case(name)
        || notice
            .desktop_entry
            .as_deref()
            .is_some_and(|entry| entry.eq_ignore_ascii_case(name))
}

/// A notification body as plain text: the markup subset's tags are removed, its five
/// entities decoded, and control characters other than line breaks and tabs dropped.
/// Anything that is not a tag stays as written, so text like "a < b" survives.
pub fn plain_text(markup: &str) -> String {
    let mut text = String::with_capacity(markup.len());
    let mut rest = markup;
    while let Some(at) = rest.find(['<', '&']) {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            match tag_length(rest) {
                Some(length) => rest = &rest[length..],
                None => {
                    text.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            let decoded = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&apos;", '\''),
            ]
            .into_iter()
            .find(|(entity, _)| rest.starts_with(entity));
            match decoded {
                Some((entity, character)) => {
                    text.push(character);
                    rest = &rest[entity.len()..];
                }
                None => {
                    text.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    text.push_str(rest);
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// The byte length of a tag at the start of `text` (`<b>`, `</i>`, `<a href="…">`,
/// `<img src="…"/>`), or `None` when it does not start with one.
fn tag_length(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('<')?;
    let name_start = inner.strip_prefix('/').unwrap_or(inner);
    if !name_start.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let close = inner.find('>')?;
    (!inner[..close].contains('<')).then_some(close + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(app: &str, urgency: NoticeUrgency) -> CapturedNotice {
        CapturedNotice {
            app: app.into(),
            desktop_entry: None,
            summary: "New mail".into(),
            body: String::new(),
            urgency,
        }
    }

    #[test]
    fn everything_is_held_unless_critical_or_allowed() {
        let config = HoldNotificationsConfig {
            allow: vec!["gnome-calendar".into()],
            ..HoldNotificationsConfig::default()
        };
        let verdict = |app, urgency| config.verdict(&notice(app, urgency));
        assert_eq!(verdict("Thunderbird", NoticeUrgency::Normal), Verdict::Hold);
        assert_eq!(verdict("Thunderbird", NoticeUrgency::Low), Verdict::Hold);
        assert_eq!(
            verdict("Thunderbird", NoticeUrgency::Critical),
            Verdict::Pass
        );
        assert_eq!(verdict("GNOME-Calendar", NoticeUrgency::Low), Verdict::Pass);
        assert_eq!(verdict(OWN_APP_NAME, NoticeUrgency::Normal), Verdict::Pass);
    }

    #[test]
    fn per_app_rules_beat_urgency() {
        let config = HoldNotificationsConfig {
            allow: vec!["chat".into()],
            hold: vec!["ci-bot".into(), "chat".into()],
            ignore: vec!["Spotify".into()],
            ..HoldNotificationsConfig::default()
        };
        let verdict = |app, urgency| config.verdict(&notice(app, urgency));
        assert_eq!(verdict("ci-bot", NoticeUrgency::Critical), Verdict::Hold);
        assert_eq!(verdict("spotify", NoticeUrgency::Critical), Verdict::Drop);
        // Listed as both: holding is the safer reading of a contradiction.
        assert_eq!(verdict("chat", NoticeUrgency::Normal), Verdict::Hold);
    }

    #[test]
    fn the_desktop_entry_names_an_app_too() {
        let config = HoldNotificationsConfig {
            ignore: vec!["org.gnome.Rhythmbox3".into()],
            ..HoldNotificationsConfig::default()
        };
        let mut music = notice("Rhythmbox", NoticeUrgency::Normal);
        music.desktop_entry = Some("org.gnome.Rhythmbox3".into());
        assert_eq!(config.verdict(&music), Verdict::Drop);
    }

    #[test]
    fn markup_becomes_plain_text() {
        assert_eq!(
            plain_text("<b>Build</b> failed: <a href=\"https://ci/1\">#1</a> &amp; more"),
            "Build failed: #1 & more"
        );
        assert_eq!(plain_text("a < b && c > d"), "a < b && c > d");
        assert_eq!(plain_text("&lt;script&gt;"), "<script>");
        assert_eq!(plain_text("<img src=\"x\" onerror=\"alert(1)\"/>hi"), "hi");
        assert_eq!(
            plain_text("bell\u{7}\u{1b}[2Jgone\nline"),
            "bell[2Jgone\nline"
        );
        assert_eq!(plain_text("<unclosed"), "<unclosed");
    }

    #[test]
    fn urgency_from_the_hint() {
        assert_eq!(NoticeUrgency::from_hint(Some(0)), NoticeUrgency::Low);
        assert_eq!(NoticeUrgency::from_hint(Some(2)), NoticeUrgency::Critical);
        assert_eq!(NoticeUrgency::from_hint(Some(9)), NoticeUrgency::Normal);
        assert_eq!(NoticeUrgency::from_hint(None), NoticeUrgency::Normal);
    }
}

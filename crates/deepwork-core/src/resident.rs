//! Settings of the desktop resident: the global hotkey and the tray icon's look.
//!
//! The hotkey is parsed here, purely, so `deepwork config check` reports a bad one by
//! line; the resident maps it to the display server's key codes.

use crate::config::Length;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The `[desktop]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DesktopConfig {
    /// Starts a session with the default length, or stops the running one. `""` turns it off.
    pub hotkey: HotkeySetting,
    /// Which tray icons to use.
    pub tray_icon: PanelTheme,
    /// Open the window on the digest when a check-in delivers one with items in it.
    pub open_digest_at_check_in: bool,
    /// When the resident starts, ask the kernel to read the window's program and
    /// libraries into the page cache, so the first open after boot is not a cold one.
    pub prefetch_window: bool,
    /// Notice when the user leaves the computer (the screen locks, or no input for
    /// `away_after`): check-ins wait for them, and the time is not counted as focus.
    pub detect_away: bool,
    /// How long without keyboard or pointer input counts as away.
    pub away_after: Length,
}

impl Default for DesktopConfig {
    fn default() -> Self {
        DesktopConfig {
            hotkey: HotkeySetting(Some(Hotkey {
                modifiers: Modifiers {
                    ctrl: true,
                    alt: true,
                    shift: false,
                    logo: false,
                },
                key: Key::Letter('D'),
            })),
            tray_icon: PanelTheme::Auto,
            open_digest_at_check_in: true,
            prefetch_window: true,
            detect_away: true,
            away_after: Length(SignedDuration::from_mins(5)),
        }
    }
}

/// The panel the tray icon sits on, which decides whether its glyph is dark or light.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelTheme {
    /// Guess from the desktop and its theme.
    Auto,
    /// A light panel: dark glyphs.
    Light,
    /// A dark panel: light glyphs.
    Dark,
}

/// A hotkey, or none: written `"Ctrl+Alt+D"`, or `""` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct HotkeySetting(pub Option<Hotkey>);

impl FromStr for HotkeySetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            Ok(HotkeySetting(None))
        } else {
            text.parse().map(|hotkey| HotkeySetting(Some(hotkey)))
        }
    }
}

text_serde!(HotkeySetting);

impl fmt::Display for HotkeySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(hotkey) => hotkey.fmt(f),
            None => Ok(()),
        }
    }
}

/// Modifier keys held with a hotkey.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Control.
    pub ctrl: bool,
    /// Alt.
    pub alt: bool,
    /// Shift.
    pub shift: bool,
    /// The logo key (Super, Windows, Meta).
    pub logo: bool,
}

/// The key pressed with the modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `A`–`Z`, kept upper case.
    Letter(char),
    /// `0`–`9`.
    Digit(u8),
    /// `F1`–`F24`.
    Function(u8),
    /// The space bar.
    Space,
}

/// A global hotkey such as Ctrl+Alt+D.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hotkey {
    /// Held keys.
    pub modifiers: Modifiers,
    /// The pressed key.
    pub key: Key,
}

impl FromStr for Hotkey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let example = "write it like \"Ctrl+Alt+D\", or \"\" for no hotkey";
        let mut parts: Vec<&str> = text.split('+').map(str::trim).collect();
        let key_name = parts.pop().unwrap_or_default();
        let mut modifiers = Modifiers::default();
        for part in parts {
            let flag = match part.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => &mut modifiers.ctrl,
                "alt" => &mut modifiers.alt,
                "shift" => &mut modifiers.shift,
                "super" | "logo" | "meta" | "win" => &mut modifiers.logo,
                _ => {
                    return Err(format!(
                        "{part:?} in {text:?} is not a modifier key; {example}"
                    ));
                }
            };
            if *flag {
                return Err(format!("{part:?} appears twice in {text:?}"));
            }
            *flag = true;
        }
        let key = parse_key(key_name)
            .ok_or_else(|| format!("{key_name:?} in {text:?} is not a key; {example}"))?;
        if !(modifiers.ctrl || modifiers.alt || modifiers.logo) {
            return Err(format!(
                "{text:?} needs Ctrl, Alt or Super, or it would take a key you type with; {example}"
            ));
        }
        Ok(Hotkey { modifiers, key })
    }
}

fn parse_key(name: &str) -> Option<Key> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return match c {
            'a'..='z' | 'A'..='Z' => Some(Key::Letter(c.to_ascii_uppercase())),
            '0'..='9' => Some(Key::Digit(c as u8 - b'0')),
            _ => None,
        };
    }
    if name.eq_ignore_ascii_case("space") {
        return Some(Key::Space);
    }
    let number = name.strip_prefix(['F', 'f'])?;
    let number: u8 = number.parse().ok()?;
    (1..=24).contains(&number).then_some(Key::Function(number))
}

impl fmt::Display for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = [
            (self.modifiers.ctrl, "Ctrl+"),
            (self.modifiers.alt, "Alt+"),
            (self.modifiers.shift, "Shift+"),
            (self.modifiers.logo, "Super+"),
        ];
        for (on, name) in held {
            if on {
                f.write_str(name)?;
            }
        }
        match self.key {
            Key::Letter(c) => write!(f, "{c}"),
            Key::Digit(d) => write!(f, "{d}"),
            Key::Function(n) => write!(f, "F{n}"),
            Key::Space => f.write_str("Space"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotkeys_parse_in_any_case_and_print_canonically() {
        for (text, canonical) in [
            ("Ctrl+Alt+D", "Ctrl+Alt+D"),
            ("control + alt + d", "Ctrl+Alt+D"),
            ("super+shift+f12", "Shift+Super+F12"),
            ("Alt+Space", "Alt+Space"),
            ("Ctrl+7", "Ctrl+7"),
        ] {
            let hotkey: Hotkey = text.parse().unwrap();
            assert_eq!(hotkey.to_string(), canonical, "{text}");
            assert_eq!(canonical.parse::<Hotkey>().unwrap(), hotkey);
        }
    }

    #[test]
    fn bad_hotkeys_say_what_is_wrong() {
        for (text, says) in [
            ("Ctrl+Alt", "\"Alt\" in \"Ctrl+Alt\" is not a key"),
            ("Hyper+D", "\"Hyper\" in \"Hyper+D\" is not a modifier key"),
            ("Shift+D", "needs Ctrl, Alt or Super"),
            ("D", "needs Ctrl, Alt or Super"),
            ("Ctrl+Ctrl+D", "appears twice"),
            ("Ctrl+F25", "\"F25\" in \"Ctrl+F25\" is not a key"),
            ("Ctrl+é", "is not a key"),
        ] {
            let error = text.parse::<Hotkey>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn an_empty_setting_is_no_hotkey() {
        assert_eq!("".parse::<HotkeySetting>().unwrap(), HotkeySetting(None));
        assert_eq!(HotkeySetting(None).to_string(), "");
        assert_eq!(
            DesktopConfig::default().hotkey.to_string(),
            "Ctrl+Alt+D",
            "the default named in the docs"
        );
    }
}

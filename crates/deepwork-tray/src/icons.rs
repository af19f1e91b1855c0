//! The tray icons, rendered from `icons/src/*.svg` by `scripts/icons.sh` and built in.

use crate::view::IconState;
use deepwork_core::resident::PanelTheme;
use tray_icon::Icon;

const LIGHT_PANEL: [&[u8]; 3] = [
    include_bytes!("../../../icons/tray-idle-light-panel.png"),
    include_bytes!("../../../icons/tray-focusing-light-panel.png"),
    include_bytes!("../../../icons/tray-digest-light-panel.png"),
];
const DARK_PANEL: [&[u8]; 3] = [
    include_bytes!("../../../icons/tray-idle-dark-panel.png"),
    include_bytes!("../../../icons/tray-focusing-dark-panel.png"),
    include_bytes!("../../../icons/tray-digest-dark-panel.png"),
];

/// The three icons for one kind of panel, decoded.
#[derive(Clone)]
pub struct Icons {
    idle: Icon,
    focusing: Icon,
    digest_waiting: Icon,
}

impl std::fmt::Debug for Icons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Icons")
    }
}

impl Icons {
    /// The icons for `theme`, guessing the panel when it is `Auto`.
    pub fn for_panel(theme: PanelTheme) -> Result<Icons, String> {
        let sources = match resolve(theme, |name| std::env::var(name).ok()) {
            PanelTheme::Light => LIGHT_PANEL,
            PanelTheme::Dark | PanelTheme::Auto => DARK_PANEL,
        };
        Ok(Icons {
            idle: decode(sources[0])?,
            focusing: decode(sources[1])?,
            digest_waiting: decode(sources[2])?,
        })
    }

    /// The icon for a state.
    pub fn for_state(&self, state: IconState) -> Icon {
        match state {
            IconState::Idle => self.idle.clone(),
            IconState::Focusing => self.focusing.clone(),
            IconState::DigestWaiting => self.digest_waiting.clone(),
        }
    }
}

/// GNOME's top bar and Plasma's default panel are dark whatever the app theme; elsewhere
/// a GTK theme named `*-dark` (or `Theme:dark`) says the panel is dark.
fn resolve(theme: PanelTheme, var: impl Fn(&str) -> Option<String>) -> PanelTheme {
    if theme != PanelTheme::Auto {
        return theme;
    }
    let desktop = var("XDG_CURRENT_DESKTOP")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let gtk_theme = var("GTK_THEME").unwrap_or_default().to_ascii_lowercase();
    if desktop.split(':').any(|d| d == "gnome" || d == "kde")
        || gtk_theme.ends_with("-dark")
        || gtk_theme.ends_with(":dark")
    {
        PanelTheme::Dark
    } else {
        PanelTheme::Light
    }
}

fn decode(png_bytes: &[u8]) -> Result<Icon, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder
        .read_info()
        .map_err(|error| format!("a built-in tray icon is not a PNG: {error}"))?;
    let mut rgba = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let frame = reader
        .next_frame(&mut rgba)
        .map_err(|error| format!("a built-in tray icon cannot be decoded: {error}"))?;
    rgba.truncate(frame.buffer_size());
    Icon::from_rgba(rgba, frame.width, frame.height)
        .map_err(|error| format!("a built-in tray icon is unusable: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_icon_decodes_to_64_pixels_square() {
        for source in LIGHT_PANEL.iter().chain(&DARK_PANEL) {
            let mut decoder = png::Decoder::new(std::io::Cursor::new(*source));
            decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
            let info = decoder.read_info().unwrap().info().clone();
            assert_eq!((info.width, info.height), (64, 64));
            decode(source).unwrap();
        }
    }

    #[test]
    fn the_panel_is_guessed_from_the_desktop_and_the_theme() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(
            resolve(
                PanelTheme::Auto,
                with(&[("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")])
            ),
            PanelTheme::Dark
        );
        assert_eq!(
            resolve(PanelTheme::Auto, with(&[("XDG_CURRENT_DESKTOP", "XFCE")])),
            PanelTheme::Light
        );
        assert_eq!(
            resolve(
                PanelTheme::Auto,
                with(&[
                    ("XDG_CURRENT_DESKTOP", "XFCE"),
                    ("GTK_THEME", "Adwaita:dark")
                ])
            ),
            PanelTheme::Dark
        );
        assert_eq!(
            resolve(PanelTheme::Light, with(&[("XDG_CURRENT_DESKTOP", "KDE")])),
            PanelTheme::Light
        );
    }
}

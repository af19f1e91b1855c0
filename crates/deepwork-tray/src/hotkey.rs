//! The global hotkey, grabbed on the X11 root window with x11rb.
//!
//! The `global-hotkey` crate was the first choice, but its X11 backend wakes every
//! 50 ms to poll; a resident that sits in the tray all day must not wake at all while
//! nothing happens. Here one thread blocks on the X connection until a key arrives.

use deepwork_core::resident::{Hotkey, Key};
use std::sync::{Arc, Mutex};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{ConnectionExt, GrabMode, ModMask};
use x11rb::rust_connection::RustConnection;

/// The grabbed hotkey, changeable while the resident runs.
#[derive(Debug, Clone)]
pub struct HotkeyGrab {
    connection: Arc<RustConnection>,
    root: u32,
    /// The keycode and modifiers grabbed now, if any.
    bound: Arc<Mutex<Option<(u8, u16)>>>,
}

/// Connects to the X display, grabs `hotkey` (if any) for the whole display, and calls
/// `pressed` on each press, from a thread of its own. Fails, saying why, when there is
/// no X display or another app owns the keys.
pub fn spawn(
    hotkey: Option<Hotkey>,
    pressed: impl Fn() + Send + 'static,
) -> Result<HotkeyGrab, String> {
    let (connection, screen) = x11rb::connect(None)
        .map_err(|error| format!("cannot connect to the X display for the hotkey: {error}"))?;
    let grab = HotkeyGrab {
        root: connection.setup().roots[screen].root,
        connection: Arc::new(connection),
        bound: Arc::new(Mutex::new(None)),
    };
    grab.rebind(hotkey)?;
    let listener = grab.clone();
    std::thread::Builder::new()
        .name("hotkey".into())
        .spawn(move || listener.listen(pressed))
        .map_err(|error| format!("cannot start the hotkey thread: {error}"))?;
    Ok(grab)
}

impl HotkeyGrab {
    /// Releases the current hotkey and grabs `hotkey` instead; on failure the old one
    /// stays grabbed.
    pub fn rebind(&self, hotkey: Option<Hotkey>) -> Result<(), String> {
        let mut bound = self
            .bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let wanted = match hotkey {
            Some(hotkey) => {
                let keycode =
                    keycode_of(&self.connection, keysym_of(hotkey.key))?.ok_or_else(|| {
                        format!("no key on this keyboard types {hotkey}'s {:?}", hotkey.key)
                    })?;
                Some((hotkey, keycode, modifier_mask(hotkey)))
            }
            None => None,
        };
        if *bound == wanted.map(|(_, keycode, modifiers)| (keycode, modifiers)) {
            return Ok(());
        }
        if let Some((keycode, modifiers)) = *bound {
            self.ungrab(keycode, modifiers)?;
            *bound = None;
        }
        if let Some((hotkey, keycode, modifiers)) = wanted {
            if let Err(error) = self.grab(keycode, modifiers, hotkey) {
                let _ = self.ungrab(keycode, modifiers);
                return Err(error);
            }
            *bound = Some((keycode, modifiers));
        }
        self.connection
            .flush()
            .map_err(|error| format!("the X display closed: {error}"))
    }

    fn grab(&self, keycode: u8, wanted: u16, hotkey: Hotkey) -> Result<(), String> {
        // Caps Lock (Lock) and Num Lock (Mod2) must not stop the hotkey, so every
        // combination of them is grabbed too.
        for extra in lock_variants() {
            let result = self
                .connection
                .grab_key(
                    false,
                    self.root,
                    ModMask::from(wanted | extra),
                    keycode,
                    GrabMode::ASYNC,
                    GrabMode::ASYNC,
                )
                .map_err(|error| format!("the X display closed: {error}"))?
                .check();
            match result {
                Ok(()) => {}
                Err(ReplyError::X11Error(error))
                    if error.error_kind == x11rb::protocol::ErrorKind::Access =>
                {
                    return Err(format!(
                        "{hotkey} is already taken by another application; choose another with `desktop.hotkey` in config.toml"
                    ));
                }
                Err(error) => return Err(format!("cannot grab {hotkey}: {error}")),
            }
        }
        Ok(())
    }

    fn ungrab(&self, keycode: u8, wanted: u16) -> Result<(), String> {
        for extra in lock_variants() {
            self.connection
                .ungrab_key(keycode, self.root, ModMask::from(wanted | extra))
                .map_err(|error| format!("the X display closed: {error}"))?;
        }
        Ok(())
    }

    fn listen(&self, pressed: impl Fn()) {
        // X auto-repeat sends a release and a press with the same server time; a press
        // at the time of the last release is a repeat of a key still held.
        let mut last_release: Option<u32> = None;
        loop {
            let event = match self.connection.wait_for_event() {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(%error, "the X display closed; the hotkey no longer works");
                    return;
                }
            };
            let bound = *self
                .bound
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let ours = |keycode: u8| bound.is_some_and(|(bound, _)| bound == keycode);
            match event {
                Event::KeyPress(press)
                    if ours(press.detail) && last_release != Some(press.time) =>
                {
                    pressed();
                }
                Event::KeyRelease(release) if ours(release.detail) => {
                    last_release = Some(release.time)
                }
                _ => {}
            }
        }
    }
}

fn lock_variants() -> [u16; 4] {
    let lock = u16::from(ModMask::LOCK);
    let num_lock = u16::from(ModMask::M2);
    [0, lock, num_lock, lock | num_lock]
}

fn modifier_mask(hotkey: Hotkey) -> u16 {
    let held = [
        (hotkey.modifiers.ctrl, ModMask::CONTROL),
        (hotkey.modifiers.alt, ModMask::M1),
        (hotkey.modifiers.shift, ModMask::SHIFT),
        (hotkey.modifiers.logo, ModMask::M4),
    ];
    held.iter()
        .filter(|(on, _)| *on)
        .fold(0, |mask, (_, bit)| mask | u16::from(*bit))
}

/// The X keysym a key types unshifted (X11's keysymdef.h: Latin-1 for letters, digits
/// and space, 0xffbe for F1 onwards).
fn keysym_of(key: Key) -> u32 {
    match key {
        Key::Letter(letter) => u32::from(letter.to_ascii_lowercase()),
        Key::Digit(digit) => u32::from(b'0' + digit),
        Key::Function(number) => 0xffbe + u32::from(number) - 1,
        Key::Space => 0x20,
    }
}

fn keycode_of(connection: &RustConnection, keysym: u32) -> Result<Option<u8>, String> {
    let setup = connection.setup();
    let (first, last) = (setup.min_keycode, setup.max_keycode);
    let mapping = connection
        .get_keyboard_mapping(first, last - first + 1)
        .map_err(|error| format!("the X display closed: {error}"))?
        .reply()
        .map_err(|error| format!("cannot read the keyboard mapping: {error}"))?;
    let per_keycode = usize::from(mapping.keysyms_per_keycode).max(1);
    Ok(mapping
        .keysyms
        .chunks(per_keycode)
        .position(|syms| syms.contains(&keysym))
        .and_then(|index| u8::try_from(index).ok())
        .map(|index| first + index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keysyms_follow_keysymdef() {
        assert_eq!(keysym_of(Key::Letter('D')), 0x64);
        assert_eq!(keysym_of(Key::Digit(7)), 0x37);
        assert_eq!(keysym_of(Key::Function(1)), 0xffbe);
        assert_eq!(keysym_of(Key::Function(12)), 0xffc9);
        assert_eq!(keysym_of(Key::Space), 0x20);
    }

    #[test]
    fn modifiers_map_to_x_masks() {
        let hotkey: Hotkey = "Ctrl+Alt+D".parse().unwrap();
        assert_eq!(
            modifier_mask(hotkey),
            u16::from(ModMask::CONTROL) | u16::from(ModMask::M1)
        );
        let hotkey: Hotkey = "Shift+Super+F1".parse().unwrap();
        assert_eq!(
            modifier_mask(hotkey),
            u16::from(ModMask::SHIFT) | u16::from(ModMask::M4)
        );
    }
}

//! The global hotkey, grabbed on the X11 root window with x11rb.
//!
//! The `global-hotkey` crate was the first choice, but its X11 backend wakes every
//! 50 ms to poll; a resident that sits in the tray all day must not wake at all while
//! nothing happens. Here one thread blocks on the X connection until a key arrives.

use deepwork_core::desktop::{Hotkey, Key};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::errors::ReplyError;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{ConnectionExt, GrabMode, ModMask};
use x11rb::rust_connection::RustConnection;

/// Key repeats arrive this close together; a second press within it is the same press.
const REPEAT_GAP: Duration = Duration::from_millis(400);

/// Grabs `hotkey` for the whole X display and calls `pressed` on each press, on a thread
/// of its own. Fails, saying why, when there is no X display or another app owns the keys.
pub fn spawn(hotkey: Hotkey, pressed: impl Fn() + Send + 'static) -> Result<(), String> {
    let (grabbed, outcome) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("hotkey".into())
        .spawn(move || match grab(hotkey) {
            Ok((connection, keycode)) => {
                let _ = grabbed.send(Ok(()));
                listen(&connection, keycode, pressed);
            }
            Err(error) => {
                let _ = grabbed.send(Err(error));
            }
        })
        .map_err(|error| format!("cannot start the hotkey thread: {error}"))?;
    outcome
        .recv()
        .map_err(|_| "the hotkey thread ended before grabbing its key".to_owned())?
}

fn grab(hotkey: Hotkey) -> Result<(RustConnection, u8), String> {
    let (connection, screen) = x11rb::connect(None)
        .map_err(|error| format!("cannot connect to the X display for the hotkey: {error}"))?;
    let root = connection.setup().roots[screen].root;
    let keycode = keycode_of(&connection, keysym_of(hotkey.key))?
        .ok_or_else(|| format!("no key on this keyboard types {hotkey}'s {:?}", hotkey.key))?;
    let wanted = modifier_mask(hotkey);
    // Caps Lock (Lock) and Num Lock (Mod2) must not stop the hotkey, so every
    // combination of them is grabbed too.
    for extra in [
        0u16,
        ModMask::LOCK.into(),
        ModMask::M2.into(),
        u16::from(ModMask::LOCK) | u16::from(ModMask::M2),
    ] {
        let modifiers = ModMask::from(wanted | extra);
        let result = connection
            .grab_key(
                false,
                root,
                modifiers,
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
    connection
        .flush()
        .map_err(|error| format!("the X display closed: {error}"))?;
    Ok((connection, keycode))
}

fn listen(connection: &RustConnection, keycode: u8, pressed: impl Fn()) {
    let mut last_press: Option<Instant> = None;
    loop {
        match connection.wait_for_event() {
            Ok(Event::KeyPress(event)) if event.detail == keycode => {
                let now = Instant::now();
                let repeat = last_press.is_some_and(|last| now.duration_since(last) < REPEAT_GAP);
                last_press = Some(now);
                if !repeat {
                    pressed();
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "the X display closed; the hotkey no longer works");
                return;
            }
        }
    }
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

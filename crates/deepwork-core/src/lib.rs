//! Deepwork's pure domain.
//!
//! Nothing here reads a clock, touches a file or opens a socket: the engine passes the
//! current time and the local time zone in, and executes the [`session::Effect`]s the
//! session machine asks for. That is what lets tests own the clock.

/// Serde through text for a type with `FromStr<Err = String>` and `Display`, used
/// with `#[serde(try_from = "String", into = "String")]`, so config files and the
/// wire carry "14:00", "90m" and "2026-W48" and a bad value is reported as written.
macro_rules! text_serde {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = String;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.to_string()
            }
        }
    };
}

pub mod away;
pub mod config;
pub mod digest;
pub mod escalation;
pub mod held_notifications;
pub mod item;
pub mod plans;
pub mod reconcile;
pub mod resident;
pub mod schedule;
pub mod session;
pub mod settings;
pub mod standup;
pub mod stats;
pub mod text;
pub mod triage;

pub use item::{Class, Disposition, ItemId, NewItem, SessionId, Urgency};

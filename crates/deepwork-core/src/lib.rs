//! Deepwork's pure domain.
//!
//! Nothing here reads a clock, touches a file or opens a socket: the engine passes the
//! current time and the local time zone in, and executes the [`session::Effect`]s the
//! session machine asks for. That is what lets tests own the clock.

pub mod config;
pub mod digest;
pub mod item;
pub mod schedule;
pub mod session;
pub mod stats;
pub mod triage;

pub use item::{Class, Disposition, ItemId, NewItem, SessionId, Urgency};

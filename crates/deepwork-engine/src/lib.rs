//! Deepwork's runtime: the real clock and timers, the store, desktop notifications,
//! the socket API and its typed client. The one API the resident, the window, the CLI
//! and the tests use.

pub mod api;
pub mod calendars;
pub mod chat_calls;
pub mod chats;
pub mod client;
pub mod engine;
pub mod escalate;
pub mod export;
pub mod notify;
pub mod paths;
pub mod platforms;
pub mod secrets;
pub mod server;
pub mod wall_timer;

pub use client::{Client, ClientError, EventStream};
pub use paths::Paths;

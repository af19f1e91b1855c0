//! What the chat supervisor asks of the engine: the store's record of statuses,
//! replies and read positions, and the items its messages become. In-process only.

use crate::api::{AdapterHealth, AdapterState};
use deepwork_adapters::{FocusStatus, IncomingMessage, StatusSnapshot};
use deepwork_core::SessionId;

/// A request from the chat supervisor.
#[derive(Clone, Debug)]
pub enum ChatRequest {
    /// The running session and the status text for it (not yet fitted to a platform).
    Focus,
    /// Keep a platform's status from before `session` (the first one of a session wins).
    SaveSnapshot {
        /// The session.
        session: SessionId,
        /// The snapshot.
        snapshot: StatusSnapshot,
    },
    /// The snapshot kept for `session`.
    Snapshot {
        /// The session.
        session: SessionId,
        /// The adapter.
        adapter: String,
    },
    /// The snapshot for `session` was put back.
    Restored {
        /// The session.
        session: SessionId,
        /// The adapter.
        adapter: String,
    },
    /// Sessions that ended with this adapter's status not yet put back.
    PendingRestores {
        /// The adapter.
        adapter: String,
    },
    /// A message addressed to the user: hold it, and say whether to auto-reply.
    Incoming {
        /// The adapter.
        adapter: String,
        /// Whether the user turned auto-replies on for it.
        auto_reply: bool,
        /// The message.
        message: IncomingMessage,
    },
    /// Where the adapter stopped reading in `session`.
    Cursor {
        /// The adapter.
        adapter: String,
        /// The session.
        session: SessionId,
    },
    /// Record where the adapter stopped reading.
    SaveCursor {
        /// The adapter.
        adapter: String,
        /// The session.
        session: SessionId,
        /// The position.
        cursor: String,
    },
    /// The adapter's state changed.
    Health(AdapterHealth),
}

/// The engine's answer.
#[derive(Clone, Debug)]
pub enum ChatReply {
    /// Done.
    Done,
    /// For `Focus`.
    Focus(Option<(SessionId, FocusStatus)>),
    /// For `Snapshot`.
    Snapshot(Option<StatusSnapshot>),
    /// For `PendingRestores`.
    Pending(Vec<(SessionId, StatusSnapshot)>),
    /// For `Incoming`: the auto-reply to send, if one is due.
    Reply(Option<String>),
    /// For `Cursor`.
    Cursor(Option<String>),
    /// The engine could not do it (the store failed); try again later.
    Failed(String),
}

impl AdapterState {
    /// Whether this is the healthy state.
    pub fn is_ok(&self) -> bool {
        matches!(self, AdapterState::Ok)
    }
}

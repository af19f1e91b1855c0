//! What the chat supervisor asks of the engine: one typed call each, with its own
//! answer. In-process only.

use crate::api::{AdapterHealth, AdapterState};
use deepwork_adapters::{
    Answered, Asked, Batch, FocusStatus, ReplyTarget, StatusSnapshot, WorkDone,
};
use deepwork_core::{ItemId, SessionId};
use tokio::sync::oneshot;

/// Why the engine could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The engine's loop has ended (it is shutting down).
    #[error("the engine has stopped")]
    Stopped,
    /// The store failed; nothing was recorded, try again later.
    #[error("the store failed: {0}")]
    Store(String),
    /// A kept status snapshot could not be read back.
    #[error("a kept status cannot be read: {0}")]
    Snapshot(String),
}

/// Where a call's answer goes.
pub type Answer<T> = oneshot::Sender<Result<T, ChatError>>;

/// An auto-reply the engine decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoReply {
    /// Where it goes.
    pub to: ReplyTarget,
    /// What it says.
    pub text: String,
}

/// A call from the chat supervisor.
#[derive(Debug)]
pub enum ChatCall {
    /// The running session and the status text for it (not yet fitted to a platform).
    Focus(Answer<Option<(SessionId, FocusStatus)>>),
    /// Keep a platform's status from before `session` (the first one of a session wins).
    SaveSnapshot {
        /// The session.
        session: SessionId,
        /// The snapshot.
        snapshot: StatusSnapshot,
        /// Done, once durable.
        answer: Answer<()>,
    },
    /// The snapshot kept for `session`.
    Snapshot {
        /// The session.
        session: SessionId,
        /// The adapter.
        adapter: String,
        /// The snapshot, if one was kept.
        answer: Answer<Option<StatusSnapshot>>,
    },
    /// The snapshot for `session` was put back.
    Restored {
        /// The session.
        session: SessionId,
        /// The adapter.
        adapter: String,
        /// Done, once durable.
        answer: Answer<()>,
    },
    /// Sessions that ended with this adapter's status not yet put back.
    PendingRestores {
        /// The adapter.
        adapter: String,
        /// The sessions, oldest first.
        answer: Answer<Vec<SessionId>>,
    },
    /// Where the adapter stopped reading in `session`.
    Cursor {
        /// The adapter.
        adapter: String,
        /// The session.
        session: SessionId,
        /// The position, if it read in this session before.
        answer: Answer<Option<String>>,
    },
    /// Hold a batch of messages and record the batch's cursor, in one transaction; a
    /// message stored before (by its id) is not stored again.
    Hold {
        /// The adapter.
        adapter: String,
        /// The session the batch was read for.
        session: SessionId,
        /// Whether the user turned auto-replies on for it.
        auto_reply: bool,
        /// The messages and where the next read starts.
        batch: Batch,
        /// The auto-replies to send.
        answer: Answer<Vec<AutoReply>>,
    },
    /// The items of the adapter the user may yet answer where they live.
    OpenAsked {
        /// The adapter.
        adapter: String,
        /// The items, and when to ask again.
        answer: Answer<Owed>,
    },
    /// What a source says of the user's work, for the standup.
    Work {
        /// The adapter.
        adapter: String,
        /// Shipped lately and blocked now.
        work: WorkDone,
        /// Done, once durable.
        answer: Answer<()>,
    },
    /// The user answered these where they live: they are done.
    Answered {
        /// The adapter.
        adapter: String,
        /// What was answered, and when.
        answered: Vec<Answered>,
        /// Done, once durable.
        answer: Answer<()>,
    },
    /// The source and source id of an item the user marked done by hand; `None` when it
    /// is not done by hand (or unknown).
    MarkedDone {
        /// The item.
        item: ItemId,
        /// Its source and its id there.
        answer: Answer<Option<(String, String)>>,
    },
    /// The adapter's state changed.
    Health(AdapterHealth),
}

/// What a platform should look for answers to, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owed {
    /// The items, oldest first.
    pub asked: Vec<Asked>,
    /// How long to wait before asking again.
    pub check_every: std::time::Duration,
}

impl AdapterState {
    /// Whether this is the healthy state.
    pub fn is_ok(&self) -> bool {
        matches!(self, AdapterState::Ok)
    }
}

//! The chat supervisor: one task per connected platform that keeps its status in step
//! with the session (snapshot → durable → focus status; restore at the end, also for
//! sessions that ended while the engine was down), reads new messages while focusing,
//! and sends the auto-replies the engine decides on. A platform that fails is retried
//! with backoff and reported; it never blocks the session.

use crate::api::{AdapterHealth, AdapterState, Event};
use crate::chat_requests::{ChatReply, ChatRequest};
use deepwork_adapters::{AdapterError, FocusStatus, MessageSource, Replier, StatusAdapter};
use deepwork_core::SessionId;
use deepwork_core::away;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

/// How long one read waits for new messages.
const LONG_POLL: Duration = Duration::from_secs(25);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often to try again when the user must act (they may have fixed it).
const ATTENTION_RETRY: Duration = Duration::from_secs(300);

/// A connected platform and the roles it plays.
#[derive(Clone)]
pub struct ChatAdapter {
    /// Its name, as in config.
    pub name: String,
    /// Sets and restores the status.
    pub status: Option<Arc<dyn StatusAdapter>>,
    /// Reads messages addressed to the user.
    pub source: Option<Arc<dyn MessageSource>>,
    /// Sends auto-replies.
    pub replier: Option<Arc<dyn Replier>>,
    /// Whether the user turned auto-replies on for it.
    pub auto_reply: bool,
    /// Why it cannot be used (e.g. no token in the keyring); shown, not retried.
    pub problem: Option<String>,
}

impl ChatAdapter {
    /// A configured platform that cannot be used until the user acts.
    pub fn unusable(name: &str, fix: String) -> Self {
        ChatAdapter {
            name: name.into(),
            status: None,
            source: None,
            replier: None,
            auto_reply: false,
            problem: Some(fix),
        }
    }
}

impl std::fmt::Debug for ChatAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatAdapter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A request to the engine with its answer channel.
#[derive(Debug)]
pub struct ChatCall {
    /// The request.
    pub request: ChatRequest,
    /// Where the answer goes.
    pub reply: oneshot::Sender<ChatReply>,
}

/// The supervisor's line to the engine loop.
#[derive(Clone, Debug)]
pub struct EngineLink {
    calls: mpsc::Sender<ChatCall>,
}

impl EngineLink {
    /// A link over `calls`.
    pub fn new(calls: mpsc::Sender<ChatCall>) -> Self {
        EngineLink { calls }
    }

    async fn ask(&self, request: ChatRequest) -> ChatReply {
        let (reply, answer) = oneshot::channel();
        if self.calls.send(ChatCall { request, reply }).await.is_err() {
            return ChatReply::Failed("the engine has stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| ChatReply::Failed("the engine has stopped".into()))
    }
}

/// Starts one task per adapter; aborting a task is as safe as the engine dying there
/// (what it set is recorded first, and the next task for the platform reconciles).
pub fn spawn(
    adapters: Vec<ChatAdapter>,
    engine: &EngineLink,
    events: &broadcast::Sender<Event>,
) -> Vec<tokio::task::AbortHandle> {
    adapters
        .into_iter()
        .map(|adapter| {
            let task = AdapterTask::new(adapter, engine.clone());
            tokio::spawn(task.run(events.subscribe())).abort_handle()
        })
        .collect()
}

struct AdapterTask {
    adapter: ChatAdapter,
    engine: EngineLink,
    /// The session to show the focus status for, and the text.
    desired: Option<(SessionId, FocusStatus)>,
    /// What the platform shows now, as far as this task knows.
    applied: Option<(SessionId, String)>,
    /// Sessions whose status must still be put back.
    restores: VecDeque<SessionId>,
    status_retry: Option<Instant>,
    status_backoff: Duration,
    read_retry: Option<Instant>,
    read_backoff: Duration,
    /// What was last reported; `None` until the first report, which registers the adapter.
    health: Option<AdapterState>,
    /// Why the status could not be set or restored, while that lasts.
    status_problem: Option<AdapterState>,
    /// Why messages could not be read, while that lasts.
    read_problem: Option<AdapterState>,
}

enum Wake {
    Event(Result<Event, broadcast::error::RecvError>),
    Retry,
    Read(Result<deepwork_adapters::Batch, AdapterError>, SessionId),
}

impl AdapterTask {
    fn new(adapter: ChatAdapter, engine: EngineLink) -> Self {
        AdapterTask {
            adapter,
            engine,
            desired: None,
            applied: None,
            restores: VecDeque::new(),
            status_retry: None,
            status_backoff: FIRST_BACKOFF,
            read_retry: None,
            read_backoff: FIRST_BACKOFF,
            health: None,
            status_problem: None,
            read_problem: None,
        }
    }

    async fn run(mut self, mut events: broadcast::Receiver<Event>) {
        if let Some(fix) = self.adapter.problem.clone() {
            self.report(AdapterState::NeedsAttention { fix }).await;
            return;
        }
        if let ChatReply::Pending(pending) = self
            .engine
            .ask(ChatRequest::PendingRestores {
                adapter: self.adapter.name.clone(),
            })
            .await
        {
            self.restores
                .extend(pending.into_iter().map(|(session, _)| session));
        }
        self.refresh_focus().await;
        loop {
            self.reconcile().await;
            if self.read_retry.is_some_and(|at| at <= Instant::now()) {
                self.read_retry = None;
            }
            let wake = self.wait(&mut events).await;
            match wake {
                Wake::Event(Ok(Event::SessionEnded { session, .. })) => {
                    self.desired = None;
                    // Not reading any more, so a reading failure no longer counts.
                    self.read_problem = None;
                    self.read_retry = None;
                    if !self.restores.contains(&session) {
                        self.restores.push_back(session);
                    }
                    self.status_retry = None;
                }
                Wake::Event(Ok(Event::SessionChanged { .. } | Event::CheckIn { .. }))
                | Wake::Event(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.refresh_focus().await
                }
                Wake::Event(Ok(_)) => {}
                Wake::Event(Err(broadcast::error::RecvError::Closed)) => return,
                Wake::Retry => {}
                Wake::Read(result, session) => self.take_batch(result, session).await,
            }
        }
    }

    async fn refresh_focus(&mut self) {
        if let ChatReply::Focus(focus) = self.engine.ask(ChatRequest::Focus).await {
            self.desired = focus;
            self.status_retry = None;
        }
    }

    /// Waits for an event, a due retry, or new messages while focusing.
    async fn wait(&self, events: &mut broadcast::Receiver<Event>) -> Wake {
        let retry_at = [
            self.status_retry,
            self.read_retry.filter(|_| self.desired.is_some()),
        ]
        .into_iter()
        .flatten()
        .min();
        let retry = async move {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let reading = self
            .desired
            .as_ref()
            .map(|(session, _)| *session)
            .filter(|_| self.read_retry.is_none());
        let read = async {
            match (reading, &self.adapter.source) {
                (Some(session), Some(source)) => {
                    let cursor = self.cursor(session, source.as_ref()).await;
                    let result = match cursor {
                        Ok(cursor) => source.fetch(Some(&cursor), LONG_POLL).await,
                        Err(error) => Err(error),
                    };
                    (result, session)
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.recv() => Wake::Event(event),
            () = retry => Wake::Retry,
            (result, session) = read => Wake::Read(result, session),
        }
    }

    /// The read position for `session`; at a session's first read it is "now", so
    /// messages from before the session are not held.
    async fn cursor(
        &self,
        session: SessionId,
        source: &dyn MessageSource,
    ) -> Result<String, AdapterError> {
        let adapter = self.adapter.name.clone();
        if let ChatReply::Cursor(Some(cursor)) = self
            .engine
            .ask(ChatRequest::Cursor {
                adapter: adapter.clone(),
                session,
            })
            .await
        {
            return Ok(cursor);
        }
        let start = source.fetch(None, Duration::ZERO).await?;
        self.engine
            .ask(ChatRequest::SaveCursor {
                adapter,
                session,
                cursor: start.cursor.clone(),
            })
            .await;
        Ok(start.cursor)
    }

    async fn take_batch(
        &mut self,
        result: Result<deepwork_adapters::Batch, AdapterError>,
        session: SessionId,
    ) {
        let batch = match result {
            Ok(batch) => batch,
            Err(error) => {
                self.read_retry = Some(Instant::now() + delay(&error, &mut self.read_backoff));
                self.read_problem = Some(state_of(&error));
                self.publish().await;
                return;
            }
        };
        self.read_backoff = FIRST_BACKOFF;
        for message in batch.messages {
            let reply = self
                .engine
                .ask(ChatRequest::Incoming {
                    adapter: self.adapter.name.clone(),
                    auto_reply: self.adapter.auto_reply,
                    message: message.clone(),
                })
                .await;
            match reply {
                ChatReply::Reply(Some(text)) => {
                    if let Some(replier) = &self.adapter.replier
                        && let Err(error) = replier.reply(&message.reply_to, &text).await
                    {
                        tracing::warn!(adapter = %self.adapter.name, %error, "could not send an auto-reply");
                    }
                }
                ChatReply::Failed(error) => {
                    // Not stored: read this batch again rather than lose a message.
                    tracing::error!(adapter = %self.adapter.name, %error, "could not hold a message");
                    self.read_retry = Some(Instant::now() + MAX_BACKOFF);
                    return;
                }
                _ => {}
            }
        }
        self.engine
            .ask(ChatRequest::SaveCursor {
                adapter: self.adapter.name.clone(),
                session,
                cursor: batch.cursor,
            })
            .await;
        self.read_problem = None;
        self.publish().await;
    }

    /// Moves the platform's status toward what the session wants: restores first, then
    /// the focus status.
    async fn reconcile(&mut self) {
        let Some(status) = self.adapter.status.clone() else {
            return;
        };
        if self.status_retry.is_some_and(|at| at > Instant::now()) {
            return;
        }
        self.status_retry = None;
        let outcome = self.reconcile_status(status.as_ref()).await;
        match outcome {
            Ok(()) => {
                self.status_backoff = FIRST_BACKOFF;
                self.status_problem = None;
            }
            Err(error) => {
                tracing::warn!(adapter = %self.adapter.name, %error, "chat status not updated; retrying");
                self.status_retry = Some(Instant::now() + delay(&error, &mut self.status_backoff));
                self.status_problem = Some(state_of(&error));
            }
        }
        self.publish().await;
    }

    async fn reconcile_status(&mut self, status: &dyn StatusAdapter) -> Result<(), AdapterError> {
        while let Some(session) = self.restores.front().copied() {
            let snapshot = self
                .engine
                .ask(ChatRequest::Snapshot {
                    session,
                    adapter: self.adapter.name.clone(),
                })
                .await;
            if let ChatReply::Snapshot(Some(snapshot)) = snapshot {
                status.restore(&snapshot).await?;
                self.engine
                    .ask(ChatRequest::Restored {
                        session,
                        adapter: self.adapter.name.clone(),
                    })
                    .await;
            }
            self.restores.pop_front();
            self.applied = None;
        }
        let Some((session, focus)) = self.desired.clone() else {
            return Ok(());
        };
        let text = away::fit(&focus.text, status.status_limit());
        if self.applied.as_ref() == Some(&(session, text.clone())) {
            return Ok(());
        }
        let kept = self
            .engine
            .ask(ChatRequest::Snapshot {
                session,
                adapter: self.adapter.name.clone(),
            })
            .await;
        if matches!(kept, ChatReply::Snapshot(None)) {
            let snapshot = status.snapshot().await?;
            // Durable before the status changes, so a crash can always put it back.
            if let ChatReply::Failed(error) = self
                .engine
                .ask(ChatRequest::SaveSnapshot { session, snapshot })
                .await
            {
                return Err(AdapterError::Unavailable {
                    adapter: "store".into(),
                    detail: error,
                });
            }
        }
        status
            .set_focus(&FocusStatus {
                text: text.clone(),
                until: focus.until,
            })
            .await?;
        self.applied = Some((session, text));
        Ok(())
    }

    /// Reports the worse of the status and reading problems (or OK).
    async fn publish(&mut self) {
        let worst = [&self.status_problem, &self.read_problem]
            .into_iter()
            .flatten()
            .max_by_key(|state| match state {
                AdapterState::Ok => 0,
                AdapterState::Retrying { .. } => 1,
                AdapterState::NeedsAttention { .. } => 2,
            })
            .cloned()
            .unwrap_or(AdapterState::Ok);
        self.report(worst).await;
    }

    async fn report(&mut self, state: AdapterState) {
        if self.health.as_ref() == Some(&state) {
            return;
        }
        self.health = Some(state.clone());
        self.engine
            .ask(ChatRequest::Health(AdapterHealth {
                name: self.adapter.name.clone(),
                state,
            }))
            .await;
    }
}

fn state_of(error: &AdapterError) -> AdapterState {
    match error {
        AdapterError::Unauthorized { fix, .. } => AdapterState::NeedsAttention { fix: fix.clone() },
        AdapterError::Unavailable { .. }
        | AdapterError::RateLimited { .. }
        | AdapterError::Malformed { .. } => AdapterState::Retrying {
            error: error.to_string(),
        },
    }
}

/// How long to wait before the next try: what a rate limit asks, else exponential.
fn delay(error: &AdapterError, backoff: &mut Duration) -> Duration {
    match error {
        AdapterError::RateLimited { retry_after, .. } => *retry_after,
        AdapterError::Unauthorized { .. } => ATTENTION_RETRY,
        AdapterError::Unavailable { .. } | AdapterError::Malformed { .. } => {
            let wait = *backoff;
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
            wait
        }
    }
}

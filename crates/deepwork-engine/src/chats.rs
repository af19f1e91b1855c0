//! The chat supervisor: one task per connected platform that keeps its status in step
//! with the session (snapshot → durable → focus status; restore at the end, also for
//! sessions that ended while the engine was down), reads new messages while focusing,
//! and sends the auto-replies the engine decides on. A platform that fails is retried
//! with backoff and reported; it never blocks the session.

use crate::api::{AdapterHealth, AdapterState, ConnectKind, Event};
use crate::chat_calls::{Answer, AutoReply, ChatCall, ChatError, Owed};
use deepwork_adapters::{
    AdapterError, Answered, Batch, FocusStatus, FollowUp, MessageSource, Poster, Replier,
    StatusAdapter, StatusSnapshot, WorkDone, WorkReport,
};
use deepwork_core::away;
use deepwork_core::reconcile::{self, Action, Desired, Next, Outcome, StatusReconciler};
use deepwork_core::{ItemId, SessionId};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

/// How long one read waits for new messages.
const LONG_POLL: Duration = Duration::from_secs(25);
// Reads and restarts back off as the status does.
const FIRST_BACKOFF: Duration = reconcile::FIRST_BACKOFF.unsigned_abs();
const MAX_BACKOFF: Duration = reconcile::MAX_BACKOFF.unsigned_abs();
const ATTENTION_RETRY: Duration = reconcile::ATTENTION_RETRY.unsigned_abs();
const MAX_RETRY_AFTER: Duration = reconcile::MAX_RETRY_AFTER.unsigned_abs();
/// A task that ran this long before crashing starts its restarts' backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

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
    /// Notices the user answering items where they live.
    pub follow_up: Option<Arc<dyn FollowUp>>,
    /// Posts the user's standup to a channel.
    pub poster: Option<Arc<dyn Poster>>,
    /// Tells the user's shipped and blocked work.
    pub work: Option<Arc<dyn WorkReport>>,
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
            follow_up: None,
            poster: None,
            work: None,
            auto_reply: false,
            problem: Some(fix),
        }
    }

    /// The platform also notices the user's answers where items live.
    pub fn with_follow_up(mut self, follow_up: Arc<dyn FollowUp>) -> Self {
        self.follow_up = Some(follow_up);
        self
    }

    /// The platform also posts the user's standup.
    pub fn with_poster(mut self, poster: Arc<dyn Poster>) -> Self {
        self.poster = Some(poster);
        self
    }

    /// The source also tells the user's shipped and blocked work.
    pub fn with_work(mut self, work: Arc<dyn WorkReport>) -> Self {
        self.work = Some(work);
        self
    }
}

impl std::fmt::Debug for ChatAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatAdapter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The supervisor's line to the engine loop: one method per call.
#[derive(Clone, Debug)]
pub struct EngineLink {
    calls: mpsc::Sender<ChatCall>,
}

impl EngineLink {
    /// A link over `calls`.
    pub fn new(calls: mpsc::Sender<ChatCall>) -> Self {
        EngineLink { calls }
    }

    async fn call<T>(&self, make: impl FnOnce(Answer<T>) -> ChatCall) -> Result<T, ChatError> {
        let (answer, reply) = oneshot::channel();
        self.calls
            .send(make(answer))
            .await
            .map_err(|_| ChatError::Stopped)?;
        reply.await.unwrap_or(Err(ChatError::Stopped))
    }

    async fn focus(&self) -> Result<Option<(SessionId, FocusStatus)>, ChatError> {
        self.call(ChatCall::Focus).await
    }

    async fn save_snapshot(
        &self,
        session: SessionId,
        snapshot: StatusSnapshot,
    ) -> Result<(), ChatError> {
        self.call(|answer| ChatCall::SaveSnapshot {
            session,
            snapshot,
            answer,
        })
        .await
    }

    async fn snapshot(
        &self,
        session: SessionId,
        adapter: &str,
    ) -> Result<Option<StatusSnapshot>, ChatError> {
        self.call(|answer| ChatCall::Snapshot {
            session,
            adapter: adapter.to_owned(),
            answer,
        })
        .await
    }

    async fn restored(&self, session: SessionId, adapter: &str) -> Result<(), ChatError> {
        self.call(|answer| ChatCall::Restored {
            session,
            adapter: adapter.to_owned(),
            answer,
        })
        .await
    }

    async fn pending_restores(&self, adapter: &str) -> Result<Vec<SessionId>, ChatError> {
        self.call(|answer| ChatCall::PendingRestores {
            adapter: adapter.to_owned(),
            answer,
        })
        .await
    }

    async fn cursor(&self, adapter: &str, session: SessionId) -> Result<Option<String>, ChatError> {
        self.call(|answer| ChatCall::Cursor {
            adapter: adapter.to_owned(),
            session,
            answer,
        })
        .await
    }

    async fn hold(
        &self,
        adapter: &str,
        session: SessionId,
        auto_reply: bool,
        batch: Batch,
    ) -> Result<Vec<AutoReply>, ChatError> {
        self.call(|answer| ChatCall::Hold {
            adapter: adapter.to_owned(),
            session,
            auto_reply,
            batch,
            answer,
        })
        .await
    }

    async fn open_asked(&self, adapter: &str) -> Result<Owed, ChatError> {
        self.call(|answer| ChatCall::OpenAsked {
            adapter: adapter.to_owned(),
            answer,
        })
        .await
    }

    async fn work(&self, adapter: &str, work: WorkDone) -> Result<(), ChatError> {
        self.call(|answer| ChatCall::Work {
            adapter: adapter.to_owned(),
            work,
            answer,
        })
        .await
    }

    async fn answered(&self, adapter: &str, answered: Vec<Answered>) -> Result<(), ChatError> {
        self.call(|answer| ChatCall::Answered {
            adapter: adapter.to_owned(),
            answered,
            answer,
        })
        .await
    }

    async fn marked_done(&self, item: ItemId) -> Result<Option<(String, String)>, ChatError> {
        self.call(|answer| ChatCall::MarkedDone { item, answer })
            .await
    }

    async fn health(&self, health: AdapterHealth) {
        // Only a stopping engine refuses; then nobody is left to tell.
        let _ = self.calls.send(ChatCall::Health(health)).await;
    }
}

/// Starts one supervised task per adapter, and one that follows up on its items where
/// it can; aborting one is as safe as the engine dying there (what it set is recorded
/// first, and the next task for the platform reconciles).
pub fn spawn(
    adapters: Vec<ChatAdapter>,
    engine: &EngineLink,
    events: &broadcast::Sender<Event>,
) -> Vec<tokio::task::AbortHandle> {
    let mut tasks = Vec::new();
    for adapter in adapters {
        if let Some(work) = adapter.work.clone() {
            let task = report_work(adapter.name.clone(), work, engine.clone());
            tasks.push(tokio::spawn(task).abort_handle());
        }
        if let Some(follow_up) = adapter.follow_up.clone() {
            let task = follow(
                adapter.name.clone(),
                follow_up,
                engine.clone(),
                events.subscribe(),
            );
            tasks.push(tokio::spawn(task).abort_handle());
        }
        tasks.push(tokio::spawn(supervise(adapter, engine.clone(), events.clone())).abort_handle());
    }
    tasks
}

/// Asks the platform, every `[follow_through] check_every` while items of it are open,
/// which of them the user answered where they live, and tells the engine. Costs
/// nothing while none are open; a failure is logged and asked again next round. An
/// item the user marks done in the digest is marked read where it lives, if the
/// platform keeps such marks.
async fn follow(
    name: String,
    follow_up: Arc<dyn FollowUp>,
    engine: EngineLink,
    mut events: broadcast::Receiver<Event>,
) {
    loop {
        let owed = match engine.open_asked(&name).await {
            Ok(owed) => owed,
            Err(ChatError::Stopped) => return,
            Err(error) => {
                tracing::warn!(adapter = %name, %error, "could not read what is owed");
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            }
        };
        let mut wait = owed.check_every;
        if !owed.asked.is_empty() {
            let asked = AssertUnwindSafe(follow_up.answered(&owed.asked)).catch_unwind();
            match asked.await {
                Ok(Ok(answered)) if answered.is_empty() => {}
                Ok(Ok(answered)) => {
                    if let Err(ChatError::Stopped) = engine.answered(&name, answered).await {
                        return;
                    }
                }
                Ok(Err(AdapterError::RateLimited { retry_after, .. })) => {
                    wait = wait.max(retry_after.min(MAX_RETRY_AFTER));
                }
                Ok(Err(error)) => {
                    tracing::warn!(adapter = %name, %error, "could not tell which items were answered; asking again later")
                }
                Err(_) => {
                    tracing::error!(adapter = %name, "following up on items crashed; asking again later")
                }
            }
        }
        let next_round = tokio::time::sleep(wait);
        tokio::pin!(next_round);
        loop {
            tokio::select! {
                () = &mut next_round => break,
                event = events.recv() => match event {
                    Ok(Event::ItemDone { item, done: true }) => {
                        mark_read(&name, follow_up.as_ref(), &engine, item).await;
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}

/// How often a source is asked what the user shipped and what is blocked: hourly is
/// fresh enough for a daily standup and costs one or two requests.
const WORK_EVERY: Duration = Duration::from_secs(3600);
/// How far back shipped work is asked for: over a long weekend to the last working day.
const WORK_LOOK_BACK: SignedDuration = SignedDuration::from_hours(4 * 24);

/// Asks the source, now and every [`WORK_EVERY`], what the user shipped and what is
/// blocked, and tells the engine. A failure is logged and asked again next round.
async fn report_work(name: String, work: Arc<dyn WorkReport>, engine: EngineLink) {
    loop {
        let since = Timestamp::now()
            .checked_sub(WORK_LOOK_BACK)
            .unwrap_or(Timestamp::MIN);
        let mut wait = WORK_EVERY;
        match AssertUnwindSafe(work.work(since)).catch_unwind().await {
            Ok(Ok(done)) => {
                if let Err(ChatError::Stopped) = engine.work(&name, done).await {
                    return;
                }
            }
            Ok(Err(AdapterError::RateLimited { retry_after, .. })) => {
                wait = retry_after.min(MAX_RETRY_AFTER);
            }
            Ok(Err(error)) => {
                tracing::warn!(adapter = %name, %error, "could not read shipped and blocked work; asking again later");
            }
            Err(_) => {
                tracing::error!(adapter = %name, "reading shipped work crashed; asking again later");
            }
        }
        tokio::time::sleep(wait).await;
    }
}

/// Marks an item the user marked done read where it lives, if it is this platform's.
async fn mark_read(name: &str, follow_up: &dyn FollowUp, engine: &EngineLink, item: ItemId) {
    match engine.marked_done(item).await {
        Ok(Some((source, message_id))) if source == name => {
            if let Err(error) = follow_up.mark_read(&message_id).await {
                tracing::warn!(adapter = %name, %error, "could not mark an item read where it lives");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(adapter = %name, %error, "could not read a done item"),
    }
}

/// Runs a platform's task, and runs it again when it panics: the crash is reported in
/// status, and the restarts back off. A new task reads its state back from the engine.
async fn supervise(adapter: ChatAdapter, engine: EngineLink, events: broadcast::Sender<Event>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let task = AdapterTask::new(adapter.clone(), engine.clone());
        let Err(panic) = AssertUnwindSafe(task.run(events.subscribe()))
            .catch_unwind()
            .await
        else {
            return;
        };
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        tracing::error!(adapter = %adapter.name, %detail, "a platform's task crashed; restarting it");
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        engine
            .health(AdapterHealth {
                name: adapter.name.clone(),
                state: AdapterState::Retrying {
                    error: format!("crashed, restarting: {detail}"),
                },
                connect: ConnectKind::default(),
            })
            .await;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A read in flight: kept across events, so that a platform reads on its own schedule
/// and not again each time anything happens elsewhere.
struct Reading {
    session: SessionId,
    batch: BoxFuture<'static, Result<Batch, AdapterError>>,
}

struct AdapterTask {
    adapter: ChatAdapter,
    engine: EngineLink,
    /// The running session and its focus status, as the engine last said.
    focus: Option<(SessionId, FocusStatus)>,
    /// The platform's status: what to show, what is owed back, when to retry.
    status_machine: StatusReconciler,
    status_retry: Option<Instant>,
    reading: Option<Reading>,
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
    Read(Result<Batch, AdapterError>),
}

impl AdapterTask {
    fn new(adapter: ChatAdapter, engine: EngineLink) -> Self {
        AdapterTask {
            adapter,
            engine,
            focus: None,
            status_machine: StatusReconciler::new(),
            status_retry: None,
            reading: None,
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
        match self.engine.pending_restores(&self.adapter.name).await {
            Ok(pending) => self.status_machine.owed(pending),
            Err(error) => {
                tracing::warn!(adapter = %self.adapter.name, %error, "could not read which statuses to put back")
            }
        }
        self.refresh_focus().await;
        loop {
            self.reconcile().await;
            if self.read_retry.is_some_and(|at| at <= Instant::now()) {
                self.read_retry = None;
            }
            let reading_for = self.focus.as_ref().map(|(session, _)| *session);
            if self
                .reading
                .as_ref()
                .is_some_and(|r| Some(r.session) != reading_for)
            {
                self.reading = None;
            }
            match self.wait(&mut events).await {
                Wake::Event(Ok(Event::SessionEnded { session, .. })) => {
                    self.focus = None;
                    self.reading = None;
                    // Not reading any more, so a reading failure no longer counts.
                    self.read_problem = None;
                    self.read_retry = None;
                    self.status_machine.ended(session);
                }
                Wake::Event(Ok(Event::SessionChanged { .. } | Event::CheckIn { .. }))
                | Wake::Event(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.refresh_focus().await
                }
                Wake::Event(Ok(_)) => {}
                Wake::Event(Err(broadcast::error::RecvError::Closed)) => return,
                Wake::Retry => {}
                Wake::Read(result) => {
                    if let Some(reading) = self.reading.take() {
                        self.take_batch(result, reading.session).await;
                    }
                }
            }
        }
    }

    async fn refresh_focus(&mut self) {
        match self.engine.focus().await {
            Ok(focus) => {
                let limit = self
                    .adapter
                    .status
                    .as_ref()
                    .map(|status| status.status_limit());
                // An empty text (after hours without a status of its own) reads and holds
                // but leaves the status alone.
                let shown = focus.as_ref().filter(|(_, status)| !status.text.is_empty());
                self.status_machine
                    .want(shown.zip(limit).map(|((session, status), limit)| Desired {
                        session: *session,
                        text: away::fit(&status.text, limit),
                        until: status.until,
                    }));
                self.focus = focus;
            }
            Err(error) => {
                tracing::warn!(adapter = %self.adapter.name, %error, "could not ask for the session")
            }
        }
    }

    /// Waits for an event, a due retry, or new messages while focusing.
    async fn wait(&mut self, events: &mut broadcast::Receiver<Event>) -> Wake {
        let retry_at = [
            self.status_retry,
            self.read_retry.filter(|_| self.focus.is_some()),
        ]
        .into_iter()
        .flatten()
        .min();
        if self.reading.is_none() {
            self.reading = self.start_read();
        }
        let retry = async move {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let read = async {
            match self.reading.as_mut() {
                Some(reading) => (&mut reading.batch).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.recv() => Wake::Event(event),
            () = retry => Wake::Retry,
            result = read => Wake::Read(result),
        }
    }

    /// The next read for the running session, unless a retry is pending. At a session's
    /// first read the position is "now", so messages from before it are not held.
    fn start_read(&self) -> Option<Reading> {
        let session = self.focus.as_ref()?.0;
        let source = self.adapter.source.clone()?;
        if self.read_retry.is_some() {
            return None;
        }
        let engine = self.engine.clone();
        let adapter = self.adapter.name.clone();
        let batch = async move {
            let stored = engine
                .cursor(&adapter, session)
                .await
                .map_err(engine_trouble)?;
            let cursor = match stored {
                Some(cursor) => cursor,
                None => {
                    let start = source.fetch(None, Duration::ZERO).await?;
                    engine
                        .hold(&adapter, session, false, start.clone())
                        .await
                        .map_err(engine_trouble)?;
                    start.cursor
                }
            };
            source.fetch(Some(&cursor), LONG_POLL).await
        };
        Some(Reading {
            session,
            batch: Box::pin(batch),
        })
    }

    async fn take_batch(&mut self, result: Result<Batch, AdapterError>, session: SessionId) {
        let batch = match result {
            Ok(batch) => batch,
            Err(error) => {
                self.read_retry = Some(later(delay(&error, &mut self.read_backoff)));
                self.read_problem = Some(state_of(&error));
                self.publish().await;
                return;
            }
        };
        self.read_backoff = FIRST_BACKOFF;
        let replies = match self
            .engine
            .hold(&self.adapter.name, session, self.adapter.auto_reply, batch)
            .await
        {
            Ok(replies) => replies,
            Err(error) => {
                // Nothing was stored and the cursor did not move: this batch is read again.
                tracing::error!(adapter = %self.adapter.name, %error, "could not hold messages");
                self.read_retry = Some(later(MAX_BACKOFF));
                self.read_problem = Some(AdapterState::Retrying {
                    error: format!("could not hold messages: {error}"),
                });
                self.publish().await;
                return;
            }
        };
        if let Some(replier) = &self.adapter.replier {
            for reply in replies {
                if let Err(error) = replier.reply(&reply.to, &reply.text).await {
                    tracing::warn!(adapter = %self.adapter.name, %error, "could not send an auto-reply");
                }
            }
        }
        self.read_problem = None;
        self.publish().await;
    }

    /// Moves the platform's status toward what the session wants, as the reconciler
    /// says: what is owed back first, then the focus status.
    async fn reconcile(&mut self) {
        let Some(status) = self.adapter.status.clone() else {
            return;
        };
        loop {
            match self.status_machine.next(Timestamp::now()) {
                Next::Act(action) => {
                    // A platform may answer one request at a time (a plugin does): a read
                    // in flight, which nothing polls while this waits, would hold the
                    // action up for good. The read starts again from its stored position.
                    self.reading = None;
                    let result =
                        perform(&self.engine, &self.adapter.name, status.as_ref(), &action).await;
                    let outcome = match &result {
                        Ok(()) => Outcome::Done,
                        Err(AdapterError::RateLimited { retry_after, .. }) => Outcome::RateLimited(
                            SignedDuration::try_from(*retry_after).unwrap_or(SignedDuration::MAX),
                        ),
                        Err(AdapterError::Unauthorized { .. }) => Outcome::NeedsAttention,
                        Err(AdapterError::Unavailable { .. } | AdapterError::Malformed { .. }) => {
                            Outcome::Failed
                        }
                    };
                    self.status_machine
                        .finished(Timestamp::now(), &action, outcome);
                    match result {
                        Ok(()) => self.status_problem = None,
                        Err(error) => {
                            tracing::warn!(adapter = %self.adapter.name, %error, "chat status not updated; retrying");
                            self.status_problem = Some(state_of(&error));
                        }
                    }
                }
                Next::WaitUntil(at) => {
                    let wait = at.duration_since(Timestamp::now()).unsigned_abs();
                    self.status_retry = Some(later(wait));
                    break;
                }
                Next::Idle => {
                    self.status_retry = None;
                    break;
                }
            }
        }
        self.publish().await;
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
            .health(AdapterHealth {
                name: self.adapter.name.clone(),
                state,
                connect: ConnectKind::default(),
            })
            .await;
    }
}

/// Does one of the reconciler's actions on the platform.
async fn perform(
    engine: &EngineLink,
    name: &str,
    status: &dyn StatusAdapter,
    action: &Action,
) -> Result<(), AdapterError> {
    match action {
        Action::Restore(session) => match engine.snapshot(*session, name).await {
            Ok(Some(snapshot)) => {
                status.restore(&snapshot).await?;
                engine
                    .restored(*session, name)
                    .await
                    .map_err(engine_trouble)
            }
            Ok(None) => Ok(()),
            Err(ChatError::Snapshot(detail)) => {
                // Unreadable: it can never be put back, so it is not tried forever.
                tracing::error!(adapter = %name, %detail, "a kept status cannot be restored");
                Ok(())
            }
            Err(error) => Err(engine_trouble(error)),
        },
        Action::Show(desired) => {
            let kept = engine
                .snapshot(desired.session, name)
                .await
                .map_err(engine_trouble)?;
            if kept.is_none() {
                let snapshot = status.snapshot().await?;
                // Durable before the status changes, so a crash can always put it back.
                engine
                    .save_snapshot(desired.session, snapshot)
                    .await
                    .map_err(engine_trouble)?;
            }
            status
                .set_focus(&FocusStatus {
                    text: desired.text.clone(),
                    until: desired.until,
                })
                .await
        }
    }
}

/// The engine's trouble as the platform task reports it (retried like an outage).
fn engine_trouble(error: ChatError) -> AdapterError {
    AdapterError::Unavailable {
        adapter: "store".into(),
        detail: error.to_string(),
    }
}

/// `wait` from now; a wait too long for the clock is as good as never.
fn later(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .unwrap_or_else(|| now + MAX_RETRY_AFTER)
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
        // A platform's word, but not beyond an hour: it may be wrong, or hostile.
        AdapterError::RateLimited { retry_after, .. } => (*retry_after).min(MAX_RETRY_AFTER),
        AdapterError::Unauthorized { .. } => ATTENTION_RETRY,
        AdapterError::Unavailable { .. } | AdapterError::Malformed { .. } => {
            let wait = *backoff;
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
            wait
        }
    }
}

//! The typed client of the engine's socket, used by the CLI (and later the tray and
//! the window).

use crate::api::{
    ApiError, DesktopState, Event, Explanation, PlanDay, PushAck, Reply, Request, Response, Status,
};
use deepwork_core::digest::{Digest, DigestId};
use deepwork_core::schedule::SessionPlan;
use deepwork_core::settings::Settings;
use deepwork_core::standup::{Intent, Outcome, PostTarget, StandupDraft, StandupEntry};
use deepwork_core::stats::{IsoWeek, WeeklyStats};
use deepwork_core::{Class, ItemId, NewItem, SessionId};
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LinesCodec};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("no Deepwork engine is running (nothing listens on {socket}); start one with `deepwork daemon`", socket = .socket.display())]
    NotRunning {
        /// The socket tried.
        socket: PathBuf,
    },
    /// The connection broke.
    #[error("lost the connection to the Deepwork engine: {0}")]
    Io(#[from] std::io::Error),
    /// The engine answered something this client does not understand.
    #[error("the Deepwork engine sent an unexpected answer: {0}")]
    Protocol(String),
    /// The engine refused the request.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// A connection to the engine.
#[derive(Debug)]
pub struct Client {
    lines: Framed<UnixStream, LinesCodec>,
}

/// Events from the engine, after [`Client::subscribe`].
#[derive(Debug)]
pub struct EventStream {
    lines: Framed<UnixStream, LinesCodec>,
}

impl Client {
    /// Connects to the engine at `socket`.
    pub async fn connect(socket: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ClientError::NotRunning {
                        socket: socket.into(),
                    }
                }
                _ => ClientError::Io(error),
            })?;
        Ok(Client {
            lines: Framed::new(stream, LinesCodec::new()),
        })
    }

    /// Sends one request and reads its reply.
    pub async fn call(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let text =
            serde_json::to_string(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.lines.send(text).await.map_err(codec_error)?;
        let line = self
            .lines
            .next()
            .await
            .ok_or_else(|| ClientError::Protocol("the engine closed the connection".into()))?
            .map_err(codec_error)?;
        match serde_json::from_str::<Response>(&line)
            .map_err(|e| ClientError::Protocol(e.to_string()))?
        {
            Response::Ok(reply) => Ok(reply),
            Response::Error(error) => Err(ClientError::Api(error)),
        }
    }

    async fn status_call(&mut self, request: Request) -> Result<Status, ClientError> {
        match self.call(&request).await? {
            Reply::Status(status) => Ok(status),
            other => Err(unexpected(&other)),
        }
    }

    /// The current state.
    pub async fn status(&mut self) -> Result<Status, ClientError> {
        self.status_call(Request::Status).await
    }

    /// Has the engine read the configured chat platforms and their tokens again and
    /// reconnect them.
    pub async fn reload_adapters(&mut self) -> Result<Status, ClientError> {
        self.status_call(Request::ReloadAdapters).await
    }

    /// Starts a session.
    pub async fn start(&mut self, plan: SessionPlan) -> Result<Status, ClientError> {
        self.start_for(plan, None).await
    }

    /// Starts a session for `intent` ("Finish the billing RFC").
    pub async fn start_for(
        &mut self,
        plan: SessionPlan,
        intent: Option<String>,
    ) -> Result<Status, ClientError> {
        self.status_call(Request::Start { plan, intent }).await
    }

    /// Records how a session's intent went (the latest one with an intent by default).
    pub async fn outcome(
        &mut self,
        session: Option<SessionId>,
        outcome: Outcome,
        note: Option<String>,
    ) -> Result<Intent, ClientError> {
        match self
            .call(&Request::Outcome {
                session,
                outcome,
                note,
            })
            .await?
        {
            Reply::Intent(intent) => Ok(intent),
            other => Err(unexpected(&other)),
        }
    }

    /// Tells the engine what the desktop shell could set up.
    pub async fn report_desktop(&mut self, state: DesktopState) -> Result<Status, ClientError> {
        self.status_call(Request::Desktop { state }).await
    }

    /// Tells the engine the user left the computer at `away_since`, or (`None`) is back.
    pub async fn report_presence(
        &mut self,
        away_since: Option<Timestamp>,
    ) -> Result<Status, ClientError> {
        self.status_call(Request::Presence { away_since }).await
    }

    /// Today's standup, as kept or drafted now (`fresh`: drafted again).
    pub async fn standup(&mut self, fresh: bool) -> Result<StandupEntry, ClientError> {
        self.standup_call(Request::Standup { fresh }).await
    }

    /// Keeps an edited standup.
    pub async fn save_standup(&mut self, draft: StandupDraft) -> Result<StandupEntry, ClientError> {
        self.standup_call(Request::SaveStandup { draft }).await
    }

    /// Posts a standup (today's when `draft` is `None`) to `to`, or where the config
    /// says.
    pub async fn post_standup(
        &mut self,
        draft: Option<StandupDraft>,
        to: Option<PostTarget>,
    ) -> Result<StandupEntry, ClientError> {
        self.standup_call(Request::PostStandup { draft, to }).await
    }

    /// The kept standups, newest first.
    pub async fn standups(&mut self, limit: u32) -> Result<Vec<StandupEntry>, ClientError> {
        match self.call(&Request::Standups { limit }).await? {
            Reply::Standups(entries) => Ok(entries),
            other => Err(unexpected(&other)),
        }
    }

    async fn standup_call(&mut self, request: Request) -> Result<StandupEntry, ClientError> {
        match self.call(&request).await? {
            Reply::Standup(entry) => Ok(entry),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves the running session's end.
    pub async fn extend(&mut self, plan: SessionPlan) -> Result<Status, ClientError> {
        self.status_call(Request::Extend { plan }).await
    }

    /// Ends the running session early.
    pub async fn stop(&mut self) -> Result<Status, ClientError> {
        self.status_call(Request::Stop).await
    }

    /// Delivers the digest now.
    pub async fn check_in(&mut self) -> Result<Status, ClientError> {
        self.status_call(Request::CheckIn).await
    }

    /// Hands in an item; when this returns it is durable.
    pub async fn push(&mut self, item: NewItem) -> Result<PushAck, ClientError> {
        match self.call(&Request::Push { item }).await? {
            Reply::Pushed(ack) => Ok(ack),
            other => Err(unexpected(&other)),
        }
    }

    /// One digest, the latest when `id` is `None`.
    pub async fn digest(&mut self, id: Option<DigestId>) -> Result<Option<Digest>, ClientError> {
        match self.call(&Request::Digest { id }).await? {
            Reply::Digest(digest) => Ok(digest),
            other => Err(unexpected(&other)),
        }
    }

    /// The newest digests, newest first.
    pub async fn digests(&mut self, limit: u32) -> Result<Vec<Digest>, ClientError> {
        match self.call(&Request::Digests { limit }).await? {
            Reply::Digests(digests) => Ok(digests),
            other => Err(unexpected(&other)),
        }
    }

    /// Marks an item done or not done.
    pub async fn done(&mut self, item: ItemId, done: bool) -> Result<(), ClientError> {
        match self.call(&Request::Done { item, done }).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Re-classes an item by hand; triage learns from it.
    pub async fn teach(&mut self, item: ItemId, class: Class) -> Result<(), ClientError> {
        match self.call(&Request::Teach { item, class }).await? {
            Reply::Taught => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// The settings the window edits.
    pub async fn settings(&mut self) -> Result<Settings, ClientError> {
        match self.call(&Request::Settings).await? {
            Reply::Settings(settings) => Ok(*settings),
            other => Err(unexpected(&other)),
        }
    }

    /// Saves settings into the config file; the settings now in use.
    pub async fn save_settings(&mut self, settings: Settings) -> Result<Settings, ClientError> {
        match self.call(&Request::SaveSettings { settings }).await? {
            Reply::Settings(settings) => Ok(*settings),
            other => Err(unexpected(&other)),
        }
    }

    /// Acknowledges an emergency, or every open one; the ones it stopped escalating.
    pub async fn acknowledge(
        &mut self,
        item: Option<ItemId>,
        via: deepwork_core::escalation::AckVia,
    ) -> Result<Vec<ItemId>, ClientError> {
        match self.call(&Request::Acknowledge { item, via }).await? {
            Reply::Acknowledged(items) => Ok(items),
            other => Err(unexpected(&other)),
        }
    }

    /// Forgets the text of handled items received before `before`; how many.
    pub async fn forget(&mut self, before: jiff::Timestamp) -> Result<usize, ClientError> {
        match self.call(&Request::Forget { before }).await? {
            Reply::Forgotten(count) => Ok(count),
            other => Err(unexpected(&other)),
        }
    }

    /// How an item would be classed, and why; nothing is stored.
    pub async fn explain(&mut self, item: NewItem) -> Result<Explanation, ClientError> {
        match self.call(&Request::Explain { item }).await? {
            Reply::Explained(explanation) => Ok(explanation),
            other => Err(unexpected(&other)),
        }
    }

    /// Weekly stats, of the current week when `week` is `None`.
    pub async fn stats(&mut self, week: Option<IsoWeek>) -> Result<WeeklyStats, ClientError> {
        match self.call(&Request::Stats { week }).await? {
            Reply::Stats(stats) => Ok(stats),
            other => Err(unexpected(&other)),
        }
    }

    /// The plans of `days` days from today.
    pub async fn plan(&mut self, days: u32) -> Result<Vec<PlanDay>, ClientError> {
        match self.call(&Request::Plan { days }).await? {
            Reply::Plan(days) => Ok(days),
            other => Err(unexpected(&other)),
        }
    }

    /// Skips a planned focus block: `plan`, else the running one or the next today.
    pub async fn skip_block(&mut self, plan: Option<String>) -> Result<Status, ClientError> {
        self.status_call(Request::SkipBlock { plan }).await
    }

    /// Turns this connection into a stream of events.
    pub async fn subscribe(mut self) -> Result<EventStream, ClientError> {
        match self.call(&Request::Subscribe).await? {
            Reply::Subscribed => Ok(EventStream { lines: self.lines }),
            other => Err(unexpected(&other)),
        }
    }
}

impl EventStream {
    /// The next event; `None` when the engine has gone.
    pub async fn next(&mut self) -> Option<Result<Event, ClientError>> {
        let line = self.lines.next().await?;
        Some(line.map_err(codec_error).and_then(|line| {
            serde_json::from_str(&line).map_err(|e| ClientError::Protocol(e.to_string()))
        }))
    }
}

fn codec_error(error: tokio_util::codec::LinesCodecError) -> ClientError {
    match error {
        tokio_util::codec::LinesCodecError::Io(error) => ClientError::Io(error),
        tokio_util::codec::LinesCodecError::MaxLineLengthExceeded => {
            ClientError::Protocol("answer too long".into())
        }
    }
}

fn unexpected(reply: &Reply) -> ClientError {
    ClientError::Protocol(format!("unexpected reply {reply:?}"))
}

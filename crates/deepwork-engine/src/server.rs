//! The resident engine: config, lock, store, socket, and the loop that drives
//! [`Engine`] with one timer for its next deadline.

use crate::api::{ApiError, ErrorCode, Event, MAX_REQUEST_BYTES, Reply, Request, Response};
use crate::calendars::{self, CalendarRead};
use crate::chat_calls::ChatCall;
use crate::chats::{self, ChatAdapter, EngineLink};
use crate::engine::{Engine, OpenError, triager_for};
use crate::escalate::{self, Report};
use crate::notify::{DesktopNotifier, NoticeAction, NoticeReport, Notifier, SilentNotifier};
use crate::paths::Paths;
use crate::platforms;
use crate::wall_timer::WallTimer;
use deepwork_adapters::twilio::Twilio;
use deepwork_adapters::{AdapterError, Post, PostedMessage, Poster};
use deepwork_core::config::{Config, ConfigError};
use deepwork_core::escalation::{AckVia, EscalationConfig};
use deepwork_core::standup::{PostTarget, Posted, StandupDraft};
use deepwork_core::triage::Triager;
use deepwork_store::{Store, StoreError};
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

/// Most requests answered in one batch (and one transaction, for pushes).
const MAX_BATCH: usize = 512;

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file is invalid.
    #[error("{path}: {error}", path = .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// Where and what.
        error: ConfigError,
    },
    /// Another engine holds the lock.
    #[error("another Deepwork engine is already running for this user (socket {socket}); use it, or stop it first", socket = .socket.display())]
    AlreadyRunning {
        /// Its socket.
        socket: PathBuf,
    },
    /// A file or socket could not be used.
    #[error("{what} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// To which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("{path}: {source}", path = .path.display())]
    Database {
        /// The file.
        path: PathBuf,
        /// What the store said.
        source: StoreError,
    },
    /// The data directory can be read or written by other users.
    #[error("{path} is open to other users (mode {mode:o}) and holds your messages; make it private with: chmod 700 {path}", path = .path.display())]
    NotPrivate {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The thread that shows notifications could not start.
    #[error("cannot start the notification thread: {0}")]
    Notifications(std::io::Error),
    /// The wall-clock timer could not be created.
    #[error("cannot create the check-in timer: {0}")]
    Timer(std::io::Error),
    /// The store or the rules failed.
    #[error(transparent)]
    Open(#[from] OpenError),
}

impl StartError {
    /// Whether the user's input (the config) is at fault.
    pub fn is_config_error(&self) -> bool {
        matches!(self, StartError::Config { .. })
    }
}

/// The engine's clock: now, to the millisecond (what the store keeps).
pub fn clock_now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
}

/// Triage as the engine builds it, from the config and the corrections earlier runs
/// stored, for when no engine runs: it writes nothing and creates no database.
pub fn triager_without_engine(paths: &Paths) -> Result<Triager, StartError> {
    let config = load_config(&paths.config)?;
    let database = paths.database();
    if !database.exists() {
        return Ok(Triager::new(&config.triage).map_err(OpenError::from)?);
    }
    let store = Store::open_read_only(&database).map_err(|source| StartError::Database {
        path: database.clone(),
        source,
    })?;
    Ok(triager_for(&config, &store)?)
}

/// Reads the config file; a missing file means every default.
pub fn load_config(path: &Path) -> Result<Config, StartError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(source) => {
            return Err(StartError::Io {
                what: "cannot read the config file",
                path: path.into(),
                source,
            });
        }
    };
    Config::from_toml_str(&text).map_err(|error| StartError::Config {
        path: path.into(),
        error,
    })
}

/// Runs the engine, with the chat platforms the config names, until `shutdown` completes.
pub async fn serve(paths: &Paths, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    serve_then(paths, shutdown, |_| {}).await
}

/// Runs the engine like [`serve`], and calls `ready` with the config once clients can
/// connect: the resident's tray starts there, so it never sees a missing socket.
pub async fn serve_then(
    paths: &Paths,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&Config),
) -> Result<(), StartError> {
    let config = load_config(&paths.config)?;
    let mut adapters = platforms::adapters(&config.adapters);
    adapters.extend(platforms::desktop_notifications(&config.hold_notifications));
    run_engine(paths, config, adapters, shutdown, ready).await
}

/// Runs the engine with these chat platforms connected until `shutdown` completes.
pub async fn serve_with(
    paths: &Paths,
    adapters: Vec<ChatAdapter>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let config = load_config(&paths.config)?;
    run_engine(paths, config, adapters, shutdown, |_| {}).await
}

async fn run_engine(
    paths: &Paths,
    config: Config,
    adapters: Vec<ChatAdapter>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&Config),
) -> Result<(), StartError> {
    private_dir(&paths.data_dir)?;
    refuse_shared(&paths.data_dir)?;
    if let Some(parent) = paths.socket.parent() {
        private_dir(parent)?;
    }
    let _lock = lock(paths)?;
    private_files(&paths.database())?;
    let store = Store::open(&paths.database()).map_err(|source| StartError::Database {
        path: paths.database(),
        source,
    })?;
    let tz = TimeZone::try_system().unwrap_or_else(|error| {
        tracing::warn!(%error, "could not find the local time zone; using UTC");
        TimeZone::UTC
    });
    // A notice's button is clicked, or a notice fails, on another thread.
    let (notice_reports, notices) = mpsc::unbounded_channel();
    let notifier: Box<dyn Notifier> = if config.notifications.enabled {
        let notifier = DesktopNotifier::start(move |report| {
            let _ = notice_reports.send(report);
        })
        .map_err(StartError::Notifications)?;
        Box::new(notifier)
    } else {
        Box::new(SilentNotifier)
    };
    let (twilio, escalation_problem) = escalate::twilio_route(&config.escalation);
    let twilio_ready = twilio.is_some();
    let (escalation_reports, escalations) = mpsc::unbounded_channel();
    let escalation_jobs = escalate::spawn(
        config.escalation.clone(),
        twilio,
        escalation_reports.clone(),
    );
    let escalation_config = config.escalation.clone();
    let timer = WallTimer::new().map_err(StartError::Timer)?;
    let ready_config = config.clone();
    let calendars = config.plans.calendars.clone();
    let mut engine = Engine::open(config, tz, store, notifier, clock_now())?;
    let (calendar_reports, calendar_reads) = mpsc::unbounded_channel();
    let calendar_reader =
        calendars::spawn(calendars, engine.calendar_validators(), calendar_reports);
    engine.set_config_file(paths.config.clone());
    engine.set_escalator(
        escalation_jobs,
        &escalation_config,
        twilio_ready,
        escalation_problem,
        clock_now(),
    );

    // The lock proves no engine owns a socket file left here: it is stale. The socket is
    // made under a private name, restricted, then renamed into place, so no client can
    // reach it before it is the user's alone.
    let _ = std::fs::remove_file(&paths.socket);
    let private = paths
        .socket
        .with_extension(format!("{}.new", std::process::id()));
    let _ = std::fs::remove_file(&private);
    let listener = UnixListener::bind(&private).map_err(|source| StartError::Io {
        what: "cannot listen on",
        path: private.clone(),
        source,
    })?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).map_err(
        |source| StartError::Io {
            what: "cannot restrict",
            path: private.clone(),
            source,
        },
    )?;
    std::fs::rename(&private, &paths.socket).map_err(|source| StartError::Io {
        what: "cannot put in place",
        path: paths.socket.clone(),
        source,
    })?;
    tracing::info!(socket = %paths.socket.display(), database = %paths.database().display(), "Deepwork engine ready");

    let (chat_tx, chat_calls) = mpsc::channel(64);
    let link = EngineLink::new(chat_tx);
    // The desktop's notifications stay as they are: a reload is about chat accounts.
    let (desktop, chat): (Vec<_>, Vec<_>) = adapters
        .into_iter()
        .partition(|a| a.name == platforms::DESKTOP);
    chats::spawn(desktop, &link, &engine.events());
    let names = chat.iter().map(|a| a.name.clone()).collect();
    let posters = posters(&chat);
    let tasks = chats::spawn(chat, &link, &engine.events());
    ready(&ready_config);
    let platforms = Platforms {
        config: paths.config.clone(),
        link,
        names,
        posters,
        tasks,
        escalation_reports,
    };
    let reports = Reports {
        notices,
        escalations,
        calendars: calendar_reads,
    };
    run(
        engine, timer, listener, chat_calls, platforms, reports, shutdown,
    )
    .await;
    if let Some(reader) = calendar_reader {
        reader.abort();
    }
    let _ = std::fs::remove_file(&paths.socket);
    Ok(())
}

fn private_dir(path: &Path) -> Result<(), StartError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| StartError::Io {
            what: "cannot create the directory",
            path: path.into(),
            source,
        })
}

/// The data directory holds message text (one-time codes included): one that other
/// users can enter is refused rather than used.
fn refuse_shared(dir: &Path) -> Result<(), StartError> {
    let mode = std::fs::metadata(dir)
        .map_err(|source| StartError::Io {
            what: "cannot read the permissions of",
            path: dir.into(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(StartError::NotPrivate {
            path: dir.into(),
            mode,
        });
    }
    Ok(())
}

/// The database is created 0600 (SQLite gives its -wal and -shm files the same mode);
/// files an older version left readable by others are made private.
fn private_files(database: &Path) -> Result<(), StartError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| StartError::Io { what, path, source }
    };
    File::options()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(database)
        .map_err(io("cannot create", database))?;
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    let mut shm = database.as_os_str().to_owned();
    shm.push("-shm");
    for file in [database.to_path_buf(), wal.into(), shm.into()] {
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::info!(file = %file.display(), "made private (0600)");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(io("cannot make private", &file))?;
        }
    }
    Ok(())
}

fn lock(paths: &Paths) -> Result<File, StartError> {
    let path = paths.lock();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| StartError::Io {
            what: "cannot open the lock file",
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::AlreadyRunning {
            socket: paths.socket.clone(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StartError::Io {
            what: "cannot lock",
            path,
            source,
        }),
    }
}

struct Call {
    request: Request,
    reply: oneshot::Sender<Response>,
}

/// The chat platforms' tasks, and what reconnecting them takes.
struct Platforms {
    config: PathBuf,
    link: EngineLink,
    /// The platforms the tasks serve.
    names: Vec<String>,
    /// The platforms that post, by name.
    posters: HashMap<String, Arc<dyn Poster>>,
    tasks: Vec<tokio::task::AbortHandle>,
    /// Where every escalation worker, the current and any before it, reports.
    escalation_reports: mpsc::UnboundedSender<Report>,
}

/// What a reload read: the chat platforms, and the escalation route with what limits it.
struct Reloaded {
    adapters: Vec<ChatAdapter>,
    escalation: EscalationConfig,
    twilio: Option<Twilio>,
    problem: Option<String>,
}

impl Platforms {
    /// Starts reading the config's platforms, the escalation route and their
    /// credentials again (the keyring blocks, so off the engine's loop); they arrive on
    /// `reloaded`.
    fn reload(&self, reloaded: &mpsc::Sender<Reloaded>) -> Result<(), ApiError> {
        let config = load_config(&self.config)
            .map_err(|e| ApiError::new(ErrorCode::InvalidSettings, e.to_string()))?;
        let reloaded = reloaded.clone();
        tokio::spawn(async move {
            let built = tokio::task::spawn_blocking(move || {
                let (twilio, problem) = escalate::twilio_route(&config.escalation);
                Reloaded {
                    adapters: platforms::adapters(&config.adapters),
                    escalation: config.escalation,
                    twilio,
                    problem,
                }
            })
            .await;
            match built {
                Ok(read) => {
                    let _ = reloaded.send(read).await;
                }
                Err(error) => tracing::error!(%error, "could not reconnect the chat platforms"),
            }
        });
        Ok(())
    }

    /// Replaces the running platforms with the reloaded ones, and the escalation
    /// worker with one on the reloaded route (steps it was sending still report).
    fn swap(&mut self, engine: &mut Engine, reloaded: Reloaded) {
        let Reloaded {
            adapters,
            escalation,
            twilio,
            problem,
        } = reloaded;
        let twilio_ready = twilio.is_some();
        let jobs = escalate::spawn(escalation.clone(), twilio, self.escalation_reports.clone());
        engine.set_escalator(jobs, &escalation, twilio_ready, problem, clock_now());
        for task in self.tasks.drain(..) {
            task.abort();
        }
        engine.forget_adapters(&self.names);
        self.names = adapters.iter().map(|a| a.name.clone()).collect();
        self.posters = posters(&adapters);
        self.tasks = chats::spawn(adapters, &self.link, &engine.events());
        tracing::info!(platforms = ?self.names, "chat platforms reconnected");
    }
}

fn posters(adapters: &[ChatAdapter]) -> HashMap<String, Arc<dyn Poster>> {
    adapters
        .iter()
        .filter_map(|a| Some((a.name.clone(), a.poster.clone()?)))
        .collect()
}

/// A standup post that went out, with the client waiting for its answer.
struct PostDone {
    day: Date,
    to: PostTarget,
    sent: Result<PostedMessage, AdapterError>,
    reply: oneshot::Sender<Response>,
}

impl Platforms {
    /// Posts a standup off the engine's loop (a platform may take seconds); the answer
    /// goes to the client once the engine has recorded where it went.
    fn post_standup(
        &self,
        engine: &mut Engine,
        (draft, to): (Option<StandupDraft>, Option<PostTarget>),
        reply: oneshot::Sender<Response>,
        done: &mpsc::Sender<PostDone>,
    ) {
        let prepared = engine.prepare_post(clock_now(), draft, to).and_then(
            |(to, draft)| match self.posters.get(&to.platform) {
                Some(poster) => Ok((to, draft, Arc::clone(poster))),
                None => Err(ApiError::new(
                    ErrorCode::NotPosted,
                    format!(
                        "{} is not connected; connect it under [adapters.{}] (the standup is kept)",
                        to.platform, to.platform
                    ),
                )),
            },
        );
        let (to, draft, poster) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let _ = reply.send(Response::Error(error));
                return;
            }
        };
        let post = Post {
            markdown: draft.to_markdown(),
            html: draft.to_html(),
            slack: draft.to_slack(),
        };
        let done = done.clone();
        tokio::spawn(async move {
            let sent = poster.post(&to.channel, &post).await;
            let _ = done
                .send(PostDone {
                    day: draft.date,
                    to,
                    sent,
                    reply,
                })
                .await;
        });
    }
}

fn posted(engine: &mut Engine, done: PostDone) {
    let PostDone {
        day,
        to,
        sent,
        reply,
    } = done;
    let response = match sent {
        Ok(message) => {
            let posted = Posted {
                to,
                at: clock_now(),
                link: message.link,
            };
            match engine.standup_posted(day, &posted) {
                Ok(entry) => Response::Ok(Reply::Standup(entry)),
                Err(error) => Response::Error(error),
            }
        }
        Err(error) => {
            tracing::warn!(%error, %to, "could not post the standup");
            Response::Error(ApiError::new(
                ErrorCode::NotPosted,
                format!("could not post to {to}: {error} (the standup is kept)"),
            ))
        }
    };
    let _ = reply.send(response);
}

/// What the notification thread, the escalation worker and the calendar reader report
/// to the engine.
struct Reports {
    notices: mpsc::UnboundedReceiver<NoticeReport>,
    escalations: mpsc::UnboundedReceiver<Report>,
    calendars: mpsc::UnboundedReceiver<CalendarRead>,
}

async fn run(
    mut engine: Engine,
    timer: WallTimer,
    listener: UnixListener,
    mut chat_calls: mpsc::Receiver<ChatCall>,
    mut platforms: Platforms,
    mut reports: Reports,
    shutdown: impl Future<Output = ()>,
) {
    let (reloaded_tx, mut reloaded) = mpsc::channel::<Reloaded>(1);
    let (posts_tx, mut posts) = mpsc::channel::<PostDone>(8);
    let (calls_tx, mut calls) = mpsc::channel::<Call>(4 * MAX_BATCH);
    let accept = tokio::spawn(accept_loop(listener, calls_tx, engine.events()));
    tokio::pin!(shutdown);
    loop {
        let armed = match engine.next_deadline() {
            Some(deadline) => timer.arm(deadline),
            None => timer.disarm(),
        };
        if let Err(error) = armed {
            tracing::error!(%error, "could not set the check-in timer");
        }
        tokio::select! {
            () = &mut shutdown => break,
            call = calls.recv() => {
                let Some(call) = call else { break };
                let mut batch = vec![call];
                while batch.len() < MAX_BATCH {
                    match calls.try_recv() {
                        Ok(call) => batch.push(call),
                        Err(_) => break,
                    }
                }
                let mut requests = Vec::with_capacity(batch.len());
                let mut replies = Vec::with_capacity(batch.len());
                for call in batch {
                    match call.request {
                        Request::PostStandup { draft, to } => platforms.post_standup(&mut engine, (draft, to), call.reply, &posts_tx),
                        request => {
                            requests.push(request);
                            replies.push(call.reply);
                        }
                    }
                }
                let reloads: Vec<bool> = requests.iter().map(|r| matches!(r, Request::ReloadAdapters)).collect();
                let responses = engine.handle_batch(clock_now(), requests);
                for ((reply, response), reload) in replies.into_iter().zip(responses).zip(reloads) {
                    let response = match reload.then(|| platforms.reload(&reloaded_tx)) {
                        Some(Err(error)) => Response::Error(error),
                        _ => response,
                    };
                    // A client that hung up no longer wants its answer; its item is stored.
                    let _ = reply.send(response);
                }
            }
            Some(read) = reloaded.recv() => platforms.swap(&mut engine, read),
            Some(done) = posts.recv() => posted(&mut engine, done),
            Some(call) = chat_calls.recv() => engine.handle_chat(clock_now(), call),
            Some(report) = reports.notices.recv() => match report {
                NoticeReport::Acted(NoticeAction::OpenDigest) => {
                    let _ = engine.events().send(Event::OpenDigest);
                }
                NoticeReport::Acted(NoticeAction::OpenStandup) => {
                    let _ = engine.events().send(Event::OpenStandup);
                }
                NoticeReport::Acted(NoticeAction::Acknowledge(item)) => {
                    let via = AckVia::Notification;
                    engine.handle_batch(clock_now(), vec![Request::Acknowledge { item: Some(item), via }]);
                }
                NoticeReport::NotShown { item, reason } => {
                    engine.escalation_not_shown(clock_now(), item, &reason);
                }
            },
            Some(read) = reports.calendars.recv() => engine.calendar_read(clock_now(), read),
            Some(report) = reports.escalations.recv() => match report {
                Report::Performed { dispatch, outcome } => {
                    engine.escalation_outcome(clock_now(), dispatch, outcome);
                }
                Report::Reply { at, text } => engine.sms_reply(clock_now(), at, &text),
            },
            fired = timer.wait() => {
                if let Err(error) = fired {
                    tracing::error!(%error, "the check-in timer failed");
                }
                engine.tick(clock_now());
            }
        }
    }
    accept.abort();
}

async fn accept_loop(
    listener: UnixListener,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, calls.clone(), events.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "could not accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

type Lines = Framed<UnixStream, LinesCodec>;

async fn send(lines: &mut Lines, response: &Response) -> bool {
    match serde_json::to_string(response) {
        Ok(text) => lines.send(text).await.is_ok(),
        Err(error) => {
            tracing::error!(%error, "could not encode a response");
            false
        }
    }
}

async fn connection(
    stream: UnixStream,
    calls: mpsc::Sender<Call>,
    events: broadcast::Sender<Event>,
) {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_REQUEST_BYTES));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                let message = format!(
                    "request too large: at most {} KiB per request",
                    MAX_REQUEST_BYTES / 1024
                );
                send(
                    &mut lines,
                    &Response::Error(ApiError::new(ErrorCode::TooLarge, message)),
                )
                .await;
                return;
            }
            Err(LinesCodecError::Io(error)) => {
                if error.kind() == std::io::ErrorKind::InvalidData {
                    let error = ApiError::new(ErrorCode::BadRequest, "request is not UTF-8 text");
                    send(&mut lines, &Response::Error(error)).await;
                }
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                let message = format!("not a Deepwork request: {error}");
                if !send(
                    &mut lines,
                    &Response::Error(ApiError::new(ErrorCode::BadRequest, message)),
                )
                .await
                {
                    return;
                }
                continue;
            }
        };
        if request == Request::Subscribe {
            let receiver = events.subscribe();
            if send(&mut lines, &Response::Ok(Reply::Subscribed)).await {
                stream_events(lines, receiver).await;
            }
            return;
        }
        let (reply, answer) = oneshot::channel();
        if calls.send(Call { request, reply }).await.is_err() {
            return;
        }
        let Ok(response) = answer.await else { return };
        if !send(&mut lines, &response).await {
            return;
        }
    }
}

async fn stream_events(mut lines: Lines, mut events: broadcast::Receiver<Event>) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if lines.send(text).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let Ok(text) = serde_json::to_string(&Event::Lagged { missed }) else { continue };
                    if lines.send(text).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            // Anything the subscriber sends, or its hanging up, ends the stream.
            _ = lines.next() => return,
        }
    }
}

//! The window's connection to the engine: one client for commands, one event stream.

use deepwork_engine::api::UiError;
use deepwork_engine::paths::sibling_program;
use deepwork_engine::{Client, ClientError, Paths};
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter};
use tokio::sync::Mutex;

/// How long the window waits for a resident it started to listen.
const RESIDENT_START: Duration = Duration::from_secs(5);
/// Between attempts to reach an engine that went away, while the window is open.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// Whether a call may be sent again after a broken connection.
#[derive(Clone, Copy, Debug)]
pub enum Repeat {
    /// Reading, or setting to a value: the same twice is the same.
    Safe,
    /// Starting or ending something: sent at most once.
    Once,
}

/// The engine, as the window's commands reach it.
#[derive(Debug)]
pub struct EngineLink {
    socket: PathBuf,
    client: Mutex<Option<Client>>,
}

impl EngineLink {
    pub fn new(socket: PathBuf) -> EngineLink {
        EngineLink {
            socket,
            client: Mutex::new(None),
        }
    }

    /// One typed call on the engine's client. A broken connection is dropped and, for
    /// calls safe to repeat, tried once more on a new one (the resident may have
    /// restarted).
    pub async fn call<T>(
        &self,
        repeat: Repeat,
        call: impl for<'c> Fn(&'c mut Client) -> BoxFuture<'c, Result<T, ClientError>>,
    ) -> Result<T, UiError> {
        let mut client = self.client.lock().await;
        let mut attempts = match repeat {
            Repeat::Safe => 2,
            Repeat::Once => 1,
        };
        loop {
            attempts -= 1;
            let connected = match client.as_mut() {
                Some(connected) => connected,
                None => client.insert(Client::connect(&self.socket).await?),
            };
            match call(connected).await {
                Ok(answer) => return Ok(answer),
                Err(ClientError::Api(refusal)) => return Err(ClientError::Api(refusal).into()),
                Err(broken) => {
                    *client = None;
                    if attempts == 0 {
                        return Err(broken.into());
                    }
                }
            }
        }
    }

    /// Re-emits every engine event to the page as `engine`, and the connection's state as
    /// `engine-connection`, for as long as the app runs.
    pub fn forward_events(&self, app: AppHandle) {
        let socket = self.socket.clone();
        tauri::async_runtime::spawn(async move {
            let mut connected = None;
            loop {
                match subscribe(&socket).await {
                    Ok(mut events) => {
                        if connected != Some(true) {
                            connected = Some(true);
                            let _ = app.emit("engine-connection", true);
                        }
                        while let Some(Ok(event)) = events.next().await {
                            let _ = app.emit("engine", &event);
                        }
                    }
                    Err(error) => tracing::debug!(%error, "engine not reachable"),
                }
                if connected != Some(false) {
                    connected = Some(false);
                    let _ = app.emit("engine-connection", false);
                }
                tokio::time::sleep(RECONNECT_EVERY).await;
            }
        });
    }
}

async fn subscribe(socket: &Path) -> Result<deepwork_engine::EventStream, ClientError> {
    Client::connect(socket).await?.subscribe().await
}

/// Starts `deepwork daemon` when nothing listens on the engine's socket, and waits until
/// it does. The resident outlives the window: it is what keeps focus sessions running.
pub fn ensure_resident(paths: &Paths) -> Result<(), String> {
    if std::os::unix::net::UnixStream::connect(&paths.socket).is_ok() {
        return Ok(());
    }
    let program = sibling_program("deepwork");
    tracing::info!(program = %program.display(), "starting the Deepwork resident");
    let mut command = std::process::Command::new(&program);
    command
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    // Its own process group: a Ctrl-C meant for the window leaves the resident running.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
    let deadline = Instant::now() + RESIDENT_START;
    while Instant::now() < deadline {
        if std::os::unix::net::UnixStream::connect(&paths.socket).is_ok() {
            // Reaped by a thread so it never lingers as a zombie if it exits later.
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{} daemon exited with {status}", program.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "{} daemon did not listen on {} within {} s",
        program.display(),
        paths.socket.display(),
        RESIDENT_START.as_secs()
    ))
}

//! The harness: a real `deepwork daemon` in temp dirs, the CLI run as a process, and a
//! private D-Bus session bus with a recording notification server.

#![allow(dead_code, unused_imports)] // Each test uses part of the harness.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use deepwork_harness::desktop::{Bus, Keyring, Xvfb};

pub const TZ: &str = "Europe/Berlin";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub data: PathBuf,
    pub bus: Option<String>,
    /// The system bus (logind); by default none, so no test reads the machine's own.
    pub system_bus: Option<String>,
    /// An X display: the daemon then runs its tray and hotkey.
    pub display: Option<String>,
    /// A Wayland display's name (`WAYLAND_DISPLAY`): the daemon then runs its tray, and
    /// asks the desktop's GlobalShortcuts portal for the hotkey.
    pub wayland: Option<String>,
    /// The window program the tray launches (`DEEPWORK_APP`).
    pub window: Option<PathBuf>,
    /// A folder searched before PATH, for stand-ins of desktop tools.
    pub tools: Option<PathBuf>,
    /// Certificates to trust (`SSL_CERT_FILE`), for servers with a test certificate.
    pub ca_file: Option<PathBuf>,
    /// The time zone (`TZ`).
    pub tz: String,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Polls `probe` until it gives a value, for up to 20 s.
pub fn eventually<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    eventually_within(Duration::from_secs(20), what, probe)
}

/// Polls `probe` until it gives a value, for up to `limit`.
pub fn eventually_within<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until `check` holds, for up to 20 s.
pub fn until(what: &str, check: &dyn Fn() -> bool) {
    eventually(what, || check().then_some(()));
}

/// A runtime for the servers a test runs beside the daemon (Synapse's clients, the
/// contract servers).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Config for tests that do not look at notifications: no bus needed.
pub const QUIET: &str = "[notifications]\nenabled = false\n";

impl Env {
    pub fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = Env {
            config: dir.path().join("config.toml"),
            socket: dir.path().join("run").join("engine.sock"),
            data: dir.path().join("data"),
            bus: None,
            system_bus: None,
            display: None,
            wayland: None,
            window: None,
            tools: None,
            ca_file: None,
            tz: TZ.to_owned(),
            dir,
        };
        std::fs::write(&env.config, config).expect("write config");
        env
    }

    fn path(&self) -> std::ffi::OsString {
        let system = std::env::var_os("PATH").unwrap_or_default();
        let folders = self
            .tools
            .iter()
            .cloned()
            .chain(std::env::split_paths(&system));
        std::env::join_paths(folders).expect("a valid PATH")
    }

    pub fn database(&self) -> PathBuf {
        self.data.join("deepwork.sqlite3")
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_deepwork"));
        command
            .env_clear()
            .env("PATH", self.path())
            .env("HOME", self.dir.path())
            .env("TZ", &self.tz)
            .env("DEEPWORK_CONFIG", &self.config)
            .env("DEEPWORK_DATA_DIR", &self.data)
            .env("DEEPWORK_SOCKET", &self.socket)
            .env("DEEPWORK_LOG", "info")
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                self.bus.as_deref().unwrap_or("unix:path=/nonexistent/bus"),
            )
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                self.system_bus
                    .as_deref()
                    .unwrap_or("unix:path=/nonexistent/system_bus"),
            );
        if let Some(display) = &self.display {
            command.env("DISPLAY", display);
        }
        if let Some(wayland) = &self.wayland {
            command.env("WAYLAND_DISPLAY", wayland);
        }
        if let Some(window) = &self.window {
            command.env("DEEPWORK_APP", window);
        }
        if let Some(ca_file) = &self.ca_file {
            command.env("SSL_CERT_FILE", ca_file);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command()
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("run deepwork"),
        )
    }

    /// Runs with `input` on standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run deepwork");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("wait"))
    }

    /// Runs and insists on exit code 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "deepwork {args:?} should succeed:\n{run:?}");
        run.stdout
    }

    /// `deepwork push --source S --from F --title T` plus `extra` arguments; must succeed.
    pub fn push(&self, source: &str, from: &str, title: &str, extra: &[&str]) -> String {
        let mut args = vec!["push", "--source", source, "--from", from, "--title", title];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("deepwork {args:?} printed no JSON ({e}):\n{out}"))
    }

    /// The "browser": an `xdg-open` stand-in, found first on the PATH, that writes down
    /// the page it was asked to open. Returns the file it writes that page to.
    pub fn browser_stand_in(&mut self) -> PathBuf {
        let tools = self.dir.path().join("tools");
        std::fs::create_dir(&tools).expect("tools folder");
        let opened = tools.join("opened");
        let xdg_open = tools.join("xdg-open");
        std::fs::write(
            &xdg_open,
            format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", opened.display()),
        )
        .expect("the xdg-open stand-in");
        std::fs::set_permissions(
            &xdg_open,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("an executable xdg-open");
        self.tools = Some(tools);
        opened
    }

    pub fn daemon(&self) -> Daemon {
        let log = self
            .dir
            .path()
            .join(format!("daemon-{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = self
            .command()
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn daemon");
        let mut daemon = Daemon { child, log };
        daemon.wait_ready(&self.socket);
        daemon
    }
}

pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    fn wait_ready(&mut self, socket: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll daemon") {
                panic!(
                    "the daemon exited with {status} before it was ready:\n{}",
                    self.log_text()
                );
            }
            if UnixStream::connect(socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the daemon did not listen within 20 s:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: what a crash does.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }

    /// SIGTERM and wait.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("reap")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes on the engine's socket and reads one answer line.
pub fn raw_exchange(socket: &Path, bytes: &[u8]) -> String {
    use std::io::{BufRead, BufReader};
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The engine may answer and close before reading everything of an oversized line.
    let _ = stream.write_all(bytes);
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("read answer");
    line
}

/// One notification as it arrived on the bus.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: u32,
    /// The bus connection that sent it: the server's signals about it go there.
    pub client: String,
    pub actions: Vec<String>,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub urgency: Option<u8>,
}

struct NotificationServer {
    sent: mpsc::Sender<Received>,
    next_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        self.next_id += 1;
        let _ = self.sent.send(Received {
            id: self.next_id,
            client: header.sender().map(ToString::to_string).unwrap_or_default(),
            actions,
            app_name,
            summary,
            body,
            urgency,
        });
        self.next_id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "body-markup".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "deepwork-test-recorder".into(),
            "deepwork".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A notification server on `address` that records what it is sent.
pub struct Recorder {
    connection: zbus::Connection,
    received: mpsc::Receiver<Received>,
}

impl Recorder {
    pub fn start(address: &str) -> Recorder {
        let (sent, received) = mpsc::channel();
        // zbus runs the served object on its own executor thread once connected.
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address)
                .name("org.freedesktop.Notifications")
                .serve_at(
                    "/org/freedesktop/Notifications",
                    NotificationServer { sent, next_id: 0 },
                )
                .build()
                .await
        })
        .expect("connect the recorder to the private bus");
        Recorder {
            connection,
            received,
        }
    }

    /// The next notification, waiting up to 10 s.
    pub fn next(&self) -> Received {
        self.received
            .recv_timeout(Duration::from_secs(10))
            .expect("a notification should arrive within 10 s")
    }

    /// Clicks the button `action` of a notification, as a user would. The signal goes to
    /// the connection that sent the notification only, as KDE Plasma's server sends it.
    pub fn invoke(&self, notification: &Received, action: &str) {
        zbus::block_on(self.connection.emit_signal(
            Some(notification.client.as_str()),
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "ActionInvoked",
            &(notification.id, action),
        ))
        .expect("emit ActionInvoked");
    }

    /// Closes a notification as a user dismissing it would (reason 2), telling its sender.
    pub fn close(&self, notification: &Received) {
        zbus::block_on(self.connection.emit_signal(
            Some(notification.client.as_str()),
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "NotificationClosed",
            &(notification.id, 2u32),
        ))
        .expect("emit NotificationClosed");
    }

    /// The next notification if one has arrived.
    pub fn try_next(&self) -> Option<Received> {
        self.received.try_recv().ok()
    }

    /// Asserts nothing more arrives for a while.
    pub fn quiet_for(&self, wait: Duration) {
        if let Ok(extra) = self.received.recv_timeout(wait) {
            panic!("no notification expected, got {extra:?}");
        }
    }
}

/// A tray host's registry on the private bus, written from the StatusNotifierItem
/// specification's `org.kde.StatusNotifierWatcher`: items register with it, and it says
/// a host is there to show them.
pub struct TrayHost {
    _connection: zbus::Connection,
    registered: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

struct Watcher {
    registered: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        // An item may register by its object path; then its bus name is the sender.
        let name = if service.starts_with('/') {
            header.sender().map(|s| s.to_string()).unwrap_or(service)
        } else {
            service
        };
        self.registered.lock().expect("registered").push(name);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.registered.lock().expect("registered").clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

impl TrayHost {
    pub fn start(address: &str) -> TrayHost {
        let registered = std::sync::Arc::default();
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address)
                .name("org.kde.StatusNotifierWatcher")
                .serve_at(
                    "/StatusNotifierWatcher",
                    Watcher {
                        registered: std::sync::Arc::clone(&registered),
                    },
                )
                .build()
                .await
        })
        .expect("connect the tray host to the private bus");
        TrayHost {
            _connection: connection,
            registered,
        }
    }

    /// The items registered so far.
    pub fn registered(&self) -> Vec<String> {
        self.registered.lock().expect("registered").clone()
    }
}

/// A desktop's GlobalShortcuts portal on the private bus, written from the xdg-desktop-portal
/// interfaces (`org.freedesktop.portal.GlobalShortcuts`, `.Request`, `.Session`): sessions at
/// `/org/freedesktop/portal/desktop/session/SENDER/TOKEN`, answers as `Request.Response` on
/// `/org/freedesktop/portal/desktop/request/SENDER/TOKEN` (sent before the call returns, so a
/// client must listen first, as the spec asks), one bind per session, and `Activated` when
/// the test presses the shortcut. It records what it was asked to bind.
pub struct PortalStandIn {
    connection: zbus::Connection,
    state: std::sync::Arc<std::sync::Mutex<PortalState>>,
}

/// A shortcut a client asked the stand-in to bind.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundShortcut {
    pub session: String,
    pub id: String,
    pub description: String,
    pub preferred_trigger: String,
}

/// What the user does in the stand-in's (imagined) dialog when a client binds shortcuts.
#[derive(Clone, Debug)]
pub enum PortalDialog {
    /// Accepts the preferred triggers.
    Accept,
    /// Picks another key, which the desktop describes with these words.
    Assign(String),
    /// Cancels: the request ends with response 1.
    Cancel,
}

struct PortalSession {
    path: String,
    owner: String,
    bound: bool,
    /// Closed by its client.
    closed: bool,
    /// Ended by the desktop.
    ended: bool,
}

struct PortalState {
    dialog: PortalDialog,
    sessions: Vec<PortalSession>,
    bound: Vec<BoundShortcut>,
    presses: u64,
}

const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";

/// `/org/freedesktop/portal/desktop/{kind}/SENDER/TOKEN`, the token taken from `options`.
fn portal_path(
    kind: &str,
    sender: &str,
    options: &HashMap<String, zbus::OwnedVariant>,
    key: &str,
) -> zbus::fdo::Result<String> {
    let token = options
        .get(key)
        .and_then(|token| String::try_from(token.try_clone().ok()?).ok())
        .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no {key} in the options")))?;
    let sender = sender.trim_start_matches(':').replace('.', "_");
    Ok(format!("{PORTAL_PATH}/{kind}/{sender}/{token}"))
}

/// Sends `Request.Response` to `owner` on `request`.
async fn respond(
    connection: &zbus::Connection,
    owner: &str,
    request: &str,
    code: u32,
    results: HashMap<&str, zbus::Variant<'_>>,
) -> zbus::fdo::Result<()> {
    connection
        .emit_signal(
            Some(owner),
            request,
            "org.freedesktop.portal.Request",
            "Response",
            &(code, results),
        )
        .await
        .map_err(|error| zbus::fdo::Error::Failed(error.to_string()))
}

fn request_owner(header: &zbus::message::Header<'_>) -> zbus::fdo::Result<String> {
    header
        .sender()
        .map(|sender| sender.to_string())
        .ok_or_else(|| zbus::fdo::Error::Failed("a call without a sender".into()))
}

struct GlobalShortcuts {
    state: std::sync::Arc<std::sync::Mutex<PortalState>>,
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl GlobalShortcuts {
    async fn create_session(
        &self,
        options: HashMap<String, zbus::OwnedVariant>,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        #[zbus(object_server)] server: &zbus::ObjectServer,
    ) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        let owner = request_owner(&header)?;
        let request = portal_path("request", &owner, &options, "handle_token")?;
        let session = portal_path("session", &owner, &options, "session_handle_token")?;
        server
            .at(
                session.as_str(),
                SessionObject {
                    state: std::sync::Arc::clone(&self.state),
                    path: session.clone(),
                },
            )
            .await?;
        self.state
            .lock()
            .expect("portal state")
            .sessions
            .push(PortalSession {
                path: session.clone(),
                owner: owner.clone(),
                bound: false,
                closed: false,
                ended: false,
            });
        // A string, as xdg-desktop-portal sends it (the spec keeps that mistake).
        let results = HashMap::from([("session_handle", zbus::Variant::from(session.as_str()))]);
        respond(connection, &owner, &request, 0, results).await?;
        zbus::OwnedObjectPath::try_from(request)
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    async fn bind_shortcuts(
        &self,
        session_handle: zbus::OwnedObjectPath,
        shortcuts: Vec<(String, HashMap<String, zbus::OwnedVariant>)>,
        _parent_window: String,
        options: HashMap<String, zbus::OwnedVariant>,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> zbus::fdo::Result<zbus::OwnedObjectPath> {
        let owner = request_owner(&header)?;
        let request = portal_path("request", &owner, &options, "handle_token")?;
        let text = |fields: &HashMap<String, zbus::OwnedVariant>, key: &str| {
            fields
                .get(key)
                .and_then(|value| String::try_from(value.try_clone().ok()?).ok())
                .unwrap_or_default()
        };
        let asked: Vec<BoundShortcut> = shortcuts
            .iter()
            .map(|(id, fields)| BoundShortcut {
                session: session_handle.to_string(),
                id: id.clone(),
                description: text(fields, "description"),
                preferred_trigger: text(fields, "preferred_trigger"),
            })
            .collect();
        let dialog = {
            let mut state = self.state.lock().expect("portal state");
            let session = state
                .sessions
                .iter_mut()
                .find(|s| {
                    s.path == session_handle.as_str() && s.owner == owner && !s.closed && !s.ended
                })
                .ok_or_else(|| zbus::fdo::Error::InvalidArgs("no such session".into()))?;
            // "An application can only attempt bind shortcuts of a session once."
            if session.bound {
                return Err(zbus::fdo::Error::AccessDenied(
                    "this session's shortcuts are bound already".into(),
                ));
            }
            session.bound = true;
            state.bound.extend(asked.iter().cloned());
            state.dialog.clone()
        };
        let bound = |describe: &dyn Fn(&BoundShortcut) -> String| {
            let list: Vec<(String, HashMap<String, zbus::Variant<'static>>)> = asked
                .iter()
                .map(|shortcut| {
                    let fields = HashMap::from([
                        (
                            "description".to_owned(),
                            zbus::Variant::from(shortcut.description.clone()),
                        ),
                        (
                            "trigger_description".to_owned(),
                            zbus::Variant::from(describe(shortcut)),
                        ),
                    ]);
                    (shortcut.id.clone(), fields)
                })
                .collect();
            HashMap::from([("shortcuts", zbus::Variant::from(list))])
        };
        let (code, results) = match dialog {
            PortalDialog::Accept => (0, bound(&|shortcut| shortcut.preferred_trigger.clone())),
            PortalDialog::Assign(words) => (0, bound(&|_| words.clone())),
            PortalDialog::Cancel => (1, HashMap::new()),
        };
        respond(connection, &owner, &request, code, results).await?;
        zbus::OwnedObjectPath::try_from(request)
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}

struct SessionObject {
    state: std::sync::Arc<std::sync::Mutex<PortalState>>,
    path: String,
}

#[zbus::interface(name = "org.freedesktop.portal.Session")]
impl SessionObject {
    fn close(&self) {
        let mut state = self.state.lock().expect("portal state");
        if let Some(session) = state.sessions.iter_mut().find(|s| s.path == self.path) {
            session.closed = true;
        }
    }
}

impl PortalStandIn {
    pub fn start(address: &str) -> PortalStandIn {
        let state = std::sync::Arc::new(std::sync::Mutex::new(PortalState {
            dialog: PortalDialog::Accept,
            sessions: Vec::new(),
            bound: Vec::new(),
            presses: 0,
        }));
        let connection = zbus::block_on(async {
            zbus::connection::Builder::address(address)
                .name("org.freedesktop.portal.Desktop")
                .serve_at(
                    PORTAL_PATH,
                    GlobalShortcuts {
                        state: std::sync::Arc::clone(&state),
                    },
                )
                .build()
                .await
        })
        .expect("connect the portal stand-in to the private bus");
        PortalStandIn { connection, state }
    }

    /// What the user does in the dialogs of later binds.
    pub fn dialog(&self, dialog: PortalDialog) {
        self.state.lock().expect("portal state").dialog = dialog;
    }

    /// The shortcuts asked for so far, oldest first.
    pub fn bound(&self) -> Vec<BoundShortcut> {
        self.state.lock().expect("portal state").bound.clone()
    }

    /// The sessions their clients closed.
    pub fn closed(&self) -> Vec<String> {
        let state = self.state.lock().expect("portal state");
        state
            .sessions
            .iter()
            .filter(|s| s.closed)
            .map(|s| s.path.clone())
            .collect()
    }

    /// The newest open session that bound shortcut `id`: its path and its owner.
    fn session_of(state: &PortalState, id: &str) -> (String, String) {
        let session = state
            .sessions
            .iter()
            .rev()
            .find(|s| {
                !s.closed
                    && !s.ended
                    && state
                        .bound
                        .iter()
                        .any(|b| b.session == s.path && b.id == id)
            })
            .unwrap_or_else(|| panic!("no open session bound {id:?}"));
        (session.path.clone(), session.owner.clone())
    }

    /// The user gives shortcut `id` another key in the desktop's settings, which the
    /// desktop describes with `words`: `ShortcutsChanged` to the session's owner.
    pub fn change_trigger(&self, id: &str, words: &str) {
        let (session, owner) = Self::session_of(&self.state.lock().expect("portal state"), id);
        let path = zbus::ObjectPath::try_from(session.as_str()).expect("a session path");
        let fields = HashMap::from([("trigger_description", zbus::Variant::from(words))]);
        zbus::block_on(self.connection.emit_signal(
            Some(owner.as_str()),
            PORTAL_PATH,
            "org.freedesktop.portal.GlobalShortcuts",
            "ShortcutsChanged",
            &(&path, vec![(id, fields)]),
        ))
        .unwrap_or_else(|error| panic!("emit ShortcutsChanged: {error}"));
    }

    /// The desktop ends the session that bound shortcut `id` (as when the user revokes
    /// it): `Session.Closed` on the session's path, to its owner.
    pub fn end_session(&self, id: &str) {
        let (session, owner) = {
            let mut state = self.state.lock().expect("portal state");
            let (session, owner) = Self::session_of(&state, id);
            if let Some(ended) = state.sessions.iter_mut().find(|s| s.path == session) {
                ended.ended = true;
            }
            (session, owner)
        };
        zbus::block_on(self.connection.emit_signal(
            Some(owner.as_str()),
            session.as_str(),
            "org.freedesktop.portal.Session",
            "Closed",
            &(HashMap::<&str, zbus::Variant>::new(),),
        ))
        .unwrap_or_else(|error| panic!("emit Closed: {error}"));
    }

    /// Presses and releases shortcut `id` of the newest open session that bound it:
    /// `Activated`, then `Deactivated`, to the session's owner.
    pub fn press(&self, id: &str) {
        let (session, owner, at) = {
            let mut state = self.state.lock().expect("portal state");
            state.presses += 1;
            let at = state.presses * 1000;
            let (session, owner) = Self::session_of(&state, id);
            (session, owner, at)
        };
        let path = zbus::ObjectPath::try_from(session.as_str()).expect("a session path");
        for (signal, at) in [("Activated", at), ("Deactivated", at + 80)] {
            zbus::block_on(self.connection.emit_signal(
                Some(owner.as_str()),
                PORTAL_PATH,
                "org.freedesktop.portal.GlobalShortcuts",
                signal,
                &(&path, id, at, HashMap::<&str, zbus::Variant>::new()),
            ))
            .unwrap_or_else(|error| panic!("emit {signal}: {error}"));
        }
    }
}

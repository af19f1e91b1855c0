//! The window end to end, as a person uses it: the real `deepwork-app` on a private X
//! server and session bus, driven over WebDriver (tauri-driver + WebKitWebDriver), with
//! a real resident and the real CLI. Screenshots of each view land in
//! `docs/screenshots/`, where the README shows them.

use deepwork_harness::desktop::{Bus, Keyring, Xvfb};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// Children killed when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Desktop {
    home: tempfile::TempDir,
    bus: Bus,
    _x: Xvfb,
    display: String,
    env: Vec<(String, String)>,
    processes: Processes,
    app: PathBuf,
    cli: PathBuf,
    /// A folder searched before PATH, for stand-ins of desktop tools.
    tools: Option<PathBuf>,
}

impl Desktop {
    fn start() -> Desktop {
        let home = tempfile::tempdir().expect("temp dir");
        let bus = Bus::start(home.path());
        let x = Xvfb::start();
        let app = PathBuf::from(env!("CARGO_BIN_EXE_deepwork-app"));
        let cli = app.with_file_name("deepwork");
        assert!(
            cli.is_file(),
            "{} is missing: build the workspace first (`make test` does)",
            cli.display()
        );
        let dir = home.path();
        let env = vec![
            ("HOME".into(), dir.display().to_string()),
            ("TZ".into(), "Europe/Berlin".into()),
            ("DISPLAY".into(), x.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()),
            (
                "DEEPWORK_CONFIG".into(),
                dir.join("config.toml").display().to_string(),
            ),
            (
                "DEEPWORK_DATA_DIR".into(),
                dir.join("data").display().to_string(),
            ),
            (
                "DEEPWORK_SOCKET".into(),
                dir.join("run/engine.sock").display().to_string(),
            ),
            ("XDG_RUNTIME_DIR".into(), dir.display().to_string()),
        ];
        std::fs::write(
            dir.join("config.toml"),
            "[notifications]\nenabled = false\n",
        )
        .expect("config");
        Desktop {
            home,
            bus,
            display: x.display.clone(),
            _x: x,
            env,
            processes: Processes(Vec::new()),
            app,
            cli,
            tools: None,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let system = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            self.tools
                .iter()
                .cloned()
                .chain(std::env::split_paths(&system)),
        )
        .expect("a valid PATH");
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", path)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn socket(&self) -> PathBuf {
        self.home.path().join("run/engine.sock")
    }

    /// `deepwork ARGS`, which must succeed; its output.
    fn cli(&self, args: &[&str]) -> String {
        let output = self
            .command(&self.cli)
            .args(args)
            .output()
            .expect("run deepwork");
        assert!(
            output.status.success(),
            "deepwork {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn start_resident(&mut self) {
        let log = std::fs::File::create(self.home.path().join("resident.log")).expect("log");
        let child = self
            .command(&self.cli)
            .args(["daemon", "--headless"])
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the resident");
        self.processes.0.push(child);
        let deadline = Instant::now() + WAIT;
        while std::os::unix::net::UnixStream::connect(self.socket()).is_err() {
            assert!(Instant::now() < deadline, "the resident did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// tauri-driver on a free port; its WebKitWebDriver starts the app with our env.
    fn start_driver(&mut self) -> u16 {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(self.home.path().join("driver.log")).expect("log");
        let driver = which("tauri-driver");
        let child = self
            .command(&driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tauri-driver");
        self.processes.0.push(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        port
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        self.kill_residents();
    }
}

impl Desktop {
    /// Starts the window through tauri-driver and returns the WebDriver session.
    async fn open_window(&mut self) -> Client {
        let port = self.start_driver();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": self.app.display().to_string() }),
        );
        capabilities.insert("browserName".into(), json!("wry"));
        // tauri-driver listens before the native WebDriver behind it does: a first
        // request can meet a closed connection, so the session is asked for again.
        let deadline = Instant::now() + WAIT;
        loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => return client,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("no WebDriver session yet ({error}); asking again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("a WebDriver session with the window: {error}"),
            }
        }
    }

    /// Kills every `deepwork daemon` serving this desktop's socket (one the window
    /// started lives in its own process group, outside [`Processes`]).
    fn kill_residents(&self) {
        let socket = format!("DEEPWORK_SOCKET={}", self.socket().display());
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let ours = environ
                .split(|b| *b == 0)
                .any(|var| var == socket.as_bytes());
            if ours && cmdline.split(|b| *b == 0).any(|arg| arg == b"daemon") {
                let _ = Command::new("kill").arg(entry.file_name()).status();
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A program on PATH or in ~/.cargo/bin; the test fails (never skips) without it.
fn which(program: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin"));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} is not installed (`make test` installs it)"))
}

async fn text_of(page: &Client, css: &str) -> String {
    match page.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the element at `css` shows `expected`.
async fn wait_text(page: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = text_of(page, css).await;
        if text == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} shows {text:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(page: &Client, css: &str) {
    page.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Replaces the text of the input at `css`.
async fn type_into(page: &Client, css: &str, text: &str) {
    let input = page
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

/// Waits until the element at `css` shows some text, and returns it.
async fn wait_for_text(page: &Client, css: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = text_of(page, css).await;
        if !text.is_empty() {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} shows nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves what the X display shows: the window as a person sees it.
async fn screenshot(display: &str, name: &str) {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
    // Let the page finish drawing what the last step changed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (connection, screen) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let root = &connection.setup().roots[screen];
    let (width, height) = (root.width_in_pixels, root.height_in_pixels);
    let image = connection
        .get_image(ImageFormat::Z_PIXMAP, root.root, 0, 0, width, height, !0)
        .expect("request the image")
        .reply()
        .expect("the image");
    // Xvfb's 24-bit screen is 32 bits a pixel, blue first. Without a window manager the
    // window sits at the top left on a black screen: the picture is the window, the
    // bounding box of what is not black.
    let (width, height) = (usize::from(width), usize::from(height));
    let pixel = |x: usize, y: usize| {
        let at = (y * width + x) * 4;
        [image.data[at + 2], image.data[at + 1], image.data[at]]
    };
    let (mut right, mut bottom) = (0, 0);
    for y in 0..height {
        for x in 0..width {
            if pixel(x, y) != [0, 0, 0] {
                right = right.max(x + 1);
                bottom = bottom.max(y + 1);
            }
        }
    }
    assert!(
        right > 0 && bottom > 0,
        "the screen is black: no window for {name}"
    );
    let rgb: Vec<u8> = (0..bottom)
        .flat_map(|y| (0..right).map(move |x| (x, y)))
        .flat_map(|(x, y)| pixel(x, y))
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let file = std::fs::File::create(dir.join(format!("{name}.png"))).expect("screenshot file");
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        u32::try_from(right).expect("width"),
        u32::try_from(bottom).expect("height"),
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .expect("write the screenshot");
}

/// The CLIPBOARD selection's text's text, asked of its owner as any X client asks (a window of
/// our own, `ConvertSelection` to UTF8_STRING, then the property it was written to).
fn clipboard_text(display: &str) -> String {
    use x11rb::connection::Connection;
    use x11rb::protocol::Event;
    use x11rb::protocol::xproto::{
        AtomEnum, ConnectionExt, CreateWindowAux, EventMask, WindowClass,
    };
    let (connection, screen) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let root = connection.setup().roots[screen].root;
    let window = connection.generate_id().expect("an id");
    connection
        .create_window(
            0,
            window,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_ONLY,
            0,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )
        .expect("a window");
    let atom = |name: &str| {
        connection
            .intern_atom(false, name.as_bytes())
            .expect("intern")
            .reply()
            .expect("an atom")
            .atom
    };
    let (clipboard, utf8, property) =
        (atom("CLIPBOARD"), atom("UTF8_STRING"), atom("DEEPWORK_E2E"));
    connection
        .convert_selection(window, clipboard, utf8, property, x11rb::CURRENT_TIME)
        .expect("ask the owner");
    connection.flush().expect("flush");
    loop {
        match connection.wait_for_event().expect("an event") {
            Event::SelectionNotify(notify) => {
                assert_ne!(
                    notify.property,
                    u32::from(AtomEnum::NONE),
                    "nothing on the clipboard"
                );
                let value = connection
                    .get_property(false, window, property, AtomEnum::ANY, 0, u32::MAX / 4)
                    .expect("read")
                    .reply()
                    .expect("the text");
                return String::from_utf8(value.value).expect("UTF-8");
            }
            _ => continue,
        }
    }
}

async fn press(page: &Client, key: Key) {
    let key = char::from(key);
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    page.perform_actions(keys).await.expect("press a key");
}

/// What has the keyboard focus: its test id, or `name=value` for a form field.
async fn focused(page: &Client) -> String {
    let answer = script(
        page,
        "const e = document.activeElement;
         return e.dataset.testid || (e.name ? `${e.name}=${e.value}` : e.tagName)",
    )
    .await;
    answer.as_str().unwrap_or_default().to_owned()
}

/// Presses Tab until the focused element's description starts with `wanted`.
async fn tab_to(page: &Client, wanted: &str) {
    let mut seen = Vec::new();
    for _ in 0..16 {
        press(page, Key::Tab).await;
        let now = focused(page).await;
        if now.starts_with(wanted) {
            return;
        }
        seen.push(now);
    }
    panic!("Tab never reached {wanted:?}; it went through {seen:?}");
}

async fn script(page: &Client, body: &str) -> Value {
    page.execute(body, Vec::new()).await.expect("run script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_focuses_checks_in_and_works_through_the_digest_in_the_window() {
    let mut desktop = Desktop::start();
    desktop.start_resident();
    let display = desktop.display.clone();
    let page = desktop.open_window().await;

    // Start a 90-minute session from the window.
    click(&page, "label.chip:nth-of-type(3)").await;
    click(&page, "[data-testid=start]").await;
    wait_text(&page, "[data-testid=time-left]", "1 h 30 min left").await;
    let status: Value = serde_json::from_str(&desktop.cli(&["status", "--json"])).expect("json");
    assert!(
        !status["session"].is_null(),
        "the engine runs the session: {status}"
    );

    // Items pushed with the CLI show up live, without a reload.
    desktop.cli(&[
        "push",
        "--source",
        "slack",
        "--from",
        "bob",
        "--title",
        "Can you review the design doc?",
        "--url",
        "https://docs.example.org/d/1",
        "--urgency",
        "update",
    ]);
    desktop.cli(&[
        "push",
        "--source",
        "ci",
        "--from",
        "<b>mallory</b>",
        "--title",
        "<img src=x onerror=\"window.__xss='img'\">",
        "--body",
        "<script>window.__xss='script'</script>",
        "--urgency",
        "update",
    ]);
    // A javascript: link never gets in: the engine refuses it at the door.
    let refused = desktop
        .command(&desktop.cli)
        .args([
            "push",
            "--source",
            "ci",
            "--from",
            "x",
            "--title",
            "t",
            "--url",
            "javascript:alert(1)",
        ])
        .output()
        .expect("run deepwork");
    assert_eq!(refused.status.code(), Some(2));
    desktop.cli(&[
        "push",
        "--source",
        "slack",
        "--from",
        "carol",
        "--title",
        "prod is down, outage on checkout",
    ]);
    // The outage broke through (an emergency is never held); the other two are held.
    wait_text(&page, "[data-testid=held-total]", "2").await;
    screenshot(&display, "now-focusing").await;

    // Check in from the window: the held count resets, the digest has the items.
    click(&page, "button:not(.primary):not(.nav)").await;
    wait_text(&page, "[data-testid=held-total]", "0").await;
    click(&page, "button[data-view=digest]").await;
    wait_text(
        &page,
        "[data-testid=digest-summary]",
        "2 held: 2 updates; 1 emergency shown at once",
    )
    .await;
    // The emergency that broke through is listed, with when it was shown.
    let shown = text_of(&page, "[data-testid=shown-at]").await;
    assert!(shown.starts_with("Broke through: shown at "), "{shown:?}");
    let titles: Vec<String> = {
        let mut titles = Vec::new();
        for element in page
            .find_all(Locator::Css("[data-testid=item-title]"))
            .await
            .expect("titles")
        {
            titles.push(element.text().await.expect("title"));
        }
        titles
    };
    assert!(
        titles.contains(&"Can you review the design doc?".to_owned()),
        "{titles:?}"
    );
    // Hostile text is shown as text: nothing ran, no element was made of it.
    assert!(
        titles.contains(&"<img src=x onerror=\"window.__xss='img'\">".to_owned()),
        "{titles:?}"
    );
    assert_eq!(
        script(&page, "return window.__xss === undefined").await,
        json!(true)
    );
    assert_eq!(
        script(
            &page,
            "return document.querySelectorAll('main img, main script, main b').length"
        )
        .await,
        json!(0)
    );
    // Only the item with a web link offers one.
    let links = page
        .find_all(Locator::Css("button.link"))
        .await
        .expect("links");
    assert_eq!(links.len(), 1, "one http(s) link");
    // And the command refuses it even when the page is made to ask.
    let refusal = page
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('open_link', { url: 'javascript:alert(1)' })
               .then(() => done('opened'), (e) => done(e.message));",
            Vec::new(),
        )
        .await
        .expect("invoke");
    assert_eq!(
        refusal,
        json!("only http and https links are opened, not javascript:")
    );
    // The page cannot be navigated away from the app.
    let _ = script(&page, "location.href = 'https://example.org/'; return true").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        script(&page, "return location.protocol").await,
        json!("tauri:")
    );
    // A command the capability does not grant is refused.
    let denied = page
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('plugin:event|emit', { event: 'engine', payload: {} })
               .then(() => done('allowed'), (e) => done(String(e)));",
            Vec::new(),
        )
        .await
        .expect("invoke");
    assert_ne!(denied, json!("allowed"), "emit is not in the capability");

    // Mark an item done in the window; the engine has it.
    click(&page, "li.item input[type=checkbox]").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let digest: Value =
            serde_json::from_str(&desktop.cli(&["digest", "--json"])).expect("json");
        let done = digest["groups"][0]["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item["done"] == json!(true)));
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "no item marked done: {digest}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&display, "digest").await;

    // Correct a class in the window: the item moves, and the engine learned it.
    let corrected = script(
        &page,
        "const item = [...document.querySelectorAll('li.item')].find(li =>
             li.querySelector('[data-testid=item-title]').textContent === 'Can you review the design doc?');
         const select = item.querySelector('select');
         select.value = 'blocker';
         select.dispatchEvent(new Event('change', { bubbles: true }));
         return true",
    )
    .await;
    assert_eq!(corrected, json!(true));
    wait_text(
        &page,
        "[data-testid=digest-summary]",
        "2 held: 1 blocker, 1 update; 1 emergency shown at once",
    )
    .await;
    let explained = desktop.cli(&[
        "triage",
        "explain",
        "Can you review the design doc?",
        "--from",
        "bob",
        "--source",
        "slack",
    ]);
    assert!(
        explained.starts_with("blocker: like 'Can you review the design doc?'"),
        "the correction applies to the same message from now on: {explained}"
    );

    // The outage was never acknowledged: the Now view says so, and "I'm on it" ends its
    // escalation.
    click(&page, "button[data-view=now]").await;
    wait_text(
        &page,
        "[data-testid=emergency] h2",
        "An emergency is waiting for you",
    )
    .await;
    click(&page, "[data-testid=acknowledge]").await;
    wait_text(&page, "[data-testid=emergency] h2", "").await;
    assert!(
        desktop
            .cli(&["status"])
            .lines()
            .all(|line| !line.starts_with("Emergency")),
        "acknowledged from the window"
    );

    // Stop from the window.
    click(&page, "[data-testid=stop]").await;
    wait_text(&page, "h1", "Ready for deep work").await;
    screenshot(&display, "now-idle").await;

    // The session is in this week's stats; its days export as CSV.
    click(&page, "button[data-view=stats]").await;
    wait_text(&page, "[data-testid=sessions]", "1").await;
    assert_eq!(
        page.find_all(Locator::Css("figure svg rect.bar"))
            .await
            .expect("bars")
            .len(),
        7 + 8,
        "seven days and eight weeks"
    );
    click(&page, "button.export").await;
    let saved = page
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[role=status]"))
        .await
        .expect("a saved message")
        .text()
        .await
        .expect("text");
    let path = saved.strip_prefix("Saved to ").expect("says where");
    let csv = std::fs::read_to_string(path).expect("the CSV file");
    assert!(
        csv.starts_with("week,date,weekday,focus_hours,planned_hours\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 8, "a header and seven days: {csv}");
    screenshot(&display, "stats").await;

    // Settings: an invalid value is refused, naming it, and the file is untouched.
    let config_file = desktop.home.path().join("config.toml");
    let before = std::fs::read_to_string(&config_file).expect("config");
    click(&page, "button[data-view=settings]").await;
    type_into(&page, "input[name=weekly_goal_hours]", "200").await;
    click(&page, "button[type=submit]").await;
    let refusal = wait_for_text(&page, "[data-testid=settings-message]").await;
    assert!(refusal.contains("stats.weekly_goal_hours"), "{refusal}");
    assert_eq!(
        std::fs::read_to_string(&config_file).expect("config"),
        before
    );
    // A valid change lands in config.toml, beside what was there.
    type_into(&page, "input[name=weekly_goal_hours]", "20").await;
    type_into(&page, "input[name=check_in_slots]", "11:00, 15:30").await;
    click(&page, "button[type=submit]").await;
    wait_text(
        &page,
        "[data-testid=settings-message]",
        "Saved to config.toml; in use now.",
    )
    .await;
    let after = std::fs::read_to_string(&config_file).expect("config");
    assert!(after.contains("weekly_goal_hours = 20"), "{after}");
    assert!(
        after.contains(r#"check_in_slots = ["11:00", "15:30"]"#),
        "{after}"
    );
    assert!(
        after.contains("[notifications]\nenabled = false"),
        "kept: {after}"
    );
    screenshot(&display, "settings").await;

    // Plans: a focus block added in the form lands in config.toml and in the week.
    click(&page, "button[data-view=plans]").await;
    wait_for_text(&page, "[data-testid=plan-week]").await;
    click(&page, "button.add").await;
    type_into(&page, "input[aria-label=Days]", "mon-sun").await;
    type_into(&page, "input[aria-label=From]", "03:00").await;
    type_into(&page, "input[aria-label=Until]", "04:30").await;
    type_into(&page, "textarea[name=work_hours]", "mon-fri 09:00-17:30").await;
    click(&page, "button[type=submit]").await;
    wait_text(
        &page,
        "[data-testid=plans-message]",
        "Saved to config.toml; in use now.",
    )
    .await;
    let planned = std::fs::read_to_string(&config_file).expect("config");
    assert!(
        planned
            .contains("[[plans.blocks]]\ndays = \"mon-sun\"\nfrom = \"03:00\"\nuntil = \"04:30\""),
        "{planned}"
    );
    assert!(
        planned.contains("weekly_goal_hours = 20"),
        "kept: {planned}"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let blocks = page
            .find_all(Locator::Css("[data-testid=plan-block]"))
            .await
            .expect("blocks")
            .len();
        if blocks == 7 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{blocks} blocks in the week, not 7"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&display, "plans").await;

    // A second launch hands over to this window, on the view it asked for, and exits.
    let mut second = desktop
        .command(&desktop.app)
        .args(["--view", "digest"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch again");
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(status) = second.try_wait().expect("poll") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second deepwork-app did not hand over and exit");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit}");
    wait_text(&page, "button[aria-current=page]", "Digest").await;
    page.close().await.expect("close the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_starts_a_resident_when_none_runs() {
    let mut desktop = Desktop::start();
    std::fs::write(
        desktop.home.path().join("config.toml"),
        "[session]\ndefault_length = \"45m\"\n[notifications]\nenabled = false\n",
    )
    .expect("config");
    assert!(
        std::os::unix::net::UnixStream::connect(desktop.socket()).is_err(),
        "no resident yet"
    );
    let page = desktop.open_window().await;
    // The Now view only shows the start button once the engine answered.
    page.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=start]"))
        .await
        .expect("the window reached an engine");
    // The window was created hidden and shown by the page once it held data, not by
    // the fallback that shows a page which never reports.
    let log = desktop.home.path().join("driver.log");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("window painted; showing it") {
            break;
        }
        assert!(
            Instant::now() < deadline && !text.contains("did not report a paint"),
            "the page never reported its first paint: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status: Value = serde_json::from_str(&desktop.cli(&["status", "--json"])).expect("json");
    assert!(status["session"].is_null(), "{status}");

    // Keyboard only: Tab reaches the lengths with the configured one chosen, an arrow
    // picks the next, Tab goes on to Start, Enter starts.
    tab_to(&page, "length=").await;
    assert_eq!(focused(&page).await, "length=45", "config's default_length");
    press(&page, Key::Right).await;
    assert_eq!(focused(&page).await, "length=50");
    tab_to(&page, "start").await;
    press(&page, Key::Enter).await;
    wait_text(&page, "[data-testid=time-left]", "50 min left").await;
    let status: Value = serde_json::from_str(&desktop.cli(&["status", "--json"])).expect("json");
    assert!(!status["session"].is_null(), "{status}");
    page.close().await.expect("close the window");
    // The resident outlives the window: sessions go on without it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    desktop.cli(&["status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_connects_a_chat_platform_with_its_token() {
    use deepwork_harness::mattermost::{MattermostContract, TOKEN};
    let server = MattermostContract::start().await;
    let mut desktop = Desktop::start();
    let _keyring = Keyring::start(&desktop.bus.address, desktop.home.path());
    let config = desktop.home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[notifications]\nenabled = false\n[adapters.mattermost]\nserver = \"{}\"\n",
            server.url
        ),
    )
    .expect("config");
    desktop.start_resident();
    let display = desktop.display.clone();
    let page = desktop.open_window().await;

    click(&page, "button[data-view=settings]").await;
    let state = "[data-testid=platform-mattermost] .state";
    let before = wait_for_text(&page, state).await;
    assert!(
        before.starts_with("needs attention: no personal access token"),
        "{before}"
    );
    click(
        &page,
        "[data-testid=platform-mattermost] button[data-action=connect]",
    )
    .await;
    type_into(&page, "input[name=token]", TOKEN).await;
    click(&page, ".connect button[type=submit]").await;
    // The engine reconnects with the token: no restart, and the page hears it live.
    wait_text(&page, state, "connected").await;
    screenshot(&display, "settings-platforms").await;
    assert!(
        !std::fs::read_to_string(&config)
            .expect("config")
            .contains(TOKEN),
        "the token is in the keyring, not the config"
    );

    desktop.cli(&["start", "--for", "1h"]);
    let deadline = Instant::now() + WAIT;
    while server.now().status != "dnd" {
        assert!(Instant::now() < deadline, "Mattermost never showed dnd");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    desktop.cli(&["stop"]);
    page.close().await.expect("close the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_signs_in_to_teams_with_a_device_code() {
    use deepwork_harness::teams::{CLIENT_ID, TeamsContract, USER_CODE};
    let server = TeamsContract::start().await;
    let mut desktop = Desktop::start();
    let _keyring = Keyring::start(&desktop.bus.address, desktop.home.path());
    std::fs::write(
        desktop.home.path().join("config.toml"),
        format!(
            "[notifications]\nenabled = false\n[adapters.teams]\naccount = \"alice@contoso.com\"\nclient_id = \"{CLIENT_ID}\"\nauthority = \"{}\"\ngraph = \"{}\"\n",
            server.authority, server.graph
        ),
    )
    .expect("config");
    desktop.start_resident();
    let page = desktop.open_window().await;

    click(&page, "button[data-view=settings]").await;
    let state = "[data-testid=platform-teams] .state";
    let before = wait_for_text(&page, state).await;
    assert!(before.contains("is not signed in"), "{before}");
    click(
        &page,
        "[data-testid=platform-teams] button[data-action=sign-in]",
    )
    .await;
    click(&page, ".connect button.primary").await;
    // The code to enter shows while the app waits for the sign-in to finish.
    wait_text(&page, ".connect .code", USER_CODE).await;
    wait_text(&page, state, "connected").await;
    desktop.cli(&["start", "--for", "1h"]);
    let deadline = Instant::now() + WAIT;
    while server.now().availability() != "DoNotDisturb" {
        assert!(
            Instant::now() < deadline,
            "Teams never showed do not disturb"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    desktop.cli(&["stop"]);
    page.close().await.expect("close the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_signs_in_to_slack_in_the_browser() {
    use deepwork_harness::slack::{CLIENT_ID, SlackContract};
    let server = SlackContract::start().await;
    let mut desktop = Desktop::start();
    let _keyring = Keyring::start(&desktop.bus.address, desktop.home.path());
    std::fs::write(
        desktop.home.path().join("config.toml"),
        format!(
            "[notifications]\nenabled = false\n[adapters.slack]\nworkspace = \"acme.slack.com\"\napi = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n",
            server.api
        ),
    )
    .expect("config");
    // The browser: an xdg-open that loads the page it is given, following Slack's
    // redirect back to the app's loopback address, as a person approving would.
    let tools = desktop.home.path().join("tools");
    std::fs::create_dir(&tools).expect("tools");
    std::fs::write(
        tools.join("xdg-open"),
        "#!/bin/sh\nexec python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()' \"$1\"\n",
    )
    .expect("xdg-open stand-in");
    std::fs::set_permissions(
        tools.join("xdg-open"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("executable");
    desktop.tools = Some(tools);
    desktop.start_resident();
    let page = desktop.open_window().await;

    click(&page, "button[data-view=settings]").await;
    let state = "[data-testid=platform-slack] .state";
    let before = wait_for_text(&page, state).await;
    assert!(before.starts_with("needs attention"), "{before}");
    click(
        &page,
        "[data-testid=platform-slack] button[data-action=sign-in]",
    )
    .await;
    click(&page, ".connect button.primary").await;
    wait_text(&page, state, "connected").await;
    page.close().await.expect("close the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_intent_becomes_a_standup_edited_and_posted_to_a_matrix_room() {
    use deepwork_harness::synapse::Synapse;
    let synapse = Synapse::start();
    let alice = synapse.register("alice").await;
    let bob = synapse.register("bob").await;
    let room = bob
        .create_room(json!({ "preset": "public_chat", "name": "Standup", "room_alias_name": "standup", "invite": [alice.user_id] }))
        .await;
    alice.join(&room).await;

    let mut desktop = Desktop::start();
    let _keyring = Keyring::start(&desktop.bus.address, desktop.home.path());
    std::fs::write(
        desktop.home.path().join("config.toml"),
        format!(
            "[notifications]\nenabled = false\n[standup]\npost_to = \"matrix:#standup:localhost\"\n[adapters.matrix]\nhomeserver = \"{}\"\nuser_id = \"{}\"\n",
            synapse.base(),
            alice.user_id
        ),
    )
    .expect("config");
    let mut store = desktop
        .command(&desktop.cli)
        .args(["adapters", "token", "matrix"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("store the token");
    std::io::Write::write_all(
        store.stdin.as_mut().expect("stdin"),
        format!("{}\n", alice.token).as_bytes(),
    )
    .expect("type the token");
    drop(store.stdin.take());
    assert!(store.wait().expect("stored").success());
    desktop.start_resident();
    desktop.cli(&["start", "--for", "1h", "--intent", "Finish the billing RFC"]);
    desktop.cli(&["stop"]);

    let display = desktop.display.clone();
    let page = desktop.open_window().await;
    // The session ended with its intent unsaid: one click says how it went.
    wait_text(
        &page,
        "[data-testid=outcome-card] h2",
        "How did “Finish the billing RFC” go?",
    )
    .await;
    type_into(&page, "[data-testid=outcome-note]", "sent to Ana").await;
    click(&page, "[data-testid=outcome-done]").await;
    wait_text(&page, "[data-testid=outcome-card] h2", "").await;

    click(&page, "button[data-view=standup]").await;
    let shipped = page
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=standup-shipped]"))
        .await
        .expect("the shipped section");
    let deadline = Instant::now() + WAIT;
    loop {
        let value = shipped
            .prop("value")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        if value == "Finish the billing RFC — sent to Ana" {
            break;
        }
        assert!(Instant::now() < deadline, "shipped reads {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Two lines with an empty one between, typed as a person would.
    type_into(
        &page,
        "[data-testid=standup-today]",
        "Pair with Ana on the <b>ledger</b>",
    )
    .await;
    press(&page, Key::Enter).await;
    press(&page, Key::Enter).await;
    let today = page
        .find(Locator::Css("[data-testid=standup-today]"))
        .await
        .expect("the today section");
    today.send_keys("Review @room's PRs").await.expect("type");
    screenshot(&display, "standup").await;
    click(&page, "[data-testid=standup-post]").await;
    wait_text(
        &page,
        "[data-testid=standup-message]",
        "Posted to matrix:#standup:localhost",
    )
    .await;
    let posted = wait_for_text(&page, "[data-testid=standup-posted]").await;
    assert!(
        posted.starts_with("Posted to matrix:#standup:localhost"),
        "{posted}"
    );
    click(&page, "[data-testid=standup-copy]").await;
    wait_text(&page, "[data-testid=standup-message]", "Copied as Markdown").await;
    let copied = tokio::task::spawn_blocking(move || clipboard_text(&display))
        .await
        .expect("the clipboard");
    let display = desktop.display.clone();

    // The message lands in the room, as bob reads it: escaped, one entry a line, no
    // room-wide mention.
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let recent = bob.recent(&room).await;
        if let Some((_, _, body)) = recent
            .iter()
            .find(|(sender, _, _)| *sender == alice.user_id)
        {
            break body.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no standup in the room: {recent:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.starts_with("**Standup "), "{body}");
    assert_eq!(
        copied, body,
        "the clipboard holds what was posted, as Markdown"
    );
    assert!(
        body.contains("*Shipped*\n- Finish the billing RFC — sent to Ana\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "*Today*\n- Pair with Ana on the \\<b\\>ledger\\</b\\>\n- Review @\u{2060}room's PRs\n"
        ),
        "{body}"
    );

    // Kept in the history, and the week's review counts the intent.
    let history = desktop.cli(&["standup", "--history", "1"]);
    assert!(
        history.contains("Posted to matrix:#standup:localhost"),
        "{history}"
    );
    click(&page, "button[data-view=stats]").await;
    wait_text(&page, "[data-testid=intents]", "1 done").await;
    screenshot(&display, "stats-review").await;
    page.close().await.expect("close the window");
}

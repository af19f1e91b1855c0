//! A real Radicale CalDAV server on loopback (from PyPI, installed by scripts/setup.sh),
//! with one user signing in by Basic auth, and what a test needs to put events in it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the server knows.
pub const USER: &str = "ana";
/// Her password.
pub const PASSWORD: &str = "focus-pass-1";

/// A Radicale server on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct Radicale {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    python: PathBuf,
}

fn python() -> PathBuf {
    crate::tool_python("radicale", "Radicale")
}

impl Radicale {
    pub fn start() -> Radicale {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let d = dir.path().display();
        std::fs::write(dir.path().join("users"), format!("{USER}:{PASSWORD}\n")).expect("users");
        let config = format!(
            "[server]\nhosts = 127.0.0.1:{port}\n\
             [auth]\ntype = htpasswd\nhtpasswd_filename = {d}/users\nhtpasswd_encryption = plain\n\
             [storage]\nfilesystem_folder = {d}/collections\n\
             [rights]\ntype = owner_only\n\
             [logging]\nlevel = warning\n"
        );
        std::fs::write(dir.path().join("config"), config).expect("config");
        let mut radicale = Radicale {
            child: None,
            dir,
            port,
            python: python(),
        };
        radicale.resume();
        radicale
    }

    /// A calendar collection of the user's.
    pub fn calendar_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{USER}/{name}/", self.port)
    }

    /// Starts (or restarts) the server and waits until it listens.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("radicale.log")).expect("log");
        let child = Command::new(&self.python)
            .args(["-m", "radicale", "--config"])
            .arg(self.dir.path().join("config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn radicale");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().expect("poll")) {
                panic!("radicale exited with {status}:\n{}", self.log());
            }
            if self
                .child
                .as_ref()
                .is_some_and(|c| crate::listens(c.id(), self.port))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("radicale did not listen within 30 s:\n{}", self.log());
    }

    /// Stops the server (the calendars stay on disk).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("radicale.log")).unwrap_or_default()
    }

    fn request(&self, method: &str, url: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("a method"),
                url,
            )
            .basic_auth(USER, Some(PASSWORD))
    }

    /// Creates the calendar `name` (MKCALENDAR).
    pub async fn make_calendar(&self, name: &str) {
        let response = self
            .request("MKCALENDAR", &self.calendar_url(name))
            .send()
            .await
            .expect("MKCALENDAR");
        assert_eq!(response.status().as_u16(), 201, "MKCALENDAR {name}");
    }

    /// Puts one event (a whole VCALENDAR object) under `uid`.
    pub async fn put(&self, calendar: &str, uid: &str, object: &str) {
        let url = format!("{}{uid}.ics", self.calendar_url(calendar));
        let response = self
            .request("PUT", &url)
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(object.replace("\r\n", "\n").replace('\n', "\r\n"))
            .send()
            .await
            .expect("PUT");
        assert!(
            response.status().is_success(),
            "PUT {uid}: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }

    /// Removes the event stored under `uid`.
    pub async fn delete(&self, calendar: &str, uid: &str) {
        let url = format!("{}{uid}.ics", self.calendar_url(calendar));
        let response = self.request("DELETE", &url).send().await.expect("DELETE");
        assert!(response.status().is_success(), "DELETE {uid}");
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
    }
}

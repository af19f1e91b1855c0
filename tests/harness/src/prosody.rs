//! A real Prosody (the Debian package) on 127.0.0.1, with a private config, data
//! directory and a self-signed certificate for `localhost`, started and stopped by the
//! test. Deepwork's own connection uses STARTTLS and trusts the certificate through
//! `SSL_CERT_FILE` ([`Prosody::ca_file`]); the test's other people connect in plain
//! text from this process, which Prosody allows on loopback only here.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::parsers::jid::{BareJid, Jid};
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Show, Type as PresenceType};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event, Stanza};

/// The XMPP domain.
pub const DOMAIN: &str = "localhost";

/// A running Prosody; stopped when dropped.
#[derive(Debug)]
pub struct Prosody {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The client port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Prosody {
    /// Writes a config and a certificate and starts Prosody on a free port.
    pub fn start() -> Prosody {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let path = dir.path();
        std::fs::create_dir(path.join("data")).expect("data dir");
        run(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost",
                    "-keyout",
                ])
                .arg(path.join("localhost.key"))
                .arg("-out")
                .arg(path.join("localhost.crt")),
            "openssl req",
        );
        let config = format!(
            r#"-- Written by Deepwork's test harness.
run_as_root = true
daemonize = false
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{dir}/prosody.log" }} }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "offline"; "posix" }}
modules_disabled = {{ "s2s" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
authentication = "internal_hashed"
storage = "internal"
allow_registration = false
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
limits = {{ c2s = {{ rate = "10mb/s" }} }}
certificates = "{dir}"
VirtualHost "{DOMAIN}"
    ssl = {{ key = "{dir}/localhost.key"; certificate = "{dir}/localhost.crt" }}
"#,
            dir = path.display(),
        );
        std::fs::write(path.join("prosody.cfg.lua"), config).expect("config");
        let child = Command::new("prosody")
            .args(["-F", "--config"])
            .arg(path.join("prosody.cfg.lua"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prosody (apt-get install prosody)");
        let mut prosody = Prosody {
            dir,
            child: Some(child),
            port,
        };
        prosody.wait_listening();
        prosody
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let ours = |prosody: &Prosody| {
            prosody
                .child
                .as_ref()
                .is_some_and(|c| crate::listens(c.id(), prosody.port))
        };
        while !ours(self) {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("prosody exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "prosody never listened: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Prosody's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prosody.log")).unwrap_or_default()
    }

    /// The certificate to trust, as a CA bundle for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("localhost.crt")
    }

    /// `host:port` for clients.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates an account.
    pub fn register(&self, user: &str, password: &str) {
        run(
            Command::new("prosodyctl")
                .arg("--config")
                .arg(self.config())
                .args(["register", user, DOMAIN, password]),
            "prosodyctl register",
        );
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("prosody.cfg.lua")
    }

    /// Stops the server, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("prosody")
            .args(["-F", "--config"])
            .arg(self.config())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prosody");
        self.child = Some(child);
        self.wait_listening();
    }
}

/// An online presence: `(show, status)`.
pub type Shown = (Option<String>, Option<String>);

/// What a test person's client has seen.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The latest presence from each full JID: `(show, status)`, `None` once offline.
    pub presences: Vec<(String, Option<Shown>)>,
    /// Chat messages received: `(from, body, marked as an auto-reply)`.
    pub messages: Vec<(String, String, bool)>,
    /// Subscription requests received, by bare JID.
    pub subscribe_requests: Vec<String>,
}

impl Seen {
    /// What `full_jid` shows, if it is online.
    pub fn presence_of(&self, full_jid: &str) -> Option<Shown> {
        self.presences
            .iter()
            .rev()
            .find(|(from, _)| from == full_jid)
            .and_then(|(_, presence)| presence.clone())
    }
}

/// A person on the server, connected in plain text from the test.
#[derive(Debug)]
pub struct Person {
    /// Their JID.
    pub jid: BareJid,
    commands: tokio::sync::mpsc::Sender<Stanza>,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Person {
    /// Signs `user` in at `address` (`127.0.0.1:port`) and announces them online; answers subscription requests with
    /// approval, as a friendly client would.
    pub async fn connect(address: &str, user: &str, password: &str) -> Person {
        let jid: BareJid = format!("{user}@{DOMAIN}").parse().expect("jid");
        let mut client = Client::new_plaintext(
            jid.clone(),
            password,
            DnsConfig::addr(address),
            Timeouts::default(),
        );
        let online = tokio::time::timeout(Duration::from_secs(15), async {
            while let Some(event) = futures_util::StreamExt::next(&mut client).await {
                if event.is_online() {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(online, Ok(true), "{user} could not sign in at {address}");
        client
            .send_stanza(Presence::available().into())
            .await
            .expect("presence");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (commands, mut outgoing) = tokio::sync::mpsc::channel::<Stanza>(16);
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    stanza = outgoing.recv() => {
                        let Some(stanza) = stanza else { return };
                        if client.send_stanza(stanza).await.is_err() {
                            return;
                        }
                    }
                    event = futures_util::StreamExt::next(&mut client) => {
                        let Some(event) = event else { return };
                        let Event::Stanza(stanza) = event else { continue };
                        if let Some(answer) = record_stanza(&record, stanza)
                            && client.send_stanza(answer).await.is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Person {
            jid,
            commands,
            seen,
            task,
        }
    }

    /// What they have seen so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("seen").clone()
    }

    /// Sends a chat message.
    pub async fn say(&self, to: &str, body: &str) {
        let to: Jid = to.parse().expect("jid");
        let message = Message::chat(to).with_body(Lang::from(""), body.to_owned());
        self.commands.send(message.into()).await.expect("say");
    }

    /// Asks to see `to`'s presence (they must approve).
    pub async fn subscribe_to(&self, to: &str) {
        let to: Jid = to.parse().expect("jid");
        let presence = Presence::new(PresenceType::Subscribe).with_to(to);
        self.commands
            .send(presence.into())
            .await
            .expect("subscribe");
    }

    /// Signs out.
    pub async fn leave(self) {
        let _ = self
            .commands
            .send(Presence::new(PresenceType::Unavailable).into())
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps what a stanza says; returns the answer to send, if any.
fn record_stanza(seen: &Mutex<Seen>, stanza: Stanza) -> Option<Stanza> {
    let mut seen = seen.lock().expect("seen");
    match stanza {
        Stanza::Presence(presence) => {
            let from = presence.from.as_ref()?.to_string();
            match presence.type_ {
                PresenceType::Subscribe => {
                    seen.subscribe_requests.push(from.clone());
                    let approve = Presence::new(PresenceType::Subscribed).with_to(presence.from?);
                    return Some(approve.into());
                }
                PresenceType::None => {
                    let show = presence.show.map(|show| {
                        match show {
                            Show::Away => "away",
                            Show::Chat => "chat",
                            Show::Dnd => "dnd",
                            Show::Xa => "xa",
                        }
                        .to_owned()
                    });
                    let status = presence.statuses.values().next().cloned();
                    seen.presences.push((from, Some((show, status))));
                }
                PresenceType::Unavailable => seen.presences.push((from, None)),
                _ => {}
            }
        }
        Stanza::Message(message) if message.type_ != MessageType::Error => {
            let from = message.from.as_ref()?.to_string();
            let body = message.bodies.values().next()?.clone();
            let marked = message
                .payloads
                .iter()
                .any(|p| p.ns().starts_with("urn:deepwork:auto-reply"));
            seen.messages.push((from, body, marked));
        }
        _ => {}
    }
    None
}

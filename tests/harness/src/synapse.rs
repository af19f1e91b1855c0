//! A real Synapse on loopback, started and stopped by the tests, and a minimal Matrix
//! client for the other people in the story.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SHARED_SECRET: &str = "deepwork-test-registration-secret";

/// A Synapse homeserver on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct Synapse {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    python: PathBuf,
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("DEEPWORK_SYNAPSE_PYTHON") {
        return python.into();
    }
    crate::tool_python("synapse", "Synapse")
}

impl Synapse {
    pub fn start() -> Synapse {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let d = dir.path().display();
        let limit = "{per_second: 10000, burst_count: 10000}";
        let config = format!(
            r#"server_name: "localhost"
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
media_store_path: {d}/media
signing_key_path: {d}/signing.key
registration_shared_secret: "{SHARED_SECRET}"
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: false
presence:
  enabled: true
rc_message: {limit}
rc_registration: {limit}
rc_presence:
  per_user: {limit}
rc_login:
  address: {limit}
  account: {limit}
  failed_attempts: {limit}
rc_joins:
  local: {limit}
  remote: {limit}
rc_invites:
  per_room: {limit}
  per_user: {limit}
"#
        );
        std::fs::write(dir.path().join("homeserver.yaml"), config).expect("config");
        let python = python();
        let status = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(dir.path().join("homeserver.yaml"))
            .arg("--generate-keys")
            .stdout(Stdio::null())
            .status()
            .expect("run synapse --generate-keys");
        assert!(status.success(), "synapse --generate-keys failed");
        let mut synapse = Synapse {
            child: None,
            dir,
            port,
            python,
        };
        synapse.resume();
        synapse
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (or restarts) the server process and waits until it answers.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("homeserver.log")).expect("log");
        let child = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir.path().join("homeserver.yaml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn synapse");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().expect("poll")) {
                panic!("synapse exited with {status}:\n{}", self.log());
            }
            let ours = self
                .child
                .as_ref()
                .is_some_and(|c| crate::listens(c.id(), self.port));
            if ours && client_api_answers(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("synapse did not answer within 60 s:\n{}", self.log());
    }

    /// Stops the server process (the data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("homeserver.log")).unwrap_or_default()
    }

    /// Registers a user with the shared-secret admin API.
    pub async fn register(&self, name: &str) -> Person {
        let http = reqwest::Client::new();
        let url = format!("{}/_synapse/admin/v1/register", self.base());
        let nonce: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
        let password = format!("{name}-password");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SHARED_SECRET.as_bytes()).unwrap();
        mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
        let mac: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let body = json!({ "nonce": nonce, "username": name, "password": password, "admin": false, "mac": mac });
        let registered: Value = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Person {
            http,
            base: self.base(),
            user_id: registered["user_id"].as_str().expect("user_id").to_owned(),
            token: registered["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            txn: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the client API answers, checked with a plain HTTP/1.0 request (the test
/// thread has no async runtime here).
fn client_api_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /_matrix/client/versions HTTP/1.0\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// Someone on the homeserver, with just enough of a client.
#[derive(Debug)]
pub struct Person {
    http: reqwest::Client,
    base: String,
    pub user_id: String,
    pub token: String,
    txn: std::sync::atomic::AtomicU64,
}

impl Person {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_matrix/client/v3{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    pub async fn create_room(&self, body: Value) -> String {
        self.call(reqwest::Method::POST, "/createRoom", Some(body))
            .await["room_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/join/{}", encode(room)),
            Some(json!({})),
        )
        .await;
    }

    pub async fn send(&self, room: &str, body: &str) {
        let txn = self.txn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = format!("/rooms/{}/send/m.room.message/t{txn}", encode(room));
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "msgtype": "m.text", "body": body })),
        )
        .await;
    }

    pub async fn set_presence(&self, presence: &str, status_msg: &str) {
        let path = format!("/presence/{}/status", encode(&self.user_id));
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "presence": presence, "status_msg": status_msg })),
        )
        .await;
    }

    pub async fn presence_of(&self, user_id: &str) -> (String, Option<String>) {
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/presence/{}/status", encode(user_id)),
                None,
            )
            .await;
        (
            value["presence"].as_str().unwrap_or("").to_owned(),
            value["status_msg"].as_str().map(str::to_owned),
        )
    }

    /// The bodies and msgtypes of the newest messages in a room, newest first.
    pub async fn recent(&self, room: &str) -> Vec<(String, String, String)> {
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=20", encode(room)),
                None,
            )
            .await;
        value["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| {
                (
                    e["sender"].as_str().unwrap_or("").to_owned(),
                    e["content"]["msgtype"].as_str().unwrap_or("").to_owned(),
                    e["content"]["body"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'@'
            | b':'
            | b'!' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

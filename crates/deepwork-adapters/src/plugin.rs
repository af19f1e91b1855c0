//! External plugins: any executable that speaks Deepwork's plugin protocol — one JSON
//! object per line over stdin/stdout, a versioned `hello` first (see `docs/plugins.md`).
//! This is how a platform nobody built in gets added.

use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// The protocol version this Deepwork speaks.
pub const PROTOCOL: u64 = 1;
/// Time a plugin has to answer, beyond a fetch's own wait.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// The longest line a plugin may write (a batch of messages is one line); a longer one
/// is an error, not a resident that grows without bound.
const MAX_LINE_BYTES: usize = 4 << 20;

/// How to run a plugin.
#[derive(Clone, Debug)]
pub struct PluginCommand {
    /// The adapter's name, as in config.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment for it, e.g. its token from the keyring.
    pub env: Vec<(String, String)>,
}

/// What the plugin said about itself in `hello`.
#[derive(Clone, Debug, Deserialize)]
pub struct PluginInfo {
    /// The protocol version it speaks.
    pub protocol: u64,
    /// The roles it plays: `status`, `messages`, `reply`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The longest status text its platform takes.
    #[serde(default)]
    pub status_limit: Option<usize>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: FramedRead<ChildStdout, LinesCodec>,
    next_id: u64,
    info: PluginInfo,
}

/// An adapter backed by a plugin process, started on first use and again after it exits.
pub struct PluginAdapter {
    command: PluginCommand,
    process: Mutex<Option<Running>>,
}

impl std::fmt::Debug for PluginAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginAdapter")
            .field("name", &self.command.name)
            .finish_non_exhaustive()
    }
}

impl PluginAdapter {
    /// An adapter for `command`; nothing runs until the first call.
    pub fn new(command: PluginCommand) -> Self {
        PluginAdapter {
            command,
            process: Mutex::new(None),
        }
    }

    fn unavailable(&self, detail: &str) -> AdapterError {
        AdapterError::unavailable(&self.command.name, detail)
    }

    async fn start(&self) -> Result<Running, AdapterError> {
        let mut child = Command::new(&self.command.program)
            .args(&self.command.args)
            .envs(self.command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AdapterError::Unauthorized {
                adapter: self.command.name.clone(),
                fix: format!(
                    "cannot run the plugin {}: {e}",
                    self.command.program.display()
                ),
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(self.unavailable("the plugin's pipes could not be opened"));
        };
        let placeholder = PluginInfo {
            protocol: PROTOCOL,
            roles: Vec::new(),
            status_limit: None,
        };
        let mut running = Running {
            child,
            stdin,
            stdout: FramedRead::new(stdout, LinesCodec::new_with_max_length(MAX_LINE_BYTES)),
            next_id: 0,
            info: placeholder,
        };
        let hello = self
            .exchange(
                &mut running,
                "hello",
                json!({ "protocol": PROTOCOL, "deepwork": env!("CARGO_PKG_VERSION") }),
                Duration::ZERO,
            )
            .await?;
        let info: PluginInfo = serde_json::from_value(hello)
            .map_err(|e| AdapterError::malformed(&self.command.name, &format!("hello: {e}")))?;
        if info.protocol != PROTOCOL {
            return Err(AdapterError::Unauthorized {
                adapter: self.command.name.clone(),
                fix: format!(
                    "the plugin speaks protocol {}, this Deepwork speaks {PROTOCOL}; update one of them",
                    info.protocol
                ),
            });
        }
        running.info = info;
        Ok(running)
    }

    /// One request and its answer; answers to earlier, abandoned requests are skipped.
    async fn exchange(
        &self,
        running: &mut Running,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Result<Value, AdapterError> {
        running.next_id += 1;
        let id = running.next_id;
        let mut line = json!({ "id": id, "method": method, "params": params }).to_string();
        line.push('\n');
        running
            .stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| self.unavailable(&format!("cannot write to the plugin: {e}")))?;
        let read = async {
            loop {
                let line = match running.stdout.next().await {
                    Some(Ok(line)) => line,
                    Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                        return Err(AdapterError::malformed(
                            &self.command.name,
                            &format!("a line over {} MiB", MAX_LINE_BYTES >> 20),
                        ));
                    }
                    Some(Err(LinesCodecError::Io(e))) => {
                        return Err(self.unavailable(&e.to_string()));
                    }
                    None => return Err(self.unavailable("the plugin exited")),
                };
                let Ok(answer) = serde_json::from_str::<Value>(&line) else {
                    return Err(AdapterError::malformed(
                        &self.command.name,
                        &format!("not JSON: {line:.200}"),
                    ));
                };
                if answer["id"].as_u64() == Some(id) {
                    return Ok(answer);
                }
            }
        };
        let answer = tokio::time::timeout(wait + ANSWER_WITHIN, read)
            .await
            .map_err(|_| self.unavailable(&format!("no answer to {method} in time")))??;
        if let Some(error) = answer.get("error") {
            return Err(self.plugin_error(error));
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    fn plugin_error(&self, error: &Value) -> AdapterError {
        let adapter = self.command.name.clone();
        let message = error["message"].as_str().unwrap_or("no message").to_owned();
        match error["kind"].as_str() {
            Some("rate_limited") => AdapterError::RateLimited {
                adapter,
                retry_after: Duration::from_millis(
                    error["retry_after_ms"].as_u64().unwrap_or(5_000),
                ),
            },
            Some("unauthorized") => AdapterError::Unauthorized {
                adapter,
                fix: message,
            },
            Some("unavailable") => AdapterError::Unavailable {
                adapter,
                detail: message,
            },
            _ => AdapterError::Malformed {
                adapter,
                detail: message,
            },
        }
    }

    async fn call(
        &self,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Result<Value, AdapterError> {
        let mut process = self.process.lock().await;
        if process
            .as_mut()
            .is_some_and(|p| p.child.try_wait().ok().flatten().is_some())
        {
            *process = None;
        }
        if process.is_none() {
            *process = Some(self.start().await?);
        }
        let Some(running) = process.as_mut() else {
            return Err(self.unavailable("not started"));
        };
        let result = self.exchange(running, method, params, wait).await;
        if matches!(
            &result,
            Err(AdapterError::Unavailable { .. } | AdapterError::Malformed { .. })
        ) {
            // A broken pipe, a hang or a garbled stream: start afresh next time.
            *process = None;
        }
        result
    }

    /// Whether the plugin said in `hello` that it plays `role`.
    async fn plays(&self, role: &str) -> Result<bool, AdapterError> {
        Ok(self.info().await?.roles.iter().any(|r| r == role))
    }

    /// What the plugin said in `hello` (starting it if needed).
    pub async fn info(&self) -> Result<PluginInfo, AdapterError> {
        let mut process = self.process.lock().await;
        if process.is_none() {
            *process = Some(self.start().await?);
        }
        process
            .as_ref()
            .map(|p| p.info.clone())
            .ok_or_else(|| self.unavailable("not started"))
    }
}

#[async_trait]
impl StatusAdapter for PluginAdapter {
    fn name(&self) -> &str {
        &self.command.name
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        if !self.plays("status").await? {
            return Ok(StatusSnapshot {
                adapter: self.command.name.clone(),
                data: Value::Null,
            });
        }
        let result = self.call("snapshot", json!({}), Duration::ZERO).await?;
        Ok(StatusSnapshot {
            adapter: self.command.name.clone(),
            data: result["snapshot"].clone(),
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        if !self.plays("status").await? {
            return Ok(());
        }
        let params = json!({ "text": status.text, "until": status.until.to_string() });
        self.call("set_focus", params, Duration::ZERO)
            .await
            .map(drop)
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        if !self.plays("status").await? {
            return Ok(());
        }
        self.call(
            "restore",
            json!({ "snapshot": snapshot.data }),
            Duration::ZERO,
        )
        .await
        .map(drop)
    }
}

#[derive(Deserialize)]
struct WireMessage {
    id: String,
    sender: String,
    #[serde(default)]
    sender_name: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    direct: bool,
    text: String,
    #[serde(default)]
    automated: bool,
    #[serde(default)]
    url: Option<String>,
    conversation: String,
}

#[async_trait]
impl MessageSource for PluginAdapter {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        if !self.plays("messages").await? {
            // Nothing will ever come: wait like an idle long poll.
            tokio::time::sleep(wait).await;
            return Ok(Batch {
                messages: Vec::new(),
                cursor: cursor.unwrap_or("none").to_owned(),
            });
        }
        let params = json!({ "cursor": cursor, "wait_ms": wait.as_millis() as u64 });
        let result = self.call("fetch", params, wait).await?;
        let cursor = result["cursor"]
            .as_str()
            .ok_or_else(|| AdapterError::malformed(&self.command.name, "fetch: no cursor"))?
            .to_owned();
        let wire: Vec<WireMessage> = serde_json::from_value(result["messages"].clone())
            .map_err(|e| AdapterError::malformed(&self.command.name, &format!("fetch: {e}")))?;
        let messages = wire
            .into_iter()
            .map(|m| IncomingMessage {
                reply_to: ReplyTarget {
                    conversation: m.conversation,
                    sender: m.sender.clone(),
                },
                id: m.id,
                sender: m.sender,
                sender_name: m.sender_name,
                channel: m.channel,
                addressed: if m.direct {
                    Addressed::Direct
                } else {
                    Addressed::Mention
                },
                text: crate::plain(&m.text),
                automated: m.automated,
                url: m.url,
                usual_class: None,
            })
            .collect();
        Ok(Batch { messages, cursor })
    }
}

#[async_trait]
impl Replier for PluginAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        if !self.plays("reply").await? {
            return Err(AdapterError::malformed(
                &self.command.name,
                "the plugin does not send replies",
            ));
        }
        let params = json!({ "conversation": to.conversation, "sender": to.sender, "text": text });
        self.call("reply", params, Duration::ZERO).await.map(drop)
    }
}

//! Mattermost, over the v4 REST API with a personal access token: the user status
//! (`PUT /users/{id}/status` with `dnd` and `dnd_end_time`) and the custom status
//! (`PUT`/`DELETE /users/{id}/status/custom`). Errors come as an AppError body
//! (`id`, `message`, `status_code`); rate limits as HTTP 429 with `X-Ratelimit-Reset`.

use crate::{AdapterError, FocusStatus, StatusAdapter, StatusSnapshot};
use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

const NAME: &str = "mattermost";
/// Mattermost's limit for a custom status text.
const STATUS_LIMIT: usize = 100;
/// The emoji shown with the focus status.
pub const FOCUS_EMOJI: &str = "headphones";

/// A Mattermost account.
#[derive(Debug)]
pub struct MattermostAdapter {
    http: reqwest::Client,
    server: Url,
    token: String,
}

/// The status and custom status from before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct MattermostStatus {
    user_id: String,
    status: String,
    /// Whether the user set the status by hand (else Mattermost follows activity).
    manual: bool,
    /// Unix seconds; 0 for none.
    dnd_end_time: i64,
    /// The custom status object as Mattermost keeps it, if any.
    custom: Option<Value>,
}

impl MattermostAdapter {
    /// An adapter for the server at `server` (e.g. `https://chat.example.org`).
    pub fn new(server: &str, token: String) -> Result<Self, AdapterError> {
        let server = Url::parse(server).map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("the Mattermost address {server:?} is not a URL ({e})"),
        })?;
        let http = crate::http_client(NAME, Some(Duration::from_secs(30)))?;
        Ok(MattermostAdapter {
            http,
            server,
            token,
        })
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
    ) -> Result<Value, AdapterError> {
        let mut url = self.server.clone();
        url.path_segments_mut()
            .map_err(|()| malformed("the server address cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v4"])
            .extend(segments);
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let status = response.status();
        let reset = response
            .headers()
            .get("X-Ratelimit-Reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let id = value["id"].as_str().unwrap_or("");
        let message = value["message"].as_str().unwrap_or("");
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => AdapterError::RateLimited {
                adapter: NAME.into(),
                retry_after: Duration::from_secs(reset.unwrap_or(1).max(1)),
            },
            StatusCode::UNAUTHORIZED => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!(
                    "the Mattermost token was refused ({id}); create a new personal access token"
                ),
            },
            StatusCode::FORBIDDEN => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("the Mattermost account may not do this ({id}: {message})"),
            },
            status if status.is_server_error() => unavailable(&format!("HTTP {status} {id}")),
            status => malformed(&format!("HTTP {status} {id} {message}")),
        })
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

/// The custom status Mattermost keeps as a JSON string in the user's props.
fn custom_status(user: &Value) -> Option<Value> {
    let text = user["props"]["customStatus"].as_str()?;
    let value: Value = serde_json::from_str(text).ok()?;
    let set = value["text"].as_str().is_some_and(|t| !t.is_empty())
        || value["emoji"].as_str().is_some_and(|e| !e.is_empty());
    set.then_some(value)
}

#[async_trait]
impl StatusAdapter for MattermostAdapter {
    fn name(&self) -> &str {
        NAME
    }

    fn status_limit(&self) -> usize {
        STATUS_LIMIT
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let me = self.call(Method::GET, &["users", "me"], None).await?;
        let user_id = me["id"]
            .as_str()
            .ok_or_else(|| malformed("users/me has no id"))?
            .to_owned();
        let status = self
            .call(Method::GET, &["users", &user_id, "status"], None)
            .await?;
        let before = MattermostStatus {
            status: status["status"].as_str().unwrap_or("online").to_owned(),
            manual: status["manual"] == true,
            dnd_end_time: status["dnd_end_time"].as_i64().unwrap_or(0),
            custom: custom_status(&me),
            user_id,
        };
        let data = serde_json::to_value(before).map_err(|e| malformed(&e.to_string()))?;
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        let me = self.call(Method::GET, &["users", "me"], None).await?;
        let user_id = me["id"]
            .as_str()
            .ok_or_else(|| malformed("users/me has no id"))?;
        let until = status.until.as_second();
        let dnd = json!({ "user_id": user_id, "status": "dnd", "dnd_end_time": until });
        self.call(Method::PUT, &["users", user_id, "status"], Some(dnd))
            .await?;
        let custom = json!({
            "emoji": FOCUS_EMOJI,
            "text": status.text,
            "duration": "date_and_time",
            "expires_at": status.until.to_string(),
        });
        self.call(
            Method::PUT,
            &["users", user_id, "status", "custom"],
            Some(custom),
        )
        .await
        .map(drop)
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let before: MattermostStatus = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored status: {e}")))?;
        let now = jiff::Timestamp::now().as_second();
        // A status the user did not set by hand goes back to following activity ("online").
        let (status, end) = match (before.manual, before.status.as_str()) {
            (true, "dnd") if before.dnd_end_time != 0 && before.dnd_end_time <= now => {
                ("online", 0)
            }
            (true, other) => (other, before.dnd_end_time),
            (false, _) => ("online", 0),
        };
        let mut body = json!({ "user_id": before.user_id, "status": status });
        if status == "dnd" && end > 0 {
            body["dnd_end_time"] = json!(end);
        }
        self.call(
            Method::PUT,
            &["users", &before.user_id, "status"],
            Some(body),
        )
        .await?;
        let expired = before
            .custom
            .as_ref()
            .and_then(|c| c["expires_at"].as_str())
            .and_then(|at| at.parse::<jiff::Timestamp>().ok())
            .is_some_and(|at| at.as_second() <= now);
        match before.custom.filter(|_| !expired) {
            Some(custom) => {
                self.call(
                    Method::PUT,
                    &["users", &before.user_id, "status", "custom"],
                    Some(custom),
                )
                .await
            }
            None => {
                self.call(
                    Method::DELETE,
                    &["users", &before.user_id, "status", "custom"],
                    None,
                )
                .await
            }
        }
        .map(drop)
    }
}

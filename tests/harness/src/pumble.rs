//! A stateful contract server for the Pumble API addon endpoints the Pumble plugin uses,
//! written from the addon's API documentation (Pumble itself cannot run here): the key
//! in the `ApiKey` header; `GET /myInfo` (the user, with `customStatus`),
//! `POST /customStatus` (`code`, `status`, `expiresAt` in ms), `GET /listChannels`
//! (entries of `{channel, users}`), `GET /listMessages?channelId=&limit=`
//! (`{messages, hasMoreBefore, hasMoreAfter}`), `POST /sendMessage`
//! (`{channelId, text}`); a refused key is HTTP 401, a rate limit HTTP 429 with
//! `Retry-After`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The key the addon issued.
pub const KEY: &str = "pumble-test-key";
/// The key's user.
pub const ME: &str = "6650aa11ce00000000000001";
/// A colleague.
pub const BOB: &str = "6650aa11ce00000000000002";
/// The direct conversation with bob.
pub const DM_WITH_BOB: &str = "6650dd00000000000000b0b0";
/// A public channel.
pub const GENERAL: &str = "6650cc0000000000000a11a1";

/// A message on the server.
#[derive(Clone, Debug)]
pub struct PumbleMessage {
    /// Its id.
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// Who wrote it.
    pub author: String,
    /// The addon that sent it, if one did.
    pub author_app_id: Option<String>,
    /// The text.
    pub text: String,
    /// Milliseconds since the epoch.
    pub timestamp_milli: i64,
}

/// The workspace as the key sees it.
#[derive(Clone, Debug, Default)]
pub struct PumbleState {
    /// The user's custom status, if set: `(code, status, expiresAt)`.
    pub custom_status: Option<(String, String, i64)>,
    /// Every message.
    pub messages: Vec<PumbleMessage>,
    /// Answer this many coming calls with 429.
    pub rate_limit_next: u32,
}

impl PumbleState {
    /// Someone writes in a channel.
    pub fn post(&mut self, channel: &str, author: &str, app: Option<&str>, text: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let at = self
            .messages
            .last()
            .map_or(now, |m| (m.timestamp_milli + 1).max(now));
        self.messages.push(PumbleMessage {
            id: format!("6650ee{:018}", self.messages.len() + 1),
            channel_id: channel.to_owned(),
            author: author.to_owned(),
            author_app_id: app.map(str::to_owned),
            text: text.to_owned(),
            timestamp_milli: at,
        });
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct PumbleContract {
    /// The API address.
    pub url: String,
    /// The workspace, for tests to read and change.
    pub state: Arc<Mutex<PumbleState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<PumbleState>>;

impl PumbleContract {
    /// Starts on a free loopback port.
    pub async fn start() -> PumbleContract {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/myInfo", get(my_info))
            .route("/customStatus", post(custom_status))
            .route("/listChannels", get(list_channels))
            .route("/listMessages", get(list_messages))
            .route("/sendMessage", post(send_message))
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        let url = served.base.clone();
        PumbleContract {
            url,
            state,
            _served: served,
        }
    }

    /// The workspace now.
    pub fn now(&self) -> PumbleState {
        self.state.lock().expect("state").clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn gate(state: &mut PumbleState, headers: &HeaderMap) -> Option<Response> {
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().expect("header"));
        return Some(response);
    }
    let key = headers.get("ApiKey").and_then(|v| v.to_str().ok());
    (key != Some(KEY)).then(|| error(StatusCode::UNAUTHORIZED, "Unauthorized"))
}

async fn my_info(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let custom = state.custom_status.as_ref().map_or(Value::Null, |(code, status, at)| {
        json!({ "code": code, "status": status, "expiration": "custom", "expiresAt": at })
    });
    axum::Json(json!({
        "id": ME, "email": "alice@acme.test", "name": "alice", "role": "USER", "status": "ACTIVATED",
        "workspaceId": "w1", "customStatus": custom,
    }))
    .into_response()
}

async fn custom_status(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(code), Some(expires)) = (value["code"].as_str(), value["expiresAt"].as_i64()) else {
        return error(StatusCode::BAD_REQUEST, "code and expiresAt are required");
    };
    let status = value["status"].as_str().unwrap_or("");
    if status.chars().count() > 128 {
        return error(StatusCode::BAD_REQUEST, "status is too long");
    }
    state.custom_status = (!code.is_empty() || !status.is_empty())
        .then(|| (code.to_owned(), status.to_owned(), expires));
    StatusCode::OK.into_response()
}

async fn list_channels(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let entries: Vec<Value> = [(DM_WITH_BOB, "DIRECT", ""), (GENERAL, "PUBLIC", "general")]
        .into_iter()
        .map(|(id, kind, name)| {
            let last = state
                .messages
                .iter()
                .filter(|m| m.channel_id == id)
                .map(|m| m.timestamp_milli)
                .max()
                .unwrap_or(0);
            json!({
                "channel": { "id": id, "name": name, "channelType": kind, "workspaceId": "w1", "isMember": true, "lastMessageTimestampMilli": last },
                "users": [ME, BOB],
            })
        })
        .collect();
    axum::Json(Value::Array(entries)).into_response()
}

async fn list_messages(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let Some(channel) = query.get("channelId") else {
        return error(StatusCode::BAD_REQUEST, "channel or channelId is required");
    };
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let messages: Vec<Value> = state
        .messages
        .iter()
        .rev()
        .filter(|m| &m.channel_id == channel)
        .take(limit)
        .map(|m| {
            json!({
                "id": m.id, "channelId": m.channel_id, "workspaceId": "w1", "author": m.author,
                "authorAppId": m.author_app_id, "text": m.text, "timestampMilli": m.timestamp_milli,
                "subtype": "", "deleted": false, "edited": false,
            })
        })
        .collect();
    axum::Json(json!({ "messages": messages, "hasMoreBefore": false, "hasMoreAfter": false }))
        .into_response()
}

async fn send_message(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(channel), Some(text)) = (value["channelId"].as_str(), value["text"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "channelId and text are required");
    };
    if channel != DM_WITH_BOB && channel != GENERAL {
        return error(StatusCode::FORBIDDEN, "Channel not found");
    }
    state.post(channel, ME, None, text);
    let sent = state.messages.last().expect("posted");
    axum::Json(json!({ "id": sent.id, "channelId": channel, "text": text })).into_response()
}

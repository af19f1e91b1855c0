//! A stateful contract server for the Slack Web API methods Deepwork uses, written from
//! Slack's API reference: `POST /api/{method}` with a bearer user token; errors as HTTP
//! 200 `{"ok": false, "error": …}` (`missing_scope` with `needed`/`provided`); rate
//! limits as HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
//! Socket Mode too: `apps.connections.open` with the app-level token hands out a
//! WebSocket URL; the socket says `hello`, delivers `events_api` envelopes that must be
//! acknowledged by `envelope_id`, and can ask for a new connection with `disconnect`.
//! Reading back: `conversations.history` (top-level messages newest first, a thread's
//! first message carrying `reply_count`, `reply_users` and `latest_reply`; `oldest`,
//! `latest`, `inclusive`; pages of `limit` joined by `response_metadata.next_cursor`
//! while `has_more`), `conversations.replies` (a thread, its first message first then
//! the replies oldest first, by the `ts` of any message in it; `thread_not_found`),
//! `chat.getPermalink` (`message_not_found`; a reply's link names its thread) and
//! `conversations.info`. History needs `im:history` in direct conversations and
//! `channels:history` in channels. Slack itself cannot run here.

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The token the server accepts.
pub const TOKEN: &str = "xoxp-deepwork-test";
/// The token's user.
pub const ME: &str = "U0ALICE";
/// The app-level token that opens Socket Mode connections.
pub const APP_TOKEN: &str = "xapp-deepwork-test";
/// A public channel the user is in.
pub const GENERAL: &str = "C0GENERAL";
/// The Slack app's client id (PKCE on, so no secret).
pub const CLIENT_ID: &str = "4815162342.108";

/// A message in a direct conversation.
#[derive(Clone, Debug)]
pub struct SlackMessage {
    /// The conversation (`D…`).
    pub channel: String,
    /// The human sender, if any.
    pub user: Option<String>,
    /// The bot sender, if any.
    pub bot_id: Option<String>,
    /// The text.
    pub text: String,
    /// Its timestamp, `seconds.micros`.
    pub ts: String,
    /// Message metadata, if the sender attached some.
    pub metadata: Option<Value>,
    /// The thread's first message, for a reply in a thread.
    pub thread_ts: Option<String>,
}

/// What the fake workspace holds for the user.
#[derive(Clone, Debug, Default)]
pub struct SlackState {
    /// `status_text`.
    pub status_text: String,
    /// `status_emoji`.
    pub status_emoji: String,
    /// `status_expiration`, Unix seconds, 0 for none.
    pub status_expiration: i64,
    /// When the snooze ends, if snoozed.
    pub snooze_endtime: Option<i64>,
    /// Scopes the token has.
    pub scopes: Vec<String>,
    /// Answer this many coming calls with 429.
    pub rate_limit_next: u32,
    /// Answer this many coming calls with 503.
    pub fail_next: u32,
    /// Every method called, in order.
    pub calls: Vec<String>,
    /// The user's direct conversations: (channel, other user).
    pub ims: Vec<(String, String)>,
    /// Every message in them.
    pub messages: Vec<SlackMessage>,
    /// Socket Mode connections handed out by `apps.connections.open`.
    pub connections_opened: u32,
    /// Envelopes the client acknowledged.
    pub acked: Vec<String>,
    /// A sign-in in progress: `(code, code_challenge, redirect_uri)`.
    pub pending_sign_in: Option<(String, String, String)>,
    /// Answer the consent page with `access_denied`, as if the user said no.
    pub deny_sign_in: bool,
    /// How far the workspace's clock is ahead of this machine's, in seconds (negative:
    /// behind); its timestamps and `Date` headers follow it.
    pub clock_skew_secs: i64,
    /// The last timestamp handed out, in microseconds.
    next_micros: i64,
    sockets: Option<broadcast::Sender<String>>,
}

impl SlackState {
    /// A new timestamp, later than every earlier one.
    pub fn next_ts(&mut self) -> String {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64)
            + self.clock_skew_secs * 1_000_000;
        self.next_micros = micros.max(self.next_micros + 1);
        format!(
            "{}.{:06}",
            self.next_micros / 1_000_000,
            self.next_micros % 1_000_000
        )
    }

    /// Someone writes in a conversation; open Socket Mode connections get the event.
    /// Returns the message's `ts`.
    pub fn post(
        &mut self,
        channel: &str,
        user: Option<&str>,
        bot_id: Option<&str>,
        text: &str,
    ) -> String {
        self.write(channel, None, user, bot_id, text)
    }

    /// Someone replies in the thread of the message `thread_ts`. Returns the reply's `ts`.
    pub fn reply(&mut self, channel: &str, thread_ts: &str, user: &str, text: &str) -> String {
        self.write(channel, Some(thread_ts), Some(user), None, text)
    }

    fn write(
        &mut self,
        channel: &str,
        thread_ts: Option<&str>,
        user: Option<&str>,
        bot_id: Option<&str>,
        text: &str,
    ) -> String {
        let ts = self.next_ts();
        self.messages.push(SlackMessage {
            channel: channel.into(),
            user: user.map(Into::into),
            bot_id: bot_id.map(Into::into),
            text: text.into(),
            ts: ts.clone(),
            metadata: None,
            thread_ts: thread_ts.map(Into::into),
        });
        self.push_event();
        ts
    }

    /// Sends the last message as a `message` event, and as an `app_mention` too when it
    /// names the user in a channel (an app subscribed to both gets both).
    pub fn push_event(&mut self) {
        let Some(message) = self.messages.last().cloned() else {
            return;
        };
        let im = self.ims.iter().any(|(id, _)| *id == message.channel);
        let mut event = json!({
            "type": "message",
            "channel": message.channel,
            "text": message.text,
            "ts": message.ts,
            "event_ts": message.ts,
            "channel_type": if im { "im" } else { "channel" },
        });
        if let Some(user) = &message.user {
            event["user"] = json!(user);
        }
        if let Some(bot) = &message.bot_id {
            event["bot_id"] = json!(bot);
            event["subtype"] = json!("bot_message");
        }
        if let Some(metadata) = &message.metadata {
            event["metadata"] = metadata.clone();
        }
        if let Some(thread_ts) = &message.thread_ts {
            event["thread_ts"] = json!(thread_ts);
        }
        let mut events = vec![event.clone()];
        if !im && message.text.contains(&format!("<@{ME}>")) {
            let mut mention = event;
            mention["type"] = json!("app_mention");
            mention
                .as_object_mut()
                .expect("object")
                .remove("channel_type");
            events.push(mention);
        }
        for event in events {
            let envelope = json!({
                "envelope_id": format!("env-{}-{}", message.ts, event["type"].as_str().unwrap_or("")),
                "type": "events_api",
                "accept_response_payload": false,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": {
                    "token": "verification",
                    "team_id": "T0ACME",
                    "api_app_id": "A0DEEPWORK",
                    "type": "event_callback",
                    "event_id": format!("Ev{}", message.ts.replace('.', "")),
                    "event_time": message.ts.split('.').next().unwrap_or("0").parse::<i64>().unwrap_or(0),
                    "event": event,
                },
            });
            self.broadcast(envelope.to_string());
        }
    }

    fn broadcast(&self, frame: String) {
        if let Some(sockets) = &self.sockets {
            let _ = sockets.send(frame);
        }
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct SlackContract {
    /// The API base, like `https://slack.com/api/`.
    pub api: String,
    /// The workspace, for tests to read and change.
    pub state: Arc<Mutex<SlackState>>,
    _served: crate::Served,
}

impl SlackContract {
    /// Starts on a free loopback port, with a token holding every scope Deepwork needs.
    pub async fn start() -> SlackContract {
        let state = Arc::new(Mutex::new(SlackState {
            scopes: [
                "users.profile:read",
                "users.profile:write",
                "dnd:read",
                "dnd:write",
                "im:read",
                "im:history",
                "chat:write",
            ]
            .map(str::to_owned)
            .to_vec(),
            ims: vec![
                ("D0BOB".into(), "U0BOB".into()),
                ("D0CI".into(), "U0CIBOT".into()),
            ],
            sockets: Some(broadcast::channel(64).0),
            ..SlackState::default()
        }));
        let app = Router::new()
            .route("/api/{method}", axum::routing::post(method))
            .route("/link/", axum::routing::get(socket_mode))
            .route("/oauth/v2/authorize", axum::routing::get(authorize))
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        let api = format!("{}/api/", served.base);
        SlackContract {
            api,
            state,
            _served: served,
        }
    }

    /// The workspace now.
    pub fn now(&self) -> SlackState {
        self.state.lock().expect("state").clone()
    }

    /// The consent page's address, like `https://slack.com/oauth/v2/authorize`.
    pub fn authorize(&self) -> String {
        self.api.replace("/api/", "/oauth/v2/authorize")
    }

    /// Asks every Socket Mode connection to go, with `reason` (`refresh_requested`,
    /// `warning`, `link_disabled`).
    pub fn disconnect(&self, reason: &str) {
        let frame = json!({ "type": "disconnect", "reason": reason, "debug_info": { "host": "applink-test" } });
        self.state
            .lock()
            .expect("state")
            .broadcast(frame.to_string());
    }
}

/// Slack's consent page, as if the person approved at once (or declined, when the
/// test says so): back to the redirect address with a code, or an error.
async fn authorize(
    State(state): State<Arc<Mutex<SlackState>>>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("state");
    let field = |key: &str| query.get(key).cloned().unwrap_or_default();
    let redirect = field("redirect_uri");
    let loopback =
        redirect.starts_with("http://localhost:") || redirect.starts_with("http://127.0.0.1:");
    if field("client_id") != CLIENT_ID
        || !loopback
        || field("code_challenge_method") != "S256"
        || field("code_challenge").is_empty()
        || !field("user_scope").contains("users.profile:write")
    {
        return (StatusCode::BAD_REQUEST, "invalid authorization request").into_response();
    }
    let location = if state.deny_sign_in {
        format!("{redirect}?error=access_denied&state={}", field("state"))
    } else {
        let code = format!("code-{}", state.next_ts());
        state.pending_sign_in = Some((code.clone(), field("code_challenge"), redirect.clone()));
        format!("{redirect}?code={code}&state={}", field("state"))
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `oauth.v2.access` for a PKCE sign-in: the code, its verifier and the same redirect.
fn oauth_access(state: &mut SlackState, form: &HashMap<String, String>) -> Response {
    use base64::Engine;
    use sha2::Digest;
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID {
        return error("invalid_client_id");
    }
    let Some((code, challenge, redirect)) = state.pending_sign_in.clone() else {
        return error("invalid_code");
    };
    if field("code") != code || field("grant_type") != "authorization_code" {
        return error("invalid_code");
    }
    if field("redirect_uri") != redirect {
        return error("bad_redirect_uri");
    }
    let verified = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(field("code_verifier")));
    if verified != challenge {
        return error("invalid_code_verifier");
    }
    state.pending_sign_in = None;
    axum::Json(json!({
        "ok": true,
        "app_id": "A0DEEPWORK",
        "authed_user": { "id": ME, "scope": state.scopes.join(","), "access_token": TOKEN, "token_type": "user" },
        "team": { "id": "T0ACME", "name": "Acme" },
        "enterprise": null,
        "is_enterprise_install": false,
    }))
    .into_response()
}

async fn socket_mode(
    State(state): State<Arc<Mutex<SlackState>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let events = state
        .lock()
        .expect("state")
        .sockets
        .as_ref()
        .expect("sockets")
        .subscribe();
    upgrade.on_upgrade(move |socket| serve_socket(socket, events, state))
}

async fn serve_socket(
    mut socket: WebSocket,
    mut events: broadcast::Receiver<String>,
    state: Arc<Mutex<SlackState>>,
) {
    let hello = json!({ "type": "hello", "num_connections": 1, "debug_info": { "host": "applink-test", "approximate_connection_time": 18060 }, "connection_info": { "app_id": "A0DEEPWORK" } });
    if socket.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => {
                let Ok(frame) = event else { return };
                let last = frame.contains("\"disconnect\"");
                if socket.send(Message::text(frame)).await.is_err() || last {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let ack: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if let Some(id) = ack["envelope_id"].as_str() {
                        state.lock().expect("state").acked.push(id.to_owned());
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn error(code: &str) -> Response {
    axum::Json(json!({ "ok": false, "error": code })).into_response()
}

fn needs(state: &SlackState, scope: &str) -> Option<Response> {
    (!state.scopes.iter().any(|s| s == scope)).then(|| {
        axum::Json(json!({ "ok": false, "error": "missing_scope", "needed": scope, "provided": state.scopes.join(",") }))
            .into_response()
    })
}

/// Every Web API answer carries the workspace's clock in `Date`, as Slack's do.
async fn method(
    state: State<Arc<Mutex<SlackState>>>,
    name: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let skew = state.lock().expect("state").clock_skew_secs;
    let mut response = web_api(state, name, headers, body).await;
    let date = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(skew))
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = header::HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

async fn web_api(
    State(state): State<Arc<Mutex<SlackState>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    state.calls.push(method.clone());
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            axum::Json(json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
    }
    if state.fail_next > 0 {
        state.fail_next -= 1;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // The sign-in's code exchange carries no token: the code and verifier are the proof.
    if method == "oauth.v2.access" {
        return oauth_access(&mut state, &url_form(&body));
    }
    // Socket Mode is opened with the app-level token, and only with it.
    let wanted = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        TOKEN
    };
    match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        None => return error("not_authed"),
        Some(token) if token == wanted => {}
        Some(TOKEN | APP_TOKEN) => return error("not_allowed_token_type"),
        Some(_) => return error("invalid_auth"),
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let form: HashMap<String, String> = if json_body {
        HashMap::new()
    } else {
        url_form(&body)
    };
    match method.as_str() {
        "users.profile.get" => {
            if let Some(refusal) = needs(&state, "users.profile:read") {
                return refusal;
            }
            axum::Json(json!({ "ok": true, "profile": {
                "status_text": state.status_text,
                "status_emoji": state.status_emoji,
                "status_expiration": state.status_expiration,
                "real_name": "Alice",
            }}))
            .into_response()
        }
        "users.profile.set" => {
            if let Some(refusal) = needs(&state, "users.profile:write") {
                return refusal;
            }
            let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                return error("invalid_json");
            };
            let profile = &value["profile"];
            if !profile.is_object() {
                return error("invalid_profile");
            }
            state.status_text = profile["status_text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            state.status_emoji = profile["status_emoji"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            state.status_expiration = profile["status_expiration"].as_i64().unwrap_or(0);
            axum::Json(json!({ "ok": true, "profile": profile })).into_response()
        }
        "dnd.info" => {
            if let Some(refusal) = needs(&state, "dnd:read") {
                return refusal;
            }
            let snoozed = state.snooze_endtime.filter(|end| *end > now());
            let mut info = json!({ "ok": true, "dnd_enabled": false, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1, "snooze_enabled": snoozed.is_some() });
            if let Some(end) = snoozed {
                info["snooze_endtime"] = json!(end);
                info["snooze_remaining"] = json!(end - now());
            }
            axum::Json(info).into_response()
        }
        "dnd.setSnooze" => {
            if let Some(refusal) = needs(&state, "dnd:write") {
                return refusal;
            }
            let Some(minutes) = form.get("num_minutes").and_then(|m| m.parse::<i64>().ok()) else {
                return error("missing_duration");
            };
            let end = now() + minutes * 60;
            state.snooze_endtime = Some(end);
            axum::Json(json!({ "ok": true, "snooze_enabled": true, "snooze_endtime": end, "snooze_remaining": minutes * 60, "snooze_is_indefinite": false }))
                .into_response()
        }
        "auth.test" => axum::Json(json!({
            "ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "alice", "team_id": "T0ACME", "user_id": ME,
        }))
        .into_response(),
        "conversations.list" => {
            if let Some(refusal) = needs(&state, "im:read") {
                return refusal;
            }
            if form.get("types").map(String::as_str) != Some("im") {
                return error("invalid_types");
            }
            let channels: Vec<Value> =
                state.ims.iter().map(|(id, user)| json!({ "id": id, "is_im": true, "user": user })).collect();
            axum::Json(json!({ "ok": true, "channels": channels, "response_metadata": { "next_cursor": "" } }))
                .into_response()
        }
        "conversations.history" => {
            let Some(channel) = form.get("channel") else { return error("channel_not_found") };
            let Some(scope) = history_scope(&state, channel) else { return error("channel_not_found") };
            if let Some(refusal) = needs(&state, scope) {
                return refusal;
            }
            let with_metadata = form.get("include_all_metadata").is_some_and(|v| v == "true");
            // Top-level messages only, newest first, as Slack returns them.
            let listed: Vec<&SlackMessage> = state
                .messages
                .iter()
                .rev()
                .filter(|m| &m.channel == channel && m.thread_ts.is_none())
                .filter(|m| in_range(&form, &m.ts))
                .collect();
            match page(listed, &form) {
                Ok((messages, next)) => {
                    let messages: Vec<Value> =
                        messages.into_iter().map(|m| message_json(&state, m, with_metadata)).collect();
                    axum::Json(json!({ "ok": true, "messages": messages, "has_more": !next.is_empty(), "pin_count": 0, "response_metadata": { "next_cursor": next } }))
                        .into_response()
                }
                Err(code) => error(code),
            }
        }
        "conversations.replies" => {
            let Some(channel) = form.get("channel") else { return error("channel_not_found") };
            let Some(scope) = history_scope(&state, channel) else { return error("channel_not_found") };
            if let Some(refusal) = needs(&state, scope) {
                return refusal;
            }
            // Any message of the thread names it: its first message, or a reply.
            let Some(asked) = form
                .get("ts")
                .and_then(|ts| state.messages.iter().find(|m| &m.channel == channel && &m.ts == ts))
            else {
                return error("thread_not_found");
            };
            let root = asked.thread_ts.clone().unwrap_or_else(|| asked.ts.clone());
            let with_metadata = form.get("include_all_metadata").is_some_and(|v| v == "true");
            let thread: Vec<&SlackMessage> = state
                .messages
                .iter()
                .filter(|m| &m.channel == channel)
                .filter(|m| m.ts == root || (m.thread_ts.as_deref() == Some(root.as_str()) && in_range(&form, &m.ts)))
                .collect();
            match page(thread, &form) {
                Ok((messages, next)) => {
                    let messages: Vec<Value> =
                        messages.into_iter().map(|m| message_json(&state, m, with_metadata)).collect();
                    axum::Json(json!({ "ok": true, "messages": messages, "has_more": !next.is_empty(), "response_metadata": { "next_cursor": next } }))
                        .into_response()
                }
                Err(code) => error(code),
            }
        }
        "chat.getPermalink" => {
            let Some(channel) = form.get("channel") else { return error("channel_not_found") };
            if history_scope(&state, channel).is_none() {
                return error("channel_not_found");
            }
            let Some(message) = form
                .get("message_ts")
                .and_then(|ts| state.messages.iter().find(|m| &m.channel == channel && &m.ts == ts))
            else {
                return error("message_not_found");
            };
            let mut permalink = format!(
                "https://acme.slack.com/archives/{channel}/p{}",
                message.ts.replace('.', "")
            );
            if let Some(thread_ts) = &message.thread_ts {
                permalink.push_str(&format!("?thread_ts={thread_ts}&cid={channel}"));
            }
            axum::Json(json!({ "ok": true, "channel": channel, "permalink": permalink })).into_response()
        }
        "chat.postMessage" => {
            if let Some(refusal) = needs(&state, "chat:write") {
                return refusal;
            }
            let Ok(value) = serde_json::from_slice::<Value>(&body) else { return error("invalid_json") };
            // "An encoded ID or channel name" (chat.postMessage's `channel` argument).
            let Some(channel) = value["channel"].as_str().map(|named| match named.trim_start_matches('#') {
                "general" => GENERAL,
                _ => named,
            }) else {
                return error("channel_not_found");
            };
            if history_scope(&state, channel).is_none() {
                return error("channel_not_found");
            }
            if value["text"].as_str().is_none_or(str::is_empty) && value.get("blocks").is_none() {
                return error("no_text");
            }
            let thread_ts = value["thread_ts"].as_str();
            if thread_ts.is_some_and(|ts| !state.messages.iter().any(|m| m.channel == channel && m.ts == ts)) {
                return error("thread_not_found");
            }
            let ts = state.next_ts();
            let message = SlackMessage {
                channel: channel.into(),
                user: Some(ME.into()),
                bot_id: None,
                text: value["text"].as_str().unwrap_or_default().into(),
                ts: ts.clone(),
                metadata: value.get("metadata").cloned(),
                thread_ts: thread_ts.map(Into::into),
            };
            state.messages.push(message);
            state.push_event();
            axum::Json(json!({ "ok": true, "channel": channel, "ts": ts })).into_response()
        }
        "apps.connections.open" => {
            state.connections_opened += 1;
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("127.0.0.1");
            let url = format!("ws://{host}/link/?ticket=t{}", state.connections_opened);
            axum::Json(json!({ "ok": true, "url": url })).into_response()
        }
        "users.info" => {
            let name = match form.get("user").map(String::as_str) {
                Some("U0BOB") => "bob",
                Some(ME) => "alice",
                _ => return error("user_not_found"),
            };
            axum::Json(json!({ "ok": true, "user": { "id": form["user"], "name": name, "profile": { "display_name": name } } }))
                .into_response()
        }
        "conversations.info" => match form.get("channel").map(String::as_str) {
            Some(GENERAL) => axum::Json(json!({ "ok": true, "channel": { "id": GENERAL, "name": "general", "is_channel": true, "is_im": false } })).into_response(),
            Some(channel) => match state.ims.iter().find(|(id, _)| id == channel) {
                Some((id, user)) => axum::Json(json!({ "ok": true, "channel": { "id": id, "is_im": true, "user": user } })).into_response(),
                None => error("channel_not_found"),
            },
            None => error("channel_not_found"),
        },
        "dnd.endSnooze" => {
            if let Some(refusal) = needs(&state, "dnd:write") {
                return refusal;
            }
            if state.snooze_endtime.filter(|end| *end > now()).is_none() {
                return error("snooze_not_active");
            }
            state.snooze_endtime = None;
            axum::Json(json!({ "ok": true, "dnd_enabled": false, "snooze_enabled": false }))
                .into_response()
        }
        _ => error("unknown_method"),
    }
}

/// The scope reading a conversation's history needs, or `None` for one the user is
/// not in.
fn history_scope(state: &SlackState, channel: &str) -> Option<&'static str> {
    if state.ims.iter().any(|(id, _)| id == channel) {
        Some("im:history")
    } else if channel == GENERAL {
        Some("channels:history")
    } else {
        None
    }
}

/// A timestamp's parts, to order by.
fn ts_key(ts: &str) -> (i64, i64) {
    let (seconds, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (seconds.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

/// Whether `ts` is within the call's `oldest` and `latest` (the default: all up to
/// now), their own timestamps only when `inclusive`.
fn in_range(form: &HashMap<String, String>, ts: &str) -> bool {
    let inclusive = form
        .get("inclusive")
        .is_some_and(|v| v == "true" || v == "1");
    let ts = ts_key(ts);
    let after = form
        .get("oldest")
        .map(|o| ts_key(o))
        .is_none_or(|oldest| if inclusive { ts >= oldest } else { ts > oldest });
    let before = form
        .get("latest")
        .map(|l| ts_key(l))
        .is_none_or(|latest| if inclusive { ts <= latest } else { ts < latest });
    after && before
}

/// One page of `messages` (in the order the method lists them): from the `cursor`, at
/// most `limit` (100 unless asked; 999 at most), and the cursor to the next page ("" at
/// the end). An unknown cursor is `invalid_cursor`.
fn page<'a>(
    messages: Vec<&'a SlackMessage>,
    form: &HashMap<String, String>,
) -> Result<(Vec<&'a SlackMessage>, String), &'static str> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let limit = form
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100)
        .min(999);
    let start = match form.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => {
            let ts = engine
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix("next_ts:").map(str::to_owned))
                .ok_or("invalid_cursor")?;
            messages
                .iter()
                .position(|m| m.ts == ts)
                .ok_or("invalid_cursor")?
        }
    };
    let rest = &messages[start..];
    let next = rest
        .get(limit)
        .map(|m| engine.encode(format!("next_ts:{}", m.ts)))
        .unwrap_or_default();
    Ok((rest.iter().take(limit).copied().collect(), next))
}

/// A message as the Web API shows it; a thread's first message also says who replied,
/// how often and when last.
fn message_json(state: &SlackState, m: &SlackMessage, with_metadata: bool) -> Value {
    let mut message = json!({ "type": "message", "text": m.text, "ts": m.ts });
    if let Some(user) = &m.user {
        message["user"] = json!(user);
    }
    if let Some(bot) = &m.bot_id {
        message["bot_id"] = json!(bot);
        message["subtype"] = json!("bot_message");
    }
    if let (true, Some(metadata)) = (with_metadata, &m.metadata) {
        message["metadata"] = metadata.clone();
    }
    if let Some(thread_ts) = &m.thread_ts {
        message["thread_ts"] = json!(thread_ts);
        let parent = state
            .messages
            .iter()
            .find(|p| p.channel == m.channel && &p.ts == thread_ts);
        if let Some(user) = parent.and_then(|p| p.user.as_ref()) {
            message["parent_user_id"] = json!(user);
        }
        return message;
    }
    let replies: Vec<&SlackMessage> = state
        .messages
        .iter()
        .filter(|r| r.channel == m.channel && r.thread_ts.as_deref() == Some(m.ts.as_str()))
        .collect();
    if let Some(last) = replies.last() {
        let mut users: Vec<&str> = Vec::new();
        for user in replies
            .iter()
            .filter_map(|r| r.user.as_deref().or(r.bot_id.as_deref()))
        {
            if !users.contains(&user) {
                users.push(user);
            }
        }
        message["thread_ts"] = json!(m.ts);
        message["reply_count"] = json!(replies.len());
        message["reply_users_count"] = json!(users.len());
        message["reply_users"] = json!(users);
        message["latest_reply"] = json!(last.ts);
    }
    message
}

fn url_form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

//! A stateful contract server for the Mattermost v4 endpoints Deepwork uses, written
//! from Mattermost's API reference: `GET /api/v4/users/me`, `GET /api/v4/users/{id}`,
//! `GET`/`PUT /api/v4/users/{id}/status`, `PUT`/`DELETE /api/v4/users/{id}/status/custom`,
//! `GET /api/v4/users/{id}/channels`, `GET /api/v4/channels/{id}/posts?since=` (every
//! post made since, thread replies included, ordered by creation, at most 1000; not to
//! be combined with `page`, `per_page`, `before` or `after`; 403 for a channel the user
//! is not in), `GET /api/v4/channels/{id}`, `GET /api/v4/posts/{id}`,
//! `GET /api/v4/teams/{id}`, `GET /api/v4/teams/name/{team}/channels/name/{channel}`,
//! `POST /api/v4/posts` (with `root_id` for a reply in a
//! thread), and the WebSocket at `/api/v4/websocket` (a `hello` event, the
//! `authentication_challenge` action answered by `seq_reply`, then `posted` events whose
//! `post` and `mentions` are JSON strings); errors as AppError bodies; rate limits as
//! 429 with `X-Ratelimit-Reset`.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The token the server accepts.
pub const TOKEN: &str = "mm-deepwork-test-token";
/// The user's id.
pub const USER_ID: &str = "u1abcdefghijklmnopqrstuvwx";
/// A colleague who writes to the user.
pub const BOB_ID: &str = "u2bobbobbobbobbobbobbobbob";
/// The direct channel between the user and bob.
pub const DM_WITH_BOB: &str = "c1dmalicebobdmalicebobdmal";
/// A public channel both are in.
pub const TOWN_SQUARE: &str = "c2townsquaretownsquaretown";
/// The team Town Square is in.
pub const TEAM_ID: &str = "t1team";
/// Its name, as its addresses use it.
pub const TEAM_NAME: &str = "core";

/// A post on the server.
#[derive(Clone, Debug)]
pub struct ServerPost {
    /// Its id.
    pub id: String,
    /// Where.
    pub channel_id: String,
    /// Who wrote it.
    pub user_id: String,
    /// The text.
    pub message: String,
    /// Its props, e.g. `from_bot`.
    pub props: Value,
    /// Milliseconds since the epoch.
    pub create_at: i64,
    /// The thread's first post, for a reply; empty otherwise.
    pub root_id: String,
}

/// What the event sockets are told.
#[derive(Clone, Debug)]
enum Broadcast {
    Event(String),
    /// Close every socket, as a server restart would.
    Close,
}

/// The user's state on the fake server.
#[derive(Clone, Debug)]
pub struct MattermostState {
    /// `online`, `away`, `dnd` or `offline`.
    pub status: String,
    /// Set by hand (else it follows activity).
    pub manual: bool,
    /// Unix seconds; 0 for none.
    pub dnd_end_time: i64,
    /// The custom status object, if set.
    pub custom: Option<Value>,
    /// Answer this many coming calls with 429.
    pub rate_limit_next: u32,
    /// Every post, oldest first.
    pub posts: Vec<ServerPost>,
    /// REST calls answered (rate-limited or not), to see that nothing polls.
    pub requests: u32,
    /// Event sockets opened.
    pub sockets_opened: u32,
    sockets: Option<broadcast::Sender<Broadcast>>,
}

impl Default for MattermostState {
    fn default() -> Self {
        MattermostState {
            status: "online".into(),
            manual: false,
            dnd_end_time: 0,
            custom: None,
            rate_limit_next: 0,
            posts: Vec::new(),
            requests: 0,
            sockets_opened: 0,
            sockets: None,
        }
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct MattermostContract {
    /// The server address, like `https://chat.example.org`.
    pub url: String,
    /// The user's state, for tests to read and change.
    pub state: Arc<Mutex<MattermostState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<MattermostState>>;

impl MattermostContract {
    /// Starts on a free loopback port.
    pub async fn start() -> MattermostContract {
        let state: Shared = Arc::default();
        state.lock().expect("state").sockets = Some(broadcast::channel(64).0);
        let app = Router::new()
            .route("/api/v4/users/me", get(me))
            .route("/api/v4/users/{id}", get(user))
            .route("/api/v4/users/{id}/channels", get(channels))
            .route("/api/v4/channels/{id}", get(channel))
            .route("/api/v4/channels/{id}/posts", get(posts))
            .route("/api/v4/posts", post(create_post))
            .route("/api/v4/posts/{id}", get(one_post))
            .route("/api/v4/teams/{id}", get(team))
            .route(
                "/api/v4/teams/name/{team}/channels/name/{channel}",
                get(channel_by_name),
            )
            .route("/api/v4/websocket", get(websocket))
            .route("/api/v4/users/{id}/status", get(get_status).put(put_status))
            .route(
                "/api/v4/users/{id}/status/custom",
                axum::routing::put(put_custom).delete(delete_custom),
            )
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        let url = served.base.clone();
        MattermostContract {
            url,
            state,
            _served: served,
        }
    }

    /// The state now.
    pub fn now(&self) -> MattermostState {
        self.state.lock().expect("state").clone()
    }

    /// `user_id` posts `message` in `channel_id`, as the web app would; connected
    /// sockets get the `posted` event. Returns the post's id.
    pub fn post_as(&self, user_id: &str, channel_id: &str, message: &str, props: Value) -> String {
        self.state
            .lock()
            .expect("state")
            .add_post(user_id, channel_id, "", message, props)
    }

    /// `user_id` replies in the thread of `root_id`. Returns the reply's id.
    pub fn reply_as(
        &self,
        user_id: &str,
        channel_id: &str,
        root_id: &str,
        message: &str,
    ) -> String {
        self.state
            .lock()
            .expect("state")
            .add_post(user_id, channel_id, root_id, message, json!({}))
    }

    /// Closes every event socket, as a server restart would.
    pub fn close_sockets(&self) {
        if let Some(sockets) = &self.state.lock().expect("state").sockets {
            let _ = sockets.send(Broadcast::Close);
        }
    }
}

/// Usernames by id.
fn username(id: &str) -> Option<&'static str> {
    match id {
        USER_ID => Some("alice"),
        BOB_ID => Some("bob"),
        _ => None,
    }
}

/// The channels the user is in: `(id, type, display_name)`.
const CHANNELS: [(&str, &str, &str); 2] =
    [(DM_WITH_BOB, "D", ""), (TOWN_SQUARE, "O", "Town Square")];

/// A channel's name (a direct channel's names its two members).
fn channel_name(channel: &str) -> String {
    if channel == TOWN_SQUARE {
        "town-square".into()
    } else {
        format!("{USER_ID}__{BOB_ID}")
    }
}

/// A channel as the API shows it.
fn channel_json(channel: &str, kind: &str, display: &str) -> Value {
    json!({ "id": channel, "type": kind, "display_name": display, "name": channel_name(channel), "team_id": if kind == "D" { "" } else { TEAM_ID } })
}

impl MattermostState {
    fn add_post(
        &mut self,
        user_id: &str,
        channel_id: &str,
        root_id: &str,
        message: &str,
        props: Value,
    ) -> String {
        // Strictly increasing, as the server's clock is across posts here.
        let create_at = self
            .posts
            .last()
            .map_or(0, |p| p.create_at + 1)
            .max(now_ms());
        let id = format!("p{:025}", self.posts.len() + 1);
        let post = ServerPost {
            id: id.clone(),
            channel_id: channel_id.to_owned(),
            user_id: user_id.to_owned(),
            message: message.to_owned(),
            props,
            create_at,
            root_id: root_id.to_owned(),
        };
        let (kind, display) = CHANNELS
            .iter()
            .find(|(id, _, _)| *id == channel_id)
            .map_or(("O", ""), |(_, kind, display)| (*kind, *display));
        // Who is notified: the other member of a direct channel, and whoever is named.
        let mut mentioned = Vec::new();
        if kind == "D" {
            mentioned.extend([USER_ID, BOB_ID].into_iter().filter(|id| *id != user_id));
        }
        for id in [USER_ID, BOB_ID] {
            let name = format!("@{}", username(id).unwrap_or_default());
            if message.contains(&name) && !mentioned.contains(&id) {
                mentioned.push(id);
            }
        }
        let event = json!({
            "event": "posted",
            "data": {
                "channel_display_name": if kind == "D" { format!("@{}", username(user_id).unwrap_or(user_id)) } else { display.to_owned() },
                "channel_name": channel_id,
                "channel_type": kind,
                "mentions": serde_json::to_string(&mentioned).expect("json"),
                "post": post_json(&post).to_string(),
                "sender_name": format!("@{}", username(user_id).unwrap_or(user_id)),
                "team_id": if kind == "D" { "" } else { TEAM_ID },
            },
            "broadcast": { "omit_users": null, "user_id": "", "channel_id": channel_id, "team_id": "" },
            "seq": self.posts.len() + 1,
        });
        self.posts.push(post);
        if let Some(sockets) = &self.sockets {
            let _ = sockets.send(Broadcast::Event(event.to_string()));
        }
        id
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        .try_into()
        .expect("millis")
}

fn post_json(post: &ServerPost) -> Value {
    json!({
        "id": post.id,
        "create_at": post.create_at,
        "update_at": post.create_at,
        "edit_at": 0,
        "delete_at": 0,
        "user_id": post.user_id,
        "channel_id": post.channel_id,
        "root_id": post.root_id,
        "message": post.message,
        "type": "",
        "props": post.props,
        "hashtags": "",
    })
}

fn app_error(status: StatusCode, id: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "id": id, "message": message, "detailed_error": "", "request_id": "r1", "status_code": status.as_u16() })))
        .into_response()
}

fn forbidden() -> Response {
    app_error(
        StatusCode::FORBIDDEN,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )
}

fn user_not_found() -> Response {
    app_error(
        StatusCode::NOT_FOUND,
        "app.user.missing_account.const",
        "user not found",
    )
}

/// A request body that is not what the endpoint takes.
fn invalid_body(message: &str) -> Response {
    app_error(
        StatusCode::BAD_REQUEST,
        "api.context.invalid_body_param.app_error",
        message,
    )
}

/// Checks the token and the rate limit; `Some` is the refusal to send.
fn gate(state: &mut MattermostState, headers: &HeaderMap) -> Option<Response> {
    state.requests += 1;
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        let mut response = app_error(
            StatusCode::TOO_MANY_REQUESTS,
            "api.context.rate_limit.app_error",
            "too many requests",
        );
        response
            .headers_mut()
            .insert("X-Ratelimit-Reset", "1".parse().expect("header"));
        return Some(response);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (bearer != Some(TOKEN)).then(|| {
        app_error(
            StatusCode::UNAUTHORIZED,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        )
    })
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let custom = state
        .custom
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    axum::Json(json!({ "id": USER_ID, "username": "alice", "props": { "customStatus": custom } }))
        .into_response()
}

fn status_body(state: &MattermostState) -> Value {
    json!({ "user_id": USER_ID, "status": state.status, "manual": state.manual, "last_activity_at": 0, "dnd_end_time": state.dnd_end_time })
}

async fn get_status(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    if id != USER_ID {
        return user_not_found();
    }
    axum::Json(status_body(&state)).into_response()
}

async fn put_status(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return invalid_body("invalid body");
    };
    let status = value["status"].as_str().unwrap_or("");
    if id != USER_ID
        || value["user_id"].as_str() != Some(USER_ID)
        || !["online", "away", "dnd", "offline"].contains(&status)
    {
        return invalid_body("invalid status");
    }
    state.status = status.to_owned();
    // Setting "online" hands the status back to activity tracking.
    state.manual = status != "online";
    state.dnd_end_time = if status == "dnd" {
        value["dnd_end_time"].as_i64().unwrap_or(0)
    } else {
        0
    };
    axum::Json(status_body(&state)).into_response()
}

async fn put_custom(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return invalid_body("invalid body");
    };
    let text_ok = value["text"]
        .as_str()
        .is_some_and(|t| t.chars().count() <= 100);
    if id != USER_ID || !text_ok {
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.custom_status.set_custom_statuses.update.app_error",
            "invalid custom status",
        );
    }
    state.custom = Some(value);
    axum::Json(json!({ "status": "OK" })).into_response()
}

async fn delete_custom(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    if id != USER_ID {
        return user_not_found();
    }
    state.custom = None;
    axum::Json(json!({ "status": "OK" })).into_response()
}

async fn user(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    match username(&id) {
        Some(name) => axum::Json(json!({ "id": id, "username": name })).into_response(),
        None => user_not_found(),
    }
}

async fn channels(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    if id != USER_ID {
        return forbidden();
    }
    let list: Vec<Value> = CHANNELS
        .iter()
        .map(|(channel, kind, display)| {
            let last_post_at = state
                .posts
                .iter()
                .filter(|p| p.channel_id == *channel)
                .map(|p| p.create_at)
                .max()
                .unwrap_or(0);
            let mut listed = channel_json(channel, kind, display);
            listed["last_post_at"] = json!(last_post_at);
            listed
        })
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

async fn posts(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let combined = ["page", "per_page", "before", "after"]
        .iter()
        .any(|key| query.contains_key(*key));
    let Some(since) = query
        .get("since")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|_| !combined)
    else {
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_url_param.app_error",
            "Invalid or missing since parameter in request URL.",
        );
    };
    if !CHANNELS.iter().any(|(channel, _, _)| *channel == id) {
        return forbidden();
    }
    // Ordered by creation; the server stops at 1000.
    let newer: Vec<&ServerPost> = state
        .posts
        .iter()
        .filter(|p| p.channel_id == id && p.create_at > since)
        .take(1000)
        .collect();
    let order: Vec<&str> = newer.iter().rev().map(|p| p.id.as_str()).collect();
    let posts: serde_json::Map<String, Value> =
        newer.iter().map(|p| (p.id.clone(), post_json(p))).collect();
    axum::Json(json!({ "order": order, "posts": posts, "next_post_id": "", "prev_post_id": "", "has_next": false }))
        .into_response()
}

async fn create_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(channel), Some(message)) = (value["channel_id"].as_str(), value["message"].as_str())
    else {
        return invalid_body("Invalid or missing post in request body.");
    };
    if !CHANNELS.iter().any(|(id, _, _)| *id == channel) {
        return forbidden();
    }
    let root_id = value["root_id"].as_str().unwrap_or("");
    if !root_id.is_empty()
        && !state
            .posts
            .iter()
            .any(|p| p.id == root_id && p.channel_id == channel)
    {
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.post.create_post.root_id.app_error",
            "Invalid RootId parameter.",
        );
    }
    let id = state.add_post(USER_ID, channel, root_id, message, value["props"].clone());
    let created = state.posts.iter().find(|p| p.id == id).expect("added");
    (StatusCode::CREATED, axum::Json(post_json(created))).into_response()
}

async fn channel(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    match CHANNELS.iter().find(|(channel, _, _)| *channel == id) {
        Some((channel, kind, display)) => {
            axum::Json(channel_json(channel, kind, display)).into_response()
        }
        None => forbidden(),
    }
}

/// `GET /teams/name/{team_name}/channels/name/{channel_name}`: a team's channel by the
/// names its address uses.
async fn channel_by_name(
    State(state): State<Shared>,
    Path((team, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    if team != TEAM_NAME {
        return app_error(
            StatusCode::NOT_FOUND,
            "app.team.get_by_name.missing.app_error",
            "We couldn't find the existing team.",
        );
    }
    match CHANNELS
        .iter()
        .find(|(id, kind, _)| *kind != "D" && channel_name(id) == name)
    {
        Some((channel, kind, display)) => {
            axum::Json(channel_json(channel, kind, display)).into_response()
        }
        None => app_error(
            StatusCode::NOT_FOUND,
            "app.channel.get_by_name.missing.app_error",
            "Channel does not exist.",
        ),
    }
}

async fn one_post(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    match state.posts.iter().find(|p| p.id == id) {
        Some(post)
            if CHANNELS
                .iter()
                .any(|(channel, _, _)| *channel == post.channel_id) =>
        {
            axum::Json(post_json(post)).into_response()
        }
        Some(_) => forbidden(),
        None => app_error(
            StatusCode::NOT_FOUND,
            "app.post.get.app_error",
            "Unable to get the post.",
        ),
    }
}

async fn team(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers) {
        return refusal;
    }
    if id != TEAM_ID {
        return app_error(
            StatusCode::NOT_FOUND,
            "app.team.get.find.app_error",
            "We couldn't find the existing team.",
        );
    }
    axum::Json(json!({ "id": TEAM_ID, "name": TEAM_NAME, "display_name": "Core", "type": "O" }))
        .into_response()
}

async fn websocket(State(state): State<Shared>, upgrade: WebSocketUpgrade) -> Response {
    let events = {
        let mut state = state.lock().expect("state");
        state.sockets_opened += 1;
        state.sockets.as_ref().expect("sockets").subscribe()
    };
    upgrade.on_upgrade(move |socket| serve_socket(socket, events))
}

async fn serve_socket(mut socket: WebSocket, mut events: broadcast::Receiver<Broadcast>) {
    let hello = json!({ "event": "hello", "data": { "server_version": "10.5.0" }, "broadcast": {}, "seq": 0 });
    if socket.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    // Events flow only once the token is accepted.
    let authenticated = loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => {
                let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if request["action"] != "authentication_challenge" {
                    continue;
                }
                let ok = request["data"]["token"] == TOKEN;
                let answer = if ok {
                    json!({ "status": "OK", "seq_reply": request["seq"] })
                } else {
                    json!({ "status": "FAIL", "seq_reply": request["seq"], "error": { "id": "api.web_socket_router.not_authenticated.app_error", "message": "Invalid or expired session, please login again." } })
                };
                if socket
                    .send(Message::text(answer.to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
                break ok;
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    };
    if !authenticated {
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(Broadcast::Event(text)) => {
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Ok(Broadcast::Close) | Err(_) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
            incoming = socket.recv() => if !matches!(incoming, Some(Ok(_))) {
                return;
            },
        }
    }
}

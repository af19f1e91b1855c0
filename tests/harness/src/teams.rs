//! A stateful contract server for the Microsoft identity platform and Graph endpoints
//! Deepwork uses, written from Microsoft's references (Teams cannot run here):
//! - `POST /{tenant}/oauth2/v2.0/devicecode` and `/token` (device-code and
//!   refresh-token grants, OAuth errors like `authorization_pending` and
//!   `invalid_grant` as HTTP 400, refresh tokens rotated on use);
//! - `GET /v1.0/me`, `GET /v1.0/me/presence`, `POST /v1.0/users/{id}/presence/`
//!   `setPresence` (application sessions keyed by the app id, DoNotDisturb/Presenting
//!   among the allowed pairs, PT5M–PT4H), `clearPresence`, `setStatusMessage`;
//! - `GET /v1.0/me/chats` (with `lastMessagePreview`), `GET /v1.0/me/chats/{id}/messages`
//!   (newest first; `$top` at most 50, pages joined by `@odata.nextLink`;
//!   `$filter=lastModifiedDateTime gt …` honoured only with the matching `$orderby`;
//!   each message with its `webUrl`), `POST /v1.0/chats/{id}/messages` and
//!   `POST /v1.0/teams/{team-id}/channels/{channel-id}/messages` (`ChannelMessage.Send`;
//!   both answering the created message);
//! - errors as `{"error": {"code", "message"}}`, 401 for a bad access token, 403 for a
//!   missing permission, 429 with `Retry-After`.
//!
//! Presence is aggregated as the reference describes: the user's own preferred presence
//! beats every application session; among sessions DoNotDisturb > Busy > Available >
//! Away; sessions lapse at their expiry.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A team the user is in, and a channel of it: its messages are kept under
/// `"{TEAM}/{CHANNEL}"`.
pub const TEAM: &str = "c0ffee00-0000-0000-0000-000000007ea3";
/// The team's standup channel.
pub const CHANNEL: &str = "19:standup@thread.tacv2";

/// The app registration's client id that the platform knows.
pub const CLIENT_ID: &str = "6b1d3c2e-deep-work-test-000000000001";
/// The signed-in user's id.
pub const ME: &str = "a1ice000-0000-0000-0000-000000000001";
/// A colleague.
pub const BOB: &str = "b0b00000-0000-0000-0000-000000000002";
/// The one-on-one chat with bob.
pub const CHAT_WITH_BOB: &str = "19:alice_bob@unq.gbl.spaces";
/// A group chat alice and bob are in.
pub const TEAM_CHAT: &str = "19:release-team@thread.v2";
/// The code shown to the user at sign-in.
pub const USER_CODE: &str = "DWRK-TEST";

/// A chat message on the server.
#[derive(Clone, Debug)]
pub struct GraphMessage {
    /// Its id.
    pub id: String,
    /// The chat.
    pub chat: String,
    /// `Some((id, name))` for a person, else an app.
    pub user: Option<(String, String)>,
    /// The app that sent it, if not a person.
    pub application: Option<String>,
    /// `html` or `text`.
    pub content_type: String,
    /// The body.
    pub content: String,
    /// Users mentioned.
    pub mentions: Vec<String>,
    /// When.
    pub created: SystemTime,
}

/// An application presence session.
#[derive(Clone, Debug)]
pub struct PresenceSession {
    /// e.g. `DoNotDisturb`.
    pub availability: String,
    /// e.g. `Presenting`.
    pub activity: String,
    /// When it lapses.
    pub expires: SystemTime,
    /// How long it was set for, as sent.
    pub duration: String,
}

/// The tenant's state for the user.
#[derive(Clone, Debug)]
pub struct TeamsState {
    /// What the user's Teams clients report with no app session or preference.
    pub base_availability: String,
    /// The user's own preferred presence, if they set one.
    pub preferred: Option<String>,
    /// Application sessions by session id.
    pub sessions: HashMap<String, PresenceSession>,
    /// The status message object, if set.
    pub status_message: Option<Value>,
    /// Permissions the tokens carry.
    pub scopes: Vec<String>,
    /// The refresh token that works now (each use replaces it).
    pub refresh_token: String,
    /// Access tokens handed out that still work.
    pub access_tokens: Vec<String>,
    /// Token-endpoint polls to answer with `authorization_pending` before the user
    /// "approves" the device code.
    pub pending_polls: u32,
    /// Answer this many coming Graph calls with 429.
    pub rate_limit_next: u32,
    /// Every chat message.
    pub messages: Vec<GraphMessage>,
    /// Graph calls, as `METHOD path`.
    pub calls: Vec<String>,
    issued: u32,
}

impl TeamsState {
    /// The presence Graph reports now.
    pub fn availability(&self) -> String {
        if let Some(preferred) = &self.preferred {
            return preferred.clone();
        }
        let rank = |a: &str| match a {
            "DoNotDisturb" => 4,
            "Busy" => 3,
            "Available" => 2,
            "Away" => 1,
            _ => 0,
        };
        self.sessions
            .values()
            .filter(|s| s.expires > SystemTime::now())
            .map(|s| s.availability.clone())
            .max_by_key(|a| rank(a))
            .unwrap_or_else(|| self.base_availability.clone())
    }

    /// bob (or an app, with `user` `None`) writes in `chat`.
    pub fn post(
        &mut self,
        chat: &str,
        user: Option<(&str, &str)>,
        content: &str,
        mentions: &[&str],
    ) {
        let created = self
            .messages
            .last()
            .map_or(SystemTime::UNIX_EPOCH, |m| {
                m.created + Duration::from_millis(1)
            })
            .max(SystemTime::now());
        self.messages.push(GraphMessage {
            id: format!("{}", 1_700_000_000_000u64 + self.messages.len() as u64),
            chat: chat.to_owned(),
            user: user.map(|(id, name)| (id.to_owned(), name.to_owned())),
            application: user.is_none().then(|| "Build Bot".to_owned()),
            content_type: "html".into(),
            content: content.to_owned(),
            mentions: mentions.iter().map(|m| (*m).to_owned()).collect(),
            created,
        });
    }

    /// Revokes every token, as an admin or a password change would.
    pub fn revoke(&mut self) {
        self.refresh_token = "revoked".into();
        self.access_tokens.clear();
    }

    /// Access tokens stop working, as they do after an hour.
    pub fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    fn issue(&mut self) -> Value {
        self.issued += 1;
        let access = format!("at-{}", self.issued);
        self.refresh_token = format!("rt-{}", self.issued);
        self.access_tokens.push(access.clone());
        json!({ "token_type": "Bearer", "scope": self.scopes.join(" "), "expires_in": 3600, "ext_expires_in": 3600, "access_token": access, "refresh_token": self.refresh_token })
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct TeamsContract {
    /// The identity platform, like `https://login.microsoftonline.com/`.
    pub authority: String,
    /// Graph, like `https://graph.microsoft.com/v1.0/`.
    pub graph: String,
    /// The tenant, for tests to read and change.
    pub state: Arc<Mutex<TeamsState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<TeamsState>>;

impl TeamsContract {
    /// Starts on a free loopback port; the first refresh token is `rt-0`.
    pub async fn start() -> TeamsContract {
        let state: Shared = Arc::new(Mutex::new(TeamsState {
            base_availability: "Available".into(),
            preferred: None,
            sessions: HashMap::new(),
            status_message: None,
            scopes: [
                "User.Read",
                "Presence.ReadWrite",
                "Chat.Read",
                "ChatMessage.Send",
                "ChannelMessage.Send",
            ]
            .map(str::to_owned)
            .to_vec(),
            refresh_token: "rt-0".into(),
            access_tokens: Vec::new(),
            pending_polls: 2,
            rate_limit_next: 0,
            messages: Vec::new(),
            calls: Vec::new(),
            issued: 0,
        }));
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/me", get(me))
            .route("/v1.0/me/presence", get(presence))
            .route("/v1.0/users/{id}/presence/{action}", post(presence_action))
            .route("/v1.0/me/chats", get(chats))
            .route("/v1.0/me/chats/{id}/messages", get(chat_messages))
            .route("/v1.0/chats/{id}/messages", post(send_message))
            .route(
                "/v1.0/teams/{team}/channels/{channel}/messages",
                post(send_channel_message),
            )
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        let base = served.base.clone();
        TeamsContract {
            authority: format!("{base}/"),
            graph: format!("{base}/v1.0/"),
            state,
            _served: served,
        }
    }

    /// The tenant now.
    pub fn now(&self) -> TeamsState {
        self.state.lock().expect("state").clone()
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error, "error_description": description, "error_codes": [70000], "timestamp": "2026-11-25 10:00:00Z", "trace_id": "t", "correlation_id": "c" })),
    )
        .into_response()
}

async fn device_code(axum::Form(fields): axum::Form<HashMap<String, String>>) -> Response {
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    if !fields
        .get("scope")
        .is_some_and(|s| s.contains("offline_access"))
    {
        return oauth_error(
            "invalid_scope",
            "AADSTS70011: offline_access is needed here.",
        );
    }
    axum::Json(json!({
        "device_code": "dc-1",
        "user_code": USER_CODE,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
        "interval": 1,
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {USER_CODE} to authenticate."),
    }))
    .into_response()
}

async fn token(
    State(state): State<Shared>,
    axum::Form(fields): axum::Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("state");
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    match fields.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            if fields.get("device_code").map(String::as_str) != Some("dc-1") {
                return oauth_error("bad_verification_code", "AADSTS70019: unknown code.");
            }
            if state.pending_polls > 0 {
                state.pending_polls -= 1;
                return oauth_error(
                    "authorization_pending",
                    "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
                );
            }
            axum::Json(state.issue()).into_response()
        }
        Some("refresh_token") => {
            if fields.get("refresh_token") != Some(&state.refresh_token) {
                return oauth_error(
                    "invalid_grant",
                    "AADSTS50173: The provided grant has expired due to it being revoked.",
                );
            }
            axum::Json(state.issue()).into_response()
        }
        _ => oauth_error("unsupported_grant_type", "AADSTS70003: unsupported grant."),
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message, "innerError": { "date": "2026-11-25T10:00:00", "request-id": "r", "client-request-id": "c" } } })),
    )
        .into_response()
}

/// Checks the access token, the rate limit and the permission; `Some` is the refusal.
fn gate(
    state: &mut TeamsState,
    headers: &HeaderMap,
    call: String,
    scope: &str,
) -> Option<Response> {
    state.calls.push(call);
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        let mut response = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().expect("header"));
        return Some(response);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| state.access_tokens.iter().any(|t| t == b)) {
        return Some(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ));
    }
    (!state.scopes.iter().any(|s| s == scope)).then(|| {
        graph_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("Missing scope permissions on the request. API requires one of '{scope}'."),
        )
    })
}

fn iso(at: SystemTime) -> String {
    let millis = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    jiff::Timestamp::from_millisecond(millis)
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, "GET me".into(), "User.Read") {
        return refusal;
    }
    axum::Json(
        json!({ "id": ME, "displayName": "Alice", "userPrincipalName": "alice@contoso.com" }),
    )
    .into_response()
}

async fn presence(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(
        &mut state,
        &headers,
        "GET me/presence".into(),
        "Presence.ReadWrite",
    ) {
        return refusal;
    }
    let availability = state.availability();
    let mut body = json!({ "id": ME, "availability": availability, "activity": availability });
    if let Some(message) = &state.status_message {
        body["statusMessage"] = message.clone();
    }
    axum::Json(body).into_response()
}

/// `PT5M` … `PT4H` as a duration, if it is one Graph accepts here.
fn presence_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix("PT")?;
    let (hours, rest) = match rest.split_once('H') {
        Some((h, rest)) => (h.parse::<u64>().ok()?, rest),
        None => (0, rest),
    };
    let minutes = match rest.strip_suffix('M') {
        Some(m) => m.parse::<u64>().ok()?,
        None if rest.is_empty() => 0,
        None => return None,
    };
    let length = Duration::from_secs(hours * 3600 + minutes * 60);
    (Duration::from_secs(300)..=Duration::from_secs(4 * 3600))
        .contains(&length)
        .then_some(length)
}

async fn presence_action(
    State(state): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    let call = format!("POST users/{{id}}/presence/{action}");
    if let Some(refusal) = gate(&mut state, &headers, call, "Presence.ReadWrite") {
        return refusal;
    }
    if id != ME {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Not the signed-in user.",
        );
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload.",
        );
    };
    match action.as_str() {
        "setPresence" => {
            let (Some(session), Some(availability), Some(activity)) = (
                value["sessionId"].as_str(),
                value["availability"].as_str(),
                value["activity"].as_str(),
            ) else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "sessionId, availability and activity are required.",
                );
            };
            let allowed = [
                ("Available", "Available"),
                ("Busy", "InACall"),
                ("Busy", "InAConferenceCall"),
                ("Away", "Away"),
                ("DoNotDisturb", "Presenting"),
            ];
            if session != CLIENT_ID || !allowed.contains(&(availability, activity)) {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Invalid session or presence.",
                );
            }
            let duration = value["expirationDuration"].as_str().unwrap_or("PT5M");
            let Some(length) = presence_duration(duration) else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "expirationDuration must be between PT5M and PT4H.",
                );
            };
            state.sessions.insert(
                session.to_owned(),
                PresenceSession {
                    availability: availability.to_owned(),
                    activity: activity.to_owned(),
                    expires: SystemTime::now() + length,
                    duration: duration.to_owned(),
                },
            );
            StatusCode::OK.into_response()
        }
        "clearPresence" => {
            let Some(session) = value["sessionId"].as_str() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "sessionId is required.",
                );
            };
            state.sessions.remove(session);
            StatusCode::OK.into_response()
        }
        "setStatusMessage" => {
            let message = &value["statusMessage"];
            let Some(content) = message["message"]["content"].as_str() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "statusMessage.message is required.",
                );
            };
            if content.chars().count() > 280 {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "The status message is too long.",
                );
            }
            state.status_message = if content.is_empty() {
                None
            } else {
                let mut kept = message.clone();
                kept["publishedDateTime"] = json!(iso(SystemTime::now()));
                Some(kept)
            };
            StatusCode::OK.into_response()
        }
        _ => graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Unsupported action."),
    }
}

fn chat_type(chat: &str) -> &'static str {
    if chat == CHAT_WITH_BOB {
        "oneOnOne"
    } else {
        "group"
    }
}

/// A chat id as a path segment of a link.
fn encoded(id: &str) -> String {
    id.replace(':', "%3A").replace('@', "%40")
}

fn message_json(message: &GraphMessage) -> Value {
    let from = match (&message.user, &message.application) {
        (Some((id, name)), _) => {
            json!({ "application": null, "device": null, "user": { "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": id, "displayName": name, "userIdentityType": "aadUser" } })
        }
        (None, Some(app)) => {
            json!({ "application": { "@odata.type": "#microsoft.graph.teamworkApplicationIdentity", "id": "app-build-bot", "displayName": app, "applicationIdentityType": "bot" }, "device": null, "user": null })
        }
        (None, None) => Value::Null,
    };
    let mentions: Vec<Value> = message
        .mentions
        .iter()
        .enumerate()
        .map(|(i, id)| json!({ "id": i, "mentionText": "Alice", "mentioned": { "application": null, "user": { "id": id, "displayName": "Alice", "userIdentityType": "aadUser" } } }))
        .collect();
    json!({
        "id": message.id,
        "messageType": "message",
        "createdDateTime": iso(message.created),
        "lastModifiedDateTime": iso(message.created),
        "chatId": message.chat,
        "replyToId": null,
        "deletedDateTime": null,
        "webUrl": format!(
            "https://teams.microsoft.com/l/message/{}/{}?context=%7B%22contextType%22%3A%22chat%22%7D",
            encoded(&message.chat),
            message.id
        ),
        "from": from,
        "body": { "contentType": message.content_type, "content": message.content },
        "mentions": mentions,
        "attachments": [],
    })
}

async fn chats(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, "GET me/chats".into(), "Chat.Read") {
        return refusal;
    }
    let expand = query
        .get("$expand")
        .is_some_and(|e| e == "lastMessagePreview");
    let mut chats: Vec<(Option<SystemTime>, Value)> = [(CHAT_WITH_BOB, None), (TEAM_CHAT, Some("Release team"))]
        .into_iter()
        .map(|(id, topic)| {
            let last = state.messages.iter().rfind(|m| m.chat == id);
            let mut chat = json!({ "id": id, "topic": topic, "chatType": chat_type(id), "webUrl": format!("https://teams.microsoft.com/l/chat/{id}/0"), "tenantId": "t" });
            if expand {
                chat["lastMessagePreview"] = last.map_or(Value::Null, |m| json!({ "id": m.id, "createdDateTime": iso(m.created), "isDeleted": false, "messageType": "message", "body": { "contentType": m.content_type, "content": m.content } }));
            }
            (last.map(|m| m.created), chat)
        })
        .collect();
    if query
        .get("$orderby")
        .is_some_and(|o| o == "lastMessagePreview/createdDateTime desc")
    {
        chats.sort_by_key(|chat| std::cmp::Reverse(chat.0));
    }
    let value: Vec<Value> = chats.into_iter().map(|(_, chat)| chat).collect();
    axum::Json(json!({ "@odata.count": value.len(), "value": value })).into_response()
}

async fn chat_messages(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(
        &mut state,
        &headers,
        "GET me/chats/{id}/messages".into(),
        "Chat.Read",
    ) {
        return refusal;
    }
    if id != CHAT_WITH_BOB && id != TEAM_CHAT {
        return graph_error(StatusCode::NOT_FOUND, "NotFound", "Chat not found.");
    }
    let top: usize = query.get("$top").and_then(|t| t.parse().ok()).unwrap_or(20);
    if top > 50 {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "$top must not exceed 50.",
        );
    }
    // The filter only applies together with an $orderby on the same property.
    let after = query
        .get("$filter")
        .filter(|_| {
            query
                .get("$orderby")
                .is_some_and(|o| o == "lastModifiedDateTime desc")
        })
        .and_then(|f| f.strip_prefix("lastModifiedDateTime gt "))
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let skip: usize = query
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let listed: Vec<&GraphMessage> = state
        .messages
        .iter()
        .rev()
        .filter(|m| m.chat == id)
        .filter(|m| {
            after.is_none_or(|after| {
                iso(m.created)
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|at| at > after)
            })
        })
        .skip(skip)
        .collect();
    let value: Vec<Value> = listed.iter().take(top).map(|m| message_json(m)).collect();
    let mut body = json!({ "@odata.count": value.len(), "value": value });
    if listed.len() > top {
        // The same question from the next message on.
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (key, value) in query.iter().filter(|(key, _)| *key != "$skiptoken") {
            next.append_pair(key, value);
        }
        next.append_pair("$skiptoken", &(skip + top).to_string());
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        body["@odata.nextLink"] = json!(format!(
            "http://{host}{}?{}",
            uri.path().replace(&id, &encoded(&id)),
            next.finish()
        ));
    }
    axum::Json(body).into_response()
}

async fn send_message(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(
        &mut state,
        &headers,
        "POST chats/{id}/messages".into(),
        "ChatMessage.Send",
    ) {
        return refusal;
    }
    if id != CHAT_WITH_BOB && id != TEAM_CHAT {
        return graph_error(StatusCode::NOT_FOUND, "NotFound", "Chat not found.");
    }
    create_message(&mut state, &id, &body)
}

/// A chatMessage from the request `body` (`body.content`, `body.contentType`), by the
/// signed-in user, kept under `place`; answers it as created.
fn create_message(state: &mut TeamsState, place: &str, body: &[u8]) -> Response {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(content) = value["body"]["content"].as_str() else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "body.content is required.",
        );
    };
    let content_type = value["body"]["contentType"]
        .as_str()
        .unwrap_or("text")
        .to_owned();
    state.post(place, Some((ME, "Alice")), content, &[]);
    let last = state.messages.last_mut().expect("posted");
    last.content_type = content_type;
    let sent = message_json(last);
    (StatusCode::CREATED, axum::Json(sent)).into_response()
}

/// `POST /teams/{team-id}/channels/{channel-id}/messages`: a new message in a channel.
async fn send_channel_message(
    State(state): State<Shared>,
    Path((team, channel)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(
        &mut state,
        &headers,
        "POST teams/{team-id}/channels/{channel-id}/messages".into(),
        "ChannelMessage.Send",
    ) {
        return refusal;
    }
    if team != TEAM || channel != CHANNEL {
        return graph_error(StatusCode::NOT_FOUND, "NotFound", "Channel not found.");
    }
    create_message(&mut state, &format!("{team}/{channel}"), &body)
}

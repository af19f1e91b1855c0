//! A stateful contract server for the Mattermost v4 endpoints Deepwork uses, written
//! from Mattermost's API reference: `GET /api/v4/users/me`, `GET`/`PUT
//! /api/v4/users/{id}/status`, `PUT`/`DELETE /api/v4/users/{id}/status/custom`; errors
//! as AppError bodies; rate limits as 429 with `X-Ratelimit-Reset`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The token the server accepts.
pub const TOKEN: &str = "mm-deepwork-test-token";
/// The user's id.
pub const USER_ID: &str = "u1abcdefghijklmnopqrstuvwx";

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
}

impl Default for MattermostState {
    fn default() -> Self {
        MattermostState {
            status: "online".into(),
            manual: false,
            dnd_end_time: 0,
            custom: None,
            rate_limit_next: 0,
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
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MattermostContract {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<MattermostState>>;

impl MattermostContract {
    /// Starts on a free loopback port.
    pub async fn start() -> MattermostContract {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/api/v4/users/me", get(me))
            .route("/api/v4/users/{id}/status", get(get_status).put(put_status))
            .route(
                "/api/v4/users/{id}/status/custom",
                axum::routing::put(put_custom).delete(delete_custom),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MattermostContract { url, state, task }
    }

    /// The state now.
    pub fn now(&self) -> MattermostState {
        self.state.lock().expect("state").clone()
    }
}

fn app_error(status: StatusCode, id: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "id": id, "message": message, "detailed_error": "", "request_id": "r1", "status_code": status.as_u16() })))
        .into_response()
}

/// Checks the token and the rate limit; `Some` is the refusal to send.
fn gate(state: &mut MattermostState, headers: &HeaderMap) -> Option<Response> {
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
        return app_error(
            StatusCode::NOT_FOUND,
            "app.user.missing_account.const",
            "user not found",
        );
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
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_body_param.app_error",
            "invalid body",
        );
    };
    let status = value["status"].as_str().unwrap_or("");
    if id != USER_ID
        || value["user_id"].as_str() != Some(USER_ID)
        || !["online", "away", "dnd", "offline"].contains(&status)
    {
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_body_param.app_error",
            "invalid status",
        );
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
        return app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_body_param.app_error",
            "invalid body",
        );
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
        return app_error(
            StatusCode::NOT_FOUND,
            "app.user.missing_account.const",
            "user not found",
        );
    }
    state.custom = None;
    axum::Json(json!({ "status": "OK" })).into_response()
}

//! A stateful contract server for Google's OAuth 2.0 endpoints and the Drive API v3
//! methods Deepwork uses, written from Google's references (Google cannot run here). One
//! base URL stands for both `https://accounts.google.com` / `https://oauth2.googleapis.com`
//! and `https://www.googleapis.com`.
//!
//! Sign-in, from "OAuth 2.0 for iOS & Desktop Apps" (and, for `access_type`, "Using OAuth
//! 2.0 for Web Server Applications"):
//! - `GET /o/oauth2/v2/auth` is the consent page, as if the user approved at once (or
//!   declined: `deny_sign_in`): a 302 to the loopback `redirect_uri` (`127.0.0.1`, `[::1]`
//!   or `localhost`, any port) with `code`, `state` and `scope`, or `error=access_denied`.
//!   Bad requests get Google's error page (400 `invalid_request`, `invalid_scope`,
//!   `redirect_uri_mismatch`; 401 `invalid_client`) and no redirect. Google also takes
//!   `plain` or no PKCE; this contract insists on `code_challenge_method=S256`.
//! - `POST /token`: `authorization_code` (single-use code, same `redirect_uri`,
//!   `code_verifier` checked against the S256 challenge, `client_id` and `client_secret` in
//!   the form or as HTTP Basic) and `refresh_token` (a new access token, no new refresh
//!   token). A refresh token comes only with `access_type=offline`, and only the first time
//!   unless `prompt=consent` asks again. Errors as `{"error", "error_description"}`: 400
//!   `invalid_grant` (`Token has been expired or revoked.` after [`DriveState::revoke`]),
//!   `redirect_uri_mismatch`, `unsupported_grant_type`; 401 `invalid_client`.
//!
//! Drive API v3 (API reference, "Search query terms and operators", "Return specific
//! fields", "Manage comments and replies", "Resolve errors", "Usage limits"):
//! - `Authorization: Bearer`; errors as `{"error": {"code", "message", "errors": [{"message",
//!   "domain", "reason", ...}], "status"}}`: 401 `authError`, 403 `insufficientPermissions`
//!   (a method's documented scopes; `drive.file` grants nothing here since no file was
//!   made by the app), 403 `userRateLimitExceeded` and 429 `rateLimitExceeded` (knobs),
//!   404 `notFound`, 400 `required` / `invalid` / `invalidParameter`.
//! - `fields` partial responses: `a,b/c,d(e,f)`, `*`; an unknown name is a 400 `Invalid
//!   field selection`. `about`, `comments` and `replies` require `fields`; `files.list`
//!   defaults to `kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)`, so a
//!   client that asks for `files(...)` alone gets no `nextPageToken`.
//! - `GET /drive/v3/about`: the user (`me: true`).
//! - `GET /drive/v3/files`: `q`, `orderBy` (`createdTime`, `modifiedTime`, `name`,
//!   `name_natural`, each optionally `desc`; otherwise the files' creation order),
//!   `pageSize` (1–1000, default 100), `pageToken`. Trashed files are listed unless `q`
//!   says `trashed = false`. The `q` subset: `name` (`contains` as word-prefix match, `=`,
//!   `!=`), `mimeType` (`contains`, `=`, `!=`), `modifiedTime` / `createdTime` (`<`, `<=`,
//!   `=`, `!=`, `>`, `>=` against RFC 3339, UTC when no offset), `trashed` /
//!   `sharedWithMe` / `starred` (`=`, `!=` against `true`/`false`), `'me' in owners` /
//!   `'email' in owners`, combined with `and`, `or`, `not` and parentheses.
//! - `GET /drive/v3/files/{fileId}/comments`: `startModifiedTime` (inclusive),
//!   `includeDeleted` (deleted comments come without content), `pageSize` (default 20,
//!   larger than 100 taken as 100), `pageToken`. A comment's `modifiedTime` is "the last
//!   time the comment or any of its replies was modified", so a reply brings an old comment
//!   back into `startModifiedTime`. Authors carry no email or permission id, as the
//!   reference says. Mentions are `+email` in `content`, listed in
//!   `mentionedEmailAddresses`.
//! - `POST /drive/v3/files/{fileId}/comments/{commentId}/replies`: `{content, action?}`
//!   (`resolve` / `reopen`), written by the user; content is required without an action.
//!
//! A file's `modifiedTime` is "the last time the file was modified by anyone"; nothing in
//! the reference says comments modify the file, so comments and replies leave it alone.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The desktop app's OAuth client id.
pub const CLIENT_ID: &str = "123456789012-deepworktest.apps.googleusercontent.com";
/// The desktop app's client secret (not secret for installed apps, but required).
pub const CLIENT_SECRET: &str = "GOCSPX-deepwork-test-secret";
/// Full Drive access.
pub const SCOPE_DRIVE: &str = "https://www.googleapis.com/auth/drive";
/// Read files and comments: the scope comments.list documents for reading.
pub const SCOPE_DRIVE_READONLY: &str = "https://www.googleapis.com/auth/drive.readonly";
/// Read file metadata only: not enough for comments.
pub const SCOPE_METADATA_READONLY: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";
/// The signed-in user's display name.
pub const ME: &str = "Alice";
/// The signed-in user's email.
pub const ME_EMAIL: &str = "alice@example.com";
/// A colleague's display name; their email is `bob@example.com`.
pub const BOB: &str = "Bob";
/// A Google Docs document.
pub const DOCUMENT: &str = "application/vnd.google-apps.document";
/// A Google Sheets spreadsheet.
pub const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";

/// Scopes the consent page knows.
const KNOWN_SCOPES: [&str; 10] = [
    SCOPE_DRIVE,
    SCOPE_DRIVE_READONLY,
    SCOPE_METADATA_READONLY,
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.file",
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];
const FILES_SCOPES: [&str; 4] = [
    SCOPE_DRIVE,
    SCOPE_DRIVE_READONLY,
    SCOPE_METADATA_READONLY,
    "https://www.googleapis.com/auth/drive.metadata",
];
const COMMENTS_SCOPES: [&str; 2] = [SCOPE_DRIVE, SCOPE_DRIVE_READONLY];
const REPLY_SCOPES: [&str; 1] = [SCOPE_DRIVE];

/// A reply to a comment.
#[derive(Clone, Debug)]
pub struct DriveReply {
    /// Its id.
    pub id: String,
    /// Its author's display name.
    pub author: String,
    /// Plain text.
    pub content: String,
    /// `resolve` or `reopen`, if it did that to the comment.
    pub action: Option<String>,
    /// When it was written.
    pub created: SystemTime,
}

/// A comment on a file.
#[derive(Clone, Debug)]
pub struct DriveComment {
    /// Its id.
    pub id: String,
    /// Its author's display name.
    pub author: String,
    /// Plain text; mentions are `+email`.
    pub content: String,
    /// The text it is anchored to, if any.
    pub quoted: Option<String>,
    /// When it was written.
    pub created: SystemTime,
    /// When it or any of its replies last changed.
    pub modified: SystemTime,
    /// Resolved by one of its replies.
    pub resolved: bool,
    /// Deleted.
    pub deleted: bool,
    /// Replies, oldest first.
    pub replies: Vec<DriveReply>,
}

/// A file in the user's Drive (owned or shared with them).
#[derive(Clone, Debug)]
pub struct DriveFile {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its owner's display name.
    pub owner: String,
    /// When it was created.
    pub created: SystemTime,
    /// When its content last changed.
    pub modified: SystemTime,
    /// In the trash.
    pub trashed: bool,
    /// Its comments, oldest first.
    pub comments: Vec<DriveComment>,
}

/// A consent the user gave whose code is not yet exchanged.
#[derive(Clone, Debug)]
pub struct PendingCode {
    /// The authorization code.
    pub code: String,
    /// The S256 code challenge.
    pub challenge: String,
    /// The redirect it was sent to.
    pub redirect_uri: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// `access_type=offline`.
    pub offline: bool,
    /// `prompt=consent`.
    pub forced_consent: bool,
}

/// The user's Google account and Drive.
#[derive(Clone, Debug)]
pub struct DriveState {
    /// Every file, in creation order.
    pub files: Vec<DriveFile>,
    /// The consent page answers `access_denied`, as if the user said no.
    pub deny_sign_in: bool,
    /// Codes handed out and not yet exchanged.
    pub pending: Vec<PendingCode>,
    /// Scopes the current tokens carry.
    pub scopes: Vec<String>,
    /// Access tokens that work.
    pub access_tokens: Vec<String>,
    /// Refresh tokens that work.
    pub refresh_tokens: Vec<String>,
    /// Answer this many coming Drive calls with 403 `userRateLimitExceeded`.
    pub user_rate_limit_next: u32,
    /// Answer this many coming Drive calls with 429 `rateLimitExceeded`.
    pub rate_limit_next: u32,
    /// Every call, as `METHOD /path?query`.
    pub calls: Vec<String>,
    ids: u64,
    last: SystemTime,
}

impl DriveState {
    /// Google's clock now; strictly later on every call so events keep their order.
    fn tick(&mut self) -> SystemTime {
        let now = SystemTime::now().max(self.last + Duration::from_millis(1));
        self.last = now;
        now
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.ids += 1;
        format!("{prefix}{:020}", self.ids)
    }

    /// A Google Docs document owned by the user or by Bob (and shared with the user).
    pub fn create_doc(&mut self, name: &str, owned_by_me: bool) -> String {
        self.create_file(name, DOCUMENT, owned_by_me)
    }

    /// A file of any type owned by the user or by Bob (and shared with the user).
    pub fn create_file(&mut self, name: &str, mime_type: &str, owned_by_me: bool) -> String {
        let id = self.new_id("1DwFile");
        let now = self.tick();
        self.files.push(DriveFile {
            id: id.clone(),
            name: name.to_owned(),
            mime_type: mime_type.to_owned(),
            owner: if owned_by_me { ME } else { BOB }.to_owned(),
            created: now,
            modified: now,
            trashed: false,
            comments: Vec::new(),
        });
        id
    }

    /// Someone edits the file's content.
    pub fn edit(&mut self, file: &str) {
        let now = self.tick();
        self.file_mut(file).modified = now;
    }

    /// The file goes to the trash.
    pub fn trash(&mut self, file: &str) {
        self.file_mut(file).trashed = true;
    }

    /// `author` comments on the file, optionally anchored to `quoted` text; mention
    /// someone with `+email` in `text`. Returns the comment's id.
    pub fn comment(
        &mut self,
        file: &str,
        author: &str,
        text: &str,
        quoted: Option<&str>,
    ) -> String {
        let id = self.new_id("AAAAComment");
        let now = self.tick();
        self.file_mut(file).comments.push(DriveComment {
            id: id.clone(),
            author: author.to_owned(),
            content: text.to_owned(),
            quoted: quoted.map(str::to_owned),
            created: now,
            modified: now,
            resolved: false,
            deleted: false,
            replies: Vec::new(),
        });
        id
    }

    /// `author` replies to the comment; returns the reply's id.
    pub fn reply(&mut self, file: &str, comment: &str, author: &str, text: &str) -> String {
        self.add_reply(file, comment, author, text, None)
    }

    /// The comment's author resolves it, as the Docs UI does: a reply with `action: resolve`.
    pub fn resolve(&mut self, file: &str, comment: &str) {
        let author = self.comment_mut(file, comment).author.clone();
        self.add_reply(file, comment, &author, "", Some("resolve"));
    }

    /// The comment is deleted.
    pub fn delete_comment(&mut self, file: &str, comment: &str) {
        let now = self.tick();
        let comment = self.comment_mut(file, comment);
        comment.deleted = true;
        comment.modified = now;
    }

    /// Access tokens stop working, as they do after an hour.
    pub fn expire_access_tokens(&mut self) {
        self.access_tokens.clear();
    }

    /// The user removes the app's access: every token stops working.
    pub fn revoke(&mut self) {
        self.access_tokens.clear();
        self.refresh_tokens.clear();
    }

    fn add_reply(
        &mut self,
        file: &str,
        comment: &str,
        author: &str,
        text: &str,
        action: Option<&str>,
    ) -> String {
        let id = self.new_id("AAAAReply");
        let now = self.tick();
        let comment = self.comment_mut(file, comment);
        comment.replies.push(DriveReply {
            id: id.clone(),
            author: author.to_owned(),
            content: text.to_owned(),
            action: action.map(str::to_owned),
            created: now,
        });
        comment.modified = now;
        match action {
            Some("resolve") => comment.resolved = true,
            Some("reopen") => comment.resolved = false,
            _ => {}
        }
        id
    }

    fn file_mut(&mut self, file: &str) -> &mut DriveFile {
        self.files
            .iter_mut()
            .find(|f| f.id == file)
            .expect("no such file")
    }

    fn comment_mut(&mut self, file: &str, comment: &str) -> &mut DriveComment {
        self.file_mut(file)
            .comments
            .iter_mut()
            .find(|c| c.id == comment)
            .expect("no such comment")
    }

    fn issue_access_token(&mut self) -> String {
        self.ids += 1;
        let token = format!("ya29.deepwork-{}", self.ids);
        self.access_tokens.push(token.clone());
        token
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct DriveContract {
    /// Stands for Google's OAuth hosts and `https://www.googleapis.com`.
    pub base: String,
    /// The account, for tests to read and change.
    pub state: Arc<Mutex<DriveState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<DriveState>>;

impl DriveContract {
    /// Starts on a free loopback port with no files and no tokens.
    pub async fn start() -> DriveContract {
        let state: Shared = Arc::new(Mutex::new(DriveState {
            files: Vec::new(),
            deny_sign_in: false,
            pending: Vec::new(),
            scopes: Vec::new(),
            access_tokens: Vec::new(),
            refresh_tokens: Vec::new(),
            user_rate_limit_next: 0,
            rate_limit_next: 0,
            calls: Vec::new(),
            ids: 0,
            last: SystemTime::UNIX_EPOCH,
        }));
        let app = Router::new()
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .route("/drive/v3/about", get(about))
            .route("/drive/v3/files", get(list_files))
            .route("/drive/v3/files/{file}/comments", get(list_comments))
            .route(
                "/drive/v3/files/{file}/comments/{comment}/replies",
                post(create_reply),
            )
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        DriveContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    /// The consent page, like `https://accounts.google.com/o/oauth2/v2/auth`.
    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base)
    }

    /// The token endpoint, like `https://oauth2.googleapis.com/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The account now.
    pub fn now(&self) -> DriveState {
        self.state.lock().expect("state").clone()
    }
}

fn consent_error(status: StatusCode, error: &str, description: &str) -> Response {
    let page = format!(
        "<!doctype html><title>Error {}: {error}</title><p>Access blocked: authorisation error</p><p>{description}</p><p>Error {}: {error}</p>",
        status.as_u16(),
        status.as_u16()
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn is_loopback(redirect: &str) -> bool {
    ["http://127.0.0.1", "http://[::1]", "http://localhost"]
        .iter()
        .any(|host| {
            redirect.strip_prefix(host).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('/') || rest.starts_with(':')
            })
        })
}

fn with_query(redirect: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let joiner = if redirect.contains('?') { '&' } else { '?' };
    format!("{redirect}{joiner}{query}")
}

/// The consent page, as if the user approved at once (or declined, when the test says so).
async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("state");
    let field = |key: &str| query.get(key).map(String::as_str).unwrap_or("");
    if field("client_id") != CLIENT_ID {
        return consent_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let redirect = field("redirect_uri");
    if !is_loopback(redirect) {
        return consent_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "Desktop apps must redirect to a loopback address.",
        );
    }
    if field("response_type") != "code" {
        return consent_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid response_type.",
        );
    }
    let scopes: Vec<String> = field("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return consent_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: scope",
        );
    }
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return consent_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("Some requested scopes were invalid: {unknown}"),
        );
    }
    let challenge = field("code_challenge");
    let well_formed = (43..=128).contains(&challenge.len())
        && challenge
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    if field("code_challenge_method") != "S256" || !well_formed {
        return consent_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This contract needs PKCE: code_challenge with code_challenge_method=S256.",
        );
    }
    let mut back: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = query.get("state") {
        back.push(("state", s));
    }
    let granted = scopes.join(" ");
    let code = (!state.deny_sign_in).then(|| state.new_id("4/0Dw"));
    match &code {
        None => back.push(("error", "access_denied")),
        Some(code) => {
            state.pending.push(PendingCode {
                code: code.clone(),
                challenge: challenge.to_owned(),
                redirect_uri: redirect.to_owned(),
                scopes,
                offline: field("access_type") == "offline",
                forced_consent: field("prompt").split_whitespace().any(|p| p == "consent"),
            });
            back.push(("code", code));
            back.push(("scope", &granted));
        }
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, with_query(redirect, &back))],
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The client's id and secret, from the form or from HTTP Basic.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    use base64::Engine;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(i, s)| (i.to_owned(), s.to_owned()))
        });
    basic.unwrap_or_else(|| {
        let field = |key: &str| form.get(key).cloned().unwrap_or_default();
        (field("client_id"), field("client_secret"))
    })
}

async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    use base64::Engine;
    use sha2::Digest;
    let mut state = state.lock().expect("state");
    state.calls.push("POST /token".into());
    let (client_id, client_secret) = client_credentials(&headers, &form);
    if client_id != CLIENT_ID {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if client_secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let field = |key: &str| form.get(key).map(String::as_str).unwrap_or("");
    match field("grant_type") {
        "authorization_code" => {
            let Some(index) = state.pending.iter().position(|p| p.code == field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            };
            // A code is good for one attempt, right or wrong.
            let pending = state.pending.remove(index);
            if field("redirect_uri") != pending.redirect_uri {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let verifier = field("code_verifier");
            if verifier.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Missing code verifier.",
                );
            }
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != pending.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid code verifier.",
                );
            }
            state.scopes = pending.scopes.clone();
            let access = state.issue_access_token();
            let mut body = json!({ "access_token": access, "expires_in": 3599, "scope": pending.scopes.join(" "), "token_type": "Bearer" });
            if pending.offline && (state.refresh_tokens.is_empty() || pending.forced_consent) {
                let refresh = state.new_id("1//0Dw");
                state.refresh_tokens.push(refresh.clone());
                body["refresh_token"] = json!(refresh);
            }
            axum::Json(body).into_response()
        }
        "refresh_token" => {
            if !state
                .refresh_tokens
                .iter()
                .any(|r| r == field("refresh_token"))
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            let access = state.issue_access_token();
            axum::Json(json!({ "access_token": access, "expires_in": 3599, "scope": state.scopes.join(" "), "token_type": "Bearer" }))
                .into_response()
        }
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    }
}

fn google_error(status: StatusCode, message: &str, error: Value) -> Response {
    let status_name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        _ => "UNKNOWN",
    };
    (
        status,
        axum::Json(json!({ "error": { "code": status.as_u16(), "message": message, "errors": [error], "status": status_name } })),
    )
        .into_response()
}

fn bad_parameter(reason: &str, message: &str, parameter: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        message,
        json!({ "message": message, "domain": "global", "reason": reason, "location": parameter, "locationType": "parameter" }),
    )
}

fn not_found(what: &str, id: &str, parameter: &str) -> Response {
    let message = format!("{what} not found: {id}.");
    google_error(
        StatusCode::NOT_FOUND,
        &message,
        json!({ "message": message, "domain": "global", "reason": "notFound", "location": parameter, "locationType": "parameter" }),
    )
}

/// Logs the call, then checks the token, the quotas and the scopes; `Some` is the refusal.
fn gate(
    state: &mut DriveState,
    headers: &HeaderMap,
    call: String,
    accepted: &[&str],
) -> Option<Response> {
    state.calls.push(call);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| state.access_tokens.iter().any(|t| t == b)) {
        return Some(google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            json!({ "message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header" }),
        ));
    }
    if state.user_rate_limit_next > 0 {
        state.user_rate_limit_next -= 1;
        let message =
            "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.";
        return Some(google_error(
            StatusCode::FORBIDDEN,
            message,
            json!({ "message": message, "domain": "usageLimits", "reason": "userRateLimitExceeded" }),
        ));
    }
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        return Some(google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate Limit Exceeded",
            json!({ "message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded" }),
        ));
    }
    (!state.scopes.iter().any(|s| accepted.contains(&s.as_str()))).then(|| {
        google_error(
            StatusCode::FORBIDDEN,
            "Request had insufficient authentication scopes.",
            json!({ "message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions" }),
        )
    })
}

fn call(method: &str, path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{method} {path}?{q}"),
        _ => format!("{method} {path}"),
    }
}

/// A `fields` selection: everything below, or some names (`*` for any).
#[derive(Debug)]
enum Mask {
    All,
    Some(BTreeMap<String, Mask>),
}

fn merge(into: &mut Mask, other: Mask) {
    match (into, other) {
        (Mask::All, _) => {}
        (into, Mask::All) => *into = Mask::All,
        (Mask::Some(mine), Mask::Some(theirs)) => {
            for (name, sub) in theirs {
                match mine.get_mut(&name) {
                    Some(existing) => merge(existing, sub),
                    None => {
                        mine.insert(name, sub);
                    }
                }
            }
        }
    }
}

fn insert_path(map: &mut BTreeMap<String, Mask>, path: &[String], leaf: Mask) {
    let sub = match path {
        [_] => leaf,
        [_, rest @ ..] => {
            let mut inner = BTreeMap::new();
            insert_path(&mut inner, rest, leaf);
            Mask::Some(inner)
        }
        [] => return,
    };
    match map.get_mut(&path[0]) {
        Some(existing) => merge(existing, sub),
        None => {
            map.insert(path[0].clone(), sub);
        }
    }
}

/// Parses `a,b/c,d(e,f(g))`; `Err` is the text that does not parse.
fn parse_mask(text: &str) -> Result<Mask, String> {
    fn items(
        chars: &mut std::iter::Peekable<std::str::Chars>,
        nested: bool,
    ) -> Result<BTreeMap<String, Mask>, String> {
        let mut map = BTreeMap::new();
        loop {
            let mut path = Vec::new();
            loop {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                let mut name = String::new();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '*')
                {
                    name.push(c);
                }
                if name.is_empty() {
                    return Err(chars.collect());
                }
                path.push(name);
                if chars.next_if_eq(&'/').is_none() {
                    break;
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let leaf = if chars.next_if_eq(&'(').is_some() {
                let sub = items(chars, true)?;
                if chars.next_if_eq(&')').is_none() {
                    return Err(chars.collect());
                }
                Mask::Some(sub)
            } else {
                Mask::All
            };
            insert_path(&mut map, &path, leaf);
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.peek() {
                Some(',') => {
                    chars.next();
                }
                Some(')') if nested => return Ok(map),
                None if !nested => return Ok(map),
                _ => return Err(chars.collect()),
            }
        }
    }
    items(&mut text.chars().peekable(), false).map(Mask::Some)
}

/// The resources a selection may name, for telling bad field names.
#[derive(Clone, Copy, Debug)]
enum Schema {
    FileList,
    File,
    User,
    About,
    CommentList,
    Comment,
    Reply,
    Quoted,
}

impl Schema {
    /// `Some(inner)` if `name` is a field, with the resource it holds if any.
    fn field(self, name: &str) -> Option<Option<Schema>> {
        // Scalar fields as one list each, then the fields holding another resource.
        let (scalars, nested): (&str, &[(&str, Schema)]) = match self {
            Schema::FileList => (
                "kind nextPageToken incompleteSearch",
                &[("files", Schema::File)],
            ),
            Schema::File => (
                "kind id name mimeType description starred trashed explicitlyTrashed parents \
                 properties appProperties spaces version webContentLink webViewLink iconLink \
                 hasThumbnail thumbnailLink thumbnailVersion viewedByMe viewedByMeTime \
                 createdTime modifiedTime modifiedByMeTime modifiedByMe sharedWithMeTime \
                 ownedByMe driveId teamDriveId capabilities permissions permissionIds \
                 hasAugmentedPermissions folderColorRgb originalFilename fullFileExtension \
                 fileExtension md5Checksum sha1Checksum sha256Checksum size quotaBytesUsed \
                 headRevisionId contentHints imageMediaMetadata videoMediaMetadata \
                 isAppAuthorized exportLinks shortcutDetails contentRestrictions resourceKey \
                 linkShareMetadata labelInfo trashedTime copyRequiresWriterPermission \
                 writersCanShare viewersCanCopyContent shared inheritedPermissionsDisabled \
                 downloadRestrictions",
                &[
                    ("owners", Schema::User),
                    ("lastModifyingUser", Schema::User),
                    ("sharingUser", Schema::User),
                    ("trashingUser", Schema::User),
                ],
            ),
            Schema::User => (
                "kind displayName photoLink me permissionId emailAddress",
                &[],
            ),
            Schema::About => (
                "kind storageQuota importFormats exportFormats maxImportSizes maxUploadSize \
                 appInstalled folderColorPalette driveThemes canCreateDrives \
                 canCreateTeamDrives teamDriveThemes",
                &[("user", Schema::User)],
            ),
            Schema::CommentList => ("kind nextPageToken", &[("comments", Schema::Comment)]),
            Schema::Comment => (
                "kind id createdTime modifiedTime resolved anchor deleted htmlContent content \
                 mentionedEmailAddresses assigneeEmailAddress",
                &[
                    ("author", Schema::User),
                    ("replies", Schema::Reply),
                    ("quotedFileContent", Schema::Quoted),
                ],
            ),
            Schema::Reply => (
                "kind id createdTime modifiedTime action deleted htmlContent content \
                 mentionedEmailAddresses assigneeEmailAddress",
                &[("author", Schema::User)],
            ),
            Schema::Quoted => ("mimeType value", &[]),
        };
        if name == "*" || scalars.split_whitespace().any(|s| s == name) {
            return Some(None);
        }
        nested
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| Some(*s))
    }
}

/// The first name in `mask` that `schema` does not have.
fn unknown_field(mask: &Mask, schema: Schema) -> Option<String> {
    let Mask::Some(map) = mask else {
        return None;
    };
    map.iter()
        .find_map(|(name, sub)| match (schema.field(name), sub) {
            (None, _) => Some(name.clone()),
            (Some(_), Mask::All) => None,
            (Some(Some(inner)), sub) => unknown_field(sub, inner),
            (Some(None), _) if name == "*" => None,
            (Some(None), Mask::Some(_)) => Some(name.clone()),
        })
}

fn apply(value: &Value, mask: &Mask) -> Value {
    match (mask, value) {
        (Mask::Some(_), Value::Array(items)) => {
            Value::Array(items.iter().map(|item| apply(item, mask)).collect())
        }
        (Mask::Some(map), Value::Object(object)) => {
            let kept: Map<String, Value> = object
                .iter()
                .filter_map(|(key, v)| {
                    map.get(key)
                        .or_else(|| map.get("*"))
                        .map(|sub| (key.clone(), apply(v, sub)))
                })
                .collect();
            Value::Object(kept)
        }
        _ => value.clone(),
    }
}

/// Why a `fields` parameter is refused.
enum FieldsError {
    Missing,
    Invalid(String),
}

impl IntoResponse for FieldsError {
    fn into_response(self) -> Response {
        match self {
            FieldsError::Missing => bad_parameter(
                "required",
                "The 'fields' parameter is required for this method.",
                "fields",
            ),
            FieldsError::Invalid(what) => bad_parameter(
                "invalidParameter",
                &format!("Invalid field selection {what}"),
                "fields",
            ),
        }
    }
}

/// The selection `fields` asks for (`default` without it; required when `None`).
fn field_mask(
    fields: Option<&String>,
    schema: Schema,
    default: Option<&str>,
) -> Result<Mask, FieldsError> {
    let text = fields
        .map(String::as_str)
        .or(default)
        .ok_or(FieldsError::Missing)?;
    let mask = parse_mask(text).map_err(FieldsError::Invalid)?;
    match unknown_field(&mask, schema) {
        Some(name) => Err(FieldsError::Invalid(name)),
        None => Ok(mask),
    }
}

fn rfc3339(at: SystemTime) -> String {
    timestamp(at).strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn timestamp(at: SystemTime) -> jiff::Timestamp {
    let millis = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    jiff::Timestamp::from_millisecond(millis).expect("time")
}

/// RFC 3339, taken as UTC when it has no offset.
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

fn email_of(name: &str) -> String {
    format!("{}@example.com", name.to_lowercase())
}

/// A Drive user; comment and reply authors come without email and permission id.
fn user_json(name: &str, full: bool) -> Value {
    let mut user = json!({
        "kind": "drive#user",
        "displayName": name,
        "photoLink": format!("https://lh3.googleusercontent.com/a/{}=s64", name.to_lowercase()),
        "me": name == ME,
    });
    if full {
        let digits: u64 = name.bytes().map(u64::from).sum();
        user["permissionId"] = json!(format!("{:020}", digits * 1_000_003));
        user["emailAddress"] = json!(email_of(name));
    }
    user
}

fn web_view_link(file: &DriveFile) -> String {
    match file.mime_type.as_str() {
        DOCUMENT => format!("https://docs.google.com/document/d/{}/edit", file.id),
        SPREADSHEET => format!("https://docs.google.com/spreadsheets/d/{}/edit", file.id),
        "application/vnd.google-apps.presentation" => {
            format!("https://docs.google.com/presentation/d/{}/edit", file.id)
        }
        _ => format!("https://drive.google.com/file/d/{}/view", file.id),
    }
}

fn file_json(file: &DriveFile) -> Value {
    json!({
        "kind": "drive#file",
        "id": file.id,
        "name": file.name,
        "mimeType": file.mime_type,
        "webViewLink": web_view_link(file),
        "createdTime": rfc3339(file.created),
        "modifiedTime": rfc3339(file.modified),
        "owners": [user_json(&file.owner, true)],
        "ownedByMe": file.owner == ME,
        "starred": false,
        "trashed": file.trashed,
    })
}

/// Emails mentioned as `+email` in the text.
fn mentions(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix('+'))
        .map(|word| word.trim_end_matches(|c: char| !(c.is_alphanumeric())))
        .filter(|word| word.contains('@'))
        .map(str::to_owned)
        .collect()
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "<br>")
}

fn reply_json(reply: &DriveReply) -> Value {
    let mut body = json!({
        "kind": "drive#reply",
        "id": reply.id,
        "createdTime": rfc3339(reply.created),
        "modifiedTime": rfc3339(reply.created),
        "author": user_json(&reply.author, false),
        "deleted": false,
        "htmlContent": html(&reply.content),
        "content": reply.content,
        "mentionedEmailAddresses": mentions(&reply.content),
    });
    if let Some(action) = &reply.action {
        body["action"] = json!(action);
    }
    body
}

fn comment_json(comment: &DriveComment, file: &DriveFile) -> Value {
    let mut body = json!({
        "kind": "drive#comment",
        "id": comment.id,
        "createdTime": rfc3339(comment.created),
        "modifiedTime": rfc3339(comment.modified),
        "author": user_json(&comment.author, false),
        "deleted": comment.deleted,
        "resolved": comment.resolved,
        "replies": comment.replies.iter().map(reply_json).collect::<Vec<_>>(),
    });
    if !comment.deleted {
        body["content"] = json!(comment.content);
        body["htmlContent"] = json!(html(&comment.content));
        body["mentionedEmailAddresses"] = json!(mentions(&comment.content));
        if let Some(quoted) = &comment.quoted {
            let mime = if file.mime_type.starts_with("application/vnd.google-apps") {
                "text/html"
            } else {
                "text/plain"
            };
            body["quotedFileContent"] = json!({ "mimeType": mime, "value": quoted });
        }
    }
    body
}

type Filter = Box<dyn Fn(&DriveFile) -> bool + Send>;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Text(String),
    Word(String),
    Op(String),
    Open,
    Close,
}

fn tokens(q: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '\'' => {
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\\' => text.push(chars.next()?),
                        '\'' => break,
                        c => text.push(c),
                    }
                }
                out.push(Token::Text(text));
            }
            '=' => out.push(Token::Op("=".into())),
            '!' | '<' | '>' => {
                let mut op = c.to_string();
                if chars.next_if_eq(&'=').is_some() {
                    op.push('=');
                }
                if op == "!" {
                    return None;
                }
                out.push(Token::Op(op));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                out.push(Token::Word(word));
            }
            _ => return None,
        }
    }
    Some(out)
}

struct QueryParser {
    tokens: Vec<Token>,
    at: usize,
}

impl QueryParser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Option<Filter> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = Box::new(move |f| left(f) || right(f));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Filter> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Box::new(move |f| left(f) && right(f));
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Filter> {
        if self.peek_word("not") {
            self.at += 1;
            let inner = self.unary()?;
            return Some(Box::new(move |f| !inner(f)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            return (self.next()? == Token::Close).then_some(inner);
        }
        self.term()
    }

    fn term(&mut self) -> Option<Filter> {
        match self.next()? {
            Token::Text(value) => {
                if !self.peek_word("in") {
                    return None;
                }
                self.at += 1;
                match self.next()? {
                    Token::Word(field) if field == "owners" => {
                        let owner_is = |f: &DriveFile, value: &str| {
                            if value == "me" {
                                f.owner == ME
                            } else {
                                email_of(&f.owner) == value
                            }
                        };
                        Some(Box::new(move |f| owner_is(f, &value)))
                    }
                    _ => None,
                }
            }
            Token::Word(field) => {
                let op = match self.next()? {
                    Token::Op(op) => op,
                    Token::Word(w) if w.eq_ignore_ascii_case("contains") => "contains".into(),
                    _ => return None,
                };
                let value = self.next()?;
                comparison(&field, &op, value)
            }
            _ => None,
        }
    }
}

/// `field op value` as a filter, if the query language allows it.
fn comparison(field: &str, op: &str, value: Token) -> Option<Filter> {
    match (field, value) {
        ("name" | "mimeType", Token::Text(value)) => {
            let text_of: fn(&DriveFile) -> String = if field == "name" {
                |f: &DriveFile| f.name.clone()
            } else {
                |f: &DriveFile| f.mime_type.clone()
            };
            let name = field == "name";
            match op {
                "=" => Some(Box::new(move |f| text_of(f) == value)),
                "!=" => Some(Box::new(move |f| text_of(f) != value)),
                // The reference: `contains` on `name` only matches word prefixes.
                "contains" if name => {
                    let wanted = value.to_lowercase();
                    Some(Box::new(move |f| {
                        let text = text_of(f).to_lowercase();
                        text.starts_with(&wanted)
                            || text.split_whitespace().any(|w| w.starts_with(&wanted))
                    }))
                }
                "contains" => Some(Box::new(move |f| text_of(f).contains(&value))),
                _ => None,
            }
        }
        ("modifiedTime" | "createdTime", Token::Text(value)) => {
            let at = parse_time(&value)?;
            let modified = field == "modifiedTime";
            let time =
                move |f: &DriveFile| timestamp(if modified { f.modified } else { f.created });
            let test: fn(std::cmp::Ordering) -> bool = match op {
                "<" => |o| o.is_lt(),
                "<=" => |o| o.is_le(),
                "=" => |o| o.is_eq(),
                "!=" => |o| o.is_ne(),
                ">" => |o| o.is_gt(),
                ">=" => |o| o.is_ge(),
                _ => return None,
            };
            Some(Box::new(move |f| test(time(f).cmp(&at))))
        }
        ("trashed" | "sharedWithMe" | "starred", Token::Word(value)) => {
            let value = match value.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            let flag: fn(&DriveFile) -> bool = match field {
                "trashed" => |f: &DriveFile| f.trashed,
                "sharedWithMe" => |f: &DriveFile| f.owner != ME,
                _ => |_: &DriveFile| false,
            };
            match op {
                "=" => Some(Box::new(move |f| flag(f) == value)),
                "!=" => Some(Box::new(move |f| flag(f) != value)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn parse_query(q: &str) -> Option<Filter> {
    let mut parser = QueryParser {
        tokens: tokens(q)?,
        at: 0,
    };
    let filter = parser.or()?;
    (parser.at == parser.tokens.len()).then_some(filter)
}

fn invalid_value(parameter: &str) -> Response {
    bad_parameter("invalid", "Invalid Value", parameter)
}

/// Where the page `pageToken` asks for starts: `{kind}-n`, or the first page without
/// one; `None` for a token not made here.
fn page_start(params: &HashMap<String, String>, kind: &str) -> Option<usize> {
    match params.get("pageToken") {
        None => Some(0),
        Some(token) => token.strip_prefix(kind)?.strip_prefix('-')?.parse().ok(),
    }
}

/// The page of `items` from `start`, at most `size` of them, as `json` renders them, and
/// the `nextPageToken` (`{kind}-n`) while more follow.
fn page<T>(
    items: &[T],
    start: usize,
    size: usize,
    kind: &str,
    json: impl Fn(&T) -> Value,
) -> (Vec<Value>, Option<String>) {
    let end = (start + size).min(items.len());
    let page = items
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(json)
        .collect();
    (page, (end < items.len()).then(|| format!("{kind}-{end}")))
}

/// Answers a Drive call: logs and gates it (see [`gate`]), refuses a bad `fields`
/// selection (before anything is read or written), then lets `answer` answer it.
fn respond(
    state: &Shared,
    headers: &HeaderMap,
    call: String,
    accepted: &[&str],
    mask: Result<Mask, FieldsError>,
    answer: impl FnOnce(&mut DriveState, &Mask) -> Response,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, headers, call, accepted) {
        return refusal;
    }
    match mask {
        Ok(mask) => answer(&mut state, &mask),
        Err(refusal) => refusal.into_response(),
    }
}

async fn about(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let any_drive_scope: Vec<&str> = KNOWN_SCOPES
        .iter()
        .copied()
        .filter(|s| s.starts_with(SCOPE_DRIVE))
        .collect();
    let call = call("GET", "/drive/v3/about", &query);
    let mask = field_mask(params.get("fields"), Schema::About, None);
    respond(&state, &headers, call, &any_drive_scope, mask, |_, mask| {
        let full = json!({ "kind": "drive#about", "user": user_json(ME, true) });
        axum::Json(apply(&full, mask)).into_response()
    })
}

async fn list_files(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let call = call("GET", "/drive/v3/files", &query);
    let mask = field_mask(
        params.get("fields"),
        Schema::FileList,
        Some("kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"),
    );
    respond(
        &state,
        &headers,
        call,
        &FILES_SCOPES,
        mask,
        |state, mask| {
            let filter: Filter = match params.get("q") {
                None => Box::new(|_| true),
                Some(q) => match parse_query(q) {
                    Some(filter) => filter,
                    None => return invalid_value("q"),
                },
            };
            let mut keys: Vec<(String, bool)> = Vec::new();
            for key in params.get("orderBy").into_iter().flat_map(|o| o.split(',')) {
                let words: Vec<&str> = key.split_whitespace().collect();
                match words.as_slice() {
                    [name @ ("createdTime" | "modifiedTime" | "name" | "name_natural")] => {
                        keys.push(((*name).to_owned(), false));
                    }
                    [
                        name @ ("createdTime" | "modifiedTime" | "name" | "name_natural"),
                        "desc",
                    ] => {
                        keys.push(((*name).to_owned(), true));
                    }
                    _ => return invalid_value("orderBy"),
                }
            }
            let size = match params.get("pageSize").map(|s| s.parse::<usize>()) {
                None => 100,
                Some(Ok(n @ 1..=1000)) => n,
                Some(_) => return invalid_value("pageSize"),
            };
            let Some(start) = page_start(&params, "files") else {
                return invalid_value("pageToken");
            };
            let mut files: Vec<&DriveFile> = state.files.iter().filter(|f| filter(f)).collect();
            files.sort_by(|a, b| {
                keys.iter()
                    .fold(std::cmp::Ordering::Equal, |order, (key, desc)| {
                        order.then_with(|| {
                            let by = match key.as_str() {
                                "createdTime" => a.created.cmp(&b.created),
                                "modifiedTime" => a.modified.cmp(&b.modified),
                                _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                            };
                            if *desc { by.reverse() } else { by }
                        })
                    })
            });
            let (page, next) = page(&files, start, size, "files", |f| file_json(f));
            let mut full =
                json!({ "kind": "drive#fileList", "incompleteSearch": false, "files": page });
            if let Some(next) = next {
                full["nextPageToken"] = json!(next);
            }
            axum::Json(apply(&full, mask)).into_response()
        },
    )
}

async fn list_comments(
    State(state): State<Shared>,
    Path(file_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let call = call(
        "GET",
        &format!("/drive/v3/files/{file_id}/comments"),
        &query,
    );
    let mask = field_mask(params.get("fields"), Schema::CommentList, None);
    respond(
        &state,
        &headers,
        call,
        &COMMENTS_SCOPES,
        mask,
        |state, mask| {
            let Some(file) = state.files.iter().find(|f| f.id == file_id) else {
                return not_found("File", &file_id, "fileId");
            };
            let since = match params.get("startModifiedTime").map(|t| parse_time(t)) {
                None => None,
                Some(Some(t)) => Some(t),
                Some(None) => return invalid_value("startModifiedTime"),
            };
            let include_deleted = params.get("includeDeleted").is_some_and(|v| v == "true");
            let size = match params.get("pageSize").map(|s| s.parse::<usize>()) {
                None => 20,
                Some(Ok(n @ 1..)) => n.min(100),
                Some(_) => return invalid_value("pageSize"),
            };
            let Some(start) = page_start(&params, "comments") else {
                return invalid_value("pageToken");
            };
            let comments: Vec<&DriveComment> = file
                .comments
                .iter()
                .filter(|c| include_deleted || !c.deleted)
                .filter(|c| since.is_none_or(|t| timestamp(c.modified) >= t))
                .collect();
            let (page, next) = page(&comments, start, size, "comments", |c| {
                comment_json(c, file)
            });
            let mut full = json!({ "kind": "drive#commentList", "comments": page });
            if let Some(next) = next {
                full["nextPageToken"] = json!(next);
            }
            axum::Json(apply(&full, mask)).into_response()
        },
    )
}

async fn create_reply(
    State(state): State<Shared>,
    Path((file_id, comment_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/drive/v3/files/{file_id}/comments/{comment_id}/replies");
    let call = call("POST", &path, &query);
    let mask = field_mask(params.get("fields"), Schema::Reply, None);
    respond(
        &state,
        &headers,
        call,
        &REPLY_SCOPES,
        mask,
        |state, mask| {
            let Some(file) = state.files.iter().find(|f| f.id == file_id) else {
                return not_found("File", &file_id, "fileId");
            };
            if !file
                .comments
                .iter()
                .any(|c| c.id == comment_id && !c.deleted)
            {
                return not_found("Comment", &comment_id, "commentId");
            }
            let Ok(request) = serde_json::from_slice::<Value>(&body) else {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid JSON payload received.",
                    json!({ "message": "Invalid JSON payload received.", "domain": "global", "reason": "parseError" }),
                );
            };
            let action = match request["action"].as_str() {
                None => None,
                Some(a @ ("resolve" | "reopen")) => Some(a),
                Some(_) => return invalid_value("action"),
            };
            let content = request["content"].as_str().unwrap_or("");
            if content.is_empty() && action.is_none() {
                return bad_parameter("required", "Required parameter: content", "content");
            }
            let id = state.add_reply(&file_id, &comment_id, ME, content, action);
            let reply = state
                .comment_mut(&file_id, &comment_id)
                .replies
                .iter()
                .find(|r| r.id == id)
                .map(reply_json)
                .expect("added");
            axum::Json(apply(&reply, mask)).into_response()
        },
    )
}

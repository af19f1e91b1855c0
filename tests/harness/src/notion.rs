//! A stateful contract server for the Notion API endpoints Deepwork uses, written from
//! Notion's API reference (developers.notion.com; Notion cannot run here). The base URL
//! stands for `https://api.notion.com`.
//!
//! - Every call needs `Authorization: Bearer TOKEN` and a `Notion-Version` header
//!   (Versioning; the contract speaks [`NOTION_VERSION`] only). Errors are
//!   `{"object": "error", "status", "code", "message", "request_id"}` as in Status codes:
//!   400 `missing_version`, `validation_error`, `invalid_json`; 401 `unauthorized`;
//!   403 `restricted_resource` for a missing capability (Capabilities); 404
//!   `object_not_found` for anything not shared with the integration; 429 `rate_limited`
//!   with `Retry-After` in seconds (Request limits).
//! - `GET /v1/users/me` (Retrieve your token's bot user) and `GET /v1/users/{id}`
//!   (Retrieve a user; `person.email` only with the email capability).
//! - `GET /v1/pages/{id}` (Retrieve a page): shared pages only;
//! - `POST /v1/search` (Search by title): shared pages only, `query` against the title,
//!   `filter` on `object`, `sort` on `last_edited_time` only; the Page object with its
//!   `title` property and `url`.
//! - `GET /v1/comments?block_id=` (Retrieve comments): un-resolved comments only, oldest
//!   first; `POST /v1/comments` (Create comment) on a page (`parent.page_id`, starting a
//!   discussion) or in a discussion (`discussion_id`), exactly one of the two, written by
//!   the integration's bot. Rich text as in the Rich text object, user mentions included.
//! - Lists paginate with `start_cursor`/`page_size` (at most 100) and answer
//!   `next_cursor`/`has_more` (Pagination).
//!
//! Times: the changelog "Last edited and created time properties are now rounded to the
//! nearest minute" rounds pages' times down to the minute; the Comment object's examples
//! are whole minutes too, so comments are rounded the same way and clients must tell
//! comments apart by id, not by time. Nothing in the reference says a comment edits its
//! page, so comments leave the page's `last_edited_time` alone; only [`NotionState::edit_page`]
//! moves it. All comments here belong to pages (no inline block discussions).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The internal integration's token.
pub const TOKEN: &str = "ntn_deepwork_test_0123456789";
/// The `Notion-Version` the contract speaks.
pub const NOTION_VERSION: &str = "2022-06-28";
/// The integration's bot user.
pub const BOT: &str = "b07b07b0-0000-4000-8000-000000000003";
/// The user, Alice, who connected the integration.
pub const ME: &str = "a11ce000-0000-4000-8000-000000000001";
/// A colleague, Bob.
pub const BOB: &str = "b0b00000-0000-4000-8000-000000000002";
/// The workspace's name.
pub const WORKSPACE: &str = "Acme";

/// Capabilities the integration can be given (Capabilities reference); all are on at start.
pub const CAPABILITIES: [&str; 5] = [
    "read_content",
    "read_comments",
    "insert_comments",
    "read_user_information",
    "read_user_emails",
];

/// A workspace-level page.
#[derive(Clone, Debug)]
pub struct NotionPage {
    /// UUID with dashes.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Whether it is shared with the integration.
    pub shared: bool,
    /// When it was created.
    pub created: SystemTime,
    /// When it was last edited.
    pub last_edited: SystemTime,
    /// Who created it.
    pub created_by: String,
    /// Who last edited it.
    pub last_edited_by: String,
}

/// A comment on a page.
#[derive(Clone, Debug)]
pub struct NotionComment {
    /// UUID with dashes.
    pub id: String,
    /// The page.
    pub page_id: String,
    /// Its discussion thread.
    pub discussion_id: String,
    /// Its author.
    pub created_by: String,
    /// When it was written.
    pub created: SystemTime,
    /// Its rich text, as the API answers it.
    pub rich_text: Vec<Value>,
}

/// The workspace as the integration sees it.
#[derive(Clone, Debug)]
pub struct NotionState {
    /// Every page, shared or not.
    pub pages: Vec<NotionPage>,
    /// Every comment, oldest first.
    pub comments: Vec<NotionComment>,
    /// Discussions resolved in the Notion UI; their comments are no longer listed.
    pub resolved: Vec<String>,
    /// The integration's capabilities, from [`CAPABILITIES`].
    pub capabilities: Vec<String>,
    /// A public (OAuth) integration is owned by the user, an internal one by the workspace.
    pub public_integration: bool,
    /// Whether [`TOKEN`] still works.
    pub token_valid: bool,
    /// Answer this many coming calls with 429 `rate_limited`.
    pub rate_limit_next: u32,
    /// Every call, as `METHOD /path?query`.
    pub calls: Vec<String>,
    /// How far Notion's clock is ahead of this machine's.
    pub clock_ahead: Duration,
    ids: u64,
    last: SystemTime,
}

impl NotionState {
    /// Notion's clock now; strictly later on every call so events keep their order.
    fn tick(&mut self) -> SystemTime {
        let now = (SystemTime::now() + self.clock_ahead).max(self.last + Duration::from_millis(1));
        self.last = now;
        now
    }

    fn new_id(&mut self, kind: u32) -> String {
        self.ids += 1;
        format!("{kind:08x}-0000-4000-8000-{:012x}", self.ids)
    }

    /// Moves Notion's clock forward, so the next edit falls in a later minute.
    pub fn advance(&mut self, by: Duration) {
        self.clock_ahead += by;
    }

    /// Alice creates a workspace page; returns its id.
    pub fn create_page(&mut self, title: &str, shared: bool) -> String {
        let id = self.new_id(0x9a9e);
        let now = self.tick();
        self.pages.push(NotionPage {
            id: id.clone(),
            title: title.to_owned(),
            shared,
            created: now,
            last_edited: now,
            created_by: ME.into(),
            last_edited_by: ME.into(),
        });
        id
    }

    /// Alice edits the page's content.
    pub fn edit_page(&mut self, page_id: &str) {
        let now = self.tick();
        let page = self.page_mut(page_id);
        page.last_edited = now;
        page.last_edited_by = ME.into();
    }

    /// Alice shares the page with the integration.
    pub fn share(&mut self, page_id: &str) {
        self.page_mut(page_id).shared = true;
    }

    /// The integration is disconnected: [`TOKEN`] stops working.
    pub fn revoke(&mut self) {
        self.token_valid = false;
    }

    /// Someone resolves the discussion in the Notion UI.
    pub fn resolve(&mut self, discussion_id: &str) {
        self.resolved.push(discussion_id.to_owned());
    }

    /// `user_id` comments on the page, mentioning `mentions` before `text`; a new
    /// discussion unless `discussion` names one. Returns the comment's id.
    pub fn comment(
        &mut self,
        page_id: &str,
        user_id: &str,
        text: &str,
        mentions: &[&str],
        discussion: Option<&str>,
    ) -> String {
        let mut rich_text: Vec<Value> = mentions.iter().map(|m| mention(m)).collect();
        let text = if mentions.is_empty() {
            text.to_owned()
        } else {
            format!(" {text}")
        };
        rich_text.push(text_item(&text, None, None));
        let page_id = self.page_mut(page_id).id.clone();
        self.add_comment(&page_id, user_id, rich_text, discussion)
    }

    fn add_comment(
        &mut self,
        page_id: &str,
        user_id: &str,
        rich_text: Vec<Value>,
        discussion: Option<&str>,
    ) -> String {
        let id = self.new_id(0xc0c0);
        let discussion_id = match discussion {
            Some(d) => d.to_owned(),
            None => self.new_id(0xd15c),
        };
        let created = self.tick();
        self.comments.push(NotionComment {
            id: id.clone(),
            page_id: page_id.to_owned(),
            discussion_id,
            created_by: user_id.to_owned(),
            created,
            rich_text,
        });
        id
    }

    fn page_mut(&mut self, page_id: &str) -> &mut NotionPage {
        let index = self.find_page(page_id).expect("no such page");
        &mut self.pages[index]
    }

    /// Notion takes ids with or without dashes.
    fn find_page(&self, id: &str) -> Option<usize> {
        let wanted = compact(id);
        self.pages.iter().position(|p| compact(&p.id) == wanted)
    }

    fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct NotionContract {
    /// Stands for `https://api.notion.com`.
    pub base: String,
    /// The workspace, for tests to read and change.
    pub state: Arc<Mutex<NotionState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<NotionState>>;

impl NotionContract {
    /// Starts on a free loopback port with no pages and every capability.
    pub async fn start() -> NotionContract {
        let state: Shared = Arc::new(Mutex::new(NotionState {
            pages: Vec::new(),
            comments: Vec::new(),
            resolved: Vec::new(),
            capabilities: CAPABILITIES.map(str::to_owned).to_vec(),
            public_integration: false,
            token_valid: true,
            rate_limit_next: 0,
            calls: Vec::new(),
            clock_ahead: Duration::ZERO,
            ids: 0,
            last: SystemTime::UNIX_EPOCH,
        }));
        let app = Router::new()
            .route("/v1/users/me", get(users_me))
            .route("/v1/users/{id}", get(user))
            .route("/v1/pages/{id}", get(page))
            .route("/v1/search", post(search))
            .route("/v1/comments", get(list_comments).post(create_comment))
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        NotionContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    /// The workspace now.
    pub fn now(&self) -> NotionState {
        self.state.lock().expect("state").clone()
    }
}

fn compact(id: &str) -> String {
    id.replace('-', "").to_ascii_lowercase()
}

fn name_of(user_id: &str) -> &'static str {
    match user_id {
        ME => "Alice",
        BOB => "Bob",
        BOT => "Deepwork",
        _ => "Someone",
    }
}

fn annotations() -> Value {
    json!({ "bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default" })
}

fn text_item(content: &str, link: Option<&str>, annotations_given: Option<&Value>) -> Value {
    let mut styled = annotations();
    if let Some(Value::Object(given)) = annotations_given {
        for (key, value) in given {
            styled[key] = value.clone();
        }
    }
    json!({
        "type": "text",
        "text": { "content": content, "link": link.map(|url| json!({ "url": url })) },
        "annotations": styled,
        "plain_text": content,
        "href": link,
    })
}

fn mention(user_id: &str) -> Value {
    json!({
        "type": "mention",
        "mention": { "type": "user", "user": { "object": "user", "id": user_id } },
        "annotations": annotations(),
        "plain_text": format!("@{}", name_of(user_id)),
        "href": null,
    })
}

/// ISO 8601 with milliseconds, rounded down to the minute as Notion does.
fn minute(at: SystemTime) -> String {
    let millis = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    jiff::Timestamp::from_millisecond(millis - millis.rem_euclid(60_000))
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "object": "error", "status": status.as_u16(), "code": code, "message": message, "request_id": "7e5a1c2b-0000-4000-8000-000000000000" })),
    )
        .into_response()
}

fn not_found(kind: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "object_not_found",
        &format!(
            "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
        ),
    )
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "validation_error", message)
}

fn restricted() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "restricted_resource",
        "Insufficient permissions for this endpoint.",
    )
}

/// Logs the call, then checks rate limit, version and token; `Some` is the refusal.
fn gate(state: &mut NotionState, headers: &HeaderMap, call: String) -> Option<Response> {
    state.calls.push(call);
    if state.rate_limit_next > 0 {
        state.rate_limit_next -= 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().expect("header"));
        return Some(response);
    }
    match headers.get("notion-version").and_then(|v| v.to_str().ok()) {
        None => {
            return Some(error(
                StatusCode::BAD_REQUEST,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
            ));
        }
        Some(version) if version != NOTION_VERSION => {
            return Some(invalid(&format!(
                "Notion-Version header failed validation: this contract server speaks {NOTION_VERSION}, instead was `{version}`."
            )));
        }
        Some(_) => {}
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (!(state.token_valid && bearer == Some(TOKEN))).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API token is invalid.",
        )
    })
}

fn call(method: &str, path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{method} {path}?{q}"),
        _ => format!("{method} {path}"),
    }
}

fn person(state: &NotionState, user_id: &str) -> Value {
    let mut person = json!({});
    if state.has("read_user_emails") {
        person["email"] = json!(format!("{}@example.com", name_of(user_id).to_lowercase()));
    }
    json!({ "object": "user", "id": user_id, "type": "person", "name": name_of(user_id), "avatar_url": null, "person": person })
}

fn bot(state: &NotionState) -> Value {
    let owner = if state.public_integration {
        json!({ "type": "user", "user": person(state, ME) })
    } else {
        json!({ "type": "workspace", "workspace": true })
    };
    json!({
        "object": "user",
        "id": BOT,
        "type": "bot",
        "name": name_of(BOT),
        "avatar_url": null,
        "bot": { "owner": owner, "workspace_name": WORKSPACE },
    })
}

async fn users_me(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, call("GET", "/v1/users/me", &query)) {
        return refusal;
    }
    axum::Json(bot(&state)).into_response()
}

async fn user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    let path = format!("/v1/users/{id}");
    if let Some(refusal) = gate(&mut state, &headers, call("GET", &path, &query)) {
        return refusal;
    }
    if !state.has("read_user_information") {
        return restricted();
    }
    match [ME, BOB, BOT]
        .into_iter()
        .find(|u| compact(u) == compact(&id))
    {
        Some(BOT) => axum::Json(bot(&state)).into_response(),
        Some(known) => axum::Json(person(&state, known)).into_response(),
        None => not_found("user", &id),
    }
}

/// `GET /v1/pages/{id}`: a page shared with the integration (dashed or compact id);
/// any other is `object_not_found`, as the reference says for unshared pages.
async fn page(
    State(state): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    let path = format!("/v1/pages/{id}");
    if let Some(refusal) = gate(&mut state, &headers, call("GET", &path, &query)) {
        return refusal;
    }
    if !state.has("read_content") {
        return restricted();
    }
    match state
        .pages
        .iter()
        .find(|p| p.shared && compact(&p.id) == compact(&id))
    {
        Some(page) => axum::Json(page_json(page)).into_response(),
        None => not_found("page", &id),
    }
}

fn page_json(page: &NotionPage) -> Value {
    let slug: String = page
        .title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let url = if slug.is_empty() {
        format!("https://www.notion.so/{}", compact(&page.id))
    } else {
        format!("https://www.notion.so/{slug}-{}", compact(&page.id))
    };
    json!({
        "object": "page",
        "id": page.id,
        "created_time": minute(page.created),
        "last_edited_time": minute(page.last_edited),
        "created_by": { "object": "user", "id": page.created_by },
        "last_edited_by": { "object": "user", "id": page.last_edited_by },
        "cover": null,
        "icon": null,
        "parent": { "type": "workspace", "workspace": true },
        "archived": false,
        "in_trash": false,
        "properties": { "title": { "id": "title", "type": "title", "title": [text_item(&page.title, None, None)] } },
        "url": url,
        "public_url": null,
    })
}

/// One page of `items` from `start_cursor` (an item's id), as a Notion list; `Err` is
/// the `validation_error` message.
fn paginate(
    items: Vec<(String, Value)>,
    start_cursor: Option<&str>,
    page_size: Option<&Value>,
    kind: &str,
) -> Result<Value, String> {
    let size = match page_size {
        None | Some(Value::Null) => 100,
        Some(n) => match n
            .as_u64()
            .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(format!(
                    "body failed validation: body.page_size should be a number between 1 and 100, instead was `{n}`."
                ));
            }
        },
    };
    let start = match start_cursor {
        None => 0,
        Some(cursor) => items
            .iter()
            .position(|(id, _)| compact(id) == compact(cursor))
            .ok_or_else(|| format!("start_cursor provided is invalid: {cursor}"))?,
    };
    let end = (start + size).min(items.len());
    let next = items.get(end).map(|(id, _)| id.clone());
    let results: Vec<Value> = items[start..end].iter().map(|(_, v)| v.clone()).collect();
    let mut list = json!({
        "object": "list",
        "results": results,
        "next_cursor": next,
        "has_more": next.is_some(),
        "type": kind,
    });
    list[kind] = json!({});
    Ok(list)
}

async fn search(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, "POST /v1/search".into()) {
        return refusal;
    }
    if !state.has("read_content") {
        return restricted();
    }
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "Error parsing JSON body.",
                );
            }
        }
    };
    let wanted = match &request["filter"] {
        Value::Null => None,
        filter => match (filter["property"].as_str(), filter["value"].as_str()) {
            (Some("object"), Some(value @ ("page" | "database"))) => Some(value),
            _ => {
                return invalid(
                    "body failed validation: body.filter.property should be `\"object\"` and body.filter.value one of `\"page\"`, `\"database\"`.",
                );
            }
        },
    };
    let descending = match &request["sort"] {
        Value::Null => true,
        sort => match (sort["timestamp"].as_str(), sort["direction"].as_str()) {
            (Some("last_edited_time"), Some("descending")) => true,
            (Some("last_edited_time"), Some("ascending")) => false,
            _ => {
                return invalid(
                    "body failed validation: body.sort.timestamp should be `\"last_edited_time\"` and body.sort.direction one of `\"ascending\"`, `\"descending\"`.",
                );
            }
        },
    };
    let query = request["query"].as_str().unwrap_or("").to_lowercase();
    let mut pages: Vec<&NotionPage> = state
        .pages
        .iter()
        .filter(|p| p.shared && wanted != Some("database"))
        .filter(|p| p.title.to_lowercase().contains(&query))
        .collect();
    pages.sort_by_key(|p| p.last_edited);
    if descending {
        pages.reverse();
    }
    let items = pages
        .into_iter()
        .map(|p| (p.id.clone(), page_json(p)))
        .collect();
    match paginate(
        items,
        request["start_cursor"].as_str(),
        request.get("page_size"),
        "page_or_database",
    ) {
        Ok(list) => axum::Json(list).into_response(),
        Err(message) => invalid(&message),
    }
}

fn comment_json(comment: &NotionComment) -> Value {
    json!({
        "object": "comment",
        "id": comment.id,
        "parent": { "type": "page_id", "page_id": comment.page_id },
        "discussion_id": comment.discussion_id,
        "created_time": minute(comment.created),
        "last_edited_time": minute(comment.created),
        "created_by": { "object": "user", "id": comment.created_by },
        "rich_text": comment.rich_text,
    })
}

async fn list_comments(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, call("GET", "/v1/comments", &query)) {
        return refusal;
    }
    if !state.has("read_comments") {
        return restricted();
    }
    let Some(block_id) = params.get("block_id") else {
        return invalid(
            "body failed validation: block_id should be defined, instead was `undefined`.",
        );
    };
    let Some(page) = state
        .find_page(block_id)
        .map(|i| &state.pages[i])
        .filter(|p| p.shared)
    else {
        return not_found("block", block_id);
    };
    let items = state
        .comments
        .iter()
        .filter(|c| c.page_id == page.id && !state.resolved.contains(&c.discussion_id))
        .map(|c| (c.id.clone(), comment_json(c)))
        .collect();
    let page_size = params.get("page_size").map(|s| json!(s));
    match paginate(
        items,
        params.get("start_cursor").map(String::as_str),
        page_size.as_ref(),
        "comment",
    ) {
        Ok(list) => axum::Json(list).into_response(),
        Err(message) => invalid(&message),
    }
}

/// The request's rich text as Notion answers it; `Err` is the `validation_error` message.
fn rich_text(request: &Value) -> Result<Vec<Value>, String> {
    let Some(items) = request["rich_text"].as_array().filter(|a| !a.is_empty()) else {
        return Err(
            "body failed validation: body.rich_text should be a non-empty array, instead was `undefined`."
                .into(),
        );
    };
    items
        .iter()
        .map(|item| {
            if let Some(user) = item["mention"]["user"]["id"].as_str() {
                return [ME, BOB, BOT]
                    .into_iter()
                    .find(|u| compact(u) == compact(user))
                    .map(mention)
                    .ok_or_else(|| format!("Could not find user with ID: {user}."));
            }
            let Some(content) = item["text"]["content"].as_str() else {
                return Err(
                    "body failed validation: body.rich_text[].text.content should be defined."
                        .into(),
                );
            };
            if content.chars().count() > 2000 {
                return Err(
                    "body failed validation: body.rich_text[].text.content.length should be ≤ `2000`."
                        .into(),
                );
            }
            Ok(text_item(
                content,
                item["text"]["link"]["url"].as_str(),
                item.get("annotations"),
            ))
        })
        .collect()
}

async fn create_comment(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, &headers, "POST /v1/comments".into()) {
        return refusal;
    }
    if !state.has("insert_comments") {
        return restricted();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Error parsing JSON body.",
        );
    };
    let rich_text = match rich_text(&request) {
        Ok(items) => items,
        Err(message) => return invalid(&message),
    };
    let (page_id, discussion) = match (
        request["parent"]["page_id"].as_str(),
        request["discussion_id"].as_str(),
    ) {
        (Some(page_id), None) => {
            match state
                .find_page(page_id)
                .map(|i| &state.pages[i])
                .filter(|p| p.shared)
            {
                Some(page) => (page.id.clone(), None),
                None => return not_found("page", page_id),
            }
        }
        (None, Some(discussion)) => {
            let shared_page = |c: &&NotionComment| {
                state
                    .find_page(&c.page_id)
                    .is_some_and(|i| state.pages[i].shared)
            };
            match state
                .comments
                .iter()
                .filter(shared_page)
                .find(|c| compact(&c.discussion_id) == compact(discussion))
            {
                Some(c) => (c.page_id.clone(), Some(c.discussion_id.clone())),
                None => return not_found("discussion", discussion),
            }
        }
        _ => {
            return invalid(
                "body failed validation. Fix one: body.parent should be defined, instead was `undefined`. body.discussion_id should be defined, instead was `undefined`. Exactly one of them is allowed.",
            );
        }
    };
    let id = state.add_comment(&page_id, BOT, rich_text, discussion.as_deref());
    let created = state.comments.iter().find(|c| c.id == id).expect("added");
    axum::Json(comment_json(created)).into_response()
}

//! A stateful contract server for the Confluence Cloud REST API (v1) endpoints Deepwork
//! uses, written from Atlassian's references (Confluence Cloud cannot run here): the v1
//! REST reference (Content, Content - children and descendants, Users), "Advanced
//! searching using CQL" (fields, operators, functions), the storage format reference,
//! "Basic auth for REST APIs" and "Rate limiting". One base URL stands for the site; the
//! API lives under `/wiki`:
//! - HTTP Basic `email:api_token` (the one Atlassian account Jira's contract signs in
//!   with too: [`EMAIL`], [`API_TOKEN`]); wrong or revoked credentials are 401 with the
//!   platform's body;
//! - `GET /wiki/rest/api/user/current`: `type`, `accountId`, `displayName`, `email`,
//!   `timeZone`;
//! - `GET /wiki/rest/api/content/search` with `cql`, `expand`, `limit` (default 25;
//!   at most 50 when `body` is expanded, 200 with other expansions, 1000 without, the
//!   fixed system limits Atlassian's KB names), `cursor` (from `_links.next`, relative
//!   to `_links.base`) or `start`; the answer is `results`, `start`, `limit`, `size`,
//!   `_links {base, context, self, next?, prev?}`;
//! - `GET /wiki/rest/api/content/{id}/child/comment` with `expand`, `depth` (`all`
//!   for replies too; otherwise top-level comments only), `location`, `start`, `limit`;
//! - `POST /wiki/rest/api/content` of a comment (`type: comment`, `container {id}`,
//!   `ancestors [{id}]` for a reply, `body.storage {value, representation: storage}`)
//!   → 200, the comment by the signed-in user;
//! - content as v1 renders it: `id`, `type` (`page`, `blogpost`, `comment`), `status`,
//!   `title` (a comment's is `Re: <page title>`), `extensions.location` (`footer` or
//!   `inline`) for comments, `_links {webui, self}`, and only when expanded `history
//!   {createdBy, createdDate, lastUpdated?}`, `version {by, when, number}`,
//!   `body.storage`/`body.view` (`expand=body` alone gives neither), `container`
//!   (a comment's page, itself expanded as the dotted `container.…` keys ask), `space`,
//!   `ancestors` (a reply's parent comment);
//! - errors as `{"statusCode", "data": {…, "errors": [{"message": {"translation"}}]},
//!   "message", "reason"}`; every CQL error's `message` is `Could not parse cql : <cql>`,
//!   the detail is in `data.errors`;
//! - 429 with `Retry-After` and the `X-RateLimit-*` headers while
//!   [`ConfluenceState::rate_limit_next`] lasts.
//!
//! CQL shares JQL's parser (see `atlassian.rs`): AND binds tighter than OR, NOT,
//! parentheses, keywords in any case, `order by lastmodified|created|title asc|desc`.
//! Fields: `type` (`=`, `!=`, `in`, `not in`), `creator`, `contributor` (the creator and
//! every editor; a comment's author), `mention` (an `<ri:user ri:account-id>` in the
//! body), `watcher` (`=`, `!=`, `in`, `not in`; `currentUser()` or an account id),
//! `space`, `id`/`content`, `container` (a comment's page), and `lastmodified`/`created`
//! with `=`, `!=`, `<`, `<=`, `>`, `>=` against `now()`, `now("-15m")` (increment
//! `(+/-)nn(y|M|w|d|h|m)`) or a date `"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"`,
//! `yyyy/MM/dd`, `yyyy-MM-dd` read in the user's time zone
//! ([`ConfluenceState::time_zone`]), as the CQL field reference says. `field != value`
//! is `NOT field = value`, as the CQL operator reference says. Without `order by`,
//! results come in creation order.
//!
//! Watching is per page or blog post: its creator watches it, and whoever
//! [`ConfluenceState::watch`]es; a comment has no watchers of its own. Adding a comment
//! leaves its page's version alone; [`ConfluenceState::mention_in_page`] edits the page.

pub use crate::atlassian::{API_TOKEN, BOB, DEFAULT_TIME_ZONE, EMAIL, ME, display_name};

use crate::atlassian::{
    Clause, Expr, Op, Site, Syntax, Term, civil_time, items, order_by, page_offset, page_token,
    param, parse_query, query_pairs, rate_limited, signed, target, unknown, values, zone,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::{Span, Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What a piece of content is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContentKind {
    /// A page.
    Page,
    /// A blog post.
    BlogPost,
    /// A comment on a page or blog post.
    Comment,
}

impl ContentKind {
    /// Its CQL and REST name.
    pub fn name(self) -> &'static str {
        match self {
            ContentKind::Page => "page",
            ContentKind::BlogPost => "blogpost",
            ContentKind::Comment => "comment",
        }
    }
}

/// A page, blog post or comment.
#[derive(Clone, Debug)]
pub struct Content {
    /// Its id.
    pub id: String,
    /// What it is.
    pub kind: ContentKind,
    /// Its space's key (a comment's is its page's).
    pub space: String,
    /// Its title.
    pub title: String,
    /// Who created it.
    pub creator: String,
    /// When.
    pub created: Timestamp,
    /// Every version as (when, by whom), the first being the creation.
    pub versions: Vec<(Timestamp, String)>,
    /// Its body in storage format.
    pub body: String,
    /// A comment's page or blog post.
    pub container: Option<String>,
    /// The comment a reply answers.
    pub parent: Option<String>,
    /// A comment's place: `footer` or `inline`.
    pub location: String,
    /// Who watches it (pages and blog posts).
    pub watchers: Vec<String>,
}

impl Content {
    /// When it last changed.
    pub fn last_modified(&self) -> Timestamp {
        self.versions.last().map_or(self.created, |v| v.0)
    }

    /// The accounts its body mentions.
    pub fn mentions(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("<ri:user") {
            rest = &rest[start..];
            let tag_end = rest.find('>').unwrap_or(rest.len());
            if let Some(id) = rest[..tag_end]
                .split_once("ri:account-id=\"")
                .and_then(|(_, after)| after.split_once('"'))
                .map(|(id, _)| id.to_owned())
            {
                found.push(id);
            }
            rest = &rest[tag_end..];
        }
        found
    }
}

/// The site's state.
#[derive(Clone, Debug)]
pub struct ConfluenceState {
    /// The site's base URL (the API is under its `/wiki`).
    pub site: String,
    /// The user's time zone (IANA), in which CQL dates are read.
    pub time_zone: String,
    /// The site's clock; `None` is the real time.
    pub clock: Option<Timestamp>,
    /// Whether the API token was revoked.
    pub revoked: bool,
    /// Answer this many coming requests with 429.
    pub rate_limit_next: u32,
    /// The `Retry-After` of those answers, in seconds.
    pub retry_after: u32,
    /// Every page, blog post and comment, in creation order.
    pub content: Vec<Content>,
    /// Every request, as `METHOD /path?query`.
    pub calls: Vec<String>,
    last_id: u64,
}

impl ConfluenceState {
    /// What the site's clock says.
    pub fn time(&self) -> Timestamp {
        self.clock.unwrap_or_else(Timestamp::now)
    }

    /// The content with that id.
    pub fn get(&self, id: &str) -> Option<&Content> {
        self.content.iter().find(|c| c.id == id)
    }

    fn get_mut(&mut self, id: &str) -> &mut Content {
        self.content
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no content {id}"))
    }

    fn create(&mut self, kind: ContentKind, space: &str, title: &str, creator: &str) -> String {
        self.last_id += 1;
        let id = self.last_id.to_string();
        let now = self.time();
        self.content.push(Content {
            id: id.clone(),
            kind,
            space: space.to_owned(),
            title: title.to_owned(),
            creator: creator.to_owned(),
            created: now,
            versions: vec![(now, creator.to_owned())],
            body: format!("<p>{}</p>", escape(title)),
            container: None,
            parent: None,
            location: String::new(),
            watchers: vec![creator.to_owned()],
        });
        id
    }

    /// `creator` creates a page in `space` and watches it. Returns its id.
    pub fn create_page(&mut self, space: &str, title: &str, creator: &str) -> String {
        self.create(ContentKind::Page, space, title, creator)
    }

    /// `creator` posts a blog post in `space` and watches it. Returns its id.
    pub fn create_blogpost(&mut self, space: &str, title: &str, creator: &str) -> String {
        self.create(ContentKind::BlogPost, space, title, creator)
    }

    /// `author` leaves a footer comment on `page` (a reply to `parent` if given): `text`
    /// after `@`-mentions of `mentions` as the editor stores them. Returns its id.
    pub fn comment(
        &mut self,
        page: &str,
        author: &str,
        text: &str,
        mentions: &[&str],
        parent: Option<&str>,
    ) -> String {
        let links: String = mentions
            .iter()
            .map(|a| format!("{} ", user_link(a)))
            .collect();
        let body = format!("<p>{links}{}</p>", escape(text));
        self.add_comment(page, author, body, parent)
    }

    fn add_comment(
        &mut self,
        page: &str,
        author: &str,
        body: String,
        parent: Option<&str>,
    ) -> String {
        let (space, title) = {
            let page = self.get(page).unwrap_or_else(|| panic!("no page {page}"));
            (page.space.clone(), format!("Re: {}", page.title))
        };
        let id = self.create(ContentKind::Comment, &space, &title, author);
        let comment = self.get_mut(&id);
        comment.body = body;
        comment.container = Some(page.to_owned());
        comment.parent = parent.map(str::to_owned);
        comment.location = "footer".into();
        comment.watchers.clear();
        id
    }

    /// `editor` edits `page` to mention `account`: a new version, so a new
    /// `lastmodified`, and `editor` becomes a contributor.
    pub fn mention_in_page(&mut self, page: &str, editor: &str, account: &str) {
        let now = self.time();
        let page = self.get_mut(page);
        page.body
            .push_str(&format!("<p>{}</p>", user_link(account)));
        page.versions.push((now, editor.to_owned()));
    }

    /// `account` starts watching `page`.
    pub fn watch(&mut self, page: &str, account: &str) {
        let page = self.get_mut(page);
        if !page.watchers.iter().any(|w| w == account) {
            page.watchers.push(account.to_owned());
        }
    }

    /// Revokes the API token.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }

    fn zone(&self) -> TimeZone {
        zone(&self.time_zone)
    }
}

/// A user mention in storage format.
fn user_link(account: &str) -> String {
    format!("<ac:link><ri:user ri:account-id=\"{account}\" /></ac:link>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The running site; stops when dropped.
#[derive(Debug)]
pub struct ConfluenceContract {
    /// The site, like `https://example.atlassian.net` (the API is under `/wiki`).
    pub base: String,
    /// The site's state, for tests to read and change.
    pub state: Arc<Mutex<ConfluenceState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<ConfluenceState>>;

impl ConfluenceContract {
    /// Starts an empty site on a free loopback port.
    pub async fn start() -> ConfluenceContract {
        let state: Shared = Arc::new(Mutex::new(ConfluenceState {
            site: String::new(),
            time_zone: DEFAULT_TIME_ZONE.into(),
            clock: None,
            revoked: false,
            rate_limit_next: 0,
            retry_after: 1,
            content: Vec::new(),
            calls: Vec::new(),
            last_id: 65536,
        }));
        let app = Router::new()
            .route("/wiki/rest/api/user/current", get(current_user))
            .route("/wiki/rest/api/content/search", get(search))
            .route(
                "/wiki/rest/api/content/{id}/child/comment",
                get(child_comments),
            )
            .route("/wiki/rest/api/content", post(create_content))
            .fallback(unknown::<ConfluenceState>)
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        state.lock().expect("state").site = served.base.clone();
        ConfluenceContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    /// The site now.
    pub fn now(&self) -> ConfluenceState {
        self.state.lock().expect("state").clone()
    }
}

// ---- Errors and what the gate needs ----

fn confluence_error(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    let errors: Vec<Value> = detail
        .map(|d| json!({ "message": { "key": d, "args": [], "translation": d } }))
        .into_iter()
        .collect();
    let reason = status.canonical_reason().unwrap_or_default();
    (
        status,
        axum::Json(json!({
            "statusCode": status.as_u16(),
            "data": { "authorized": true, "valid": false, "allowedInReadOnlyMode": true, "errors": errors, "successful": false },
            "message": message,
            "reason": reason,
        })),
    )
        .into_response()
}

impl Site for ConfluenceState {
    fn gate_fields(&mut self) -> (&mut Vec<String>, &mut u32, bool) {
        (&mut self.calls, &mut self.rate_limit_next, self.revoked)
    }

    fn too_many_requests(&self) -> Response {
        rate_limited(
            self.retry_after,
            self.time(),
            None,
            json!({ "statusCode": 429, "message": "Rate limit exceeded", "reason": "Too Many Requests" }),
        )
    }

    fn no_resource() -> Response {
        confluence_error(
            StatusCode::NOT_FOUND,
            "No resource here (contract server)",
            None,
        )
    }
}

// ---- CQL ----

/// A CQL clause checked, ready to test content with.
#[derive(Clone, Debug)]
enum Cond {
    Kind(Vec<String>, bool),
    People(&'static str, Vec<String>, bool),
    Space(Vec<String>, bool),
    Id(&'static str, Vec<String>, bool),
    Time(&'static str, Op, Timestamp),
}

fn cql_field(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "type" => "type",
        "creator" => "creator",
        "contributor" => "contributor",
        "mention" => "mention",
        "watcher" => "watcher",
        "space" | "space.key" => "space",
        "id" | "content" => "id",
        "container" => "container",
        "lastmodified" => "lastmodified",
        "created" => "created",
        _ => return None,
    })
}

/// `now("inc")`: the increment `(+/-)nn(y|M|w|d|h|m)`, plus when the sign is omitted.
fn cql_now(increment: &str, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let (sign, rest) = signed(increment.trim());
    let unit_at = rest.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = rest.split_at(unit_at);
    let n: i64 = number.parse().ok()?;
    let n = sign * n;
    let span = match unit {
        "y" => Span::new().try_years(n),
        "M" => Span::new().try_months(n),
        "w" => Span::new().try_weeks(n),
        "d" => Span::new().try_days(n),
        "h" => Span::new().try_hours(n),
        "m" => Span::new().try_minutes(n),
        _ => return None,
    }
    .ok()?;
    now.to_zoned(zone.clone())
        .checked_add(span)
        .ok()
        .map(|z| z.timestamp())
}

fn compile_cql(state: &ConfluenceState, clause: Clause) -> Result<Cond, String> {
    let name = clause.field.clone();
    let Some(field) = cql_field(&name) else {
        return Err(format!("No field exists with the name : {name}"));
    };
    let unsupported = || {
        format!(
            "Operator '{}' is not supported by field '{name}'",
            clause.op.symbol()
        )
    };
    let negated = match clause.op {
        Op::Eq | Op::In => Some(false),
        Op::Ne | Op::NotIn => Some(true),
        _ => None,
    };
    let texts = |terms: Vec<Term>| -> Result<Vec<String>, String> {
        terms
            .into_iter()
            .map(|term| match term {
                Term::Text(text) => Ok(text),
                Term::Func { name: f, .. }
                    if f.eq_ignore_ascii_case("currentUser")
                        && matches!(field, "creator" | "contributor" | "mention" | "watcher") =>
                {
                    Ok(ME.to_owned())
                }
                Term::Func { name: f, .. } => {
                    Err(format!("Function '{f}' is not supported by field '{name}'"))
                }
                Term::Empty => Err(format!("EMPTY is not supported by field '{name}'")),
            })
            .collect()
    };
    match field {
        "lastmodified" | "created" => {
            if !clause.op.is_comparison() {
                return Err(unsupported());
            }
            let now = state.time();
            let at = match clause.terms.into_iter().next() {
                Some(Term::Func { name: f, args }) if f.eq_ignore_ascii_case("now") => {
                    match args.as_slice() {
                        [] => Some(now),
                        [increment] => cql_now(increment, now, &state.zone()),
                        _ => None,
                    }
                }
                Some(Term::Func { name: f, .. }) => {
                    return Err(format!("Function '{f}' is not supported by field '{name}'"));
                }
                Some(Term::Text(text)) => civil_time(&text, &state.zone()),
                _ => None,
            };
            at.map(|at| Cond::Time(field, clause.op, at))
                .ok_or_else(|| format!("Invalid date for field '{name}'"))
        }
        _ => {
            let negated = negated.ok_or_else(unsupported)?;
            let values = texts(clause.terms)?;
            Ok(match field {
                "type" => {
                    if let Some(bad) = values.iter().find(|v| {
                        !["page", "blogpost", "comment", "attachment"]
                            .contains(&v.to_ascii_lowercase().as_str())
                    }) {
                        return Err(format!("'{bad}' is not a valid content type"));
                    }
                    Cond::Kind(values, negated)
                }
                "space" => Cond::Space(values, negated),
                "id" | "container" => Cond::Id(field, values, negated),
                _ => Cond::People(field, values, negated),
            })
        }
    }
}

fn cql_holds(cond: &Cond, content: &Content) -> bool {
    match cond {
        Cond::Kind(kinds, negated) => {
            kinds
                .iter()
                .any(|k| k.eq_ignore_ascii_case(content.kind.name()))
                != *negated
        }
        Cond::People(field, accounts, negated) => {
            let involved = |account: &String| match *field {
                "creator" => content.creator == *account,
                "contributor" => content.versions.iter().any(|v| v.1 == *account),
                "mention" => content.mentions().contains(account),
                _ => content.watchers.contains(account),
            };
            accounts.iter().any(involved) != *negated
        }
        Cond::Space(keys, negated) => {
            keys.iter().any(|k| k.eq_ignore_ascii_case(&content.space)) != *negated
        }
        Cond::Id(field, ids, negated) => {
            let value = if *field == "id" {
                Some(&content.id)
            } else {
                content.container.as_ref()
            };
            ids.iter().any(|id| Some(id) == value) != *negated
        }
        Cond::Time(field, op, at) => {
            let value = if *field == "lastmodified" {
                content.last_modified()
            } else {
                content.created
            };
            op.compares(value, *at)
        }
    }
}

/// Why the CQL is refused, for `data.errors`.
fn syntax_detail(error: &Syntax) -> String {
    match error {
        Syntax::Unterminated { text, at } => format!(
            "Unterminated string '{text}' at line {}, column {}",
            at.line, at.column
        ),
        Syntax::Expected { what, got, at } => format!(
            "Expected {what:?} but got {} at line {}, column {}",
            got.as_deref().unwrap_or("the end"),
            at.line,
            at.column
        ),
    }
}

// ---- Rendering ----

fn confluence_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn user_json(state: &ConfluenceState, account: &str) -> Value {
    json!({
        "type": "known",
        "accountId": account,
        "accountType": "atlassian",
        "email": "",
        "publicName": display_name(account),
        "displayName": display_name(account),
        "profilePicture": { "path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": true },
        "isExternalCollaborator": false,
        "_links": { "self": format!("{}/wiki/rest/api/user?accountId={account}", state.site) },
    })
}

/// The storage body as `view` HTML: user links become rendered mentions.
fn view_html(state: &ConfluenceState, storage: &str) -> String {
    let mut html = String::new();
    let mut rest = storage;
    while let Some(start) = rest.find("<ac:link>") {
        html.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find("</ac:link>") else {
            break;
        };
        let link = &after[..end];
        let account = link
            .split_once("ri:account-id=\"")
            .and_then(|(_, a)| a.split_once('"'))
            .map_or("", |(a, _)| a);
        html.push_str(&format!(
            "<a class=\"confluence-userlink user-mention\" data-account-id=\"{account}\" href=\"{}/wiki/people/{account}\" data-linked-resource-type=\"userinfo\">{}</a>",
            state.site,
            display_name(account)
        ));
        rest = &after[end + "</ac:link>".len()..];
    }
    html.push_str(rest);
    html
}

/// The `expand` values asked for.
struct Expand(Vec<String>);

impl Expand {
    /// The query's `expand` values, each a comma list.
    fn parse(pairs: &[(String, String)]) -> Expand {
        Expand(items(values(pairs, "expand")))
    }

    /// Whether `key` or something under it is expanded.
    fn has(&self, key: &str) -> bool {
        self.0
            .iter()
            .any(|e| e == key || e.strip_prefix(key).is_some_and(|r| r.starts_with('.')))
    }

    fn exact(&self, key: &str) -> bool {
        self.0.iter().any(|e| e == key)
    }

    /// What is expanded under `key`: `container.history` asks for the container's
    /// history, as dotted expansions do throughout the v1 API.
    fn under(&self, key: &str) -> Expand {
        Expand(
            self.0
                .iter()
                .filter_map(|e| e.strip_prefix(key)?.strip_prefix('.'))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The search results a page may hold, after the fixed system limits.
    fn limit_cap(&self) -> usize {
        if self.has("body") {
            50
        } else if self.0.is_empty() {
            1000
        } else {
            200
        }
    }
}

fn webui(state: &ConfluenceState, content: &Content) -> String {
    let slug = |title: &str| title.replace(' ', "+");
    match content.kind {
        ContentKind::Page => format!(
            "/spaces/{}/pages/{}/{}",
            content.space,
            content.id,
            slug(&content.title)
        ),
        ContentKind::BlogPost => format!(
            "/spaces/{}/blog/{}/{}",
            content.space,
            content.id,
            slug(&content.title)
        ),
        ContentKind::Comment => {
            let page = content.container.as_deref().and_then(|p| state.get(p));
            let (page_id, title) = page.map_or(("", ""), |p| (p.id.as_str(), p.title.as_str()));
            format!(
                "/spaces/{}/pages/{page_id}/{}?focusedCommentId={}#comment-{}",
                content.space,
                slug(title),
                content.id,
                content.id
            )
        }
    }
}

fn space_json(state: &ConfluenceState, key: &str) -> Value {
    json!({ "key": key, "name": key, "type": "global", "status": "current", "_links": { "webui": format!("/spaces/{key}"), "self": format!("{}/wiki/rest/api/space/{key}", state.site) } })
}

fn content_json(state: &ConfluenceState, content: &Content, expand: &Expand) -> Value {
    let api = format!("/rest/api/content/{}", content.id);
    let mut json = json!({
        "id": content.id,
        "type": content.kind.name(),
        "status": "current",
        "title": content.title,
        "_links": { "webui": webui(state, content), "self": format!("{}/wiki{api}", state.site) },
    });
    let mut expandable = serde_json::Map::new();
    if content.kind == ContentKind::Comment {
        json["extensions"] = json!({ "location": content.location });
    }
    if expand.has("history") {
        let mut history = json!({ "latest": true, "createdBy": user_json(state, &content.creator), "createdDate": confluence_time(content.created) });
        if expand.has("history.lastUpdated") {
            let (when, by) = content
                .versions
                .last()
                .cloned()
                .unwrap_or((content.created, content.creator.clone()));
            history["lastUpdated"] = json!({ "by": user_json(state, &by), "when": confluence_time(when), "number": content.versions.len() });
        }
        json["history"] = history;
    } else {
        expandable.insert("history".into(), json!(format!("{api}/history")));
    }
    if expand.has("version") {
        let (when, by) = content
            .versions
            .last()
            .cloned()
            .unwrap_or((content.created, content.creator.clone()));
        json["version"] = json!({ "by": user_json(state, &by), "when": confluence_time(when), "number": content.versions.len(), "minorEdit": false, "message": "" });
    } else {
        expandable.insert("version".into(), json!(""));
    }
    if expand.has("body") {
        let mut body = json!({ "_expandable": { "editor": "", "view": "", "export_view": "", "styled_view": "", "storage": "", "atlas_doc_format": "" } });
        if expand.exact("body.storage") {
            body["storage"] = json!({ "value": content.body, "representation": "storage" });
        }
        if expand.exact("body.view") {
            body["view"] =
                json!({ "value": view_html(state, &content.body), "representation": "view" });
        }
        json["body"] = body;
    } else {
        expandable.insert("body".into(), json!(""));
    }
    let page = content.container.as_deref().and_then(|p| state.get(p));
    if expand.has("container") {
        json["container"] = match page {
            Some(page) => content_json(state, page, &expand.under("container")),
            None => space_json(state, &content.space),
        };
    } else {
        let link = match page {
            Some(page) => format!("/rest/api/content/{}", page.id),
            None => format!("/rest/api/space/{}", content.space),
        };
        expandable.insert("container".into(), json!(link));
    }
    if expand.has("space") {
        json["space"] = space_json(state, &content.space);
    } else {
        expandable.insert(
            "space".into(),
            json!(format!("/rest/api/space/{}", content.space)),
        );
    }
    if expand.has("ancestors") {
        let ancestors: Vec<Value> = content
            .parent
            .as_deref()
            .and_then(|p| state.get(p))
            .map(|parent| content_json(state, parent, &Expand(Vec::new())))
            .into_iter()
            .collect();
        json["ancestors"] = json!(ancestors);
    } else {
        expandable.insert("ancestors".into(), json!(""));
    }
    json["_expandable"] = Value::Object(expandable);
    json
}

fn links(state: &ConfluenceState, uri: &Uri) -> Value {
    json!({ "base": format!("{}/wiki", state.site), "context": "/wiki", "self": format!("{}{}", state.site, target(uri)) })
}

// ---- Handlers ----

async fn current_user(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::GET, &uri, &headers) {
        return refusal;
    }
    let mut me = user_json(&state, ME);
    me["email"] = json!(EMAIL);
    me["timeZone"] = json!(state.time_zone);
    axum::Json(me).into_response()
}

async fn search(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::GET, &uri, &headers) {
        return refusal;
    }
    let pairs = query_pairs(query);
    let cql = param(&pairs, "cql").unwrap_or_default();
    if cql.trim().is_empty() {
        return confluence_error(
            StatusCode::BAD_REQUEST,
            "CQL query parameter is required but was empty",
            None,
        );
    }
    let refuse = |detail: &str| {
        confluence_error(
            StatusCode::BAD_REQUEST,
            &format!("Could not parse cql : {cql}"),
            Some(detail),
        )
    };
    let query = match parse_query(cql) {
        Ok(query) => query,
        Err(error) => return refuse(&syntax_detail(&error)),
    };
    let Some(filter) = query.filter else {
        return refuse("A CQL query needs a clause before 'order by'");
    };
    let filter: Expr<Cond> = match filter.try_map(&mut |clause| compile_cql(&state, clause)) {
        Ok(filter) => filter,
        Err(detail) => return refuse(&detail),
    };
    let mut order = Vec::new();
    for (name, descending) in &query.order {
        match name.to_ascii_lowercase().as_str() {
            field @ ("lastmodified" | "created" | "title") => {
                order.push((field.to_owned(), descending.unwrap_or(false)));
            }
            _ => return refuse(&format!("Cannot order by field '{name}'")),
        }
    }
    let expand = Expand::parse(&pairs);
    let offset = match param(&pairs, "cursor") {
        Some(cursor) => match page_offset(cursor) {
            Some(offset) => offset,
            None => return confluence_error(StatusCode::BAD_REQUEST, "Invalid cursor", None),
        },
        None => param(&pairs, "start")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    };
    let limit = param(&pairs, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, expand.limit_cap());
    let mut matching: Vec<&Content> = state
        .content
        .iter()
        .filter(|content| filter.holds(&|cond| cql_holds(cond, content)))
        .collect();
    matching.sort_by(|a, b| {
        order_by(&order, |field| match field.as_str() {
            "lastmodified" => a.last_modified().cmp(&b.last_modified()),
            "created" => a.created.cmp(&b.created),
            _ => a.title.cmp(&b.title),
        })
    });
    let results: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| content_json(&state, c, &expand))
        .collect();
    let mut body = json!({ "results": results, "start": offset, "limit": limit, "size": results.len(), "_links": links(&state, &uri) });
    let page_link = |at: usize| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("cql", cql)
            .append_pair("limit", &limit.to_string());
        if !expand.0.is_empty() {
            query.append_pair("expand", &expand.0.join(","));
        }
        query.append_pair("cursor", &page_token(at));
        format!("/rest/api/content/search?{}", query.finish())
    };
    if offset + results.len() < matching.len() {
        body["_links"]["next"] = json!(page_link(offset + results.len()));
    }
    if offset > 0 {
        body["_links"]["prev"] = json!(page_link(offset.saturating_sub(limit)));
    }
    axum::Json(body).into_response()
}

fn no_content(id: &str) -> Response {
    confluence_error(
        StatusCode::NOT_FOUND,
        &format!("No content found with id : ContentId{{id={id}}}"),
        None,
    )
}

async fn child_comments(
    State(state): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::GET, &uri, &headers) {
        return refusal;
    }
    if state
        .get(&id)
        .is_none_or(|c| c.kind == ContentKind::Comment)
    {
        return no_content(&id);
    }
    let pairs = query_pairs(query);
    let all = param(&pairs, "depth").is_some_and(|d| d == "all");
    let locations: Vec<&str> = values(&pairs, "location").collect();
    let expand = Expand::parse(&pairs);
    let start = param(&pairs, "start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let limit = param(&pairs, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .max(1);
    let comments: Vec<&Content> = state
        .content
        .iter()
        .filter(|c| c.container.as_deref() == Some(id.as_str()))
        .filter(|c| all || c.parent.is_none())
        .filter(|c| locations.is_empty() || locations.contains(&c.location.as_str()))
        .collect();
    let results: Vec<Value> = comments
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| content_json(&state, c, &expand))
        .collect();
    let mut body = json!({ "results": results, "start": start, "limit": limit, "size": results.len(), "_links": links(&state, &uri) });
    if start + results.len() < comments.len() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "start") {
            query.append_pair(k, v);
        }
        query.append_pair("start", &(start + results.len()).to_string());
        body["_links"]["next"] = json!(format!(
            "/rest/api/content/{id}/child/comment?{}",
            query.finish()
        ));
    }
    axum::Json(body).into_response()
}

async fn create_content(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::POST, &uri, &headers) {
        return refusal;
    }
    let bad = |message: &str| confluence_error(StatusCode::BAD_REQUEST, message, None);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad("Could not parse the request body as JSON");
    };
    if request["type"] != "comment" {
        return bad("Only comments can be created on this contract server");
    }
    let Some(container) = request["container"]["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| request["container"]["id"].as_u64().map(|n| n.to_string()))
    else {
        return bad("A comment needs a container");
    };
    if state
        .get(&container)
        .is_none_or(|c| c.kind == ContentKind::Comment)
    {
        return bad(&format!("Could not find container with id {container}"));
    }
    let parent = request["ancestors"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|a| {
            a["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| a["id"].as_u64().map(|n| n.to_string()))
        });
    if let Some(parent) = &parent {
        let on_page = state.get(parent).is_some_and(|p| {
            p.kind == ContentKind::Comment && p.container.as_deref() == Some(container.as_str())
        });
        if !on_page {
            return bad(&format!("Comment {parent} is not a comment on {container}"));
        }
    }
    let storage = &request["body"]["storage"];
    let Some(value) = storage["value"].as_str().filter(|v| !v.trim().is_empty()) else {
        return bad("A comment needs a body.storage value");
    };
    if storage["representation"] != "storage" {
        return bad("Only the storage representation is supported here");
    }
    let id = state.add_comment(&container, ME, value.to_owned(), parent.as_deref());
    let expand = Expand(
        [
            "body.storage",
            "version",
            "history",
            "container",
            "ancestors",
            "space",
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let comment = state.get(&id).expect("comment");
    axum::Json(content_json(&state, comment, &expand)).into_response()
}

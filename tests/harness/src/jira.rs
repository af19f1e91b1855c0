//! A stateful contract server for the Jira Cloud platform REST API v3 endpoints Deepwork
//! uses, written from Atlassian's references (Jira Cloud cannot run here): the REST v3
//! reference (Myself, Issue search, Issue comments), the Atlassian Document Format node
//! reference, "Advanced searching" (JQL fields, operators, date formats), "Basic auth for
//! REST APIs" and "Rate limiting". One base URL stands for the site
//! (`https://example.atlassian.net`):
//! - HTTP Basic `email:api_token` ([`EMAIL`], [`API_TOKEN`]); wrong or revoked
//!   credentials are 401 with the platform's `{"message", "status-code"}` body;
//! - `GET /rest/api/3/myself`: `accountId`, `displayName`, `emailAddress`, `timeZone`;
//! - `GET` and `POST /rest/api/3/search/jql` (the enhanced search): `jql`, `fields`
//!   (comma lists, repeatable; `*all`, `*navigable`, `-field`; without it an issue is
//!   only its `id`), `expand` (`changelog`, most recent history first), `maxResults`
//!   (default 50, at most 5000) and `nextPageToken`; the answer is `issues`, `isLast`
//!   and, only while more follow, `nextPageToken` (the key is absent on the last page,
//!   as JRACLOUD-92184 records). A query without a restriction is refused as unbounded;
//! - `GET /rest/api/3/issue/{issueIdOrKey}/comment` (`startAt`, `maxResults` default
//!   5000, `orderBy` `created`/`-created`) and `POST` of `{"body": ADF}` → 201, the
//!   comment by the signed-in user; an unknown issue is 404;
//! - errors as Jira's ErrorCollection `{"errorMessages": [...], "errors": {}}`;
//! - 429 with `Retry-After` (seconds), `X-RateLimit-Reset` (`yyyy-MM-ddTHH:mmZ`),
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-NearLimit` and
//!   `RateLimit-Reason: jira-burst-based` while [`JiraState::rate_limit_next`] lasts.
//!
//! JQL is parsed for real: a tokenizer and a recursive-descent parser (AND binds tighter
//! than OR, NOT, parentheses, keywords in any case, `ORDER BY`), then a validating pass
//! with Jira's messages and positions (`Error in the JQL Query: … (line 1, character
//! 12)`, `Field 'x' does not exist …`, `The value 'x' does not exist for the field …`,
//! `The operator '>' is not supported by the 'assignee' field.`). Fields: `assignee`,
//! `reporter`, `watcher` (`=`, `!=`, `IN`, `NOT IN`, `IS [NOT] EMPTY`; account ids or
//! `currentUser()`), `project`, `status` (To Do, In Progress, Blocked, Done),
//! `statusCategory` (by name, key or id), `key`/`issuekey`, and `updated`/`created`
//! (also `updatedDate`/`createdDate`) compared with `=`, `!=`, `<`, `<=`, `>`, `>=`
//! against `now()`, a period (`-15m`, `"-2h"`, `-1d`, `"4w 2d"`; no unit means minutes)
//! or an absolute `"yyyy/MM/dd HH:mm"`, `"yyyy-MM-dd HH:mm"`, `"yyyy/MM/dd"`,
//! `"yyyy-MM-dd"` read in the user's time zone ([`JiraState::time_zone`]), as Jira does.
//! As the JQL reference says, `!=` and `NOT IN` never match an empty field. Dates are
//! rendered as Jira does, in the user's zone: `2026-11-29T09:12:00.000+0100`.
//!
//! Watchers follow Jira's default auto-watch: the reporter, every assignee and every
//! commenter, plus whoever [`JiraState::watch`]es. Every change sets `updated`; an
//! assignment or a status change also adds a changelog history.
//!
//! The account, the JQL/CQL parser, Basic credentials and rate-limit answer are shared
//! with [`crate::confluence`] (see `atlassian.rs`), Confluence's query language having
//! the same shape.

pub use crate::atlassian::{API_TOKEN, BOB, DEFAULT_TIME_ZONE, EMAIL, ME, display_name};

use crate::atlassian::{
    Clause, Expect, Op, Site, Syntax, Term, civil_time, items, order_by, page_offset, page_token,
    param, parse_query, query_pairs, rate_limited, signed, unknown, values, zone,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The workflow's statuses: name, id and status category key.
const STATUSES: [(&str, &str, &str); 4] = [
    ("To Do", "10000", "new"),
    ("In Progress", "3", "indeterminate"),
    ("Blocked", "10002", "indeterminate"),
    ("Done", "10001", "done"),
];

/// The status categories: name, key and id, as JQL's `statusCategory` takes any.
const CATEGORIES: [(&str, &str, &str); 3] = [
    ("To Do", "new", "2"),
    ("In Progress", "indeterminate", "4"),
    ("Done", "done", "3"),
];

/// The category key of `value` (a category's name, key or id), if it is one.
fn category_key(value: &str) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .find(|(name, key, id)| {
            name.eq_ignore_ascii_case(value) || key.eq_ignore_ascii_case(value) || *id == value
        })
        .map(|(_, key, _)| *key)
}

/// The category key of a status by name.
fn status_category(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|s| s.0.eq_ignore_ascii_case(status))
        .map_or("new", |s| s.2)
}

/// The fields an issue has here, in the order they are rendered.
const FIELDS: [&str; 9] = [
    "summary", "status", "project", "reporter", "assignee", "created", "updated", "comment",
    "watches",
];

/// A comment on an issue.
#[derive(Clone, Debug)]
pub struct JiraComment {
    /// Its id.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// Its body, an Atlassian Document Format `doc`.
    pub body: Value,
    /// When it was written.
    pub created: Timestamp,
}

/// One field's change in a changelog history.
#[derive(Clone, Debug)]
pub struct ChangeItem {
    /// The field, e.g. `assignee`.
    pub field: String,
    /// The old value's id (an account id for people).
    pub from: Option<String>,
    /// The old value as shown.
    pub from_string: Option<String>,
    /// The new value's id.
    pub to: Option<String>,
    /// The new value as shown.
    pub to_string: Option<String>,
}

/// A changelog history: who changed what, when.
#[derive(Clone, Debug)]
pub struct History {
    /// Its id.
    pub id: String,
    /// Who made the change.
    pub author: String,
    /// When.
    pub created: Timestamp,
    /// The fields changed.
    pub items: Vec<ChangeItem>,
}

/// An issue on the site.
#[derive(Clone, Debug)]
pub struct JiraIssue {
    /// Its numeric id.
    pub id: String,
    /// Its key, `PROJECT-n`.
    pub key: String,
    /// Its summary.
    pub summary: String,
    /// Its status's name.
    pub status: String,
    /// Who reported it.
    pub reporter: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Its comments, oldest first.
    pub comments: Vec<JiraComment>,
    /// Its changelog, oldest first.
    pub histories: Vec<History>,
    /// Who watches it.
    pub watchers: Vec<String>,
}

impl JiraIssue {
    /// Its project's key.
    pub fn project(&self) -> &str {
        self.key
            .split_once('-')
            .map_or(&self.key, |(project, _)| project)
    }

    fn add_watcher(&mut self, account: &str) {
        if !self.watchers.iter().any(|w| w == account) {
            self.watchers.push(account.to_owned());
        }
    }
}

/// The site's state.
#[derive(Clone, Debug)]
pub struct JiraState {
    /// The site's base URL, for `self` links.
    pub site: String,
    /// The user's time zone (IANA), in which JQL dates are read and dates rendered.
    pub time_zone: String,
    /// The site's clock; `None` is the real time.
    pub clock: Option<Timestamp>,
    /// Whether the API token was revoked.
    pub revoked: bool,
    /// Answer this many coming requests with 429.
    pub rate_limit_next: u32,
    /// The `Retry-After` of those answers, in seconds.
    pub retry_after: u32,
    /// Every issue.
    pub issues: Vec<JiraIssue>,
    /// Every request, as `METHOD /path?query`.
    pub calls: Vec<String>,
    last_id: u64,
}

impl JiraState {
    /// What the site's clock says.
    pub fn time(&self) -> Timestamp {
        self.clock.unwrap_or_else(Timestamp::now)
    }

    /// The issue with that key (or id).
    pub fn issue(&self, key: &str) -> Option<&JiraIssue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(key) || i.id == key)
    }

    fn issue_mut(&mut self, key: &str) -> &mut JiraIssue {
        self.issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(key) || i.id == key)
            .unwrap_or_else(|| panic!("no issue {key}"))
    }

    fn new_id(&mut self) -> String {
        self.last_id += 1;
        self.last_id.to_string()
    }

    /// `reporter` files `key` ("DW-1"; its project is the part before the dash); the
    /// reporter and the assignee watch it. Returns its id.
    pub fn create_issue(
        &mut self,
        key: &str,
        summary: &str,
        reporter: &str,
        assignee: Option<&str>,
    ) -> String {
        let id = self.new_id();
        let now = self.time();
        let mut issue = JiraIssue {
            id: id.clone(),
            key: key.to_owned(),
            summary: summary.to_owned(),
            status: "To Do".into(),
            reporter: reporter.to_owned(),
            assignee: assignee.map(str::to_owned),
            created: now,
            updated: now,
            comments: Vec::new(),
            histories: Vec::new(),
            watchers: Vec::new(),
        };
        issue.add_watcher(reporter);
        if let Some(assignee) = assignee {
            issue.add_watcher(assignee);
        }
        self.issues.push(issue);
        id
    }

    fn change(&mut self, key: &str, author: &str, item: ChangeItem) {
        let id = self.new_id();
        let now = self.time();
        let issue = self.issue_mut(key);
        issue.histories.push(History {
            id,
            author: author.to_owned(),
            created: now,
            items: vec![item],
        });
        issue.updated = now;
    }

    /// The issue's reporter (who triages it) assigns it to `account`, who starts watching.
    pub fn assign(&mut self, key: &str, account: &str) {
        let issue = self.issue_mut(key);
        let old = issue.assignee.replace(account.to_owned());
        issue.add_watcher(account);
        let author = issue.reporter.clone();
        let item = ChangeItem {
            field: "assignee".into(),
            from_string: old.as_deref().map(|a| display_name(a).to_owned()),
            from: old,
            to: Some(account.to_owned()),
            to_string: Some(display_name(account).to_owned()),
        };
        self.change(key, &author, item);
    }

    /// `author` moves the issue to `status` ("In Progress", "Done", "To Do").
    pub fn set_status(&mut self, key: &str, author: &str, status: &str) {
        let id_of = |name: &str| {
            STATUSES
                .iter()
                .find(|s| s.0 == name)
                .map(|s| s.1.to_owned())
        };
        let issue = self.issue_mut(key);
        let old = std::mem::replace(&mut issue.status, status.to_owned());
        let item = ChangeItem {
            field: "status".into(),
            from: id_of(&old),
            from_string: Some(old),
            to: id_of(status),
            to_string: Some(status.to_owned()),
        };
        self.change(key, author, item);
    }

    /// `author` comments `text` on the issue, first mentioning `mentions` (as the editor
    /// does, `@Name` mention nodes); a line break becomes a `hardBreak`, a URL an
    /// `inlineCard`. The author starts watching. Returns the comment's id.
    pub fn comment(&mut self, key: &str, author: &str, text: &str, mentions: &[&str]) -> String {
        let mut inline: Vec<Value> = Vec::new();
        for account in mentions {
            inline.push(json!({ "type": "mention", "attrs": { "id": account, "text": format!("@{}", display_name(account)), "accessLevel": "" } }));
            inline.push(json!({ "type": "text", "text": " " }));
        }
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                inline.push(json!({ "type": "hardBreak" }));
            }
            let mut plain = String::new();
            for (w, word) in line.split(' ').enumerate() {
                if w > 0 {
                    plain.push(' ');
                }
                if word.starts_with("https://") || word.starts_with("http://") {
                    if !plain.is_empty() {
                        inline.push(json!({ "type": "text", "text": std::mem::take(&mut plain) }));
                    }
                    inline.push(json!({ "type": "inlineCard", "attrs": { "url": word } }));
                } else {
                    plain.push_str(word);
                }
            }
            if !plain.is_empty() {
                inline.push(json!({ "type": "text", "text": plain }));
            }
        }
        let body = json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": inline }] });
        self.add_comment(key, author, body)
    }

    fn add_comment(&mut self, key: &str, author: &str, body: Value) -> String {
        let id = self.new_id();
        let now = self.time();
        let issue = self.issue_mut(key);
        issue.comments.push(JiraComment {
            id: id.clone(),
            author: author.to_owned(),
            body,
            created: now,
        });
        issue.add_watcher(author);
        issue.updated = now;
        id
    }

    /// `account` starts watching the issue.
    pub fn watch(&mut self, key: &str, account: &str) {
        self.issue_mut(key).add_watcher(account);
    }

    /// Revokes the API token.
    pub fn revoke(&mut self) {
        self.revoked = true;
    }

    fn zone(&self) -> TimeZone {
        zone(&self.time_zone)
    }
}

/// The running site; stops when dropped.
#[derive(Debug)]
pub struct JiraContract {
    /// The site, like `https://example.atlassian.net`.
    pub base: String,
    /// The site's state, for tests to read and change.
    pub state: Arc<Mutex<JiraState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<JiraState>>;

impl JiraContract {
    /// Starts an empty site on a free loopback port.
    pub async fn start() -> JiraContract {
        let state: Shared = Arc::new(Mutex::new(JiraState {
            site: String::new(),
            time_zone: DEFAULT_TIME_ZONE.into(),
            clock: None,
            revoked: false,
            rate_limit_next: 0,
            retry_after: 1,
            issues: Vec::new(),
            calls: Vec::new(),
            last_id: 10000,
        }));
        let app = Router::new()
            .route("/rest/api/3/myself", get(myself))
            .route("/rest/api/3/search/jql", get(search_get).post(search_post))
            .route(
                "/rest/api/3/issue/{key}/comment",
                get(list_comments).post(add_comment),
            )
            .fallback(unknown::<JiraState>)
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        state.lock().expect("state").site = served.base.clone();
        JiraContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    /// The site now.
    pub fn now(&self) -> JiraState {
        self.state.lock().expect("state").clone()
    }
}

// ---- JQL ----

const VALID_OPERATORS: &str = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";

/// A syntax error as Jira words it.
fn jql_syntax_message(error: &Syntax) -> String {
    let (body, at) = match error {
        Syntax::Unterminated { text, at } => (
            format!("The quoted string '{text}' has not been completed."),
            at,
        ),
        Syntax::Expected { what, got, at } => {
            let wanted = match what {
                Expect::Logical => "either 'OR' or 'AND'",
                Expect::Field => "a field name",
                Expect::Open => "'('",
                Expect::Close => "')'",
                Expect::By => "'BY'",
                Expect::Operator | Expect::Value => "",
            };
            let body = match (what, got) {
                (Expect::Operator, Some(g)) => {
                    format!("Expecting operator but got '{g}'. {VALID_OPERATORS}")
                }
                (Expect::Operator, None) => {
                    format!("Expecting operator before the end of the query. {VALID_OPERATORS}")
                }
                (Expect::Value, Some(g)) => format!(
                    "Expecting either a value, list or function but got '{g}'. You must surround '{g}' in quotation marks to use it as a value."
                ),
                (Expect::Value, None) => {
                    "Expecting either a value, list or function before the end of the query.".into()
                }
                (_, Some(g)) => format!("Expecting {wanted} but got '{g}'."),
                (_, None) => format!("Expecting {wanted} before the end of the query."),
            };
            (body, at)
        }
    };
    format!(
        "Error in the JQL Query: {body} (line {}, character {})",
        at.line, at.column
    )
}

/// A JQL clause checked against the site, ready to test issues with.
#[derive(Clone, Debug)]
enum Cond {
    /// `assignee`, `reporter` or `watcher` is (not) one of the accounts (`None` is EMPTY).
    People {
        field: &'static str,
        accounts: Vec<Option<String>>,
        negated: bool,
    },
    /// `project`, `status`, `statusCategory` or `key` is (not) one of the values.
    Named {
        field: &'static str,
        values: Vec<String>,
        negated: bool,
    },
    /// `updated` or `created` compared with an instant.
    Time {
        field: &'static str,
        op: Op,
        at: Timestamp,
    },
}

fn jql_field(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "assignee" => "assignee",
        "reporter" => "reporter",
        "watcher" => "watcher",
        "project" => "project",
        "status" => "status",
        "statuscategory" => "statusCategory",
        "key" | "issuekey" | "issue" | "id" => "key",
        "updated" | "updateddate" => "updated",
        "created" | "createddate" => "created",
        _ => return None,
    })
}

/// A JQL date: a period relative to `now` (`-15m`, `4w 2d`; no unit means minutes),
/// epoch milliseconds, or an absolute date read in the user's zone.
fn jql_date(text: &str, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let trimmed = text.trim();
    if let Some(at) = civil_time(trimmed, zone) {
        return Some(at);
    }
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Timestamp::from_millisecond(trimmed.parse().ok()?).ok();
    }
    let (sign, rest) = signed(trimmed);
    let parts: Vec<&str> = rest.split_whitespace().collect();
    if parts.is_empty() {
        return None;
    }
    let mut seconds = 0i64;
    for part in parts {
        let (number, unit) = match part.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => part.split_at(i),
            None => (part, "m"),
        };
        let unit = match unit {
            "w" => 7 * 86400,
            "d" => 86400,
            "h" => 3600,
            "m" => 60,
            _ => return None,
        };
        seconds += number.parse::<i64>().ok()? * unit;
    }
    now.checked_add(SignedDuration::from_secs(sign * seconds))
        .ok()
}

fn compile_jql(state: &JiraState, clause: Clause) -> Result<Cond, String> {
    let name = clause.field.clone();
    let Some(field) = jql_field(&name) else {
        return Err(format!(
            "Field '{name}' does not exist or you do not have permission to view it."
        ));
    };
    let unsupported = || {
        format!(
            "The operator '{}' is not supported by the '{name}' field.",
            clause.op.symbol()
        )
    };
    let function_error = |function: &str| {
        if function.eq_ignore_ascii_case("currentUser") || function.eq_ignore_ascii_case("now") {
            format!("The function '{function}' is not supported by the '{name}' field.")
        } else {
            format!("Unable to find JQL function '{function}()'.")
        }
    };
    match field {
        "assignee" | "reporter" | "watcher" => {
            let negated = match clause.op {
                Op::Eq | Op::In | Op::Is => false,
                Op::Ne | Op::NotIn | Op::IsNot => true,
                _ => return Err(unsupported()),
            };
            let mut accounts = Vec::new();
            for term in clause.terms {
                accounts.push(match term {
                    Term::Empty => None,
                    Term::Func { name: f, .. } if f.eq_ignore_ascii_case("currentUser") => {
                        Some(ME.to_owned())
                    }
                    Term::Func { name: f, .. } => return Err(function_error(&f)),
                    Term::Text(id) if id == ME || id == BOB => Some(id),
                    Term::Text(id) => {
                        return Err(format!(
                            "The value '{id}' does not exist for the field '{name}'."
                        ));
                    }
                });
            }
            Ok(Cond::People {
                field,
                accounts,
                negated,
            })
        }
        "project" | "status" | "statusCategory" | "key" => {
            let negated = match clause.op {
                Op::Eq | Op::In => false,
                Op::Ne | Op::NotIn => true,
                _ => return Err(unsupported()),
            };
            let mut values = Vec::new();
            for term in clause.terms {
                let value = match term {
                    Term::Text(value) => value,
                    Term::Empty => return Err(unsupported()),
                    Term::Func { name: f, .. } => return Err(function_error(&f)),
                };
                let known = match field {
                    "project" => state
                        .issues
                        .iter()
                        .any(|i| i.project().eq_ignore_ascii_case(&value)),
                    "status" => STATUSES.iter().any(|s| s.0.eq_ignore_ascii_case(&value)),
                    "statusCategory" => category_key(&value).is_some(),
                    _ => state.issue(&value).is_some(),
                };
                if !known {
                    return Err(if field == "key" {
                        format!("An issue with key '{value}' does not exist for field '{name}'.")
                    } else {
                        format!("The value '{value}' does not exist for the field '{name}'.")
                    });
                }
                values.push(value);
            }
            Ok(Cond::Named {
                field,
                values,
                negated,
            })
        }
        _ => {
            if !clause.op.is_comparison() {
                return Err(unsupported());
            }
            let now = state.time();
            let at = match clause.terms.into_iter().next() {
                Some(Term::Func { name: f, args })
                    if f.eq_ignore_ascii_case("now") && args.is_empty() =>
                {
                    now
                }
                Some(Term::Func { name: f, .. }) => return Err(function_error(&f)),
                Some(Term::Text(text)) => match jql_date(&text, now, &state.zone()) {
                    Some(at) => at,
                    None => {
                        return Err(format!(
                            "Date value '{text}' for field '{name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
                        ));
                    }
                },
                _ => return Err(unsupported()),
            };
            Ok(Cond::Time {
                field,
                op: clause.op,
                at,
            })
        }
    }
}

fn jql_holds(cond: &Cond, issue: &JiraIssue) -> bool {
    match cond {
        Cond::People {
            field,
            accounts,
            negated,
        } => {
            let is = |account: &Option<String>| match *field {
                "assignee" => issue.assignee == *account,
                "reporter" => account.as_deref() == Some(issue.reporter.as_str()),
                _ => match account {
                    Some(a) => issue.watchers.contains(a),
                    None => issue.watchers.is_empty(),
                },
            };
            let any = accounts.iter().any(is);
            if *negated {
                // `!=` and `NOT IN` never match an empty field.
                let empty_excluded =
                    *field == "assignee" && issue.assignee.is_none() && !accounts.contains(&None);
                !any && !empty_excluded
            } else {
                any
            }
        }
        Cond::Named {
            field,
            values,
            negated,
        } => {
            let any = values.iter().any(|v| match *field {
                "project" => issue.project().eq_ignore_ascii_case(v),
                "status" => issue.status.eq_ignore_ascii_case(v),
                "statusCategory" => category_key(v) == Some(status_category(&issue.status)),
                _ => issue.key.eq_ignore_ascii_case(v) || issue.id == *v,
            });
            any != *negated
        }
        Cond::Time { field, op, at } => {
            let value = if *field == "updated" {
                issue.updated
            } else {
                issue.created
            };
            op.compares(value, *at)
        }
    }
}

/// The issue key's parts for ordering: `DW-10` after `DW-9`.
fn key_order(key: &str) -> (String, u64) {
    let (project, number) = key.split_once('-').unwrap_or((key, "0"));
    (project.to_owned(), number.parse().unwrap_or(0))
}

// ---- Rendering ----

fn jira_error(status: StatusCode, messages: &[&str]) -> Response {
    (
        status,
        axum::Json(json!({ "errorMessages": messages, "errors": {} })),
    )
        .into_response()
}

fn jira_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string()
}

fn user_json(state: &JiraState, account: &str) -> Value {
    json!({
        "self": format!("{}/rest/api/3/user?accountId={account}", state.site),
        "accountId": account,
        "displayName": display_name(account),
        "active": true,
        "timeZone": state.time_zone,
        "accountType": "atlassian",
    })
}

fn issue_self(state: &JiraState, issue: &JiraIssue) -> String {
    format!("{}/rest/api/3/issue/{}", state.site, issue.id)
}

fn comment_json(state: &JiraState, issue: &JiraIssue, comment: &JiraComment) -> Value {
    let zone = state.zone();
    json!({
        "self": format!("{}/comment/{}", issue_self(state, issue), comment.id),
        "id": comment.id,
        "author": user_json(state, &comment.author),
        "body": comment.body,
        "updateAuthor": user_json(state, &comment.author),
        "created": jira_time(comment.created, &zone),
        "updated": jira_time(comment.created, &zone),
        "jsdPublic": true,
    })
}

fn field_json(state: &JiraState, issue: &JiraIssue, field: &str) -> Value {
    let zone = state.zone();
    match field {
        "summary" => json!(issue.summary),
        "status" => {
            let (name, id, category) = STATUSES
                .iter()
                .find(|s| s.0 == issue.status)
                .copied()
                .unwrap_or((issue.status.as_str(), "1", "new"));
            json!({
                "self": format!("{}/rest/api/3/status/{id}", state.site),
                "name": name,
                "id": id,
                "statusCategory": { "key": category },
            })
        }
        "project" => json!({
            "self": format!("{}/rest/api/3/project/{}", state.site, issue.project()),
            "key": issue.project(),
            "name": issue.project(),
            "projectTypeKey": "software",
        }),
        "reporter" => user_json(state, &issue.reporter),
        "assignee" => issue
            .assignee
            .as_deref()
            .map_or(Value::Null, |a| user_json(state, a)),
        "created" => json!(jira_time(issue.created, &zone)),
        "updated" => json!(jira_time(issue.updated, &zone)),
        "comment" => {
            let comments: Vec<Value> = issue
                .comments
                .iter()
                .map(|c| comment_json(state, issue, c))
                .collect();
            json!({
                "comments": comments,
                "self": format!("{}/comment", issue_self(state, issue)),
                "maxResults": comments.len(),
                "total": comments.len(),
                "startAt": 0,
            })
        }
        _ => json!({
            "self": format!("{}/rest/api/3/issue/{}/watchers", state.site, issue.key),
            "watchCount": issue.watchers.len(),
            "isWatching": issue.watchers.iter().any(|w| w == ME),
        }),
    }
}

fn changelog_json(state: &JiraState, issue: &JiraIssue) -> Value {
    let zone = state.zone();
    let histories: Vec<Value> = issue
        .histories
        .iter()
        .rev()
        .map(|h| {
            let items: Vec<Value> = h
                .items
                .iter()
                .map(|i| json!({ "field": i.field, "fieldtype": "jira", "fieldId": i.field, "from": i.from, "fromString": i.from_string, "to": i.to, "toString": i.to_string }))
                .collect();
            json!({ "id": h.id, "author": user_json(state, &h.author), "created": jira_time(h.created, &zone), "items": items })
        })
        .collect();
    json!({ "startAt": 0, "maxResults": histories.len(), "total": histories.len(), "histories": histories })
}

// ---- Handlers ----

impl Site for JiraState {
    fn gate_fields(&mut self) -> (&mut Vec<String>, &mut u32, bool) {
        (&mut self.calls, &mut self.rate_limit_next, self.revoked)
    }

    fn too_many_requests(&self) -> Response {
        rate_limited(
            self.retry_after,
            self.time(),
            Some("jira-burst-based"),
            json!({ "errorMessages": ["Rate limit exceeded."], "errors": {} }),
        )
    }

    fn no_resource() -> Response {
        jira_error(
            StatusCode::NOT_FOUND,
            &["No resource here (contract server)."],
        )
    }
}

async fn myself(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::GET, &uri, &headers) {
        return refusal;
    }
    let mut me = user_json(&state, ME);
    me["emailAddress"] = json!(EMAIL);
    axum::Json(me).into_response()
}

/// A search as either verb sends it.
#[derive(Debug, Default)]
struct SearchRequest {
    jql: String,
    fields: Vec<String>,
    expand: Vec<String>,
    max_results: Option<i64>,
    next_page_token: Option<String>,
}

async fn search_get(
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
    let request = SearchRequest {
        jql: param(&pairs, "jql").unwrap_or_default().to_owned(),
        fields: items(values(&pairs, "fields")),
        expand: items(values(&pairs, "expand")),
        max_results: param(&pairs, "maxResults").and_then(|m| m.parse().ok()),
        next_page_token: param(&pairs, "nextPageToken").map(str::to_owned),
    };
    search(&state, &request)
}

async fn search_post(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::POST, &uri, &headers) {
        return refusal;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &["Invalid request payload. Refer to the REST API documentation and try again."],
        );
    };
    // `fields` is documented as a list; `expand` as a comma-separated string.
    let list = |v: &Value| match v {
        Value::String(s) => items([s.as_str()]),
        Value::Array(a) => items(a.iter().filter_map(Value::as_str)),
        _ => Vec::new(),
    };
    let request = SearchRequest {
        jql: body["jql"].as_str().unwrap_or_default().to_owned(),
        fields: list(&body["fields"]),
        expand: list(&body["expand"]),
        max_results: body["maxResults"].as_i64(),
        next_page_token: body["nextPageToken"].as_str().map(str::to_owned),
    };
    search(&state, &request)
}

fn search(state: &JiraState, request: &SearchRequest) -> Response {
    let bad = |message: &str| jira_error(StatusCode::BAD_REQUEST, &[message]);
    let query = match parse_query(&request.jql) {
        Ok(query) => query,
        Err(error) => return bad(&jql_syntax_message(&error)),
    };
    let Some(filter) = query.filter else {
        return bad(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        );
    };
    let filter = match filter.try_map(&mut |clause| compile_jql(state, clause)) {
        Ok(filter) => filter,
        Err(message) => return bad(&message),
    };
    let mut order = Vec::new();
    for (name, descending) in &query.order {
        match jql_field(name).filter(|f| ["updated", "created", "key"].contains(f)) {
            // Jira's date fields sort newest first unless told otherwise.
            Some(field) => order.push((field, descending.unwrap_or(field != "key"))),
            None => return bad(&format!("Not able to sort using field '{name}'.")),
        }
    }
    let offset = match &request.next_page_token {
        None => 0,
        Some(token) => match page_offset(token) {
            Some(offset) => offset,
            None => return bad("The provided next page token is invalid or expired."),
        },
    };
    let mut matching: Vec<&JiraIssue> = state
        .issues
        .iter()
        .filter(|issue| filter.holds(&|cond| jql_holds(cond, issue)))
        .collect();
    // Without ORDER BY, newest issues first.
    matching.sort_by(|a, b| {
        let by_field = order_by(&order, |field| match *field {
            "updated" => a.updated.cmp(&b.updated),
            "created" => a.created.cmp(&b.created),
            _ => key_order(&a.key).cmp(&key_order(&b.key)),
        });
        by_field.then_with(|| {
            let ids = |i: &JiraIssue| i.id.parse::<u64>().unwrap_or(0);
            ids(b).cmp(&ids(a))
        })
    });
    let max = usize::try_from(request.max_results.unwrap_or(50).clamp(1, 5000)).unwrap_or(50);
    let page: Vec<&JiraIssue> = matching.iter().skip(offset).take(max).copied().collect();
    let chosen = chosen_fields(&request.fields);
    let changelog = request.expand.iter().any(|e| e == "changelog");
    let issues: Vec<Value> = page
        .iter()
        .map(|issue| {
            let mut json = json!({ "id": issue.id });
            if let Some(fields) = &chosen {
                json["expand"] = json!("");
                json["key"] = json!(issue.key);
                json["self"] = json!(issue_self(state, issue));
                let values: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|f| ((*f).to_owned(), field_json(state, issue, f)))
                    .collect();
                json["fields"] = Value::Object(values);
            }
            if changelog {
                json["changelog"] = changelog_json(state, issue);
            }
            json
        })
        .collect();
    let is_last = offset + page.len() >= matching.len();
    let mut body = json!({ "issues": issues, "isLast": is_last });
    if !is_last {
        body["nextPageToken"] = json!(page_token(offset + page.len()));
    }
    axum::Json(body).into_response()
}

/// The fields asked for, or `None` when none were (then an issue is only its id).
fn chosen_fields(requested: &[String]) -> Option<Vec<&'static str>> {
    if requested.is_empty() {
        return None;
    }
    let mut chosen: Vec<&'static str> = Vec::new();
    for wanted in requested {
        if wanted == "*all" || wanted == "*navigable" {
            chosen = FIELDS.to_vec();
        } else if let Some(field) = FIELDS.iter().find(|f| **f == wanted.as_str())
            && !chosen.contains(field)
        {
            chosen.push(field);
        }
    }
    chosen.retain(|f| !requested.iter().any(|r| r.strip_prefix('-') == Some(*f)));
    Some(chosen)
}

fn no_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}

async fn list_comments(
    State(state): State<Shared>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::GET, &uri, &headers) {
        return refusal;
    }
    let Some(issue) = state.issue(&key) else {
        return no_issue();
    };
    let pairs = query_pairs(query);
    let number = |name: &str, default: usize| {
        param(&pairs, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (start, max) = (number("startAt", 0), number("maxResults", 5000));
    let newest_first = pairs.iter().any(|(k, v)| k == "orderBy" && v == "-created");
    let mut comments: Vec<&JiraComment> = issue.comments.iter().collect();
    if newest_first {
        comments.reverse();
    }
    let page: Vec<Value> = comments
        .iter()
        .skip(start)
        .take(max)
        .map(|c| comment_json(&state, issue, c))
        .collect();
    axum::Json(
        json!({ "startAt": start, "maxResults": max, "total": comments.len(), "comments": page }),
    )
    .into_response()
}

async fn add_comment(
    State(state): State<Shared>,
    Path(key): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = state.gate(&Method::POST, &uri, &headers) {
        return refusal;
    }
    if state.issue(&key).is_none() {
        return no_issue();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let doc = &body["body"];
    let is_doc = doc["type"] == "doc"
        && doc["version"] == 1
        && doc["content"].as_array().is_some_and(|c| !c.is_empty());
    if !is_doc {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "errorMessages": [], "errors": { "comment": "Comment body can not be empty!" } })),
        )
            .into_response();
    }
    let id = state.add_comment(&key, ME, doc.clone());
    let issue = state.issue(&key).expect("issue");
    let comment = issue.comments.iter().find(|c| c.id == id).expect("comment");
    (
        StatusCode::CREATED,
        axum::Json(comment_json(&state, issue, comment)),
    )
        .into_response()
}

//! A stateful contract server for the GitHub REST API and the github.com OAuth device
//! flow, written from GitHub's REST reference (docs.github.com: "REST API endpoints for
//! notifications", "Rate limits for the REST API", "Using pagination in the REST API",
//! the issue comment and pull request review endpoints, and "Authorizing OAuth apps" →
//! "Device flow"); GitHub cannot run here. One router answers for both hosts on one
//! base URL:
//! - `Authorization: Bearer TOKEN` or `token TOKEN`; a missing or unknown token is 401
//!   `Bad credentials`. Errors are `{"message", "documentation_url", "status"}`.
//! - `GET /user`.
//! - `GET /notifications` with `all`, `participating` (the reasons in
//!   [`PARTICIPATING`]), `since` and `before` (on `updated_at`, both exclusive),
//!   `per_page` (default 50, max 50) and `page`, newest first. Answers carry
//!   `Last-Modified` (the newest change to any thread) and `X-Poll-Interval`; an
//!   `If-Modified-Since` at or after `Last-Modified` gets `304` with no body, which does
//!   not count against the rate limit.
//! - `GET` and `PATCH` (mark read, `205`) `/notifications/threads/{id}`. Reading does
//!   not move `Last-Modified`.
//! - `GET /search/issues` with `q` made of qualifiers (`is:pr`/`is:issue`, `is:merged`,
//!   `is:closed`, `author:`, `assignee:` with `@me`, `repo:`, `reason:`, `merged:>=` and
//!   `closed:>=` a date); every issue and pull request carries `closed_at`,
//!   `state_reason` and, for a pull request, `pull_request.merged_at`.
//! - `GET /repos/{owner}/{repo}/pulls/{n}`, `…/pulls/{n}/reviews` (chronological),
//!   `…/issues/{n}` (also for pull requests, with `pull_request`),
//!   `…/issues/comments/{id}`, `GET …/issues/{n}/comments` (`since`, ascending id) and
//!   `POST …/issues/{n}/comments` (`201`, by the signed-in user).
//! - Lists page with a `Link` header (`prev`, `next`, `last`, `first`), omitted when
//!   everything fits on one page.
//! - Every API answer carries `x-ratelimit-limit/remaining/used/reset/resource`. The
//!   primary limit, once used up or forced with [`GitHubState::primary_exhausted`], is
//!   403 with `x-ratelimit-remaining: 0` until `x-ratelimit-reset`; the secondary limit
//!   ([`GitHubState::secondary_limit_next`]) is 403 or 429 with `Retry-After`.
//! - `POST /login/device/code` and `POST /login/oauth/access_token` (device flow): JSON
//!   with `Accept: application/json`, else form-urlencoded; errors are HTTP 200 with
//!   `error` (`authorization_pending`, `slow_down` with the new `interval`,
//!   `expired_token`, `access_denied`, `incorrect_client_credentials`,
//!   `unsupported_grant_type`, `incorrect_device_code`).
//!
//! Threads behave as the reference describes: one `reason` per thread, replaced by a
//! later notification's reason except that `mention` sticks; `latest_comment_url`
//! falls back to the subject's own URL when the latest activity is not a comment;
//! `CheckSuite` threads have `null` URLs (observed on GitHub). The user watches every
//! repository here, so a comment on an item without a thread starts a `subscribed` one.
//! Timestamps have second resolution and every change gets a strictly later one, so a
//! change in the same second as the last `Last-Modified` still shows.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The signed-in user's login.
pub const ME: &str = "alice";
/// A colleague.
pub const BOB: &str = "bob";
/// A personal access token (classic) of [`ME`] that works from the start.
pub const TOKEN: &str = "ghp_DeepworkContractToken0000000000000001";
/// The OAuth app's client id that the server knows.
pub const CLIENT_ID: &str = "Ov23liDeepworkTest01";
/// The code shown to the user in the device flow.
pub const USER_CODE: &str = "DWRK-TEST";
/// The reasons `participating=true` keeps: the user was directly involved or
/// mentioned. The reference does not enumerate them; watching, team mentions, CI,
/// security alerts, invitations and manual subscriptions are left out.
pub const PARTICIPATING: &[&str] = &[
    "approval_requested",
    "assign",
    "author",
    "comment",
    "mention",
    "review_requested",
    "state_change",
];

const DOCS: &str = "https://docs.github.com/rest";
const RATE_DOCS: &str =
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";
const DEVICE_DOCS: &str = "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#error-codes-for-the-device-flow";
/// How long a device code lives, as the reference gives it.
const DEVICE_CODE_LIFETIME: u64 = 900;

/// A pull request or an issue.
#[derive(Clone, Debug)]
pub struct Item {
    /// `owner/name`.
    pub repo: String,
    /// Its number in the repository.
    pub number: u64,
    /// A pull request rather than an issue.
    pub pull: bool,
    /// Title.
    pub title: String,
    /// Who opened it.
    pub author: String,
    /// `open` or `closed`.
    pub state: String,
    /// Whether a pull request was merged.
    pub merged: bool,
    /// When it was closed (merged, for a merged pull request).
    pub closed_at: Option<Timestamp>,
    /// Why an issue was closed: `completed` or `not_planned`.
    pub state_reason: Option<String>,
    /// Description.
    pub body: String,
    /// Logins asked to review and not reviewed since.
    pub requested_reviewers: Vec<String>,
    /// Assigned logins.
    pub assignees: Vec<String>,
    /// Opened.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A comment on an issue or pull request.
#[derive(Clone, Debug)]
pub struct Comment {
    /// Its id.
    pub id: u64,
    /// `owner/name`.
    pub repo: String,
    /// The issue or pull request.
    pub number: u64,
    /// Who wrote it.
    pub login: String,
    /// Text.
    pub body: String,
    /// Written.
    pub created_at: Timestamp,
    /// Last edited.
    pub updated_at: Timestamp,
}

/// A submitted pull request review.
#[derive(Clone, Debug)]
pub struct Review {
    /// Its id.
    pub id: u64,
    /// `owner/name`.
    pub repo: String,
    /// The pull request.
    pub number: u64,
    /// The reviewer.
    pub login: String,
    /// `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
    pub state: String,
    /// Text.
    pub body: String,
    /// Submitted.
    pub submitted_at: Timestamp,
}

/// A notification thread of the user.
#[derive(Clone, Debug)]
pub struct Thread {
    /// Its id (a string in the API).
    pub id: String,
    /// `owner/name`.
    pub repo: String,
    /// Why the user is notified, e.g. `review_requested`.
    pub reason: String,
    /// `PullRequest`, `Issue`, `CheckSuite`, `Release`, `Discussion` or `Commit`.
    pub subject_type: String,
    /// The subject's title.
    pub title: String,
    /// The issue or pull request number; `None` for a check suite.
    pub number: Option<u64>,
    /// The latest comment, if the latest activity was one.
    pub latest_comment: Option<u64>,
    /// Not read since the last update.
    pub unread: bool,
    /// Last notification.
    pub updated_at: Timestamp,
    /// Last marked read.
    pub last_read_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
struct DeviceGrant {
    scope: String,
    interval: u64,
    issued: Instant,
    last_poll: Option<Instant>,
    expired: bool,
}

/// The user's GitHub, for tests to read and change.
#[derive(Clone, Debug)]
pub struct GitHubState {
    /// The server's base URL, which API URLs in answers start with.
    pub base: String,
    /// Tokens that work, all of them [`ME`]'s.
    pub tokens: Vec<String>,
    /// Notification threads.
    pub threads: Vec<Thread>,
    /// Pull requests and issues.
    pub items: Vec<Item>,
    /// Issue and pull request comments.
    pub comments: Vec<Comment>,
    /// Pull request reviews.
    pub reviews: Vec<Review>,
    /// The newest change to the notifications, sent as `Last-Modified`.
    pub notifications_modified: Timestamp,
    /// `X-Poll-Interval`, in seconds.
    pub poll_interval: String,
    /// Requests per window (5,000 for a user).
    pub rate_limit: u32,
    /// Requests counted in this window; `304` answers are free.
    pub rate_used: u32,
    /// When the window resets, in epoch seconds.
    pub rate_reset: i64,
    /// Refuse every call as over the primary limit until `rate_reset` passes.
    pub primary_exhausted: bool,
    /// Refuse this many coming API calls as over a secondary limit.
    pub secondary_limit_next: u32,
    /// 403 or 429 for the secondary limit.
    pub secondary_status: u16,
    /// `Retry-After` on a secondary-limit refusal, in seconds.
    pub retry_after: u64,
    /// Token polls to answer `authorization_pending` before the user "approves".
    pub pending_polls: u32,
    /// The `interval` a new device code gets, in seconds.
    pub device_interval: u64,
    /// Answer `slow_down` to a poll sooner than the device code's interval.
    pub check_poll_speed: bool,
    /// `slow_down` answers given.
    pub slow_downs: u32,
    /// The user cancels at the verification page: polls get `access_denied`.
    pub access_denied: bool,
    /// Every request, as `METHOD /path?query`.
    pub calls: Vec<String>,
    /// Requests that carried `If-Modified-Since`.
    pub conditional_calls: u32,
    /// `304 Not Modified` answers.
    pub not_modified: u32,
    clock: Timestamp,
    next_id: u64,
    grants: HashMap<String, DeviceGrant>,
}

fn subject_type(pull: bool) -> &'static str {
    if pull { "PullRequest" } else { "Issue" }
}

fn same_repo(a: &str, b: &str) -> bool {
    // GitHub's owner and repository names are not case sensitive.
    a.eq_ignore_ascii_case(b)
}

impl GitHubState {
    /// A strictly later whole second for each change, so that `Last-Modified`, which
    /// has second resolution, moves with every change.
    fn tick(&mut self) -> Timestamp {
        let now = Timestamp::from_second(Timestamp::now().as_second()).expect("time");
        self.clock = now.max(self.clock + SignedDuration::from_secs(1));
        self.clock
    }

    /// Now, never before the last change, without making a change.
    fn stamp(&self) -> Timestamp {
        Timestamp::from_second(Timestamp::now().as_second())
            .expect("time")
            .max(self.clock)
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Creates or updates the thread about a subject as of the change just ticked, and
    /// bumps `Last-Modified`. `reason` `None` keeps the thread's reason (`subscribed`
    /// for a new one).
    fn touch_thread(
        &mut self,
        repo: &str,
        kind: &str,
        number: Option<u64>,
        title: &str,
        reason: Option<&str>,
        latest_comment: Option<u64>,
    ) -> String {
        let at = self.clock;
        self.notifications_modified = at;
        let existing = self.threads.iter_mut().find(|t| {
            same_repo(&t.repo, repo)
                && t.subject_type == kind
                && t.number == number
                && (number.is_some() || t.title == title)
        });
        if let Some(thread) = existing {
            // "The reason remains as mention, regardless of whether you're ever
            // mentioned again."
            if let Some(reason) = reason.filter(|_| thread.reason != "mention") {
                thread.reason = reason.to_owned();
            }
            thread.title = title.to_owned();
            thread.latest_comment = latest_comment;
            thread.unread = true;
            thread.updated_at = at;
            return thread.id.clone();
        }
        let id = (4_000_000_000 + self.new_id()).to_string();
        self.threads.push(Thread {
            id: id.clone(),
            repo: repo.to_owned(),
            reason: reason.unwrap_or("subscribed").to_owned(),
            subject_type: kind.to_owned(),
            title: title.to_owned(),
            number,
            latest_comment,
            unread: true,
            updated_at: at,
            last_read_at: None,
        });
        id
    }

    fn item_mut(&mut self, repo: &str, number: u64) -> Option<&mut Item> {
        self.items
            .iter_mut()
            .find(|i| same_repo(&i.repo, repo) && i.number == number)
    }

    fn item(&self, repo: &str, number: u64) -> Option<&Item> {
        self.items
            .iter()
            .find(|i| same_repo(&i.repo, repo) && i.number == number)
    }

    /// A notification about `repo`'s `number` reaches the user: creates the pull
    /// request or issue if missing (opened by [`ME`] for `author`, else by [`BOB`]),
    /// asks the user to review for `review_requested`, assigns them for `assign`, and
    /// creates or updates the thread (unread, newer `updated_at` and `Last-Modified`).
    /// Returns the thread id.
    pub fn notify(
        &mut self,
        repo: &str,
        reason: &str,
        subject_type: &str,
        title: &str,
        number: u64,
    ) -> String {
        let at = self.tick();
        if matches!(subject_type, "PullRequest" | "Issue") {
            if self.item(repo, number).is_none() {
                self.items.push(Item {
                    repo: repo.to_owned(),
                    number,
                    pull: subject_type == "PullRequest",
                    title: title.to_owned(),
                    author: if reason == "author" { ME } else { BOB }.to_owned(),
                    state: "open".into(),
                    merged: false,
                    closed_at: None,
                    state_reason: None,
                    body: String::new(),
                    requested_reviewers: Vec::new(),
                    assignees: Vec::new(),
                    created_at: at,
                    updated_at: at,
                });
            }
            let item = self.item_mut(repo, number).expect("just made");
            item.title = title.to_owned();
            item.updated_at = at;
            let list = match reason {
                "review_requested" => Some(&mut item.requested_reviewers),
                "assign" => Some(&mut item.assignees),
                _ => None,
            };
            if let Some(list) = list.filter(|l| !l.iter().any(|l| l == ME)) {
                list.push(ME.to_owned());
            }
        }
        self.touch_thread(repo, subject_type, Some(number), title, Some(reason), None)
    }

    fn add_comment(
        &mut self,
        repo: &str,
        number: u64,
        login: &str,
        body: &str,
        reason: Option<&str>,
    ) -> u64 {
        let at = self.tick();
        let id = self.new_id();
        let item = self
            .item_mut(repo, number)
            .unwrap_or_else(|| panic!("no #{number} in {repo}: notify about it first"));
        item.updated_at = at;
        let (kind, title) = (subject_type(item.pull), item.title.clone());
        self.comments.push(Comment {
            id,
            repo: repo.to_owned(),
            number,
            login: login.to_owned(),
            body: body.to_owned(),
            created_at: at,
            updated_at: at,
        });
        // GitHub does not notify people of their own comments.
        if login != ME {
            self.touch_thread(repo, kind, Some(number), &title, reason, Some(id));
        }
        id
    }

    /// `login` comments on an existing issue or pull request. Someone else's comment
    /// updates the user's thread (keeping its reason) and points its
    /// `latest_comment_url` at the comment. Returns the comment id.
    pub fn comment(&mut self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        self.add_comment(repo, number, login, body, None)
    }

    /// Like [`GitHubState::comment`], and the comment @mentions the user: the thread's
    /// reason becomes `mention`.
    pub fn mention(&mut self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        self.add_comment(repo, number, login, body, Some("mention"))
    }

    /// `login` submits a review on an existing pull request. The user's own review
    /// ends their review request; someone else's updates the thread. Returns the
    /// review id.
    pub fn review(&mut self, repo: &str, number: u64, login: &str, state: &str) -> u64 {
        let at = self.tick();
        let id = self.new_id();
        let item = self
            .item_mut(repo, number)
            .filter(|i| i.pull)
            .unwrap_or_else(|| panic!("no pull request #{number} in {repo}"));
        item.updated_at = at;
        // "Once a requested reviewer submits a review, they are no longer considered
        // a requested reviewer."
        item.requested_reviewers.retain(|r| r != login);
        let title = item.title.clone();
        self.reviews.push(Review {
            id,
            repo: repo.to_owned(),
            number,
            login: login.to_owned(),
            state: state.to_owned(),
            body: String::new(),
            submitted_at: at,
        });
        if login != ME {
            self.touch_thread(repo, "PullRequest", Some(number), &title, None, None);
        }
        id
    }

    /// An existing item is closed at the next tick: a pull request merged, an issue
    /// closed for `reason` (`completed` or `not_planned`).
    pub fn close(&mut self, repo: &str, number: u64, reason: &str) {
        let at = self.tick();
        let item = self
            .item_mut(repo, number)
            .unwrap_or_else(|| panic!("no #{number} in {repo}"));
        item.state = "closed".into();
        item.closed_at = Some(at);
        item.updated_at = at;
        if item.pull {
            item.merged = true;
        } else {
            item.state_reason = Some(reason.to_owned());
        }
    }

    /// A GitHub Actions run the user triggered failed: a `ci_activity` `CheckSuite`
    /// thread titled like "CI workflow run failed for main branch" (the same title
    /// updates the same thread). Returns the thread id.
    pub fn ci_failed(&mut self, repo: &str, title: &str) -> String {
        self.tick();
        self.touch_thread(repo, "CheckSuite", None, title, Some("ci_activity"), None)
    }

    /// Revokes every token, as the user would in their settings.
    pub fn revoke(&mut self) {
        self.tokens.clear();
    }

    /// Every device code handed out so far expires.
    pub fn expire_device_codes(&mut self) {
        for grant in self.grants.values_mut() {
            grant.expired = true;
        }
    }

    fn user_json(&self, login: &str) -> Value {
        let id = user_id(login);
        json!({
            "login": login,
            "id": id,
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "url": format!("{}/users/{login}", self.base),
            "html_url": format!("https://github.com/{login}"),
            "type": "User",
            "site_admin": false,
        })
    }

    fn repo_json(&self, repo: &str) -> Value {
        let owner = repo.split_once('/').map_or(repo, |(owner, _)| owner);
        let name = repo.split_once('/').map_or(repo, |(_, name)| name);
        json!({
            "id": stable_id(repo),
            "name": name,
            "full_name": repo,
            "private": false,
            "owner": self.user_json(owner),
            "html_url": format!("https://github.com/{repo}"),
            "description": null,
            "fork": false,
            "url": format!("{}/repos/{repo}", self.base),
        })
    }

    fn item_url(&self, item: &Item) -> String {
        let kind = if item.pull { "pulls" } else { "issues" };
        format!("{}/repos/{}/{kind}/{}", self.base, item.repo, item.number)
    }

    fn html_url(item: &Item) -> String {
        let kind = if item.pull { "pull" } else { "issues" };
        format!("https://github.com/{}/{kind}/{}", item.repo, item.number)
    }

    fn thread_json(&self, thread: &Thread) -> Value {
        let url = thread
            .number
            .and_then(|n| self.item(&thread.repo, n))
            .filter(|i| i.pull == (thread.subject_type == "PullRequest"))
            .map(|i| self.item_url(i));
        let latest = match (thread.latest_comment, &url) {
            (Some(id), _) => Some(format!(
                "{}/repos/{}/issues/comments/{id}",
                self.base, thread.repo
            )),
            (None, url) => url.clone(),
        };
        let api = format!("{}/notifications/threads/{}", self.base, thread.id);
        json!({
            "id": thread.id,
            "unread": thread.unread,
            "reason": thread.reason,
            "updated_at": iso(thread.updated_at),
            "last_read_at": thread.last_read_at.map(iso),
            "subject": {
                "title": thread.title,
                "url": url,
                "latest_comment_url": latest,
                "type": thread.subject_type,
            },
            "repository": self.repo_json(&thread.repo),
            "url": api,
            "subscription_url": format!("{api}/subscription"),
        })
    }

    fn users_json(&self, logins: &[String]) -> Vec<Value> {
        logins.iter().map(|l| self.user_json(l)).collect()
    }

    fn pull_json(&self, item: &Item) -> Value {
        let issue = format!("{}/repos/{}/issues/{}", self.base, item.repo, item.number);
        json!({
            "url": self.item_url(item),
            "id": stable_id(&format!("{}#{}", item.repo, item.number)),
            "html_url": Self::html_url(item),
            "issue_url": issue,
            "comments_url": format!("{issue}/comments"),
            "number": item.number,
            "state": item.state,
            "title": item.title,
            "user": self.user_json(&item.author),
            "body": item.body,
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
            "draft": false,
            "merged": item.merged,
            "requested_reviewers": self.users_json(&item.requested_reviewers),
            "requested_teams": [],
            "assignees": self.users_json(&item.assignees),
        })
    }

    fn issue_json(&self, item: &Item) -> Value {
        let url = format!("{}/repos/{}/issues/{}", self.base, item.repo, item.number);
        let mut issue = json!({
            "url": url,
            "id": stable_id(&format!("{}#{}", item.repo, item.number)),
            "html_url": Self::html_url(item),
            "comments_url": format!("{url}/comments"),
            "number": item.number,
            "state": item.state,
            "title": item.title,
            "user": self.user_json(&item.author),
            "body": item.body,
            "assignees": self.users_json(&item.assignees),
            "comments": self.comments.iter().filter(|c| same_repo(&c.repo, &item.repo) && c.number == item.number).count(),
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
            "closed_at": item.closed_at.map(iso),
            "state_reason": item.state_reason,
            "repository_url": format!("{}/repos/{}", self.base, item.repo),
        });
        if item.pull {
            let merged_at = item.closed_at.filter(|_| item.merged).map(iso);
            issue["pull_request"] = json!({ "url": self.item_url(item), "html_url": Self::html_url(item), "merged_at": merged_at });
        }
        issue
    }

    fn comment_json(&self, comment: &Comment) -> Value {
        let pull = self
            .item(&comment.repo, comment.number)
            .is_some_and(|i| i.pull);
        let page = if pull { "pull" } else { "issues" };
        json!({
            "id": comment.id,
            "url": format!("{}/repos/{}/issues/comments/{}", self.base, comment.repo, comment.id),
            "html_url": format!("https://github.com/{}/{page}/{}#issuecomment-{}", comment.repo, comment.number, comment.id),
            "issue_url": format!("{}/repos/{}/issues/{}", self.base, comment.repo, comment.number),
            "body": comment.body,
            "user": self.user_json(&comment.login),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": if comment.login == ME { "OWNER" } else { "COLLABORATOR" },
        })
    }

    fn review_json(&self, review: &Review) -> Value {
        json!({
            "id": review.id,
            "user": self.user_json(&review.login),
            "body": review.body,
            "state": review.state,
            "html_url": format!("https://github.com/{}/pull/{}#pullrequestreview-{}", review.repo, review.number, review.id),
            "pull_request_url": format!("{}/repos/{}/pulls/{}", self.base, review.repo, review.number),
            "submitted_at": iso(review.submitted_at),
            "commit_id": format!("{:040x}", stable_id(&review.repo) + review.number),
            "author_association": "COLLABORATOR",
        })
    }

    /// The primary window resets once its reset time has passed.
    fn roll_window(&mut self) {
        let now = Timestamp::now().as_second();
        if now >= self.rate_reset {
            self.rate_used = 0;
            self.primary_exhausted = false;
            self.rate_reset = now + 3600;
        }
    }

    fn primary_spent(&self) -> bool {
        self.primary_exhausted || self.rate_used >= self.rate_limit
    }

    fn rate_headers(&self, response: &mut Response) {
        let used = if self.primary_spent() {
            self.rate_limit
        } else {
            self.rate_used
        };
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", self.rate_limit.to_string()),
            (
                "x-ratelimit-remaining",
                (self.rate_limit - used).to_string(),
            ),
            ("x-ratelimit-used", used.to_string()),
            ("x-ratelimit-reset", self.rate_reset.to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ] {
            headers.insert(name, value.parse().expect("header"));
        }
    }
}

/// An FNV-1a hash, for ids that stay put across runs.
fn stable_id(text: &str) -> u64 {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    1_000_000 + hash % 900_000_000
}

fn user_id(login: &str) -> u64 {
    match login {
        ME => 1001,
        BOB => 1002,
        other => stable_id(other),
    }
}

fn iso(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn http_date(at: Timestamp) -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .expect("HTTP date")
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct GitHubContract {
    /// Both `https://api.github.com` and `https://github.com`, like `http://127.0.0.1:PORT`.
    pub base: String,
    /// The user's GitHub, for tests to read and change.
    pub state: Arc<Mutex<GitHubState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<GitHubState>>;

impl GitHubContract {
    /// Starts on a free loopback port with [`TOKEN`] working and no notifications.
    pub async fn start() -> GitHubContract {
        let now = Timestamp::from_second(Timestamp::now().as_second()).expect("time");
        let state: Shared = Arc::new(Mutex::new(GitHubState {
            base: String::new(),
            tokens: vec![TOKEN.to_owned()],
            threads: Vec::new(),
            items: Vec::new(),
            comments: Vec::new(),
            reviews: Vec::new(),
            notifications_modified: now,
            poll_interval: "60".into(),
            rate_limit: 5000,
            rate_used: 0,
            rate_reset: now.as_second() + 3600,
            primary_exhausted: false,
            secondary_limit_next: 0,
            secondary_status: 403,
            retry_after: 1,
            pending_polls: 2,
            device_interval: 1,
            check_poll_speed: true,
            slow_downs: 0,
            access_denied: false,
            calls: Vec::new(),
            conditional_calls: 0,
            not_modified: 0,
            clock: now,
            next_id: 0,
            grants: HashMap::new(),
        }));
        let repo = "/repos/{owner}/{repo}";
        let app = Router::new()
            .route("/login/device/code", post(device_code))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/notifications", get(notifications))
            .route("/search/issues", get(search_issues))
            .route(
                "/notifications/threads/{id}",
                get(thread).patch(mark_thread_read),
            )
            .route(&format!("{repo}/pulls/{{number}}"), get(pull))
            .route(&format!("{repo}/pulls/{{number}}/reviews"), get(reviews))
            .route(&format!("{repo}/issues/{{number}}"), get(issue))
            .route(
                &format!("{repo}/issues/{{number}}/comments"),
                get(comments).post(create_comment),
            )
            .route(&format!("{repo}/issues/comments/{{id}}"), get(comment))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        state.lock().expect("state").base = served.base.clone();
        GitHubContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    /// The user's GitHub now.
    pub fn now(&self) -> GitHubState {
        self.state.lock().expect("state").clone()
    }
}

fn api_error(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "documentation_url": documentation_url, "status": status.as_u16().to_string() })),
    )
        .into_response()
}

fn not_found_error() -> Response {
    api_error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

async fn not_found() -> Response {
    not_found_error()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

/// Logs every request; for the API also checks the token and the rate limits before the
/// handler, and counts the call and sets the rate-limit headers after it.
async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let api = !request.uri().path().starts_with("/login/");
    let refusal = {
        let mut state = shared.lock().expect("state");
        let line = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        state.calls.push(format!("{} {line}", request.method()));
        if request.headers().contains_key(header::IF_MODIFIED_SINCE) {
            state.conditional_calls += 1;
        }
        if api {
            state.roll_window();
            refuse(&mut state, request.headers())
        } else {
            None
        }
    };
    if let Some(refusal) = refusal {
        return refusal;
    }
    let mut response = next.run(request).await;
    if api {
        let mut state = shared.lock().expect("state");
        // "If there are no new notifications, you will see a 304 Not Modified
        // response, leaving your current rate limit untouched."
        if response.status() == StatusCode::NOT_MODIFIED {
            state.not_modified += 1;
        } else {
            state.rate_used += 1;
        }
        state.rate_headers(&mut response);
    }
    response
}

fn refuse(state: &mut GitHubState, headers: &HeaderMap) -> Option<Response> {
    let known = bearer(headers).is_some_and(|t| state.tokens.iter().any(|k| k == t));
    let mut refusal = if !known {
        api_error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
    } else if state.secondary_limit_next > 0 {
        state.secondary_limit_next -= 1;
        let status = StatusCode::from_u16(state.secondary_status).expect("status");
        let mut refusal = api_error(
            status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0D0E:1F2A:3B4C:5D6E:7F80.",
            &format!("{RATE_DOCS}#about-secondary-rate-limits"),
        );
        refusal
            .headers_mut()
            .insert(header::RETRY_AFTER, state.retry_after.into());
        refusal
    } else if state.primary_spent() {
        api_error(
            StatusCode::FORBIDDEN,
            &format!("API rate limit exceeded for user ID {}.", user_id(ME)),
            &format!("{RATE_DOCS}#exceeding-the-rate-limit"),
        )
    } else {
        return None;
    };
    state.rate_headers(&mut refusal);
    Some(refusal)
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rfind(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One qualifier of a search query, checked against an item.
fn search_matches(item: &Item, qualifier: &str, value: &str) -> Result<bool, String> {
    let date_at_least = |at: Option<Timestamp>, value: &str| -> Result<bool, String> {
        let day = value
            .strip_prefix(">=")
            .ok_or_else(|| format!("only >=DATE is modelled here, not {value:?}"))?;
        let day: jiff::civil::Date = day
            .parse()
            .map_err(|_| format!("{value:?} is not a date"))?;
        let start = day
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp();
        Ok(at.is_some_and(|at| at >= start))
    };
    Ok(match (qualifier, value) {
        ("is" | "type", "pr") => item.pull,
        ("is" | "type", "issue") => !item.pull,
        ("is", "merged") => item.merged,
        ("is", "unmerged") => item.pull && !item.merged,
        ("is" | "state", "open") => item.state == "open",
        ("is" | "state", "closed") => item.state == "closed",
        ("author", login) => item.author.eq_ignore_ascii_case(login),
        ("assignee", login) => item.assignees.iter().any(|a| a.eq_ignore_ascii_case(login)),
        ("repo", repo) => same_repo(&item.repo, repo),
        ("reason", reason) => {
            let reason = reason.trim_matches('"').replace(' ', "_");
            item.state_reason.as_deref() == Some(reason.as_str())
        }
        ("merged", value) => date_at_least(item.closed_at.filter(|_| item.merged), value)?,
        ("closed", value) => date_at_least(item.closed_at, value)?,
        (qualifier, _) => return Err(format!("the qualifier {qualifier:?} is not modelled")),
    })
}

/// `GET /search/issues?q=`: issues and pull requests matching every qualifier (the
/// subset in [`search_matches`]; `@me` is the signed-in user), newest first, as
/// `{"total_count", "incomplete_results", "items"}`. A query naming neither `is:pr` nor
/// `is:issue` is refused, as GitHub does for this endpoint since 2025.
async fn search_issues(State(shared): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let state = shared.lock().expect("state");
    let pairs = query_pairs(raw.as_deref());
    let Some(query) = query_value(&pairs, "q").filter(|q| !q.trim().is_empty()) else {
        return validation_failed("Validation Failed");
    };
    let mut qualifiers = Vec::new();
    for word in query.split_whitespace() {
        let Some((qualifier, value)) = word.split_once(':') else {
            return validation_failed(&format!("free text {word:?} is not modelled here"));
        };
        let value = if value == "@me" { ME } else { value };
        qualifiers.push((qualifier.to_ascii_lowercase(), value.to_owned()));
    }
    if !qualifiers
        .iter()
        .any(|(q, v)| (q == "is" || q == "type") && (v == "pr" || v == "issue"))
    {
        return validation_failed("Query must include 'is:issue' or 'is:pull-request'");
    }
    let mut found = Vec::new();
    for item in &state.items {
        let mut all = true;
        for (qualifier, value) in &qualifiers {
            match search_matches(item, qualifier, value) {
                Ok(matched) => all &= matched,
                Err(message) => return validation_failed(&message),
            }
        }
        if all {
            found.push(item);
        }
    }
    found.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    let total = found.len();
    let values: Vec<Value> = found.into_iter().map(|i| state.issue_json(i)).collect();
    let url = format!("{}/search/issues", state.base);
    let (page, link) = paginate(values, &pairs, &url, 30, 100);
    let mut response =
        axum::Json(json!({ "total_count": total, "incomplete_results": false, "items": page }))
            .into_response();
    if let Some(link) = link {
        response
            .headers_mut()
            .insert(header::LINK, link.parse().expect("header"));
    }
    response
}

fn validation_failed(message: &str) -> Response {
    api_error(StatusCode::UNPROCESSABLE_ENTITY, message, DOCS)
}

/// `since`/`before` as a timestamp; `Err` names it when it is not ISO 8601.
fn time_param(
    pairs: &[(String, String)],
    name: &'static str,
) -> Result<Option<Timestamp>, &'static str> {
    query_value(pairs, name)
        .map(|text| text.parse::<Timestamp>().map_err(|_| name))
        .transpose()
}

fn bad_time(name: &str) -> Response {
    validation_failed(&format!(
        "Invalid request.\n\n{name} must be an ISO 8601 timestamp."
    ))
}

/// One page of `values` and its `Link` header, per `per_page` (capped at `max`) and
/// `page`; the links keep the request's other parameters.
fn paginate(
    values: Vec<Value>,
    pairs: &[(String, String)],
    url: &str,
    default: usize,
    max: usize,
) -> (Vec<Value>, Option<String>) {
    let per_page = query_value(pairs, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
        .min(max);
    let page = query_value(pairs, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = values.len().div_ceil(per_page).max(1);
    let link_to = |n: usize, rel: &str| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "page") {
            query.append_pair(k, v);
        }
        query.append_pair("page", &n.to_string());
        format!("<{url}?{}>; rel=\"{rel}\"", query.finish())
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page.min(last + 1) - 1, "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
    }
    let items = values
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (items, (!links.is_empty()).then(|| links.join(", ")))
}

fn list_response(values: Vec<Value>, link: Option<String>) -> Response {
    let mut response = axum::Json(Value::Array(values)).into_response();
    if let Some(link) = link {
        response
            .headers_mut()
            .insert(header::LINK, link.parse().expect("header"));
    }
    response
}

async fn user(State(shared): State<Shared>) -> Response {
    let state = shared.lock().expect("state");
    let mut user = state.user_json(ME);
    user["name"] = json!("Alice");
    axum::Json(user).into_response()
}

async fn notifications(
    State(shared): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock().expect("state");
    let poll_interval =
        HeaderValue::from_str(&state.poll_interval).expect("X-Poll-Interval header");
    let modified = state.notifications_modified;
    let unchanged = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(v)
                .ok()
        })
        .is_some_and(|since| since >= modified);
    if unchanged {
        return (
            StatusCode::NOT_MODIFIED,
            [("x-poll-interval", poll_interval)],
        )
            .into_response();
    }
    let pairs = query_pairs(raw.as_deref());
    let (since, before) = match (time_param(&pairs, "since"), time_param(&pairs, "before")) {
        (Ok(since), Ok(before)) => (since, before),
        (Err(name), _) | (_, Err(name)) => return bad_time(name),
    };
    let all = query_value(&pairs, "all") == Some("true");
    let participating = query_value(&pairs, "participating") == Some("true");
    let mut threads: Vec<&Thread> = state
        .threads
        .iter()
        .filter(|t| all || t.unread)
        .filter(|t| !participating || PARTICIPATING.contains(&t.reason.as_str()))
        .filter(|t| since.is_none_or(|since| t.updated_at > since))
        .filter(|t| before.is_none_or(|before| t.updated_at < before))
        .collect();
    // "sorted by most recently updated"
    threads.sort_by_key(|t| std::cmp::Reverse(t.updated_at));
    let values = threads.iter().map(|t| state.thread_json(t)).collect();
    let url = format!("{}/notifications", state.base);
    let (page, link) = paginate(values, &pairs, &url, 50, 50);
    let mut response = list_response(page, link);
    let headers = response.headers_mut();
    headers.insert("x-poll-interval", poll_interval);
    headers.insert(
        header::LAST_MODIFIED,
        http_date(modified).parse().expect("header"),
    );
    response
}

async fn thread(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let state = shared.lock().expect("state");
    state
        .threads
        .iter()
        .find(|t| t.id == id)
        .map_or_else(not_found_error, |t| {
            axum::Json(state.thread_json(t)).into_response()
        })
}

async fn mark_thread_read(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut state = shared.lock().expect("state");
    let at = state.stamp();
    let Some(thread) = state.threads.iter_mut().find(|t| t.id == id) else {
        return not_found_error();
    };
    // Reading is not a new notification: Last-Modified stays.
    thread.unread = false;
    thread.last_read_at = Some(at);
    StatusCode::RESET_CONTENT.into_response()
}

type ItemPath = Path<(String, String, String)>;

/// `owner/name` and the number from a repository item path.
fn item_ref((owner, repo, number): (String, String, String)) -> Option<(String, u64)> {
    Some((format!("{owner}/{repo}"), number.parse().ok()?))
}

async fn pull(State(shared): State<Shared>, Path(path): ItemPath) -> Response {
    let state = shared.lock().expect("state");
    item_ref(path)
        .and_then(|(repo, n)| state.item(&repo, n))
        .filter(|i| i.pull)
        .map_or_else(not_found_error, |i| {
            axum::Json(state.pull_json(i)).into_response()
        })
}

async fn issue(State(shared): State<Shared>, Path(path): ItemPath) -> Response {
    let state = shared.lock().expect("state");
    item_ref(path)
        .and_then(|(repo, n)| state.item(&repo, n))
        .map_or_else(not_found_error, |i| {
            axum::Json(state.issue_json(i)).into_response()
        })
}

async fn reviews(
    State(shared): State<Shared>,
    Path(path): ItemPath,
    RawQuery(raw): RawQuery,
) -> Response {
    let state = shared.lock().expect("state");
    let Some(item) = item_ref(path)
        .and_then(|(repo, n)| state.item(&repo, n))
        .filter(|i| i.pull)
    else {
        return not_found_error();
    };
    // "The list of reviews returns in chronological order."
    let values = state
        .reviews
        .iter()
        .filter(|r| same_repo(&r.repo, &item.repo) && r.number == item.number)
        .map(|r| state.review_json(r))
        .collect();
    let url = format!("{}/reviews", state.item_url(item));
    let (page, link) = paginate(values, &query_pairs(raw.as_deref()), &url, 30, 100);
    list_response(page, link)
}

async fn comments(
    State(shared): State<Shared>,
    Path(path): ItemPath,
    RawQuery(raw): RawQuery,
) -> Response {
    let state = shared.lock().expect("state");
    let Some(item) = item_ref(path).and_then(|(repo, n)| state.item(&repo, n)) else {
        return not_found_error();
    };
    let pairs = query_pairs(raw.as_deref());
    let since = match time_param(&pairs, "since") {
        Ok(since) => since,
        Err(name) => return bad_time(name),
    };
    // Comments come in ascending id, which is the order they were written in.
    let values = state
        .comments
        .iter()
        .filter(|c| same_repo(&c.repo, &item.repo) && c.number == item.number)
        .filter(|c| since.is_none_or(|since| c.updated_at > since))
        .map(|c| state.comment_json(c))
        .collect();
    let url = format!(
        "{}/repos/{}/issues/{}/comments",
        state.base, item.repo, item.number
    );
    let (page, link) = paginate(values, &pairs, &url, 30, 100);
    list_response(page, link)
}

async fn create_comment(
    State(shared): State<Shared>,
    Path(path): ItemPath,
    body: Bytes,
) -> Response {
    let mut state = shared.lock().expect("state");
    let Some((repo, number)) = item_ref(path).filter(|(repo, n)| state.item(repo, *n).is_some())
    else {
        return not_found_error();
    };
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(text) = value["body"].as_str() else {
        return validation_failed("Invalid request.\n\n\"body\" wasn't supplied.");
    };
    let id = state.comment(&repo, number, ME, text);
    let comment = state.comments.iter().find(|c| c.id == id).expect("added");
    (StatusCode::CREATED, axum::Json(state.comment_json(comment))).into_response()
}

async fn comment(
    State(shared): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    let state = shared.lock().expect("state");
    let repo = format!("{owner}/{repo}");
    id.parse::<u64>()
        .ok()
        .and_then(|id| {
            state
                .comments
                .iter()
                .find(|c| c.id == id && same_repo(&c.repo, &repo))
        })
        .map_or_else(not_found_error, |c| {
            axum::Json(state.comment_json(c)).into_response()
        })
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// An OAuth answer: JSON when asked for, else form-urlencoded, GitHub's default.
fn oauth_reply(json: bool, fields: Value) -> Response {
    if json {
        return axum::Json(fields).into_response();
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields.as_object().into_iter().flatten() {
        match value {
            Value::String(text) => form.append_pair(name, text),
            other => form.append_pair(name, &other.to_string()),
        };
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        form.finish(),
    )
        .into_response()
}

/// Device-flow errors are HTTP 200 with an `error` field.
fn oauth_error(json: bool, error: &str, description: &str) -> Response {
    oauth_reply(
        json,
        json!({ "error": error, "error_description": description, "error_uri": DEVICE_DOCS }),
    )
}

fn form_fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn device_code(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let json = wants_json(&headers);
    let fields = form_fields(&body);
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            json,
            "incorrect_client_credentials",
            "The client_id passed is incorrect.",
        );
    }
    let mut state = shared.lock().expect("state");
    let code = format!("{:040x}", 0x3584_d835_u64 + state.new_id());
    let interval = state.device_interval;
    state.grants.insert(
        code.clone(),
        DeviceGrant {
            scope: fields.get("scope").cloned().unwrap_or_default(),
            interval,
            issued: Instant::now(),
            last_poll: None,
            expired: false,
        },
    );
    oauth_reply(
        json,
        json!({
            "device_code": code,
            "user_code": USER_CODE,
            "verification_uri": format!("{}/login/device", state.base),
            "expires_in": DEVICE_CODE_LIFETIME,
            "interval": interval,
        }),
    )
}

async fn access_token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let json = wants_json(&headers);
    let fields = form_fields(&body);
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) {
        return oauth_error(
            json,
            "incorrect_client_credentials",
            "The client_id passed is incorrect.",
        );
    }
    if field("grant_type") != Some("urn:ietf:params:oauth:grant-type:device_code") {
        return oauth_error(
            json,
            "unsupported_grant_type",
            "The grant type must be urn:ietf:params:oauth:grant-type:device_code.",
        );
    }
    let mut state = shared.lock().expect("state");
    let state = &mut *state;
    let code = field("device_code").unwrap_or_default();
    let Some(grant) = state.grants.get_mut(code) else {
        return oauth_error(
            json,
            "incorrect_device_code",
            "The device_code provided is not valid.",
        );
    };
    let last_poll = grant.last_poll.replace(Instant::now());
    if grant.expired || grant.issued.elapsed() >= Duration::from_secs(DEVICE_CODE_LIFETIME) {
        return oauth_error(json, "expired_token", "The device_code has expired.");
    }
    if state.access_denied {
        return oauth_error(
            json,
            "access_denied",
            "The authorization request was denied.",
        );
    }
    if state.check_poll_speed
        && last_poll.is_some_and(|at| at.elapsed() < Duration::from_secs(grant.interval))
    {
        // "The slow_down error response adds 5 seconds to the last interval."
        grant.interval += 5;
        state.slow_downs += 1;
        let mut reply = json!({ "error": "slow_down", "error_description": "Too many requests have been made in the same timeframe.", "error_uri": DEVICE_DOCS });
        reply["interval"] = json!(grant.interval);
        return oauth_reply(json, reply);
    }
    if state.pending_polls > 0 {
        state.pending_polls -= 1;
        return oauth_error(
            json,
            "authorization_pending",
            "The authorization request is still pending.",
        );
    }
    let scope = grant.scope.split_whitespace().collect::<Vec<_>>().join(",");
    state.grants.remove(code);
    let token = format!("gho_{:036}", state.new_id());
    state.tokens.push(token.clone());
    oauth_reply(
        json,
        json!({ "access_token": token, "token_type": "bearer", "scope": scope }),
    )
}

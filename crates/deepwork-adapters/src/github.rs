//! GitHub, read-only: the user's notifications (REST `GET /notifications`), asked with
//! `If-Modified-Since` and no more often than GitHub's `X-Poll-Interval`. Review
//! requests, mentions, assignments and failed CI runs are blockers; the rest updates.
//! Each item links to its pull request, issue or comment. Nothing is marked read.

use crate::device_flow::{DeviceCode, DeviceFlow, PendingDevice};
use crate::http::{Lenient, Refusal, segment};
use crate::pace::Pace;
use crate::{
    AdapterError, Addressed, Answered, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
    ReplyTarget, WorkDone, WorkReport,
};
use async_trait::async_trait;
use deepwork_core::Class;
use deepwork_core::standup::SourceWork;
use jiff::Timestamp;
use reqwest::header::{HeaderMap, IF_MODIFIED_SINCE, LAST_MODIFIED};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const NAME: &str = "github";
/// GitHub's documented default when it sends no `X-Poll-Interval`.
const DEFAULT_POLL: Duration = Duration::from_secs(60);
/// "Wait at least one minute" when a secondary rate limit names no time.
const SECONDARY_WAIT: Duration = Duration::from_secs(60);
/// Threads whose comment is read for its text, per read; the rest keep their titles.
const COMMENTS_PER_READ: usize = 10;
/// Classic OAuth scopes: notifications, and comments of private repositories (GitHub has
/// no read-only scope for those; the notifications API takes no fine-grained tokens).
const SCOPES: &str = "notifications repo";

/// The user's GitHub notifications.
#[derive(Debug)]
pub struct GitHubSource {
    http: reqwest::Client,
    api: Url,
    web: Url,
    token: String,
    pace: Pace,
    /// The user's login, once asked.
    login: std::sync::Mutex<Option<String>>,
}

/// Where a read stands: the `since` for the next ask, and GitHub's `Last-Modified` to
/// ask "changed since?" with.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    since: Option<Timestamp>,
    last_modified: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Thread {
    id: String,
    reason: String,
    updated_at: Timestamp,
    subject: Subject,
    repository: Repository,
}

#[derive(Debug, Deserialize)]
struct Subject {
    title: String,
    url: Option<String>,
    latest_comment_url: Option<String>,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
    html_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    body: Option<String>,
    html_url: Option<String>,
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

#[derive(Debug, Deserialize)]
struct Written {
    user: Option<User>,
    created_at: Option<Timestamp>,
    submitted_at: Option<Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Refused {
    message: String,
}

impl GitHubSource {
    /// A source for the API at `api` (`https://api.github.com` or a GitHub Enterprise
    /// Server's `https://HOST/api/v3`) with a token.
    pub fn new(api: &str, token: String) -> Result<Self, AdapterError> {
        let api = base_url(api)?;
        Ok(GitHubSource {
            http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
            web: web_of(&api),
            api,
            token,
            pace: Pace::default(),
            login: std::sync::Mutex::new(None),
        })
    }

    async fn get(
        &self,
        url: Url,
        if_modified_since: Option<&str>,
    ) -> Result<reqwest::Response, AdapterError> {
        let mut request = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(since) = if_modified_since {
            request = request.header(IF_MODIFIED_SINCE, since);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(NAME, &e.to_string()))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let refused: Refused = response.json().await.unwrap_or_default();
        Err(refusal(
            status,
            &headers,
            &refused.message,
            Timestamp::now(),
        ))
    }

    /// The comment a thread points at, for its text, author and link; `None` when it
    /// cannot be read (deleted, or a kind of subject without comments).
    async fn comment(&self, thread: &Thread) -> Option<Comment> {
        let url = thread.subject.latest_comment_url.as_deref()?;
        if Some(url) == thread.subject.url.as_deref() {
            return None;
        }
        let url = self.api.join(url).ok()?;
        if url.origin() != self.api.origin() {
            return None;
        }
        let response = self.get(url, None).await.ok()?;
        response.json().await.ok()
    }

    async fn message(&self, thread: Thread, with_comment: bool) -> IncomingMessage {
        let comment = if with_comment {
            self.comment(&thread).await
        } else {
            None
        };
        let kind = Kind::of(&thread);
        let link = comment
            .as_ref()
            .and_then(|c| c.html_url.clone())
            .or_else(|| page_of(&self.api, &self.web, thread.subject.url.as_deref()))
            .or_else(|| thread.repository.html_url.clone());
        let sender = comment
            .as_ref()
            .and_then(|c| c.user.as_ref())
            .map(|user| user.login.clone())
            .unwrap_or_else(|| thread.repository.full_name.clone());
        let mut text = format!(
            "{}\n{} on {} {}",
            thread.subject.title,
            kind.label,
            subject_name(&thread.subject.kind),
            thread.repository.full_name
        );
        if let Some(body) = comment.as_ref().and_then(|c| c.body.as_deref()) {
            text.push('\n');
            text.push_str(&crate::plain(body));
        }
        IncomingMessage {
            id: format!("{}@{}", thread.id, thread.updated_at),
            sender: sender.clone(),
            sender_name: None,
            channel: Some(thread.repository.full_name.clone()),
            addressed: kind.addressed,
            text,
            automated: kind.automated,
            url: link,
            reply_to: ReplyTarget {
                conversation: thread.subject.url.clone().unwrap_or_default(),
                sender,
            },
            usual_class: Some(kind.class),
        }
    }
}

/// What a notification's reason makes of it.
struct Kind {
    label: &'static str,
    class: Class,
    addressed: Addressed,
    automated: bool,
}

impl Kind {
    fn of(thread: &Thread) -> Kind {
        let kind = |label, class, addressed, automated| Kind {
            label,
            class,
            addressed,
            automated,
        };
        match thread.reason.as_str() {
            "review_requested" => {
                kind("Review requested", Class::Blocker, Addressed::Direct, false)
            }
            "mention" => kind("Mentioned", Class::Blocker, Addressed::Mention, false),
            "team_mention" => kind(
                "Your team was mentioned",
                Class::Blocker,
                Addressed::Mention,
                false,
            ),
            "assign" => kind("Assigned to you", Class::Blocker, Addressed::Direct, false),
            "approval_requested" => kind(
                "Deployment approval requested",
                Class::Blocker,
                Addressed::Direct,
                false,
            ),
            // GitHub Actions runs the user started; a failed one stops their work.
            "ci_activity" if thread.subject.title.to_lowercase().contains("fail") => {
                kind("CI failed", Class::Blocker, Addressed::Direct, true)
            }
            "ci_activity" => kind("CI finished", Class::Update, Addressed::Direct, true),
            "security_alert" => kind("Security alert", Class::Blocker, Addressed::Direct, true),
            "author" => kind("Activity", Class::Update, Addressed::Direct, false),
            "comment" => kind("New comment", Class::Update, Addressed::Mention, false),
            "state_change" => kind("State changed", Class::Update, Addressed::Mention, false),
            "invitation" => kind("Invitation", Class::Update, Addressed::Direct, false),
            _ => kind("Activity", Class::Update, Addressed::Mention, false),
        }
    }
}

fn subject_name(kind: &str) -> &str {
    match kind {
        "PullRequest" => "pull request in",
        "Issue" => "issue in",
        "CheckSuite" => "workflow run in",
        "Release" => "release in",
        "Discussion" => "discussion in",
        "Commit" => "commit in",
        _ => "",
    }
}

#[async_trait]
impl MessageSource for GitHubSource {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return self.start().await;
        };
        let mut at: Cursor = serde_json::from_str(cursor)
            .map_err(|_| AdapterError::malformed(NAME, &format!("bad cursor {cursor:?}")))?;
        if !self.pace.turn(wait).await {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: cursor.to_owned(),
            });
        }
        let mut url = self.endpoint("notifications")?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("per_page", "50");
            if let Some(since) = at.since {
                query.append_pair("since", &since.to_string());
            }
        }
        let response = self.get(url, at.last_modified.as_deref()).await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                if let AdapterError::RateLimited { retry_after, .. } = &error {
                    self.pace.after(*retry_after);
                }
                return Err(error);
            }
        };
        self.pace.after(poll_interval(response.headers()));
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: cursor.to_owned(),
            });
        }
        let last_modified = header(response.headers(), LAST_MODIFIED);
        let threads: Vec<Lenient<Thread>> = response
            .json()
            .await
            .map_err(|e| AdapterError::malformed(NAME, &format!("notifications: {e}")))?;
        let mut threads: Vec<Thread> = threads.into_iter().filter_map(Lenient::into_read).collect();
        threads.sort_by_key(|thread| thread.updated_at);
        if let Some(newest) = threads.last() {
            // A thread updated again in the same second is still seen: the store knows
            // the ones already held by their id.
            at.since = Some(newest.updated_at);
        }
        at.last_modified = last_modified.or(at.last_modified);
        let mut messages = Vec::with_capacity(threads.len());
        for (index, thread) in threads.into_iter().enumerate() {
            messages.push(self.message(thread, index < COMMENTS_PER_READ).await);
        }
        Ok(Batch {
            messages,
            cursor: serde_json::to_string(&at).unwrap_or_default(),
        })
    }
}

impl GitHubSource {
    /// "Now" by GitHub's clock (its `Date`), so that nothing from before the session is
    /// held and no clock skew loses what came after.
    async fn start(&self) -> Result<Batch, AdapterError> {
        let mut url = self.endpoint("notifications")?;
        url.query_pairs_mut().append_pair("per_page", "1");
        let response = self.get(url, None).await?;
        let now = header(response.headers(), reqwest::header::DATE)
            .and_then(|date| jiff::fmt::rfc2822::parse(&date).ok())
            .map_or_else(Timestamp::now, |date| date.timestamp());
        let cursor = Cursor {
            since: Some(now),
            last_modified: None,
        };
        Ok(Batch {
            messages: Vec::new(),
            cursor: serde_json::to_string(&cursor).unwrap_or_default(),
        })
    }

    fn endpoint(&self, path: &str) -> Result<Url, AdapterError> {
        self.api
            .join(path)
            .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))
    }
}

#[async_trait]
impl FollowUp for GitHubSource {
    /// A comment by the user on the pull request or issue after the item came, or a
    /// review they submitted: two requests per pull request, one per issue.
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.login().await?;
        let mut answered = Vec::new();
        for item in asked {
            let Some((repo, kind, number)) = subject_parts(&self.api, &item.conversation) else {
                continue;
            };
            let mut comments = self.endpoint(&format!("{repo}/issues/{number}/comments"))?;
            comments
                .query_pairs_mut()
                .append_pair("since", &item.since.to_string())
                .append_pair("per_page", "100");
            let mut written: Vec<Written> = self.list(comments).await?;
            if kind == "pulls" {
                let reviews = self.endpoint(&format!("{repo}/pulls/{number}/reviews"))?;
                written.extend(self.list(reviews).await?);
            }
            let first = written
                .iter()
                .filter(|w| {
                    w.user
                        .as_ref()
                        .is_some_and(|u| u.login.eq_ignore_ascii_case(&me))
                })
                .filter_map(|w| w.submitted_at.or(w.created_at))
                .filter(|at| *at > item.since)
                .min();
            if let Some(at) = first {
                answered.push(Answered {
                    message_id: item.message_id.clone(),
                    at,
                });
            }
        }
        Ok(answered)
    }

    async fn mark_read(&self, message_id: &str) -> Result<(), AdapterError> {
        self.mark_thread_read(message_id).await
    }
}

impl GitHubSource {
    /// `PATCH /notifications/threads/{id}`: the thread of a held notification, read.
    async fn mark_thread_read(&self, message_id: &str) -> Result<(), AdapterError> {
        let Some(thread) = message_id.split('@').next().filter(|id| !id.is_empty()) else {
            return Ok(());
        };
        let url = self.endpoint(&format!("notifications/threads/{}", segment(thread)))?;
        let response = self
            .http
            .patch(url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(NAME, &e.to_string()))?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(());
        }
        let headers = response.headers().clone();
        let refused: Refused = response.json().await.unwrap_or_default();
        Err(refusal(
            status,
            &headers,
            &refused.message,
            Timestamp::now(),
        ))
    }

    async fn login(&self) -> Result<String, AdapterError> {
        if let Some(login) = self.login.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(login);
        }
        let user: User = self
            .get(self.endpoint("user")?, None)
            .await?
            .json()
            .await
            .map_err(|e| AdapterError::malformed(NAME, &format!("user: {e}")))?;
        *self.login.lock().unwrap_or_else(|p| p.into_inner()) = Some(user.login.clone());
        Ok(user.login)
    }

    async fn list(&self, url: Url) -> Result<Vec<Written>, AdapterError> {
        let entries: Vec<Lenient<Written>> = self
            .get(url, None)
            .await?
            .json()
            .await
            .map_err(|e| AdapterError::malformed(NAME, &format!("comments: {e}")))?;
        Ok(entries.into_iter().filter_map(Lenient::into_read).collect())
    }
}

/// A search's answer (`GET /search/issues`).
#[derive(Debug, Deserialize)]
struct Found {
    items: Vec<Lenient<FoundItem>>,
}

#[derive(Debug, Deserialize)]
struct FoundItem {
    html_url: String,
    number: u64,
    title: String,
    repository_url: String,
    closed_at: Option<Timestamp>,
    pull_request: Option<FoundPull>,
}

#[derive(Debug, Deserialize)]
struct FoundPull {
    merged_at: Option<Timestamp>,
}

/// Searches for shipped work ask for this many, the most a page holds.
const SHIPPED_PER_SEARCH: &str = "100";

#[async_trait]
impl WorkReport for GitHubSource {
    /// Pull requests of the user's merged, and issues assigned to them closed as
    /// completed, since `since` (two searches; GitHub has no "blocked" to report).
    async fn work(&self, since: Timestamp) -> Result<WorkDone, AdapterError> {
        let login = self.login().await?;
        let day = since.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut shipped = Vec::new();
        for query in [
            format!("is:pr author:{login} is:merged merged:>={day}"),
            format!("is:issue assignee:{login} is:closed reason:completed closed:>={day}"),
        ] {
            let mut url = self.endpoint("search/issues")?;
            url.query_pairs_mut()
                .append_pair("q", &query)
                .append_pair("per_page", SHIPPED_PER_SEARCH);
            let found: Found = self
                .get(url, None)
                .await?
                .json()
                .await
                .map_err(|e| AdapterError::malformed(NAME, &format!("search: {e}")))?;
            for item in found.items.into_iter().filter_map(Lenient::into_read) {
                let at = item
                    .pull_request
                    .as_ref()
                    .map_or(item.closed_at, |pull| pull.merged_at);
                let Some(at) = at.filter(|at| *at >= since) else {
                    continue;
                };
                let repo = item
                    .repository_url
                    .rsplitn(3, '/')
                    .take(2)
                    .collect::<Vec<_>>();
                let repo = match repo.as_slice() {
                    [name, owner] => format!("{owner}/{name}"),
                    _ => item.repository_url.clone(),
                };
                shipped.push(SourceWork {
                    source: NAME.into(),
                    key: item.html_url,
                    title: deepwork_core::text::one_line(&format!(
                        "{} ({repo}#{})",
                        item.title, item.number
                    )),
                    at,
                });
            }
        }
        shipped.sort_by_key(|work| work.at);
        Ok(WorkDone {
            shipped,
            blocked: Vec::new(),
        })
    }
}

/// The repository's API path (`repos/OWNER/NAME`), kind (`pulls` or `issues`) and number
/// of a subject's API address.
fn subject_parts<'a>(api: &Url, subject: &'a str) -> Option<(String, &'a str, &'a str)> {
    let rest = subject.strip_prefix(api.as_str())?.strip_prefix("repos/")?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [owner, repo, kind @ ("pulls" | "issues"), number]
            if number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((
                format!("repos/{}/{}", segment(owner), segment(repo)),
                kind,
                number,
            ))
        }
        _ => None,
    }
}

/// Signing in with GitHub's device flow, for an OAuth app with it turned on.
pub async fn start_sign_in(
    api: &str,
    client_id: &str,
) -> Result<(DeviceCode, PendingDevice), AdapterError> {
    let web = web_of(&base_url(api)?);
    let join = |path: &str| {
        web.join(path)
            .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))
    };
    DeviceFlow {
        adapter: NAME,
        device_url: join("login/device/code")?,
        token_url: join("login/oauth/access_token")?,
        client_id: client_id.to_owned(),
        scope: SCOPES.into(),
        again: "deepwork adapters connect github".into(),
    }
    .start()
    .await
}

fn base_url(api: &str) -> Result<Url, AdapterError> {
    let with_slash = if api.ends_with('/') {
        api.to_owned()
    } else {
        format!("{api}/")
    };
    Url::parse(&with_slash).map_err(|e| AdapterError::Unauthorized {
        adapter: NAME.into(),
        fix: format!("[adapters.github] api {api:?} is not an address: {e}"),
    })
}

/// The web side of an API address: github.com for api.github.com, `https://HOST/` for
/// GitHub Enterprise Server's `https://HOST/api/v3/`, else the same host.
fn web_of(api: &Url) -> Url {
    let mut web = api.clone();
    if let Some(host) = api.host_str().and_then(|h| h.strip_prefix("api."))
        && api.path() == "/"
    {
        let _ = web.set_host(Some(host));
    }
    if let Some(root) = api.path().strip_suffix("api/v3/") {
        web.set_path(root);
    }
    web
}

/// The page of a subject's API address: `…/repos/o/r/pulls/12` → `https://github.com/o/r/pull/12`.
fn page_of(api: &Url, web: &Url, subject: Option<&str>) -> Option<String> {
    let subject = subject?;
    let rest = subject.strip_prefix(api.as_str())?.strip_prefix("repos/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let path = match parts.as_slice() {
        [owner, repo, "pulls", number] => format!("{owner}/{repo}/pull/{number}"),
        [owner, repo, "issues", number] => format!("{owner}/{repo}/issues/{number}"),
        [owner, repo, "commits", sha] => format!("{owner}/{repo}/commit/{sha}"),
        [owner, repo, "releases", _] => format!("{owner}/{repo}/releases"),
        _ => return None,
    };
    web.join(&path).ok().map(String::from)
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn poll_interval(headers: &HeaderMap) -> Duration {
    header(
        headers,
        reqwest::header::HeaderName::from_static("x-poll-interval"),
    )
    .and_then(|value| value.trim().parse::<u64>().ok())
    .map_or(DEFAULT_POLL, |seconds| Duration::from_secs(seconds.max(1)))
}

/// A refused request as GitHub's REST docs describe it: the primary rate limit (403 or
/// 429 with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`), a secondary one (403
/// or 429 with `Retry-After`, or saying so), or refused credentials.
fn refusal(status: StatusCode, headers: &HeaderMap, message: &str, now: Timestamp) -> AdapterError {
    let limited = matches!(
        status,
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    );
    let exhausted = header(
        headers,
        reqwest::header::HeaderName::from_static("x-ratelimit-remaining"),
    )
    .is_some_and(|remaining| remaining.trim() == "0");
    let reset = header(
        headers,
        reqwest::header::HeaderName::from_static("x-ratelimit-reset"),
    )
    .and_then(|reset| reset.trim().parse::<i64>().ok())
    .and_then(|seconds| Timestamp::from_second(seconds).ok())
    .map(|at| {
        at.duration_since(now)
            .max(jiff::SignedDuration::ZERO)
            .unsigned_abs()
    });
    let retry_after = crate::http::retry_after(headers, now);
    let secondary = message.to_lowercase().contains("secondary rate limit");
    let wait = if limited && retry_after.is_some() {
        retry_after
    } else if limited && exhausted {
        Some(reset.unwrap_or(SECONDARY_WAIT))
    } else if limited && secondary {
        Some(SECONDARY_WAIT)
    } else {
        None
    };
    if let Some(wait) = wait {
        return AdapterError::RateLimited {
            adapter: NAME.into(),
            retry_after: wait.max(Duration::from_secs(1)),
        };
    }
    Refusal {
        adapter: NAME,
        status,
        retry_after,
        default_wait: SECONDARY_WAIT,
        detail: message.to_owned(),
    }
    .into_error(|status| {
        if status == StatusCode::UNAUTHORIZED {
            "GitHub refused the token (revoked or expired); run `deepwork adapters token github` or `deepwork adapters connect github`".into()
        } else {
            format!(
                "GitHub refused access ({}); the token needs the `notifications` and `repo` scopes, and SSO authorization for your organization",
                message.lines().next().unwrap_or("forbidden")
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn web_pages_follow_the_api_address() {
        let api = base_url("https://api.github.com").unwrap();
        let web = web_of(&api);
        assert_eq!(web.as_str(), "https://github.com/");
        assert_eq!(
            page_of(
                &api,
                &web,
                Some("https://api.github.com/repos/acme/shop/pulls/12")
            )
            .as_deref(),
            Some("https://github.com/acme/shop/pull/12")
        );
        let ghes = base_url("https://git.acme.com/api/v3").unwrap();
        assert_eq!(web_of(&ghes).as_str(), "https://git.acme.com/");
        assert_eq!(
            page_of(
                &ghes,
                &web_of(&ghes),
                Some("https://git.acme.com/api/v3/repos/acme/shop/issues/3")
            )
            .as_deref(),
            Some("https://git.acme.com/acme/shop/issues/3")
        );
        assert_eq!(
            page_of(&api, &web, Some("https://evil.example/repos/a/b/pulls/1")),
            None
        );
    }

    #[test]
    fn rate_limits_are_told_from_refused_tokens() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let secondary = refusal(
            StatusCode::FORBIDDEN,
            &headers(&[("retry-after", "30")]),
            "You have exceeded a secondary rate limit.",
            now,
        );
        assert!(
            matches!(secondary, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30))
        );
        let primary = refusal(
            StatusCode::FORBIDDEN,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1800000600"),
            ]),
            "API rate limit exceeded for user ID 1.",
            now,
        );
        assert!(
            matches!(primary, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(600))
        );
        let unnamed = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            "You have exceeded a secondary rate limit",
            now,
        );
        assert!(
            matches!(unnamed, AdapterError::RateLimited { retry_after, .. } if retry_after == SECONDARY_WAIT)
        );
        let scope = refusal(
            StatusCode::FORBIDDEN,
            &headers(&[("x-ratelimit-remaining", "4999")]),
            "Resource not accessible by personal access token",
            now,
        );
        assert!(
            matches!(scope, AdapterError::Unauthorized { ref fix, .. } if fix.contains("scopes"))
        );
        assert!(matches!(
            refusal(
                StatusCode::UNAUTHORIZED,
                &HeaderMap::new(),
                "Bad credentials",
                now
            ),
            AdapterError::Unauthorized { .. }
        ));
    }

    #[test]
    fn poll_intervals_come_from_github() {
        assert_eq!(
            poll_interval(&headers(&[("x-poll-interval", "120")])),
            Duration::from_secs(120)
        );
        assert_eq!(poll_interval(&HeaderMap::new()), DEFAULT_POLL);
    }
}

//! Jira Cloud: comments by others on the issues the user is assigned, reported or
//! watches, and issues newly assigned to them, through the enhanced JQL search
//! (`GET /rest/api/3/search/jql`) on "updated since the last read". Blockers by default,
//! as the response matrix has task threads.

use super::{Site, adf_text};
use crate::http::{Lenient, segment};
use crate::{
    AdapterError, Addressed, Answered, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
    ReplyTarget, WorkDone, WorkReport,
};
use async_trait::async_trait;
use deepwork_core::Class;
use deepwork_core::standup::SourceWork;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const NAME: &str = "jira";
/// Pages of search results read per poll; more waits for the next.
const MOST_PAGES: usize = 4;

/// Jira issues that concern the user.
#[derive(Debug)]
pub struct JiraSource {
    site: Site,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    issues: Vec<Lenient<Issue>>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(rename = "isLast", default)]
    is_last: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Issue {
    key: String,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    changelog: Changelog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    summary: String,
    project: Option<Project>,
    assignee: Option<Account>,
    comment: Option<Comments>,
    status: Option<Status>,
    updated: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct Status {
    name: String,
    #[serde(rename = "statusCategory")]
    category: Option<StatusCategory>,
}

#[derive(Debug, Deserialize)]
struct StatusCategory {
    key: String,
}

#[derive(Debug, Deserialize)]
struct Project {
    key: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Account {
    #[serde(rename = "accountId")]
    account_id: String,
    #[serde(rename = "displayName", default)]
    display_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Comments {
    comments: Vec<Lenient<Comment>>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    author: Option<Account>,
    #[serde(default)]
    body: Value,
    created: Timestamp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Changelog {
    histories: Vec<Lenient<History>>,
}

#[derive(Debug, Deserialize)]
struct History {
    id: String,
    author: Option<Account>,
    created: Timestamp,
    #[serde(default)]
    items: Vec<ChangeItem>,
}

#[derive(Debug, Deserialize)]
struct ChangeItem {
    #[serde(default)]
    field: String,
    to: Option<String>,
}

impl JiraSource {
    /// Asks every `poll` instead of the usual pace.
    pub fn every(mut self, poll: Duration) -> Self {
        self.site.poll = poll;
        self
    }

    /// A source for the site (`https://acme.atlassian.net`), as `email` with an API token.
    pub fn new(site: &str, email: &str, token: String) -> Result<Self, AdapterError> {
        Ok(JiraSource {
            site: Site::new(NAME, "rest/api/3/myself", site, email, token)?,
        })
    }

    async fn search(&self, since: Timestamp) -> Result<Vec<Issue>, AdapterError> {
        // Relative minutes: Jira reads an absolute time in the user's own time zone.
        let jql = format!(
            "(assignee = currentUser() OR reporter = currentUser() OR watcher = currentUser()) AND updated >= -{}m ORDER BY updated ASC",
            self.site.minutes_since(since)
        );
        self.issues(&jql, "summary,project,assignee,comment").await
    }

    /// Every page of a JQL search's issues (up to [`MOST_PAGES`]), with `fields`.
    async fn issues(&self, jql: &str, fields: &str) -> Result<Vec<Issue>, AdapterError> {
        let mut issues = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MOST_PAGES {
            let mut query = vec![
                ("jql", jql),
                ("fields", fields),
                ("expand", "changelog"),
                ("maxResults", "50"),
            ];
            if let Some(token) = &token {
                query.push(("nextPageToken", token));
            }
            let page: SearchPage = self.site.get("rest/api/3/search/jql", &query).await?;
            issues.extend(page.issues.into_iter().filter_map(Lenient::into_read));
            match page.next_page_token {
                Some(next) if page.is_last != Some(true) => token = Some(next),
                _ => break,
            }
        }
        Ok(issues)
    }

    fn messages(
        &self,
        issue: Issue,
        since: Timestamp,
        me: &str,
    ) -> Vec<(Timestamp, IncomingMessage)> {
        let title = format!("{}: {}", issue.key, issue.fields.summary);
        let channel = issue.fields.project.as_ref().map_or_else(
            || issue.key.split('-').next().unwrap_or("Jira").to_owned(),
            |p| p.key.clone(),
        );
        let assigned_to_me = issue
            .fields
            .assignee
            .as_ref()
            .is_some_and(|a| a.account_id == me);
        let browse = self.site.page(&format!("browse/{}", issue.key));
        let message =
            |id: String, author: &Account, body: String, addressed, url: Option<String>| {
                IncomingMessage {
                    id,
                    sender: author.account_id.clone(),
                    sender_name: Some(author.display_name.clone()),
                    channel: Some(channel.clone()),
                    addressed,
                    text: format!("{title}\n{body}"),
                    automated: false,
                    url,
                    reply_to: ReplyTarget {
                        conversation: issue.key.clone(),
                        sender: author.account_id.clone(),
                    },
                    usual_class: Some(Class::Blocker),
                }
            };
        let mut found = Vec::new();
        let comments = issue.fields.comment.iter().flat_map(|c| &c.comments);
        for comment in comments.filter_map(Lenient::as_read) {
            let Some(author) = comment.author.as_ref().filter(|a| a.account_id != me) else {
                continue;
            };
            if comment.created <= since {
                continue;
            }
            let (text, mentions) = adf_text(&comment.body);
            let addressed = if mentions.iter().any(|m| m == me) || !assigned_to_me {
                Addressed::Mention
            } else {
                Addressed::Direct
            };
            let url = browse
                .as_ref()
                .map(|page| format!("{page}?focusedCommentId={}", comment.id));
            found.push((
                comment.created,
                message(
                    format!("{}#comment-{}", issue.key, comment.id),
                    author,
                    crate::plain(&text),
                    addressed,
                    url,
                ),
            ));
        }
        for history in issue
            .changelog
            .histories
            .iter()
            .filter_map(Lenient::as_read)
        {
            let Some(author) = history.author.as_ref().filter(|a| a.account_id != me) else {
                continue;
            };
            let assigns_me = history
                .items
                .iter()
                .any(|item| item.field == "assignee" && item.to.as_deref() == Some(me));
            if history.created > since && assigns_me {
                found.push((
                    history.created,
                    message(
                        format!("{}#assigned-{}", issue.key, history.id),
                        author,
                        format!("Assigned to you by {}", author.display_name),
                        Addressed::Direct,
                        browse.clone(),
                    ),
                ));
            }
        }
        found
    }
}

#[async_trait]
impl MessageSource for JiraSource {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        self.site
            .read(cursor, wait, |since, me| async move {
                let issues = self.search(since).await?;
                Ok(issues
                    .into_iter()
                    .flat_map(|issue| self.messages(issue, since, &me))
                    .collect())
            })
            .await
    }
}

#[derive(Debug, Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<Lenient<Comment>>,
}

impl Issue {
    /// "PAY-7 Migrate the ledger", one safe line.
    fn line(&self) -> String {
        deepwork_core::text::one_line(&format!("{} {}", self.key, self.fields.summary))
    }

    /// When it last changed status, from its changelog.
    fn status_changed_at(&self) -> Option<Timestamp> {
        self.changelog
            .histories
            .iter()
            .filter_map(Lenient::as_read)
            .filter(|history| history.items.iter().any(|item| item.field == "status"))
            .map(|history| history.created)
            .max()
    }
}

impl Status {
    fn is_done(&self) -> bool {
        self.category.as_ref().is_some_and(|c| c.key == "done")
    }

    /// A status whose name says it is blocked ("Blocked", "Blocked by vendor"): Jira
    /// has no blocked category, so workflows name it.
    fn is_blocked(&self) -> bool {
        !self.is_done() && self.name.to_lowercase().contains("block")
    }
}

#[async_trait]
impl WorkReport for JiraSource {
    /// The user's issues moved to a done status since `since`, and their open issues in
    /// a blocked status.
    async fn work(&self, since: Timestamp) -> Result<WorkDone, AdapterError> {
        let done = format!(
            "assignee = currentUser() AND statusCategory = Done AND updated >= -{}m ORDER BY updated ASC",
            self.site.minutes_since(since)
        );
        let shipped = self
            .issues(&done, "summary,status")
            .await?
            .into_iter()
            .filter(|issue| issue.fields.status.as_ref().is_some_and(Status::is_done))
            .filter_map(|issue| {
                let at = issue.status_changed_at().filter(|at| *at >= since)?;
                Some(SourceWork {
                    source: NAME.into(),
                    title: issue.line(),
                    key: issue.key,
                    at,
                })
            })
            .collect();
        let open = "assignee = currentUser() AND statusCategory != Done ORDER BY updated DESC";
        let blocked = self
            .issues(open, "summary,status,updated")
            .await?
            .into_iter()
            .filter(|issue| issue.fields.status.as_ref().is_some_and(Status::is_blocked))
            .map(|issue| SourceWork {
                source: NAME.into(),
                title: issue.line(),
                at: issue.fields.updated.unwrap_or(since),
                key: issue.key,
            })
            .collect();
        Ok(WorkDone { shipped, blocked })
    }
}

#[async_trait]
impl FollowUp for JiraSource {
    /// A comment by the user on the issue after the item came: one request per issue,
    /// for its newest comments.
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.site.me().await?;
        let mut answered = Vec::new();
        let mut keys: Vec<&str> = asked.iter().map(|a| a.conversation.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let page: CommentPage = self
                .site
                .get(
                    &format!("rest/api/3/issue/{}/comment", segment(key)),
                    &[("orderBy", "-created"), ("maxResults", "50")],
                )
                .await?;
            let mine: Vec<Timestamp> = page
                .comments
                .iter()
                .filter_map(Lenient::as_read)
                .filter(|c| c.author.as_ref().is_some_and(|a| a.account_id == me))
                .map(|c| c.created)
                .collect();
            for item in asked.iter().filter(|a| a.conversation == key) {
                if let Some(at) = mine.iter().filter(|at| **at > item.since).min() {
                    answered.push(Answered {
                        message_id: item.message_id.clone(),
                        at: *at,
                    });
                }
            }
        }
        Ok(answered)
    }
}

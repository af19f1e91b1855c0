//! Notion, read-only: comments by others on the pages the user watches, through an
//! internal integration's public API (`GET /v1/comments`). The pages are the ones the
//! config names, or else the most recently edited pages shared with the integration
//! (Notion has no API for what a person follows, and a comment does not change a
//! page's `last_edited_time`, so each watched page is asked). Blockers by default, as
//! the response matrix has task threads.

use crate::http::{Lenient, Refusal, segment};
use crate::pace::Pace;
use crate::{
    AdapterError, Addressed, Answered, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
    ReplyTarget,
};
use async_trait::async_trait;
use deepwork_core::Class;
use jiff::Timestamp;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const NAME: &str = "notion";
/// The API version these shapes are written from.
const NOTION_VERSION: &str = "2022-06-28";
/// One round of the watched pages every two minutes: with 20 pages, 10 requests a
/// minute, well inside Notion's three a second.
const POLL: Duration = Duration::from_secs(120);
/// How many recently edited pages are watched when the config names none.
const WATCHED_PAGES: usize = 20;
/// How often that list is read again.
const PAGES_REFRESH: Duration = Duration::from_secs(30 * 60);
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Pages of comments read per page per poll; a longer discussion waits for the next.
const MOST_COMMENT_PAGES: usize = 5;
/// Notion rounds its times down to the minute, so a comment stamped up to a minute
/// before the last read may be new; the store knows the ones already held.
const ROUNDING: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Comments in a Notion workspace.
#[derive(Debug)]
pub struct NotionSource {
    http: reqwest::Client,
    api: Url,
    token: String,
    user_id: Option<String>,
    configured_pages: Vec<String>,
    pace: Pace,
    poll: Duration,
    watched: Mutex<Option<(Instant, Vec<Page>)>>,
    names: Mutex<HashMap<String, String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    since: Timestamp,
}

#[derive(Clone, Debug)]
struct Page {
    id: String,
    title: String,
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    results: Vec<Lenient<T>>,
    #[serde(default)]
    has_more: bool,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PageObject {
    id: String,
    url: Option<String>,
    #[serde(default)]
    properties: HashMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    discussion_id: Option<String>,
    created_time: Timestamp,
    created_by: UserRef,
    #[serde(default)]
    rich_text: Vec<RichText>,
}

#[derive(Debug, Deserialize)]
struct UserRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct RichText {
    #[serde(default)]
    plain_text: String,
    mention: Option<Mention>,
}

#[derive(Debug, Deserialize)]
struct Mention {
    user: Option<UserRef>,
}

#[derive(Debug, Deserialize)]
struct User {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Refused {
    code: String,
    message: String,
}

impl NotionSource {
    /// Asks every `poll` instead of the usual pace.
    pub fn every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// A source for the API at `api` with an integration's secret. `user_id` is the
    /// user's own Notion id; `pages` are page ids or links to watch.
    pub fn new(
        api: &str,
        token: String,
        user_id: Option<String>,
        pages: &[String],
    ) -> Result<Self, AdapterError> {
        let api = Url::parse(&format!("{}/", api.trim_end_matches('/'))).map_err(|e| {
            AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("[adapters.notion] api {api:?} is not an address: {e}"),
            }
        })?;
        let configured_pages = pages
            .iter()
            .map(|page| {
                page_id(page).ok_or_else(|| AdapterError::Unauthorized {
                    adapter: NAME.into(),
                    fix: format!(
                        "[adapters.notion] pages: {page:?} is neither a page id nor a link to a page"
                    ),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(NotionSource {
            http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
            api,
            token,
            user_id: user_id.map(|id| page_id(&id).unwrap_or(id)),
            configured_pages,
            pace: Pace::default(),
            poll: POLL,
            watched: Mutex::new(None),
            names: Mutex::new(HashMap::new()),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, AdapterError> {
        let url = self
            .api
            .join(path)
            .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("Notion-Version", NOTION_VERSION)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(NAME, &e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| {
                AdapterError::malformed(NAME, &format!("{path}: unexpected answer ({e})"))
            });
        }
        let retry_after = crate::http::retry_after(response.headers(), Timestamp::now());
        let refused: Refused = response.json().await.unwrap_or_default();
        Err(Refusal {
            adapter: NAME,
            status,
            retry_after,
            default_wait: RATE_LIMIT_WAIT,
            detail: format!("{} {}", refused.code, refused.message),
        }
        .into_error(|status| {
            if status == StatusCode::UNAUTHORIZED {
                "Notion refused the integration's secret; copy it from notion.so/my-integrations and run `deepwork adapters token notion`".into()
            } else {
                format!(
                    "the integration may not read this ({}): give it the \"Read comments\" capability and share the pages with it",
                    refused.code
                )
            }
        }))
    }

    /// The pages to watch: the configured ones, or the most recently edited shared ones.
    async fn pages(&self) -> Result<Vec<Page>, AdapterError> {
        if let Some((read_at, pages)) = &*self.watched.lock().unwrap_or_else(|p| p.into_inner())
            && read_at.elapsed() < PAGES_REFRESH
        {
            return Ok(pages.clone());
        }
        let pages = if self.configured_pages.is_empty() {
            let found: List<PageObject> = self
                .call(
                    Method::POST,
                    "v1/search",
                    &[],
                    Some(json!({
                        "filter": {"property": "object", "value": "page"},
                        "sort": {"direction": "descending", "timestamp": "last_edited_time"},
                        "page_size": WATCHED_PAGES,
                    })),
                )
                .await?;
            found
                .results
                .into_iter()
                .filter_map(Lenient::into_read)
                .map(Page::from)
                .collect()
        } else {
            let mut pages = Vec::new();
            for id in &self.configured_pages {
                let page: PageObject = self
                    .call(Method::GET, &format!("v1/pages/{}", segment(id)), &[], None)
                    .await?;
                pages.push(Page::from(page));
            }
            pages
        };
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), pages.clone()));
        Ok(pages)
    }

    async fn comments(&self, page: &Page) -> Result<Vec<Comment>, AdapterError> {
        let mut comments = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MOST_COMMENT_PAGES {
            let mut query = vec![("block_id", page.id.as_str()), ("page_size", "100")];
            if let Some(cursor) = &cursor {
                query.push(("start_cursor", cursor));
            }
            let list: List<Comment> = self.call(Method::GET, "v1/comments", &query, None).await?;
            comments.extend(list.results.into_iter().filter_map(Lenient::into_read));
            match list.next_cursor {
                Some(next) if list.has_more => cursor = Some(next),
                _ => break,
            }
        }
        Ok(comments)
    }

    /// A person's name, asked once; integrations without the user capability get none.
    async fn name_of(&self, id: &str) -> Option<String> {
        if let Some(name) = self.names.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Some(name.clone());
        }
        let user: User = self
            .call(Method::GET, &format!("v1/users/{}", segment(id)), &[], None)
            .await
            .ok()?;
        let name = user.name.filter(|n| !n.trim().is_empty()).or(user.kind)?;
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), name.clone());
        Some(name)
    }

    async fn message(&self, page: &Page, comment: Comment) -> IncomingMessage {
        let text: String = comment
            .rich_text
            .iter()
            .map(|t| t.plain_text.as_str())
            .collect();
        let mentions_me = self.user_id.as_ref().is_some_and(|me| {
            comment
                .rich_text
                .iter()
                .filter_map(|t| t.mention.as_ref()?.user.as_ref())
                .any(|user| &user.id == me)
        });
        let author = comment.created_by.id;
        IncomingMessage {
            id: format!("comment/{}", comment.id),
            sender_name: self.name_of(&author).await,
            sender: author.clone(),
            channel: Some(page.title.clone()),
            addressed: if mentions_me {
                Addressed::Mention
            } else {
                Addressed::Direct
            },
            text: format!("Comment on {}\n{}", page.title, crate::plain(&text)),
            automated: false,
            url: page.url.clone(),
            reply_to: ReplyTarget {
                // The page, to list its comments; the discussion, to find a reply in it.
                conversation: format!("{}/{}", page.id, comment.discussion_id.unwrap_or_default()),
                sender: author,
            },
            usual_class: Some(Class::Blocker),
        }
    }
}

impl From<PageObject> for Page {
    fn from(page: PageObject) -> Page {
        // The title is whichever property is of type title.
        let title = page
            .properties
            .values()
            .find(|p| p.get("type").and_then(|t| t.as_str()) == Some("title"))
            .and_then(|p| p.get("title")?.as_array().cloned())
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|part| part.get("plain_text")?.as_str())
                    .collect::<String>()
            })
            .filter(|title| !title.trim().is_empty())
            .unwrap_or_else(|| "Untitled".into());
        Page {
            id: page.id,
            title,
            url: page.url,
        }
    }
}

#[async_trait]
impl MessageSource for NotionSource {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            // Checks the secret before the session counts on it.
            let _: serde_json::Value = self.call(Method::GET, "v1/users/me", &[], None).await?;
            return Ok(Batch {
                messages: Vec::new(),
                cursor: serde_json::to_string(&Cursor {
                    since: Timestamp::now(),
                })
                .unwrap_or_default(),
            });
        };
        let mut at: Cursor = serde_json::from_str(cursor)
            .map_err(|_| AdapterError::malformed(NAME, &format!("bad cursor {cursor:?}")))?;
        self.pace
            .paced(cursor, wait, self.poll, || async {
                let mut found = Vec::new();
                for page in self.pages().await? {
                    for comment in self.comments(&page).await? {
                        let by_me = self.user_id.as_ref() == Some(&comment.created_by.id);
                        let maybe_new = comment
                            .created_time
                            .checked_add(ROUNDING)
                            .is_ok_and(|latest| latest > at.since);
                        if maybe_new && !by_me {
                            found.push((page.clone(), comment));
                        }
                    }
                }
                found.sort_by_key(|(_, comment)| comment.created_time);
                let mut messages = Vec::with_capacity(found.len());
                for (page, comment) in found {
                    at.since = at.since.max(comment.created_time);
                    messages.push(self.message(&page, comment).await);
                }
                Ok(Batch {
                    messages,
                    cursor: serde_json::to_string(&at).unwrap_or_default(),
                })
            })
            .await
    }
}

#[async_trait]
impl FollowUp for NotionSource {
    /// A comment by the user in the same discussion after the item came: one request
    /// per page. Without `user_id` the user's comments cannot be told, and nothing is.
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let Some(me) = &self.user_id else {
            return Ok(Vec::new());
        };
        let mut answered = Vec::new();
        let mut pages: Vec<&str> = asked
            .iter()
            .filter_map(|a| a.conversation.split_once('/').map(|(page, _)| page))
            .collect();
        pages.sort_unstable();
        pages.dedup();
        for page in pages {
            let comments = self
                .comments(&Page {
                    id: page.to_owned(),
                    title: String::new(),
                    url: None,
                })
                .await?;
            for item in asked {
                let Some((item_page, discussion)) = item.conversation.split_once('/') else {
                    continue;
                };
                if item_page != page {
                    continue;
                }
                // Minute-rounded times: an answer stamped in the item's own minute counts.
                let first = comments
                    .iter()
                    .filter(|c| &c.created_by.id == me)
                    .filter(|c| {
                        discussion.is_empty() || c.discussion_id.as_deref() == Some(discussion)
                    })
                    .filter(|c| {
                        c.created_time
                            .checked_add(ROUNDING)
                            .is_ok_and(|latest| latest > item.since)
                    })
                    .map(|c| c.created_time.max(item.since))
                    .min();
                if let Some(at) = first {
                    answered.push(Answered {
                        message_id: item.message_id.clone(),
                        at,
                    });
                }
            }
        }
        Ok(answered)
    }
}

/// A page id, dashed, from an id or a link (`https://www.notion.so/Title-<32 hex>`).
fn page_id(text: &str) -> Option<String> {
    let path = text.split(['?', '#']).next().unwrap_or_default();
    let hex: String = path
        .chars()
        .rev()
        .filter(|c| *c != '-')
        .take_while(char::is_ascii_hexdigit)
        .take(32)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (hex.len() == 32).then(|| {
        let hex = hex.to_ascii_lowercase();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ids_come_from_ids_and_links() {
        let dashed = "59833787-2cf9-4fdf-8782-e53db20768a5";
        assert_eq!(page_id(dashed).as_deref(), Some(dashed));
        assert_eq!(
            page_id("598337872cf94fdf8782e53db20768a5").as_deref(),
            Some(dashed)
        );
        assert_eq!(
            page_id(
                "https://www.notion.so/acme/Billing-RFC-598337872cf94fdf8782e53db20768a5?pvs=4"
            )
            .as_deref(),
            Some(dashed)
        );
        assert_eq!(page_id("https://www.notion.so/acme/Billing-RFC"), None);
        assert_eq!(page_id("abc"), None);
    }
}

//! Confluence Cloud: comments by others on the user's pages or mentioning them, and
//! pages that newly mention them, through CQL content search
//! (`GET /wiki/rest/api/content/search`). Strategic by default, as the response matrix
//! has documents.

use super::{Site, storage_mentions};
use crate::http::{Lenient, segment};
use crate::{
    AdapterError, Addressed, Answered, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
    ReplyTarget,
};
use async_trait::async_trait;
use deepwork_core::Class;
use jiff::Timestamp;
use serde::Deserialize;
use std::time::Duration;

const NAME: &str = "confluence";
/// Pages of search results read per poll; more waits for the next.
const MOST_PAGES: usize = 4;
const PAGE_SIZE: usize = 50;

/// Confluence pages and comments that concern the user.
#[derive(Debug)]
pub struct ConfluenceSource {
    site: Site,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    results: Vec<Lenient<Content>>,
    #[serde(default)]
    size: usize,
    #[serde(rename = "_links", default)]
    links: Links,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Links {
    base: Option<String>,
    webui: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Content {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    title: String,
    history: Option<History>,
    version: Option<Version>,
    body: Option<Body>,
    container: Option<Container>,
    space: Option<Space>,
    #[serde(rename = "_links", default)]
    links: Links,
}

/// A comment's page, or a page's space: only a page has a title and a history.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Container {
    id: Option<String>,
    title: Option<String>,
    history: Option<History>,
}

#[derive(Debug, Deserialize)]
struct History {
    #[serde(rename = "createdBy")]
    created_by: Option<Account>,
    #[serde(rename = "createdDate")]
    created_date: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct Version {
    by: Option<Account>,
    when: Option<Timestamp>,
    #[serde(default)]
    number: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct Account {
    #[serde(rename = "accountId", default)]
    account_id: String,
    #[serde(rename = "displayName", default)]
    display_name: String,
}

#[derive(Debug, Deserialize)]
struct Body {
    storage: Option<Storage>,
}

#[derive(Debug, Deserialize)]
struct Storage {
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct Space {
    key: String,
}

impl ConfluenceSource {
    /// Asks every `poll` instead of the usual pace.
    pub fn every(mut self, poll: Duration) -> Self {
        self.site.poll = poll;
        self
    }

    /// A source for the site (`https://acme.atlassian.net`), as `email` with an API token.
    pub fn new(site: &str, email: &str, token: String) -> Result<Self, AdapterError> {
        Ok(ConfluenceSource {
            site: Site::new(NAME, "wiki/rest/api/user/current", site, email, token)?,
        })
    }

    async fn search(
        &self,
        since: Timestamp,
    ) -> Result<(Vec<Content>, Option<String>), AdapterError> {
        // Relative time: CQL reads an absolute one in the user's own time zone.
        let cql = format!(
            "((type = comment AND creator != currentUser()) OR (type in (page, blogpost) AND mention = currentUser())) AND lastmodified >= now(\"-{}m\") order by lastmodified asc",
            self.site.minutes_since(since)
        );
        let mut found = Vec::new();
        let mut base = None;
        for page in 0..MOST_PAGES {
            let start = (page * PAGE_SIZE).to_string();
            let limit = PAGE_SIZE.to_string();
            let answer: SearchPage = self
                .site
                .get(
                    "wiki/rest/api/content/search",
                    &[
                        ("cql", cql.as_str()),
                        (
                            "expand",
                            "history,version,body.storage,space,container.history",
                        ),
                        ("limit", &limit),
                        ("start", &start),
                    ],
                )
                .await?;
            base = base.or(answer.links.base);
            found.extend(answer.results.into_iter().filter_map(Lenient::into_read));
            if answer.links.next.is_none() || answer.size < PAGE_SIZE {
                break;
            }
        }
        Ok((found, base))
    }

    fn message(
        &self,
        content: Content,
        since: Timestamp,
        me: &str,
        base: Option<&str>,
    ) -> Option<(Timestamp, IncomingMessage)> {
        let storage = content
            .body
            .as_ref()
            .and_then(|b| b.storage.as_ref())
            .map_or("", |s| s.value.as_str());
        let mentions_me = storage_mentions(storage, me);
        let link = content.links.webui.as_deref().and_then(|webui| match base {
            Some(base) => Some(format!("{}{webui}", base.trim_end_matches('/'))),
            None => self.site.page(&format!("wiki{webui}")),
        });
        let channel = content.space.as_ref().map(|s| s.key.clone());
        let (at, author, title, id, addressed) = if content.kind == "comment" {
            let history = content.history.as_ref()?;
            let author = history.created_by.clone()?;
            let at = history.created_date?;
            let page = content.container.as_ref();
            let on_my_page = page
                .and_then(|p| p.history.as_ref())
                .and_then(|h| h.created_by.as_ref())
                .is_some_and(|creator| creator.account_id == me);
            if !(on_my_page || mentions_me) {
                return None;
            }
            let page_title = page
                .and_then(|p| p.title.as_deref())
                .unwrap_or(content.title.as_str());
            (
                at,
                author,
                format!("Comment on {page_title}"),
                format!("comment/{}", content.id),
                if mentions_me {
                    Addressed::Mention
                } else {
                    Addressed::Direct
                },
            )
        } else {
            let version = content.version.as_ref()?;
            let author = version.by.clone()?;
            (
                version.when?,
                author,
                format!("Mentioned in {}", content.title),
                format!("{}/{}@{}", content.kind, content.id, version.number),
                Addressed::Mention,
            )
        };
        if at <= since || author.account_id == me {
            return None;
        }
        let text = crate::html_text(storage);
        Some((
            at,
            IncomingMessage {
                id,
                sender: author.account_id.clone(),
                sender_name: Some(author.display_name.clone()),
                channel,
                addressed,
                text: format!("{title}\n{text}"),
                automated: false,
                url: link,
                reply_to: ReplyTarget {
                    conversation: content
                        .container
                        .as_ref()
                        .filter(|_| content.kind == "comment")
                        .and_then(|page| page.id.clone())
                        .unwrap_or_else(|| content.id.clone()),
                    sender: author.account_id,
                },
                usual_class: Some(Class::Strategic),
            },
        ))
    }
}

#[async_trait]
impl MessageSource for ConfluenceSource {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        self.site
            .read(cursor, wait, |since, me| async move {
                let (contents, base) = self.search(since).await?;
                Ok(contents
                    .into_iter()
                    .filter_map(|content| self.message(content, since, &me, base.as_deref()))
                    .collect())
            })
            .await
    }
}

#[async_trait]
impl FollowUp for ConfluenceSource {
    /// A comment by the user on the page after the item came (a reply in its thread or a
    /// new one): one request per page.
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.site.me().await?;
        let mut answered = Vec::new();
        let mut pages: Vec<&str> = asked.iter().map(|a| a.conversation.as_str()).collect();
        pages.sort_unstable();
        pages.dedup();
        for page in pages {
            let comments: SearchPage = self
                .site
                .get(
                    &format!("wiki/rest/api/content/{}/child/comment", segment(page)),
                    &[("expand", "history"), ("depth", "all"), ("limit", "100")],
                )
                .await?;
            let mine: Vec<Timestamp> = comments
                .results
                .iter()
                .filter_map(Lenient::as_read)
                .filter_map(|c| c.history.as_ref())
                .filter(|h| h.created_by.as_ref().is_some_and(|a| a.account_id == me))
                .filter_map(|h| h.created_date)
                .collect();
            for item in asked.iter().filter(|a| a.conversation == page) {
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

//! Whether the user answered held messages where they live. Per chat, the messages
//! changed since the earliest item arrived (`GET /me/chats/{id}/messages`, newest
//! first, the filter on `lastModifiedDateTime` that Graph honours with the matching
//! order), following `@odata.nextLink` for a few pages at most.
//!
//! What counts is a message the user wrote in the chat after the item arrived. Chats
//! have no threads: in a one-on-one chat that is the answer; in a group chat, the user
//! speaking up after it is taken as having seen it. Deepwork's own auto-replies (known
//! by the ids it kept when sending them) and deleted messages never count.

use super::TeamsAdapter;
use super::graph::{ChatMessage, Page};
use crate::{AdapterError, Answered, Asked, FollowUp, answers_per_conversation};
use async_trait::async_trait;
use reqwest::Method;

/// Messages asked for per page: Graph's most.
const PAGE: &str = "50";
/// Pages read per chat at most: an answer further back than this many messages is
/// left untold rather than spending the tenant's shared limits on it.
const MOST_PAGES: usize = 5;

#[async_trait]
impl FollowUp for TeamsAdapter {
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.inner.me().await?.to_owned();
        let me = &me;
        answers_per_conversation("teams", asked, |chat, items| async move {
            self.answered_in(me, chat, &items).await
        })
        .await
    }
}

impl TeamsAdapter {
    /// The answers to `items`, all in `chat`.
    async fn answered_in(
        &self,
        me: &str,
        chat: &str,
        items: &[&Asked],
    ) -> Result<Vec<Answered>, AdapterError> {
        let Some(earliest) = items.iter().map(|item| item.since).min() else {
            return Ok(Vec::new());
        };
        let mut said = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MOST_PAGES {
            let page: Page<ChatMessage> = match next.take() {
                Some(link) => self.inner.graph(Method::GET, &link, &[], None).await?,
                None => {
                    let since = earliest.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                    self.inner
                        .graph(
                            Method::GET,
                            &format!("me/chats/{chat}/messages"),
                            &[
                                ("$top", PAGE.into()),
                                ("$orderby", "lastModifiedDateTime desc".into()),
                                ("$filter", format!("lastModifiedDateTime gt {since}")),
                            ],
                            None,
                        )
                        .await?
                }
            };
            next = page.next_link.clone();
            said.extend(
                page.entries()
                    .filter(|message| self.said_by(message, me))
                    .map(|message| message.created_date_time),
            );
            if next.is_none() {
                break;
            }
        }
        Ok(items
            .iter()
            .filter_map(|item| {
                let at = said.iter().filter(|at| **at > item.since).min()?;
                Some(Answered {
                    message_id: item.message_id.clone(),
                    at: *at,
                })
            })
            .collect())
    }

    /// Whether `message` is something the user `me` said: their own, standing, and not
    /// one of Deepwork's auto-replies.
    fn said_by(&self, message: &ChatMessage, me: &str) -> bool {
        let own = message
            .from
            .as_ref()
            .and_then(|from| from.user.as_ref())
            .and_then(|user| user.id.as_deref())
            == Some(me);
        own && message.message_type == "message"
            && message.deleted_date_time.is_none()
            && !self
                .auto_replies
                .lock()
                .expect("auto-replies")
                .contains(&message.id)
    }
}

//! Whether the user answered held posts where they live. Per channel, one
//! `GET /channels/{id}/posts?since=` from the earliest item's arrival: every post made
//! (or changed) since, thread replies included, ordered by creation and limited to
//! 1000 by the server, which is more than a focus session sees.
//!
//! What counts is a post the user wrote after the item arrived: at the channel's top
//! level (in a direct message that is the answer; in a channel or group, the user
//! speaking up there after it is taken as having seen it) or in the item's thread. In
//! a direct message a reply in any thread counts too. Deepwork's own auto-replies
//! (marked in their props), system posts and deleted posts never count.

use super::api::{Channel, Post, PostList};
use super::{MattermostAdapter, Me};
use crate::http::Lenient;
use crate::{AdapterError, Answered, Asked, FollowUp, answers_per_conversation};
use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Method;

/// A post of the user's: when (milliseconds since the epoch), and its thread's first
/// post when it is a reply.
struct Said {
    at: i64,
    root: Option<String>,
}

#[async_trait]
impl FollowUp for MattermostAdapter {
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.me().await?.clone();
        let me = &me;
        answers_per_conversation("mattermost", asked, |channel, items| async move {
            self.answered_in(me, channel, &items).await
        })
        .await
    }
}

impl MattermostAdapter {
    /// The answers to `items`, all in `channel`.
    async fn answered_in(
        &self,
        me: &Me,
        channel: &str,
        items: &[&Asked],
    ) -> Result<Vec<Answered>, AdapterError> {
        let Some(earliest) = items.iter().map(|item| item.since.as_millisecond()).min() else {
            return Ok(Vec::new());
        };
        let list: PostList = self
            .call_with_query(
                Method::GET,
                &["channels", channel, "posts"],
                &[("since", earliest.to_string())],
                None,
            )
            .await?;
        let said: Vec<Said> = list
            .posts
            .into_values()
            .filter_map(Lenient::into_read)
            .filter(|post| said_by(post, &me.id) && post.create_at > earliest)
            .map(|post| Said {
                at: post.create_at,
                root: Some(post.root_id).filter(|root| !root.is_empty()),
            })
            .collect();
        let mut direct = None;
        let mut answered = Vec::new();
        for item in items {
            let id = item.message_id.as_str();
            let since = item.since.as_millisecond();
            let after: Vec<&Said> = said.iter().filter(|s| s.at > since).collect();
            let answer = |counts: &dyn Fn(&Said) -> bool| {
                after.iter().filter(|s| counts(s)).map(|s| s.at).min()
            };
            let mut at = answer(&|s| s.root.is_none() || s.root.as_deref() == Some(id));
            // Said in some other thread: it counts in a direct message, or where that
            // thread is the one the item itself is in. Each is asked only when needed.
            if at.is_none() && after.iter().any(|s| s.root.is_some()) {
                let is_direct = match direct {
                    Some(known) => known,
                    None => {
                        let kind: Channel =
                            self.call(Method::GET, &["channels", channel], None).await?;
                        *direct.insert(kind.kind == "D")
                    }
                };
                at = if is_direct {
                    answer(&|_| true)
                } else {
                    let post: Post = self.call(Method::GET, &["posts", id], None).await?;
                    match post.root_id.as_str() {
                        "" => None,
                        root => answer(&|s| s.root.as_deref() == Some(root)),
                    }
                };
            }
            let at = at.and_then(|ms| Timestamp::from_millisecond(ms).ok());
            answered.extend(at.map(|at| Answered {
                message_id: item.message_id.clone(),
                at,
            }));
        }
        Ok(answered)
    }
}

/// Whether `post` is something the user `me` said: their own, standing, written by
/// them (not a system post, a bot's, or Deepwork's auto-reply).
fn said_by(post: &Post, me: &str) -> bool {
    post.user_id == me && post.kind.is_empty() && post.delete_at == 0 && !post.automated()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_users_own_standing_words_count() {
        let post = |extra: serde_json::Value| -> Post {
            let mut value =
                json!({ "id": "p", "user_id": "me", "channel_id": "c", "create_at": 1 });
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            serde_json::from_value(value).unwrap()
        };
        assert!(said_by(&post(json!({})), "me"));
        assert!(said_by(&post(json!({ "root_id": "r" })), "me"), "a reply");
        assert!(!said_by(&post(json!({ "user_id": "bob" })), "me"));
        assert!(!said_by(
            &post(json!({ "type": "system_join_channel" })),
            "me"
        ));
        assert!(!said_by(&post(json!({ "delete_at": 5 })), "me"));
        assert!(
            !said_by(
                &post(json!({ "props": { super::super::AUTO_REPLY_PROP: "true" } })),
                "me"
            ),
            "Deepwork's auto-reply"
        );
    }
}

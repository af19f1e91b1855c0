//! Whether the user answered held messages where they live. Per conversation, one
//! `conversations.history` from the earliest item on (top-level messages, each
//! thread's first message with its newest reply and who replied), then
//! `conversations.replies` only for the threads that changed after an item arrived.
//!
//! What counts is a message the user wrote after the item arrived: at the top level of
//! the conversation (in a direct conversation that is the answer; in a channel, the user
//! speaking up there after it is taken as having seen it), or in the item's own thread.
//! In a direct conversation a reply in any of its threads begun since the earliest item
//! counts too (older threads would take a read of history without end). Deepwork's own
//! auto-replies (marked by their metadata) never count.

use super::api::{ConversationInfo, History, SlackMessage};
use super::{Body, SlackAdapter, ts_at, ts_key};
use crate::http::Lenient;
use crate::{AdapterError, Answered, Asked, FollowUp, answers_per_conversation};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

/// Messages asked for per page; Slack advises no more than 200.
const PAGE: &str = "200";
/// Pages read per conversation or thread at most: an answer older than a thousand
/// messages is left untold rather than spending the method's rate limit on it.
const MOST_PAGES: usize = 5;

/// A message of the user's: its timestamp, and its thread (`None` at the top level).
struct Said {
    ts: (i64, i64),
    thread: Option<String>,
}

/// An item of one conversation: the message, and when it arrived by Slack's clock.
struct Item<'a> {
    asked: &'a Asked,
    since: (i64, i64),
    /// The thread the message is in, once known.
    thread: Option<String>,
}

#[async_trait]
impl FollowUp for SlackAdapter {
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let me = self.me().await?.to_owned();
        let me = me.as_str();
        // Items arrived by our clock; messages are stamped by Slack's.
        let offset = self.clock_offset.lock().expect("clock").unwrap_or_default();
        answers_per_conversation("slack", asked, |channel, items| async move {
            self.answered_in(me, offset, channel, &items).await
        })
        .await
    }
}

impl SlackAdapter {
    /// The answers to `asked`, all of `channel`.
    async fn answered_in(
        &self,
        me: &str,
        offset: SignedDuration,
        channel: &str,
        asked: &[&Asked],
    ) -> Result<Vec<Answered>, AdapterError> {
        let mut items: Vec<Item> = asked
            .iter()
            .map(|asked| Item {
                asked,
                since: ts_key(&ts_at(
                    asked.since.checked_add(offset).unwrap_or(asked.since),
                )),
                thread: None,
            })
            .collect();
        // From the earliest item itself, so that the items' own threads show.
        let oldest = asked
            .iter()
            .map(|a| a.message_id.as_str())
            .min_by_key(|ts| ts_key(ts))
            .unwrap_or("0");
        let history = self
            .read("conversations.history", channel, None, oldest)
            .await?;
        let mut said: Vec<Said> = said_in(&history, None, me).collect();
        let replied_since = |m: &SlackMessage, since: (i64, i64)| {
            m.latest_reply.as_deref().is_some_and(|r| ts_key(r) > since)
        };
        let mut threads_read: Vec<String> = Vec::new();
        for item in &mut items {
            if earliest(&said, item, false).is_some() {
                continue;
            }
            let id = item.asked.message_id.as_str();
            match history.iter().find(|m| m.ts.as_deref() == Some(id)) {
                // Its thread: nothing new there since it arrived.
                Some(listed) if !replied_since(listed, item.since) => {
                    item.thread = Some(id.to_owned());
                    continue;
                }
                Some(_) => item.thread = Some(id.to_owned()),
                // Not in the history: a reply in a thread itself, or older than read.
                None => {}
            }
            let since = format_ts(item.since);
            let thread = self
                .read("conversations.replies", channel, Some(id), &since)
                .await?;
            let root = thread
                .iter()
                .find_map(|m| m.thread_ts.clone())
                .unwrap_or_else(|| id.to_owned());
            said.extend(said_in(&thread, Some(&root), me));
            threads_read.push(root.clone());
            item.thread = Some(root);
        }
        // In a direct conversation the user may have answered in another thread.
        let waiting: Vec<(i64, i64)> = items
            .iter()
            .filter(|item| earliest(&said, item, false).is_none())
            .map(|item| item.since)
            .collect();
        let mut direct = false;
        if let Some(&since) = waiting.iter().min() {
            let others: Vec<&str> = history
                .iter()
                .filter(|m| replied_since(m, since) && m.reply_users.iter().any(|u| u == me))
                .filter_map(|m| m.ts.as_deref())
                .filter(|ts| !threads_read.iter().any(|read| read == ts))
                .collect();
            if !others.is_empty() && self.is_direct(channel).await? {
                direct = true;
                for root in others {
                    let thread = self
                        .read(
                            "conversations.replies",
                            channel,
                            Some(root),
                            &format_ts(since),
                        )
                        .await?;
                    said.extend(said_in(&thread, Some(root), me));
                }
            }
        }
        Ok(items
            .iter()
            .filter_map(|item| {
                let (seconds, micros) = earliest(&said, item, direct)?;
                let at = Timestamp::new(seconds, i32::try_from(micros * 1_000).ok()?).ok()?;
                Some(Answered {
                    message_id: item.asked.message_id.clone(),
                    at: at.checked_sub(offset).unwrap_or(at),
                })
            })
            .collect())
    }

    /// A conversation's messages (`conversations.history`), or a thread's
    /// (`conversations.replies` with `thread`), from `oldest` on.
    async fn read(
        &self,
        method: &str,
        channel: &str,
        thread: Option<&str>,
        oldest: &str,
    ) -> Result<Vec<SlackMessage>, AdapterError> {
        let mut messages = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MOST_PAGES {
            let mut form = vec![
                ("channel", channel.to_owned()),
                ("oldest", oldest.to_owned()),
                ("inclusive", "true".to_owned()),
                ("limit", PAGE.to_owned()),
                ("include_all_metadata", "true".to_owned()),
            ];
            if let Some(ts) = thread {
                form.push(("ts", ts.to_owned()));
            }
            if let Some(cursor) = cursor.take() {
                form.push(("cursor", cursor));
            }
            let page: History = self.call(method, Body::Form(form)).await?;
            cursor = page.next_cursor().map(str::to_owned);
            messages.extend(page.messages.into_iter().filter_map(Lenient::into_read));
            if cursor.is_none() {
                break;
            }
        }
        Ok(messages)
    }

    /// Whether `channel` is a direct conversation (`conversations.info`).
    async fn is_direct(&self, channel: &str) -> Result<bool, AdapterError> {
        let info: ConversationInfo = self
            .call(
                "conversations.info",
                Body::Form(vec![("channel", channel.to_owned())]),
            )
            .await?;
        Ok(info.channel.is_im)
    }
}

/// What `me` said among `messages`, read from `thread` (`None`: the conversation).
fn said_in<'a>(
    messages: &'a [SlackMessage],
    thread: Option<&'a str>,
    me: &'a str,
) -> impl Iterator<Item = Said> + 'a {
    messages
        .iter()
        .filter(move |m| m.said_by(me))
        .filter_map(move |m| {
            Some(Said {
                ts: ts_key(m.ts.as_deref()?),
                thread: thread.map(str::to_owned),
            })
        })
}

/// The first thing the user said after `item` arrived that answers it: at the top
/// level, in its thread, or (`anywhere`) in any thread.
fn earliest(said: &[Said], item: &Item, anywhere: bool) -> Option<(i64, i64)> {
    said.iter()
        .filter(|s| s.ts > item.since)
        .filter(|s| anywhere || s.thread.is_none() || s.thread == item.thread)
        .map(|s| s.ts)
        .min()
}

/// A Slack timestamp from its ordered parts.
fn format_ts((seconds, micros): (i64, i64)) -> String {
    format!("{seconds}.{micros:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_users_own_words_count() {
        let message =
            |value: serde_json::Value| -> SlackMessage { serde_json::from_value(value).unwrap() };
        assert!(message(serde_json::json!({ "user": "U1", "ts": "1.000001" })).said_by("U1"));
        assert!(
            message(serde_json::json!({ "user": "U1", "subtype": "thread_broadcast" }))
                .said_by("U1")
        );
        assert!(!message(serde_json::json!({ "user": "U2" })).said_by("U1"));
        assert!(
            !message(serde_json::json!({ "user": "U1", "subtype": "channel_join" })).said_by("U1")
        );
        assert!(
            !message(serde_json::json!({
                "user": "U1",
                "metadata": { "event_type": super::super::AUTO_REPLY_EVENT },
            }))
            .said_by("U1"),
            "Deepwork's auto-reply"
        );
    }

    #[test]
    fn a_thread_reply_answers_only_its_own_item_unless_anywhere_counts() {
        let asked = Asked {
            message_id: "10.000000".into(),
            conversation: "C1".into(),
            since: Timestamp::UNIX_EPOCH,
        };
        let item = Item {
            asked: &asked,
            since: (11, 0),
            thread: Some("10.000000".into()),
        };
        let said = |ts, thread: Option<&str>| Said {
            ts,
            thread: thread.map(str::to_owned),
        };
        assert_eq!(
            earliest(&[said((10, 5), None)], &item, false),
            None,
            "before"
        );
        assert_eq!(
            earliest(&[said((12, 0), Some("9.000000"))], &item, false),
            None
        );
        assert_eq!(
            earliest(&[said((12, 0), Some("9.000000"))], &item, true),
            Some((12, 0))
        );
        assert_eq!(
            earliest(
                &[said((13, 0), None), said((12, 0), Some("10.000000"))],
                &item,
                false
            ),
            Some((12, 0))
        );
    }
}

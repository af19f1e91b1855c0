//! Chat messages addressed to the user, polled from Graph, and auto-replies.

use super::*;
use graph::{Chat, ChatMessage, Page};

/// A chat's kind, as `chatType` names it.
fn addressed(chat_type: &str, mentioned: bool) -> Option<Addressed> {
    match chat_type {
        "oneOnOne" => Some(Addressed::Direct),
        _ => mentioned.then_some(Addressed::Mention),
    }
}

/// A Teams message body as plain text: line-breaking tags become line breaks, then
/// the remaining markup goes.
fn body_text(body: &ItemBody) -> String {
    if body.content_type != "html" {
        return plain(&body.content);
    }
    crate::html_text(&body.content)
}

/// A chat message as Deepwork holds it, with when it was sent, if it is addressed to
/// the user `me` and was sent by someone else.
fn incoming(chat: &Chat, message: ChatMessage, me: &str) -> Option<(Timestamp, IncomingMessage)> {
    let from = message.from?;
    let (sender, automated) = match (from.user, from.application) {
        (Some(user), _) => (user, false),
        (None, Some(app)) => (app, true),
        (None, None) => return None,
    };
    let sender_id = sender.id?;
    if sender_id == me {
        return None;
    }
    let mentioned = message.mentions.iter().any(|mention| {
        mention
            .mentioned
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .and_then(|user| user.id.as_deref())
            == Some(me)
    });
    let addressed = addressed(&chat.chat_type, mentioned)?;
    Some((
        message.created_date_time,
        IncomingMessage {
            id: message.id,
            sender: sender_id.clone(),
            sender_name: sender.display_name.as_deref().map(plain),
            channel: (addressed == Addressed::Mention).then(|| {
                chat.topic
                    .as_deref()
                    .map_or_else(|| "group chat".into(), plain)
            }),
            addressed,
            text: body_text(&message.body),
            automated,
            url: message.web_url.or_else(|| chat.web_url.clone()),
            reply_to: ReplyTarget {
                conversation: chat.id.clone(),
                sender: sender_id,
            },
            usual_class: None,
        },
    ))
}

impl TeamsAdapter {
    /// Messages to the user after `cursor` in the chats that had any.
    async fn read_chats(
        &self,
        cursor: Timestamp,
    ) -> Result<Vec<(Timestamp, IncomingMessage)>, AdapterError> {
        let me = self.inner.me().await?.to_owned();
        let chats: Page<Chat> = self
            .inner
            .graph(
                Method::GET,
                "me/chats",
                &[
                    ("$expand", "lastMessagePreview".into()),
                    ("$orderby", "lastMessagePreview/createdDateTime desc".into()),
                    ("$top", "50".into()),
                ],
                None,
            )
            .await?;
        let since = cursor.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut found = Vec::new();
        for chat in chats.entries() {
            let last = chat
                .last_message_preview
                .as_ref()
                .and_then(|preview| preview.created_date_time);
            if last.is_none_or(|last| last <= cursor) {
                continue;
            }
            let messages: Page<ChatMessage> = self
                .inner
                .graph(
                    Method::GET,
                    &format!("me/chats/{}/messages", chat.id),
                    &[
                        ("$top", "50".into()),
                        ("$orderby", "lastModifiedDateTime desc".into()),
                        ("$filter", format!("lastModifiedDateTime gt {since}")),
                    ],
                    None,
                )
                .await?;
            for message in messages.entries() {
                // Edits of older messages come back too; only new ones count.
                if message.created_date_time <= cursor || message.message_type != "message" {
                    continue;
                }
                found.extend(incoming(&chat, message, &me));
            }
        }
        found.sort_by_key(|(at, _)| *at);
        Ok(found)
    }
}

#[async_trait]
impl MessageSource for TeamsAdapter {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: Timestamp::now().to_string(),
            });
        };
        let since: Timestamp = cursor
            .parse()
            .map_err(|_| malformed(&format!("bad cursor {cursor:?}")))?;
        let found = self.read_chats(since).await?;
        if found.is_empty() {
            tokio::time::sleep(wait.min(POLL_INTERVAL)).await;
        }
        let cursor = found.last().map_or(since, |(at, _)| *at).to_string();
        Ok(Batch {
            messages: found.into_iter().map(|(_, message)| message).collect(),
            cursor,
        })
    }
}

#[async_trait]
impl Replier for TeamsAdapter {
    /// Graph keeps nothing with a chat message that would mark it as an auto-reply, and
    /// it is sent as the user: its id is remembered instead, so that it is never taken
    /// for the user's answer (see `follow_up`).
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let sent: graph::Sent = self
            .inner
            .graph(
                Method::POST,
                &format!("chats/{}/messages", to.conversation),
                &[],
                Some(json!({ "body": { "contentType": "text", "content": text } })),
            )
            .await?;
        let mut replies = self.auto_replies.lock().expect("auto-replies");
        if replies.len() == AUTO_REPLIES_KEPT {
            replies.pop_front();
        }
        replies.push_back(sent.id);
        Ok(())
    }
}

#[async_trait]
impl Poster for TeamsAdapter {
    /// `channel` is a chat's id, or `TEAM_ID/CHANNEL_ID` for a team's channel.
    async fn post(&self, channel: &str, post: &Post) -> Result<PostedMessage, AdapterError> {
        let path = match channel.split_once('/') {
            Some((team, channel)) => format!(
                "teams/{}/channels/{}/messages",
                segment(team),
                segment(channel)
            ),
            None => format!("chats/{}/messages", segment(channel)),
        };
        let body = json!({ "body": { "contentType": "html", "content": post.html } });
        let sent: graph::Sent = self
            .inner
            .graph(Method::POST, &path, &[], Some(body))
            .await?;
        Ok(PostedMessage { link: sent.web_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_become_plain_text_with_their_line_breaks() {
        let body = ItemBody {
            content_type: "html".into(),
            content: "<p>Build is <b>red</b>&nbsp;&amp; blocking</p><p>see &lt;log&gt;</p>".into(),
        };
        assert_eq!(body_text(&body), "Build is red & blocking\nsee <log>");
        assert_eq!(body_text(&ItemBody::text("hi\u{1b}[2J")), "hi[2J");
    }

    #[test]
    fn one_on_one_chats_are_direct_and_group_chats_need_a_mention() {
        assert_eq!(addressed("oneOnOne", false), Some(Addressed::Direct));
        assert_eq!(addressed("group", true), Some(Addressed::Mention));
        assert_eq!(addressed("group", false), None);
        assert_eq!(addressed("meeting", false), None);
    }
}

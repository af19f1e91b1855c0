//! Chat messages addressed to the user, polled from Graph, and auto-replies.

use super::*;

/// A chat's kind, as `chatType` names it.
fn addressed(chat_type: &str, mentioned: bool) -> Option<Addressed> {
    match chat_type {
        "oneOnOne" => Some(Addressed::Direct),
        _ => mentioned.then_some(Addressed::Mention),
    }
}

/// A Teams message body as plain text: line-breaking tags become line breaks, then
/// the remaining markup goes.
fn body_text(body: &Value) -> String {
    let content = body["content"].as_str().unwrap_or_default();
    if body["contentType"] != "html" {
        return plain(content);
    }
    let mut text = content.to_owned();
    for tag in ["<br>", "<br/>", "<br />", "</p>", "</div>"] {
        text = text.replace(tag, "\n");
    }
    plain_text(&text.replace("&nbsp;", " ")).trim().to_owned()
}

impl TeamsAdapter {
    /// Messages to the user after `cursor` in the chats that had any.
    async fn read_chats(
        &self,
        cursor: Timestamp,
    ) -> Result<Vec<(Timestamp, IncomingMessage)>, AdapterError> {
        let me = self.inner.me().await?.to_owned();
        let chats = self
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
        for chat in chats["value"].as_array().into_iter().flatten() {
            let last: Option<Timestamp> = chat["lastMessagePreview"]["createdDateTime"]
                .as_str()
                .and_then(|t| t.parse().ok());
            if last.is_none_or(|last| last <= cursor) {
                continue;
            }
            let (Some(chat_id), Some(chat_type)) = (chat["id"].as_str(), chat["chatType"].as_str())
            else {
                continue;
            };
            let messages = self
                .inner
                .graph(
                    Method::GET,
                    &format!("me/chats/{chat_id}/messages"),
                    &[
                        ("$top", "50".into()),
                        ("$orderby", "lastModifiedDateTime desc".into()),
                        ("$filter", format!("lastModifiedDateTime gt {since}")),
                    ],
                    None,
                )
                .await?;
            for message in messages["value"].as_array().into_iter().flatten() {
                let Some(created) = message["createdDateTime"]
                    .as_str()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                else {
                    continue;
                };
                // Edits of older messages come back too; only new ones count.
                if created <= cursor || message["messageType"] != "message" {
                    continue;
                }
                let from = &message["from"];
                let (sender, name, automated) = if let Some(user) = from["user"].as_object() {
                    (user.get("id"), user.get("displayName"), false)
                } else if let Some(app) = from["application"].as_object() {
                    (app.get("id"), app.get("displayName"), true)
                } else {
                    continue;
                };
                let Some(sender) = sender.and_then(Value::as_str) else {
                    continue;
                };
                if sender == me {
                    continue;
                }
                let mentioned = message["mentions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| m["mentioned"]["user"]["id"] == me);
                let Some(addressed) = addressed(chat_type, mentioned) else {
                    continue;
                };
                let topic = chat["topic"].as_str().map(plain);
                found.push((
                    created,
                    IncomingMessage {
                        id: message["id"].as_str().unwrap_or_default().to_owned(),
                        sender: sender.to_owned(),
                        sender_name: name.and_then(Value::as_str).map(plain),
                        channel: (addressed == Addressed::Mention)
                            .then(|| topic.unwrap_or_else(|| "group chat".into())),
                        addressed,
                        text: body_text(&message["body"]),
                        automated,
                        url: chat["webUrl"].as_str().map(str::to_owned),
                        reply_to: ReplyTarget {
                            conversation: chat_id.to_owned(),
                            sender: sender.to_owned(),
                        },
                    },
                ));
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
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        self.inner
            .graph(
                Method::POST,
                &format!("chats/{}/messages", to.conversation),
                &[],
                Some(json!({ "body": { "contentType": "text", "content": text } })),
            )
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_become_plain_text_with_their_line_breaks() {
        let body = json!({ "contentType": "html", "content": "<p>Build is <b>red</b>&nbsp;&amp; blocking</p><p>see &lt;log&gt;</p>" });
        assert_eq!(body_text(&body), "Build is red & blocking\nsee <log>");
        let text = json!({ "contentType": "text", "content": "hi\u{1b}[2J" });
        assert_eq!(body_text(&text), "hi[2J");
    }

    #[test]
    fn one_on_one_chats_are_direct_and_group_chats_need_a_mention() {
        assert_eq!(addressed("oneOnOne", false), Some(Addressed::Direct));
        assert_eq!(addressed("group", true), Some(Addressed::Mention));
        assert_eq!(addressed("group", false), None);
        assert_eq!(addressed("meeting", false), None);
    }
}

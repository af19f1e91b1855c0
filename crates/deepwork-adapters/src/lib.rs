//! Chat adapters. One trait per role — [`StatusAdapter`] (focus status),
//! [`MessageSource`] (new messages addressed to the user), [`Replier`] (auto-replies) —
//! and one module per platform. Message text from any platform is untrusted.

pub mod atlassian;
pub mod calendar;
pub mod device_flow;
pub mod fake;
pub mod gdocs;
pub mod github;
mod http;
mod loopback;
pub mod matrix;
pub mod mattermost;
pub mod notification_monitor;
pub mod notion;
mod pace;
pub mod plugin;
pub mod slack;

pub mod teams;
pub mod twilio;
pub mod xmpp;

use async_trait::async_trait;
use deepwork_core::{Class, NewItem};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The focus status to show on a platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FocusStatus {
    /// "Deep work — checking messages at 14:00", already fitted to the platform.
    pub text: String,
    /// When it should lapse on its own, where the platform can.
    pub until: Timestamp,
}

/// A platform's status before the session, kept (durably, by the engine) so it can be
/// restored exactly. Only the adapter that took it reads its contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// The adapter that took it.
    pub adapter: String,
    /// The adapter's own record of the status.
    pub data: serde_json::Value,
}

/// Why a message reached the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressed {
    /// A direct message.
    Direct,
    /// A mention in a shared room or channel.
    Mention,
}

/// Where an auto-reply goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTarget {
    /// The room, channel or conversation.
    pub conversation: String,
    /// The sender to answer.
    pub sender: String,
}

/// A message addressed to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingMessage {
    /// The platform's id of the message.
    pub id: String,
    /// Who sent it.
    pub sender: String,
    /// The sender's display name, when the platform gives one.
    pub sender_name: Option<String>,
    /// The room or channel, by name where known.
    pub channel: Option<String>,
    /// Direct or mention.
    pub addressed: Addressed,
    /// The text, plain.
    pub text: String,
    /// Sent by a bot or an automatic reply (never auto-replied to).
    pub automated: bool,
    /// A link back to it.
    pub url: Option<String>,
    /// Where a reply would go.
    pub reply_to: ReplyTarget,
    /// The class items of its kind get unless the text says more (see
    /// [`NewItem::source_class`]); chat messages leave it to triage.
    pub usual_class: Option<Class>,
}

impl IncomingMessage {
    /// The item handed to triage: the first line is the title, the rest the body. It is
    /// always valid, whatever the platform sent (see [`NewItem::sanitized`]).
    pub fn to_item(&self, source: &str) -> NewItem {
        let text = self.text.trim();
        let (title, body) = match text.split_once('\n') {
            Some((first, rest)) if !rest.trim().is_empty() => (first, Some(rest.to_owned())),
            _ => (text, None),
        };
        NewItem {
            source: source.to_owned(),
            sender: self
                .sender_name
                .clone()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| self.sender.clone()),
            title: title.to_owned(),
            body,
            url: self.url.clone(),
            channel: self.channel.clone(),
            urgency: None,
            message_id: Some(self.id.clone()),
            source_class: self.usual_class,
            conversation: Some(self.reply_to.conversation.clone()).filter(|c| !c.is_empty()),
        }
        .sanitized()
    }
}

/// HTML (Teams' message bodies, Confluence's storage format) as plain text, its
/// paragraphs and line breaks kept as lines.
pub(crate) fn html_text(html: &str) -> String {
    let mut text = html.to_owned();
    for tag in [
        "<br>", "<br/>", "<br />", "</p>", "</div>", "</li>", "</h1>", "</h2>", "</h3>",
    ] {
        text = text.replace(tag, "\n");
    }
    deepwork_core::held_notifications::plain_text(&text.replace("&nbsp;", " "))
        .trim()
        .to_owned()
}

/// Message text as plain text (see [`deepwork_core::text::plain`]).
pub(crate) fn plain(text: &str) -> String {
    deepwork_core::text::plain(text)
}

/// New messages and where to continue from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The messages, oldest first.
    pub messages: Vec<IncomingMessage>,
    /// Pass this to the next fetch.
    pub cursor: String,
}

/// What went wrong talking to a platform.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The platform could not be reached or failed; try again with backoff.
    #[error("{adapter} is unreachable: {detail}")]
    Unavailable {
        /// The adapter.
        adapter: String,
        /// What happened.
        detail: String,
    },
    /// The platform asked us to slow down.
    #[error("{adapter} is rate-limiting; retry in {retry_after:?}")]
    RateLimited {
        /// The adapter.
        adapter: String,
        /// How long it asked us to wait.
        retry_after: Duration,
    },
    /// The credentials are wrong, revoked or lack a permission; retrying will not help.
    #[error("{adapter}: {fix}")]
    Unauthorized {
        /// The adapter.
        adapter: String,
        /// What the user must do.
        fix: String,
    },
    /// The platform answered something this adapter does not understand.
    #[error("{adapter} answered unexpectedly: {detail}")]
    Malformed {
        /// The adapter.
        adapter: String,
        /// What was wrong.
        detail: String,
    },
}

impl AdapterError {
    pub(crate) fn unavailable(adapter: &str, detail: &str) -> Self {
        AdapterError::Unavailable {
            adapter: adapter.to_owned(),
            detail: detail.to_owned(),
        }
    }

    pub(crate) fn malformed(adapter: &str, detail: &str) -> Self {
        AdapterError::Malformed {
            adapter: adapter.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            AdapterError::Unavailable { .. }
            | AdapterError::RateLimited { .. }
            | AdapterError::Malformed { .. } => true,
            AdapterError::Unauthorized { .. } => false,
        }
    }
}

/// Sets and restores the user's status on one platform.
#[async_trait]
pub trait StatusAdapter: Send + Sync {
    /// The adapter's name, as in config.
    fn name(&self) -> &str;
    /// The longest status text the platform accepts, in characters.
    fn status_limit(&self) -> usize {
        255
    }
    /// The status as it is now, to restore later.
    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError>;
    /// Shows the focus status (and do-not-disturb where the platform has it).
    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError>;
    /// Puts back exactly what `snapshot` recorded.
    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError>;
}

/// New messages addressed to the user.
#[async_trait]
pub trait MessageSource: Send + Sync {
    /// Messages after `cursor`, waiting up to `wait` for one. With no cursor it returns
    /// none and a cursor for "now", so history is never imported as new. A source that
    /// is told of new messages rather than polling for them may wait until one comes:
    /// the caller drops the future when it has something else to do.
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError>;
}

/// An item the user may have answered where it lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    /// The platform's id of the message, as [`IncomingMessage::id`] gave it.
    pub message_id: String,
    /// Where it lives, as [`ReplyTarget::conversation`] gave it.
    pub conversation: String,
    /// When it arrived: only an answer after it counts.
    pub since: Timestamp,
}

/// An answer the user gave where an item lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answered {
    /// The [`Asked::message_id`] it answers.
    pub message_id: String,
    /// When the user answered.
    pub at: Timestamp,
}

/// Notices the user answering items where they live, so that what is owed is known.
#[async_trait]
pub trait FollowUp: Send + Sync {
    /// Of `asked`, the ones the user has answered since each arrived: a reply in the
    /// conversation or its thread, a comment on the pull request, issue, ticket or
    /// document, a submitted review. One that cannot be told is left out.
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError>;

    /// The user marked the item done in the digest: mark it read where it lives, where
    /// the platform keeps such a mark (GitHub's notification threads). Nothing is ever
    /// marked read otherwise.
    async fn mark_read(&self, message_id: &str) -> Result<(), AdapterError> {
        let _ = message_id;
        Ok(())
    }
}

/// The answers in each conversation of `asked`, read one conversation at a time by
/// `read`. A conversation out of reach (left, deleted, a scope only its kind needs)
/// costs only its own answers; a rate limit or an outage stops the round; when no
/// conversation could be read, that is the error.
pub(crate) async fn answers_per_conversation<'a, F, Fut>(
    platform: &str,
    asked: &'a [Asked],
    mut read: F,
) -> Result<Vec<Answered>, AdapterError>
where
    F: FnMut(&'a str, Vec<&'a Asked>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Answered>, AdapterError>>,
{
    let mut by_conversation: std::collections::BTreeMap<&str, Vec<&Asked>> =
        std::collections::BTreeMap::new();
    for item in asked {
        by_conversation
            .entry(item.conversation.as_str())
            .or_default()
            .push(item);
    }
    let (mut answered, mut refused, mut read_any) = (Vec::new(), None, false);
    for (conversation, items) in by_conversation {
        match read(conversation, items).await {
            Ok(found) => {
                read_any = true;
                answered.extend(found);
            }
            Err(error @ (AdapterError::RateLimited { .. } | AdapterError::Unavailable { .. })) => {
                return Err(error);
            }
            Err(error) => {
                tracing::warn!(%error, platform, conversation, "could not read a conversation for answers");
                refused = Some(error);
            }
        }
    }
    match refused {
        Some(error) if !read_any => Err(error),
        _ => Ok(answered),
    }
}

/// What a work tracker says of the user's work: shipped lately, and blocked now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkDone {
    /// Merged pull requests, tickets done.
    pub shipped: Vec<deepwork_core::standup::SourceWork>,
    /// The user's open tickets that are blocked.
    pub blocked: Vec<deepwork_core::standup::SourceWork>,
}

/// Tells the user's shipped and blocked work, for the written standup.
#[async_trait]
pub trait WorkReport: Send + Sync {
    /// Work shipped since `since`, and what is blocked now.
    async fn work(&self, since: Timestamp) -> Result<WorkDone, AdapterError>;
}

/// A message the user posts (a standup), in each markup a platform may take: the
/// adapter picks its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// CommonMark (Mattermost; Matrix's plain body).
    pub markdown: String,
    /// HTML with every piece of text escaped (Matrix's formatted body, Teams).
    pub html: String,
    /// Slack's mrkdwn.
    pub slack: String,
}

/// Where a post landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedMessage {
    /// A link to it, where the platform gives one.
    pub link: Option<String>,
}

/// Posts the user's messages to a channel they name.
#[async_trait]
pub trait Poster: Send + Sync {
    /// Posts `post` to `channel` (an id, or a name as the platform's config documents).
    async fn post(&self, channel: &str, post: &Post) -> Result<PostedMessage, AdapterError>;
}

/// Sends auto-replies.
#[async_trait]
pub trait Replier: Send + Sync {
    /// Sends `text` to `to`, marked so that other bots (and other Deepworks) do not answer.
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError>;
}

//! An in-memory adapter for unit tests of whatever drives adapters.

use crate::{
    AdapterError, Batch, FocusStatus, IncomingMessage, MessageSource, Replier, ReplyTarget,
    StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::Duration;

/// The platform's state as the fake keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeState {
    /// The status text now.
    pub status: String,
    /// Messages not yet fetched.
    pub inbox: Vec<IncomingMessage>,
    /// Replies sent.
    pub replies: Vec<(ReplyTarget, String)>,
    /// When set, every call fails as unreachable.
    pub down: bool,
}

/// An adapter whose platform is a struct.
#[derive(Debug, Default)]
pub struct FakeAdapter {
    /// Its state, for tests to read and change.
    pub state: Mutex<FakeState>,
}

impl FakeAdapter {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> Result<T, AdapterError> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.down {
            return Err(AdapterError::Unavailable {
                adapter: "fake".into(),
                detail: "down".into(),
            });
        }
        Ok(f(&mut state))
    }
}

#[async_trait]
impl StatusAdapter for FakeAdapter {
    fn name(&self) -> &str {
        "fake"
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        self.with(|s| StatusSnapshot {
            adapter: "fake".into(),
            data: serde_json::Value::String(s.status.clone()),
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        self.with(|s| s.status = status.text.clone())
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let text = snapshot.data.as_str().unwrap_or_default().to_owned();
        self.with(|s| s.status = text)
    }
}

#[async_trait]
impl MessageSource for FakeAdapter {
    async fn fetch(&self, cursor: Option<&str>, _wait: Duration) -> Result<Batch, AdapterError> {
        let seen: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        self.with(|s| {
            let messages = if cursor.is_none() {
                Vec::new()
            } else {
                s.inbox.get(seen..).unwrap_or_default().to_vec()
            };
            Batch {
                cursor: s.inbox.len().to_string(),
                messages,
            }
        })
    }
}

#[async_trait]
impl Replier for FakeAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        self.with(|s| s.replies.push((to.clone(), text.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> IncomingMessage {
        IncomingMessage {
            id: id.into(),
            sender: "bob".into(),
            sender_name: None,
            channel: None,
            addressed: crate::Addressed::Direct,
            text: "hi".into(),
            automated: false,
            url: None,
            reply_to: ReplyTarget {
                conversation: "dm".into(),
                sender: "bob".into(),
            },
        }
    }

    #[tokio::test]
    async fn the_fake_behaves_like_a_platform() {
        let fake = FakeAdapter::default();
        fake.state.lock().unwrap().status = "lunch".into();
        fake.state.lock().unwrap().inbox.push(message("old"));
        let snapshot = fake.snapshot().await.unwrap();
        let until = jiff::Timestamp::UNIX_EPOCH;
        fake.set_focus(&FocusStatus {
            text: "Deep work".into(),
            until,
        })
        .await
        .unwrap();
        assert_eq!(fake.state.lock().unwrap().status, "Deep work");

        let first = fake.fetch(None, Duration::ZERO).await.unwrap();
        assert!(first.messages.is_empty(), "history is not new");
        fake.state.lock().unwrap().inbox.push(message("new"));
        let next = fake
            .fetch(Some(&first.cursor), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            next.messages
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>(),
            ["new"]
        );

        fake.state.lock().unwrap().down = true;
        assert!(fake.restore(&snapshot).await.unwrap_err().is_transient());
        fake.state.lock().unwrap().down = false;
        fake.restore(&snapshot).await.unwrap();
        assert_eq!(fake.state.lock().unwrap().status, "lunch");
    }
}

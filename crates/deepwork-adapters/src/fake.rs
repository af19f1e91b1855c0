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
    /// How many reads asked for a starting position.
    pub cursor_requests: usize,
    /// How many reads from a position began.
    pub reads: usize,
    /// The next read panics, as a bug in an adapter would.
    pub panic_next_read: bool,
    /// The next read answers that the platform is rate-limiting for this long.
    pub rate_limit_next_read: Option<Duration>,
}

/// An adapter whose platform is a struct.
#[derive(Debug, Default)]
pub struct FakeAdapter {
    /// Its state, for tests to read and change.
    pub state: Mutex<FakeState>,
    arrived: tokio::sync::Notify,
}

impl FakeAdapter {
    /// A message arrives on the platform (wakes a waiting read).
    pub fn deliver(&self, message: IncomingMessage) {
        self.lock().inbox.push(message);
        self.arrived.notify_waiters();
    }

    /// The state, for tests.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

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
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return self.with(|s| {
                s.cursor_requests += 1;
                Batch {
                    messages: Vec::new(),
                    cursor: s.inbox.len().to_string(),
                }
            });
        };
        let seen: usize = cursor.parse().unwrap_or(0);
        let (panic, rate_limit) = self.with(|s| {
            s.reads += 1;
            (
                std::mem::take(&mut s.panic_next_read),
                s.rate_limit_next_read.take(),
            )
        })?;
        assert!(!panic, "the fake adapter was told to panic");
        if let Some(retry_after) = rate_limit {
            return Err(AdapterError::RateLimited {
                adapter: "fake".into(),
                retry_after,
            });
        }
        // A long poll, as real platforms do: wait for a delivery or the timeout.
        let arrived = self.arrived.notified();
        if self.with(|s| s.inbox.len() <= seen)? {
            let _ = tokio::time::timeout(wait, arrived).await;
        }
        self.with(|s| Batch {
            messages: s.inbox.get(seen..).unwrap_or_default().to_vec(),
            cursor: s.inbox.len().max(seen).to_string(),
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
            usual_class: None,
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

//! How often a polling source may ask: the interval its API sets (GitHub's
//! `X-Poll-Interval`) or the one Deepwork keeps to, remembered between reads, so that a
//! read started again after an event does not ask again early.

use crate::{AdapterError, Batch};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A turn too far off for the clock: some 30 years, as tokio's own "far future".
const FAR_OFF: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// A source's next turn to ask.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    next: Mutex<Option<Instant>>,
}

impl Pace {
    /// Waits for the source's turn, at most `wait`: `true` when it may ask now, `false`
    /// when its turn is later (the read then answers with nothing new).
    pub(crate) async fn turn(&self, wait: Duration) -> bool {
        let next = *self
            .next
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let Some(at) = next else {
            return true;
        };
        let now = Instant::now();
        if at <= now {
            return true;
        }
        if at - now <= wait {
            tokio::time::sleep_until(at).await;
            true
        } else {
            tokio::time::sleep(wait).await;
            false
        }
    }

    /// A read at this pace: when the turn is later than `wait`, nothing new and the same
    /// cursor; otherwise the next turn is `poll` away (or as far as a rate limit asks)
    /// and `read` asks.
    pub(crate) async fn paced<F, Fut>(
        &self,
        cursor: &str,
        wait: Duration,
        poll: Duration,
        read: F,
    ) -> Result<Batch, AdapterError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Batch, AdapterError>>,
    {
        if !self.turn(wait).await {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: cursor.to_owned(),
            });
        }
        self.after(poll);
        read().await.inspect_err(|error| {
            if let AdapterError::RateLimited { retry_after, .. } = error {
                self.after(*retry_after);
            }
        })
    }

    /// The next turn comes `interval` from now; one past what the clock holds (a
    /// platform's header may ask for u64::MAX seconds) comes [`FAR_OFF`].
    pub(crate) fn after(&self, interval: Duration) {
        let now = Instant::now();
        let next = now.checked_add(interval).unwrap_or_else(|| now + FAR_OFF);
        *self
            .next
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_turn_waits_for_the_interval_but_never_longer_than_the_read() {
        let pace = Pace::default();
        assert!(
            pace.turn(Duration::from_secs(25)).await,
            "the first ask is now"
        );
        pace.after(Duration::from_secs(60));
        let started = Instant::now();
        assert!(!pace.turn(Duration::from_secs(25)).await);
        assert_eq!(started.elapsed(), Duration::from_secs(25));
        assert!(!pace.turn(Duration::from_secs(25)).await);
        assert!(pace.turn(Duration::from_secs(25)).await);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }
}

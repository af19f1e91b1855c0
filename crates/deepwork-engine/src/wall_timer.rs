//! One timer on the wall clock.
//!
//! tokio's timers run on the monotonic clock, which stops while a laptop sleeps: a
//! check-in due at 14:00 would fire late by however long the lid was shut. A timerfd on
//! `CLOCK_REALTIME` with an absolute deadline fires at 14:00 by the wall clock, at once
//! on resume if 14:00 has passed, and `TFD_TIMER_CANCEL_ON_SET` wakes it when the clock
//! is set, so the engine re-checks what is due.

use jiff::Timestamp;
use rustix::io::Errno;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use std::io;
use std::os::fd::OwnedFd;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A one-shot timer for an instant on the wall clock.
#[derive(Debug)]
pub struct WallTimer {
    fd: AsyncFd<OwnedFd>,
}

impl WallTimer {
    /// A disarmed timer. Needs a tokio runtime with IO enabled.
    pub fn new() -> io::Result<Self> {
        let fd = rustix::time::timerfd_create(
            TimerfdClockId::Realtime,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: an OwnedFd is open for as long as it lives and always yields the same
        // descriptor, and the AsyncFd owns it: exactly the contract `register` asks for.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(WallTimer { fd })
    }

    /// Fires at `at` (at once if it has passed); replaces any earlier setting.
    pub fn arm(&self, at: Timestamp) -> io::Result<()> {
        // A zero it_value would disarm: the earliest expressible instant stands in.
        let value = if at.as_nanosecond() <= 0 {
            Timespec {
                tv_sec: 0,
                tv_nsec: 1,
            }
        } else {
            Timespec {
                tv_sec: at.as_second(),
                tv_nsec: i64::from(at.subsec_nanosecond()),
            }
        };
        self.set(
            TimerfdTimerFlags::ABSTIME | TimerfdTimerFlags::CANCEL_ON_SET,
            value,
        )
    }

    /// Never fires until armed again.
    pub fn disarm(&self) -> io::Result<()> {
        self.set(
            TimerfdTimerFlags::empty(),
            Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        )
    }

    fn set(&self, flags: TimerfdTimerFlags, value: Timespec) -> io::Result<()> {
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        rustix::time::timerfd_settime(self.fd.get_ref(), flags, &spec)?;
        Ok(())
    }

    /// Waits until the timer fires or the wall clock is set.
    pub async fn wait(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            match rustix::io::read(self.fd.get_ref(), &mut expirations) {
                Ok(_) | Err(Errno::CANCELED) => return Ok(()),
                Err(Errno::AGAIN) => guard.clear_ready(),
                Err(error) => return Err(error.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WallTimer;
    use jiff::{SignedDuration, Timestamp};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn fires_at_the_instant_and_at_once_when_it_passed() {
        let timer = WallTimer::new().unwrap();
        let started = Instant::now();
        timer
            .arm(Timestamp::now() + SignedDuration::from_millis(80))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), timer.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(75),
            "not before its time: {:?}",
            started.elapsed()
        );

        timer
            .arm(Timestamp::now() - SignedDuration::from_hours(1))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), timer.wait())
            .await
            .expect("a passed instant fires at once")
            .unwrap();
    }

    #[tokio::test]
    async fn a_disarmed_timer_stays_quiet() {
        let timer = WallTimer::new().unwrap();
        timer
            .arm(Timestamp::now() + SignedDuration::from_millis(30))
            .unwrap();
        timer.disarm().unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(150), timer.wait())
                .await
                .is_err()
        );
    }
}

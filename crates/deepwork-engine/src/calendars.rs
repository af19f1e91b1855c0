//! The calendar reader: every 15 minutes it reads each calendar of `[plans]` (asking
//! the server whether anything changed first) and reports to the engine, which keeps
//! the last good copy. Between rounds it sleeps; nothing polls faster.

use crate::secrets::Secrets;
use deepwork_adapters::calendar::{CalendarClient, CalendarSource, Fetched};
use deepwork_core::plans::CalendarConfig;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often each calendar is read.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);
/// The keyring's name for calendar passwords (the account is the calendar's address).
pub const KEYRING: &str = "calendar";
/// How far back and ahead a calendar is read.
pub const READ_BEHIND: SignedDuration = SignedDuration::from_hours(24);
/// See [`READ_BEHIND`].
pub const READ_AHEAD: SignedDuration = SignedDuration::from_hours(14 * 24);

/// The version of each calendar the engine keeps a copy of, by address: the reader asks
/// the server whether anything changed since that one. Only the engine adds to it, when
/// it accepted a copy, so a version it refused is read again next time.
#[derive(Clone, Debug, Default)]
pub struct CalendarValidators(Arc<Mutex<HashMap<String, String>>>);

impl CalendarValidators {
    /// `url`'s copy is of version `validator` now.
    pub fn accept(&self, url: &str, validator: &str) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(url.to_owned(), validator.to_owned());
        }
    }

    fn of(&self, url: &str) -> Option<String> {
        self.0.lock().ok()?.get(url).cloned()
    }
}

/// One read of one calendar.
#[derive(Clone, Debug)]
pub struct CalendarRead {
    /// The calendar, as configured.
    pub url: String,
    /// What came, or why nothing did.
    pub outcome: Result<Fetched, String>,
}

/// Starts reading `calendars` (none: nothing starts); `validators` are the versions of
/// the copies the engine keeps, so a round can be a "not modified".
pub fn spawn(
    calendars: Vec<CalendarConfig>,
    validators: CalendarValidators,
    reports: mpsc::UnboundedSender<CalendarRead>,
) -> Option<tokio::task::AbortHandle> {
    if calendars.is_empty() {
        return None;
    }
    Some(tokio::spawn(read_forever(calendars, validators, reports)).abort_handle())
}

async fn read_forever(
    calendars: Vec<CalendarConfig>,
    validators: CalendarValidators,
    reports: mpsc::UnboundedSender<CalendarRead>,
) {
    let client = match CalendarClient::new() {
        Ok(client) => client,
        Err(error) => {
            for calendar in &calendars {
                let _ = reports.send(CalendarRead {
                    url: calendar.url.to_string(),
                    outcome: Err(error.to_string()),
                });
            }
            return;
        }
    };
    loop {
        // Read again each round: a password stored since is used at the next one.
        let configured = calendars.clone();
        let sources = match tokio::task::spawn_blocking(move || sources(configured)).await {
            Ok(sources) => sources,
            Err(error) => {
                tracing::error!(%error, "could not read the calendars' passwords");
                return;
            }
        };
        for (url, source) in &sources {
            let outcome = match source {
                Ok(source) => {
                    let now = Timestamp::now();
                    let from = now.checked_sub(READ_BEHIND).unwrap_or(now);
                    let until = now.checked_add(READ_AHEAD).unwrap_or(now);
                    client
                        .fetch(source, validators.of(url).as_deref(), from, until)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(problem) => Err(problem.clone()),
            };
            if reports
                .send(CalendarRead {
                    url: url.clone(),
                    outcome,
                })
                .is_err()
            {
                return;
            }
        }
        tokio::time::sleep(REFRESH).await;
    }
}

/// Each calendar's address and sign-in, or why it cannot be read. Blocking (keyring).
fn sources(calendars: Vec<CalendarConfig>) -> Vec<(String, Result<CalendarSource, String>)> {
    let needs_keyring = calendars.iter().any(|c| c.user.is_some());
    let secrets = needs_keyring.then(Secrets::open);
    calendars
        .into_iter()
        .map(|calendar| {
            let url = calendar.url.to_string();
            let source = (|| {
                let fetch = calendar
                    .url
                    .to_fetch()
                    .parse()
                    .map_err(|e| format!("{url} is not a usable address: {e}"))?;
                let sign_in = match (&calendar.user, &secrets) {
                    (None, _) => None,
                    (Some(user), Some(Ok(secrets))) => {
                        let password = secrets
                            .token(KEYRING, &url)
                            .map_err(|e| e.to_string())?
                            .ok_or_else(|| {
                                format!(
                                    "no password for {url} in the keyring; run `deepwork plan password {url}`"
                                )
                            })?;
                        Some((user.clone(), password))
                    }
                    (Some(_), Some(Err(error))) => return Err(error.to_string()),
                    (Some(_), None) => None,
                };
                Ok(CalendarSource {
                    url: fetch,
                    caldav: calendar.caldav,
                    sign_in,
                })
            })();
            (url, source)
        })
        .collect()
}

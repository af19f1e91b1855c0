//! Slack, over the Web API with a user token: the profile status (`users.profile.get`
//! / `users.profile.set`, 100 characters, with an expiration), do-not-disturb
//! (`dnd.info`, `dnd.setSnooze`, `dnd.endSnooze`), direct messages polled with
//! `conversations.list` + `conversations.history` or, with an app-level token, pushed
//! by Socket Mode (`apps.connections.open`, then `events_api` envelopes acknowledged by
//! `envelope_id`: `message` events in direct conversations and messages or
//! `app_mention`s naming the user), and auto-replies with `chat.postMessage` carrying
//! metadata that marks them, so no Deepwork answers them. Each held message gets its
//! link from `chat.getPermalink`; answers where items live are read back with
//! `conversations.history` and `conversations.replies` (see `follow_up`).
//! Errors come as HTTP 200 with `"ok": false`; rate limits as HTTP 429 with
//! `Retry-After` (seconds).

use crate::{
    AdapterError, Batch, FocusStatus, MessageSource, Post, PostedMessage, Poster, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot,
};
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod api;
mod follow_up;
mod messages;
use messages::Feed;
mod sign_in;
mod text;

pub use sign_in::{SlackSignIn, USER_SCOPES, start_sign_in};

const NAME: &str = "slack";
/// Slack's limit for `status_text`.
const STATUS_LIMIT: usize = 100;
/// The emoji shown with the focus status.
pub const FOCUS_EMOJI: &str = ":headphones:";
/// The metadata event type that marks Deepwork's auto-replies.
pub const AUTO_REPLY_EVENT: &str = "deepwork_auto_reply";
/// The longest a fetch waits between polls: `conversations.history` is a Tier 3
/// method (about 50 calls a minute), and each poll reads every direct conversation.
const POLL_INTERVAL: Duration = Duration::from_secs(20);
/// A Socket Mode connection nobody has read from for this long is closed: sessions
/// read continuously, so it is not needed between them.
const SOCKET_IDLE: Duration = Duration::from_secs(120);
/// Slack's clock (its `Date` header, whole seconds) within this of ours counts as ours.
const CLOCKS_AGREE: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);
/// How long Slack may take to say hello on a new connection.
const HELLO: Duration = Duration::from_secs(15);

/// A Slack account, by its user token (`xoxp-…`).
#[derive(Debug)]
pub struct SlackAdapter {
    http: reqwest::Client,
    api: Url,
    token: String,
    /// The app-level token (`xapp-…`) that opens Socket Mode connections, if given.
    app_token: Option<String>,
    me: tokio::sync::OnceCell<String>,
    /// The live Socket Mode connection, if one is open.
    feed: tokio::sync::Mutex<Option<Arc<Feed>>>,
    /// People's and channels' names by id, asked once each.
    names: Mutex<HashMap<String, String>>,
    /// How far Slack's clock (its answers' `Date`) is ahead of ours: read positions
    /// are Slack timestamps, so "now" must be Slack's now.
    clock_offset: Mutex<Option<jiff::SignedDuration>>,
}

/// The status and do-not-disturb state from before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SlackStatus {
    status_text: String,
    status_emoji: String,
    /// Unix seconds; 0 for none.
    status_expiration: i64,
    snooze_enabled: bool,
    /// Unix seconds, when snoozed.
    snooze_endtime: Option<i64>,
}

impl SlackAdapter {
    /// An adapter for the Web API at `api` (normally `https://slack.com/api/`).
    pub fn new(api: &str, token: String) -> Result<Self, AdapterError> {
        let mut api = Url::parse(api).map_err(|e| AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("the Slack API address {api:?} is not a URL ({e})"),
        })?;
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        let http = crate::http::client(NAME, Some(Duration::from_secs(30)))?;
        Ok(SlackAdapter {
            http,
            api,
            token,
            app_token: None,
            me: tokio::sync::OnceCell::new(),
            feed: tokio::sync::Mutex::default(),
            names: Mutex::default(),
            clock_offset: Mutex::default(),
        })
    }

    /// Messages are pushed over Socket Mode, opened with this app-level token, instead
    /// of polled; mentions in channels are read too.
    #[must_use]
    pub fn with_app_token(mut self, app_token: String) -> Self {
        self.app_token = Some(app_token);
        self
    }

    /// A Web API call with the user token, its answer read as `T` (`IgnoredAny` where
    /// only success matters).
    async fn call<T: DeserializeOwned>(&self, method: &str, body: Body) -> Result<T, AdapterError> {
        self.call_as(&self.token, method, body).await
    }

    async fn call_as<T: DeserializeOwned>(
        &self,
        token: &str,
        method: &str,
        body: Body,
    ) -> Result<T, AdapterError> {
        let url = self
            .api
            .join(method)
            .map_err(|e| malformed(&e.to_string()))?;
        let request = self.http.post(url).bearer_auth(token);
        let request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(fields) => request.form(&fields),
        };
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date)
        {
            // `Date` has whole seconds, so within a couple of seconds the clocks agree
            // and ours, to the microsecond, is the better measure of "now".
            let offset = date.duration_since(jiff::Timestamp::now());
            let offset = if offset.abs() <= CLOCKS_AGREE {
                jiff::SignedDuration::ZERO
            } else {
                offset
            };
            *self.clock_offset.lock().expect("clock") = Some(offset);
        }
        let status = response.status();
        // Slack answers most refusals as HTTP 200 with `ok: false` (below); these come
        // as statuses.
        let refused = [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
        ];
        if refused.contains(&status) || status.is_server_error() {
            let refusal = crate::http::Refusal {
                adapter: NAME,
                status,
                retry_after: crate::http::retry_after(response.headers(), jiff::Timestamp::now()),
                default_wait: Duration::from_secs(30),
                detail: method.to_owned(),
            };
            return Err(refusal.into_error(|status| {
                format!("the Slack token was refused (HTTP {status}); connect Slack again")
            }));
        }
        let answer = response
            .bytes()
            .await
            .map_err(|e| unavailable(&format!("{method}: {e}")))?;
        let envelope: api::Envelope = serde_json::from_slice(&answer)
            .map_err(|e| malformed(&format!("{method}: not JSON ({e})")))?;
        if envelope.ok {
            return serde_json::from_slice(&answer)
                .map_err(|e| malformed(&format!("{method}: unexpected answer ({e})")));
        }
        let error = envelope.error.as_deref().unwrap_or("unknown_error");
        Err(match error {
            "not_authed" | "invalid_auth" | "token_revoked" | "token_expired"
            | "account_inactive" => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("the Slack token was refused ({error}); connect Slack again"),
            },
            "missing_scope" => AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!(
                    "the Slack token lacks the scope {}; add it to the app's user token scopes and reinstall",
                    envelope.needed.as_deref().unwrap_or("needed for this")
                ),
            },
            "ratelimited" => AdapterError::RateLimited {
                adapter: NAME.into(),
                retry_after: Duration::from_secs(30),
            },
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                unavailable(&format!("{method}: {error}"))
            }
            other => malformed(&format!("{method}: {other}")),
        })
    }

    async fn set_profile(
        &self,
        text: &str,
        emoji: &str,
        expiration: i64,
    ) -> Result<(), AdapterError> {
        let profile = json!({ "profile": { "status_text": text, "status_emoji": emoji, "status_expiration": expiration } });
        self.call::<IgnoredAny>("users.profile.set", Body::Json(profile))
            .await
            .map(drop)
    }

    async fn snooze(&self, minutes: i64) -> Result<(), AdapterError> {
        self.call::<IgnoredAny>(
            "dnd.setSnooze",
            Body::Form(vec![("num_minutes", minutes.max(1).to_string())]),
        )
        .await
        .map(drop)
    }

    async fn end_snooze(&self) -> Result<(), AdapterError> {
        match self.call::<IgnoredAny>("dnd.endSnooze", Body::None).await {
            Ok(_) => Ok(()),
            // Nothing to end is what we wanted.
            Err(AdapterError::Malformed { detail, .. })
                if detail.ends_with("snooze_not_active") =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl SlackAdapter {
    /// The token's own user id (`auth.test`), asked once.
    async fn me(&self) -> Result<&str, AdapterError> {
        self.me
            .get_or_try_init(|| async {
                let who: api::AuthTest = self.call("auth.test", Body::None).await?;
                Ok::<_, AdapterError>(who.user_id)
            })
            .await
            .map(String::as_str)
    }
}

/// A Slack timestamp for `at`, as a read position.
fn ts_at(at: jiff::Timestamp) -> String {
    format!("{}.{:06}", at.as_second(), at.subsec_microsecond())
}

/// An HTTP `Date` (RFC 9110's IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT").
fn http_date(value: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Orders Slack timestamps (`seconds.micros`) by value.
fn ts_key(ts: &str) -> (i64, i64) {
    let (seconds, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (seconds.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

fn minutes_until(until: i64, now: i64) -> i64 {
    (until - now + 59) / 60
}

#[async_trait]
impl StatusAdapter for SlackAdapter {
    fn name(&self) -> &str {
        NAME
    }

    fn status_limit(&self) -> usize {
        STATUS_LIMIT
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let api::ProfileAnswer { profile } = self.call("users.profile.get", Body::None).await?;
        let dnd: api::DndInfo = self.call("dnd.info", Body::None).await?;
        let status = SlackStatus {
            status_text: profile.status_text,
            status_emoji: profile.status_emoji,
            status_expiration: profile.status_expiration,
            snooze_enabled: dnd.snooze_enabled,
            snooze_endtime: dnd.snooze_endtime,
        };
        let data = serde_json::to_value(status).map_err(|e| malformed(&e.to_string()))?;
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        let until = status.until.as_second();
        self.set_profile(&status.text, FOCUS_EMOJI, until).await?;
        self.snooze(minutes_until(until, jiff::Timestamp::now().as_second()))
            .await
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        let before: SlackStatus = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored status: {e}")))?;
        let now = jiff::Timestamp::now().as_second();
        // A status that would have expired during the session is not brought back.
        let expired = before.status_expiration != 0 && before.status_expiration <= now;
        if expired {
            self.set_profile("", "", 0).await?;
        } else {
            self.set_profile(
                &before.status_text,
                &before.status_emoji,
                before.status_expiration,
            )
            .await?;
        }
        match before
            .snooze_endtime
            .filter(|end| before.snooze_enabled && *end > now)
        {
            Some(end) => self.snooze(minutes_until(end, now)).await,
            None => self.end_snooze().await,
        }
    }
}

#[async_trait]
impl MessageSource for SlackAdapter {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            return Ok(Batch {
                messages: Vec::new(),
                cursor: self.slack_now().await?,
            });
        };
        let found = if self.app_token.is_some() {
            self.pushed(cursor).await?
        } else {
            let found = self.read_direct(cursor).await?;
            if found.is_empty() {
                // Slack has no long poll for user tokens: pace the polls instead.
                tokio::time::sleep(wait.min(POLL_INTERVAL)).await;
            }
            found
        };
        let found = self.linked(self.readable(found).await).await;
        let newest = found
            .last()
            .map_or_else(|| cursor.to_owned(), |m| m.id.clone());
        Ok(Batch {
            messages: found,
            cursor: newest,
        })
    }
}

#[async_trait]
impl Replier for SlackAdapter {
    async fn reply(&self, to: &ReplyTarget, text: &str) -> Result<(), AdapterError> {
        let body = json!({
            "channel": to.conversation,
            "text": text,
            "metadata": { "event_type": AUTO_REPLY_EVENT, "event_payload": {} },
        });
        self.call::<IgnoredAny>("chat.postMessage", Body::Json(body))
            .await
            .map(drop)
    }
}

#[async_trait]
impl Poster for SlackAdapter {
    /// `chat.postMessage` takes a channel's id or its name.
    async fn post(&self, channel: &str, post: &Post) -> Result<PostedMessage, AdapterError> {
        let body = json!({
            "channel": channel,
            "text": post.slack,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let sent: api::PostedMessage = self.call("chat.postMessage", Body::Json(body)).await?;
        let asked = Body::Form(vec![("channel", sent.channel), ("message_ts", sent.ts)]);
        let link = match self
            .call::<api::Permalink>("chat.getPermalink", asked)
            .await
        {
            Ok(link) => Some(link.permalink),
            Err(error) => {
                tracing::debug!(%error, "no link for a posted Slack message");
                None
            }
        };
        Ok(PostedMessage { link })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_read() {
        assert_eq!(
            super::http_date("Sun, 06 Nov 1994 08:49:37 GMT").map(|t| t.as_second()),
            Some(784_111_777)
        );
        assert_eq!(super::http_date("yesterday"), None);
    }

    #[test]
    fn snoozes_round_up_to_whole_minutes() {
        assert_eq!(super::minutes_until(1_000 + 60, 1_000), 1);
        assert_eq!(super::minutes_until(1_000 + 61, 1_000), 2);
        assert_eq!(super::minutes_until(1_000 + 7_200, 1_000), 120);
    }
}

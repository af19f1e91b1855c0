//! Microsoft Teams, over Microsoft Graph with delegated permissions: the user signs in
//! with the device-code flow (`/oauth2/v2.0/devicecode`, then `/oauth2/v2.0/token`
//! polled while `authorization_pending`); the refresh token is kept (and replaced when
//! the server rotates it) and access tokens are taken from it as needed. Presence is an
//! application presence session (`setPresence` with the app's id as `sessionId`,
//! DoNotDisturb, at most PT4H, so renewed for longer sessions; `clearPresence` at the
//! end) plus the status message (`setStatusMessage` with `expiryDateTime`). Chat
//! messages are polled (`/me/chats` by their last message, then each active chat's
//! messages by `lastModifiedDateTime`), each linked by its `webUrl`; answers where items
//! live are read back from the same messages (see `follow_up`). Errors come as
//! `{"error": {"code", "message"}}`; rate limits as HTTP 429 with `Retry-After`.

use crate::http::segment;
use crate::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Post,
    PostedMessage, Poster, Replier, ReplyTarget, StatusAdapter, StatusSnapshot, plain,
};
use async_trait::async_trait;
use graph::{
    DateTimeTimeZone, GraphRefusal, ItemBody, OauthRefusal, Presence, StatusMessage, Tokens, User,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod follow_up;
mod graph;
mod messages;
mod sign_in;

pub use sign_in::{DeviceCode, PendingSignIn, start_sign_in};

const NAME: &str = "teams";
/// Teams' limit for a status message.
const STATUS_LIMIT: usize = 280;
/// The delegated permissions Deepwork asks for at sign-in.
pub const SCOPES: &str =
    "offline_access User.Read Presence.ReadWrite Chat.Read ChatMessage.Send ChannelMessage.Send";
/// The longest an application presence session may be set for.
const LONGEST_PRESENCE: SignedDuration = SignedDuration::from_hours(4);
/// The shortest, too.
const SHORTEST_PRESENCE: SignedDuration = SignedDuration::from_mins(5);
/// A presence session is renewed this long before it would lapse.
const RENEW_AHEAD: SignedDuration = SignedDuration::from_mins(10);
/// How often chats are polled: Graph has no long poll for chats, and its Teams limits
/// are per app and tenant, shared with everyone using the same app.
const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// The longest an access token is trusted, whatever the platform says (seconds).
const LONGEST_TOKEN: u64 = 24 * 3600;
/// The longest wait between polls of a device-code sign-in, and the longest a code is
/// waited for, whatever the platform says (seconds).
const LONGEST_POLL: u64 = 60;
const LONGEST_CODE: u64 = 3600;
/// An access token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(120);
/// The auto-replies remembered (by id); far more than a day of sessions sends.
const AUTO_REPLIES_KEPT: usize = 1000;

/// Where the sign-in and Graph live, and which app registration signs in.
#[derive(Clone, Debug)]
pub struct TeamsEndpoints {
    /// The identity platform, normally `https://login.microsoftonline.com/`.
    pub authority: Url,
    /// The tenant: `organizations`, a domain, or a tenant id.
    pub tenant: String,
    /// Graph, normally `https://graph.microsoft.com/v1.0/`.
    pub graph: Url,
    /// The app registration's client id; also the presence session's id.
    pub client_id: String,
}

impl TeamsEndpoints {
    /// The endpoints from configured addresses.
    pub fn new(
        authority: &str,
        tenant: &str,
        graph: &str,
        client_id: &str,
    ) -> Result<Self, AdapterError> {
        let parse = |what: &str, address: &str| {
            let mut url = Url::parse(address).map_err(|e| AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("the {what} address {address:?} is not a URL ({e})"),
            })?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok::<_, AdapterError>(url)
        };
        Ok(TeamsEndpoints {
            authority: parse("sign-in", authority)?,
            tenant: tenant.to_owned(),
            graph: parse("Graph", graph)?,
            client_id: client_id.to_owned(),
        })
    }

    fn oauth(&self, what: &str) -> Result<Url, AdapterError> {
        self.authority
            .join(&format!("{}/oauth2/v2.0/{what}", self.tenant))
            .map_err(|e| malformed(&e.to_string()))
    }
}
/// What the identity platform answered instead of tokens.
#[derive(Debug)]
enum OauthError {
    /// An OAuth error code and its description.
    Refused { error: String, description: String },
    /// The platform could not be reached or failed.
    Failed(AdapterError),
}

impl From<OauthError> for AdapterError {
    fn from(error: OauthError) -> Self {
        match error {
            OauthError::Failed(error) => error,
            OauthError::Refused { error, description } => match error.as_str() {
                "invalid_grant" | "interaction_required" | "consent_required" => {
                    unauthorized(&format!(
                        "the Teams sign-in is no longer valid ({error}); run `deepwork adapters connect teams`"
                    ))
                }
                "invalid_client" | "unauthorized_client" | "invalid_scope" => {
                    unauthorized(&format!(
                        "the app registration was refused ({error}: {}); check [adapters.teams] client_id and that it allows public client flows",
                        first_line(&description)
                    ))
                }
                _ => malformed(&format!("{error}: {}", first_line(&description))),
            },
        }
    }
}

async fn oauth_post<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: Url,
    form: &[(&str, &str)],
) -> Result<T, OauthError> {
    let response = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| OauthError::Failed(unavailable(&e.to_string())))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(OauthError::Failed(unavailable(&format!(
            "sign-in: HTTP {status}"
        ))));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| OauthError::Failed(unavailable(&e.to_string())))?;
    let unexpected = |e: serde_json::Error| {
        OauthError::Failed(malformed(&format!("sign-in: unexpected answer ({e})")))
    };
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(unexpected);
    }
    let refusal: OauthRefusal = serde_json::from_slice(&body).map_err(unexpected)?;
    Err(OauthError::Refused {
        error: if refusal.error.is_empty() {
            "unknown_error".into()
        } else {
            refusal.error
        },
        description: refusal.error_description,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::unavailable(NAME, detail)
}

fn malformed(detail: &str) -> AdapterError {
    AdapterError::malformed(NAME, detail)
}

fn unauthorized(fix: &str) -> AdapterError {
    AdapterError::Unauthorized {
        adapter: NAME.into(),
        fix: fix.to_owned(),
    }
}

/// Called with a new refresh token when the identity platform replaces the old one, so
/// it can be kept (in the keyring) for the next start.
pub type KeepRefreshToken = Box<dyn Fn(&str) + Send + Sync>;

/// A Teams account, by the refresh token from its sign-in.
pub struct TeamsAdapter {
    inner: Arc<Inner>,
    /// Keeps the presence session alive past Graph's four hours.
    renewal: Mutex<Option<tokio::task::AbortHandle>>,
    /// The ids of the auto-replies sent, newest last: sent as the user, they must not
    /// pass for the user's answers.
    auto_replies: Mutex<VecDeque<String>>,
}

impl std::fmt::Debug for TeamsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsAdapter")
            .field("endpoints", &self.inner.endpoints)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    endpoints: TeamsEndpoints,
    refresh_token: Mutex<String>,
    access: tokio::sync::Mutex<Option<(String, Instant)>>,
    keep: KeepRefreshToken,
    me: tokio::sync::OnceCell<String>,
}

/// The presence and status message from before a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TeamsStatus {
    availability: String,
    /// The status message as Graph keeps it, if one was set.
    status_message: Option<StatusMessage>,
}

impl TeamsAdapter {
    /// An adapter signing in with `refresh_token`; `keep` stores its replacements.
    pub fn new(
        endpoints: TeamsEndpoints,
        refresh_token: String,
        keep: KeepRefreshToken,
    ) -> Result<Self, AdapterError> {
        Ok(TeamsAdapter {
            inner: Arc::new(Inner {
                http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
                endpoints,
                refresh_token: Mutex::new(refresh_token),
                access: tokio::sync::Mutex::default(),
                keep,
                me: tokio::sync::OnceCell::new(),
            }),
            renewal: Mutex::default(),
            auto_replies: Mutex::default(),
        })
    }

    fn stop_renewal(&self) {
        if let Some(task) = self.renewal.lock().expect("renewal").take() {
            task.abort();
        }
    }
}

impl Drop for TeamsAdapter {
    /// A renewal outliving its adapter (the engine reconnected the platforms) would
    /// set do-not-disturb again after the new one restored the status.
    fn drop(&mut self) {
        self.stop_renewal();
    }
}

impl Inner {
    /// A valid access token, from the refresh token when the last one is near expiry.
    async fn access_token(&self) -> Result<String, AdapterError> {
        let mut access = self.access.lock().await;
        if let Some((token, until)) = access.as_ref()
            && Instant::now() + TOKEN_MARGIN < *until
        {
            return Ok(token.clone());
        }
        let refresh = self.refresh_token.lock().expect("refresh token").clone();
        let tokens: Tokens = oauth_post(
            &self.http,
            self.endpoints.oauth("token")?,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &self.endpoints.client_id),
                ("refresh_token", &refresh),
                ("scope", SCOPES),
            ],
        )
        .await?;
        let token = tokens
            .access_token
            .ok_or_else(|| malformed("token: no access_token"))?;
        // Access tokens last about an hour; a claim of years would overflow the clock
        // and keep a revoked token in use.
        let lifetime = Duration::from_secs(tokens.expires_in.unwrap_or(3600).min(LONGEST_TOKEN));
        if let Some(rotated) = tokens.refresh_token
            && rotated != refresh
        {
            (self.keep)(&rotated);
            *self.refresh_token.lock().expect("refresh token") = rotated;
        }
        *access = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// A Graph call, its answer read as `T` (`IgnoredAny` where only success matters).
    async fn graph<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, AdapterError> {
        let url = self
            .endpoints
            .graph
            .join(path)
            .map_err(|e| malformed(&e.to_string()))?;
        // One retry with a fresh token: an access token can be revoked before it expires.
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&token)
                .query(query);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| unavailable(&e.to_string()))?;
            let status = response.status();
            let retry_after = crate::http::retry_after(response.headers(), jiff::Timestamp::now());
            let text = response
                .text()
                .await
                .map_err(|e| unavailable(&e.to_string()))?;
            if status.is_success() {
                // Calls that succeed with no content (204) answer nothing to read.
                let text = if text.trim().is_empty() {
                    "null"
                } else {
                    &text
                };
                return serde_json::from_str(text)
                    .map_err(|e| malformed(&format!("{path}: unexpected answer ({e})")));
            }
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                // The access token lapsed early: renew it once and ask again.
                *self.access.lock().await = None;
                continue;
            }
            let error = serde_json::from_str::<GraphRefusal>(&text)
                .unwrap_or_default()
                .error;
            let code = error.code.as_str();
            let message = first_line(&error.message);
            let refusal = crate::http::Refusal {
                adapter: NAME,
                status,
                retry_after,
                default_wait: Duration::from_secs(30),
                detail: format!("{path}: {code} {message}"),
            };
            return Err(refusal.into_error(|status| match status {
                StatusCode::UNAUTHORIZED => format!(
                    "Graph refused the sign-in ({code}); run `deepwork adapters connect teams`"
                ),
                _ => format!(
                    "the Teams account may not do this ({code}: {message}); grant the app the permissions {SCOPES} and sign in again"
                ),
            }));
        }
        Err(unauthorized(
            "Graph refused the sign-in; run `deepwork adapters connect teams`",
        ))
    }

    /// The signed-in user's id, asked once.
    async fn me(&self) -> Result<&str, AdapterError> {
        self.me
            .get_or_try_init(|| async {
                let me: User = self.graph(Method::GET, "me", &[], None).await?;
                Ok::<_, AdapterError>(me.id)
            })
            .await
            .map(String::as_str)
    }

    /// Sets Deepwork's presence session to do-not-disturb for as long as Graph allows,
    /// up to `until`; returns when it lapses.
    async fn set_presence(&self, until: Timestamp) -> Result<Timestamp, AdapterError> {
        let me = self.me().await?.to_owned();
        let now = Timestamp::now();
        let minutes = presence_minutes(now, until);
        let body = json!({
            "sessionId": self.endpoints.client_id,
            "availability": "DoNotDisturb",
            "activity": "Presenting",
            "expirationDuration": format!("PT{minutes}M"),
        });
        self.graph::<IgnoredAny>(
            Method::POST,
            &format!("users/{me}/presence/setPresence"),
            &[],
            Some(body),
        )
        .await?;
        Ok(now + SignedDuration::from_mins(minutes))
    }

    async fn set_status_message(&self, status_message: &StatusMessage) -> Result<(), AdapterError> {
        let me = self.me().await?.to_owned();
        self.graph::<IgnoredAny>(
            Method::POST,
            &format!("users/{me}/presence/setStatusMessage"),
            &[],
            Some(json!({ "statusMessage": status_message })),
        )
        .await
        .map(drop)
    }
}

/// How long, in whole minutes, a presence set at `now` for a session ending `until`
/// is asked to last: to the end, within Graph's five minutes to four hours.
fn presence_minutes(now: Timestamp, until: Timestamp) -> i64 {
    let length = until
        .duration_since(now)
        .clamp(SHORTEST_PRESENCE, LONGEST_PRESENCE);
    (length.as_secs() + 59) / 60
}

/// Graph's `dateTimeTimeZone` for an instant, in UTC.
fn graph_time(at: Timestamp) -> DateTimeTimeZone {
    DateTimeTimeZone {
        date_time: at.strftime("%Y-%m-%dT%H:%M:%S%.7f").to_string(),
        time_zone: "UTC".into(),
    }
}

/// When a status message lapses, if it has an expiry Deepwork can read (Graph reports
/// it in UTC for the signed-in user).
fn expiry_of(status_message: &StatusMessage) -> Option<Timestamp> {
    let expiry = status_message.expiry_date_time.as_ref()?;
    if expiry.time_zone != "UTC" {
        return None;
    }
    let civil: jiff::civil::DateTime = expiry.date_time.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[async_trait]
impl StatusAdapter for TeamsAdapter {
    fn name(&self) -> &str {
        NAME
    }

    fn status_limit(&self) -> usize {
        STATUS_LIMIT
    }

    async fn snapshot(&self) -> Result<StatusSnapshot, AdapterError> {
        let presence: Presence = self
            .inner
            .graph(Method::GET, "me/presence", &[], None)
            .await?;
        let before = TeamsStatus {
            availability: presence
                .availability
                .unwrap_or_else(|| "PresenceUnknown".into()),
            status_message: presence
                .status_message
                .filter(|m| !m.message.content.is_empty()),
        };
        Ok(StatusSnapshot {
            adapter: NAME.into(),
            data: serde_json::to_value(before).map_err(|e| malformed(&e.to_string()))?,
        })
    }

    async fn set_focus(&self, status: &FocusStatus) -> Result<(), AdapterError> {
        self.stop_renewal();
        let lapses = self.inner.set_presence(status.until).await?;
        self.inner
            .set_status_message(&StatusMessage {
                message: ItemBody::text(&status.text),
                expiry_date_time: Some(graph_time(status.until)),
            })
            .await?;
        if lapses < status.until {
            let inner = self.inner.clone();
            let until = status.until;
            let task = tokio::spawn(async move {
                let mut lapses = lapses;
                while lapses < until {
                    let renew_at = lapses - RENEW_AHEAD;
                    let wait = renew_at
                        .duration_since(Timestamp::now())
                        .max(SignedDuration::ZERO);
                    tokio::time::sleep(wait.unsigned_abs()).await;
                    match inner.set_presence(until).await {
                        Ok(next) => lapses = next,
                        Err(error) => {
                            tracing::warn!(%error, "could not renew the Teams presence; trying again in a minute");
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                    }
                }
            });
            *self.renewal.lock().expect("renewal") = Some(task.abort_handle());
        }
        Ok(())
    }

    async fn restore(&self, snapshot: &StatusSnapshot) -> Result<(), AdapterError> {
        self.stop_renewal();
        let before: TeamsStatus = serde_json::from_value(snapshot.data.clone())
            .map_err(|e| malformed(&format!("stored status: {e}")))?;
        let me = self.inner.me().await?.to_owned();
        // Only Deepwork's own session goes: the user's other sessions and their own
        // preferred presence were never touched.
        self.inner
            .graph::<IgnoredAny>(
                Method::POST,
                &format!("users/{me}/presence/clearPresence"),
                &[],
                Some(json!({ "sessionId": self.inner.endpoints.client_id })),
            )
            .await?;
        let expired = before
            .status_message
            .as_ref()
            .and_then(expiry_of)
            .is_some_and(|at| at <= Timestamp::now());
        let status_message = before
            .status_message
            .filter(|_| !expired)
            .unwrap_or(StatusMessage {
                message: ItemBody::text(""),
                expiry_date_time: None,
            });
        self.inner.set_status_message(&status_message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_lasts_to_the_end_within_graphs_limits() {
        let now: Timestamp = "2026-11-25T09:00:00Z".parse().unwrap();
        let after = |minutes: i64| now + SignedDuration::from_mins(minutes);
        assert_eq!(presence_minutes(now, after(120)), 120);
        assert_eq!(presence_minutes(now, after(360)), 240, "renewed later");
        assert_eq!(presence_minutes(now, after(1)), 5);
        assert_eq!(
            presence_minutes(now, now + SignedDuration::from_secs(61)),
            5
        );
        assert_eq!(
            presence_minutes(now, now + SignedDuration::from_secs(3_630)),
            61
        );
    }

    #[test]
    fn graph_times_round_trip_in_utc() {
        let at: Timestamp = "2026-11-25T14:00:00Z".parse().unwrap();
        let message = StatusMessage {
            message: ItemBody::text("Deep work"),
            expiry_date_time: Some(graph_time(at)),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap()["expiryDateTime"]["dateTime"],
            "2026-11-25T14:00:00.0000000"
        );
        assert_eq!(expiry_of(&message), Some(at));
        let elsewhere: StatusMessage = serde_json::from_value(json!({
            "message": { "content": "Away", "contentType": "text" },
            "expiryDateTime": { "dateTime": "2026-11-25T14:00:00", "timeZone": "Pacific Standard Time" },
            "publishedDateTime": "2026-11-25T08:00:00Z",
        }))
        .unwrap();
        assert_eq!(expiry_of(&elsewhere), None);
    }
}

//! Google Docs, read-only: comments and replies by others on the user's documents,
//! through the Drive API v3 (`comments.list` with `startModifiedTime`). Signed in with
//! OAuth for installed apps (loopback and PKCE); the refresh token is kept, access
//! tokens are renewed as they lapse. Strategic by default, as the response matrix has
//! documents.

use crate::http::{Lenient, Refusal};
use crate::loopback::Loopback;
use crate::pace::Pace;
use crate::{
    AdapterError, Addressed, Answered, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
    ReplyTarget,
};
use async_trait::async_trait;
use deepwork_core::Class;
use jiff::{SignedDuration, Timestamp};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const NAME: &str = "gdocs";
/// Reading comments needs read access to the files; Drive has no narrower scope for it.
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";
/// Comments are strategic (48 h): one round of the documents every two minutes.
const POLL: Duration = Duration::from_secs(120);
/// How many of the user's most recently modified documents are watched.
const WATCHED_DOCS: usize = 20;
const DOCS_REFRESH: Duration = Duration::from_secs(30 * 60);
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// The longest an access token is kept, whatever the answer says (Google's last an hour).
const LONGEST_TOKEN: u64 = 24 * 3600;
/// An access token is renewed this long before it lapses.
const TOKEN_MARGIN: Duration = Duration::from_secs(120);
/// Comments asked for from a little before the last read, in case Drive's clock and
/// index disagree; the store knows the ones already held.
const OVERLAP: SignedDuration = SignedDuration::from_secs(120);
const COMMENT_FIELDS: &str = "nextPageToken,comments(id,content,author(displayName,me),createdTime,deleted,quotedFileContent(value),replies(id,content,author(displayName,me),createdTime,deleted,action))";

/// Where Google signs in and serves Drive.
#[derive(Clone, Debug)]
pub struct GoogleEndpoints {
    /// The consent page, `https://accounts.google.com/o/oauth2/v2/auth`.
    pub authorize: Url,
    /// The token endpoint, `https://oauth2.googleapis.com/token`.
    pub token: Url,
    /// The Drive API, `https://www.googleapis.com/`.
    pub drive: Url,
    /// The OAuth client.
    pub client_id: String,
    /// Its secret, which Google issues to desktop clients too.
    pub client_secret: Option<String>,
}

impl GoogleEndpoints {
    /// The endpoints from their addresses; a bad one says which.
    pub fn new(
        authorize: &str,
        oauth: &str,
        drive: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<GoogleEndpoints, AdapterError> {
        let parse = |key: &str, text: &str| {
            Url::parse(text).map_err(|e| AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!("[adapters.gdocs] {key} {text:?} is not an address: {e}"),
            })
        };
        Ok(GoogleEndpoints {
            authorize: parse("authorize", authorize)?,
            token: parse("oauth", &format!("{}/token", oauth.trim_end_matches('/')))?,
            drive: parse("drive", &format!("{}/", drive.trim_end_matches('/')))?,
            client_id: client_id.to_owned(),
            client_secret: client_secret.map(str::to_owned),
        })
    }
}

/// Comments on the user's Google Docs.
#[derive(Debug)]
pub struct GoogleDocsSource {
    http: reqwest::Client,
    endpoints: GoogleEndpoints,
    refresh_token: String,
    account: String,
    access: Mutex<Option<(String, Instant)>>,
    pace: Pace,
    poll: Duration,
    watched: Mutex<Option<(Instant, Vec<Doc>)>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    since: Timestamp,
}

#[derive(Clone, Debug, Deserialize)]
struct Doc {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "webViewLink")]
    link: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Files {
    #[serde(default = "Vec::new")]
    files: Vec<Lenient<Doc>>,
}

#[derive(Debug, Deserialize)]
struct Comments {
    #[serde(default = "Vec::new")]
    comments: Vec<Lenient<Comment>>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    content: String,
    author: Option<Author>,
    #[serde(rename = "createdTime")]
    created: Timestamp,
    #[serde(default)]
    deleted: bool,
    #[serde(rename = "quotedFileContent")]
    quoted: Option<Quoted>,
    #[serde(default)]
    replies: Vec<Lenient<Reply>>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    id: String,
    #[serde(default)]
    content: String,
    author: Option<Author>,
    #[serde(rename = "createdTime")]
    created: Timestamp,
    #[serde(default)]
    deleted: bool,
    /// `resolve` or `reopen`: the thread's state changed, nobody said anything.
    action: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct Author {
    #[serde(rename = "displayName", default)]
    display_name: String,
    #[serde(default)]
    me: bool,
}

#[derive(Debug, Deserialize)]
struct Quoted {
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleRefusal {
    error: GoogleError,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleError {
    message: String,
    errors: Vec<GoogleReason>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GoogleReason {
    reason: String,
}

/// A sign-in waiting for the browser to come back from Google's consent page.
#[derive(Debug)]
pub struct GoogleSignIn {
    loopback: Loopback,
    http: reqwest::Client,
    endpoints: GoogleEndpoints,
}

/// Starts signing in: the consent page to open, and the sign-in to wait on.
pub async fn start_sign_in(
    endpoints: &GoogleEndpoints,
    account: &str,
) -> Result<(String, GoogleSignIn), AdapterError> {
    let loopback = Loopback::open(NAME, "Google", "/gdocs/signed-in").await?;
    let mut page = endpoints.authorize.clone();
    page.query_pairs_mut()
        .append_pair("client_id", &endpoints.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPE)
        // A refresh token, and one even when this client was allowed before.
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("login_hint", account);
    loopback.ask(&mut page);
    let sign_in = GoogleSignIn {
        loopback,
        http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
        endpoints: endpoints.clone(),
    };
    Ok((page.to_string(), sign_in))
}

impl GoogleSignIn {
    /// Waits for the browser, then trades the code for the refresh token to keep.
    pub async fn finish(self) -> Result<String, AdapterError> {
        let code = self.loopback.code().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", &self.loopback.verifier),
            ("redirect_uri", &self.loopback.redirect_uri),
            ("client_id", &self.endpoints.client_id),
        ];
        if let Some(secret) = &self.endpoints.client_secret {
            form.push(("client_secret", secret));
        }
        let answer = token_request(&self.http, &self.endpoints.token, &form).await?;
        answer.refresh_token.ok_or_else(|| {
            AdapterError::malformed(
                NAME,
                "the sign-in gave no refresh token; remove Deepwork's access at myaccount.google.com/permissions and sign in again",
            )
        })
    }
}

async fn token_request(
    http: &reqwest::Client,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<TokenAnswer, AdapterError> {
    let response = http
        .post(url.clone())
        .form(form)
        .send()
        .await
        .map_err(|e| AdapterError::unavailable(NAME, &e.to_string()))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(AdapterError::unavailable(
            NAME,
            &format!("sign-in: HTTP {status}"),
        ));
    }
    let answer: TokenAnswer = response
        .json()
        .await
        .map_err(|e| AdapterError::malformed(NAME, &format!("sign-in: unexpected answer ({e})")))?;
    match &answer.error {
        None if status.is_success() => Ok(answer),
        error => Err(AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!(
                "Google refused the sign-in ({}: {}); run `deepwork adapters connect gdocs`",
                error.as_deref().unwrap_or("unknown_error"),
                answer.error_description.as_deref().unwrap_or_default()
            ),
        }),
    }
}

impl GoogleDocsSource {
    /// Asks every `poll` instead of the usual pace.
    pub fn every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// A source for `account` with the refresh token its sign-in gave.
    pub fn new(
        endpoints: GoogleEndpoints,
        account: &str,
        refresh_token: String,
    ) -> Result<Self, AdapterError> {
        Ok(GoogleDocsSource {
            http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
            endpoints,
            refresh_token,
            account: account.to_lowercase(),
            access: Mutex::new(None),
            pace: Pace::default(),
            poll: POLL,
            watched: Mutex::new(None),
        })
    }

    async fn access_token(&self) -> Result<String, AdapterError> {
        if let Some((token, until)) = &*self.access.lock().unwrap_or_else(|p| p.into_inner())
            && Instant::now() + TOKEN_MARGIN < *until
        {
            return Ok(token.clone());
        }
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("client_id", &self.endpoints.client_id),
        ];
        if let Some(secret) = &self.endpoints.client_secret {
            form.push(("client_secret", secret));
        }
        let answer = token_request(&self.http, &self.endpoints.token, &form).await?;
        let token = answer.access_token.ok_or_else(|| {
            AdapterError::malformed(NAME, "the token answer held no access token")
        })?;
        let lifetime = answer.expires_in.unwrap_or(3600).min(LONGEST_TOKEN);
        let until = Instant::now() + Duration::from_secs(lifetime);
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = Some((token.clone(), until));
        Ok(token)
    }

    /// `GET` on the Drive API; a token that stopped working is renewed once.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(T, Option<Timestamp>), AdapterError> {
        let url = self
            .endpoints
            .drive
            .join(path)
            .map_err(|e| AdapterError::malformed(NAME, &e.to_string()))?;
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let response = self
                .http
                .get(url.clone())
                .bearer_auth(&token)
                .query(query)
                .send()
                .await
                .map_err(|e| AdapterError::unavailable(NAME, &e.to_string()))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                *self.access.lock().unwrap_or_else(|p| p.into_inner()) = None;
                continue;
            }
            let date = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|d| d.to_str().ok())
                .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
                .map(|d| d.timestamp());
            if status.is_success() {
                let body = response.json().await.map_err(|e| {
                    AdapterError::malformed(NAME, &format!("{path}: unexpected answer ({e})"))
                })?;
                return Ok((body, date));
            }
            let retry_after = crate::http::retry_after(response.headers(), Timestamp::now());
            let refused: GoogleRefusal = response.json().await.unwrap_or_default();
            let reasons: Vec<&str> = refused
                .error
                .errors
                .iter()
                .map(|r| r.reason.as_str())
                .collect();
            // Drive says "slow down" with a 403 as often as with a 429.
            let rate_limited = reasons
                .iter()
                .any(|r| matches!(*r, "userRateLimitExceeded" | "rateLimitExceeded"));
            let status = if rate_limited {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                status
            };
            return Err(Refusal {
                adapter: NAME,
                status,
                retry_after,
                default_wait: RATE_LIMIT_WAIT,
                detail: format!("{} {}", reasons.join(","), refused.error.message),
            }
            .into_error(|_| {
                "Google refused access to Drive; run `deepwork adapters connect gdocs` to sign in again".into()
            }));
        }
    }

    async fn docs(&self) -> Result<Vec<Doc>, AdapterError> {
        if let Some((read_at, docs)) = &*self.watched.lock().unwrap_or_else(|p| p.into_inner())
            && read_at.elapsed() < DOCS_REFRESH
        {
            return Ok(docs.clone());
        }
        let size = WATCHED_DOCS.to_string();
        let (files, _): (Files, _) = self
            .get(
                "drive/v3/files",
                &[
                    (
                        "q",
                        "'me' in owners and mimeType = 'application/vnd.google-apps.document' and trashed = false",
                    ),
                    ("orderBy", "modifiedTime desc"),
                    ("pageSize", &size),
                    ("fields", "files(id,name,webViewLink)"),
                ],
            )
            .await?;
        let docs: Vec<Doc> = files
            .files
            .into_iter()
            .filter_map(Lenient::into_read)
            .collect();
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), docs.clone()));
        Ok(docs)
    }

    async fn comments(&self, doc: &Doc, since: Timestamp) -> Result<Vec<Comment>, AdapterError> {
        let from = since
            .checked_sub(OVERLAP)
            .unwrap_or(Timestamp::MIN)
            .to_string();
        let mut comments = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..5 {
            let mut query = vec![
                ("fields", COMMENT_FIELDS),
                ("startModifiedTime", from.as_str()),
                ("pageSize", "100"),
            ];
            if let Some(page) = &page {
                query.push(("pageToken", page));
            }
            let (answer, _): (Comments, _) = self
                .get(
                    &format!("drive/v3/files/{}/comments", crate::http::segment(&doc.id)),
                    &query,
                )
                .await?;
            comments.extend(answer.comments.into_iter().filter_map(Lenient::into_read));
            match answer.next_page_token {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        Ok(comments)
    }

    fn messages(
        &self,
        doc: &Doc,
        comment: Comment,
        since: Timestamp,
    ) -> Vec<(Timestamp, IncomingMessage)> {
        let link = doc.link.as_deref().and_then(|link| Url::parse(link).ok());
        let link_to = |id: &str| {
            link.clone().map(|mut url| {
                url.query_pairs_mut().append_pair("disco", id);
                url.to_string()
            })
        };
        let mentions_me = |text: &str| {
            let lower = text.to_lowercase();
            lower.contains(&format!("+{}", self.account))
                || lower.contains(&format!("@{}", self.account))
        };
        let quoted = comment
            .quoted
            .as_ref()
            .map(|q| q.value.trim())
            .filter(|q| !q.is_empty())
            .map(|q| format!("\n> {}", crate::plain(q)))
            .unwrap_or_default();
        let message = |id: String, author: &Author, title: String, text: &str| IncomingMessage {
            id,
            sender: author.display_name.clone(),
            sender_name: None,
            channel: Some(doc.name.clone()),
            addressed: if mentions_me(text) {
                Addressed::Mention
            } else {
                Addressed::Direct
            },
            text: format!("{title}\n{}{quoted}", crate::plain(text)),
            automated: false,
            url: link_to(&comment.id),
            reply_to: ReplyTarget {
                conversation: format!("{}/{}", doc.id, comment.id),
                sender: author.display_name.clone(),
            },
            usual_class: Some(Class::Strategic),
        };
        let mut found = Vec::new();
        if let Some(author) = comment.author.as_ref().filter(|a| !a.me)
            && !comment.deleted
            && comment.created > since
        {
            found.push((
                comment.created,
                message(
                    format!("comment/{}/{}", doc.id, comment.id),
                    author,
                    format!("Comment on {}", doc.name),
                    &comment.content,
                ),
            ));
        }
        for reply in comment.replies.iter().filter_map(Lenient::as_read) {
            if let Some(author) = reply.author.as_ref().filter(|a| !a.me)
                && !reply.deleted
                && reply.action.is_none()
                && reply.created > since
            {
                found.push((
                    reply.created,
                    message(
                        format!("reply/{}/{}/{}", doc.id, comment.id, reply.id),
                        author,
                        format!("Reply on {}", doc.name),
                        &reply.content,
                    ),
                ));
            }
        }
        found
    }
}

#[async_trait]
impl MessageSource for GoogleDocsSource {
    async fn fetch(&self, cursor: Option<&str>, wait: Duration) -> Result<Batch, AdapterError> {
        let Some(cursor) = cursor else {
            // Checks the sign-in, and reads "now" by Google's clock.
            let (_, date): (serde_json::Value, _) =
                self.get("drive/v3/about", &[("fields", "user")]).await?;
            return Ok(Batch {
                messages: Vec::new(),
                cursor: serde_json::to_string(&Cursor {
                    since: date.unwrap_or_else(Timestamp::now),
                })
                .unwrap_or_default(),
            });
        };
        let mut at: Cursor = serde_json::from_str(cursor)
            .map_err(|_| AdapterError::malformed(NAME, &format!("bad cursor {cursor:?}")))?;
        self.pace
            .paced(cursor, wait, self.poll, || async {
                let mut found = Vec::new();
                for doc in self.docs().await? {
                    for comment in self.comments(&doc, at.since).await? {
                        found.extend(self.messages(&doc, comment, at.since));
                    }
                }
                found.sort_by_key(|(created, _)| *created);
                if let Some((newest, _)) = found.last() {
                    at.since = at.since.max(*newest);
                }
                Ok(Batch {
                    messages: found.into_iter().map(|(_, message)| message).collect(),
                    cursor: serde_json::to_string(&at).unwrap_or_default(),
                })
            })
            .await
    }
}

#[async_trait]
impl FollowUp for GoogleDocsSource {
    /// A reply by the user in the comment's thread after the item came, or their
    /// resolving it: one request per document (a reply moves its comment's modified
    /// time, so only comments changed since the oldest item are listed).
    async fn answered(&self, asked: &[Asked]) -> Result<Vec<Answered>, AdapterError> {
        let mut answered = Vec::new();
        let mut files: Vec<&str> = asked
            .iter()
            .filter_map(|a| a.conversation.split_once('/').map(|(file, _)| file))
            .collect();
        files.sort_unstable();
        files.dedup();
        for file in files {
            let of_file: Vec<&Asked> = asked
                .iter()
                .filter(|a| a.conversation.split_once('/').map(|(f, _)| f) == Some(file))
                .collect();
            let Some(oldest) = of_file.iter().map(|a| a.since).min() else {
                continue;
            };
            let doc = Doc {
                id: file.to_owned(),
                name: String::new(),
                link: None,
            };
            let comments = self.comments(&doc, oldest).await?;
            for item in of_file {
                let Some((_, comment_id)) = item.conversation.split_once('/') else {
                    continue;
                };
                let first = comments
                    .iter()
                    .filter(|c| c.id == comment_id)
                    .flat_map(|c| c.replies.iter().filter_map(Lenient::as_read))
                    .filter(|r| r.author.as_ref().is_some_and(|a| a.me) && !r.deleted)
                    .map(|r| r.created)
                    .filter(|at| *at > item.since)
                    .min();
                if let Some(at) = first {
                    answered.push(Answered {
                        message_id: item.message_id.clone(),
                        at,
                    });
                }
            }
        }
        Ok(answered)
    }
}

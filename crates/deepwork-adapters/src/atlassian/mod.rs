//! Atlassian Cloud, read-only: Jira issues and Confluence pages of one site, signed in
//! with the account's email and an API token (HTTP Basic, as Atlassian's REST docs
//! describe for scripts). What the two share lives here: the requests, refusals and rate
//! limits, the server's clock, and Atlassian Document Format as text.

pub mod confluence;
pub mod jira;

use crate::http::Refusal;
use crate::pace::Pace;
use crate::{AdapterError, Batch, IncomingMessage};
use jiff::{SignedDuration, Timestamp};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

/// Deepwork's own pace for Atlassian's APIs, which set none: one query a minute, far
/// inside their cost-based limits.
const POLL: Duration = Duration::from_secs(60);
/// The wait when a 429 names none.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Items re-read from before the last read, in case the server's clock and its index
/// disagree by a little; the store knows the ones already held.
const OVERLAP: SignedDuration = SignedDuration::from_secs(120);
/// The furthest back a query reaches, however long ago the last read was.
const LONGEST_LOOKBACK_MINUTES: i64 = 7 * 24 * 60;

/// One site, signed in, and how often it is read.
#[derive(Debug)]
pub(crate) struct Site {
    adapter: &'static str,
    /// Where the user's account is asked for (Jira's `/myself`, Confluence's
    /// `/user/current`).
    me_path: &'static str,
    pace: Pace,
    /// How often to ask.
    pub poll: Duration,
    http: reqwest::Client,
    base: Url,
    email: String,
    token: String,
    /// The user's account id, once asked.
    me: Mutex<Option<String>>,
    /// The server's clock less ours, from its last `Date`.
    skew: Mutex<SignedDuration>,
}

/// Where a read stands: items changed after `since` (by the server's clock) are new.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub since: Timestamp,
}

impl Cursor {
    pub(crate) fn parse(adapter: &str, text: &str) -> Result<Cursor, AdapterError> {
        serde_json::from_str(text)
            .map_err(|_| AdapterError::malformed(adapter, &format!("bad cursor {text:?}")))
    }

    pub(crate) fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Refused {
    #[serde(rename = "errorMessages")]
    error_messages: Vec<String>,
    message: Option<String>,
}

impl Site {
    pub(crate) fn new(
        adapter: &'static str,
        me_path: &'static str,
        site: &str,
        email: &str,
        token: String,
    ) -> Result<Site, AdapterError> {
        let with_slash = format!("{}/", site.trim_end_matches('/'));
        let base = Url::parse(&with_slash).map_err(|e| AdapterError::Unauthorized {
            adapter: adapter.into(),
            fix: format!("[adapters.{adapter}] site {site:?} is not an address: {e}"),
        })?;
        Ok(Site {
            adapter,
            me_path,
            pace: Pace::default(),
            poll: POLL,
            http: crate::http::client(adapter, Some(Duration::from_secs(30)))?,
            base,
            email: email.to_owned(),
            token,
            me: Mutex::new(None),
            skew: Mutex::new(SignedDuration::ZERO),
        })
    }

    /// A page of the site, for links.
    pub(crate) fn page(&self, path: &str) -> Option<String> {
        self.base
            .join(path.trim_start_matches('/'))
            .ok()
            .map(String::from)
    }

    /// `GET path?query` as JSON.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, AdapterError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| AdapterError::malformed(self.adapter, &e.to_string()))?;
        let response = self
            .http
            .get(url)
            .basic_auth(&self.email, Some(&self.token))
            .header(reqwest::header::ACCEPT, "application/json")
            .query(query)
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(self.adapter, &e.to_string()))?;
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
        {
            *self.skew.lock().unwrap_or_else(|p| p.into_inner()) =
                date.timestamp().duration_since(Timestamp::now());
        }
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| {
                AdapterError::malformed(self.adapter, &format!("{path}: unexpected answer ({e})"))
            });
        }
        let retry_after = crate::http::retry_after(response.headers(), Timestamp::now());
        let refused: Refused = response.json().await.unwrap_or_default();
        let detail = refused
            .error_messages
            .into_iter()
            .chain(refused.message)
            .collect::<Vec<_>>()
            .join("; ");
        let (adapter, email) = (self.adapter, self.email.clone());
        Err(Refusal {
            adapter,
            status,
            retry_after,
            default_wait: RATE_LIMIT_WAIT,
            detail,
        }
        .into_error(|status| {
            if status == StatusCode::UNAUTHORIZED {
                format!(
                    "the site refused the API token for {email} (wrong, revoked or expired); create one at https://id.atlassian.com/manage-profile/security/api-tokens and run `deepwork adapters token {adapter}`"
                )
            } else {
                format!("{email} may not read this on the site (HTTP {status})")
            }
        }))
    }

    /// Now by the server's clock, as far as its last answer tells.
    pub(crate) fn server_now(&self) -> Timestamp {
        let skew = *self.skew.lock().unwrap_or_else(|p| p.into_inner());
        Timestamp::now()
            .saturating_add(skew)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// The user's account id, asked once.
    pub(crate) async fn me(&self) -> Result<String, AdapterError> {
        if let Some(me) = self.me.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(me);
        }
        #[derive(Deserialize)]
        struct Account {
            #[serde(rename = "accountId")]
            account_id: String,
        }
        let account: Account = self.get(self.me_path, &[]).await?;
        *self.me.lock().unwrap_or_else(|p| p.into_inner()) = Some(account.account_id.clone());
        Ok(account.account_id)
    }

    /// Whole minutes back to reach `since` (with the overlap), for queries that take a
    /// relative time: the server reads absolute ones in the user's own time zone.
    pub(crate) fn minutes_since(&self, since: Timestamp) -> i64 {
        let back = self.server_now().duration_since(since) + OVERLAP;
        (back.as_secs() / 60 + 1).clamp(1, LONGEST_LOOKBACK_MINUTES)
    }
}

impl Site {
    /// One read: the first gives "now" by the server's clock (asking who the user is
    /// checks the token); later ones wait for their turn, then `find` the items changed
    /// after the cursor's time, for the user's account id.
    pub(crate) async fn read<'a, F, Fut>(
        &'a self,
        cursor: Option<&str>,
        wait: Duration,
        find: F,
    ) -> Result<Batch, AdapterError>
    where
        F: FnOnce(Timestamp, String) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(Timestamp, IncomingMessage)>, AdapterError>>
            + 'a,
    {
        let Some(cursor) = cursor else {
            self.me().await?;
            return Ok(Batch {
                messages: Vec::new(),
                cursor: Cursor {
                    since: self.server_now(),
                }
                .text(),
            });
        };
        let at = Cursor::parse(self.adapter, cursor)?;
        self.pace
            .paced(cursor, wait, self.poll, || async {
                let me = self.me().await?;
                let mut found = find(at.since, me).await?;
                found.sort_by_key(|(at, _)| *at);
                let next = Cursor {
                    since: at.since.max(self.server_now() - OVERLAP),
                };
                Ok(Batch {
                    messages: found.into_iter().map(|(_, message)| message).collect(),
                    cursor: next.text(),
                })
            })
            .await
    }
}

/// An Atlassian Document Format node as plain text, and the account ids it mentions.
pub(crate) fn adf_text(node: &Value) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut mentions = Vec::new();
    adf_walk(node, &mut text, &mut mentions, 0);
    (text.trim().to_owned(), mentions)
}

fn adf_walk(node: &Value, text: &mut String, mentions: &mut Vec<String>, depth: usize) {
    // ADF nests shallowly; a deeper document is not worth reading.
    if depth > 32 {
        return;
    }
    let attr = |name: &str| {
        node.pointer(&format!("/attrs/{name}"))
            .and_then(Value::as_str)
    };
    match node.get("type").and_then(Value::as_str).unwrap_or_default() {
        "text" => text.push_str(node.get("text").and_then(Value::as_str).unwrap_or_default()),
        "mention" => {
            if let Some(id) = attr("id") {
                mentions.push(id.to_owned());
            }
            text.push_str(attr("text").unwrap_or("@someone"));
        }
        "hardBreak" => text.push('\n'),
        "inlineCard" | "blockCard" => text.push_str(attr("url").unwrap_or_default()),
        "emoji" => text.push_str(attr("text").or(attr("shortName")).unwrap_or_default()),
        kind => {
            for child in node
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                adf_walk(child, text, mentions, depth + 1);
            }
            if matches!(
                kind,
                "paragraph" | "heading" | "listItem" | "codeBlock" | "blockquote" | "rule"
            ) && !text.ends_with('\n')
            {
                text.push('\n');
            }
        }
    }
}

/// A mention of `account` in Confluence's storage format.
pub(crate) fn storage_mentions(storage: &str, account: &str) -> bool {
    storage.contains(&format!("ri:account-id=\"{account}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adf_reads_as_text_with_its_mentions() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Alice"}},
                {"type": "text", "text": " can you approve the rollout "},
                {"type": "text", "text": "before 15:00?", "marks": [{"type": "strong"}]},
            ]},
            {"type": "paragraph", "content": [
                {"type": "inlineCard", "attrs": {"url": "https://acme.atlassian.net/browse/PAY-1"}},
                {"type": "hardBreak"},
                {"type": "emoji", "attrs": {"shortName": ":fire:", "text": "🔥"}},
            ]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]},
        ]});
        let (text, mentions) = adf_text(&doc);
        assert_eq!(
            text,
            "@Alice can you approve the rollout before 15:00?\nhttps://acme.atlassian.net/browse/PAY-1\n🔥\none"
        );
        assert_eq!(mentions, ["5b10ac8d82e05b22cc7d4ef5"]);
        assert_eq!(adf_text(&json!("not a node")).0, "");
    }
}

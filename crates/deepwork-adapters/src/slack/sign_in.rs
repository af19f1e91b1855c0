//! Signing in with Slack: OAuth v2 with PKCE for a public client, the browser coming
//! back to a one-time loopback address.

use super::api::{Envelope, OauthAccess};
use super::{NAME, malformed, unavailable};
use crate::AdapterError;
use crate::loopback::Loopback;
use reqwest::Url;
use std::time::Duration;

/// The user token scopes Deepwork asks for when it signs in; the history scopes let it
/// notice the user answering a mention in a channel, private channel or group DM.
pub const USER_SCOPES: &str = "users.profile:read,users.profile:write,dnd:read,dnd:write,im:read,im:history,chat:write,users:read,channels:read,channels:history,groups:history,mpim:history";

/// A sign-in with Slack (OAuth v2 with PKCE, for a public client): the page to open,
/// and a loopback listener that waits for the browser to come back to it.
#[derive(Debug)]
pub struct SlackSignIn {
    loopback: Loopback,
    http: reqwest::Client,
    api: Url,
    client_id: String,
}

/// Starts a sign-in for the Slack app `client_id` (PKCE on): returns the address of
/// Slack's consent page to open in the browser. `authorize` is that page's address,
/// normally `https://slack.com/oauth/v2/authorize`; `api` is the Web API.
pub async fn start_sign_in(
    api: &str,
    authorize: &str,
    client_id: &str,
) -> Result<(String, SlackSignIn), AdapterError> {
    let mut api = Url::parse(api).map_err(|e| malformed(&e.to_string()))?;
    if !api.path().ends_with('/') {
        api.set_path(&format!("{}/", api.path()));
    }
    let loopback = Loopback::open(NAME, "Slack", "/slack/signed-in").await?;
    let mut page = Url::parse(authorize).map_err(|e| malformed(&e.to_string()))?;
    page.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("user_scope", USER_SCOPES);
    loopback.ask(&mut page);
    let sign_in = SlackSignIn {
        loopback,
        http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
        api,
        client_id: client_id.to_owned(),
    };
    Ok((page.to_string(), sign_in))
}

impl SlackSignIn {
    /// Waits for the browser to come back from Slack, then trades the code for the
    /// user token.
    pub async fn finish(self) -> Result<String, AdapterError> {
        let code = self.loopback.code().await?;
        let answer = self
            .http
            .post(
                self.api
                    .join("oauth.v2.access")
                    .map_err(|e| malformed(&e.to_string()))?,
            )
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("code", &code),
                ("code_verifier", &self.loopback.verifier),
                ("redirect_uri", &self.loopback.redirect_uri),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        let answer = answer
            .bytes()
            .await
            .map_err(|e| unavailable(&format!("oauth.v2.access: {e}")))?;
        let not_understood =
            |e: serde_json::Error| malformed(&format!("oauth.v2.access: unexpected answer ({e})"));
        let envelope: Envelope = serde_json::from_slice(&answer).map_err(not_understood)?;
        if !envelope.ok {
            return Err(AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: format!(
                    "Slack refused the sign-in ({}); check [adapters.slack] client_id and that PKCE is on for the app",
                    envelope.error.as_deref().unwrap_or("unknown_error")
                ),
            });
        }
        let access: OauthAccess = serde_json::from_slice(&answer).map_err(not_understood)?;
        access
            .authed_user
            .and_then(|user| user.access_token)
            .ok_or_else(|| {
                malformed("oauth.v2.access: no user token; the app must ask for user scopes")
            })
    }
}

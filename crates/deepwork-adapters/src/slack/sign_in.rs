//! Signing in with Slack: OAuth v2 with PKCE for a public client, the browser coming
//! back to a one-time loopback address.

use super::api::{Envelope, OauthAccess};
use super::{NAME, malformed, unavailable};
use crate::AdapterError;
use reqwest::Url;
use std::collections::HashMap;
use std::time::Duration;

/// The user token scopes Deepwork asks for when it signs in.
pub const USER_SCOPES: &str = "users.profile:read,users.profile:write,dnd:read,dnd:write,im:read,im:history,chat:write,users:read,channels:read";
/// How long the browser may take to come back from Slack's consent page.
const SIGN_IN_WAIT: Duration = Duration::from_secs(600);

/// A sign-in with Slack (OAuth v2 with PKCE, for a public client): the page to open,
/// and a loopback listener that waits for the browser to come back to it.
#[derive(Debug)]
pub struct SlackSignIn {
    listener: tokio::net::TcpListener,
    http: reqwest::Client,
    api: Url,
    client_id: String,
    redirect_uri: String,
    verifier: String,
    state: String,
}

/// How long one connection to the sign-in's loopback address may take to send its
/// request.
const CALLBACK_WITHIN: Duration = Duration::from_secs(5);

/// Reads one request to the loopback address and answers it: `None` when it is not
/// the sign-in's (wrong path or state), else the sign-in's outcome.
async fn answer_callback(
    mut stream: tokio::net::TcpStream,
    state: String,
) -> Option<Result<HashMap<String, String>, AdapterError>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut buffer = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let target = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let query: HashMap<String, String> = url
        .as_ref()
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let ours = url.as_ref().is_some_and(|u| u.path() == "/slack/signed-in")
        && query.get("state") == Some(&state);
    let (status, body) = match (ours, query.get("error"), query.contains_key("code")) {
        (true, Some(_), _) | (true, None, true) => (
            "200 OK",
            "Deepwork has what it needs from Slack. You can close this tab.",
        ),
        _ => ("404 Not Found", "Not found."),
    };
    let page = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(page.as_bytes()).await;
    let _ = stream.shutdown().await;
    if !ours {
        return None;
    }
    if let Some(error) = query.get("error") {
        return Some(Err(AdapterError::Unauthorized {
            adapter: NAME.into(),
            fix: format!("Slack did not sign in ({error})"),
        }));
    }
    query.contains_key("code").then_some(Ok(query))
}

/// `bytes` random bytes, base64url without padding.
fn random_text(bytes: usize) -> Result<String, AdapterError> {
    use base64::Engine;
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| unavailable(&format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer))
}

/// The PKCE challenge for `verifier`: its SHA-256, base64url without padding.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| unavailable(&format!("cannot listen for the sign-in: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| unavailable(&e.to_string()))?
        .port();
    // The address it listens on, not `localhost`, which may resolve to ::1 first.
    let redirect_uri = format!("http://127.0.0.1:{port}/slack/signed-in");
    let verifier = random_text(64)?;
    let state = random_text(24)?;
    let mut page = Url::parse(authorize).map_err(|e| malformed(&e.to_string()))?;
    page.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("user_scope", USER_SCOPES)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    let sign_in = SlackSignIn {
        listener,
        http: crate::http::client(NAME, Some(Duration::from_secs(30)))?,
        api,
        client_id: client_id.to_owned(),
        redirect_uri,
        verifier,
        state,
    };
    Ok((page.to_string(), sign_in))
}

impl SlackSignIn {
    /// Waits for the browser to come back from Slack, then trades the code for the
    /// user token.
    pub async fn finish(self) -> Result<String, AdapterError> {
        let query = tokio::time::timeout(SIGN_IN_WAIT, self.callback())
            .await
            .map_err(|_| AdapterError::Unauthorized {
                adapter: NAME.into(),
                fix: "the sign-in was not finished in the browser within 10 minutes; try again"
                    .into(),
            })??;
        let answer = self
            .http
            .post(
                self.api
                    .join("oauth.v2.access")
                    .map_err(|e| malformed(&e.to_string()))?,
            )
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("code", &query["code"]),
                ("code_verifier", &self.verifier),
                ("redirect_uri", &self.redirect_uri),
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

    /// The query of the browser's request to the redirect address, once it has the
    /// right `state`; anything else (a favicon, a stray request) gets a 404. Each
    /// connection is answered on its own, within a few seconds, so one that stalls
    /// holds up no other.
    async fn callback(&self) -> Result<HashMap<String, String>, AdapterError> {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|e| unavailable(&e.to_string()))?;
                    let state = self.state.clone();
                    connections.spawn(tokio::time::timeout(CALLBACK_WITHIN, answer_callback(stream, state)));
                }
                Some(answered) = connections.join_next() => {
                    if let Ok(Ok(Some(outcome))) = answered {
                        return outcome;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            super::challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = super::random_text(64).unwrap();
        assert_eq!(verifier.len(), 86, "43 to 128 characters, as PKCE asks");
        assert_ne!(verifier, super::random_text(64).unwrap());
    }
}

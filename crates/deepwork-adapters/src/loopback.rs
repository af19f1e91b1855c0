//! OAuth 2.0 for native apps (RFC 8252) with PKCE (RFC 7636): the consent page opens in
//! the browser, which comes back to a one-time loopback address with the code. Slack and
//! Google sign in this way.

use crate::AdapterError;
use reqwest::Url;
use std::collections::HashMap;
use std::time::Duration;

/// How long the browser may take to come back from the consent page.
const SIGN_IN_WAIT: Duration = Duration::from_secs(600);
/// How long one connection to the loopback address may take to send its request.
const CALLBACK_WITHIN: Duration = Duration::from_secs(5);

/// A loopback address waiting for the browser, with the PKCE verifier and the state
/// that tie the answer to this sign-in.
#[derive(Debug)]
pub(crate) struct Loopback {
    listener: tokio::net::TcpListener,
    /// Where the consent page sends the browser back to.
    pub redirect_uri: String,
    /// The PKCE verifier, sent with the code.
    pub verifier: String,
    state: String,
    path: String,
    adapter: &'static str,
    /// The platform's name for people ("Slack").
    who: &'static str,
}

impl Loopback {
    /// Listens on a free loopback port for `path`.
    pub(crate) async fn open(
        adapter: &'static str,
        who: &'static str,
        path: &str,
    ) -> Result<Loopback, AdapterError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            AdapterError::unavailable(adapter, &format!("cannot listen for the sign-in: {e}"))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| unavailable(&e))?;
        let port = listener.local_addr().map_err(|e| unavailable(&e))?.port();
        Ok(Loopback {
            listener,
            // The address it listens on, not `localhost`, which may resolve to ::1 first.
            redirect_uri: format!("http://127.0.0.1:{port}{path}"),
            verifier: random_text(adapter, 64)?,
            state: random_text(adapter, 24)?,
            path: path.to_owned(),
            adapter,
            who,
        })
    }

    /// Adds what ties the consent page's answer to this sign-in: the redirect address,
    /// the state and the PKCE challenge.
    pub(crate) fn ask(&self, page: &mut Url) {
        page.query_pairs_mut()
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", &self.state)
            .append_pair("code_challenge", &challenge(&self.verifier))
            .append_pair("code_challenge_method", "S256");
    }

    /// Waits for the browser to come back, and returns the code it brings.
    pub(crate) async fn code(&self) -> Result<String, AdapterError> {
        let query = tokio::time::timeout(SIGN_IN_WAIT, self.callback())
            .await
            .map_err(|_| AdapterError::Unauthorized {
                adapter: self.adapter.into(),
                fix: "the sign-in was not finished in the browser within 10 minutes; try again"
                    .into(),
            })??;
        if let Some(error) = query.get("error") {
            return Err(AdapterError::Unauthorized {
                adapter: self.adapter.into(),
                fix: format!("{} did not sign in ({error})", self.who),
            });
        }
        query
            .get("code")
            .cloned()
            .ok_or_else(|| AdapterError::malformed(self.adapter, "the sign-in brought no code"))
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
                    let (stream, _) = accepted
                        .map_err(|e| AdapterError::unavailable(self.adapter, &e.to_string()))?;
                    let expected = Expected {
                        state: self.state.clone(),
                        path: self.path.clone(),
                        who: self.who,
                    };
                    connections.spawn(tokio::time::timeout(CALLBACK_WITHIN, answer_callback(stream, expected)));
                }
                Some(answered) = connections.join_next() => {
                    if let Ok(Ok(Some(query))) = answered {
                        return Ok(query);
                    }
                }
            }
        }
    }
}

struct Expected {
    state: String,
    path: String,
    who: &'static str,
}

/// Reads one request to the loopback address and answers it: `None` when it is not
/// the sign-in's (wrong path or state), else its query (with a code or an error).
async fn answer_callback(
    mut stream: tokio::net::TcpStream,
    expected: Expected,
) -> Option<HashMap<String, String>> {
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
    let ours = url.as_ref().is_some_and(|u| u.path() == expected.path)
        && query.get("state") == Some(&expected.state)
        && (query.contains_key("error") || query.contains_key("code"));
    let (status, body) = if ours {
        (
            "200 OK",
            format!(
                "Deepwork has what it needs from {}. You can close this tab.",
                expected.who
            ),
        )
    } else {
        ("404 Not Found", "Not found.".to_owned())
    };
    let page = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(page.as_bytes()).await;
    let _ = stream.shutdown().await;
    ours.then_some(query)
}

/// `bytes` random bytes, base64url without padding.
fn random_text(adapter: &str, bytes: usize) -> Result<String, AdapterError> {
    use base64::Engine;
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|e| AdapterError::unavailable(adapter, &format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer))
}

/// The PKCE challenge for `verifier`: its SHA-256, base64url without padding.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
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
        let verifier = super::random_text("test", 64).unwrap();
        assert_eq!(verifier.len(), 86, "43 to 128 characters, as PKCE asks");
        assert_ne!(verifier, super::random_text("test", 64).unwrap());
    }
}

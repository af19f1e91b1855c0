//! Signing in with OAuth 2.0's device authorization grant (RFC 8628): a code the person
//! enters in a browser, while Deepwork polls the token endpoint until they finish.
//! GitHub speaks it with its errors in a 200 answer; the RFC (and Microsoft) in a 400.

use crate::AdapterError;
use reqwest::Url;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::time::Instant;

/// The slowest poll a server may ask for, and the longest a code may live.
const LONGEST_POLL: u64 = 60;
const LONGEST_CODE: u64 = 3600;
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Where and as whom a platform's device flow runs.
#[derive(Clone, Debug)]
pub struct DeviceFlow {
    /// The adapter, for errors.
    pub adapter: &'static str,
    /// The device authorization endpoint.
    pub device_url: Url,
    /// The token endpoint.
    pub token_url: Url,
    /// The OAuth app's client id.
    pub client_id: String,
    /// The scopes asked for, space-separated.
    pub scope: String,
    /// The command that starts a sign-in again, for errors.
    pub again: String,
}

/// What the person is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    /// The code to enter.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
}

/// A sign-in waiting for the person.
#[derive(Debug)]
pub struct PendingDevice {
    http: reqwest::Client,
    flow: DeviceFlow,
    device_code: String,
    interval: Duration,
    deadline: Instant,
}

/// What the token endpoint hands out.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// A refresh token, where the platform issues one.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CodeAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    interval: Option<u64>,
    expires_in: Option<u64>,
}

/// A token endpoint's answer: tokens, or an OAuth error (RFC 6749 §5.2; RFC 8628 §3.5
/// adds `interval` to `slow_down`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TokenAnswer {
    Refused {
        error: String,
        #[serde(default)]
        error_description: String,
        interval: Option<u64>,
    },
    Tokens(Tokens),
}

impl DeviceFlow {
    /// Asks for a code for the person to enter; [`PendingDevice::finish`] then waits.
    pub async fn start(self) -> Result<(DeviceCode, PendingDevice), AdapterError> {
        let http = crate::http::client(self.adapter, Some(Duration::from_secs(30)))?;
        let code: CodeAnswer = self
            .post(
                &http,
                self.device_url.clone(),
                &[("client_id", &self.client_id), ("scope", &self.scope)],
            )
            .await?;
        let shown = DeviceCode {
            user_code: code.user_code,
            verification_uri: code.verification_uri,
        };
        let pending = PendingDevice {
            http,
            device_code: code.device_code,
            interval: Duration::from_secs(code.interval.unwrap_or(5).clamp(1, LONGEST_POLL)),
            deadline: Instant::now()
                + Duration::from_secs(code.expires_in.unwrap_or(900).min(LONGEST_CODE)),
            flow: self,
        };
        Ok((shown, pending))
    }

    async fn post<T: DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<T, AdapterError> {
        let response = http
            .post(url)
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(self.adapter, &e.to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AdapterError::unavailable(
                self.adapter,
                &format!("sign-in: HTTP {status}"),
            ));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| AdapterError::unavailable(self.adapter, &e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| {
            AdapterError::malformed(
                self.adapter,
                &format!("sign-in: HTTP {status}, unexpected answer ({e})"),
            )
        })
    }

    fn refused(&self, why: String) -> AdapterError {
        AdapterError::Unauthorized {
            adapter: self.adapter.to_owned(),
            fix: format!("{why}; run `{}` to try again", self.again),
        }
    }
}

impl PendingDevice {
    /// Polls the token endpoint until the person has signed in, declined, or the code
    /// expired.
    pub async fn finish(mut self) -> Result<Tokens, AdapterError> {
        loop {
            tokio::time::sleep(self.interval).await;
            let answer: TokenAnswer = self
                .flow
                .post(
                    &self.http,
                    self.flow.token_url.clone(),
                    &[
                        ("client_id", &self.flow.client_id),
                        ("device_code", &self.device_code),
                        ("grant_type", GRANT),
                    ],
                )
                .await?;
            let (error, description, interval) = match answer {
                TokenAnswer::Tokens(tokens) => return Ok(tokens),
                TokenAnswer::Refused {
                    error,
                    error_description,
                    interval,
                } => (error, error_description, interval),
            };
            match error.as_str() {
                "authorization_pending" => {}
                "slow_down" => {
                    // RFC 8628 §3.5: five seconds more, or what the server says.
                    let slower = interval
                        .map(Duration::from_secs)
                        .unwrap_or(self.interval + Duration::from_secs(5));
                    self.interval = slower.min(Duration::from_secs(LONGEST_POLL));
                }
                "access_denied" | "authorization_declined" => {
                    return Err(self.flow.refused("the sign-in was declined".into()));
                }
                "expired_token" => {
                    return Err(self
                        .flow
                        .refused("the code expired before the sign-in finished".into()));
                }
                _ => {
                    return Err(self.flow.refused(format!(
                        "the sign-in was refused ({error}: {})",
                        description.lines().next().unwrap_or_default()
                    )));
                }
            }
            if Instant::now() >= self.deadline {
                return Err(self
                    .flow
                    .refused("the code expired before the sign-in finished".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_read_as_tokens_or_as_oauth_errors() {
        let pending: TokenAnswer = serde_json::from_str(
            r#"{"error":"slow_down","error_description":"Too fast","interval":10}"#,
        )
        .unwrap();
        assert!(
            matches!(pending, TokenAnswer::Refused { ref error, interval: Some(10), .. } if error == "slow_down")
        );
        let tokens: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"gho_x","token_type":"bearer","scope":"notifications"}"#,
        )
        .unwrap();
        assert!(
            matches!(tokens, TokenAnswer::Tokens(Tokens { ref access_token, .. }) if access_token == "gho_x")
        );
    }
}

//! Signing in to Microsoft Teams with the device code flow (RFC 8628): a code the
//! person enters at microsoft.com/devicelogin, polled until they finish.

use super::*;

/// What the user is asked to do to sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCode {
    /// The code to enter.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The identity platform's own instructions.
    pub message: String,
}

/// A device-code sign-in waiting for the user.
#[derive(Debug)]
pub struct PendingSignIn {
    http: reqwest::Client,
    endpoints: TeamsEndpoints,
    device_code: String,
    interval: Duration,
    deadline: Instant,
}

/// Signs in with the device-code flow: asks the identity platform for a code for the
/// user to enter; [`PendingSignIn::finish`] then waits for them.
pub async fn start_sign_in(
    endpoints: &TeamsEndpoints,
) -> Result<(DeviceCode, PendingSignIn), AdapterError> {
    let http = crate::http::client(NAME, Some(Duration::from_secs(30)))?;
    let code: graph::DeviceCodeAnswer = oauth_post(
        &http,
        endpoints.oauth("devicecode")?,
        &[("client_id", &endpoints.client_id), ("scope", SCOPES)],
    )
    .await?;
    let shown = DeviceCode {
        user_code: code.user_code,
        verification_uri: code.verification_uri,
        message: code.message,
    };
    let pending = PendingSignIn {
        http,
        endpoints: endpoints.clone(),
        device_code: code.device_code,
        interval: Duration::from_secs(code.interval.unwrap_or(5).clamp(1, LONGEST_POLL)),
        deadline: Instant::now()
            + Duration::from_secs(code.expires_in.unwrap_or(900).min(LONGEST_CODE)),
    };
    Ok((shown, pending))
}

impl PendingSignIn {
    /// Polls the token endpoint until the user has signed in (or declined, or the code
    /// expired); returns the refresh token to keep.
    pub async fn finish(mut self) -> Result<String, AdapterError> {
        loop {
            tokio::time::sleep(self.interval).await;
            let answer: Result<Tokens, _> = oauth_post(
                &self.http,
                self.endpoints.oauth("token")?,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", &self.endpoints.client_id),
                    ("device_code", &self.device_code),
                ],
            )
            .await;
            match answer {
                Ok(tokens) => {
                    return tokens.refresh_token.ok_or_else(|| {
                            unauthorized("the sign-in gave no refresh token; the app registration must allow offline_access")
                        });
                }
                Err(OauthError::Refused { error, .. }) if error == "authorization_pending" => {}
                Err(OauthError::Refused { error, .. }) if error == "slow_down" => {
                    self.interval = (self.interval + Duration::from_secs(5))
                        .min(Duration::from_secs(LONGEST_POLL));
                }
                Err(OauthError::Refused { error, .. }) if error == "authorization_declined" => {
                    return Err(unauthorized("the sign-in was declined"));
                }
                Err(OauthError::Refused { error, .. })
                    if error == "expired_token" || Instant::now() >= self.deadline =>
                {
                    return Err(unauthorized(
                        "the code expired before the sign-in finished; try again",
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

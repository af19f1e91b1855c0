//! Twilio's REST API (2010-04-01), for escalating emergencies: SMS through the Message
//! resource (`POST …/Messages.json`, and the list with `To`/`From`/`DateSent>=`
//! filters, newest first, for the user's replies and for finding an earlier attempt),
//! voice calls through the Call resource (`POST …/Calls.json` with inline TwiML, and
//! the list by `To`). Requests use HTTP Basic auth with the Account SID and auth token,
//! or an API key SID and secret. Errors come as `{code, message, more_info, status}`.

use crate::http::Lenient;
use jiff::Timestamp;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const NAME: &str = "twilio";

/// Twilio credentials, as kept in the keyring: `ACCOUNT_SID:AUTH_TOKEN`, or
/// `ACCOUNT_SID:API_KEY_SID:API_KEY_SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioCredentials {
    /// The account, `AC…`.
    pub account_sid: String,
    /// Who signs the requests: the account itself, or an API key `SK…`.
    pub username: String,
    /// The auth token or the API key's secret.
    pub secret: String,
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl FromStr for TwilioCredentials {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let sid = |s: &str, prefix: &str| {
            s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let (account_sid, username, secret) = match parts.as_slice() {
            [account, token] => (*account, *account, *token),
            [account, key, secret] if sid(key, "SK") => (*account, *key, *secret),
            _ => {
                return Err(
                    "write the Twilio credentials as ACCOUNT_SID:AUTH_TOKEN or ACCOUNT_SID:API_KEY_SID:API_KEY_SECRET"
                        .into(),
                );
            }
        };
        if !sid(account_sid, "AC") {
            return Err(format!(
                "{account_sid:?} is not a Twilio Account SID (AC and 32 hexadecimal digits)"
            ));
        }
        if secret.is_empty() {
            return Err("the auth token or API key secret is empty".into());
        }
        Ok(TwilioCredentials {
            account_sid: account_sid.into(),
            username: username.into(),
            secret: secret.into(),
        })
    }
}

/// Why a request did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TwilioError {
    /// Trying again may help: a rate limit, an outage, no connection.
    #[error("{reason}")]
    Retry {
        /// What happened, for the user.
        reason: String,
        /// How long Twilio asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help until the user changes something.
    #[error("{reason}")]
    Refused {
        /// What happened and what to do, for the user.
        reason: String,
        /// Twilio's error code, if it gave one.
        code: Option<u32>,
    },
}

/// A message in the account's list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TextMessage {
    /// `SM…`.
    pub sid: String,
    /// Who sent it.
    pub from: Option<String>,
    /// Who it went to.
    pub to: Option<String>,
    /// Its text.
    #[serde(default)]
    pub body: String,
    /// `inbound` for the user's replies; `outbound-api` for Deepwork's.
    #[serde(default)]
    pub direction: String,
    /// `queued`, `sent`, `delivered`, `received`, `failed`…
    #[serde(default)]
    pub status: String,
    /// When Twilio took it in.
    #[serde(deserialize_with = "rfc2822")]
    pub date_created: Timestamp,
}

/// A call in the account's list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PhoneCall {
    /// `CA…`.
    pub sid: String,
    /// Who was called.
    pub to: Option<String>,
    /// `queued`, `ringing`, `in-progress`, `completed`, `no-answer`…
    #[serde(default)]
    pub status: String,
    /// When Twilio took it in.
    #[serde(deserialize_with = "rfc2822")]
    pub date_created: Timestamp,
}

/// Twilio writes dates like "Tue, 26 Jul 2016 12:50:07 +0000".
fn rfc2822<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    jiff::fmt::rfc2822::parse(&text)
        .map(|zoned| zoned.timestamp())
        .map_err(serde::de::Error::custom)
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct MessagePage {
    #[serde(default = "Vec::new")]
    messages: Vec<Lenient<TextMessage>>,
}

#[derive(Deserialize)]
struct CallPage {
    #[serde(default = "Vec::new")]
    calls: Vec<Lenient<PhoneCall>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    code: Option<u32>,
    message: String,
}

/// Who sends: a phone number, or a Messaging Service that picks one.
fn sender_field(from: &str) -> (&'static str, &str) {
    if from.starts_with("MG") {
        ("MessagingServiceSid", from)
    } else {
        ("From", from)
    }
}

/// A Twilio account.
#[derive(Debug)]
pub struct Twilio {
    http: reqwest::Client,
    account: Url,
    credentials: TwilioCredentials,
}

impl Twilio {
    /// The account at `api` (normally `https://api.twilio.com`).
    pub fn new(api: &str, credentials: TwilioCredentials) -> Result<Self, TwilioError> {
        let refused = |reason: String| TwilioError::Refused { reason, code: None };
        let mut base = Url::parse(api)
            .map_err(|e| refused(format!("the Twilio address {api:?} is not a URL ({e})")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let account = base
            .join(&format!("2010-04-01/Accounts/{}/", credentials.account_sid))
            .map_err(|e| refused(e.to_string()))?;
        let http = crate::http::client(NAME, Some(Duration::from_secs(20)))
            .map_err(|e| refused(e.to_string()))?;
        Ok(Twilio {
            http,
            account,
            credentials,
        })
    }

    /// Texts `body` to `to`; returns the message's SID.
    pub async fn send_sms(&self, to: &str, from: &str, body: &str) -> Result<String, TwilioError> {
        let form = [("To", to), sender_field(from), ("Body", body)];
        let created: Created = self
            .request(reqwest::Method::POST, "Messages.json", &form)
            .await?;
        Ok(created.sid)
    }

    /// Calls `to` and plays `twiml`; returns the call's SID.
    pub async fn call(&self, to: &str, from: &str, twiml: &str) -> Result<String, TwilioError> {
        let form = [("To", to), ("From", from), ("Twiml", twiml)];
        let created: Created = self
            .request(reqwest::Method::POST, "Calls.json", &form)
            .await?;
        Ok(created.sid)
    }

    /// Messages newest first, filtered by sender and recipient where given, and to
    /// those sent on or after `sent_since`'s UTC day when given (one page of 100:
    /// replies and recent attempts are always near the top). Twilio dates a message
    /// when it leaves, so a filter by day misses one still queued.
    pub async fn messages(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        sent_since: Option<Timestamp>,
    ) -> Result<Vec<TextMessage>, TwilioError> {
        let day = sent_since.map(|since| since.strftime("%Y-%m-%d").to_string());
        let mut query = vec![("PageSize", "100")];
        query.extend(day.as_deref().map(|day| ("DateSent>", day)));
        query.extend(from.map(|from| ("From", from)));
        query.extend(to.map(|to| ("To", to)));
        let page: MessagePage = self
            .request(reqwest::Method::GET, "Messages.json", &query)
            .await?;
        Ok(page
            .messages
            .into_iter()
            .filter_map(Lenient::into_read)
            .collect())
    }

    /// Calls to `to`, newest first (one page of 50).
    pub async fn calls_to(&self, to: &str) -> Result<Vec<PhoneCall>, TwilioError> {
        let query = [("To", to), ("PageSize", "50")];
        let page: CallPage = self
            .request(reqwest::Method::GET, "Calls.json", &query)
            .await?;
        Ok(page
            .calls
            .into_iter()
            .filter_map(Lenient::into_read)
            .collect())
    }

    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        resource: &str,
        fields: &[(&str, &str)],
    ) -> Result<T, TwilioError> {
        let url = self
            .account
            .join(resource)
            .map_err(|e| TwilioError::Refused {
                reason: e.to_string(),
                code: None,
            })?;
        let request = self
            .http
            .request(method.clone(), url)
            .basic_auth(&self.credentials.username, Some(&self.credentials.secret));
        let request = if method == reqwest::Method::GET {
            request.query(fields)
        } else {
            request.form(fields)
        };
        let response = request.send().await.map_err(|e| TwilioError::Retry {
            reason: format!("Twilio could not be reached ({e})"),
            retry_after: None,
        })?;
        let status = response.status();
        let retry_after = crate::http::retry_after(response.headers(), Timestamp::now());
        let text = response.text().await.map_err(|e| TwilioError::Retry {
            reason: format!("Twilio's answer was cut off ({e})"),
            retry_after: None,
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| TwilioError::Retry {
                reason: format!("Twilio's answer to {resource} was not understood ({e})"),
                retry_after: None,
            });
        }
        let error: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
        Err(classify(status, error.code, &error.message, retry_after))
    }
}

/// What a refusal means for the user, by Twilio's error code where it gave one.
fn classify(
    status: StatusCode,
    code: Option<u32>,
    message: &str,
    retry_after: Option<Duration>,
) -> TwilioError {
    let said = deepwork_core::text::one_line(deepwork_core::text::truncate(message, 200));
    let with_code = |text: String| match code {
        Some(code) => format!("{text} ({code})"),
        None => format!("{text} (HTTP {})", status.as_u16()),
    };
    if status == StatusCode::TOO_MANY_REQUESTS || code == Some(20429) {
        return TwilioError::Retry {
            reason: with_code("Twilio is rate limiting the account".into()),
            retry_after,
        };
    }
    if status.is_server_error() {
        return TwilioError::Retry {
            reason: with_code(format!("Twilio failed: {said}")),
            retry_after,
        };
    }
    let reason = match (status, code) {
        (StatusCode::UNAUTHORIZED, _) | (_, Some(20003)) => with_code(
            "Twilio refused the credentials; store them again with `deepwork adapters token twilio`".into(),
        ),
        (_, Some(21211)) => with_code(
            "Twilio says [escalation] phone is not a valid phone number; write it like +4915112345678".into(),
        ),
        (_, Some(21606 | 21659 | 21212)) => with_code(
            "Twilio will not send from [escalation] from; it must be a number of the account".into(),
        ),
        (_, Some(21608)) => with_code(
            "a Twilio trial account can only text and call verified numbers; verify [escalation] phone in the Twilio console".into(),
        ),
        (_, Some(21610)) => with_code(
            "the phone replied STOP to this Twilio number; text START to it to allow messages again".into(),
        ),
        _ => with_code(format!("Twilio refused the request: {said}")),
    };
    TwilioError::Refused { reason, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_read_both_forms_and_say_what_is_wrong() {
        let account = format!("AC{}", "a".repeat(32));
        let key = format!("SK{}", "b".repeat(32));
        let token: TwilioCredentials = format!("{account}:secret").parse().unwrap();
        assert_eq!(
            (token.username.as_str(), token.secret.as_str()),
            (account.as_str(), "secret")
        );
        let api_key: TwilioCredentials = format!("{account}:{key}:s3cret").parse().unwrap();
        assert_eq!(
            (api_key.account_sid.as_str(), api_key.username.as_str()),
            (account.as_str(), key.as_str())
        );
        assert!(!format!("{api_key:?}").contains("s3cret"), "never logged");
        assert!(
            "AC12:token"
                .parse::<TwilioCredentials>()
                .unwrap_err()
                .contains("Account SID")
        );
        assert!(
            "just-a-token"
                .parse::<TwilioCredentials>()
                .unwrap_err()
                .contains("ACCOUNT_SID:AUTH_TOKEN")
        );
        assert!(format!("{account}:").parse::<TwilioCredentials>().is_err());
    }

    #[test]
    fn refusals_say_what_to_do_and_outages_are_retried() {
        let bad_number = classify(
            StatusCode::BAD_REQUEST,
            Some(21211),
            "Invalid 'To' Phone Number",
            None,
        );
        assert!(
            matches!(&bad_number, TwilioError::Refused { reason, code: Some(21211) } if reason.contains("[escalation] phone"))
        );
        let auth = classify(StatusCode::UNAUTHORIZED, Some(20003), "Authenticate", None);
        assert!(
            auth.to_string().contains("deepwork adapters token twilio"),
            "{auth}"
        );
        let limited = classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(20429),
            "Too Many Requests",
            Some(Duration::from_secs(2)),
        );
        assert_eq!(
            limited,
            TwilioError::Retry {
                reason: "Twilio is rate limiting the account (20429)".into(),
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert!(
            matches!(classify(StatusCode::SERVICE_UNAVAILABLE, None, "\u{202e}down\nnow", None), TwilioError::Retry { reason, .. } if !reason.contains('\n') && !reason.contains('\u{202e}'))
        );
    }
}

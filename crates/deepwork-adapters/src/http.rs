//! What every HTTP adapter shares: the client, and one reading of a refused request
//! (rate limits with `Retry-After` in either of RFC 9110's forms, server failures,
//! refused credentials), so platforms differ only in the words they use.

use crate::AdapterError;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// The HTTP client every adapter uses; `timeout` bounds whole requests, or is left to
/// each request where long polls need more.
pub(crate) fn client(
    adapter: &str,
    timeout: Option<Duration>,
) -> Result<reqwest::Client, AdapterError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("Deepwork/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| AdapterError::unavailable(adapter, &e.to_string()))
}

/// How long a `Retry-After` header asks to wait: delay-seconds ("120") or an HTTP-date
/// ("Wed, 21 Oct 2015 07:28:00 GMT", counted from `now`).
pub(crate) fn retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    Some(
        at.duration_since(now)
            .max(jiff::SignedDuration::ZERO)
            .unsigned_abs(),
    )
}

/// A request the platform refused, as the adapters tell it.
pub(crate) struct Refusal<'a> {
    /// The adapter.
    pub adapter: &'a str,
    /// The answer's status.
    pub status: StatusCode,
    /// What the platform asked to wait, if it did.
    pub retry_after: Option<Duration>,
    /// The wait when a rate limit names none.
    pub default_wait: Duration,
    /// The platform's own words for it (error code and message), for logs and status.
    pub detail: String,
}

impl Refusal<'_> {
    /// The error: a rate limit, an outage to retry, refused credentials (`fix` says what
    /// the user must do, from 401 or 403), or an answer not understood.
    pub(crate) fn into_error(self, fix: impl FnOnce(StatusCode) -> String) -> AdapterError {
        let adapter = self.adapter.to_owned();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => AdapterError::RateLimited {
                adapter,
                retry_after: self
                    .retry_after
                    .unwrap_or(self.default_wait)
                    .max(Duration::from_secs(1)),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AdapterError::Unauthorized {
                adapter,
                fix: fix(self.status),
            },
            status if status.is_server_error() => AdapterError::Unavailable {
                adapter,
                detail: format!("HTTP {status} {}", self.detail)
                    .trim_end()
                    .to_owned(),
            },
            status => AdapterError::Malformed {
                adapter,
                detail: format!("HTTP {status} {}", self.detail)
                    .trim_end()
                    .to_owned(),
            },
        }
    }
}

/// `text` as one path segment: an id a platform sent (a thread, an issue key, a file)
/// can never reach another path of the API with the user's token.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One entry of a list in a platform's answer: read as `T`, or not understood. A list
/// keeps the entries it can read, so one odd entry costs itself, never the whole list
/// (a platform that added a kind of message must not stop Deepwork reading the rest).
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Lenient<T> {
    Read(T),
    Unreadable(serde::de::IgnoredAny),
}

impl<T> Lenient<T> {
    pub(crate) fn into_read(self) -> Option<T> {
        match self {
            Lenient::Read(value) => Some(value),
            Lenient::Unreadable(_) => None,
        }
    }

    pub(crate) fn as_read(&self) -> Option<&T> {
        match self {
            Lenient::Read(value) => Some(value),
            Lenient::Unreadable(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, value.parse().unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = jiff::Timestamp::from_second(1_445_412_400).unwrap(); // 07:26:40 GMT
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    fn refusal(status: u16) -> Refusal<'static> {
        Refusal {
            adapter: "test",
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            default_wait: Duration::from_secs(30),
            detail: "M_CODE what happened".into(),
        }
    }

    #[test]
    fn refusals_are_classed_once_for_every_platform() {
        let fix = |status: StatusCode| format!("fix {}", status.as_u16());
        assert!(matches!(
            refusal(429).into_error(fix),
            AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30)
        ));
        assert!(
            matches!(refusal(401).into_error(fix), AdapterError::Unauthorized { fix, .. } if fix == "fix 401")
        );
        assert!(matches!(
            refusal(403).into_error(fix),
            AdapterError::Unauthorized { .. }
        ));
        assert!(
            matches!(refusal(503).into_error(fix), AdapterError::Unavailable { detail, .. } if detail.contains("M_CODE"))
        );
        assert!(matches!(
            refusal(404).into_error(fix),
            AdapterError::Malformed { .. }
        ));
    }

    #[test]
    fn ids_stay_inside_one_path_segment() {
        assert_eq!(segment("PAY-12"), "PAY-12");
        assert_eq!(segment("../../user?x=1"), "..%2F..%2Fuser%3Fx%3D1");
        assert_eq!(segment("ä"), "%C3%A4");
    }

    #[test]
    fn a_list_keeps_the_entries_it_can_read() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Entry {
            id: u32,
        }
        let entries: Vec<Lenient<Entry>> =
            serde_json::from_str(r#"[{"id": 1}, {"id": "two"}, null, {"id": 3, "more": true}]"#)
                .unwrap();
        let read: Vec<Entry> = entries.into_iter().filter_map(Lenient::into_read).collect();
        assert_eq!(read, [Entry { id: 1 }, Entry { id: 3 }]);
    }
}

//! Calendars over HTTP, read only.
//! - An ICS feed: `GET` with `If-None-Match` (its `ETag`) or `If-Modified-Since` (its
//!   `Last-Modified`); `304 Not Modified` costs nothing.
//! - A CalDAV calendar collection (RFC 4791): `PROPFIND` (depth 0) for the collection's
//!   `DAV:sync-token` (RFC 6578) or, where a server has none, its `CS:getctag`. When the
//!   token is the one of the last read, nothing changed; else a `calendar-query` REPORT
//!   (depth 1) with a `time-range` brings the events of the window.
//!
//! Basic auth when a user is set. The text comes back whole; the core reads it.

use crate::AdapterError;
use jiff::Timestamp;
use reqwest::{Method, StatusCode, Url};
use std::time::Duration;
use tokio_xmpp::parsers::minidom::Element;

const NAME: &str = "calendar";
/// The most a calendar may send: a year of a busy person's meetings is far less.
const MAX_BODY: usize = 16 * 1024 * 1024;
const DAV: &str = "DAV:";
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
const CALENDARSERVER: &str = "http://calendarserver.org/ns/";

/// Where a calendar is and how to sign in to it.
#[derive(Clone, PartialEq, Eq)]
pub struct CalendarSource {
    /// The feed or collection.
    pub url: Url,
    /// A CalDAV collection (else an ICS feed).
    pub caldav: bool,
    /// Basic auth, when the server asks for it.
    pub sign_in: Option<(String, String)>,
}

impl std::fmt::Debug for CalendarSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarSource")
            .field("url", &self.url.as_str())
            .field("caldav", &self.caldav)
            .finish_non_exhaustive()
    }
}

/// What a read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The same as at the last read (`validator` matched).
    Unchanged,
    /// New text, and what identifies this version for the next read.
    Changed {
        /// The iCalendar text (for CalDAV, every event's object, one after another).
        body: String,
        /// `etag:…`, `modified:…`, `sync:…` or `ctag:…`; `None` when the server gives
        /// nothing to compare (then every read fetches the whole calendar).
        validator: Option<String>,
    },
}

/// Reads calendars.
#[derive(Clone, Debug)]
pub struct CalendarClient {
    http: reqwest::Client,
}

impl CalendarClient {
    /// A client whose requests give up after a minute.
    pub fn new() -> Result<Self, AdapterError> {
        Ok(CalendarClient {
            http: crate::http::client(NAME, Some(Duration::from_secs(60)))?,
        })
    }

    /// Reads `source`; `last` is the validator of the last good read. For CalDAV the
    /// events overlapping [`from`, `until`) are asked for, and the window's first day is
    /// part of the validator, so a window that moved on is read again.
    pub async fn fetch(
        &self,
        source: &CalendarSource,
        last: Option<&str>,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Fetched, AdapterError> {
        if source.caldav {
            self.caldav(source, last, from, until).await
        } else {
            self.ics(source, last).await
        }
    }

    fn request(&self, source: &CalendarSource, method: Method) -> reqwest::RequestBuilder {
        let request = self.http.request(method, source.url.clone());
        match &source.sign_in {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// One WebDAV request with an XML body, and its multistatus answer.
    async fn dav(
        &self,
        source: &CalendarSource,
        method: &[u8],
        depth: &str,
        body: String,
    ) -> Result<Element, AdapterError> {
        let method = Method::from_bytes(method).map_err(|e| malformed(source, &e.to_string()))?;
        let response = self
            .request(source, method)
            .header("Depth", depth)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/xml; charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let text = read_body(response, source).await?;
        parse_xml(&text, source)
    }

    async fn ics(
        &self,
        source: &CalendarSource,
        last: Option<&str>,
    ) -> Result<Fetched, AdapterError> {
        let mut request = self.request(source, Method::GET);
        match last.and_then(|v| v.split_once(':')) {
            Some(("etag", tag)) => request = request.header(reqwest::header::IF_NONE_MATCH, tag),
            Some(("modified", date)) => {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
            }
            _ => {}
        }
        let response = request.send().await.map_err(unreachable)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::Unchanged);
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validator = header(reqwest::header::ETAG)
            .map(|tag| format!("etag:{tag}"))
            .or_else(|| header(reqwest::header::LAST_MODIFIED).map(|d| format!("modified:{d}")));
        let body = read_body(response, source).await?;
        let start = body.trim_start_matches('\u{feff}').trim_start();
        if !start
            .get(..15)
            .is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
        {
            return Err(malformed(
                source,
                "the answer is not iCalendar text (BEGIN:VCALENDAR)",
            ));
        }
        Ok(Fetched::Changed { body, validator })
    }

    async fn caldav(
        &self,
        source: &CalendarSource,
        last: Option<&str>,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Fetched, AdapterError> {
        let ask = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/">
  <d:prop><d:sync-token/><cs:getctag/></d:prop>
</d:propfind>"#;
        let answer = self.dav(source, b"PROPFIND", "0", ask.to_owned()).await?;
        let version = descendants(&answer)
            .find(|e| e.is("sync-token", DAV))
            .map(|e| format!("sync:{}", e.text().trim()))
            .or_else(|| {
                descendants(&answer)
                    .find(|e| e.is("getctag", CALENDARSERVER))
                    .map(|e| format!("ctag:{}", e.text().trim()))
            })
            .filter(|v| !v.ends_with(':'));
        let window_day = from.strftime("%Y%m%d").to_string();
        let validator = version.map(|v| format!("{v}|{window_day}"));
        if validator.is_some() && validator.as_deref() == last {
            return Ok(Fetched::Unchanged);
        }
        let utc = |at: Timestamp| at.strftime("%Y%m%dT%H%M%SZ").to_string();
        let query = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VEVENT">
        <c:time-range start="{}" end="{}"/>
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"#,
            utc(from),
            utc(until)
        );
        let answer = self.dav(source, b"REPORT", "1", query).await?;
        let objects: Vec<String> = descendants(&answer)
            .filter(|e| e.is("calendar-data", CALDAV))
            .map(Element::text)
            .collect();
        Ok(Fetched::Changed {
            body: objects.join("\r\n"),
            validator,
        })
    }
}

/// At most `limit` bytes of the body, read chunk by chunk: a server that sends more (or
/// streams without end) is cut off there, not held in memory whole.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            body.extend_from_slice(&chunk[..limit - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

async fn read_body(
    response: reqwest::Response,
    source: &CalendarSource,
) -> Result<String, AdapterError> {
    let status = response.status();
    if !status.is_success() {
        let retry_after = crate::http::retry_after(response.headers(), Timestamp::now());
        let (detail, _) = read_limited(response, 800).await.unwrap_or_default();
        let detail: String = String::from_utf8_lossy(&detail).chars().take(200).collect();
        return Err(crate::http::Refusal {
            adapter: NAME,
            status,
            retry_after,
            default_wait: Duration::from_secs(60),
            detail,
        }
        .into_error(|_| {
            format!(
                "{} refused the sign-in; check [[plans.calendars]] user and store the password with `deepwork plan password {}`",
                source.url, source.url
            )
        }));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(malformed(source, "the calendar is larger than 16 MiB"));
    }
    let (bytes, cut) = read_limited(response, MAX_BODY)
        .await
        .map_err(unreachable)?;
    if cut {
        return Err(malformed(source, "the calendar is larger than 16 MiB"));
    }
    String::from_utf8(bytes).map_err(|_| malformed(source, "the answer is not UTF-8 text"))
}

fn parse_xml(text: &str, source: &CalendarSource) -> Result<Element, AdapterError> {
    text.parse::<Element>()
        .map_err(|e| malformed(source, &format!("the answer is not WebDAV XML: {e}")))
}

/// Every element below `root`, depth first.
fn descendants(root: &Element) -> impl Iterator<Item = &Element> {
    let mut stack = vec![root];
    std::iter::from_fn(move || {
        let next = stack.pop()?;
        stack.extend(next.children());
        Some(next)
    })
}

fn unreachable(error: reqwest::Error) -> AdapterError {
    AdapterError::unavailable(NAME, &error.without_url().to_string())
}

fn malformed(source: &CalendarSource, detail: &str) -> AdapterError {
    AdapterError::Malformed {
        adapter: NAME.to_owned(),
        detail: format!("{}: {detail}", source.url),
    }
}

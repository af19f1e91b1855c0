//! A stateful contract server for the Twilio REST API (2010-04-01) endpoints Deepwork's
//! escalation ladder uses, written from Twilio's API reference (the Message and Call
//! resources, the OpenAPI description `twilio_api_v2010.json`, "Twilio API responses"
//! and the error dictionary); Twilio itself cannot run here:
//! - HTTP Basic with the Account SID and Auth Token, or an API Key SID (`SK…`) and its
//!   secret; anything else, or a path account other than the credentials' own, is 401
//!   with error 20003;
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form: `To`, `From` or
//!   `MessagingServiceSid`, `Body`): 201 with the Message resource (`SM…`, `queued`,
//!   `outbound-api`, RFC 2822 dates); 21604 without `To`, 21211 for a `To` that is not
//!   E.164 or set invalid, 21603 without a sender, 21606 for a `From` the account does
//!   not own, 21705 for another Messaging Service, 21602 without `Body`;
//! - `GET …/Messages.json` with `To`, `From`, `DateSent`, `DateSent<`, `DateSent>`
//!   (a `YYYY-MM-DD` day, both bounds inclusive, or an instant; a message not sent yet
//!   has no `date_sent` and matches none), newest first;
//! - `GET …/Messages/{Sid}.json`, `POST …/Calls.json` (`To`, `From`, `Twiml` or `Url`:
//!   21201, 21213, 21211, 21210, 21200), `GET …/Calls.json` with `To`, `From`,
//!   `Status`, and `GET …/Calls/{Sid}.json`; any other path is 404 with error 20404;
//! - lists in the envelope (`messages` or `calls`, `page`, `page_size`, `start`, `end`,
//!   `uri`, `first_page_uri`, `next_page_uri`, `previous_page_uri`), `PageSize` 1–1000
//!   (default 50), paged by `PageToken` (`PA`/`PB` and a SID, as in the reference's
//!   examples; a bad one is 21481) with `Page` only echoed back, as the reference says;
//! - errors as `{"code", "message", "more_info", "status"}`.
//!
//! Messages go `queued` → `sending` → `sent` → `delivered` (or `undelivered` with 30003,
//! or straight to `failed` with 30500), calls `queued` → `ringing` → `in-progress` →
//! `completed` (or `no-answer`, `busy`, `failed`): a step every [`DEFAULT_STEP`] unless
//! a test changes the pace or steps by hand. The user's texts arrive with
//! [`TwilioContract::inbound`] as `inbound` messages to [`TWILIO_NUMBER`]. Tests can
//! also refuse coming requests (429 with error 20429, 500 with 20500, 503 with 20503)
//! or take the server down.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The account.
pub const ACCOUNT_SID: &str = "AC0d1e2e3b4f5a6c7d8e9f0a1b2c3d4e5f";
/// The account's Auth Token.
pub const AUTH_TOKEN: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
/// A standard API key of the account.
pub const API_KEY_SID: &str = "SKde0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a";
/// That key's secret.
pub const API_KEY_SECRET: &str = "deepwork-test-api-key-secret-0001";
/// The account's phone number, the only sender it owns.
pub const TWILIO_NUMBER: &str = "+15017122661";
/// The account's Messaging Service, whose sender pool is [`TWILIO_NUMBER`].
pub const MESSAGING_SERVICE_SID: &str = "MG9752274e9e519418a7406176694466fa";
/// The user's phone, who gets the escalations.
pub const USER_PHONE: &str = "+15558675310";
/// How long a message or call stays in a status unless a test sets another pace.
pub const DEFAULT_STEP: Duration = Duration::from_secs(1);

const API: &str = "/2010-04-01";

/// The endpoints, to count requests and aim faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST …/Messages.json`
    CreateMessage,
    /// `GET …/Messages.json`
    ListMessages,
    /// `GET …/Messages/{Sid}.json`
    FetchMessage,
    /// `POST …/Calls.json`
    CreateCall,
    /// `GET …/Calls.json`
    ListCalls,
    /// `GET …/Calls/{Sid}.json`
    FetchCall,
}

/// How a refused request is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with error 20429; the reference documents no `Retry-After` for the 2010 API,
    /// so it is sent only when given here.
    RateLimited {
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u32>,
    },
    /// 500 with error 20500.
    ServerError,
    /// 503 with error 20503.
    Unavailable,
}

/// Where a message to a number ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsFate {
    /// `delivered`, the default.
    Delivered,
    /// `undelivered` after `sent`, error 30003 (unreachable handset).
    Undelivered,
    /// `failed` straight from `queued`, error 30500.
    Failed,
}

/// Where a call to a number ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFate {
    /// Answered, then `completed`: the default.
    Completed,
    /// `no-answer` after ringing.
    NoAnswer,
    /// `busy` after ringing.
    Busy,
    /// `failed` straight from `queued`.
    Failed,
}

/// The statuses a message or call goes through and when it reached each.
#[derive(Clone, Debug)]
struct Progress {
    path: &'static [&'static str],
    reached: Vec<Timestamp>,
}

impl Progress {
    fn new(path: &'static [&'static str], at: Timestamp) -> Progress {
        Progress {
            path,
            reached: vec![at],
        }
    }

    fn status(&self) -> &'static str {
        self.path[self.reached.len() - 1]
    }

    /// When it reached `status`, if it did.
    fn at(&self, status: &str) -> Option<Timestamp> {
        let index = self.path.iter().position(|s| *s == status)?;
        self.reached.get(index).copied()
    }

    fn updated(&self) -> Timestamp {
        *self.reached.last().expect("created")
    }

    fn advance(&mut self, at: Timestamp) {
        if self.reached.len() < self.path.len() {
            self.reached.push(at);
        }
    }

    fn finish(&mut self, at: Timestamp) {
        self.reached.resize(self.path.len(), at);
    }

    /// Takes every step `step` apart that is due by `now`.
    fn settle(&mut self, step: SignedDuration, now: Timestamp) {
        while self.reached.len() < self.path.len() && self.updated() + step <= now {
            let next = self.updated() + step;
            self.reached.push(next);
        }
    }
}

/// A message on the account, inbound or outbound.
#[derive(Clone, Debug)]
pub struct TwilioMessage {
    /// `SM` and 32 hex digits.
    pub sid: String,
    /// `outbound-api` or `inbound`.
    pub direction: &'static str,
    /// The recipient.
    pub to: String,
    /// The sender as given; `None` when only a Messaging Service was named.
    pub from: Option<String>,
    /// The Messaging Service named, if any.
    pub messaging_service_sid: Option<String>,
    /// The text.
    pub body: String,
    /// When it was created.
    pub created: Timestamp,
    progress: Progress,
}

impl TwilioMessage {
    /// Its status now.
    pub fn status(&self) -> &'static str {
        self.progress.status()
    }

    /// When Twilio sent it (outbound) or received it (inbound).
    pub fn date_sent(&self) -> Option<Timestamp> {
        self.progress
            .at("sent")
            .or_else(|| self.progress.at("received"))
    }

    /// The sender shown: a Messaging Service's pool number once one was picked to send.
    fn sender(&self) -> Option<String> {
        self.from
            .clone()
            .or_else(|| self.date_sent().map(|_| TWILIO_NUMBER.to_owned()))
    }

    fn error(&self) -> Option<(u32, &'static str)> {
        match self.status() {
            "undelivered" => Some((30003, "Unreachable destination handset")),
            "failed" => Some((30500, "Twilio Internal Error")),
            _ => None,
        }
    }
}

/// A call the account placed.
#[derive(Clone, Debug)]
pub struct TwilioCall {
    /// `CA` and 32 hex digits.
    pub sid: String,
    /// The number called.
    pub to: String,
    /// The caller ID.
    pub from: String,
    /// The TwiML sent inline, if any (Twilio ignores it when `url` is also given).
    pub twiml: Option<String>,
    /// The TwiML URL sent, if any.
    pub url: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    progress: Progress,
}

impl TwilioCall {
    /// Its status now.
    pub fn status(&self) -> &'static str {
        self.progress.status()
    }
}

/// The account as the API sees it.
#[derive(Debug)]
struct TwilioState {
    /// Every message, oldest first.
    messages: Vec<TwilioMessage>,
    /// Every call, oldest first.
    calls: Vec<TwilioCall>,
    /// Numbers Twilio refuses as `To` with 21211 even though they are E.164.
    invalid: HashSet<String>,
    sms_fates: HashMap<String, SmsFate>,
    call_fates: HashMap<String, CallFate>,
    /// How long each status lasts; `None` leaves stepping to the tests.
    step: Option<SignedDuration>,
    /// Coming refusals, each used by the first request it matches (`None`: any).
    faults: VecDeque<(Option<Endpoint>, Fault)>,
    /// Answer everything with 503.
    down: bool,
    requests: HashMap<Endpoint, usize>,
    /// For SIDs: unique and in creation order.
    issued: u64,
}

impl TwilioState {
    fn settle(&mut self) {
        let Some(step) = self.step else { return };
        let now = Timestamp::now();
        for message in &mut self.messages {
            message.progress.settle(step, now);
        }
        for call in &mut self.calls {
            call.progress.settle(step, now);
        }
    }

    fn sid(&mut self, prefix: &str) -> String {
        self.issued += 1;
        format!("{prefix}{:032x}", 0xdee9_0000_u64 + self.issued)
    }

    fn message(&mut self, direction: &'static str, fields: MessageFields) -> &TwilioMessage {
        let path: &'static [&'static str] = if direction == "inbound" {
            &["received"]
        } else {
            match self.sms_fates.get(&fields.to) {
                None | Some(SmsFate::Delivered) => &["queued", "sending", "sent", "delivered"],
                Some(SmsFate::Undelivered) => &["queued", "sending", "sent", "undelivered"],
                Some(SmsFate::Failed) => &["queued", "failed"],
            }
        };
        let created = Timestamp::now();
        let message = TwilioMessage {
            sid: self.sid("SM"),
            direction,
            to: fields.to,
            from: fields.from,
            messaging_service_sid: fields.service,
            body: fields.body,
            created,
            progress: Progress::new(path, created),
        };
        self.messages.push(message);
        self.messages.last().expect("pushed")
    }
}

/// What a new message is made of.
struct MessageFields {
    to: String,
    from: Option<String>,
    service: Option<String>,
    body: String,
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct TwilioContract {
    /// Where the API is, like `https://api.twilio.com` (no trailing slash).
    pub base: String,
    state: Arc<Mutex<TwilioState>>,
    _served: crate::Served,
}

type Shared = Arc<Mutex<TwilioState>>;

impl TwilioContract {
    /// Starts on a free loopback port with no messages or calls.
    pub async fn start() -> TwilioContract {
        let state: Shared = Arc::new(Mutex::new(TwilioState {
            messages: Vec::new(),
            calls: Vec::new(),
            invalid: HashSet::new(),
            sms_fates: HashMap::new(),
            call_fates: HashMap::new(),
            step: Some(SignedDuration::try_from(DEFAULT_STEP).expect("step")),
            faults: VecDeque::new(),
            down: false,
            requests: HashMap::new(),
            issued: 0,
        }));
        let account = format!("{API}/Accounts/{{account}}");
        let app = Router::new()
            .route(
                &format!("{account}/Messages.json"),
                get(list_messages).post(create_message),
            )
            .route(&format!("{account}/Messages/{{file}}"), get(fetch_message))
            .route(
                &format!("{account}/Calls.json"),
                get(list_calls).post(create_call),
            )
            .route(&format!("{account}/Calls/{{file}}"), get(fetch_call))
            .fallback(unknown)
            .with_state(state.clone());
        let served = crate::Served::start(app).await;
        TwilioContract {
            base: served.base.clone(),
            state,
            _served: served,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TwilioState> {
        let mut state = self.state.lock().expect("state");
        state.settle();
        state
    }

    /// Each status lasts `step`; `None` stops the clock, so only [`Self::advance`] and
    /// [`Self::finish`] move them.
    pub fn set_step(&self, step: Option<Duration>) {
        self.lock().step = step.map(|s| SignedDuration::try_from(s).expect("step"));
    }

    /// Moves every unfinished message and call on by one status.
    pub fn advance(&self) {
        let mut state = self.lock();
        let now = Timestamp::now();
        for message in &mut state.messages {
            message.progress.advance(now);
        }
        for call in &mut state.calls {
            call.progress.advance(now);
        }
    }

    /// Moves every message and call to its last status.
    pub fn finish(&self) {
        let mut state = self.lock();
        let now = Timestamp::now();
        for message in &mut state.messages {
            message.progress.finish(now);
        }
        for call in &mut state.calls {
            call.progress.finish(now);
        }
    }

    /// The user texts `body` from `from` to [`TWILIO_NUMBER`]; returns the message SID.
    pub fn inbound(&self, from: &str, body: &str) -> String {
        let mut state = self.lock();
        let fields = MessageFields {
            to: TWILIO_NUMBER.to_owned(),
            from: Some(from.to_owned()),
            service: None,
            body: body.to_owned(),
        };
        state.message("inbound", fields).sid.clone()
    }

    /// Every message, inbound and outbound, oldest first.
    pub fn messages(&self) -> Vec<TwilioMessage> {
        self.lock().messages.clone()
    }

    /// The messages the API was asked to send, oldest first.
    pub fn sent(&self) -> Vec<TwilioMessage> {
        let state = self.lock();
        let sent = state.messages.iter().filter(|m| m.direction != "inbound");
        sent.cloned().collect()
    }

    /// The calls the API was asked to place, oldest first.
    pub fn calls(&self) -> Vec<TwilioCall> {
        self.lock().calls.clone()
    }

    /// Twilio refuses `number` as a `To` with 21211 from now on.
    pub fn set_invalid(&self, number: &str) {
        self.lock().invalid.insert(number.to_owned());
    }

    /// Messages created to `number` from now on end as `fate`.
    pub fn set_sms_fate(&self, number: &str, fate: SmsFate) {
        self.lock().sms_fates.insert(number.to_owned(), fate);
    }

    /// Calls placed to `number` from now on end as `fate`.
    pub fn set_call_fate(&self, number: &str, fate: CallFate) {
        self.lock().call_fates.insert(number.to_owned(), fate);
    }

    /// Answers the next `count` requests to `only` (any endpoint if `None`) with `fault`.
    pub fn fail_next(&self, count: usize, only: Option<Endpoint>, fault: Fault) {
        let mut state = self.lock();
        state
            .faults
            .extend(std::iter::repeat_n((only, fault), count));
    }

    /// While down, every request is 503 with error 20503.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// How many requests reached `endpoint`, refused ones included.
    pub fn requests(&self, endpoint: Endpoint) -> usize {
        self.lock().requests.get(&endpoint).copied().unwrap_or(0)
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

fn not_found(path: &str) -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        &format!("The requested resource {path} was not found"),
    )
}

/// The account the Basic credentials belong to, if they are right.
fn authenticated(headers: &HeaderMap) -> Option<&'static str> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let account = (user == ACCOUNT_SID && password == AUTH_TOKEN)
        || (user == API_KEY_SID && password == API_KEY_SECRET);
    account.then_some(ACCOUNT_SID)
}

/// Counts the request, then refuses it if the server is down, a fault is due, or the
/// credentials are wrong or for another account; `Some` is the refusal.
fn gate(
    state: &mut TwilioState,
    endpoint: Endpoint,
    account: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    state.settle();
    *state.requests.entry(endpoint).or_default() += 1;
    if state.down {
        return Some(twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service Unavailable",
        ));
    }
    let due = state
        .faults
        .iter()
        .position(|(only, _)| only.is_none_or(|e| e == endpoint));
    if let Some((_, fault)) = due.and_then(|i| state.faults.remove(i)) {
        return Some(match fault {
            Fault::RateLimited { retry_after } => {
                let mut response =
                    twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, seconds.into());
                }
                response
            }
            Fault::ServerError => twilio_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            ),
            Fault::Unavailable => twilio_error(
                StatusCode::SERVICE_UNAVAILABLE,
                20503,
                "Service Unavailable",
            ),
        });
    }
    // The error dictionary lists credentials of one account used on another's
    // resources among 20003's causes.
    (authenticated(headers) != Some(account))
        .then(|| twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"))
}

/// Form fields; a field sent twice keeps its first value.
fn form(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        fields.entry(key.into_owned()).or_insert(value.into_owned());
    }
    fields
}

/// `+` and 2 to 15 digits, the first not 0.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn rfc2822(at: Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn date(at: Option<Timestamp>) -> Value {
    at.map_or(Value::Null, |at| json!(rfc2822(at)))
}

/// How many SMS segments `body` takes: 160 GSM-7 characters alone or 153 when
/// concatenated, 70 or 67 for UCS-2 (ASCII stands in for the GSM-7 alphabet here).
fn segments(body: &str) -> usize {
    let length = body.chars().count();
    let (single, part) = if body.is_ascii() {
        (160, 153)
    } else {
        (70, 67)
    };
    if length <= single {
        1
    } else {
        length.div_ceil(part)
    }
}

fn message_json(message: &TwilioMessage) -> Value {
    let uri = format!("{API}/Accounts/{ACCOUNT_SID}/Messages/{}", message.sid);
    // Sent through a Messaging Service, a message has no sender and 0 segments until
    // one is picked.
    let segments = match message.sender() {
        Some(_) => segments(&message.body),
        None => 0,
    };
    let (error_code, error_message) = message.error().unzip();
    json!({
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": rfc2822(message.created),
        "date_sent": date(message.date_sent()),
        "date_updated": rfc2822(message.progress.updated()),
        "direction": message.direction,
        "error_code": error_code,
        "error_message": error_message,
        "from": message.sender(),
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": segments.to_string(),
        "price": null,
        "price_unit": null,
        "sid": message.sid,
        "status": message.status(),
        "subresource_uris": {
            "media": format!("{uri}/Media.json"),
            "feedback": format!("{uri}/Feedback.json"),
        },
        "to": message.to,
        "uri": format!("{uri}.json"),
    })
}

/// `(415) 867-5309` for North American numbers, E.164 for the rest.
fn formatted(number: &str) -> String {
    match number.strip_prefix("+1") {
        Some(n) if n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..])
        }
        _ => number.to_owned(),
    }
}

fn call_json(call: &TwilioCall) -> Value {
    let uri = format!("{API}/Accounts/{ACCOUNT_SID}/Calls/{}", call.sid);
    // Dialled when it starts ringing; only a completed call has an end and a duration.
    let answered = call.progress.at("in-progress");
    let ended = call.progress.at("completed");
    let duration = answered
        .zip(ended)
        .map(|(from, to)| to.duration_since(from).as_secs().to_string());
    json!({
        "account_sid": ACCOUNT_SID,
        "answered_by": null,
        "api_version": "2010-04-01",
        "caller_name": null,
        "date_created": rfc2822(call.created),
        "date_updated": rfc2822(call.progress.updated()),
        "direction": "outbound-api",
        "duration": duration,
        "end_time": date(ended),
        "forwarded_from": null,
        "from": call.from,
        "from_formatted": formatted(&call.from),
        "group_sid": null,
        "parent_call_sid": null,
        "phone_number_sid": "PN1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f",
        "price": null,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": date(call.progress.at("ringing")),
        "status": call.status(),
        "subresource_uris": {
            "notifications": format!("{uri}/Notifications.json"),
            "recordings": format!("{uri}/Recordings.json"),
            "events": format!("{uri}/Events.json"),
        },
        "to": call.to,
        "to_formatted": formatted(&call.to),
        "trunk_sid": null,
        "uri": format!("{uri}.json"),
    })
}

async fn create_message(
    State(state): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::CreateMessage, &account, &headers) {
        return refusal;
    }
    let fields = form(&body);
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let bad = |code, message: &str| twilio_error(StatusCode::BAD_REQUEST, code, message);
    let Some(to) = field("To") else {
        return bad(21604, "A 'To' phone number is required.");
    };
    if !is_e164(&to) || state.invalid.contains(&to) {
        return bad(
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let (from, service) = (field("From"), field("MessagingServiceSid"));
    if from.is_none() && service.is_none() {
        return bad(21603, "A 'From' phone number is required.");
    }
    if let Some(from) = from.as_deref().filter(|f| *f != TWILIO_NUMBER) {
        return bad(
            21606,
            &format!(
                "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
            ),
        );
    }
    if service
        .as_deref()
        .is_some_and(|s| s != MESSAGING_SERVICE_SID)
    {
        return bad(21705, "The Messaging Service is invalid.");
    }
    let Some(body) = field("Body") else {
        return bad(21602, "Message body is required.");
    };
    let fields = MessageFields {
        to,
        from,
        service,
        body,
    };
    let created = state.message("outbound-api", fields);
    (StatusCode::CREATED, axum::Json(message_json(created))).into_response()
}

/// A `DateSent` value: a whole day, or an instant.
#[derive(Clone, Copy)]
enum Bound {
    Day(jiff::civil::Date),
    At(Timestamp),
}

impl Bound {
    /// `YYYY-MM-DD`, RFC 3339, RFC 2822, or `YYYY-MM-DD HH:MM:SS` in UTC: the forms
    /// the reference's examples use.
    fn parse(text: &str) -> Option<Bound> {
        if text.len() == 10 {
            return text.parse().ok().map(Bound::Day);
        }
        text.parse::<Timestamp>()
            .ok()
            .or_else(|| jiff::fmt::rfc2822::parse(text).ok().map(|z| z.timestamp()))
            .or_else(|| {
                let civil = text.parse::<jiff::civil::DateTime>().ok()?;
                civil.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
            })
            .map(Bound::At)
    }

    /// How `at` compares with the bound: a day holds all its instants.
    fn compare(self, at: Timestamp) -> std::cmp::Ordering {
        match self {
            Bound::Day(day) => at.to_zoned(TimeZone::UTC).date().cmp(&day),
            Bound::At(bound) => at.cmp(&bound),
        }
    }
}

/// A list request's query, in order (`DateSent>` and the like are keys of their own).
fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let pair = pairs.iter().find(|(k, _)| k == name);
    pair.map(|(_, v)| v.as_str())
}

fn bad_request(message: &str) -> Response {
    twilio_error(StatusCode::BAD_REQUEST, 400, message)
}

/// One page of `items` (matching the filters, newest first, each with its SID) in the
/// list envelope, `key` naming the array, as `PageSize`, `PageToken` and `Page` ask.
fn list_page(
    resource: &str,
    key: &str,
    pairs: &[(String, String)],
    items: &[(&str, Value)],
) -> Response {
    let page_size = match param(pairs, "PageSize").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(size @ 1..=1000)) => size,
        Some(_) => return bad_request("PageSize must be between 1 and 1000."),
    };
    let page: usize = param(pairs, "Page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let token = param(pairs, "PageToken");
    // A token names the item the page starts after (PA) or ends before (PB).
    let (start, end) = match token {
        None => (0, page_size.min(items.len())),
        Some(token) => {
            let at = token
                .get(2..)
                .and_then(|sid| items.iter().position(|(s, _)| *s == sid));
            match (token.get(..2), at) {
                (Some("PA"), Some(i)) => (i + 1, (i + 1 + page_size).min(items.len())),
                (Some("PB"), Some(i)) => (i.saturating_sub(page_size), i),
                _ => return twilio_error(StatusCode::BAD_REQUEST, 21481, "Invalid PageToken"),
            }
        }
    };
    let shown = &items[start..end];
    let filters: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            pairs
                .iter()
                .filter(|(k, _)| !["PageSize", "Page", "PageToken"].contains(&k.as_str())),
        )
        .finish();
    let paged = |page: usize, token: Option<String>| {
        let mut query = form_urlencoded::Serializer::new(filters.clone());
        query.append_pair("PageSize", &page_size.to_string());
        query.append_pair("Page", &page.to_string());
        if let Some(token) = token {
            query.append_pair("PageToken", &token);
        }
        format!("{API}/Accounts/{ACCOUNT_SID}/{resource}?{}", query.finish())
    };
    let next = shown
        .last()
        .filter(|_| end < items.len())
        .map(|(sid, _)| paged(page + 1, Some(format!("PA{sid}"))));
    let previous = shown
        .first()
        .filter(|_| start > 0)
        .map(|(sid, _)| paged(page.saturating_sub(1), Some(format!("PB{sid}"))));
    let values: Vec<&Value> = shown.iter().map(|(_, value)| value).collect();
    axum::Json(json!({
        key: values,
        "page": page,
        "page_size": page_size,
        "start": start,
        "end": start + shown.len().saturating_sub(1),
        "uri": paged(page, token.map(str::to_owned)),
        "first_page_uri": paged(0, None),
        "next_page_uri": next,
        "previous_page_uri": previous,
    }))
    .into_response()
}

async fn list_messages(
    State(state): State<Shared>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::ListMessages, &account, &headers) {
        return refusal;
    }
    let pairs = query_pairs(query);
    let mut bounds = Vec::new();
    for (name, wanted) in [
        ("DateSent", &[Equal][..]),
        ("DateSent<", &[Less, Equal][..]),
        ("DateSent>", &[Greater, Equal][..]),
    ] {
        if let Some(text) = param(&pairs, name) {
            let Some(bound) = Bound::parse(text) else {
                return bad_request(&format!("{name} is not a valid date."));
            };
            bounds.push((bound, wanted));
        }
    }
    let (to, from) = (param(&pairs, "To"), param(&pairs, "From"));
    let matching: Vec<(&str, Value)> = state
        .messages
        .iter()
        .rev()
        .filter(|m| to.is_none_or(|to| m.to == to))
        .filter(|m| from.is_none_or(|from| m.sender().as_deref() == Some(from)))
        // Not sent yet, a message has no `date_sent` for a bound to hold for.
        .filter(|m| {
            bounds.iter().all(|(bound, wanted)| {
                m.date_sent()
                    .is_some_and(|sent| wanted.contains(&bound.compare(sent)))
            })
        })
        .map(|m| (m.sid.as_str(), message_json(m)))
        .collect();
    list_page("Messages.json", "messages", &pairs, &matching)
}

async fn list_calls(
    State(state): State<Shared>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::ListCalls, &account, &headers) {
        return refusal;
    }
    let pairs = query_pairs(query);
    let wanted = |name, value: &str| param(&pairs, name).is_none_or(|w| w == value);
    let matching: Vec<(&str, Value)> = state
        .calls
        .iter()
        .rev()
        .filter(|c| wanted("To", &c.to) && wanted("From", &c.from))
        .filter(|c| wanted("Status", c.status()))
        .map(|c| (c.sid.as_str(), call_json(c)))
        .collect();
    list_page("Calls.json", "calls", &pairs, &matching)
}

async fn fetch_message(
    State(state): State<Shared>,
    Path((account, file)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::FetchMessage, &account, &headers) {
        return refusal;
    }
    let sid = file.strip_suffix(".json");
    match state.messages.iter().find(|m| Some(m.sid.as_str()) == sid) {
        Some(message) => axum::Json(message_json(message)).into_response(),
        None => not_found(uri.path()),
    }
}

async fn create_call(
    State(state): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::CreateCall, &account, &headers) {
        return refusal;
    }
    let fields = form(&body);
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let bad = |code, message: &str| twilio_error(StatusCode::BAD_REQUEST, code, message);
    let Some(to) = field("To") else {
        return bad(21201, "No 'To' number is specified");
    };
    if !is_e164(&to) || state.invalid.contains(&to) {
        return bad(
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let Some(from) = field("From") else {
        return bad(21213, "No 'From' number is specified");
    };
    if from != TWILIO_NUMBER {
        return bad(
            21210,
            &format!(
                "The source phone number provided, {from}, is not yet verified for your account."
            ),
        );
    }
    let (twiml, url) = (field("Twiml"), field("Url"));
    if twiml.is_none() && url.is_none() && field("ApplicationSid").is_none() {
        return bad(
            21200,
            "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required.",
        );
    }
    let path: &'static [&'static str] = match state.call_fates.get(&to) {
        None | Some(CallFate::Completed) => &["queued", "ringing", "in-progress", "completed"],
        Some(CallFate::NoAnswer) => &["queued", "ringing", "no-answer"],
        Some(CallFate::Busy) => &["queued", "ringing", "busy"],
        Some(CallFate::Failed) => &["queued", "failed"],
    };
    let created = Timestamp::now();
    let call = TwilioCall {
        sid: state.sid("CA"),
        to,
        from,
        twiml,
        url,
        created,
        progress: Progress::new(path, created),
    };
    let body = call_json(&call);
    state.calls.push(call);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn fetch_call(
    State(state): State<Shared>,
    Path((account, file)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("state");
    if let Some(refusal) = gate(&mut state, Endpoint::FetchCall, &account, &headers) {
        return refusal;
    }
    let sid = file.strip_suffix(".json");
    match state.calls.iter().find(|c| Some(c.sid.as_str()) == sid) {
        Some(call) => axum::Json(call_json(call)).into_response(),
        None => not_found(uri.path()),
    }
}

async fn unknown(OriginalUri(uri): OriginalUri) -> Response {
    not_found(uri.path())
}

//! Fuzzing of what the adapters read from a platform: every server answer, plugin line
//! and message must be handled without a panic (or a hang), and every message read must
//! become a valid item. The platforms are played by a loopback HTTP and WebSocket server
//! answering whatever the case says; the plugin by a `sh` script replaying a case's lines.
//! The read-only sources (GitHub, Jira, Confluence, Notion, Google Docs) are played the
//! same way: their first read, reads from the cursor it gave (or an odd one), and their
//! follow-up (`FollowUp::answered`, and GitHub's `mark_read`), whose answers must be to
//! items asked about. Atlassian Document Format (`atlassian::adf_text` is the crate's
//! own) is read in Jira's comments, nested past what is read and past what JSON takes.
//! XMPP (stanzas are parsed by tokio-xmpp, over a TLS stream) and the desktop monitor
//! (D-Bus messages typed by zbus) are left out; the text they hand over is covered by
//! `IncomingMessage::to_item` here and by the core's `held_notifications::plain_text`.
//! In the test suite each target is a short smoke run with a fixed seed;
//! `make fuzz` runs every target for
//! `DEEPWORK_FUZZ_SECONDS` (600 by default there); `cargo test -p deepwork-adapters --test
//! fuzz` alone is that smoke run. A failure prints the smallest input
//! found and the seed that replays the run (`DEEPWORK_FUZZ_SEED=…`).

use deepwork_adapters::atlassian::confluence::ConfluenceSource;
use deepwork_adapters::atlassian::jira::JiraSource;
use deepwork_adapters::gdocs::{GoogleDocsSource, GoogleEndpoints};
use deepwork_adapters::github::GitHubSource;
use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_adapters::notion::NotionSource;
use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
use deepwork_adapters::slack::SlackAdapter;
use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints};
use deepwork_adapters::{
    AdapterError, Addressed, Answered, Asked, Batch, FocusStatus, FollowUp, IncomingMessage,
    MessageSource, Replier, ReplyTarget, StatusAdapter, StatusSnapshot,
};
use deepwork_fuzzing::*;
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

// ---- what every adapter's messages become ----

#[rustfmt::skip]
const TEXT_TOKENS: &[&str] = &[
    " ", "\n", "\r\n", "\t", "\u{0}", "\u{7}", "\u{1b}[2J", "\u{85}", "\u{202E}", "\u{2066}",
    "\u{FEFF}", "é", "e\u{301}", "👩‍💻", "中文", "ﷺ", "<", ">", "&", "&amp;", "&lt;", "&gt;",
    "&quot;", "&nbsp;", "<b>", "</b>", "<p>", "</p>", "<br>", "<br/>", "<div>", "</div>",
    "<at id=\"0\">Alice</at>", "<a href=\"https://x\">", "<@U0ME>", "<@U0BOB|bob>", "<#C1>",
    "<#C1|general>", "<!here>", "<!channel>", "<!subteam^S1>", "<!subteam^S1|@design>",
    "<!date^1392734382^{date}|Feb 18>", "<https://example.com|label>", "<mailto:b@x.org|Bob>",
    "<", "|", "^", "@alice", "@alice.", "@channel", "@all", "@here", "@", "@@", "@alice:x.org",
    "alice", "EMERGENCY", "by 3pm", "https://", "http://x/y", "mailto:", "*bold*", "_i_",
];

fn any_text() -> impl Strategy<Value = String> + Clone {
    text(TEXT_TOKENS)
}

fn incoming() -> impl Strategy<Value = IncomingMessage> {
    let field = || {
        prop_oneof![
            5 => any_text(),
            1 => (any_text(), 1usize..4000).prop_map(|(s, n)| s.repeat(n.min(80_000 / s.len().max(1)))),
        ]
    };
    (
        (
            field(),
            field(),
            prop::option::of(field()),
            prop::option::of(field()),
        ),
        (
            any::<bool>(),
            field(),
            any::<bool>(),
            prop::option::of(field()),
            field(),
        ),
    )
        .prop_map(
            |((id, sender, sender_name, channel), (direct, text, automated, url, conversation))| {
                IncomingMessage {
                    reply_to: ReplyTarget {
                        conversation,
                        sender: sender.clone(),
                    },
                    id,
                    sender,
                    sender_name,
                    channel,
                    addressed: if direct {
                        Addressed::Direct
                    } else {
                        Addressed::Mention
                    },
                    text,
                    automated,
                    url,
                    usual_class: None,
                }
            },
        )
}

#[test]
fn incoming_messages_become_valid_items() {
    let source = prop_oneof![
        4 => prop::sample::select(vec!["matrix", "slack", "mattermost", "teams", "xmpp", "desktop", "pumble"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    fuzz(
        "IncomingMessage::to_item",
        1024,
        (incoming(), source),
        |(message, source)| {
            let item = message.to_item(&source);
            prop_assert!(
                item.validate().is_ok(),
                "{:?} for {item:?}",
                item.validate()
            );
            Ok(())
        },
    );
}

// ---- checks shared by the platforms ----

/// Panics anywhere, also in tasks an adapter spawned (which tokio would swallow).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// What an adapter call returned, `Err` if it hung.
async fn within<T>(what: &str, call: impl Future<Output = T>) -> Result<T, TestCaseError> {
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .map_err(|_| TestCaseError::fail(format!("{what} did not return within 20 s")))
}

/// Every message of a batch read must become a valid item.
fn check_batch(source: &str, read: &Result<Batch, AdapterError>) -> Result<(), TestCaseError> {
    let mut tally = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let counts = tally
        .get_or_insert_with(HashMap::new)
        .entry(source.to_owned())
        .or_default();
    match read {
        Ok(batch) => {
            counts[0] += 1;
            counts[1] += batch.messages.len();
            for message in &batch.messages {
                let item = message.to_item(source);
                prop_assert!(
                    item.validate().is_ok(),
                    "{:?} for {message:?}",
                    item.validate()
                );
            }
        }
        Err(error) => {
            counts[2] += 1;
            let _ = (error.to_string(), error.is_transient());
        }
    }
    Ok(())
}

/// Per source: reads that succeeded, the messages they brought, reads that failed.
static READ: Mutex<Option<HashMap<String, [usize; 3]>>> = Mutex::new(None);

/// How far the cases got: that reads succeed and bring messages shows that the answers
/// reach the adapter's parsing, not only its error paths.
fn report_reads(source: &str) {
    let tally = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some([ok, messages, failed]) = tally.as_ref().and_then(|t| t.get(source)) {
        eprintln!("fuzz {source}: {ok} reads brought {messages} messages; {failed} reads failed");
    }
}

fn focus() -> FocusStatus {
    FocusStatus {
        text: "Deep work — checking messages at 14:00".into(),
        until: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2),
    }
}

fn to() -> ReplyTarget {
    ReplyTarget {
        conversation: "c1".into(),
        sender: "bob".into(),
    }
}

/// A stored status snapshot: as the adapter wrote it, or damaged.
fn snapshot(adapter: &'static str, good: Value) -> impl Strategy<Value = StatusSnapshot> {
    edited(Just(good), 3, KEYS, STRINGS).prop_map(move |data| StatusSnapshot {
        adapter: adapter.into(),
        data,
    })
}

// ---- the loopback platform ----

/// One HTTP answer.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

/// What the platform answers in one case: answers per kind of request, in turn (the
/// last one again when they run out), and the frames its WebSocket sends.
#[derive(Clone, Debug, Default)]
struct Case {
    answers: HashMap<&'static str, Vec<Answer>>,
    frames: Vec<String>,
}

struct Platform {
    base: String,
    state: Arc<Mutex<(Case, HashMap<&'static str, usize>)>>,
}

impl Platform {
    /// A platform on a free loopback port; `route` names the kind of each request.
    fn start(runtime: &tokio::runtime::Runtime, route: fn(&str, &str) -> &'static str) -> Platform {
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let state = Arc::new(Mutex::new((Case::default(), HashMap::new())));
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone(), route));
            }
        });
        Platform { base, state }
    }

    fn play(&self, case: Case) {
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (case, HashMap::new());
    }
}

type Shared = Arc<Mutex<(Case, HashMap<&'static str, usize>)>>;

async fn serve(mut stream: TcpStream, state: Shared, route: fn(&str, &str) -> &'static str) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        request.next().unwrap_or_default(),
        request.next().unwrap_or_default(),
    );
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .get("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    {
        let key = headers
            .get("sec-websocket-key")
            .cloned()
            .unwrap_or_default();
        let switch = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if stream.write_all(switch.as_bytes()).await.is_err() {
            return;
        }
        let frames = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .frames
            .clone();
        let socket = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        let (mut sink, mut source) = socket.split();
        let drain = tokio::spawn(async move { while let Some(Ok(_)) = source.next().await {} });
        for frame in frames {
            if sink.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        return;
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let kind = route(method, path);
    let answer = {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (case, served) = &mut *state;
        let turn = served.entry(kind).or_insert(0);
        let answer = case
            .answers
            .get(kind)
            .and_then(|list| list.get(*turn).or(list.last()))
            .cloned();
        *turn += 1;
        answer.unwrap_or(Answer {
            status: 404,
            headers: Vec::new(),
            body: "{}".into(),
        })
    };
    let mut response = format!(
        "HTTP/1.1 {} Fuzz\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "ok", "error", "errcode", "id", "user_id", "user", "name", "text", "body", "content",
    "contentType", "type", "subtype", "ts", "channel", "channels", "messages", "events",
    "event", "data", "post", "posts", "props", "mentions", "value", "from", "chatType", "x",
];

#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "", " ", "ok", "true", "false", "null", "0", "-1", "1700000000.000100", "1700000000",
    ".5", "1.2.3", "99999999999999999999.9", "U0ME", "U0BOB", "C1", "D1", "me1", "@alice:x.org",
    "m.room.message", "m.room.member", "m.room.name", "m.notice", "m.text", "message",
    "app_mention", "bot_message", "message_changed", "im", "channel", "hello", "events_api",
    "disconnect", "refresh_requested", "link_disabled", "posted", "D", "G", "O", "P",
    "oneOnOne", "group", "meeting", "html", "text", "systemEventMessage", "invalid_auth",
    "missing_scope", "ratelimited", "snooze_not_active", "invalid_grant", "M_NOT_FOUND",
    "2026-11-28T10:00:01Z", "2026-11-28T09:00:00Z", "9999-12-31T23:59:59.9999999Z",
    "-009999-01-01T00:00:00Z", "2026-11-28T10:00:01", "deepwork_auto_reply", "\u{0}",
    "\u{202e}", "line\nbreak", "<@U0ME>", "../../x", "a/b?c#d", "http://elsewhere/",
];

/// Odd header values: seconds, dates and garbage.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "0", "1", "30", "-1", "1.5", "99999999999999999999", "18446744073709551615",
            "Sun, 06 Nov 1994 08:49:37 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "garbage", "",
        ])
        .prop_map(str::to_owned),
        1 => "[ -~]{0,40}",
    ]
}

/// An answer carrying `body`: mostly a success with its JSON edited, sometimes another
/// status, headers the adapters read, or a body that is not JSON.
fn answer(body: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Answer> {
    answer_with(
        body,
        &[
            201, 204, 299, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503, 599,
        ],
        &["Retry-After", "X-Ratelimit-Reset", "Date"],
        header_value(),
    )
}

/// An answer as [`answer`] makes them, its odd status one of `statuses` and its headers
/// named from `names`, with values of `values`.
fn answer_with(
    body: impl Strategy<Value = Value> + Clone,
    statuses: &'static [u16],
    names: &'static [&'static str],
    values: impl Strategy<Value = String>,
) -> impl Strategy<Value = Answer> {
    let status = prop_oneof![
        30 => Just(200u16),
        1 => prop::sample::select(statuses),
    ];
    let headers = prop::collection::vec((prop::sample::select(names), values), 0..3);
    let body = prop_oneof![
        16 => mostly(body.clone()).prop_map(|v| v.to_string()),
        1 => (edited(body, 1, KEYS, STRINGS), prop::collection::vec(edit(TEXT_TOKENS), 1..4))
            .prop_map(|(v, edits)| apply(v.to_string(), &edits)),
        1 => any_text(),
        1 => edited(odd_value(STRINGS), 0, KEYS, STRINGS).prop_map(|v| v.to_string()),
    ];
    (status, headers, body).prop_map(|(status, headers, body)| Answer {
        status,
        headers,
        body,
    })
}

/// `value` as a platform would send it, mostly; else with its structure edited.
fn mostly(value: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> + Clone {
    prop_oneof![3 => value.clone(), 1 => edited(value, 2, KEYS, STRINGS)]
}

/// Answers for one kind of request, for a few requests.
fn answers(body: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Vec<Answer>> {
    prop::collection::vec(answer(body), 1..4)
}

fn id() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => prop::sample::select(vec!["U0BOB", "U0CAROL", "U0ME", "B01", "bob", "carol", "me1", "m1", "m2", "C1", "D1"]).prop_map(str::to_owned),
        1 => any_text(),
    ]
}

fn millis() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        4 => (1_700_000_000_000i64..1_700_000_100_000).prop_map(Value::from),
        1 => prop::sample::select(ODD_NUMBERS).prop_map(Value::from),
    ]
}

fn maybe<T: Debug + Clone>(
    value: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Option<T>> + Clone {
    prop::option::weighted(0.7, value)
}

/// An adapter kept from case to case: making one costs some 40 ms (its HTTP client
/// reads the system's certificates), a case a few. A new one now and then (`fresh`) starts
/// from empty caches again (who the user is, names, rooms, the access token).
struct Kept<A>(Mutex<Option<Arc<A>>>);

impl<A> Default for Kept<A> {
    fn default() -> Self {
        Kept(Mutex::new(None))
    }
}

impl<A> Kept<A> {
    fn get(&self, fresh: bool, make: impl FnOnce() -> A) -> Arc<A> {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match kept.as_ref() {
            Some(adapter) if !fresh => adapter.clone(),
            _ => kept.insert(Arc::new(make())).clone(),
        }
    }
}

fn fresh() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.1)
}

/// A runtime for the adapters and the platform's tasks.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs one case's calls, failing on a panic anywhere or a call that hung.
fn run_case(
    runtime: &tokio::runtime::Runtime,
    calls: impl Future<Output = Result<(), TestCaseError>>,
) -> Result<(), TestCaseError> {
    let before = PANICS.load(Ordering::SeqCst);
    let result = runtime.block_on(calls);
    // Tasks the adapter spawned get a moment to finish (or panic).
    runtime.block_on(tokio::task::yield_now());
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "something panicked");
    result
}

// ---- Matrix ----

fn matrix_route(_: &str, path: &str) -> &'static str {
    if path.contains("/sync") {
        "sync"
    } else if path.contains("/joined_members") {
        "members"
    } else if path.contains("/state/m.room.name") {
        "name"
    } else if path.contains("/presence/") {
        "presence"
    } else {
        "other"
    }
}

fn matrix_event() -> impl Strategy<Value = Value> + Clone {
    let kind = prop_oneof![6 => Just("m.room.message"), 1 => Just("m.room.member"), 1 => Just("m.room.name")];
    let msgtype = prop_oneof![4 => Just("m.text"), 1 => Just("m.notice"), 1 => Just("m.emote")];
    let mentions = maybe(prop::collection::vec(
        prop_oneof![Just("@alice:x.org".to_owned()), any_text()],
        0..3,
    ));
    (kind, prop_oneof![Just("@bob:x.org".to_owned()), Just("@alice:x.org".to_owned()), id()], id(), millis(), msgtype, any_text(), mentions)
        .prop_map(|(kind, sender, event_id, ts, msgtype, body, mentions)| {
            let mut content = json!({ "msgtype": msgtype, "body": body });
            if let Some(ids) = mentions {
                content["m.mentions"] = json!({ "user_ids": ids });
            }
            json!({ "type": kind, "sender": sender, "event_id": event_id, "origin_server_ts": ts, "content": content })
        })
}

fn matrix_case() -> impl Strategy<Value = Case> {
    let room = (
        prop_oneof![
            Just("!dm:x.org".to_owned()),
            Just("!team:x.org".to_owned()),
            any_text()
        ],
        prop::collection::vec(matrix_event(), 0..4),
        any::<bool>(),
    );
    let sync = (any_text(), prop::collection::vec(room, 0..3)).prop_map(|(next, rooms)| {
        let join: serde_json::Map<String, Value> = rooms
            .into_iter()
            .map(|(id, events, changed)| {
                let summary = if changed { json!({ "m.joined_member_count": 2 }) } else { json!({}) };
                (id, json!({ "timeline": { "events": events }, "state": { "events": [] }, "summary": summary }))
            })
            .collect();
        json!({ "next_batch": next, "rooms": { "join": join } })
    });
    let members = prop::collection::vec(
        (
            prop_oneof![Just("@alice:x.org".to_owned()), id()],
            maybe(any_text()),
        ),
        0..4,
    )
    .prop_map(|members| {
        let joined: serde_json::Map<String, Value> = members
            .into_iter()
            .map(|(user, name)| (user, json!({ "display_name": name })))
            .collect();
        json!({ "joined": joined })
    });
    let name = any_text().prop_map(|name| json!({ "name": name }));
    let presence = (
        prop::sample::select(vec!["online", "unavailable", "offline", "busy"]),
        maybe(any_text()),
    )
        .prop_map(|(presence, message)| json!({ "presence": presence, "status_msg": message }));
    (
        answers(sync),
        answers(members),
        answers(name),
        answers(presence),
        answers(Just(json!({}))),
    )
        .prop_map(|(sync, members, name, presence, other)| Case {
            answers: HashMap::from([
                ("sync", sync),
                ("members", members),
                ("name", name),
                ("presence", presence),
                ("other", other),
            ]),
            frames: Vec::new(),
        })
}

#[test]
fn matrix_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, matrix_route);
    let stored = snapshot(
        "matrix",
        json!({ "presence": "online", "status_msg": "lunch" }),
    );
    let kept = Kept::default();
    fuzz(
        "matrix",
        256,
        (matrix_case(), stored, fresh()),
        |(case, stored, fresh)| {
            platform.play(case);
            let matrix = kept.get(fresh, || {
                MatrixAdapter::new(&platform.base, "@alice:x.org", "token".into())
                    .expect("an adapter")
            });
            run_case(&runtime, async {
                check_batch(
                    "matrix",
                    &within("matrix fetch", matrix.fetch(Some("s1"), Duration::ZERO)).await?,
                )?;
                check_batch(
                    "matrix",
                    &within(
                        "matrix fetch again",
                        matrix.fetch(Some("s2"), Duration::ZERO),
                    )
                    .await?,
                )?;
                check_batch(
                    "matrix",
                    &within("matrix first fetch", matrix.fetch(None, Duration::ZERO)).await?,
                )?;
                let _ = within("matrix snapshot", matrix.snapshot()).await?;
                let _ = within("matrix restore", matrix.restore(&stored)).await?;
                let _ = within("matrix reply", matrix.reply(&to(), "back at 14:00")).await?;
                Ok(())
            })
        },
    );
    report_reads("matrix");
}

// ---- Slack: polled, and pushed over Socket Mode ----

fn slack_route(_: &str, path: &str) -> &'static str {
    let method = path.rsplit('/').next().unwrap_or_default();
    match method {
        "auth.test" => "auth.test",
        "conversations.list" => "conversations.list",
        "conversations.history" => "conversations.history",
        "users.info" => "users.info",
        "conversations.info" => "conversations.info",
        "users.profile.get" => "users.profile.get",
        "dnd.info" => "dnd.info",
        "apps.connections.open" => "apps.connections.open",
        _ => "other",
    }
}

fn slack_ts() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => (1_700_000_001i64..1_700_000_100, 0u32..1_000_000).prop_map(|(s, us)| format!("{s}.{us:06}")),
        1 => prop::sample::select(vec!["", "1", "abc", ".5", "1.2.3", "-1.0", "99999999999999999999.9", "1700000000.9999999"]).prop_map(str::to_owned),
    ]
}

fn slack_text() -> impl Strategy<Value = String> + Clone {
    soup(SLACK_TOKENS, 24)
}

#[rustfmt::skip]
const SLACK_TOKENS: &[&str] = &[
    "<", ">", "|", "^", "@", "#", "!", "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "<@U0ME>",
    "<@U0BOB>", "<@U0BOB|bob>", "<@>", "<#C1>", "<#C1|general>", "<#>", "<!here>", "<!channel>",
    "<!everyone>", "<!subteam^S1>", "<!subteam^S1|@design>", "<!date^1392734382^{date}|Feb 18>",
    "<!date^x>", "<!>", "<https://example.com|label>", "<https://example.com>", "<mailto:b@x.org|Bob>",
    "<mailto:>", "<|>", "<>", "hi", " ", "\n", "é", "👩‍💻", "\u{202E}", "\u{0}", "\u{1b}",
];

fn slack_message(event: bool) -> impl Strategy<Value = Value> + Clone {
    let subtype = maybe(prop::sample::select(vec![
        "bot_message",
        "message_changed",
        "channel_join",
    ]));
    let kind =
        prop_oneof![4 => Just("message"), 1 => Just("app_mention"), 1 => Just("reaction_added")];
    let channel_type = prop_oneof![3 => Just("im"), 1 => Just("channel"), 1 => Just("mpim")];
    (
        kind,
        subtype,
        maybe(id()),
        maybe(id()),
        slack_text(),
        slack_ts(),
        channel_type,
        any::<bool>(),
    )
        .prop_map(
            move |(kind, subtype, user, bot, text, ts, channel_type, marked)| {
                let mut message = json!({ "type": kind, "text": text, "ts": ts });
                if let Some(subtype) = subtype {
                    message["subtype"] = json!(subtype);
                }
                if let Some(user) = user {
                    message["user"] = json!(user);
                }
                if let Some(bot) = bot {
                    message["bot_id"] = json!(bot);
                }
                if marked {
                    message["metadata"] = json!({ "event_type": "deepwork_auto_reply" });
                }
                if event {
                    message["channel"] = json!("D1");
                    message["channel_type"] = json!(channel_type);
                }
                message
            },
        )
}

fn slack_case(socket: String) -> impl Strategy<Value = Case> {
    let ok = |value: Value| {
        let mut value = value;
        value["ok"] = json!(true);
        value
    };
    let auth = prop_oneof![5 => Just(json!({ "ok": true, "user_id": "U0ME" })), 1 => (prop::sample::select(vec!["invalid_auth", "missing_scope", "ratelimited", "fatal_error", "weird"]), any_text()).prop_map(|(e, n)| json!({ "ok": false, "error": e, "needed": n }))];
    let list = prop::collection::vec(
        prop_oneof![
            Just(json!({ "id": "D1" })),
            id().prop_map(|id| json!({ "id": id }))
        ],
        0..3,
    )
    .prop_map(move |channels| ok(json!({ "channels": channels })));
    let history = prop::collection::vec(slack_message(false), 0..4)
        .prop_map(move |messages| ok(json!({ "messages": messages })));
    let user = (any_text(), any_text()).prop_map(move |(name, display)| {
        ok(json!({ "user": { "name": name, "profile": { "display_name": display } } }))
    });
    let channel = any_text().prop_map(move |name| ok(json!({ "channel": { "name": name } })));
    let profile = (any_text(), any_text(), prop::sample::select(ODD_NUMBERS)).prop_map(move |(text, emoji, expiry)| ok(json!({ "profile": { "status_text": text, "status_emoji": emoji, "status_expiration": expiry } })));
    let dnd = (any::<bool>(), prop::sample::select(ODD_NUMBERS))
        .prop_map(move |(on, end)| ok(json!({ "snooze_enabled": on, "snooze_endtime": end })));
    let open = Just(json!({ "ok": true, "url": socket }));
    let envelope = (slack_message(true), maybe(id())).prop_map(|(event, envelope)| {
        let mut frame = json!({ "type": "events_api", "payload": { "event": event } });
        if let Some(envelope) = envelope {
            frame["envelope_id"] = json!(envelope);
        }
        frame
    });
    let frame = prop_oneof![
        8 => envelope,
        1 => prop::sample::select(vec![
            json!({ "type": "disconnect", "reason": "refresh_requested" }),
            json!({ "type": "disconnect", "reason": "link_disabled" }),
            json!({ "type": "hello" }),
        ]),
    ];
    let frames = (
        any::<bool>(),
        prop::collection::vec(edited(frame, 1, KEYS, STRINGS), 0..5),
        prop::collection::vec(any_text(), 0..2),
    )
        .prop_map(|(hello, frames, junk)| {
            let mut all = Vec::new();
            if hello {
                all.push(json!({ "type": "hello" }).to_string());
            }
            all.extend(frames.iter().map(Value::to_string));
            all.extend(junk);
            all
        });
    (
        (
            answers(auth),
            answers(list),
            answers(history),
            answers(user),
        ),
        (
            answers(channel),
            answers(profile),
            answers(dnd),
            answers(open),
            answers(Just(json!({ "ok": true }))),
        ),
        frames,
    )
        .prop_map(
            |((auth, list, history, user), (channel, profile, dnd, open, other), frames)| Case {
                answers: HashMap::from([
                    ("auth.test", auth),
                    ("conversations.list", list),
                    ("conversations.history", history),
                    ("users.info", user),
                    ("conversations.info", channel),
                    ("users.profile.get", profile),
                    ("dnd.info", dnd),
                    ("apps.connections.open", open),
                    ("other", other),
                ]),
                frames,
            },
        )
}

#[test]
fn slack_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, slack_route);
    let socket = format!("{}/socket", platform.base.replace("http://", "ws://"));
    let stored = snapshot(
        "slack",
        json!({ "status_text": "Lunch", "status_emoji": ":sandwich:", "status_expiration": 0, "snooze_enabled": true, "snooze_endtime": 4_102_444_800i64 }),
    );
    let (polled_kept, pushed_kept) = (Kept::default(), Kept::default());
    fuzz(
        "slack",
        256,
        (slack_case(socket), stored, any::<bool>(), fresh()),
        |(case, stored, pushed, fresh)| {
            platform.play(case);
            let api = format!("{}/api/", platform.base);
            let slack = if pushed {
                pushed_kept.get(fresh, || {
                    SlackAdapter::new(&api, "xoxp-1".into())
                        .expect("an adapter")
                        .with_app_token("xapp-1".into())
                })
            } else {
                polled_kept.get(fresh, || {
                    SlackAdapter::new(&api, "xoxp-1".into()).expect("an adapter")
                })
            };
            run_case(&runtime, async {
                check_batch(
                    "slack",
                    &within(
                        "slack fetch",
                        slack.fetch(Some("1700000000.000000"), Duration::ZERO),
                    )
                    .await?,
                )?;
                check_batch(
                    "slack",
                    &within("slack first fetch", slack.fetch(None, Duration::ZERO)).await?,
                )?;
                let _ = within("slack snapshot", slack.snapshot()).await?;
                let _ = within("slack set_focus", slack.set_focus(&focus())).await?;
                let _ = within("slack restore", slack.restore(&stored)).await?;
                let _ = within("slack reply", slack.reply(&to(), "back at 14:00")).await?;
                Ok(())
            })
        },
    );
    report_reads("slack");
}

// ---- Mattermost: the REST API and the event socket ----

fn mattermost_route(_: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/posts") {
        "posts"
    } else if path.ends_with("/channels") {
        "channels"
    } else if path.contains("/status") {
        "status"
    } else if path.ends_with("/users/me") {
        "me"
    } else if path.contains("/users/") {
        "user"
    } else {
        "other"
    }
}

fn mattermost_post() -> impl Strategy<Value = Value> + Clone {
    let kind = prop_oneof![6 => Just(""), 1 => Just("system_join_channel")];
    let props = prop::sample::select(vec![
        json!({}),
        json!({ "from_bot": "true" }),
        json!({ "from_webhook": true }),
        json!({ "deepwork_auto_reply": "true" }),
    ]);
    (id(), prop_oneof![Just("bob".to_owned()), Just("me1".to_owned()), id()], id(), millis(), any_text(), kind, props)
        .prop_map(|(id, user, channel, at, message, kind, props)| {
            json!({ "id": id, "user_id": user, "channel_id": channel, "create_at": at, "message": message, "type": kind, "props": props })
        })
}

fn mattermost_case() -> impl Strategy<Value = Case> {
    let custom = maybe(edited(
        Just(
            json!({ "emoji": "sandwich", "text": "Lunch", "duration": "today", "expires_at": "2099-01-01T00:00:00Z" }),
        ),
        2,
        KEYS,
        STRINGS,
    ));
    let me = (
        prop_oneof![5 => Just("me1".to_owned()), 1 => id()],
        prop_oneof![5 => Just("alice".to_owned()), 1 => any_text()],
        custom,
    )
        .prop_map(|(id, username, custom)| {
            let mut me = json!({ "id": id, "username": username });
            if let Some(custom) = custom {
                me["props"] = json!({ "customStatus": custom.to_string() });
            }
            me
        });
    let status = (prop::sample::select(vec!["online", "away", "dnd", "offline", "weird"]), any::<bool>(), prop::sample::select(ODD_NUMBERS))
        .prop_map(|(status, manual, end)| json!({ "user_id": "me1", "status": status, "manual": manual, "dnd_end_time": end }));
    let channel_kind = prop_oneof![Just("D"), Just("G"), Just("O"), Just("P"), Just("X")];
    let channels = prop::collection::vec((id(), channel_kind, any_text(), millis()), 0..3).prop_map(|channels| {
        Value::Array(channels.into_iter().map(|(id, kind, name, last)| json!({ "id": id, "type": kind, "display_name": name, "last_post_at": last })).collect())
    });
    let posts = prop::collection::vec(mattermost_post(), 0..4).prop_map(|posts| {
        let order: Vec<Value> = posts.iter().map(|p| p["id"].clone()).collect();
        let map: serde_json::Map<String, Value> = posts
            .into_iter()
            .map(|p| (p["id"].as_str().unwrap_or_default().to_owned(), p))
            .collect();
        json!({ "order": order, "posts": map })
    });
    let user = any_text().prop_map(|username| json!({ "username": username }));
    let posted = (
        edited(mattermost_post(), 1, KEYS, STRINGS),
        prop_oneof![Just("D"), Just("G"), Just("O")],
        maybe(prop_oneof![Just(json!(["me1"]).to_string()), any_text()]),
        maybe(any_text()),
        maybe(any_text()),
    )
        .prop_map(|(post, channel_type, mentions, sender, room)| {
            let mut data = json!({ "post": post.to_string(), "channel_type": channel_type });
            if let Some(mentions) = mentions {
                data["mentions"] = json!(mentions);
            }
            if let Some(sender) = sender {
                data["sender_name"] = json!(format!("@{sender}"));
            }
            if let Some(room) = room {
                data["channel_display_name"] = json!(room);
            }
            json!({ "event": "posted", "data": data })
        });
    let accepted = prop_oneof![
        8 => Just(json!({ "seq_reply": 1, "status": "OK" })),
        1 => Just(json!({ "seq_reply": 1, "status": "FAIL", "error": { "id": "api.web_socket.auth" } })),
        1 => odd_value(STRINGS),
    ];
    let frames = (
        accepted,
        prop::collection::vec(edited(posted, 1, KEYS, STRINGS), 0..4),
        prop::collection::vec(any_text(), 0..2),
    )
        .prop_map(|(accepted, posted, junk)| {
            let mut all = vec![accepted.to_string()];
            all.extend(posted.iter().map(Value::to_string));
            all.extend(junk);
            all
        });
    (
        (answers(me), answers(status), answers(channels)),
        (answers(posts), answers(user), answers(Just(json!({})))),
        frames,
    )
        .prop_map(
            |((me, status, channels), (posts, user, other), frames)| Case {
                answers: HashMap::from([
                    ("me", me),
                    ("status", status),
                    ("channels", channels),
                    ("posts", posts),
                    ("user", user),
                    ("other", other),
                ]),
                frames,
            },
        )
}

#[test]
fn mattermost_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, mattermost_route);
    let stored = snapshot(
        "mattermost",
        json!({ "user_id": "me1", "status": "away", "manual": true, "dnd_end_time": 0, "custom": { "emoji": "sandwich", "text": "Lunch", "expires_at": "2099-01-01T00:00:00Z" } }),
    );
    let kept = Kept::default();
    fuzz(
        "mattermost",
        256,
        (mattermost_case(), stored, fresh()),
        |(case, stored, fresh)| {
            platform.play(case);
            let mattermost = kept.get(fresh, || {
                MattermostAdapter::new(&platform.base, "token".into()).expect("an adapter")
            });
            run_case(&runtime, async {
                check_batch(
                    "mattermost",
                    &within(
                        "mattermost fetch",
                        mattermost.fetch(Some("1700000000000"), Duration::ZERO),
                    )
                    .await?,
                )?;
                check_batch(
                    "mattermost",
                    &within(
                        "mattermost first fetch",
                        mattermost.fetch(None, Duration::ZERO),
                    )
                    .await?,
                )?;
                let _ = within("mattermost snapshot", mattermost.snapshot()).await?;
                let _ = within("mattermost set_focus", mattermost.set_focus(&focus())).await?;
                let _ = within("mattermost restore", mattermost.restore(&stored)).await?;
                let _ =
                    within("mattermost reply", mattermost.reply(&to(), "back at 14:00")).await?;
                Ok(())
            })
        },
    );
    report_reads("mattermost");
}

// ---- Teams, through Microsoft Graph ----

fn teams_route(_: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/oauth2/v2.0/token") {
        "token"
    } else if path.ends_with("/messages") {
        "messages"
    } else if path.ends_with("/me/chats") {
        "chats"
    } else if path.ends_with("/me/presence") {
        "presence"
    } else if path.ends_with("/me") {
        "me"
    } else {
        "other"
    }
}

fn graph_time() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => (1u32..59, 0u32..1000).prop_map(|(s, ms)| format!("2026-11-28T10:00:{s:02}.{ms:03}Z")),
        1 => prop::sample::select(vec!["", "2026-11-28T10:00:01", "2026-11-28T09:00:00Z", "9999-12-31T23:59:59.9999999Z", "-009999-01-01T00:00:00Z", "garbage"]).prop_map(str::to_owned),
    ]
}

fn teams_case() -> impl Strategy<Value = Case> {
    let token = prop_oneof![
        8 => (maybe(any_text()), prop::sample::select(ODD_NUMBERS)).prop_map(|(rotated, expires)| {
            let mut token = json!({ "access_token": "at", "expires_in": expires.rem_euclid(100_000) });
            if let Some(rotated) = rotated {
                token["refresh_token"] = json!(rotated);
            }
            token
        }),
        1 => (prop::sample::select(vec!["invalid_grant", "invalid_client", "weird"]), any_text()).prop_map(|(e, d)| json!({ "error": e, "error_description": d })),
    ];
    let me = prop_oneof![5 => Just(json!({ "id": "me1" })), 1 => id().prop_map(|id| json!({ "id": id }))];
    let chat_type = prop_oneof![3 => Just("oneOnOne"), 1 => Just("group"), 1 => Just("meeting")];
    let chats = prop::collection::vec((prop_oneof![Just("19:c1@thread.v2".to_owned()), id()], chat_type, maybe(any_text()), maybe(any_text()), graph_time()), 0..3)
        .prop_map(|chats| {
            let value: Vec<Value> = chats.into_iter().map(|(id, kind, topic, url, last)| {
                json!({ "id": id, "chatType": kind, "topic": topic, "webUrl": url, "lastMessagePreview": { "createdDateTime": last } })
            }).collect();
            json!({ "value": value })
        });
    let from = prop_oneof![
        4 => (prop_oneof![Just("bob".to_owned()), Just("me1".to_owned()), id()], maybe(any_text())).prop_map(|(id, name)| json!({ "user": { "id": id, "displayName": name } })),
        1 => (id(), maybe(any_text())).prop_map(|(id, name)| json!({ "application": { "id": id, "displayName": name } })),
        1 => Just(Value::Null),
    ];
    let message = (id(), graph_time(), prop_oneof![4 => Just("message"), 1 => Just("systemEventMessage")], from, prop_oneof![Just("html"), Just("text")], any_text(), any::<bool>())
        .prop_map(|(id, at, kind, from, content_type, content, mentioned)| {
            let mentions = if mentioned { json!([{ "mentioned": { "user": { "id": "me1" } } }]) } else { json!([]) };
            json!({ "id": id, "createdDateTime": at, "messageType": kind, "from": from, "body": { "contentType": content_type, "content": content }, "mentions": mentions })
        });
    let messages = prop::collection::vec(message, 0..4).prop_map(|value| json!({ "value": value }));
    let presence = (
        prop::sample::select(vec!["Available", "Busy", "DoNotDisturb", "Offline"]),
        maybe(any_text()),
        maybe(graph_time()),
    )
        .prop_map(|(availability, message, expiry)| {
            let mut presence = json!({ "availability": availability });
            if let Some(message) = message {
                presence["statusMessage"] =
                    json!({ "message": { "content": message, "contentType": "text" } });
                if let Some(expiry) = expiry {
                    presence["statusMessage"]["expiryDateTime"] =
                        json!({ "dateTime": expiry.trim_end_matches('Z'), "timeZone": "UTC" });
                }
            }
            presence
        });
    (
        (answers(token), answers(me), answers(chats)),
        (
            answers(messages),
            answers(presence),
            answers(Just(json!({}))),
        ),
    )
        .prop_map(|((token, me, chats), (messages, presence, other))| Case {
            answers: HashMap::from([
                ("token", token),
                ("me", me),
                ("chats", chats),
                ("messages", messages),
                ("presence", presence),
                ("other", other),
            ]),
            frames: Vec::new(),
        })
}

#[test]
fn teams_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, teams_route);
    let stored = snapshot(
        "teams",
        json!({ "availability": "Available", "status_message": { "message": { "content": "Lunch", "contentType": "text" }, "expiryDateTime": { "dateTime": "2099-01-01T00:00:00", "timeZone": "UTC" } } }),
    );
    let cursor = prop_oneof![
        8 => Just("2026-11-28T10:00:00Z".to_owned()),
        1 => prop::sample::select(vec!["", "2026-11-28T10:00:00", "-009999-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"]).prop_map(str::to_owned),
    ];
    let kept = Kept::default();
    fuzz(
        "teams",
        256,
        (teams_case(), stored, cursor, fresh()),
        |(case, stored, cursor, fresh)| {
            platform.play(case);
            let teams = kept.get(fresh, || {
                let endpoints = TeamsEndpoints::new(
                    &format!("{}/auth/", platform.base),
                    "tenant",
                    &format!("{}/graph/v1.0/", platform.base),
                    "client-1",
                )
                .expect("endpoints");
                TeamsAdapter::new(endpoints, "refresh".into(), Box::new(|_| {}))
                    .expect("an adapter")
            });
            run_case(&runtime, async {
                check_batch(
                    "teams",
                    &within("teams fetch", teams.fetch(Some(&cursor), Duration::ZERO)).await?,
                )?;
                check_batch(
                    "teams",
                    &within("teams first fetch", teams.fetch(None, Duration::ZERO)).await?,
                )?;
                let _ = within("teams snapshot", teams.snapshot()).await?;
                let _ = within("teams restore", teams.restore(&stored)).await?;
                let _ = within("teams reply", teams.reply(&to(), "back at 14:00")).await?;
                Ok(())
            })
        },
    );
    report_reads("teams");
}

// ---- the read-only sources: GitHub, Jira, Confluence, Notion, Google Docs ----

/// The pace given to the sources that take one, so that every read of a case asks.
const TINY_PACE: Duration = Duration::from_millis(1);
/// How long a read from a cursor may wait for its source's turn.
const SHORT_WAIT: Duration = Duration::from_millis(5);
/// The cursor read from when the first read failed (every source's cursor has `since`).
const GOOD_CURSOR: &str = r#"{"since":"2026-11-28T10:00:00Z"}"#;

#[rustfmt::skip]
const SOURCE_STATUSES: &[u16] = &[
    201, 204, 205, 299, 301, 304, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503, 599,
];

#[rustfmt::skip]
const SOURCE_HEADERS: &[&str] = &[
    "Retry-After", "X-Ratelimit-Reset", "X-Ratelimit-Remaining", "Date", "Last-Modified",
    "X-Poll-Interval",
];

/// Odd header values, and the epoch seconds and dates the sources' headers carry.
fn source_header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => header_value(),
        1 => prop::sample::select(vec![
            "2", "1764410000", "4102444800", "9999999999", "253402300800",
            "Sun, 29 Nov 2026 09:30:00 GMT", "Sun, 29 Nov 2026 09:30:00 +1400",
            "Mon, 01 Jan 0001 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "\"etag\"",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A refused request: a rate limit, lapsed credentials, an outage, "not modified", with
/// the headers that say how long to wait and the platform's own words.
fn refusal(body: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Answer> {
    (
        prop::sample::select(vec![304u16, 401, 403, 403, 404, 429, 429, 500, 503]),
        prop::collection::vec(
            (prop::sample::select(SOURCE_HEADERS), source_header_value()),
            0..4,
        ),
        mostly(body),
    )
        .prop_map(|(status, headers, body)| Answer {
            status,
            headers,
            body: body.to_string(),
        })
}

/// Answers for one kind of a source's requests: mostly `body`, now and then `refused`.
fn source_answers(
    body: impl Strategy<Value = Value> + Clone,
    refused: impl Strategy<Value = Value> + Clone,
) -> impl Strategy<Value = Vec<Answer>> {
    let answer = prop_oneof![
        10 => answer_with(body, SOURCE_STATUSES, SOURCE_HEADERS, source_header_value()),
        1 => refusal(refused),
    ];
    prop::collection::vec(answer, 1..4)
}

/// Text of any size: mostly short, now and then some 80 kB.
fn big_text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        8 => any_text(),
        1 => (any_text(), 1usize..4000).prop_map(|(s, n)| s.repeat(n.min(80_000 / s.len().max(1)))),
    ]
}

/// A time as the services write them: mostly ahead of any cursor (so that what is read
/// is new), else odd.
fn source_time() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        6 => (0u32..24, 0u32..60, 0u32..1000).prop_map(|(h, m, ms)| format!("2099-01-01T{h:02}:{m:02}:00.{ms:03}Z")),
        1 => prop::sample::select(vec![
            "", "2026-11-28T10:00:01", "2026-11-28T10:00:01.000+0000", "2026-11-28T10:00:01+01:00",
            "2000-01-01T00:00:00Z", "9999-12-30T22:00:00.999999999Z", "-009999-01-02T01:59:59Z",
            "9999-12-31T23:59:59.9999999Z", "1700000000", "garbage",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A cursor other than the one the source gave: damaged, at the ends of time, or with a
/// header that cannot be sent.
fn odd_cursor() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.15,
        prop_oneof![
            2 => prop::sample::select(vec![
                "", "{}", "null", "[]", r#"{"since":null}"#,
                r#"{"since":"-009999-01-02T01:59:59Z"}"#,
                r#"{"since":"9999-12-30T22:00:00.999999999Z"}"#,
                r#"{"since":"2026-11-28T10:00:00Z","last_modified":"garbage\r\nX-Evil: 1"}"#,
                r#"{"since":"2026-11-28T10:00:00Z","last_modified":"\u00e9\u0000"}"#,
            ])
            .prop_map(str::to_owned),
            1 => edited(
                Just(json!({ "since": "2026-11-28T10:00:00Z", "last_modified": "Sat, 28 Nov 2026 10:00:00 GMT" })),
                2,
                KEYS,
                STRINGS,
            )
            .prop_map(|cursor| cursor.to_string()),
        ],
    )
}

/// When an item arrived: lately, mostly.
fn asked_since() -> impl Strategy<Value = Timestamp> + Clone {
    prop_oneof![
        4 => 1_764_000_000i64..1_764_500_000,
        1 => prop::sample::select(vec![0i64, 946_684_800, 4_102_444_800, 253_402_200_000]),
    ]
    .prop_map(|second| Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// What the follow-up is asked besides the items read: when those arrived, and other
/// items, in `conversations`.
fn follow_up(
    conversations: impl Strategy<Value = String> + Clone,
) -> impl Strategy<Value = (Timestamp, Vec<Asked>)> {
    (
        asked_since(),
        prop::collection::vec((id(), conversations, asked_since()), 0..3),
    )
        .prop_map(|(since, others)| {
            let others = others
                .into_iter()
                .map(|(message_id, conversation, since)| Asked {
                    message_id,
                    conversation,
                    since,
                })
                .collect();
            (since, others)
        })
}

/// Every answer the follow-up finds must be to an item it was asked about. Its calls are
/// tallied as the reads of `{source} follow-up`, the answers found as their messages.
fn check_answered(
    source: &str,
    asked: &[Asked],
    answered: &Result<Vec<Answered>, AdapterError>,
) -> Result<(), TestCaseError> {
    let mut tally = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let counts = tally
        .get_or_insert_with(HashMap::new)
        .entry(format!("{source} follow-up"))
        .or_default();
    match answered {
        Ok(answered) => {
            counts[0] += 1;
            counts[1] += answered.len();
            for answer in answered {
                prop_assert!(
                    asked.iter().any(|a| a.message_id == answer.message_id),
                    "{answer:?} answers nothing asked"
                );
            }
        }
        Err(error) => {
            counts[2] += 1;
            let _ = (error.to_string(), error.is_transient());
        }
    }
    Ok(())
}

/// A read-only source's calls as the engine makes them: the first read ("now"), then
/// three from the cursor it gave (or an odd one, or a good one when the first failed),
/// then which of the items read, and of `asked`, the user answered. The messages read.
async fn read_and_follow<S: MessageSource + FollowUp>(
    name: &str,
    source: &S,
    odd_cursor: Option<String>,
    (since, asked): (Timestamp, Vec<Asked>),
) -> Result<Vec<IncomingMessage>, TestCaseError> {
    let first = within(
        &format!("{name} first fetch"),
        source.fetch(None, Duration::ZERO),
    )
    .await?;
    check_batch(name, &first)?;
    let mut cursor = match (odd_cursor, first) {
        (Some(odd), _) => odd,
        (None, Ok(batch)) => batch.cursor,
        (None, Err(_)) => GOOD_CURSOR.to_owned(),
    };
    let mut read = Vec::new();
    for turn in 0..3 {
        let batch = within(
            &format!("{name} fetch {turn}"),
            source.fetch(Some(&cursor), SHORT_WAIT),
        )
        .await?;
        check_batch(name, &batch)?;
        if let Ok(batch) = batch {
            cursor = batch.cursor;
            read.extend(batch.messages);
        }
    }
    let mut items: Vec<Asked> = read
        .iter()
        .take(6)
        .map(|message| Asked {
            message_id: message.id.clone(),
            conversation: message.reply_to.conversation.clone(),
            since,
        })
        .collect();
    items.extend(asked);
    let answered = within(&format!("{name} answered"), source.answered(&items)).await?;
    check_answered(name, &items, &answered)?;
    Ok(read)
}

/// Whether a case may have set a source's next turn far off: a rate limit names its wait
/// (Drive's reasons make any refusal one). A source kept after it would ask nothing
/// until then, so the next case gets a new one.
fn may_stall(case: &Case) -> bool {
    case.answers.values().flatten().any(|answer| {
        answer.status == 429
            || (!(200..300).contains(&answer.status) && answer.body.contains("ateLimitExceeded"))
    })
}

// GitHub: notifications, the comments they point at, and the follow-up.

fn github_route(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if method == "PATCH" {
        "thread"
    } else if path.ends_with("/notifications") {
        "notifications"
    } else if path.ends_with("/user") {
        "user"
    } else if path.ends_with("/reviews") {
        "reviews"
    } else if path.ends_with("/comments") {
        "comments"
    } else if path.contains("/comments/") {
        "comment"
    } else {
        "other"
    }
}

fn github_login() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => Just("alice".to_owned()),
        1 => Just("ALICE".to_owned()),
        2 => Just("bob".to_owned()),
        1 => any_text(),
    ]
}

/// GitHub's answers, its addresses under `api`.
fn github_case(api: String) -> impl Strategy<Value = Case> {
    let subject = {
        let api = api.clone();
        prop_oneof![
            4 => (prop::sample::select(vec!["pulls", "issues", "commits", "releases"]), 1u32..20)
                .prop_map(move |(kind, n)| Some(format!("{api}repos/acme/shop/{kind}/{n}"))),
            1 => Just(None),
            1 => any_text().prop_map(Some),
        ]
    };
    let latest = {
        let api = api.clone();
        prop_oneof![
            4 => (1u32..1000).prop_map(move |n| Some(format!("{api}repos/acme/shop/issues/comments/{n}"))),
            1 => prop::sample::select(vec![
                "https://elsewhere.example/repos/a/b/issues/comments/1",
                "repos/acme/shop/issues/comments/2", "/api/v3/user", "", "http://[::1", "//elsewhere",
            ])
            .prop_map(|url| Some(url.to_owned())),
            1 => Just(None),
            1 => any_text().prop_map(Some),
        ]
    };
    let reason = prop::sample::select(vec![
        "review_requested",
        "mention",
        "team_mention",
        "assign",
        "approval_requested",
        "ci_activity",
        "security_alert",
        "author",
        "comment",
        "state_change",
        "invitation",
        "subscribed",
        "",
    ]);
    let kind = prop::sample::select(vec![
        "PullRequest",
        "Issue",
        "CheckSuite",
        "Release",
        "Discussion",
        "Commit",
        "RepositoryVulnerabilityAlert",
    ]);
    let repo = prop_oneof![4 => Just("acme/shop".to_owned()), 1 => any_text()];
    let failed = prop_oneof![2 => big_text(), 1 => any_text().prop_map(|t| format!("{t} failed"))];
    let thread = (
        (id(), reason, source_time(), failed, subject, latest),
        (kind, repo, maybe(any_text()), prop::bool::weighted(0.1)),
    )
        .prop_map(
            |((id, reason, at, title, url, latest), (kind, repo, page, same))| {
                // Now and then the comment is the subject itself, which is not read again.
                let latest = if same { url.clone() } else { latest };
                json!({ "id": id, "unread": true, "reason": reason, "updated_at": at, "subject": { "title": title, "url": url, "latest_comment_url": latest, "type": kind }, "repository": { "full_name": repo, "html_url": page } })
            },
        );
    let notifications = prop::collection::vec(thread, 0..5).prop_map(Value::Array);
    let comment = (maybe(big_text()), maybe(any_text()), maybe(github_login())).prop_map(
        |(body, page, login)| {
            json!({ "body": body, "html_url": page, "user": login.map(|login| json!({ "login": login })) })
        },
    );
    let user = github_login().prop_map(|login| json!({ "login": login, "id": 1 }));
    let written = prop::collection::vec(
        (
            maybe(github_login()),
            maybe(source_time()),
            maybe(source_time()),
        ),
        0..4,
    )
    .prop_map(|written| {
        Value::Array(
            written
                .into_iter()
                .map(|(login, created, submitted)| {
                    json!({ "user": login.map(|login| json!({ "login": login })), "created_at": created, "submitted_at": submitted, "state": "COMMENTED" })
                })
                .collect(),
        )
    });
    let refused = prop::sample::select(vec![
        "API rate limit exceeded for user ID 1.",
        "You have exceeded a secondary rate limit.",
        "Bad credentials",
        "Resource not accessible by personal access token",
        "",
    ])
    .prop_map(|message| json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }));
    (
        (
            source_answers(notifications, refused.clone()),
            source_answers(comment, refused.clone()),
            source_answers(user, refused.clone()),
        ),
        (
            source_answers(written.clone(), refused.clone()),
            source_answers(written, refused.clone()),
            source_answers(Just(json!({})), refused),
        ),
    )
        .prop_map(
            |((notifications, comment, user), (comments, reviews, thread))| Case {
                answers: HashMap::from([
                    ("notifications", notifications),
                    ("comment", comment),
                    ("user", user),
                    ("comments", comments),
                    ("reviews", reviews),
                    ("thread", thread),
                ]),
                frames: Vec::new(),
            },
        )
}

#[test]
fn github_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, github_route);
    // GitHub Enterprise Server's address, which moves the pages' too.
    let api = format!("{}/api/v3/", platform.base);
    let conversations = {
        let api = api.clone();
        prop_oneof![
            4 => (prop::sample::select(vec!["pulls", "issues"]), 1u32..20)
                .prop_map(move |(kind, n)| format!("{api}repos/acme/shop/{kind}/{n}")),
            1 => prop::sample::select(vec![
                "https://elsewhere.example/repos/a/b/pulls/1", "repos/a/b/pulls/1", "",
            ])
            .prop_map(str::to_owned),
            1 => any_text(),
        ]
    };
    fuzz(
        "github",
        64,
        (
            github_case(api.clone()),
            odd_cursor(),
            follow_up(conversations),
            prop::collection::vec(id(), 0..2),
        ),
        |(case, cursor, asked, marked)| {
            platform.play(case);
            // Its pace is GitHub's X-Poll-Interval, a second at least: a new source each
            // case asks every time.
            let github = GitHubSource::new(&api, "token".into()).expect("a source");
            run_case(&runtime, async {
                let read = read_and_follow("github", &github, cursor, asked).await?;
                for id in read.into_iter().map(|message| message.id).chain(marked) {
                    let _ = within("github mark_read", github.mark_read(&id)).await?;
                }
                Ok(())
            })
        },
    );
    report_reads("github");
    report_reads("github follow-up");
}

// Atlassian: Jira and Confluence.

fn atlassian_account() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        6 => (prop::sample::select(vec!["me1", "bob", "carol"]), any_text())
            .prop_map(|(id, name)| json!({ "accountId": id, "displayName": name, "active": true })),
        1 => Just(json!({ "accountId": "bob", "displayName": null })),
        1 => (any_text(), any_text()).prop_map(|(id, name)| json!({ "accountId": id, "displayName": name })),
    ]
}

fn atlassian_refused() -> impl Strategy<Value = Value> + Clone {
    (
        prop::collection::vec(any_text(), 0..2),
        maybe(any_text()),
    )
        .prop_map(|(messages, message)| json!({ "errorMessages": messages, "message": message, "errors": {} }))
}

/// Where a comment's body holds it, a document nested deeper than JSON parsers go.
const DEEP_ADF: &str = "\"@@deep-adf@@\"";

/// Atlassian Document Format: the nodes Deepwork reads, nested, and odd values.
fn adf() -> impl Strategy<Value = Value> + Clone {
    let mark = prop::sample::select(vec!["strong", "em", "code", "link"]);
    let leaf = prop_oneof![
        6 => (any_text(), prop::collection::vec(mark, 0..2)).prop_map(|(text, marks)| {
            let marks: Vec<Value> = marks.into_iter().map(|mark| json!({ "type": mark })).collect();
            json!({ "type": "text", "text": text, "marks": marks })
        }),
        2 => (prop_oneof![3 => Just("me1".to_owned()), 1 => any_text()], maybe(any_text()))
            .prop_map(|(id, text)| json!({ "type": "mention", "attrs": { "id": id, "text": text } })),
        1 => Just(json!({ "type": "hardBreak" })),
        1 => (prop::sample::select(vec!["inlineCard", "blockCard"]), maybe(any_text()))
            .prop_map(|(kind, url)| json!({ "type": kind, "attrs": { "url": url } })),
        1 => (maybe(any_text()), maybe(any_text()))
            .prop_map(|(short, text)| json!({ "type": "emoji", "attrs": { "shortName": short, "text": text } })),
        1 => Just(json!({ "type": "rule" })),
        1 => odd_value(STRINGS),
    ];
    let node = leaf.prop_recursive(4, 48, 4, |inner| {
        (
            prop::sample::select(vec![
                "doc",
                "paragraph",
                "heading",
                "bulletList",
                "orderedList",
                "listItem",
                "codeBlock",
                "blockquote",
                "panel",
                "table",
                "tableRow",
                "tableCell",
                "text",
                "x",
            ]),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(kind, content)| json!({ "type": kind, "version": 1, "content": content }))
    });
    prop_oneof![
        8 => node,
        1 => Just(serde_json::from_str(DEEP_ADF).expect("a JSON string")),
    ]
}

/// The document `DEEP_ADF` stands for: paragraphs nested past what Deepwork reads, and
/// now and then past what JSON parsers take.
fn deep_adf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1usize..64, any_text()).prop_map(|(depth, text)| {
            let leaf = json!({ "type": "text", "text": text });
            format!(
                "{}{leaf}{}",
                r#"{"type":"paragraph","content":["#.repeat(depth),
                "]}".repeat(depth)
            )
        }),
        1 => nested(&[
            (r#"{"type":"blockquote","content":["#, "]}"),
            ("[", "]"),
            (r#"{"content":"#, "}"),
        ]),
    ]
}

fn jira_route(_: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/myself") {
        "me"
    } else if path.ends_with("/search/jql") {
        "search"
    } else if path.ends_with("/comment") {
        "comments"
    } else {
        "other"
    }
}

fn jira_case() -> impl Strategy<Value = Case> {
    let me = prop_oneof![
        5 => Just(json!({ "accountId": "me1", "displayName": "Alice" })),
        1 => atlassian_account(),
    ];
    let body = prop_oneof![6 => adf(), 1 => odd_value(STRINGS)];
    let comment = (
        id(),
        maybe(atlassian_account()),
        body,
        source_time(),
    )
        .prop_map(|(id, author, body, created)| {
            json!({ "id": id, "author": author, "body": body, "created": created, "updated": created })
        });
    let change = (
        prop::sample::select(vec!["assignee", "status", "summary"]),
        maybe(prop::sample::select(vec!["me1", "bob", ""])),
    )
        .prop_map(
            |(field, to)| json!({ "field": field, "fieldtype": "jira", "from": null, "to": to }),
        );
    let history = (
        id(),
        maybe(atlassian_account()),
        source_time(),
        prop::collection::vec(change, 0..3),
    )
        .prop_map(|(id, author, created, items)| {
            json!({ "id": id, "author": author, "created": created, "items": items })
        });
    let key = prop_oneof![
        4 => prop::sample::select(vec!["PAY-1", "PAY-2", "OPS-7"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    let issue = (
        (
            key,
            big_text(),
            maybe(prop_oneof![Just("PAY".to_owned()), any_text()]),
            maybe(atlassian_account()),
        ),
        (
            prop::collection::vec(comment.clone(), 0..3),
            prop::collection::vec(history, 0..3),
        ),
    )
        .prop_map(|((key, summary, project, assignee), (comments, histories))| {
            json!({ "id": "10001", "key": key, "fields": { "summary": summary, "project": project.map(|key| json!({ "key": key })), "assignee": assignee, "comment": { "comments": comments, "total": 3 } }, "changelog": { "histories": histories } })
        });
    let search = (
        prop::collection::vec(issue, 0..4),
        prop::option::weighted(0.3, prop_oneof![Just("next".to_owned()), any_text()]),
        maybe(any::<bool>()),
    )
        .prop_map(|(issues, next, last)| json!({ "issues": issues, "nextPageToken": next, "isLast": last }));
    let comments = prop::collection::vec(comment, 0..4)
        .prop_map(|comments| json!({ "comments": comments, "startAt": 0, "total": 4 }));
    let refused = atlassian_refused();
    (
        source_answers(me, refused.clone()),
        source_answers(search, refused.clone()),
        source_answers(comments, refused.clone()),
        source_answers(Just(json!({})), refused),
        deep_adf(),
    )
        .prop_map(|(me, search, comments, other, deep)| {
            let deepen = |answers: Vec<Answer>| -> Vec<Answer> {
                answers
                    .into_iter()
                    .map(|mut answer| {
                        answer.body = answer.body.replace(DEEP_ADF, &deep);
                        answer
                    })
                    .collect()
            };
            Case {
                answers: HashMap::from([
                    ("me", me),
                    ("search", deepen(search)),
                    ("comments", deepen(comments)),
                    ("other", other),
                ]),
                frames: Vec::new(),
            }
        })
}

/// Atlassian Document Format (`atlassian::adf_text`, the crate's own) is read here, in
/// the comments Jira's answers carry.
#[test]
fn jira_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, jira_route);
    let conversations = prop_oneof![
        4 => prop::sample::select(vec!["PAY-1", "PAY-2", "OPS-7"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "../../myself", "PAY-1?x=1#y", "http://elsewhere/"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    let kept = Kept::default();
    let stalled = Cell::new(false);
    fuzz(
        "jira",
        192,
        (jira_case(), odd_cursor(), follow_up(conversations), fresh()),
        |(case, cursor, asked, fresh)| {
            let stalls = may_stall(&case);
            platform.play(case);
            let jira = kept.get(fresh || stalled.replace(stalls), || {
                JiraSource::new(&platform.base, "alice@acme.com", "token".into())
                    .expect("a source")
                    .every(TINY_PACE)
            });
            run_case(&runtime, async {
                read_and_follow("jira", &*jira, cursor, asked).await?;
                Ok(())
            })
        },
    );
    report_reads("jira");
    report_reads("jira follow-up");
}

fn confluence_route(_: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/user/current") {
        "me"
    } else if path.ends_with("/content/search") {
        "search"
    } else if path.ends_with("/child/comment") {
        "comments"
    } else {
        "other"
    }
}

#[rustfmt::skip]
const STORAGE_TOKENS: &[&str] = &[
    "<p>", "</p>", "<br>", "<br/>", "<br />", "</div>", "</li>", "<h1>", "</h1>", "&nbsp;",
    "&amp;", "&lt;", "&gt;", "&#x1F600;", "&#0;", "&#99999999;", "&", ";", "<", ">", "\"", "'",
    "<ac:link><ri:user ri:account-id=\"me1\" /></ac:link>", "ri:account-id=\"me1\"",
    "<ri:user ri:account-id=\"bob\"/>", "<ac:structured-macro ac:name=\"code\">", "<![CDATA[",
    "]]>", "<!--", "-->", "me1", "hi", " ", "\n", "é", "👩‍💻", "\u{202E}", "\u{0}",
];

fn confluence_case() -> impl Strategy<Value = Case> {
    let me = prop_oneof![
        5 => Just(json!({ "accountId": "me1", "type": "known", "displayName": "Alice" })),
        1 => atlassian_account(),
    ];
    let history = (maybe(atlassian_account()), maybe(source_time()))
        .prop_map(|(by, at)| json!({ "createdBy": by, "createdDate": at }));
    let version = (
        maybe(atlassian_account()),
        maybe(source_time()),
        prop_oneof![3 => (1u64..9).prop_map(Value::from), 1 => prop::sample::select(ODD_NUMBERS).prop_map(Value::from)],
    )
        .prop_map(|(by, when, number)| json!({ "by": by, "when": when, "number": number }));
    let storage = prop_oneof![
        4 => soup(STORAGE_TOKENS, 24),
        1 => big_text(),
    ];
    let container = (
        maybe(prop_oneof![3 => prop::sample::select(vec!["99", "100"]).prop_map(str::to_owned), 1 => any_text()]),
        maybe(any_text()),
        maybe(history.clone()),
    )
        .prop_map(|(id, title, history)| json!({ "id": id, "type": "page", "title": title, "history": history }));
    let webui = prop_oneof![
        3 => Just("/spaces/ENG/pages/123".to_owned()),
        1 => any_text(),
    ];
    let content = (
        (
            id(),
            prop::sample::select(vec!["comment", "comment", "page", "blogpost", "attachment"]),
            any_text(),
            maybe(history.clone()),
            maybe(version),
        ),
        (
            storage,
            maybe(container),
            maybe(prop_oneof![Just("ENG".to_owned()), any_text()]),
            maybe(webui),
        ),
    )
        .prop_map(
            |((id, kind, title, history, version), (storage, container, space, webui))| {
                json!({ "id": id, "type": kind, "status": "current", "title": title, "history": history, "version": version, "body": { "storage": { "value": storage, "representation": "storage" } }, "container": container, "space": space.map(|key| json!({ "key": key })), "_links": { "webui": webui } })
            },
        );
    let search = (
        prop::collection::vec(content, 0..4),
        prop_oneof![3 => (0u64..60).prop_map(Value::from), 1 => prop::sample::select(ODD_NUMBERS).prop_map(Value::from)],
        maybe(prop_oneof![
            3 => prop::sample::select(vec!["https://acme.atlassian.net/wiki", "", "http://elsewhere/"]).prop_map(str::to_owned),
            1 => any_text(),
        ]),
        prop::option::weighted(0.3, Just("/rest/api/content/search?cursor=next")),
    )
        .prop_map(|(results, size, base, next)| {
            json!({ "results": results, "start": 0, "limit": 50, "size": size, "_links": { "base": base, "next": next } })
        });
    let refused = atlassian_refused();
    (
        source_answers(me, refused.clone()),
        source_answers(search.clone(), refused.clone()),
        source_answers(search, refused.clone()),
        source_answers(Just(json!({})), refused),
    )
        .prop_map(|(me, search, comments, other)| Case {
            answers: HashMap::from([
                ("me", me),
                ("search", search),
                ("comments", comments),
                ("other", other),
            ]),
            frames: Vec::new(),
        })
}

#[test]
fn confluence_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, confluence_route);
    let conversations = prop_oneof![
        4 => prop::sample::select(vec!["99", "100", "123"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "../../user/current", "99?x=1#y"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    let kept = Kept::default();
    let stalled = Cell::new(false);
    fuzz(
        "confluence",
        192,
        (
            confluence_case(),
            odd_cursor(),
            follow_up(conversations),
            fresh(),
        ),
        |(case, cursor, asked, fresh)| {
            let stalls = may_stall(&case);
            platform.play(case);
            let confluence = kept.get(fresh || stalled.replace(stalls), || {
                ConfluenceSource::new(&platform.base, "alice@acme.com", "token".into())
                    .expect("a source")
                    .every(TINY_PACE)
            });
            run_case(&runtime, async {
                read_and_follow("confluence", &*confluence, cursor, asked).await?;
                Ok(())
            })
        },
    );
    report_reads("confluence");
    report_reads("confluence follow-up");
}

// Notion: the watched pages (searched for, or named), their comments, and who wrote them.

/// Pages named in the config: an id, and a link.
const NOTION_PAGES: &[&str] = &[
    "59833787-2cf9-4fdf-8782-e53db20768a5",
    "https://www.notion.so/acme/Billing-RFC-598337872cf94fdf8782e53db20768a6?pvs=4",
];

fn notion_route(method: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if method == "POST" && path.ends_with("/v1/search") {
        "search"
    } else if path.ends_with("/v1/users/me") {
        "me"
    } else if path.contains("/v1/users/") {
        "user"
    } else if path.ends_with("/v1/comments") {
        "comments"
    } else if path.contains("/v1/pages/") {
        "page"
    } else {
        "other"
    }
}

fn notion_list(item: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> + Clone {
    (
        prop::collection::vec(item, 0..4),
        prop::bool::weighted(0.3),
        maybe(prop_oneof![3 => Just("c2".to_owned()), 1 => any_text()]),
    )
        .prop_map(|(results, more, next)| {
            json!({ "object": "list", "results": results, "has_more": more, "next_cursor": next })
        })
}

fn notion_case() -> impl Strategy<Value = Case> {
    let user_ref = prop_oneof![
        3 => prop::sample::select(vec!["me-user", "bob-user", "carol-user"]).prop_map(str::to_owned),
        1 => any_text(),
    ]
    .prop_map(|id| json!({ "object": "user", "id": id }));
    let page = (
        prop_oneof![
            4 => prop::sample::select(vec!["59833787-2cf9-4fdf-8782-e53db20768a5", "59833787-2cf9-4fdf-8782-e53db20768a6", "p1"]).prop_map(str::to_owned),
            1 => any_text(),
        ],
        maybe(prop_oneof![Just("https://www.notion.so/acme/Billing-RFC-598337872cf94fdf8782e53db20768a5".to_owned()), any_text()]),
        prop::collection::vec(maybe(any_text()), 0..3),
        prop::sample::select(vec!["Name", "title", ""]),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(id, url, parts, key, titled)| {
            let parts: Vec<Value> = parts.into_iter().map(|part| json!({ "type": "text", "plain_text": part })).collect();
            let kind = if titled { "title" } else { "rich_text" };
            json!({ "object": "page", "id": id, "url": url, "properties": { key: { "id": "title", "type": kind, "title": parts }, "Status": { "type": "select", "select": null } } })
        });
    let rich = (any_text(), maybe(user_ref.clone())).prop_map(|(text, mention)| match mention {
        Some(user) => json!({ "type": "mention", "plain_text": text, "mention": { "type": "user", "user": user } }),
        None => json!({ "type": "text", "plain_text": text, "text": { "content": text } }),
    });
    let comment = (
        id(),
        maybe(prop_oneof![3 => prop::sample::select(vec!["d1", "d2"]).prop_map(str::to_owned), 1 => any_text()]),
        source_time(),
        user_ref,
        prop::collection::vec(rich, 0..4),
    )
        .prop_map(|(id, discussion, created, author, rich_text)| {
            json!({ "object": "comment", "id": id, "discussion_id": discussion, "created_time": created, "created_by": author, "rich_text": rich_text })
        });
    let user = (maybe(any_text()), maybe(prop::sample::select(vec!["person", "bot"])))
        .prop_map(|(name, kind)| json!({ "object": "user", "id": "bob-user", "name": name, "type": kind }));
    let refused = (
        prop::sample::select(vec!["rate_limited", "unauthorized", "restricted_resource", "object_not_found", "validation_error"]),
        any_text(),
    )
        .prop_map(|(code, message)| json!({ "object": "error", "status": 400, "code": code, "message": message }));
    (
        (
            source_answers(
                Just(json!({ "object": "user", "id": "bot-1", "type": "bot", "bot": {} })),
                refused.clone(),
            ),
            source_answers(notion_list(page.clone()), refused.clone()),
            source_answers(page, refused.clone()),
        ),
        (
            source_answers(notion_list(comment), refused.clone()),
            source_answers(user, refused.clone()),
            source_answers(Just(json!({})), refused),
        ),
    )
        .prop_map(|((me, search, page), (comments, user, other))| Case {
            answers: HashMap::from([
                ("me", me),
                ("search", search),
                ("page", page),
                ("comments", comments),
                ("user", user),
                ("other", other),
            ]),
            frames: Vec::new(),
        })
}

#[test]
fn notion_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, notion_route);
    let conversations = prop_oneof![
        4 => prop::sample::select(vec![
            "59833787-2cf9-4fdf-8782-e53db20768a5/d1", "59833787-2cf9-4fdf-8782-e53db20768a5/", "p1/d2",
        ])
        .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "/", "no-discussion", "../../v1/users/me/x"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    let (searched_kept, named_kept) = (Kept::default(), Kept::default());
    let stalled = Cell::new(false);
    // The watched pages are read again every half hour only: a new source more often
    // than for the others, so that those answers are read too.
    let fresh = prop::bool::weighted(0.25);
    fuzz(
        "notion",
        128,
        (
            notion_case(),
            odd_cursor(),
            follow_up(conversations),
            any::<bool>(),
            fresh,
        ),
        |(case, cursor, asked, named, fresh)| {
            let stalls = may_stall(&case);
            platform.play(case);
            let fresh = fresh || stalled.replace(stalls);
            let make = |pages: &[&str]| {
                let pages: Vec<String> = pages.iter().map(|page| (*page).to_owned()).collect();
                NotionSource::new(
                    &platform.base,
                    "secret".into(),
                    Some("me-user".into()),
                    &pages,
                )
                .expect("a source")
                .every(TINY_PACE)
            };
            let notion = if named {
                named_kept.get(fresh, || make(NOTION_PAGES))
            } else {
                searched_kept.get(fresh, || make(&[]))
            };
            run_case(&runtime, async {
                read_and_follow("notion", &*notion, cursor, asked).await?;
                Ok(())
            })
        },
    );
    report_reads("notion");
    report_reads("notion follow-up");
}

// Google Docs: the access token renewed, the user's documents, their comments and replies.

fn gdocs_route(_: &str, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/token") {
        "token"
    } else if path.ends_with("/drive/v3/about") {
        "about"
    } else if path.ends_with("/drive/v3/files") {
        "files"
    } else if path.ends_with("/comments") {
        "comments"
    } else {
        "other"
    }
}

fn gdocs_case() -> impl Strategy<Value = Case> {
    let token = (
        prop::option::weighted(0.9, prop_oneof![8 => Just("ya29.at".to_owned()), 1 => any_text()]),
        prop_oneof![
            8 => (0u64..400).prop_map(Value::from),
            1 => prop::sample::select(ODD_NUMBERS).prop_map(Value::from),
        ],
        prop::option::weighted(0.2, any_text()),
    )
        .prop_map(|(access, expires, refresh)| {
            json!({ "access_token": access, "expires_in": expires, "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/drive.readonly", "refresh_token": refresh })
        });
    let token_refused = (
        prop::sample::select(vec![
            "invalid_grant",
            "invalid_client",
            "unauthorized_client",
            "weird",
        ]),
        any_text(),
    )
        .prop_map(
            |(error, description)| json!({ "error": error, "error_description": description }),
        );
    let about = Just(
        json!({ "user": { "displayName": "Alice", "emailAddress": "alice@acme.com", "me": true } }),
    );
    let doc = (
        prop_oneof![4 => prop::sample::select(vec!["doc1", "doc2", "doc3"]).prop_map(str::to_owned), 1 => any_text()],
        any_text(),
        maybe(prop_oneof![
            3 => prop::sample::select(vec![
                "https://docs.google.com/document/d/doc1/edit",
                "https://docs.google.com/document/d/doc1/edit?usp=drivesdk#heading=h.1",
                "not a link", "",
            ])
            .prop_map(str::to_owned),
            1 => any_text(),
        ]),
    )
        .prop_map(|(id, name, link)| json!({ "id": id, "name": name, "webViewLink": link }));
    let files = prop::collection::vec(doc, 0..4).prop_map(|files| json!({ "files": files }));
    let author = (
        prop_oneof![3 => prop::sample::select(vec!["Bob", "Carol", "Alice"]).prop_map(str::to_owned), 1 => any_text()],
        prop::bool::weighted(0.25),
    )
        .prop_map(|(name, me)| json!({ "kind": "drive#user", "displayName": name, "me": me }));
    let content = prop_oneof![
        3 => big_text(),
        1 => (any_text(), prop::sample::select(vec!["+alice@acme.com", "@Alice@Acme.COM", "+bob@acme.com", "alice@acme.com"]), any_text())
            .prop_map(|(before, mention, after)| format!("{before}{mention}{after}")),
    ];
    let reply = (
        id(),
        content.clone(),
        maybe(author.clone()),
        source_time(),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, prop::sample::select(vec!["resolve", "reopen"])),
    )
        .prop_map(|(id, content, author, created, deleted, action)| {
            json!({ "id": id, "content": content, "author": author, "createdTime": created, "deleted": deleted, "action": action })
        });
    let comment = (
        (id(), content, maybe(author), source_time()),
        (
            prop::bool::weighted(0.1),
            maybe(any_text()),
            prop::collection::vec(reply, 0..3),
        ),
    )
        .prop_map(|((id, content, author, created), (deleted, quoted, replies))| {
            json!({ "id": id, "content": content, "author": author, "createdTime": created, "deleted": deleted, "quotedFileContent": quoted.map(|value| json!({ "mimeType": "text/html", "value": value })), "replies": replies })
        });
    let comments = (
        prop::collection::vec(comment, 0..4),
        prop::option::weighted(0.2, prop_oneof![Just("p2".to_owned()), any_text()]),
    )
        .prop_map(|(comments, next)| json!({ "comments": comments, "nextPageToken": next }));
    let refused = (
        prop::sample::select(vec!["rateLimitExceeded", "userRateLimitExceeded", "forbidden", "authError", "notFound"]),
        any_text(),
    )
        .prop_map(|(reason, message)| {
            json!({ "error": { "code": 403, "message": message, "errors": [{ "domain": "usageLimits", "reason": reason, "message": message }] } })
        });
    (
        (
            source_answers(token, token_refused),
            source_answers(about, refused.clone()),
            source_answers(files, refused.clone()),
        ),
        (
            source_answers(comments, refused.clone()),
            source_answers(Just(json!({})), refused),
        ),
    )
        .prop_map(|((token, about, files), (comments, other))| Case {
            answers: HashMap::from([
                ("token", token),
                ("about", about),
                ("files", files),
                ("comments", comments),
                ("other", other),
            ]),
            frames: Vec::new(),
        })
}

#[test]
fn gdocs_answers_never_panic() {
    count_panics();
    let runtime = runtime();
    let platform = Platform::start(&runtime, gdocs_route);
    let conversations = prop_oneof![
        4 => prop::sample::select(vec!["doc1/c1", "doc1/", "doc2/c9"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "/", "no-comment", "../../about/x"]).prop_map(str::to_owned),
        1 => any_text(),
    ];
    let kept = Kept::default();
    let stalled = Cell::new(false);
    // The documents are listed again every half hour only: a new source more often than
    // for the others, so that those answers are read too.
    let fresh = prop::bool::weighted(0.25);
    fuzz(
        "gdocs",
        128,
        (gdocs_case(), odd_cursor(), follow_up(conversations), fresh),
        |(case, cursor, asked, fresh)| {
            let stalls = may_stall(&case);
            platform.play(case);
            let gdocs = kept.get(fresh || stalled.replace(stalls), || {
                let endpoints = GoogleEndpoints::new(
                    &format!("{}/authorize", platform.base),
                    &platform.base,
                    &platform.base,
                    "client-1",
                    Some("secret"),
                )
                .expect("endpoints");
                GoogleDocsSource::new(endpoints, "Alice@acme.com", "refresh".into())
                    .expect("a source")
                    .every(TINY_PACE)
            });
            run_case(&runtime, async {
                read_and_follow("gdocs", &*gdocs, cursor, asked).await?;
                Ok(())
            })
        },
    );
    report_reads("gdocs");
    report_reads("gdocs follow-up");
}

// ---- the plugin protocol ----

/// A plugin that answers each request with the next lines of a case's file, up to a
/// line `N`: `J…` is sent as `{"id":<the request's id>,…`, `R…` as written; at the end
/// of the file it exits. One `sh` per case (and per restart), a few milliseconds.
const PLUGIN: &str = r#"exec 3<"$1"
while IFS= read -r request; do
  id=${request#'{"id":'}; id=${id%%,*}
  while :; do
    IFS= read -r answer <&3 || exit 0
    case $answer in
      J*) printf '{"id":%s,%s\n' "$id" "${answer#J}" ;;
      R*) printf '%s\n' "${answer#R}" ;;
      N*) break ;;
    esac
  done
done"#;

/// The lines answering one request: perhaps some noise (stale answers, answers to
/// other ids), then an answer, an error, or a line that is not JSON.
fn plugin_answer(
    result: impl Strategy<Value = Value> + Clone + 'static,
) -> BoxedStrategy<Vec<String>> {
    let noise = prop::collection::vec(
        prop::sample::select(vec![
            r#"{"id":0,"result":{}}"#,
            r#"{"id":"1","result":1}"#,
            r#"{"id":null}"#,
            "[]",
            "{}",
            "1",
            r#""text""#,
            r#"{"id":18446744073709551615}"#,
        ])
        .prop_map(|line| format!("R{line}")),
        0..3,
    );
    let error = (prop::sample::select(vec!["rate_limited", "unauthorized", "unavailable", "other"]), any_text(), prop::sample::select(ODD_NUMBERS))
        .prop_map(|(kind, message, retry)| json!({ "kind": kind, "message": message, "retry_after_ms": retry }));
    let last = prop_oneof![
        12 => mostly(result).prop_map(|r| format!("J\"result\":{r}}}")),
        2 => edited(error, 1, KEYS, STRINGS).prop_map(|e| format!("J\"error\":{e}}}")),
        1 => any_text().prop_map(|line| format!("R!{line}")),
        1 => Just("R{\"id\":".to_owned()),
    ];
    (noise, last)
        .prop_map(|(mut lines, last)| {
            lines.push(last);
            lines.push("N".to_owned());
            lines
                .into_iter()
                .map(|line| line.replace(['\n', '\r', '\0'], " "))
                .collect()
        })
        .boxed()
}

fn plugin_case() -> impl Strategy<Value = Vec<String>> {
    let roles = prop_oneof![
        3 => Just(vec!["status", "messages", "reply"]),
        1 => prop::collection::vec(prop::sample::select(vec!["status", "messages", "reply", "other"]), 0..4),
    ];
    let hello = (prop_oneof![8 => Just(json!(1)), 1 => odd_value(STRINGS)], roles, maybe(prop::sample::select(ODD_NUMBERS)))
        .prop_map(|(protocol, roles, limit)| json!({ "protocol": protocol, "roles": roles, "status_limit": limit }));
    let wire = (id(), id(), maybe(any_text()), maybe(any_text()), any::<bool>(), any_text(), any::<bool>(), maybe(any_text()), id())
        .prop_map(|(id, sender, sender_name, channel, direct, text, automated, url, conversation)| {
            json!({ "id": id, "sender": sender, "sender_name": sender_name, "channel": channel, "direct": direct, "text": text, "automated": automated, "url": url, "conversation": conversation })
        });
    let fetch = (
        prop_oneof![5 => Just(json!("c2")), 1 => odd_value(STRINGS)],
        prop::collection::vec(wire, 0..4),
    )
        .prop_map(|(cursor, messages)| json!({ "cursor": cursor, "messages": messages }));
    let snapshot = odd_value(STRINGS).prop_map(|data| json!({ "snapshot": data }));
    // The answers in the order of the calls: hello, snapshot, set_focus, fetch, fetch,
    // reply, restore. A call skipped (a role not played) or a restart (hello again, from
    // the first line) puts the rest out of step, as is any answer now and then.
    let any = prop_oneof![
        plugin_answer(hello.clone()),
        plugin_answer(fetch.clone()),
        plugin_answer(snapshot.clone()),
        plugin_answer(Just(Value::Null)),
    ];
    let at =
        |answer: BoxedStrategy<Vec<String>>| prop_oneof![4 => answer, 1 => any.clone()].boxed();
    let null = || plugin_answer(Just(Value::Null));
    (
        plugin_answer(hello),
        (
            at(plugin_answer(snapshot)),
            at(null()),
            at(plugin_answer(fetch.clone())),
        ),
        (at(plugin_answer(fetch)), at(null()), at(null())),
    )
        .prop_map(|(hello, (a, b, c), (d, e, f))| [hello, a, b, c, d, e, f].concat())
}

#[test]
fn plugin_lines_never_panic() {
    count_panics();
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let answers = dir.path().join("answers");
    let stored = snapshot("plugin", json!({ "status": "lunch" }));
    fuzz(
        "plugin protocol",
        128,
        (plugin_case(), stored),
        |(lines, stored)| {
            std::fs::write(&answers, lines.join("\n") + "\n").expect("the case is written");
            run_case(&runtime, async {
                let plugin = PluginAdapter::new(PluginCommand {
                    name: "plugin".into(),
                    program: "/bin/sh".into(),
                    args: vec![
                        "-c".into(),
                        PLUGIN.into(),
                        "plugin".into(),
                        answers.display().to_string(),
                    ],
                    env: Vec::new(),
                });
                let _ = within("plugin info", plugin.info()).await?;
                let _ = within("plugin snapshot", plugin.snapshot()).await?;
                let _ = within("plugin set_focus", plugin.set_focus(&focus())).await?;
                check_batch(
                    "plugin",
                    &within("plugin fetch", plugin.fetch(Some("c1"), Duration::ZERO)).await?,
                )?;
                check_batch(
                    "plugin",
                    &within("plugin fetch again", plugin.fetch(None, Duration::ZERO)).await?,
                )?;
                let _ = within("plugin reply", plugin.reply(&to(), "back at 14:00")).await?;
                let _ = within("plugin restore", plugin.restore(&stored)).await?;
                Ok(())
            })
        },
    );
    report_reads("plugin");
}

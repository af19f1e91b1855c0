//! Fuzzing of what the adapters read from a platform: every server answer, plugin line
//! and message must be handled without a panic (or a hang), and every message read must
//! become a valid item. The platforms are played by a loopback HTTP and WebSocket server
//! answering whatever the case says; the plugin by a `sh` script replaying a case's lines.
//! XMPP (stanzas are parsed by tokio-xmpp, over a TLS stream) and the desktop monitor
//! (D-Bus messages typed by zbus) are left out; the text they hand over is covered by
//! `IncomingMessage::to_item` here and by the core's `held_notifications::plain_text`.
//! In the test suite each target is a short smoke run with a fixed seed;
//! `make fuzz` runs every target for
//! `DEEPWORK_FUZZ_SECONDS` (600 by default there); `cargo test -p deepwork-adapters --test
//! fuzz` alone is that smoke run. A failure prints the smallest input
//! found and the seed that replays the run (`DEEPWORK_FUZZ_SEED=…`).

use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
use deepwork_adapters::slack::SlackAdapter;
use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints};
use deepwork_adapters::{
    AdapterError, Addressed, Batch, FocusStatus, IncomingMessage, MessageSource, Replier,
    ReplyTarget, StatusAdapter, StatusSnapshot,
};
use deepwork_fuzzing::*;
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
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
    let status = prop_oneof![
        30 => Just(200u16),
        1 => prop::sample::select(vec![201u16, 204, 299, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503, 599]),
    ];
    let headers = prop::collection::vec(
        (
            prop::sample::select(vec!["Retry-After", "X-Ratelimit-Reset", "Date"]),
            header_value(),
        ),
        0..3,
    );
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

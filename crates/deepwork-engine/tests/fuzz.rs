//! Fuzzing of the socket API: arbitrary and mutated request lines must never panic the
//! parser, and every request that parses must be answered by an engine without a panic;
//! so must batches of messages from a platform. In the test suite each target is a short smoke run with a fixed seed;
//! `make fuzz` runs every target for `DEEPWORK_FUZZ_SECONDS` (600 by default there);
//! `cargo test -p deepwork-engine --test fuzz` alone is that smoke run. A
//! failure prints the smallest input found and the seed that replays the run
//! (`DEEPWORK_FUZZ_SEED=…`).

use deepwork_adapters::{Addressed, Batch, IncomingMessage, ReplyTarget};
use deepwork_core::config::{Config, Length};
use deepwork_core::digest::DigestId;
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_core::settings::Settings;
use deepwork_core::{Class, ItemId, NewItem, Urgency};
use deepwork_engine::api::{Request, Response};
use deepwork_engine::chat_calls::ChatCall;
use deepwork_engine::engine::Engine;
use deepwork_engine::notify::{Notice, Notifier};
use deepwork_fuzzing::*;
use deepwork_store::Store;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::Value;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---- the socket request parser, and the engine behind it ----

#[rustfmt::skip]
const JSON_TOKENS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "\\uDFFF", "\\n", "null",
    "true", "false", "0", "-0", "1e999", "-1", "18446744073709551616", "9007199254740993",
    "1.5", "\"method\"", "\"params\"", "\"status\"", "\"start\"", "\"extend\"", "\"stop\"",
    "\"check_in\"", "\"push\"", "\"digest\"", "\"digests\"", "\"done\"", "\"teach\"",
    "\"explain\"", "\"stats\"", "\"settings\"", "\"save_settings\"", "\"forget\"",
    "\"reload_adapters\"", "\"subscribe\"", "\"plan\"", "\"end\"", "\"for\"", "\"until\"",
    "\"item\"", "\"id\"", "\"limit\"", "\"class\"", "\"week\"", "\"before\"", "\"90m\"",
    "\"12h\"", "\"24:00\"", "\"2026-W53\"", " ", "\n", "\u{feff}", "é",
];

fn item(title: &str) -> NewItem {
    NewItem {
        source: "ci".into(),
        sender: "build-bot".into(),
        title: title.into(),
        body: Some("It failed on main.\nSee the log.".into()),
        url: Some("https://ci.example.org/1".into()),
        channel: Some("#builds".into()),
        urgency: Some(Urgency::Blocker),
        message_id: Some("run-1".into()),
        source_class: None,
        conversation: None,
    }
}

/// One valid request of every kind, as it goes over the wire.
static REQUESTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let plan = SessionPlan {
        end: Some(SessionEnd::For(Length(SignedDuration::from_mins(90)))),
        check_in: Some("14:00".parse().expect("a clock time")),
    };
    let until = SessionPlan {
        end: Some(SessionEnd::Until("17:30".parse().expect("a clock time"))),
        check_in: None,
    };
    let requests = vec![
        Request::Status,
        Request::Start { plan, intent: None },
        Request::Start {
            plan: SessionPlan::default(),
            intent: Some("Finish the billing RFC".into()),
        },
        Request::Outcome {
            session: None,
            outcome: deepwork_core::standup::Outcome::Partly,
            note: Some("tests left".into()),
        },
        Request::Standup { fresh: false },
        Request::Standup { fresh: true },
        Request::SaveStandup {
            draft: deepwork_core::standup::StandupDraft {
                date: "2026-11-30".parse().expect("a date"),
                since: "2026-11-27".parse().expect("a date"),
                shipped: vec!["Finish the billing RFC".into()],
                today: vec![],
                blockers: vec!["Reply owed to bob".into()],
            },
        },
        Request::Standups { limit: 5 },
        Request::Desktop {
            state: deepwork_engine::api::DesktopState {
                tray: deepwork_engine::api::ShellPart {
                    working: false,
                    how: "no StatusNotifierItem host".into(),
                },
                hotkey: deepwork_engine::api::ShellPart {
                    working: true,
                    how: "Ctrl+Alt+D, grabbed on X11".into(),
                },
                presence: deepwork_engine::api::ShellPart {
                    working: true,
                    how: "screen lock from logind".into(),
                },
            },
        },
        Request::Presence {
            away_since: Some("2026-11-30T09:15:00Z".parse().expect("an instant")),
        },
        Request::Presence { away_since: None },
        Request::PostStandup {
            draft: None,
            to: Some("matrix:#standup:example.org".parse().expect("a target")),
        },
        Request::Extend { plan: until },
        Request::Stop,
        Request::CheckIn,
        Request::Push {
            item: item("Deploy failed on main by 3pm"),
        },
        Request::Digest {
            id: Some(DigestId(1)),
        },
        Request::Digest { id: None },
        Request::Digests { limit: 10 },
        Request::Done {
            item: ItemId(1),
            done: true,
        },
        Request::Teach {
            item: ItemId(1),
            class: Class::Emergency,
        },
        Request::Explain {
            item: item("EMERGENCY: prod is down"),
        },
        Request::Stats {
            week: Some("2026-W48".parse().expect("a week")),
        },
        Request::Stats { week: None },
        Request::Settings,
        Request::SaveSettings {
            settings: Settings::from_config(&Config::default()),
        },
        Request::Forget {
            before: "2026-11-28T10:00:00Z".parse().expect("a timestamp"),
        },
        Request::ReloadAdapters,
        Request::Subscribe,
    ];
    requests
        .iter()
        .map(|r| serde_json::to_value(r).expect("a request serializes"))
        .collect()
});

// ---- what the socket takes: keys and odd texts ----

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "method", "params", "plan", "end", "for", "until", "check_in", "item", "id", "done",
    "class", "limit", "week", "before", "settings", "source", "sender", "title", "body", "url",
    "channel", "urgency", "message_id", "default_length", "check_in_slots",
    "weekly_goal_hours", "hotkey", "status_template", "vip_senders", "keyword_rules",
    "keywords", "name", "other_rules", "auto_reply_template", "auto_reply_emergency", "x",
];

#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "", " ", "90m", "12h", "12h1s", "0s", "-5m", "1ns", "99999999999h", "P1D", "PT13H", "14:00",
    "00:00", "23:59", "24:00", "-1:00", "9:5", "2026-W48", "2026-W53", "2025-W53",
    "-32768-W01", "9999-W52", "0000-W01", "2026-11-28T10:00:00Z", "-009999-01-02T01:59:59Z",
    "9999-12-30T22:00:00.999999999Z", "1970-01-01T00:00:00Z", "2026-03-29T02:30:00+01:00",
    "emergency", "blocker", "update", "strategic", "pre_ping", "held", "Ctrl+Alt+D",
    "Super+F24", "{check_in}", "{until}", "{emergency}", "{nope}", "http://x",
    "javascript:1", "\u{0}", "\u{202e}", "line\nbreak",
];

/// A request line: arbitrary text, a valid request with its text edited, or a valid
/// request with its structure edited.
fn request_line() -> impl Strategy<Value = String> {
    let seeds: Vec<String> = REQUESTS.iter().map(Value::to_string).collect();
    prop_oneof![
        1 => text(JSON_TOKENS),
        3 => mutated(seeds, JSON_TOKENS),
        6 => edited(prop::sample::select(REQUESTS.clone()), 4, KEYS, STRINGS).prop_map(|r| r.to_string()),
    ]
}

#[derive(Debug)]
struct Quiet;

impl Notifier for Quiet {
    fn notify(&self, _: Notice) {}
}

/// The engine's clock: 2000 to 2100, and the hours around a change of daylight saving.
fn now() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        3 => (946_684_800i64..4_102_444_800).prop_map(|s| Timestamp::from_second(s).expect("in range")),
        1 => (-7_200i64..7_200).prop_map(|s| {
            let change: Timestamp = "2026-03-29T01:00:00Z".parse().expect("a timestamp");
            change + SignedDuration::from_secs(s)
        }),
        1 => (-7_200i64..7_200).prop_map(|s| {
            let change: Timestamp = "2026-10-25T01:00:00Z".parse().expect("a timestamp");
            change + SignedDuration::from_secs(s)
        }),
    ]
}

/// A fresh engine on an in-memory store, saving settings into `config`.
fn engine(config: &Path, now: Timestamp) -> Engine {
    std::fs::write(config, "").expect("the config file can be written");
    let mut engine = Engine::open(
        Config::default(),
        TimeZone::get("Europe/Berlin").expect("the zone is known"),
        Store::open_in_memory().expect("an in-memory store"),
        Box::new(Quiet),
        now,
    )
    .expect("the engine opens");
    engine.set_config_file(config.to_path_buf());
    engine
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("config.toml");
    (dir, config)
}

#[test]
fn request_parser_never_panics() {
    fuzz("api::Request from text", 4096, request_line(), |line| {
        if let Ok(request) = serde_json::from_str::<Request>(&line) {
            let again = serde_json::to_string(&request).expect("a request serializes");
            prop_assert!(
                serde_json::from_str::<Request>(&again).is_ok(),
                "what was read cannot be read back: {again}"
            );
        }
        Ok(())
    });
}

#[test]
fn parsed_requests_are_answered_without_panic() {
    let (_dir, config) = scratch();
    // A few lines per connection, so that a request meets a running session, a held
    // item or a delivered digest; lines that do not parse are answered bad_request.
    let lines = prop::collection::vec(
        prop_oneof![
            3 => request_line(),
            2 => prop::sample::select(REQUESTS.clone()).prop_map(|r| r.to_string()),
        ],
        1..8,
    );
    fuzz(
        "engine answers requests",
        512,
        (now(), lines, 0i64..100_000),
        |(now, lines, step)| {
            let mut engine = engine(&config, now);
            let mut at = now;
            for line in &lines {
                TALLY[0].fetch_add(1, Ordering::Relaxed);
                let Ok(request) = serde_json::from_str::<Request>(line) else {
                    continue;
                };
                TALLY[1].fetch_add(1, Ordering::Relaxed);
                for response in engine.handle_batch(at, vec![request]) {
                    if matches!(response, Response::Ok(_)) {
                        TALLY[2].fetch_add(1, Ordering::Relaxed);
                    }
                    // What goes back over the socket.
                    let line = serde_json::to_string(&response).expect("a response serializes");
                    prop_assert!(serde_json::from_str::<Response>(&line).is_ok(), "{line}");
                }
                at += SignedDuration::from_secs(step);
                engine.tick(at);
            }
            Ok(())
        },
    );
    let [lines, requests, ok] = TALLY.each_ref().map(|n| n.load(Ordering::Relaxed));
    eprintln!(
        "fuzz engine answers requests: {requests} of {lines} lines were requests, {ok} answered ok"
    );
}

/// Lines read, requests among them, requests answered ok: that many are answered ok
/// shows the cases reach the engine's work, not only its refusals.
static TALLY: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

// ---- what platforms hand the engine ----

fn message() -> impl Strategy<Value = IncomingMessage> {
    let field = || {
        prop_oneof![
            4 => text(JSON_TOKENS),
            1 => (any::<String>(), 1usize..3000).prop_map(|(s, n)| s.repeat(n.min(80_000 / s.len().max(1)))),
            1 => prop::sample::select(vec!["", " ", "\n", "m1", "m2", "@bob:example.org"]).prop_map(str::to_owned),
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
fn platform_batches_are_held_without_panic() {
    let (_dir, config) = scratch();
    let batches = prop::collection::vec(
        (prop::collection::vec(message(), 0..6), text(JSON_TOKENS)),
        1..4,
    );
    fuzz(
        "engine holds platform batches",
        256,
        (now(), batches, any::<bool>()),
        |(now, batches, auto_reply)| {
            let mut engine = engine(&config, now);
            let plan = SessionPlan {
                end: Some(SessionEnd::For(Length(SignedDuration::from_hours(2)))),
                check_in: None,
            };
            engine.handle_batch(now, vec![Request::Start { plan, intent: None }]);
            let session = engine.status(now).session.expect("a session runs").id;
            for (messages, cursor) in batches {
                let (answer, reply) = tokio::sync::oneshot::channel();
                let batch = Batch { messages, cursor };
                engine.handle_chat(
                    now,
                    ChatCall::Hold {
                        adapter: "fuzz".into(),
                        session,
                        auto_reply,
                        batch,
                        answer,
                    },
                );
                let held = reply.blocking_recv().expect("the engine answers");
                prop_assert!(held.is_ok(), "the batch was not held: {held:?}");
            }
            Ok(())
        },
    );
}

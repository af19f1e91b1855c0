//! The engine in-process, with a clock the tests own and a recording notifier.

use deepwork_adapters::{Addressed, Batch, IncomingMessage, ReplyTarget};
use deepwork_core::config::Config;
use deepwork_core::escalation::AckVia;
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_core::{Class, Disposition, ItemId, NewItem, SessionId, Urgency};
use deepwork_engine::api::{ErrorCode, Event, Reply, Request, Response, Status};
use deepwork_engine::chat_calls::ChatCall;
use deepwork_engine::engine::Engine;
use deepwork_engine::notify::{Loudness, Notice, Notifier};
use deepwork_store::Store;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Notice>>>);

impl Notifier for Recorder {
    fn notify(&self, notice: Notice) {
        self.0.lock().unwrap().push(notice);
    }
}

impl Recorder {
    fn take(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn tz() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

fn at(text: &str) -> Timestamp {
    let zoned: jiff::Zoned = format!("{text}[Europe/Berlin]").parse().unwrap();
    zoned.timestamp()
}

fn config(text: &str) -> Config {
    Config::from_toml_str(text).unwrap()
}

fn open(path: &Path, config: Config, now: Timestamp) -> (Engine, Recorder) {
    let recorder = Recorder::default();
    let engine = Engine::open(
        config,
        tz(),
        Store::open(path).unwrap(),
        Box::new(recorder.clone()),
        now,
    )
    .unwrap();
    (engine, recorder)
}

fn item(sender: &str, title: &str) -> NewItem {
    NewItem {
        source: "slack".into(),
        sender: sender.into(),
        title: title.into(),
        body: None,
        url: None,
        channel: None,
        urgency: None,
        message_id: None,
        source_class: None,
        conversation: None,
    }
}

fn one(engine: &mut Engine, now: Timestamp, request: Request) -> Response {
    engine.handle_batch(now, vec![request]).remove(0)
}

fn ok(response: Response) -> Reply {
    match response {
        Response::Ok(reply) => reply,
        Response::Error(error) => panic!("expected success, got {error:?}"),
    }
}

fn status(engine: &mut Engine, now: Timestamp) -> Status {
    match ok(one(engine, now, Request::Status)) {
        Reply::Status(status) => status,
        other => panic!("{other:?}"),
    }
}

fn start(engine: &mut Engine, now: Timestamp, length: &str) {
    let plan = SessionPlan {
        end: Some(SessionEnd::For(length.parse().unwrap())),
        check_in: None,
    };
    ok(one(engine, now, Request::Start { plan, intent: None }));
}

fn push(engine: &mut Engine, now: Timestamp, item: NewItem) -> Reply {
    ok(one(engine, now, Request::Push { item }))
}

fn stats(engine: &mut Engine, now: Timestamp) -> deepwork_core::stats::WeeklyStats {
    match ok(one(engine, now, Request::Stats { week: None })) {
        Reply::Stats(stats) => stats,
        other => panic!("expected stats, got {other:?}"),
    }
}

fn latest_digest(engine: &mut Engine, now: Timestamp) -> deepwork_core::digest::Digest {
    match ok(one(engine, now, Request::Digest { id: None })) {
        Reply::Digest(Some(digest)) => digest,
        other => panic!("expected a digest, got {other:?}"),
    }
}

fn digest_ids(digest: &deepwork_core::digest::Digest) -> Vec<i64> {
    digest
        .groups
        .iter()
        .flat_map(|g| g.items.iter().map(|i| i.id.0))
        .collect()
}

#[test]
fn with_work_hours_reply_by_counts_working_time_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, _) = open(
        &dir.path().join("db.sqlite3"),
        config("[plans]\nwork_hours = [\"mon-fri 09:00-17:30\"]\n"),
        at("2026-11-28T20:00"),
    );
    start(&mut engine, at("2026-11-28T20:00"), "1h");
    let mut blocker = item("ci", "the release is blocked on your review");
    blocker.urgency = Some(Urgency::Blocker);
    push(&mut engine, at("2026-11-28T20:41"), blocker);
    push(
        &mut engine,
        at("2026-11-28T20:42"),
        item("dana", "fyi: the offsite moved to May"),
    );
    ok(one(&mut engine, at("2026-11-28T20:50"), Request::CheckIn));
    let digest = latest_digest(&mut engine, at("2026-11-28T20:50"));
    let reply_by: Vec<(Class, Timestamp)> = digest
        .groups
        .iter()
        .flat_map(|group| {
            group
                .items
                .iter()
                .map(|entry| (group.class, entry.reply_by))
        })
        .collect();
    assert_eq!(
        reply_by,
        [
            (Class::Blocker, at("2026-11-30T13:00")),
            (Class::Update, at("2026-11-30T17:30")),
        ],
        "a Saturday evening's blocker is owed four working hours into Monday, an update by Monday's end"
    );
}

#[test]
fn a_morning_of_deep_work_with_a_slot_check_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let (mut engine, notices) = open(
        &db,
        config("[session]\ncheck_in_slots = [\"10:00\"]\n"),
        at("2026-11-25T09:00"),
    );
    let mut events = engine.subscribe();
    start(&mut engine, at("2026-11-25T09:00"), "2h");
    assert_eq!(
        engine.next_deadline(),
        Some(at("2026-11-25T10:00")),
        "the slot is the first check-in"
    );

    push(&mut engine, at("2026-11-25T09:10"), item("bob", "hi"));
    push(
        &mut engine,
        at("2026-11-25T09:20"),
        item("ci", "the deploy is blocked on your review"),
    );
    let emergency = push(
        &mut engine,
        at("2026-11-25T09:30"),
        item("ops", "Production outage: <b>all</b> regions"),
    );
    assert!(
        matches!(emergency, Reply::Pushed(ref ack) if ack.disposition == Disposition::BrokeThrough),
        "{emergency:?}"
    );
    let shown = notices.take();
    assert_eq!(
        shown.len(),
        1,
        "only the emergency is shown during focus: {shown:?}"
    );
    assert_eq!(
        (shown[0].loudness, shown[0].summary.as_str()),
        (Loudness::Critical, "Emergency from ops")
    );

    let now = status(&mut engine, at("2026-11-25T09:31"));
    assert_eq!(
        (now.held.pre_ping, now.held.blocker, now.held.total()),
        (1, 1, 2)
    );
    assert_eq!(
        now.escalations[0].next_step,
        Some(("alerted again".to_owned(), at("2026-11-25T09:33"))),
        "unacknowledged, the emergency is alerted again after 3 minutes"
    );
    assert_eq!(engine.next_deadline(), Some(at("2026-11-25T09:33")));
    engine.tick(at("2026-11-25T09:33"));
    assert_eq!(
        notices.take()[0].summary,
        "Still unacknowledged: emergency from ops"
    );
    let Reply::Acknowledged(acknowledged) = ok(one(
        &mut engine,
        at("2026-11-25T09:34"),
        Request::Acknowledge {
            item: None,
            via: AckVia::Command,
        },
    )) else {
        panic!("expected the acknowledged items")
    };
    assert_eq!(acknowledged.len(), 1);
    assert!(
        status(&mut engine, at("2026-11-25T09:35"))
            .escalations
            .is_empty()
    );
    assert_eq!(
        engine.next_deadline(),
        Some(at("2026-11-25T10:00")),
        "acknowledged: nothing more follows the emergency"
    );

    engine.tick(at("2026-11-25T10:00"));
    let first = latest_digest(&mut engine, at("2026-11-25T10:00"));
    assert_eq!(
        first.summary,
        "2 held: 1 blocker, 1 pre-ping; 1 emergency shown at once"
    );
    assert_eq!(
        first.groups.iter().map(|g| g.class).collect::<Vec<_>>(),
        vec![Class::Emergency, Class::Blocker, Class::PrePing],
        "the emergency that broke through is listed too, so a missed popup loses nothing"
    );
    assert_eq!(
        first.groups[0].items[0].shown_at,
        Some(at("2026-11-25T09:30"))
    );
    let story: Vec<(Timestamp, &str)> = first.groups[0].items[0]
        .escalation
        .iter()
        .map(|entry| (entry.at, entry.what.as_str()))
        .collect();
    assert_eq!(
        story,
        [
            (at("2026-11-25T09:30"), "shown"),
            (at("2026-11-25T09:33"), "alerted again"),
            (at("2026-11-25T09:34"), "acknowledged with deepwork ack"),
        ]
    );
    assert_eq!(
        notices.take()[0].summary,
        "Deep work check-in: 2 held: 1 blocker, 1 pre-ping"
    );
    assert_eq!(
        status(&mut engine, at("2026-11-25T10:01")).held.total(),
        0,
        "the hold starts again after a check-in"
    );

    push(
        &mut engine,
        at("2026-11-25T10:30"),
        item("dana", "roadmap thoughts for next quarter"),
    );
    engine.tick(at("2026-11-25T11:00"));
    let second = latest_digest(&mut engine, at("2026-11-25T11:00"));
    assert_eq!(second.summary, "1 held: 1 strategic item");
    assert!(
        status(&mut engine, at("2026-11-25T11:00"))
            .session
            .is_none(),
        "the session ended"
    );
    // The blocker still owed is reminded of once, half an hour before its reply-by.
    let reminder = engine.next_deadline().expect("a reminder is due");
    assert!(reminder < at("2026-11-26T09:00"), "{reminder}");
    notices.take();
    engine.tick(reminder);
    let reminded: Vec<String> = notices.take().into_iter().map(|n| n.summary).collect();
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert!(reminded[0].starts_with("Reply owed by "), "{reminded:?}");
    assert_eq!(
        engine.next_deadline(),
        Some(at("2026-11-26T09:00")),
        "nothing else is due while idle but the daily forgetting of old text, a day after the start"
    );

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            Event::SessionChanged { .. } => "session_changed",
            Event::ItemHeld { .. } => "item_held",
            Event::BrokeThrough { .. } => "broke_through",
            Event::ItemShown { .. } => "item_shown",
            Event::CheckIn { .. } => "check_in",
            Event::SessionEnded { .. } => "session_ended",
            Event::ItemDone { .. } => "item_done",
            Event::AdapterChanged { .. } => "adapter_changed",
            Event::Lagged { .. } => "lagged",
            Event::ConfigChanged => "config_changed",
            Event::OpenDigest => "open_digest",
            Event::StandupDrafted { .. } => "standup_drafted",
            Event::OpenStandup => "open_standup",
            Event::DesktopChanged => "desktop_changed",
            Event::Acknowledged { .. } => "acknowledged",
        });
    }
    assert_eq!(
        seen,
        [
            "session_changed",
            "item_held",
            "item_held",
            "broke_through",
            "acknowledged",
            "check_in",
            "item_held",
            "check_in",
            "session_ended"
        ]
    );

    let stats = stats(&mut engine, at("2026-11-25T12:00"));
    assert_eq!(
        (
            stats.total_hours,
            stats.sessions,
            stats.interruptions,
            stats.items_held
        ),
        (2.0, 1, 1, 3)
    );
}

#[test]
fn outside_a_session_items_are_shown_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, notices) = open(
        &dir.path().join("db"),
        Config::default(),
        at("2026-11-25T09:00"),
    );
    let reply = push(&mut engine, at("2026-11-25T09:00"), item("bob", "lunch?"));
    assert!(
        matches!(reply, Reply::Pushed(ref ack) if ack.disposition == Disposition::Shown),
        "{reply:?}"
    );
    let shown = notices.take();
    assert_eq!(
        (shown[0].summary.as_str(), shown[0].body.as_str()),
        ("bob · slack", "lunch?")
    );
}

#[test]
fn a_sessions_intent_and_its_outcome_make_the_next_standup() {
    use deepwork_core::standup::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let config = config("[plans]\nwork_hours = [\"mon-fri 09:00-17:30\"]\n");
    // Friday 27 November 2026.
    let (mut engine, _) = open(&dir.path().join("db"), config, at("2026-11-27T09:00"));
    let plan = SessionPlan {
        end: Some(SessionEnd::For("2h".parse().unwrap())),
        check_in: None,
    };
    ok(one(
        &mut engine,
        at("2026-11-27T09:00"),
        Request::Start {
            plan,
            intent: Some("Finish the billing\nRFC".into()),
        },
    ));
    ok(one(&mut engine, at("2026-11-27T10:30"), Request::Stop));
    let recorded = ok(one(
        &mut engine,
        at("2026-11-27T10:31"),
        Request::Outcome {
            session: None,
            outcome: Outcome::Done,
            note: Some("sent to Ana".into()),
        },
    ));
    assert!(
        matches!(&recorded, Reply::Intent(i) if i.text == "Finish the billing RFC" && i.outcome == Some(Outcome::Done)),
        "{recorded:?}"
    );
    ok(one(
        &mut engine,
        at("2026-11-27T14:00"),
        Request::Start {
            plan,
            intent: Some("Load test the refund webhook".into()),
        },
    ));
    ok(one(&mut engine, at("2026-11-27T15:00"), Request::Stop));
    let asked = status(&mut engine, at("2026-11-27T15:01")).unsaid_intent;
    assert_eq!(
        asked.map(|intent| intent.text),
        Some("Load test the refund webhook".into()),
        "the window and the tray ask how it went"
    );
    assert_eq!(
        status(&mut engine, at("2026-11-28T15:01")).unsaid_intent,
        None,
        "a day later it is no longer asked"
    );
    let blocker = push(
        &mut engine,
        at("2026-11-27T16:00"),
        item(
            "erin",
            "Can you unblock my prod access by Monday 10:00? QA is waiting",
        ),
    );
    assert!(
        matches!(&blocker, Reply::Pushed(ack) if ack.class == Class::Blocker),
        "{blocker:?}"
    );

    // Monday, 09:15.
    let standup = |engine: &mut Engine, request: Request| match ok(one(
        engine,
        at("2026-11-30T09:15"),
        request,
    )) {
        Reply::Standup(entry) => entry,
        other => panic!("{other:?}"),
    };
    let entry = standup(&mut engine, Request::Standup { fresh: false });
    assert!(!entry.kept, "a draft is not kept until saved");
    let draft = entry.draft;
    assert_eq!(draft.since.to_string(), "2026-11-27");
    assert_eq!(draft.shipped, ["Finish the billing RFC — sent to Ana"]);
    assert_eq!(
        draft.today,
        ["Load test the refund webhook"],
        "not done: carried over"
    );
    assert_eq!(draft.blockers.len(), 1, "{draft:?}");
    assert!(
        draft.blockers[0].starts_with("Reply owed to erin"),
        "{draft:?}"
    );
    let mut edited = draft.clone();
    edited
        .today
        .push("Pair with erin\non the\tprod access".into());
    edited.blockers.clear();
    let kept = standup(&mut engine, Request::SaveStandup { draft: edited });
    assert!(kept.kept);
    assert_eq!(kept.edited_at, Some(at("2026-11-30T09:15")));
    assert_eq!(
        kept.draft.today,
        [
            "Load test the refund webhook",
            "Pair with erin on the prod access"
        ]
    );
    assert_eq!(
        standup(&mut engine, Request::Standup { fresh: false }),
        kept,
        "the kept standup is today's"
    );
    assert_eq!(
        standup(&mut engine, Request::Standup { fresh: true }).draft,
        draft,
        "drafted again from what is known"
    );
    let mut tomorrow = draft.clone();
    tomorrow.date = "2026-12-24".parse().unwrap();
    let refused = one(
        &mut engine,
        at("2026-11-30T09:16"),
        Request::SaveStandup { draft: tomorrow },
    );
    assert!(
        matches!(&refused, Response::Error(e) if e.code == ErrorCode::BadRequest),
        "{refused:?}"
    );
    let none = one(
        &mut engine,
        at("2026-11-30T09:16"),
        Request::Outcome {
            session: Some(SessionId(99)),
            outcome: Outcome::Done,
            note: None,
        },
    );
    assert!(
        matches!(&none, Response::Error(e) if e.code == ErrorCode::NotFound),
        "{none:?}"
    );
}

#[test]
fn the_standup_is_drafted_at_its_time_on_standup_days_and_announced_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config_text = "[standup]\nat = \"09:15\"\n[plans]\nwork_hours = [\"mon-fri 09:00-17:30\"]\nhold_after_hours = false\ndays_off = [\"2026-12-01\"]\n";
    // Monday 30 November, 08:00.
    let (mut engine, recorder) = open(&db, config(config_text), at("2026-11-30T08:00"));
    assert_eq!(engine.next_deadline(), Some(at("2026-11-30T09:15")));
    engine.tick(at("2026-11-30T09:15"));
    let shown = recorder.take();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "Your standup is drafted");
    let kept = match ok(one(
        &mut engine,
        at("2026-11-30T09:20"),
        Request::Standups { limit: 5 },
    )) {
        Reply::Standups(kept) => kept,
        other => panic!("{other:?}"),
    };
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].draft.date.to_string(), "2026-11-30");
    drop(engine);
    let (mut engine, recorder) = open(&db, config(config_text), at("2026-11-30T10:00"));
    assert!(recorder.take().is_empty(), "not drafted twice on a day");
    engine.tick(at("2026-12-01T09:15"));
    assert!(recorder.take().is_empty(), "Tuesday is a day off");
    engine.tick(at("2026-12-02T09:15"));
    assert_eq!(recorder.take().len(), 1, "Wednesday's");
    // Thursday's comes in a session: drafted on time, announced when it ends.
    start(&mut engine, at("2026-12-03T09:00"), "1h");
    recorder.take();
    engine.tick(at("2026-12-03T09:15"));
    let during: Vec<String> = recorder.take().into_iter().map(|n| n.summary).collect();
    assert!(!during.iter().any(|s| s.contains("standup")), "{during:?}");
    let kept = match ok(one(
        &mut engine,
        at("2026-12-03T09:20"),
        Request::Standup { fresh: false },
    )) {
        Reply::Standup(entry) => entry,
        other => panic!("{other:?}"),
    };
    assert!(kept.kept, "drafted at its time");
    ok(one(&mut engine, at("2026-12-03T09:40"), Request::Stop));
    let after: Vec<String> = recorder.take().into_iter().map(|n| n.summary).collect();
    assert!(
        after.iter().any(|s| s == "Your standup is drafted"),
        "{after:?}"
    );
}

#[test]
fn a_check_in_while_the_user_is_away_waits_for_them_and_away_time_is_not_focus() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, notices) = open(
        &dir.path().join("db.sqlite3"),
        Config::default(),
        at("2026-11-25T09:00"),
    );
    start(&mut engine, at("2026-11-25T09:00"), "2h");
    let mut note = item("bob", "lunch at 1?");
    note.urgency = Some(Urgency::Update);
    push(&mut engine, at("2026-11-25T09:30"), note);
    let away = |since: Option<&str>| Request::Presence {
        away_since: since.map(at),
    };
    ok(one(
        &mut engine,
        at("2026-11-25T10:05"),
        away(Some("2026-11-25T10:00")),
    ));
    // The end comes while the screen is locked: nobody would read the digest.
    engine.tick(at("2026-11-25T11:00"));
    let waiting = status(&mut engine, at("2026-11-25T11:10"));
    assert!(waiting.check_in_waiting, "{waiting:?}");
    assert_eq!(waiting.away_since, Some(at("2026-11-25T10:00")));
    assert_eq!(waiting.held.update, 1, "still held");
    assert!(waiting.session.is_some(), "the session waits for the user");
    assert!(
        engine
            .next_deadline()
            .is_none_or(|deadline| deadline > at("2026-11-25T11:10")),
        "no timer spins on the waiting check-in"
    );
    assert!(notices.take().is_empty());
    let during = stats(&mut engine, at("2026-11-25T11:10"));
    assert_eq!(
        during.total_hours, 1.0,
        "an absence still going on is not focus"
    );

    let back = match ok(one(&mut engine, at("2026-11-25T11:20"), away(None))) {
        Reply::Status(status) => status,
        other => panic!("{other:?}"),
    };
    assert!(back.session.is_none() && !back.check_in_waiting && back.away_since.is_none());
    let shown = notices.take();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].summary, "Welcome back: 1 held: 1 update");
    assert_eq!(
        digest_ids(&latest_digest(&mut engine, at("2026-11-25T11:20"))),
        vec![1]
    );
    let after = stats(&mut engine, at("2026-11-25T11:20"));
    assert_eq!(
        after.total_hours, 1.0,
        "09:00–10:00: the hour away is not focus"
    );
    assert_eq!(
        after.away_hours, 1.0,
        "away 10:00 to the planned end at 11:00"
    );
}

#[test]
fn a_restart_resumes_the_session_and_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    {
        let (mut engine, _) = open(&db, Config::default(), at("2026-11-25T09:00"));
        start(&mut engine, at("2026-11-25T09:00"), "1h");
        for n in 0..3 {
            // Declared updates: this is about the restart, not about triage.
            let mut note = item("bob", &format!("note {n}"));
            note.urgency = Some(Urgency::Update);
            push(&mut engine, at("2026-11-25T09:05"), note);
        }
        // Dropped without stopping: what a crash leaves behind.
    }
    {
        let (mut engine, _) = open(&db, Config::default(), at("2026-11-25T09:30"));
        let status = status(&mut engine, at("2026-11-25T09:30"));
        assert_eq!(
            status.session.map(|s| s.ends_at),
            Some(at("2026-11-25T10:00")),
            "the session resumed"
        );
        assert_eq!(status.held.update, 3, "the held items are still held");
    }
    let (mut engine, notices) = open(&db, Config::default(), at("2026-11-25T12:00"));
    let digest = latest_digest(&mut engine, at("2026-11-25T12:00"));
    assert_eq!(
        digest_ids(&digest),
        vec![1, 2, 3],
        "delivered when the engine came back after the end"
    );
    assert_eq!(notices.take().len(), 1, "one summary notification");
    let stats = stats(&mut engine, at("2026-11-25T12:00"));
    assert_eq!(
        stats.total_hours, 1.0,
        "focus ended at the planned end, not when the engine came back"
    );
    drop(engine);

    let (mut engine, notices) = open(&db, Config::default(), at("2026-11-25T13:00"));
    assert_eq!(
        latest_digest(&mut engine, at("2026-11-25T13:00")).id,
        digest.id,
        "no second digest"
    );
    assert!(notices.take().is_empty());
}

fn held_total(engine: &mut Engine, now: Timestamp) -> u32 {
    let held = status(engine, now).held;
    held.emergency + held.blocker + held.update + held.strategic + held.pre_ping
}

fn chat_message(id: &str, sender: &str, channel: Option<String>, text: &str) -> IncomingMessage {
    IncomingMessage {
        id: id.into(),
        sender: sender.into(),
        sender_name: None,
        channel,
        addressed: Addressed::Direct,
        text: text.into(),
        automated: false,
        url: Some("ftp://not-a-web-link".into()),
        reply_to: ReplyTarget {
            conversation: "c".into(),
            sender: sender.into(),
        },
        usual_class: None,
    }
}

fn hold(engine: &mut Engine, now: Timestamp, session: SessionId, batch: Batch) {
    let (answer, mut reply) = tokio::sync::oneshot::channel();
    engine.handle_chat(
        now,
        ChatCall::Hold {
            adapter: "xmpp".into(),
            session,
            auto_reply: false,
            batch,
            answer,
        },
    );
    reply.try_recv().unwrap().expect("the batch is held");
}

#[test]
fn a_platform_batch_with_oversized_fields_is_held_whole_and_read_twice_is_held_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deepwork.db");
    let now = at("2026-11-30T09:00");
    let (mut engine, _) = open(&db, Config::default(), now);
    start(&mut engine, now, "2h");
    let session = status(&mut engine, now).session.unwrap().id;
    let batch = Batch {
        messages: vec![
            chat_message("m1", "ann@example.org", None, "can you review my PR today?"),
            // Each of these was refused by the store and stopped the batch for good.
            chat_message(
                "m2",
                &format!("{}@example.org", "a".repeat(300)),
                Some("r".repeat(300)),
                "the deploy is waiting on your sign-off",
            ),
            chat_message("m3", "", None, "\u{202E}lunch?"),
        ],
        cursor: "3".into(),
    };
    hold(&mut engine, now, session, batch.clone());
    assert_eq!(held_total(&mut engine, now), 3, "every message is held");
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.adapter_cursor("xmpp", session).unwrap().as_deref(),
        Some("3")
    );

    // Read again (the platform replays, or the engine died before the next read).
    hold(&mut engine, now, session, batch);
    assert_eq!(
        held_total(&mut engine, now),
        3,
        "a message seen before is not held again"
    );
    let second = store.item(ItemId(2)).unwrap().unwrap();
    assert_eq!(second.sender.len(), deepwork_core::item::MAX_NAME_BYTES);
    assert_eq!(
        second.url, None,
        "a link that is not http(s) is dropped, the item kept"
    );
    assert_eq!(store.item(ItemId(3)).unwrap().unwrap().title, "lunch?");
}

#[test]
fn pushing_the_same_message_id_twice_answers_with_the_first_item() {
    let dir = tempfile::tempdir().unwrap();
    let now = at("2026-11-30T09:00");
    let (mut engine, _) = open(&dir.path().join("deepwork.db"), Config::default(), now);
    start(&mut engine, now, "2h");
    let with_id = NewItem {
        message_id: Some("build-812".into()),
        ..item("ci", "build 812 failed on main")
    };
    let first = push(&mut engine, now, with_id.clone());
    let again = push(&mut engine, now, with_id);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
    assert_eq!(held_total(&mut engine, now), 1);
}

#[test]
fn bad_items_are_refused_and_the_rest_of_the_batch_lands() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, _) = open(
        &dir.path().join("db"),
        Config::default(),
        at("2026-11-25T09:00"),
    );
    let mut bad = item("bob", "click me");
    bad.url = Some("javascript:alert(1)".into());
    let responses = engine.handle_batch(
        at("2026-11-25T09:00"),
        vec![
            Request::Push {
                item: item("bob", "first"),
            },
            Request::Push { item: bad },
            Request::Push {
                item: item("", "no sender"),
            },
            Request::Push {
                item: item("bob", "last"),
            },
        ],
    );
    let codes: Vec<Option<ErrorCode>> = responses
        .iter()
        .map(|r| match r {
            Response::Ok(_) => None,
            Response::Error(e) => Some(e.code),
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(ErrorCode::InvalidItem),
            Some(ErrorCode::InvalidItem),
            None
        ]
    );
}

#[test]
fn session_errors_have_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, _) = open(
        &dir.path().join("db"),
        Config::default(),
        at("2026-11-25T09:00"),
    );
    let now = at("2026-11-25T09:00");
    let code = |r: Response| match r {
        Response::Error(e) => e.code,
        Response::Ok(reply) => panic!("expected an error, got {reply:?}"),
    };
    assert_eq!(
        code(one(&mut engine, now, Request::Stop)),
        ErrorCode::NotFocusing
    );
    assert_eq!(
        code(one(&mut engine, now, Request::CheckIn)),
        ErrorCode::NotFocusing
    );
    let too_long = SessionPlan {
        end: Some(SessionEnd::For("13h".parse().unwrap())),
        check_in: None,
    };
    assert_eq!(
        code(one(
            &mut engine,
            now,
            Request::Start {
                plan: too_long,
                intent: None,
            }
        )),
        ErrorCode::InvalidPlan
    );
    start(&mut engine, now, "1h");
    let error = one(
        &mut engine,
        now,
        Request::Start {
            plan: SessionPlan::default(),
            intent: None,
        },
    );
    assert!(
        matches!(&error, Response::Error(e) if e.code == ErrorCode::AlreadyFocusing && e.message.contains("until 10:00")),
        "{error:?}"
    );
    assert_eq!(
        code(one(
            &mut engine,
            now,
            Request::Done {
                item: deepwork_core::ItemId(42),
                done: true
            }
        )),
        ErrorCode::NotFound
    );
}

#[test]
fn extending_moves_the_end_and_declared_urgency_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, notices) = open(
        &dir.path().join("db"),
        Config::default(),
        at("2026-11-25T09:00"),
    );
    start(&mut engine, at("2026-11-25T09:00"), "1h");
    let plan = SessionPlan {
        end: Some(SessionEnd::For("90m".parse().unwrap())),
        check_in: None,
    };
    ok(one(
        &mut engine,
        at("2026-11-25T09:30"),
        Request::Extend { plan },
    ));
    assert_eq!(engine.next_deadline(), Some(at("2026-11-25T11:00")));
    let mut page = item("pagerduty", "disk 91% on db-3");
    page.source = "ci".into();
    page.urgency = Some(Urgency::Emergency);
    push(&mut engine, at("2026-11-25T09:40"), page);
    assert_eq!(notices.take()[0].loudness, Loudness::Critical);
    engine.tick(at("2026-11-25T10:00"));
    assert!(
        status(&mut engine, at("2026-11-25T10:00"))
            .session
            .is_some(),
        "the old end no longer ends it"
    );
    let elapsed = SignedDuration::from_mins(120);
    engine.tick(at("2026-11-25T09:00") + elapsed);
    assert!(
        status(&mut engine, at("2026-11-25T11:00"))
            .session
            .is_none()
    );
}

mod chats {
    //! The chat supervisor driving an in-memory platform, through the real server loop.

    use deepwork_adapters::fake::FakeAdapter;
    use deepwork_adapters::{Addressed, IncomingMessage, ReplyTarget};
    use deepwork_core::schedule::{SessionEnd, SessionPlan};
    use deepwork_engine::api::AdapterState;
    use deepwork_engine::chats::ChatAdapter;
    use deepwork_engine::{Client, Paths, server};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::oneshot;

    pub struct Running {
        stop: Option<oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Running {
        pub async fn shut_down(mut self) {
            let _ = self.stop.take().map(|stop| stop.send(()));
            self.task.await.unwrap();
        }
    }

    pub fn paths(dir: &std::path::Path) -> Paths {
        std::fs::write(
            dir.join("config.toml"),
            "[notifications]\nenabled = false\n",
        )
        .unwrap();
        Paths {
            config: dir.join("config.toml"),
            data_dir: dir.join("data"),
            socket: dir.join("engine.sock"),
        }
    }

    async fn start_engine(paths: &Paths, fake: &Arc<FakeAdapter>) -> (Running, Client) {
        let adapter = ChatAdapter {
            name: "fake".into(),
            status: Some(fake.clone()),
            source: Some(fake.clone()),
            replier: Some(fake.clone()),
            follow_up: None,
            poster: None,
            work: None,
            auto_reply: true,
            problem: None,
        };
        start_engine_with(paths, adapter).await
    }

    pub async fn start_engine_with(paths: &Paths, adapter: ChatAdapter) -> (Running, Client) {
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_paths = paths.clone();
        let task = tokio::spawn(async move {
            server::serve_with(&serve_paths, vec![adapter], async {
                let _ = stopped.await;
            })
            .await
            .expect("the engine runs");
        });
        let client = loop {
            match Client::connect(&paths.socket).await {
                Ok(client) => break client,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        (
            Running {
                stop: Some(stop),
                task,
            },
            client,
        )
    }

    pub async fn eventually(what: &str, check: impl FnMut() -> bool) {
        eventually_within(what, Duration::from_secs(5), check).await;
    }

    pub async fn eventually_within(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    fn dm(id: &str, sender: &str, text: &str, automated: bool) -> IncomingMessage {
        IncomingMessage {
            id: id.into(),
            sender: sender.into(),
            sender_name: None,
            channel: None,
            addressed: Addressed::Direct,
            text: text.into(),
            automated,
            url: None,
            reply_to: ReplyTarget {
                conversation: format!("dm-{sender}"),
                sender: sender.into(),
            },
            usual_class: None,
        }
    }

    pub fn plan(length: &str) -> SessionPlan {
        SessionPlan {
            end: Some(SessionEnd::For(length.parse().unwrap())),
            check_in: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_hours_the_status_says_so_and_a_direct_message_gets_the_after_hours_reply() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        // Work hours on another weekday than today, so that now is after hours.
        let today = jiff::Zoned::now().weekday();
        let other = if today == jiff::civil::Weekday::Sunday {
            "mon"
        } else {
            "sun"
        };
        std::fs::write(
            &paths.config,
            format!(
                "[notifications]\nenabled = false\n[plans]\nwork_hours = [\"{other} 09:00-10:00\"]\n\
                 after_hours_status = \"Off work, back {{check_in}}\"\n\
                 [auto_reply]\nafter_hours = \"I'm off work until {{check_in}}; I'll read this then.\"\n"
            ),
        )
        .unwrap();
        let fake = Arc::new(FakeAdapter::default());
        fake.lock().status = "lunch at 1".into();
        let (engine, mut client) = start_engine(&paths, &fake).await;
        let status = client.status().await.unwrap();
        assert!(status.off_hours_until.is_some() && status.session.is_none());
        eventually("the after-hours status is set", || {
            fake.lock().status.starts_with("Off work, back ")
        })
        .await;
        eventually("the adapter reads", || fake.lock().cursor_requests > 0).await;
        fake.deliver(dm(
            "1",
            "bob",
            "can you look at the contract tonight?",
            false,
        ));
        eventually("bob got the after-hours reply", || {
            fake.lock().replies.len() == 1
        })
        .await;
        let (_, text) = fake.lock().replies[0].clone();
        assert!(text.starts_with("I'm off work until "), "{text}");
        fake.deliver(dm("2", "bob", "or tomorrow is fine", false));
        eventually("both are held for the morning", || {
            held_in_store(&paths) == 2
        })
        .await;
        assert_eq!(
            fake.lock().replies.len(),
            1,
            "one reply per sender per night"
        );
        assert_eq!(client.status().await.unwrap().held.total(), 2);
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_opted_in_status_names_the_sessions_intent_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        std::fs::write(
            &paths.config,
            "[notifications]\nenabled = false\n[status]\nintent_template = \"Deep work on {intent} — checking messages at {check_in}\"\n",
        )
        .unwrap();
        let fake = Arc::new(FakeAdapter::default());
        let (engine, mut client) = start_engine(&paths, &fake).await;
        client
            .start_for(plan("1h"), Some("the billing RFC".into()))
            .await
            .unwrap();
        eventually("the status names the intent", || {
            fake.lock()
                .status
                .starts_with("Deep work on the billing RFC — checking messages at")
        })
        .await;
        client.stop().await.unwrap();
        client.start(plan("1h")).await.unwrap();
        eventually("without an intent, the plain status", || {
            fake.lock()
                .status
                .starts_with("Deep work — checking messages at")
        })
        .await;
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_chat_status_follows_the_session_and_direct_messages_get_one_reply() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        fake.lock().status = "lunch at 1".into();
        let (engine, mut client) = start_engine(&paths, &fake).await;

        client.start(plan("1h")).await.unwrap();
        eventually("the focus status is set", || {
            fake.lock()
                .status
                .starts_with("Deep work — checking messages at")
        })
        .await;
        eventually("the adapter has its starting position", || {
            fake.lock().cursor_requests > 0
        })
        .await;

        fake.deliver(dm("1", "bob", "hi", false));
        eventually("bob got an auto-reply", || fake.lock().replies.len() == 1).await;
        let (to, text) = fake.lock().replies[0].clone();
        assert_eq!(to.conversation, "dm-bob");
        assert!(text.starts_with("I'm in deep work until "), "{text}");

        fake.deliver(dm("2", "bob", "hi again?", false));
        fake.deliver(dm("3", "ci-bot", "build 812 passed", true));
        eventually("all three are held", || held_in_store(&paths) == 3).await;
        assert_eq!(
            fake.lock().replies.len(),
            1,
            "one reply per sender per session, none to bots"
        );

        let status = client.status().await.unwrap();
        assert_eq!(status.adapters.len(), 1);
        assert_eq!(status.adapters[0].state, AdapterState::Ok);

        // Extending moves the check-in the status text names.
        let before = fake.lock().status.clone();
        let extended = client
            .extend(plan("3h"))
            .await
            .unwrap()
            .session
            .unwrap()
            .ends_at;
        let tz = jiff::tz::TimeZone::system();
        let new_time = extended.to_zoned(tz).strftime("%H:%M").to_string();
        eventually("the status names the new check-in", || {
            let now = fake.lock().status.clone();
            now != before && now.contains(&new_time)
        })
        .await;

        client.stop().await.unwrap();
        eventually("the status is restored", || {
            fake.lock().status == "lunch at 1"
        })
        .await;
        engine.shut_down().await;
    }

    /// Whether the adapter has recorded where to read from in `session`.
    pub fn cursor_of(paths: &Paths, adapter: &str, session: deepwork_core::SessionId) -> bool {
        deepwork_store::Store::open(&paths.database())
            .ok()
            .and_then(|store| store.adapter_cursor(adapter, session).ok().flatten())
            .is_some()
    }

    /// Held items, read from the store file (the socket client is busy in the test).
    pub fn held_in_store(paths: &Paths) -> i64 {
        let Ok(store) = deepwork_store::Store::open(&paths.database()) else {
            return -1;
        };
        store
            .running_session()
            .ok()
            .flatten()
            .map_or(0, |r| r.held.len() as i64)
    }

    /// Waits until the platform's reported state matches `wanted`; returns it.
    async fn adapter_state_until(
        client: &mut Client,
        what: &str,
        wanted: impl Fn(&AdapterState) -> bool,
    ) -> AdapterState {
        for _ in 0..500 {
            let status = client.status().await.unwrap();
            if let Some(state) = status.adapters.first().map(|a| a.state.clone())
                && wanted(&state)
            {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    async fn focusing_with_fake(paths: &Paths, fake: &Arc<FakeAdapter>) -> (Running, Client) {
        fake.lock().status = "lunch at 1".into();
        let (engine, mut client) = start_engine(paths, fake).await;
        client.start(plan("1h")).await.unwrap();
        eventually("the platform reads", || fake.lock().reads > 0).await;
        (engine, client)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_engine_per_database_whatever_its_socket_and_its_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        let (engine, _client) = start_engine(&paths, &fake).await;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.database()), 0o600);
        assert_eq!(mode(&paths.data_dir), 0o700);

        // As when one of them runs without XDG_RUNTIME_DIR: another socket, same data.
        let elsewhere = Paths {
            socket: dir.path().join("other.sock"),
            ..paths.clone()
        };
        let second = server::serve_with(&elsewhere, Vec::new(), async {}).await;
        assert!(
            matches!(second, Err(server::StartError::AlreadyRunning { .. })),
            "{second:?}"
        );
        engine.shut_down().await;

        std::fs::set_permissions(&paths.data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let refused = server::serve_with(&paths, Vec::new(), async {}).await;
        let message = refused
            .expect_err("a data directory others can read is refused")
            .to_string();
        assert!(message.contains("chmod 700"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_platform_task_that_panics_is_reported_and_restarted() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        let (engine, mut client) = focusing_with_fake(&paths, &fake).await;

        fake.lock().panic_next_read = true;
        fake.deliver(dm("1", "bob", "are you around?", false));
        let state = adapter_state_until(
            &mut client,
            "the crash is reported",
            |s| matches!(s, AdapterState::Retrying { error } if error.contains("crashed")),
        )
        .await;
        assert!(format!("{state:?}").contains("told to panic"), "{state:?}");
        eventually("the restarted task holds the message", || {
            held_in_store(&paths) == 1
        })
        .await;
        client.stop().await.unwrap();
        eventually("the status from before is put back", || {
            fake.lock().status == "lunch at 1"
        })
        .await;
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_huge_retry_after_is_capped_and_the_platform_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        let (engine, mut client) = focusing_with_fake(&paths, &fake).await;

        fake.lock().rate_limit_next_read = Some(Duration::MAX);
        fake.deliver(dm("1", "bob", "are you around?", false));
        adapter_state_until(
            &mut client,
            "the rate limit is reported",
            |s| matches!(s, AdapterState::Retrying { error } if error.contains("rate-limiting")),
        )
        .await;
        client.stop().await.unwrap();
        eventually("the status from before is put back", || {
            fake.lock().status == "lunch at 1"
        })
        .await;
        let state = client.status().await.unwrap().adapters[0].state.clone();
        assert!(!format!("{state:?}").contains("crashed"), "{state:?}");
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_from_elsewhere_do_not_restart_a_platforms_read() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        let (engine, mut client) = focusing_with_fake(&paths, &fake).await;
        let reads = fake.lock().reads;
        for n in 0..20 {
            client
                .push(super::item("ci", &format!("build {n} passed")))
                .await
                .unwrap();
        }
        eventually("the pushes are held", || held_in_store(&paths) == 20).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(fake.lock().reads, reads, "the read in flight went on");
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_platform_that_is_down_is_retried_and_a_crash_still_restores() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let fake = Arc::new(FakeAdapter::default());
        fake.lock().status = "in the office".into();
        fake.lock().down = true;
        let (engine, mut client) = start_engine(&paths, &fake).await;

        client.start(plan("3s")).await.unwrap();
        let mut retrying = false;
        for _ in 0..300 {
            let status = client.status().await.unwrap();
            if matches!(
                status.adapters.first().map(|a| &a.state),
                Some(AdapterState::Retrying { .. })
            ) {
                retrying = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(retrying, "a platform that is down is shown as retrying");
        assert!(
            client.status().await.unwrap().session.is_some(),
            "the session goes on without it"
        );

        fake.lock().down = false;
        eventually("the focus status is set once the platform is back", || {
            fake.lock().status.starts_with("Deep work")
        })
        .await;
        eventually("the adapter reads again", || {
            fake.lock().cursor_requests > 0
        })
        .await;
        fake.deliver(dm("1", "bob", "are you around?", false));
        eventually_within(
            "its messages are held again",
            Duration::from_secs(70),
            || held_in_store(&paths) == 1,
        )
        .await;

        // The engine goes away mid-session (as in a crash: nothing is restored on the way out)
        // and comes back after the session's end.
        drop(client);
        engine.shut_down().await;
        assert!(
            fake.lock().status.starts_with("Deep work"),
            "still showing the focus status"
        );
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let (engine, _client) = start_engine(&paths, &fake).await;
        eventually("the status from before the session is back", || {
            fake.lock().status == "in the office"
        })
        .await;
        engine.shut_down().await;
    }
}

mod matrix {
    //! The whole chain against a real Synapse: engine, supervisor, Matrix adapter.

    use super::chats::{cursor_of, eventually, held_in_store, paths, plan, start_engine_with};
    use deepwork_adapters::matrix::MatrixAdapter;
    use deepwork_engine::chats::ChatAdapter;
    use deepwork_harness::synapse::{Person, Synapse};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    async fn until_presence(
        bob: &Person,
        alice: &str,
        want: impl Fn(&(String, Option<String>)) -> bool,
    ) -> (String, Option<String>) {
        let mut seen = (String::new(), None);
        for _ in 0..100 {
            seen = bob.presence_of(alice).await;
            if want(&seen) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("alice's presence never became what was expected; last seen {seen:?}");
    }

    /// Alice and Bob with a direct-message room; Alice's presence is online with `status`.
    async fn alice_and_bob(synapse: &Synapse, status: &str) -> (Person, Person, String) {
        let alice = synapse.register("alice").await;
        let bob = synapse.register("bob").await;
        let dm = bob
            .create_room(json!({ "preset": "trusted_private_chat", "invite": [alice.user_id], "is_direct": true }))
            .await;
        alice.join(&dm).await;
        alice.set_presence("online", status).await;
        (alice, bob, dm)
    }

    fn matrix_adapter(synapse: &Synapse, alice: &Person, auto_reply: bool) -> ChatAdapter {
        let matrix = Arc::new(
            MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap(),
        );
        ChatAdapter {
            name: "matrix".into(),
            status: Some(matrix.clone()),
            source: Some(matrix.clone()),
            replier: Some(matrix),
            follow_up: None,
            poster: None,
            work: None,
            auto_reply,
            problem: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn matrix_down_mid_session_is_retried_and_recovers() {
        let mut synapse = Synapse::start();
        let (alice, bob, dm) = alice_and_bob(&synapse, "around").await;
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let adapter = matrix_adapter(&synapse, &alice, false);
        let (engine, mut client) = start_engine_with(&paths, adapter).await;
        client.start(plan("1h")).await.unwrap();
        until_presence(&bob, &alice.user_id, |(p, _)| p == "unavailable").await;

        synapse.stop();
        // The running long-poll fails, then each retry fails until the server is back.
        let mut retrying = false;
        for _ in 0..300 {
            let status = client.status().await.unwrap();
            assert!(
                status.session.is_some(),
                "the session goes on while Matrix is down"
            );
            if matches!(
                status.adapters.first().map(|a| &a.state),
                Some(deepwork_engine::api::AdapterState::Retrying { .. })
            ) {
                retrying = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(retrying, "the adapter is shown as failing");

        synapse.resume();
        bob.send(&dm, "the deploy is blocked on your review").await;
        // Reading resumes at the next retry: backoff doubles from 1 s, at most 60 s, and
        // keeps doubling while Synapse restarts (which takes tens of seconds on a
        // loaded machine), so the next retry can come a minute after it answers.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
        while held_in_store(&paths) != 1 {
            if tokio::time::Instant::now() >= deadline {
                // What the adapter last reported, and the server's side, so that a
                // failure on a loaded CI machine can be read after the fact.
                let adapters = client.status().await.unwrap().adapters;
                let log = synapse.log();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                panic!(
                    "the message was not held within 150 s of Matrix being back; the adapter: {adapters:?}\nthe end of Synapse's log:\n{tail}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        client.stop().await.unwrap();
        let restored = until_presence(&bob, &alice.user_id, |(p, _)| p == "online").await;
        assert_eq!(restored, ("online".to_owned(), Some("around".to_owned())));
        engine.shut_down().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_with_matrix_connected() {
        let synapse = Synapse::start();
        let (alice, bob, dm) = alice_and_bob(&synapse, "lunch at 1").await;
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let adapter = matrix_adapter(&synapse, &alice, true);
        let (engine, mut client) = start_engine_with(&paths, adapter).await;
        let session = client.start(plan("1h")).await.unwrap().session.unwrap().id;
        let (presence, text) =
            until_presence(&bob, &alice.user_id, |(p, _)| p == "unavailable").await;
        assert_eq!(presence, "unavailable");
        assert!(
            text.unwrap_or_default()
                .starts_with("Deep work — checking messages at")
        );
        eventually("the adapter knows where to read from", || {
            cursor_of(&paths, "matrix", session)
        })
        .await;

        bob.send(&dm, "hi").await;
        bob.send(&dm, "hi, are you there?").await;
        eventually("both are held", || held_in_store(&paths) == 2).await;
        let mut notices = Vec::new();
        for _ in 0..50 {
            notices = bob
                .recent(&dm)
                .await
                .into_iter()
                .filter(|(_, kind, _)| kind == "m.notice")
                .collect();
            if !notices.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(notices.len(), 1, "exactly one auto-reply: {notices:?}");
        assert!(
            notices[0].2.starts_with("I'm in deep work until "),
            "{notices:?}"
        );

        client.stop().await.unwrap();
        let restored = until_presence(&bob, &alice.user_id, |(p, _)| p == "online").await;
        assert_eq!(
            restored,
            ("online".to_owned(), Some("lunch at 1".to_owned())),
            "restored exactly"
        );
        let digest = client.digest(None).await.unwrap().unwrap();
        assert_eq!(digest.summary, "2 held: 2 pre-pings");
        engine.shut_down().await;
    }
}

#[test]
fn saved_settings_are_written_around_the_users_file_and_used_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let written_by_hand = "# mine\n[notifications]\nenabled = false # quiet please\n";
    std::fs::write(&file, written_by_hand).unwrap();
    let now = at("2026-11-25T09:00:00Z");
    let (mut engine, _) = open(&dir.path().join("db"), config(written_by_hand), now);
    engine.set_config_file(file.clone());
    let mut events = engine.subscribe();
    let Reply::Settings(settings) = ok(one(&mut engine, now, Request::Settings)) else {
        panic!("settings");
    };
    let mut settings = *settings;
    start(&mut engine, now, "1h");

    // Refused: the file is untouched and the old rules still apply.
    settings.weekly_goal_hours = -1.0;
    let refused = one(
        &mut engine,
        now,
        Request::SaveSettings {
            settings: settings.clone(),
        },
    );
    let Response::Error(error) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(error.code, ErrorCode::InvalidSettings);
    assert!(
        error.message.contains("stats.weekly_goal_hours"),
        "{}",
        error.message
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written_by_hand);

    // Saved: the file keeps the user's lines, a VIP counts for the very next item.
    settings.weekly_goal_hours = 20.0;
    settings.vip_senders = vec!["ceo".into()];
    ok(one(&mut engine, now, Request::SaveSettings { settings }));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# mine\n[notifications]\nenabled = false # quiet please\n"),
        "{text}"
    );
    assert!(text.contains("vip_senders = [\"ceo\"]"), "{text}");
    assert!(matches!(
        events.try_recv(),
        Ok(Event::SessionChanged { .. })
    ));
    assert_eq!(events.try_recv().unwrap(), Event::ConfigChanged);
    match push(&mut engine, now, item("ceo", "quick thought")) {
        Reply::Pushed(ack) => assert_eq!(ack.class, Class::Blocker, "{}", ack.why),
        other => panic!("{other:?}"),
    }
    assert_eq!(stats(&mut engine, now).goal_hours, 20.0);
}

#[test]
fn old_message_text_is_forgotten_after_keep_days_and_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("deepwork.db");
    let monday = at("2026-11-30T09:00");
    let (mut engine, _) = open(&db, config("[storage]\nkeep_days = 2\n"), monday);
    push(
        &mut engine,
        monday,
        item("ann", "the one-time code is 318 202"),
    );
    drop(engine);

    let thursday = at("2026-12-03T09:00");
    let (mut engine, _) = open(&db, config("[storage]\nkeep_days = 2\n"), thursday);
    let store = Store::open(&db).unwrap();
    assert_eq!(
        store.item(ItemId(1)).unwrap().unwrap().title,
        deepwork_store::FORGOTTEN
    );
    push(&mut engine, thursday, item("bob", "lunch?"));
    assert!(
        engine
            .next_deadline()
            .is_some_and(|next| next <= thursday + SignedDuration::from_hours(24)),
        "it looks again within a day"
    );

    let forgot = ok(one(
        &mut engine,
        thursday,
        Request::Forget {
            before: thursday + SignedDuration::from_secs(1),
        },
    ));
    assert!(matches!(forgot, Reply::Forgotten(1)), "{forgot:?}");
    assert_eq!(
        store.item(ItemId(2)).unwrap().unwrap().title,
        deepwork_store::FORGOTTEN
    );
}

#[test]
fn a_correction_is_learned_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let now = at("2026-11-25T09:00");
    let (mut engine, _) = open(&db, Config::default(), now);
    let message = "Weekly export of the billing ledger to the warehouse finished";
    let Reply::Pushed(ack) = push(&mut engine, now, item("etl-bot", message)) else {
        panic!("pushed");
    };
    let corrected = if ack.class == Class::Strategic {
        Class::Blocker
    } else {
        Class::Strategic
    };
    ok(one(
        &mut engine,
        now,
        Request::Teach {
            item: ack.id,
            class: corrected,
        },
    ));
    drop(engine);

    let (mut engine, _) = open(&db, Config::default(), now);
    let similar = "Weekly export of the billing ledger to the warehouse finished late";
    let Reply::Pushed(next) = push(&mut engine, now, item("etl-bot", similar)) else {
        panic!("pushed");
    };
    assert_eq!(
        next.class, corrected,
        "taught before the restart: {}",
        next.why
    );
    assert!(next.why.starts_with("like 'Weekly export"), "{}", next.why);
    let refused = one(
        &mut engine,
        now,
        Request::Teach {
            item: deepwork_core::ItemId(999),
            class: Class::Update,
        },
    );
    assert!(
        matches!(refused, Response::Error(ref e) if e.code == ErrorCode::NotFound),
        "{refused:?}"
    );
}

#[test]
fn explain_stores_nothing_and_reads_a_stated_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let now = at("2026-11-25T09:00");
    let (mut engine, _) = open(&db, Config::default(), now);
    let Reply::Explained(explanation) = ok(one(
        &mut engine,
        now,
        Request::Explain {
            item: item(
                "maria",
                "need your sign-off on the contract before 3pm or the client walks",
            ),
        },
    )) else {
        panic!("explained");
    };
    assert_eq!(explanation.class, Class::Blocker, "{}", explanation.why);
    let deadline = explanation.deadline.expect("a deadline");
    assert_eq!(
        (deadline.at, deadline.phrase.as_str()),
        (at("2026-11-25T15:00"), "before 3pm")
    );
    assert_eq!(
        explanation.model.len(),
        5,
        "the model's view of every class"
    );
    let Reply::Pushed(first) = push(&mut engine, now, item("maria", "thanks!")) else {
        panic!("pushed");
    };
    assert_eq!(first.id.0, 1, "explaining stored no item before this one");
}

const BLOCKS: &str = r#"
[plans]
[[plans.blocks]]
days = "mon-fri"
from = "09:00"
until = "11:30"
check_ins = ["10:15"]
"#;

fn plan(engine: &mut Engine, now: Timestamp, days: u32) -> Vec<deepwork_engine::api::PlanDay> {
    match ok(one(engine, now, Request::Plan { days })) {
        Reply::Plan(days) => days,
        other => panic!("expected plans, got {other:?}"),
    }
}

#[test]
fn focus_blocks_start_and_end_by_themselves_and_never_cut_a_session_short() {
    use deepwork_engine::api::BlockState;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    // Monday 2026-11-30.
    let (mut engine, _) = open(&db, config(BLOCKS), at("2026-11-30T08:00"));
    let before = status(&mut engine, at("2026-11-30T08:00"));
    assert!(before.session.is_none());
    let next = before.next_block.expect("the 09:00 block is next");
    assert_eq!(
        (next.span.from, next.state),
        (at("2026-11-30T09:00"), BlockState::Planned)
    );
    assert_eq!(
        engine.next_deadline(),
        Some(at("2026-11-30T09:00")),
        "the engine wakes for the block and not before"
    );

    engine.tick(at("2026-11-30T09:00"));
    let running = status(&mut engine, at("2026-11-30T09:00"))
        .session
        .expect("the block started its session");
    assert_eq!(running.plan.as_deref(), Some("2026-11-30 09:00-11:30"));
    assert_eq!(
        running.check_ins,
        [at("2026-11-30T10:15"), at("2026-11-30T11:30")]
    );
    let mut note = item("dana", "notes from the offsite");
    note.urgency = Some(Urgency::Update);
    push(&mut engine, at("2026-11-30T09:30"), note);
    engine.tick(at("2026-11-30T11:30"));
    assert!(
        status(&mut engine, at("2026-11-30T11:31"))
            .session
            .is_none(),
        "the block ended its session"
    );
    assert_eq!(
        digest_ids(&latest_digest(&mut engine, at("2026-11-30T11:31"))),
        [1]
    );

    // Tuesday: stopped early, the block does not start again.
    engine.tick(at("2026-12-01T09:00"));
    ok(one(&mut engine, at("2026-12-01T09:20"), Request::Stop));
    engine.tick(at("2026-12-01T09:21"));
    assert!(
        status(&mut engine, at("2026-12-01T09:21"))
            .session
            .is_none()
    );

    // Wednesday: a session by hand from 08:30 to 10:30 runs to its end; the block
    // takes the rest of its time after it.
    start(&mut engine, at("2026-12-02T08:30"), "2h");
    engine.tick(at("2026-12-02T09:00"));
    let manual = status(&mut engine, at("2026-12-02T09:00")).session.unwrap();
    assert_eq!(
        (manual.plan, manual.ends_at),
        (None, at("2026-12-02T10:30"))
    );
    engine.tick(at("2026-12-02T10:30"));
    let rest = status(&mut engine, at("2026-12-02T10:30")).session.unwrap();
    assert_eq!(
        (rest.plan.as_deref(), rest.ends_at),
        (Some("2026-12-02 09:00-11:30"), at("2026-12-02T11:30"))
    );
    engine.tick(at("2026-12-02T11:30"));

    // Thursday: skipped before it starts.
    ok(one(
        &mut engine,
        at("2026-12-03T08:00"),
        Request::SkipBlock { plan: None },
    ));
    engine.tick(at("2026-12-03T09:00"));
    assert!(
        status(&mut engine, at("2026-12-03T09:00"))
            .session
            .is_none()
    );

    let week = plan(&mut engine, at("2026-12-03T12:00"), 7);
    let states: Vec<(String, BlockState)> = week
        .iter()
        .flat_map(|day| day.blocks.iter().map(|b| (day.date.clone(), b.state)))
        .collect();
    assert_eq!(
        &states[..2],
        [
            ("2026-12-03".to_owned(), BlockState::Skipped),
            ("2026-12-04".to_owned(), BlockState::Planned)
        ]
    );
    assert_eq!(states.len(), 5, "Thursday to Wednesday: five weekdays");
    let stats = stats(&mut engine, at("2026-12-03T12:00"));
    assert!(
        (stats.total_hours - (2.5 + 0.33 + 2.0 + 1.0)).abs() < 0.01,
        "Monday's block, Tuesday's 20 minutes, Wednesday's two sessions: {}",
        stats.total_hours
    );
    assert!(matches!(
        one(
            &mut engine,
            at("2026-12-03T12:00"),
            Request::Plan { days: 0 }
        ),
        Response::Error(_)
    ));
}

#[test]
fn after_hours_items_wait_for_the_morning_and_emergencies_still_break_through() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let hours = config("[plans]\nwork_hours = [\"mon-fri 09:00-17:30\"]\n");
    {
        // Friday 2026-11-27, late afternoon.
        let (mut engine, _) = open(&db, hours.clone(), at("2026-11-27T17:00"));
        assert_eq!(engine.next_deadline(), Some(at("2026-11-27T17:30")));
        engine.tick(at("2026-11-27T17:30"));
        let evening = status(&mut engine, at("2026-11-27T19:30"));
        assert_eq!(evening.off_hours_until, Some(at("2026-11-30T09:00")));
        assert!(evening.session.is_none(), "holding is not a focus session");
        let mut review = item("dana", "design review at 7:30 PM?");
        review.urgency = Some(Urgency::Blocker);
        let Reply::Pushed(held) = push(&mut engine, at("2026-11-27T19:30"), review) else {
            panic!("pushed");
        };
        assert_eq!(held.disposition, Disposition::Held);
        let mut outage = item("pagerduty", "checkout is down for every customer");
        outage.urgency = Some(Urgency::Emergency);
        let Reply::Pushed(shown) = push(&mut engine, at("2026-11-27T19:31"), outage) else {
            panic!("pushed");
        };
        assert_eq!(
            shown.disposition,
            Disposition::Shown,
            "emergencies are shown after hours"
        );
    }
    // The computer was off over the weekend.
    let (mut engine, notices) = open(&db, hours, at("2026-11-28T11:00"));
    let saturday = status(&mut engine, at("2026-11-28T11:00"));
    assert_eq!(saturday.held.blocker, 1, "still held after the restart");
    engine.tick(at("2026-11-30T09:00"));
    let monday = status(&mut engine, at("2026-11-30T09:00"));
    assert_eq!((monday.off_hours_until, monday.held.total()), (None, 0));
    assert_eq!(
        digest_ids(&latest_digest(&mut engine, at("2026-11-30T09:00"))),
        [1]
    );
    let summaries: Vec<String> = notices.take().into_iter().map(|n| n.summary).collect();
    assert_eq!(
        summaries,
        [
            "Still unacknowledged: emergency from pagerduty",
            "After hours: 1 held: 1 blocker"
        ],
        "the unacknowledged emergency escalates after the restart; the morning brings the rest"
    );
    assert_eq!(
        stats(&mut engine, at("2026-11-30T09:00")).total_hours,
        0.0,
        "a night of holding is no focus"
    );
    // The night's blocker: 4 working hours from 09:00, reminded of at 12:30.
    assert_eq!(engine.next_deadline(), Some(at("2026-11-30T12:30")));
    engine.tick(at("2026-11-30T12:30"));
    let reminded: Vec<String> = notices.take().into_iter().map(|n| n.summary).collect();
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert!(
        reminded[0].starts_with("Reply owed by 13:00"),
        "{reminded:?}"
    );
    assert_eq!(engine.next_deadline(), Some(at("2026-11-30T17:30")));
}

mod calendar {
    use super::*;
    use deepwork_adapters::calendar::{CalendarClient, CalendarSource};
    use deepwork_engine::calendars::{CalendarRead, READ_AHEAD, READ_BEHIND};
    use deepwork_harness::radicale::{self, Radicale};

    fn object(event: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//deepwork tests//EN\nBEGIN:VEVENT\n\
             DTSTAMP:20270301T000000Z\n{event}\nEND:VEVENT\nEND:VCALENDAR\n"
        )
    }

    /// Reads the calendar as the reader would at `now`, and hands it to the engine.
    fn read(
        runtime: &tokio::runtime::Runtime,
        engine: &mut Engine,
        source: &CalendarSource,
        url: &str,
        last: Option<&str>,
        now: Timestamp,
    ) {
        let outcome = runtime
            .block_on(CalendarClient::new().unwrap().fetch(
                source,
                last,
                now - READ_BEHIND,
                now + READ_AHEAD,
            ))
            .map_err(|e| e.to_string());
        engine.calendar_read(
            now,
            CalendarRead {
                url: url.to_owned(),
                outcome,
            },
        );
    }

    fn session_until(engine: &mut Engine, now: Timestamp) -> Option<Timestamp> {
        status(engine, now).session.map(|s| s.ends_at)
    }

    #[test]
    fn a_session_started_during_a_meeting_runs_and_the_next_meeting_still_counts() {
        use deepwork_adapters::calendar::Fetched;
        let body = |uid: &str, start: &str, end: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
                 DTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\n\
                 SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        let url = "https://example.com/team.ics";
        let config = config(&format!("[plans]\n[[plans.calendars]]\nurl = \"{url}\"\n"));
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-30T10:05");
        let (mut engine, _) = open(&dir.path().join("db.sqlite3"), config, now);
        engine.calendar_read(
            now,
            CalendarRead {
                url: url.into(),
                outcome: Ok(Fetched::Changed {
                    body: format!(
                        "{}{}",
                        body("review", "20261130T100000", "20261130T103000"),
                        body("sync", "20261130T113000", "20261130T120000")
                    ),
                    validator: Some("etag:\"1\"".into()),
                }),
            },
        );
        start(&mut engine, now, "2h");
        assert_eq!(
            session_until(&mut engine, at("2026-11-30T10:06")),
            Some(at("2026-11-30T11:30")),
            "the meeting under way is skipped by choice; the 11:30 sync ends the session"
        );
        // Extending past the sync is brought back before it at once.
        let plan = SessionPlan {
            end: Some(SessionEnd::For("3h".parse().unwrap())),
            check_in: None,
        };
        let Reply::Status(extended) = ok(one(
            &mut engine,
            at("2026-11-30T10:10"),
            Request::Extend { plan },
        )) else {
            panic!("status");
        };
        assert_eq!(
            extended.session.map(|s| s.ends_at),
            Some(at("2026-11-30T11:30"))
        );
    }

    #[test]
    fn a_caldav_calendar_plans_focus_and_meetings_on_the_engines_clock() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut server = Radicale::start();
        runtime.block_on(async {
            server.make_calendar("work").await;
            server
                .put(
                    "work",
                    "focus-1",
                    &object(
                        "UID:focus-1\nDTSTART;TZID=Europe/Berlin:20270322T090000\n\
                         DTEND;TZID=Europe/Berlin:20270322T100000\nSUMMARY:Focus: billing RFC",
                    ),
                )
                .await;
            // Weekly on Monday 11:00 Berlin time, across the change to summer time on
            // 2027-03-28, without 2027-04-05.
            server
                .put(
                    "work",
                    "standup",
                    &object(
                        "UID:standup\nDTSTART;TZID=Europe/Berlin:20270315T110000\n\
                         DTEND;TZID=Europe/Berlin:20270315T111500\nRRULE:FREQ=WEEKLY;BYDAY=MO\n\
                         EXDATE;TZID=Europe/Berlin:20270405T110000\nSUMMARY:Standup",
                    ),
                )
                .await;
        });
        let url = server.calendar_url("work");
        let source = CalendarSource {
            url: url.parse().unwrap(),
            caldav: true,
            sign_in: Some((radicale::USER.into(), radicale::PASSWORD.into())),
        };
        let config = config(&format!(
            "[plans]\n[[plans.calendars]]\nurl = \"{url}\"\ncaldav = true\nuser = \"{}\"\n",
            radicale::USER
        ));
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite3");
        let monday = at("2027-03-22T08:00");
        let (mut engine, _) = open(&db, config.clone(), monday);
        read(&runtime, &mut engine, &source, &url, None, monday);
        let first = status(&mut engine, monday);
        assert!(first.plan_problems.is_empty(), "{:?}", first.plan_problems);
        let next = first.next_block.expect("the focus event");
        assert_eq!(
            (next.span.from, next.title.as_deref()),
            (at("2027-03-22T09:00"), Some("Focus: billing RFC"))
        );
        assert_eq!(engine.next_deadline(), Some(at("2027-03-22T09:00")));

        engine.tick(at("2027-03-22T09:00"));
        assert_eq!(
            session_until(&mut engine, at("2027-03-22T09:00")),
            Some(at("2027-03-22T10:00")),
            "the focus event started a session at its DTSTART"
        );
        engine.tick(at("2027-03-22T10:00"));
        start(&mut engine, at("2027-03-22T10:30"), "2h");
        assert_eq!(
            session_until(&mut engine, at("2027-03-22T10:30")),
            Some(at("2027-03-22T11:00")),
            "the standup ends the session as it starts"
        );
        let check_ins = status(&mut engine, at("2027-03-22T10:31"))
            .session
            .unwrap()
            .check_ins;
        assert_eq!(
            check_ins,
            [at("2027-03-22T10:55"), at("2027-03-22T11:00")],
            "with a check-in five minutes before it"
        );
        engine.tick(at("2027-03-22T11:00"));

        // A week later, in summer time: still 11:00 on the local clock.
        let next_week = at("2027-03-29T10:00");
        read(&runtime, &mut engine, &source, &url, None, next_week);
        start(&mut engine, next_week, "2h");
        assert_eq!(
            session_until(&mut engine, next_week),
            Some(at("2027-03-29T11:00"))
        );
        ok(one(&mut engine, at("2027-03-29T10:40"), Request::Stop));

        // The EXDATE: no standup on April 5th.
        let easter = at("2027-04-05T10:30");
        read(&runtime, &mut engine, &source, &url, None, easter);
        start(&mut engine, easter, "1h");
        assert_eq!(
            session_until(&mut engine, easter),
            Some(at("2027-04-05T11:30"))
        );
        ok(one(&mut engine, at("2027-04-05T10:45"), Request::Stop));

        // The server goes down: status says so, and the last copy still applies, also
        // after a restart.
        server.stop();
        let later = at("2027-04-12T10:00");
        read(&runtime, &mut engine, &source, &url, None, later);
        let problems = status(&mut engine, later).plan_problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("unreachable") && problems[0].contains("still applies"),
            "{problems:?}"
        );
        drop(engine);
        let (mut engine, _) = open(&db, config, later);
        start(&mut engine, later, "2h");
        assert_eq!(
            session_until(&mut engine, later),
            Some(at("2027-04-12T11:00")),
            "the copy kept in the store plans the meeting"
        );
    }
}

use deepwork_core::digest::{DigestId, ItemRecord};
use deepwork_core::session::HeldRef;
use deepwork_core::triage::Reason;
use deepwork_core::{Class, Disposition, ItemId, SessionId};
use deepwork_store::{
    CalendarCopy, MIGRATIONS, PlanFate, SCHEMA_VERSION, SessionKind, Store, StoreError, from_millis,
};
use jiff::Timestamp;
use rusqlite::Connection;

fn t(minutes: i64) -> Timestamp {
    from_millis(1_800_000_000_000 + minutes * 60_000)
}

fn item(id: i64, session: Option<i64>, class: Class, disposition: Disposition) -> ItemRecord {
    ItemRecord {
        id: ItemId(id),
        session: session.map(SessionId),
        received_at: t(id),
        source: "slack".into(),
        sender: "bob".into(),
        channel: Some("#general".into()),
        title: format!("<script>alert({id})</script>"),
        body: Some("body".into()),
        url: None,
        class,
        reason: Reason::Rule {
            matched: "keyword 'deploy'".into(),
            name: None,
        },
        deadline: None,
        disposition,
        digest: None,
        done_at: None,
        done_by: None,
        message_id: None,
        conversation: None,
    }
}

#[test]
fn a_new_database_gets_the_whole_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("deepwork.sqlite3")).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.max_ids().unwrap(), (ItemId(0), SessionId(0)));
    assert!(store.running_session().unwrap().is_none());
}

#[test]
fn an_older_schema_is_upgraded_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deepwork.sqlite3");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (id, started_at, planned_end, check_ins) VALUES (1, 1800000000000, 1800003600000, '[1800003600000]');
             INSERT INTO items (id, session_id, received_at, source, sender, title, class, reason_kind, disposition)
             VALUES (7, 1, 1800000060000, 'ci', 'bot', 'old item', 'blocker', 'default', 'held');",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        SCHEMA_VERSION,
        "opening migrates to the current version"
    );
    let running = store
        .running_session()
        .unwrap()
        .expect("the v1 session is still running");
    assert_eq!(
        running.held,
        vec![HeldRef {
            id: ItemId(7),
            class: Class::Blocker
        }]
    );
    assert_eq!(running.check_ins, vec![from_millis(1_800_003_600_000)]);
    assert_eq!(
        (running.kind, running.plan.as_deref()),
        (SessionKind::Focus, None),
        "sessions from before plans are focus sessions started by hand"
    );
    let old = store.item(ItemId(7)).unwrap().unwrap();
    assert_eq!(
        (old.title.as_str(), old.digest, old.done_at),
        ("old item", None, None)
    );
}

#[test]
fn a_newer_schema_is_refused_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deepwork.sqlite3");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade Deepwork"));
}

#[test]
fn a_read_only_open_reads_what_a_running_engine_wrote_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deepwork.sqlite3");
    let missing = Store::open_read_only(&path).unwrap_err();
    assert!(matches!(missing, StoreError::Sqlite(_)), "{missing}");
    assert!(!path.exists(), "a missing database is not created");

    let mut writer = Store::open(&path).unwrap();
    writer
        .write(|w| w.insert_item(&item(1, None, Class::Update, Disposition::Shown)))
        .unwrap();
    writer
        .write(|w| w.teach(ItemId(1), Class::Blocker, t(5)))
        .unwrap();
    // The writer stays open, its last commit still in the write-ahead log.
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.lessons(10).unwrap().len(), 1);
    assert_eq!(reader.lessons(10).unwrap()[0].1, Class::Blocker);
    drop(writer);

    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION - 1)
        .unwrap();
    let older = Store::open_read_only(&path).unwrap_err();
    assert!(
        matches!(older, StoreError::Outdated { found, .. } if found == SCHEMA_VERSION - 1),
        "{older}"
    );
    assert!(
        older.to_string().contains("start the engine once"),
        "{older}"
    );
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        SCHEMA_VERSION - 1,
        "an older database is not migrated"
    );

    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let newer = Store::open_read_only(&path).unwrap_err();
    assert!(newer.to_string().contains("upgrade Deepwork"), "{newer}");
}

#[test]
fn items_round_trip_and_are_delivered_once() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::Focus,
                t(0),
                t(90),
                &[t(45), t(90)],
                None,
            )?;
            w.insert_item(&item(1, Some(1), Class::Update, Disposition::Held))?;
            w.insert_item(&item(
                2,
                Some(1),
                Class::Emergency,
                Disposition::BrokeThrough,
            ))?;
            w.insert_item(&item(3, Some(1), Class::PrePing, Disposition::Held))?;
            w.insert_item(&item(4, None, Class::Update, Disposition::Shown))
        })
        .unwrap();
    let running = store.running_session().unwrap().unwrap();
    assert_eq!(
        running.held.iter().map(|h| h.id.0).collect::<Vec<_>>(),
        vec![1, 3],
        "only held items wait"
    );
    assert_eq!(
        store.item(ItemId(1)).unwrap().unwrap(),
        item(1, Some(1), Class::Update, Disposition::Held)
    );

    let first = store
        .write(|w| w.insert_digest(SessionId(1), t(45), &[ItemId(1), ItemId(3)]))
        .unwrap();
    let again = store
        .write(|w| w.insert_digest(SessionId(1), t(46), &[ItemId(1), ItemId(2), ItemId(3)]))
        .unwrap();
    assert_eq!(
        store
            .digest_items(first)
            .unwrap()
            .iter()
            .map(|i| i.id.0)
            .collect::<Vec<_>>(),
        vec![1, 2, 3],
        "the session's breakthrough is listed with the held items"
    );
    assert!(
        store.digest_items(again).unwrap().is_empty(),
        "delivered items, breakthroughs included, are never delivered again"
    );
    assert!(store.running_session().unwrap().unwrap().held.is_empty());

    assert!(store.write(|w| w.set_done(ItemId(1), Some(t(50)))).unwrap());
    assert!(
        !store
            .write(|w| w.set_done(ItemId(99), Some(t(50))))
            .unwrap(),
        "no such item"
    );
    assert_eq!(store.item(ItemId(1)).unwrap().unwrap().done_at, Some(t(50)));
    assert_eq!(
        store
            .digests(10)
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![again, first]
    );
    assert_eq!(first, DigestId(1));
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let mut store = Store::open_in_memory().unwrap();
    let result = store.write(|w| {
        w.insert_item(&item(1, None, Class::Update, Disposition::Shown))?;
        w.insert_item(&item(1, None, Class::Update, Disposition::Shown))
    });
    assert!(result.is_err(), "a duplicate id fails");
    assert!(
        store.item(ItemId(1)).unwrap().is_none(),
        "the transaction rolled back"
    );
}

#[test]
fn stats_queries_see_sessions_and_their_items() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::Focus,
                t(0),
                t(60),
                &[t(60)],
                None,
            )?;
            w.insert_item(&item(1, Some(1), Class::Update, Disposition::Held))?;
            w.record_away(SessionId(1), t(20), t(25))?;
            w.record_away(SessionId(1), t(5), t(12))?;
            w.end_session(SessionId(1), t(30), true)?;
            w.insert_session(
                SessionId(2),
                SessionKind::Focus,
                t(1000),
                t(1060),
                &[t(1060)],
                None,
            )
        })
        .unwrap();
    let sessions = store.sessions_between(t(10), t(20)).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (sessions[0].ended_at, sessions[0].early),
        (Some(t(30)), true)
    );
    assert_eq!(
        sessions[0].away,
        vec![(t(5), t(12)), (t(20), t(25))],
        "away spans come back in order"
    );
    assert!(
        store
            .write(|w| w.record_away(SessionId(1), t(12), t(12)))
            .is_err(),
        "an empty absence is refused"
    );
    assert_eq!(
        store.sessions_between(t(40), t(999)).unwrap().len(),
        0,
        "the first ended at 30, the second starts at 1000"
    );
    assert_eq!(store.item_facts(t(0), t(1)).unwrap().len(), 1);
    assert_eq!(
        store.running_session().unwrap().unwrap().record.id,
        SessionId(2)
    );
}

#[test]
fn intents_outcomes_and_answered_items_are_kept_for_the_standup() {
    use deepwork_core::standup::Outcome;
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            for (id, start) in [(1, 0), (2, 100), (3, 200)] {
                w.insert_session(
                    SessionId(id),
                    SessionKind::Focus,
                    t(start),
                    t(start + 60),
                    &[t(start + 60)],
                    None,
                )?;
            }
            assert!(w.set_intent(SessionId(1), "Finish the billing RFC")?);
            assert!(w.set_intent(SessionId(2), "Refund webhook")?);
            assert!(
                !w.set_outcome(SessionId(3), Outcome::Done, None)?,
                "no intent, no outcome"
            );
            assert!(w.set_outcome(SessionId(1), Outcome::Partly, Some("tests left"))?);
            w.insert_item(&item(1, Some(1), Class::Blocker, Disposition::Held))?;
            w.insert_item(&item(2, Some(1), Class::Update, Disposition::Held))?;
            assert!(w.mark_answered(ItemId(1), t(30))?);
            assert!(!w.mark_answered(ItemId(1), t(40))?, "done once");
            Ok(())
        })
        .unwrap();
    let intents = store.intents_since(t(0)).unwrap();
    let read: Vec<(&str, Option<Outcome>, Option<&str>)> = intents
        .iter()
        .map(|i| (i.text.as_str(), i.outcome, i.note.as_deref()))
        .collect();
    assert_eq!(
        read,
        [
            (
                "Finish the billing RFC",
                Some(Outcome::Partly),
                Some("tests left")
            ),
            ("Refund webhook", None, None),
        ]
    );
    assert_eq!(
        store.latest_intent().unwrap().unwrap().session,
        SessionId(2)
    );
    let done = store.done_since(t(10)).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].done_at, done[0].done_by),
        (Some(t(30)), Some(deepwork_core::digest::DoneBy::Answer))
    );
    assert_eq!(
        store.open_items(t(0)).unwrap().len(),
        1,
        "the update is still owed"
    );
}

#[test]
fn standups_are_kept_by_day_with_edits_and_postings() {
    use deepwork_core::standup::{Posted, StandupDraft};
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.last_standup_day().unwrap(), None);
    let draft = |day: &str, shipped: &[&str]| StandupDraft {
        date: day.parse().unwrap(),
        since: "2026-11-27".parse().unwrap(),
        shipped: shipped.iter().map(|s| s.to_string()).collect(),
        today: vec!["Refund webhook".into()],
        blockers: vec![],
    };
    let monday = draft("2026-11-30", &["Finish the RFC"]);
    store.write(|w| w.save_standup(&monday, None)).unwrap();
    let posted = Posted {
        to: "matrix:#standup:example.org".parse().unwrap(),
        at: t(5),
        link: Some("https://matrix.to/#/x".into()),
    };
    assert!(
        store
            .write(|w| w.set_standup_posted(monday.date, &posted))
            .unwrap()
    );
    let edited = draft("2026-11-30", &["Finish the RFC", "\"quoted\" & <b>"]);
    store
        .write(|w| w.save_standup(&edited, Some(t(3))))
        .unwrap();
    // A later save without an edit (the scheduled draft again) keeps the edit time.
    store.write(|w| w.save_standup(&edited, None)).unwrap();
    store
        .write(|w| w.save_standup(&draft("2026-12-01", &[]), None))
        .unwrap();
    let kept = store.standup(monday.date).unwrap().unwrap();
    assert_eq!(kept.draft, edited);
    assert_eq!(kept.edited_at, Some(t(3)));
    assert_eq!(
        kept.posted,
        Some(posted),
        "an edit keeps where it was posted"
    );
    assert!(kept.kept);
    let history = store.standups(10).unwrap();
    let days: Vec<String> = history.iter().map(|e| e.draft.date.to_string()).collect();
    assert_eq!(days, ["2026-12-01", "2026-11-30"]);
    assert_eq!(store.standups(1).unwrap().len(), 1);
    assert_eq!(
        store.last_standup_day().unwrap(),
        Some("2026-12-01".parse().unwrap())
    );
    assert!(
        !store
            .write(|w| w.set_standup_posted("2026-12-24".parse().unwrap(), &kept.posted.unwrap()))
            .unwrap()
    );
}

#[test]
fn source_work_adds_shipped_work_and_replaces_what_is_blocked() {
    use deepwork_core::standup::SourceWork;
    let work = |source: &str, key: &str, at: i64| SourceWork {
        source: source.into(),
        key: key.into(),
        title: format!("{key} title"),
        at: t(at),
    };
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            w.record_source_work("github", &[work("github", "pr/1", 10)], &[], t(0))?;
            w.record_source_work(
                "jira",
                &[work("jira", "PAY-1", 20)],
                &[work("jira", "PAY-7", 5)],
                t(0),
            )?;
            // Read again an hour later: PAY-1 again, PAY-7 no longer blocked, PAY-9 is.
            w.record_source_work(
                "jira",
                &[work("jira", "PAY-1", 20), work("jira", "PAY-2", 70)],
                &[work("jira", "PAY-9", 65)],
                t(15),
            )
        })
        .unwrap();
    let (shipped, blocked) = store.source_work(t(0)).unwrap();
    let keys = |works: &[SourceWork]| works.iter().map(|w| w.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&shipped), ["pr/1", "PAY-1", "PAY-2"]);
    assert_eq!(keys(&blocked), ["PAY-9"]);
    let (recent, blocked) = store.source_work(t(30)).unwrap();
    assert_eq!(keys(&recent), ["PAY-2"]);
    assert_eq!(
        keys(&blocked),
        ["PAY-9"],
        "what is blocked is blocked now, however old"
    );
}

#[test]
fn after_hours_holds_are_no_focus_and_planned_blocks_run_once() {
    let mut store = Store::open_in_memory().unwrap();
    let plan = "2026-11-30 09:00-11:30";
    assert_eq!(store.plan_fate(plan).unwrap(), None);
    store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::OffHours,
                t(0),
                t(600),
                &[t(600)],
                None,
            )?;
            w.insert_item(&item(1, Some(1), Class::Update, Disposition::Held))?;
            w.end_session(SessionId(1), t(600), false)?;
            w.insert_session(
                SessionId(2),
                SessionKind::Focus,
                t(600),
                t(750),
                &[t(750)],
                Some(plan),
            )
        })
        .unwrap();
    let sessions = store.sessions_between(t(0), t(800)).unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s.id, s.planned))
            .collect::<Vec<_>>(),
        vec![(SessionId(2), true)],
        "the hold is not focus time; the block's session is planned"
    );
    assert!(
        store.item_facts(t(0), t(1)).unwrap().is_empty(),
        "what arrived after hours was no interruption avoided"
    );
    let running = store.running_session().unwrap().unwrap();
    assert_eq!(
        (running.kind, running.plan.as_deref()),
        (SessionKind::Focus, Some(plan))
    );
    assert_eq!(store.plan_fate(plan).unwrap(), Some(PlanFate::Ran));
    store
        .write(|w| {
            w.end_session(SessionId(2), t(700), false)?;
            w.insert_session(
                SessionId(3),
                SessionKind::Focus,
                t(800),
                t(900),
                &[t(900)],
                Some("2026-12-02 09:00-11:30 from 10:30"),
            )
        })
        .unwrap();
    assert_eq!(
        store.plan_fate("2026-12-02 09:00-11:30").unwrap(),
        Some(PlanFate::Ran),
        "the part after a meeting ran"
    );
    assert_eq!(store.plan_fate("2026-12-02 09:00-11").unwrap(), None);
    let tomorrow = "2026-12-01 09:00-11:30";
    store.write(|w| w.skip_plan(tomorrow, t(700))).unwrap();
    store.write(|w| w.skip_plan(tomorrow, t(701))).unwrap();
    assert_eq!(store.plan_fate(tomorrow).unwrap(), Some(PlanFate::Skipped));
    let copy = |url: &str, body: &str| CalendarCopy {
        url: url.into(),
        body: body.into(),
        validator: Some("etag:\"1\"".into()),
        fetched_at: t(5),
    };
    store
        .write(|w| {
            w.save_calendar_copy(&copy("https://a/cal.ics", "BEGIN:VCALENDAR old"))?;
            w.save_calendar_copy(&copy("https://a/cal.ics", "BEGIN:VCALENDAR new"))?;
            w.save_calendar_copy(&copy("https://b/cal.ics", "BEGIN:VCALENDAR b"))
        })
        .unwrap();
    assert_eq!(
        store.calendar_copies().unwrap(),
        [
            copy("https://a/cal.ics", "BEGIN:VCALENDAR new"),
            copy("https://b/cal.ics", "BEGIN:VCALENDAR b")
        ]
    );
    store
        .write(|w| w.keep_calendar_copies(&["https://b/cal.ics"]))
        .unwrap();
    assert_eq!(
        store.calendar_copies().unwrap().len(),
        1,
        "an unfollowed calendar is forgotten"
    );
}

#[test]
fn chat_status_snapshots_replies_and_cursors() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::Focus,
                t(0),
                t(60),
                &[t(60)],
                None,
            )?;
            w.save_status_snapshot(SessionId(1), "matrix", "{\"presence\":\"online\"}", t(0))?;
            // After a restart the adapter snapshots again and sees the focus status.
            w.save_status_snapshot(
                SessionId(1),
                "matrix",
                "{\"presence\":\"unavailable\"}",
                t(5),
            )
        })
        .unwrap();
    assert_eq!(
        store
            .status_snapshot(SessionId(1), "matrix")
            .unwrap()
            .as_deref(),
        Some("{\"presence\":\"online\"}"),
        "the first snapshot of a session is the one kept"
    );
    assert!(
        store.pending_restores().unwrap().is_empty(),
        "nothing to restore while the session runs"
    );
    store
        .write(|w| w.end_session(SessionId(1), t(60), false))
        .unwrap();
    assert_eq!(
        store.pending_restores().unwrap().len(),
        1,
        "an ended session's status waits to be restored"
    );
    store
        .write(|w| w.mark_restored(SessionId(1), "matrix", t(61)))
        .unwrap();
    assert!(store.pending_restores().unwrap().is_empty());

    assert!(
        store
            .write(|w| w.claim_auto_reply(SessionId(1), "matrix", "@bob:x", t(1)))
            .unwrap()
    );
    assert!(
        !store
            .write(|w| w.claim_auto_reply(SessionId(1), "matrix", "@bob:x", t(2)))
            .unwrap(),
        "one reply per sender per session"
    );

    store
        .write(|w| w.set_adapter_cursor("matrix", SessionId(1), "s1"))
        .unwrap();
    store
        .write(|w| w.set_adapter_cursor("matrix", SessionId(1), "s2"))
        .unwrap();
    assert_eq!(
        store
            .adapter_cursor("matrix", SessionId(1))
            .unwrap()
            .as_deref(),
        Some("s2")
    );
    assert_eq!(
        store.adapter_cursor("matrix", SessionId(2)).unwrap(),
        None,
        "a cursor belongs to its session"
    );
}

#[test]
fn lessons_and_stated_deadlines_are_kept() {
    let mut store = Store::open_in_memory().unwrap();
    let mut asked = item(1, None, Class::Update, Disposition::Shown);
    asked.deadline = Some(deepwork_core::triage::deadline::StatedDeadline {
        at: t(60),
        phrase: "by 3pm".into(),
    });
    store
        .write(|w| {
            w.insert_item(&asked)?;
            w.insert_item(&item(2, None, Class::Update, Disposition::Shown))
        })
        .unwrap();
    assert_eq!(store.item(ItemId(1)).unwrap().unwrap(), asked);

    assert!(
        store
            .write(|w| w.teach(ItemId(1), Class::Blocker, t(5)))
            .unwrap()
    );
    assert!(
        store
            .write(|w| w.teach(ItemId(2), Class::Strategic, t(6)))
            .unwrap()
    );
    assert!(
        store
            .write(|w| w.teach(ItemId(1), Class::Emergency, t(7)))
            .unwrap(),
        "teaching again replaces the lesson"
    );
    assert!(
        !store
            .write(|w| w.teach(ItemId(9), Class::Update, t(8)))
            .unwrap()
    );
    let lessons = store.lessons(10).unwrap();
    assert_eq!(
        lessons
            .iter()
            .map(|(item, class)| (item.title.as_str(), *class))
            .collect::<Vec<_>>(),
        vec![
            ("<script>alert(1)</script>", Class::Emergency),
            ("<script>alert(2)</script>", Class::Strategic)
        ],
        "newest first, one per item"
    );
    let taught = store.item(ItemId(1)).unwrap().unwrap();
    assert_eq!(
        (taught.class, taught.reason),
        (Class::Emergency, deepwork_core::triage::Reason::Corrected)
    );
    assert_eq!(store.lessons(1).unwrap().len(), 1, "the limit holds");
}

#[test]
fn forgetting_takes_the_text_of_handled_items_only_and_keeps_their_facts() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::Focus,
                t(0),
                t(90),
                &[t(45), t(90)],
                None,
            )?;
            w.insert_item(&item(1, Some(1), Class::Blocker, Disposition::Held))?;
            w.insert_item(&item(2, None, Class::Update, Disposition::Shown))?;
            w.insert_item(&item(3, None, Class::Update, Disposition::Shown))?;
            w.teach(ItemId(2), Class::Strategic, t(5)).map(drop)
        })
        .unwrap();
    let forgotten = store.write(|w| w.forget_before(t(3))).unwrap();
    assert_eq!(
        forgotten, 1,
        "item 1 still waits for its digest; item 3 is newer"
    );
    let old = store.item(ItemId(2)).unwrap().unwrap();
    assert_eq!(
        (
            old.title.as_str(),
            old.sender.as_str(),
            old.body,
            old.channel
        ),
        (deepwork_store::FORGOTTEN, "", None, None)
    );
    assert_eq!((old.class, old.received_at), (Class::Strategic, t(2)));
    assert!(
        store.lessons(10).unwrap().is_empty(),
        "lessons hold text too"
    );
    assert_eq!(
        store.item(ItemId(1)).unwrap().unwrap().title,
        "<script>alert(1)</script>"
    );
    assert_eq!(
        store.write(|w| w.forget_before(t(3))).unwrap(),
        0,
        "once is enough"
    );
}

#[test]
fn escalations_are_kept_whole_and_found_while_open() {
    use deepwork_core::escalation::{AckVia, Ladder, Step};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deepwork.sqlite3");
    let plan = [
        (Step::Renotify, jiff::SignedDuration::from_mins(3)),
        (Step::Sms, jiff::SignedDuration::from_mins(5)),
    ];
    let mut first = Ladder::open(ItemId(1), t(1), &plan, jiff::SignedDuration::from_mins(15));
    let second = Ladder::open(ItemId(2), t(2), &plan, jiff::SignedDuration::from_mins(15));
    {
        let mut store = Store::open(&path).unwrap();
        store
            .write(|w| {
                w.insert_item(&item(1, None, Class::Emergency, Disposition::Shown))?;
                w.insert_item(&item(2, None, Class::Emergency, Disposition::Shown))?;
                w.save_escalation(&first, true)?;
                w.save_escalation(&second, true)
            })
            .unwrap();
        first.take_due(t(6));
        store.write(|w| w.save_escalation(&first, true)).unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.open_escalations().unwrap(),
        [first.clone(), second.clone()]
    );
    first.acknowledge(t(7), AckVia::Command);
    store
        .write(|w| w.save_escalation(&first, first.is_open()))
        .unwrap();
    assert_eq!(store.open_escalations().unwrap(), [second]);
    assert_eq!(
        store.escalations_of(&[ItemId(1), ItemId(9)]).unwrap(),
        [first],
        "closed ones are still read for the digest"
    );
}

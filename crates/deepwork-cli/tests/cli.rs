//! End to end: the real `deepwork` binary against a real daemon in temp dirs.

mod support;

use deepwork_core::NewItem;
use deepwork_engine::Client;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{
    Bus, Env, Keyring, QUIET, Recorder, eventually, eventually_within, raw_exchange, runtime, until,
};

#[test]
fn triage_explained_taught_and_evaluated_from_a_terminal() {
    let env = Env::new(QUIET);
    // With no engine running, explain reads the config itself and stores nothing.
    let alone = env.run(&["triage", "explain", "are you around?"]);
    assert_eq!(alone.code, 0, "{alone:?}");
    assert!(alone.stdout.starts_with("pre-ping: "), "{alone:?}");
    assert!(alone.stderr.contains("no engine is running"), "{alone:?}");
    assert!(!env.database().exists(), "explain created a database");
    let daemon = env.daemon();

    let explained = env.ok(&[
        "triage",
        "explain",
        "the payments service is returning 500s for every customer, can you look NOW",
        "--from",
        "maria",
        "--channel",
        "#payments",
    ]);
    let first = explained.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("emergency: model: '"),
        "the class and the model's evidence: {explained}"
    );
    assert!(
        explained.contains("model: emergency ") && explained.contains("(emergency from 0."),
        "the probabilities and the threshold: {explained}"
    );
    let deadline = env.ok(&["triage", "explain", "can you send me the slides by 3pm?"]);
    assert!(
        deadline.contains("deadline: ") && deadline.contains("('by 3pm')"),
        "{deadline}"
    );

    env.ok(&["start", "--for", "1h"]);
    let held = env.push(
        "etl",
        "etl-bot",
        "Weekly ledger export to the warehouse finished",
        &[],
    );
    let id: String = held
        .trim_start_matches("Item ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!id.is_empty(), "{held}");
    let class = if held.contains(" as strategic ") {
        "blocker"
    } else {
        "strategic"
    };
    let taught = env.ok(&["triage", "teach", &id, class]);
    assert!(taught.contains(&format!("is now {class}")), "{taught}");
    // The lesson is in the database: a crashed and restarted daemon still knows it.
    daemon.kill_9();
    let daemon = env.daemon();
    let similar = env.push(
        "etl",
        "etl-bot",
        "Weekly ledger export to the warehouse finished late",
        &[],
    );
    assert!(
        similar.contains(&format!("as {class} (like 'Weekly ledger export")),
        "the correction sways a similar message: {similar}"
    );
    // And explain, with the engine down, reads the stored correction too.
    daemon.kill_9();
    let offline = env.run(&[
        "triage",
        "explain",
        "Weekly ledger export to the warehouse finished late",
        "--from",
        "etl-bot",
        "--source",
        "etl",
    ]);
    assert!(
        offline
            .stdout
            .starts_with(&format!("{class}: like 'Weekly ledger export")),
        "{offline:?}"
    );
    let _daemon = env.daemon();
    let refused = env.run(&["triage", "teach", &id, "panic"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("unknown class \"panic\""),
        "{refused:?}"
    );

    let labelled = env.dir.path().join("labelled.jsonl");
    std::fs::write(
        &labelled,
        concat!(
            r#"{"from": "ana", "channel": null, "text": "hey, got a sec?", "expected": "pre-ping"}"#,
            "\n",
            r##"{"from": "ops", "channel": "#ops", "text": "checkout is down for every customer since 09:12", "expected": "emergency"}"##,
            "\n",
        ),
    )
    .expect("write the labelled file");
    let eval = env.ok(&["triage", "eval", labelled.to_str().expect("a UTF-8 path")]);
    assert!(
        eval.contains("expected \\ got") && eval.contains("accuracy 100.0% of 2 messages"),
        "{eval}"
    );
    std::fs::write(&labelled, "{\"from\": \"ana\"}\n").expect("write");
    let bad = env.run(&["triage", "eval", labelled.to_str().expect("a UTF-8 path")]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("line 1: missing field"), "{bad:?}");
}

#[test]
fn the_product_loop_from_a_terminal() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();

    assert!(env.ok(&["status"]).contains("Not in deep work"));
    let started = env.ok(&["start", "--for", "90m"]);
    assert!(
        started.contains("Deep work until") && started.contains("1 h 30 min left"),
        "{started}"
    );

    let held = env.push(
        "ci",
        "build-bot",
        "Deploy failed on main",
        &[
            "--url",
            "https://ci.example/run/7",
            "--channel",
            "#deploys",
            "--urgency",
            "blocker",
        ],
    );
    assert!(
        held.contains("held for the next check-in as blocker"),
        "{held}"
    );
    env.push("slack", "bob", "hey, got a sec?", &[]);
    env.push(
        "cron",
        "backup",
        "nightly report",
        &["--body", "all green", "--urgency", "update"],
    );

    let status = env.json(&["status", "--json"]);
    assert_eq!(status["held"]["blocker"], 1, "{status}");
    assert_eq!(status["held"]["pre_ping"], 1, "{status}");
    assert_eq!(status["held"]["update"], 1, "{status}");
    let text = env.ok(&["status"]);
    assert!(
        text.contains("3 held: 1 blocker, 1 update, 1 pre-ping"),
        "{text}"
    );
    assert!(
        !text.contains("Deploy failed"),
        "status shows counts, never content: {text}"
    );

    let digest = env.ok(&["checkin"]);
    assert!(
        digest.contains("3 held: 1 blocker, 1 update, 1 pre-ping"),
        "{digest}"
    );
    assert!(
        digest.contains("BLOCKERS") && digest.contains("build-bot via ci in #deploys"),
        "{digest}"
    );
    assert!(
        digest.contains("why: urgency declared by trusted source 'ci'")
            && digest.contains("https://ci.example/run/7"),
        "{digest}"
    );

    let json = env.json(&["digest", "--json"]);
    let groups = json["groups"].as_array().expect("groups");
    assert_eq!(
        groups
            .iter()
            .map(|g| g["class"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["blocker", "update", "pre_ping"]
    );
    let first_id = groups[0]["items"][0]["id"].as_i64().expect("item id");
    assert!(
        env.ok(&["done", &first_id.to_string()])
            .contains("marked done")
    );
    assert_eq!(
        env.json(&["digest", "--json"])["groups"][0]["items"][0]["done"],
        true
    );

    assert!(
        env.ok(&["status"]).contains("Nothing held yet"),
        "the hold restarts after a check-in"
    );
    env.push(
        "slack",
        "carol",
        "roadmap input for next quarter please",
        &[],
    );
    let stopped = env.ok(&["stop"]);
    assert!(
        stopped.contains("Deep work stopped") && stopped.contains("1 held: 1 strategic item"),
        "{stopped}"
    );
    assert_eq!(
        env.json(&["digest", "--all", "--json"])
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let shown = env.push("slack", "dave", "lunch?", &[]);
    assert!(shown.contains("shown now (no session running)"), "{shown}");

    let stats = env.json(&["stats", "--json"]);
    assert_eq!(stats["sessions"], 1, "{stats}");
    assert_eq!(stats["early_stops"], 1, "{stats}");
    assert_eq!(stats["items_held"], 4, "{stats}");
    assert_eq!(stats["reference_hours"], 11.7);
    assert_eq!(stats["trend"].as_array().map(Vec::len), Some(8));
    let csv = env.ok(&["stats", "--csv"]);
    assert_eq!(csv.lines().count(), 8, "a header and seven days:\n{csv}");
    assert!(csv.starts_with("week,date,weekday,focus_hours,planned_hours\n"));
    assert!(env.ok(&["stats"]).contains("reference 11.7 h"));
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    let cases: &[(&[&str], &str)] = &[
        (&["start", "--for", "0m"], "must be longer than zero"),
        (&["start", "--for", "13h"], "at most 12h"),
        (&["start", "--for", "soon"], "is not a length of time"),
        (&["start", "--until", "25:00"], "is not a time of day"),
        (
            &["start", "--for", "1h", "--until", "11:00"],
            "cannot be used with",
        ),
        (&["stop"], "no deep work session is running"),
        (&["checkin"], "no deep work session is running"),
        (
            &[
                "push",
                "--source",
                "ci",
                "--from",
                "bot",
                "--title",
                "x",
                "--url",
                "javascript:alert(1)",
            ],
            "url must be an http",
        ),
        (
            &["push", "--source", "ci", "--from", "bot", "--title", "  "],
            "title must not be empty",
        ),
        (
            &[
                "push",
                "--source",
                "ci",
                "--from",
                "bot",
                "--title",
                "x",
                "--urgency",
                "meh",
            ],
            "invalid value 'meh'",
        ),
        (&["stats", "--week", "2026-48"], "is not an ISO week"),
        (&["done", "999"], "no item 999"),
        (&["digest", "--id", "999"], "no digest 999"),
    ];
    for (args, expected) in cases {
        let run = env.run(args);
        assert_eq!(run.code, 2, "deepwork {args:?} is a usage error:\n{run:?}");
        assert!(
            run.stderr.contains(expected),
            "deepwork {args:?} should say {expected:?}:\n{run:?}"
        );
    }

    let huge = "x".repeat(70 * 1024);
    let run = env.run(&[
        "push", "--source", "ci", "--from", "bot", "--title", "big", "--body", &huge,
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("body is 71680 bytes; at most 65536"),
        "{run:?}"
    );

    // Near midnight "an hour ago" is later today, so the refusal may say "after the end".
    let tz = jiff::tz::TimeZone::get(support::TZ).unwrap();
    let now = jiff::Timestamp::now().to_zoned(tz);
    for (offset, length) in [(-1, "2h"), (3, "1h")] {
        let at = now
            .checked_add(jiff::SignedDuration::from_hours(offset))
            .unwrap()
            .strftime("%H:%M")
            .to_string();
        let run = env.run(&["start", "--for", length, "--check-in", &at]);
        assert_eq!(run.code, 2, "check-in {at} for {length}: {run:?}");
        assert!(
            run.stderr
                .contains(&format!("check-in {at} is in the past"))
                || run
                    .stderr
                    .contains(&format!("check-in {at} is after the session ends")),
            "{run:?}"
        );
    }
    assert!(
        env.ok(&["status"]).contains("Not in deep work"),
        "refused starts start nothing"
    );

    env.ok(&["start", "--for", "1h"]);
    let run = env.run(&["start", "--for", "1h"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already running (until"), "{run:?}");
}

#[test]
fn subscribers_see_the_session_live() {
    use deepwork_engine::api::Event;
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    let mode = std::fs::metadata(&env.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the user may talk to the engine");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut events = runtime.block_on(async {
        Client::connect(&env.socket)
            .await
            .unwrap()
            .subscribe()
            .await
            .unwrap()
    });
    env.ok(&["start", "--for", "1h"]);
    env.push("slack", "bob", "hey, got a sec?", &[]);
    env.push(
        "slack",
        "carol",
        "this blocks the release",
        &["--urgency", "blocker"],
    );
    env.ok(&["checkin"]);
    let mut seen = Vec::new();
    runtime.block_on(async {
        while seen.len() < 4 {
            let event = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream is open")
                .expect("a well-formed event");
            seen.push(event);
        }
    });
    assert!(
        matches!(&seen[0], Event::SessionChanged { status } if status.session.is_some()),
        "{seen:?}"
    );
    assert!(
        matches!(&seen[1], Event::ItemHeld { held, .. } if held.pre_ping == 1 && held.total() == 1),
        "{seen:?}"
    );
    assert!(
        matches!(&seen[2], Event::ItemHeld { held, .. } if held.blocker == 1 && held.total() == 2),
        "{seen:?}"
    );
    assert!(
        matches!(&seen[3], Event::CheckIn { summary, .. } if summary == "2 held: 1 blocker, 1 pre-ping"),
        "{seen:?}"
    );
}

#[test]
fn without_an_engine_the_cli_says_how_to_start_one() {
    let env = Env::new(QUIET);
    let run = env.run(&["status"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("no Deepwork engine is running")
            && run.stderr.contains("deepwork daemon"),
        "{run:?}"
    );
}

#[test]
fn a_broken_config_stops_the_daemon_before_it_starts() {
    let env =
        Env::new("[session]\ndefault_length = \"50m\"\ncheck_in_slots = [\"11:00\", \"9am\"]\n");
    let run = env.run(&["daemon"]);
    assert_eq!(run.code, 2, "{run:?}");
    let config = env.config.display().to_string();
    assert!(
        run.stderr.contains(&format!("{config}: line 3")),
        "names the file and line: {run:?}"
    );
    assert!(
        run.stderr.contains("session.check_in_slots[1]") && run.stderr.contains("\"9am\""),
        "{run:?}"
    );
    assert!(
        !env.socket.exists(),
        "nothing half-configured is left listening"
    );

    let check = env.run(&["config", "check"]);
    assert_eq!(check.code, 2, "{check:?}");
    assert!(check.stderr.contains("line 3"));

    std::fs::write(&env.config, "[sesion]\n").unwrap();
    let run = env.run(&["daemon"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown field `sesion`"), "{run:?}");

    std::fs::write(&env.config, QUIET).unwrap();
    assert!(env.ok(&["config", "check"]).contains(": OK"));
}

#[test]
fn a_damaged_database_is_named_and_left_as_it_is() {
    let env = Env::new(QUIET);
    std::fs::create_dir_all(&env.data).unwrap();
    std::fs::set_permissions(&env.data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let damaged = b"not SQLite at all, but maybe someone's only copy".repeat(100);
    std::fs::write(env.database(), &damaged).unwrap();
    let database = env.database().display().to_string();

    let daemon = env.run(&["daemon", "--headless"]);
    assert_eq!(daemon.code, 1, "{daemon:?}");
    assert!(
        daemon.stderr.contains(&format!(
            "{database}: database error: file is not a database"
        )),
        "names the file: {daemon:?}"
    );
    let explain = env.run(&["triage", "explain", "hello"]);
    assert_eq!(explain.code, 1, "{explain:?}");
    assert!(explain.stderr.contains(&database), "{explain:?}");
    assert_eq!(
        std::fs::read(env.database()).unwrap(),
        damaged,
        "the file is not overwritten"
    );
}

#[test]
fn one_engine_per_user() {
    let env = Env::new(QUIET);
    let daemon = env.daemon();
    let second = env.run(&["daemon"]);
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        second
            .stderr
            .contains("another Deepwork engine is already running"),
        "{second:?}"
    );
    env.ok(&["status"]);
    assert!(daemon.terminate().success(), "SIGTERM is a clean stop");
    assert!(!env.socket.exists(), "a clean stop removes the socket");
    let _again = env.daemon();
    env.ok(&["status"]);
}

#[test]
fn hostile_socket_input_is_refused_and_the_engine_lives_on() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    let answer = raw_exchange(&env.socket, b"this is not json\n");
    assert!(answer.contains("\"bad_request\""), "{answer}");
    let answer = raw_exchange(
        &env.socket,
        b"{\"method\":\"push\",\"params\":{\"item\":{\"source\":1}}}\n",
    );
    assert!(answer.contains("\"bad_request\""), "{answer}");
    let mut huge = b"{\"method\":\"push\",\"params\":{\"item\":{\"title\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 400 * 1024));
    huge.extend(b"\"}}}\n");
    let answer = raw_exchange(&env.socket, &huge);
    assert!(answer.contains("\"too_large\""), "{answer}");
    let invalid_utf8 = raw_exchange(&env.socket, b"{\"method\":\"status\xff\"}\n");
    assert!(invalid_utf8.contains("not UTF-8"), "{invalid_utf8}");
    let answer = raw_exchange(&env.socket, b"{\"method\":\"status\"}\n");
    assert!(
        answer.starts_with("{\"ok\":{\"status\""),
        "the engine still answers: {answer}"
    );
}

#[test]
fn the_session_end_delivers_the_digest() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "2s"]);
    env.push("slack", "bob", "design review notes", &[]);
    std::thread::sleep(Duration::from_millis(2600));
    assert!(
        env.ok(&["status"]).contains("Not in deep work"),
        "the engine's timer ended the session"
    );
    let digest = env.json(&["digest", "--json"]);
    assert_eq!(digest["summary"], "1 held: 1 update", "{digest}");
    let stats = env.json(&["stats", "--json"]);
    assert_eq!(stats["early_stops"], 0);
}

#[test]
fn a_focus_block_starts_by_itself_and_a_skipped_one_stays_skipped() {
    use jiff::tz::TimeZone;
    use jiff::{SignedDuration, Timestamp};
    // A zone where it is about noon now, so a block around now fits inside one day.
    let utc_hour = i32::from(Timestamp::now().to_zoned(TimeZone::UTC).hour());
    let offset = 12 - utc_hour;
    let zone = if offset >= 0 {
        format!("Etc/GMT-{offset}")
    } else {
        format!("Etc/GMT+{}", -offset)
    };
    let local = Timestamp::now().to_zoned(TimeZone::get(&zone).unwrap());
    let from = local.checked_sub(SignedDuration::from_mins(1)).unwrap();
    let until = local.checked_add(SignedDuration::from_mins(60)).unwrap();
    let config = format!(
        "{QUIET}[plans]\n[[plans.blocks]]\ndays = \"mon-sun\"\nfrom = \"{}\"\nuntil = \"{}\"\n",
        from.strftime("%H:%M"),
        until.strftime("%H:%M")
    );
    let mut env = Env::new(&config);
    env.tz = zone;
    let daemon = env.daemon();
    let status = env.ok(&["status"]);
    assert!(
        status.contains("a planned focus block"),
        "the block started its session when the engine came up: {status}"
    );
    let plan = env.ok(&["plan", "--days", "2"]);
    assert!(plan.contains("(running)"), "{plan}");
    let skipped = env.ok(&["plan", "skip"]);
    assert!(skipped.contains("Not in deep work"), "{skipped}");
    assert!(env.ok(&["plan"]).contains("(skipped)"));
    daemon.terminate();
    let _again = env.daemon();
    assert!(
        env.ok(&["status"]).contains("Not in deep work"),
        "a skipped block does not start again after a restart"
    );
    let week = env.json(&["plan", "--json"]);
    assert_eq!(week.as_array().map(Vec::len), Some(7), "{week}");
    let refused = env.run(&["plan", "--days", "0"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("1 to 62 days"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_caldav_focus_event_starts_a_session_with_the_password_from_the_keyring() {
    use deepwork_harness::radicale::{self, Radicale};
    use jiff::tz::TimeZone;
    use jiff::{SignedDuration, Timestamp};
    let server = Radicale::start();
    let now = Timestamp::now();
    let stamp = |at: Timestamp| at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let object = format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//deepwork tests//EN\nBEGIN:VEVENT\nUID:rfc\n\
         DTSTAMP:20260101T000000Z\nDTSTART:{}\nDTEND:{}\nSUMMARY:Deep work: billing RFC\n\
         END:VEVENT\nEND:VCALENDAR\n",
        stamp(now - SignedDuration::from_mins(2)),
        stamp(now + SignedDuration::from_mins(50))
    );
    runtime().block_on(async {
        server.make_calendar("work").await;
        server.put("work", "rfc", &object).await;
    });
    let url = server.calendar_url("work");
    let config = format!(
        "{QUIET}[plans]\n[[plans.calendars]]\nurl = \"{url}\"\ncaldav = true\nuser = \"{}\"\n",
        radicale::USER
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let unknown = env.run_with_input(&["plan", "password", "https://elsewhere.example/"], "x\n");
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("not a calendar of [[plans.calendars]]"),
        "{unknown:?}"
    );
    let stored = env.run_with_input(
        &["plan", "password", &url],
        &format!("{}\n", radicale::PASSWORD),
    );
    assert_eq!(stored.code, 0, "{stored:?}");
    let _daemon = env.daemon();
    let status = eventually("the focus event's session", || {
        let status = env.ok(&["status"]);
        status.contains("a planned focus block").then_some(status)
    });
    let ends = (now + SignedDuration::from_mins(50))
        .to_zoned(TimeZone::get(support::TZ).unwrap())
        .strftime("%H:%M")
        .to_string();
    assert!(status.contains(&format!("until {ends}")), "{status}");
    let plan = env.ok(&["plan", "--days", "1"]);
    assert!(
        plan.contains("\"Deep work: billing RFC\" (running)"),
        "{plan}"
    );
}

#[test]
fn forget_takes_old_text_by_hand() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    env.push("slack", "bob", "your login code is 318 202", &[]);
    let tomorrow = jiff::Zoned::now().date().tomorrow().unwrap();
    let forgot = env.ok(&["forget", "--before", &tomorrow.to_string()]);
    assert!(
        forgot.contains("Forgot the text of 1 handled item"),
        "{forgot}"
    );
    let bad = env.run(&["forget", "--before", "next tuesday"]);
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[test]
fn a_push_retried_with_its_id_is_stored_once() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    let first = env.push(
        "ci",
        "build-bot",
        "build 812 failed",
        &["--id", "build-812"],
    );
    let again = env.push(
        "ci",
        "build-bot",
        "build 812 failed",
        &["--id", "build-812"],
    );
    assert!(first.starts_with("Item 1 "), "{first}");
    assert_eq!(first, again, "the retry answers with the first item");
    let other = env.push(
        "ci",
        "build-bot",
        "build 813 failed",
        &["--id", "build-813"],
    );
    assert_ne!(first, other);
}

#[test]
fn a_weeks_csv_is_saved_where_downloads_go() {
    let env = Env::new(QUIET);
    let _daemon = env.daemon();
    std::fs::create_dir(env.dir.path().join("Downloads")).unwrap();
    let saved = env.ok(&["stats", "--csv", "--save"]);
    let path = saved.trim().strip_prefix("Saved ").expect("where it went");
    assert!(
        path.starts_with(env.dir.path().join("Downloads").to_str().unwrap()),
        "{saved}"
    );
    let csv = std::fs::read_to_string(path).unwrap();
    assert_eq!(csv.lines().count(), 8, "a header and seven days: {csv}");
}

#[test]
fn kill_9_loses_no_acknowledged_item() {
    let env = Env::new(QUIET);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut daemon = env.daemon();
    env.ok(&["start", "--for", "3h"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut seed: u64 = 0x5eed;
    for round in 0..6 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let kill_after = Duration::from_millis(100 + (seed >> 33) % 300);
        runtime.block_on(async {
            let mut pushers = Vec::new();
            for pusher in 0..4 {
                let socket = env.socket.clone();
                let acked = acked.clone();
                pushers.push(tokio::spawn(async move {
                    let Ok(mut client) = Client::connect(&socket).await else {
                        return;
                    };
                    for n in 0.. {
                        let title = format!("round {round} pusher {pusher} item {n}");
                        let item = NewItem {
                            source: "test".into(),
                            sender: format!("pusher-{pusher}"),
                            title: title.clone(),
                            body: Some("kill -9 test".into()),
                            url: None,
                            channel: None,
                            urgency: None,
                            message_id: None,
                            source_class: None,
                            conversation: None,
                        };
                        match client.push(item).await {
                            Ok(_) => {
                                acked.lock().unwrap().insert(title);
                            }
                            Err(_) => return,
                        }
                    }
                }));
            }
            tokio::time::sleep(kill_after).await;
            std::mem::replace(&mut daemon, spawn_placeholder()).kill_9();
            for pusher in pushers {
                let _ = pusher.await;
            }
        });
        daemon = env.daemon();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the test pushed for real ({} acknowledged)",
        acked.len()
    );
    env.ok(&["stop"]);
    drop(daemon);

    let db = rusqlite::Connection::open(env.database()).unwrap();
    let mut count = db
        .prepare("SELECT COUNT(*), MIN(digest_id IS NOT NULL) FROM items WHERE title = ?1")
        .unwrap();
    for title in &acked {
        let (copies, delivered): (i64, bool) = count
            .query_row([title], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(
            copies, 1,
            "acknowledged item {title:?} is stored exactly once"
        );
        assert!(
            delivered,
            "acknowledged item {title:?} was delivered in a digest"
        );
    }
    let undelivered: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM items WHERE disposition = 'held' AND digest_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        undelivered, 0,
        "every held item, acknowledged or not, is in exactly one digest"
    );
    let sessions: i64 = db
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 1, "the session survived six kills");
}

/// Stands in for the daemon between a kill and the restart.
fn spawn_placeholder() -> support::Daemon {
    let child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    support::Daemon {
        child,
        log: std::path::PathBuf::new(),
    }
}

#[test]
fn notifications_reach_a_real_notification_server_on_a_private_bus() {
    let mut env = Env::new("");
    let bus = Bus::start(env.dir.path());
    let recorder = Recorder::start(&bus.address);
    env.bus = Some(bus.address.clone());
    let _daemon = env.daemon();

    let shown = env.push("slack", "bob", "lunch at 12?", &[]);
    assert!(shown.contains("shown now"), "{shown}");
    let outside = recorder.next();
    assert_eq!(
        (
            outside.app_name.as_str(),
            outside.summary.as_str(),
            outside.urgency
        ),
        ("Deepwork", "bob · slack", Some(1))
    );

    env.ok(&["start", "--for", "1h"]);
    env.push("slack", "carol", "design review notes", &[]);
    recorder.quiet_for(Duration::from_millis(500));

    env.push(
        "pager",
        "ops",
        "Production outage",
        &["--body", "<img src=x onerror=alert(1)> & <b>everyone</b>"],
    );
    let breakthrough = recorder.next();
    assert_eq!(breakthrough.summary, "Emergency from ops");
    assert_eq!(breakthrough.urgency, Some(2), "critical urgency");
    assert_eq!(
        breakthrough.body,
        "Production outage\n&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;everyone&lt;/b&gt;",
        "message text is escaped before it reaches a server that renders markup"
    );

    env.ok(&["checkin"]);
    let check_in = recorder.next();
    assert_eq!(check_in.summary, "Deep work check-in: 1 held: 1 update");
    env.ok(&["stop"]);
    assert_eq!(recorder.next().summary, "Deep work check-in: Nothing held");
}

/// An outage sends many alerts at once. They share one bus connection (before, each
/// opened its own and kept a thread waiting on it), and the button of every one still
/// answers, though the server tells only the connection that showed it.
#[test]
fn an_outage_of_alerts_shares_one_bus_connection_and_every_button_answers() {
    let mut env = Env::new("");
    let bus = Bus::start(env.dir.path());
    let recorder = Recorder::start(&bus.address);
    env.bus = Some(bus.address.clone());
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    let alerts: Vec<_> = (1..=20)
        .map(|region| {
            let title = format!("Region {region} is down for every customer");
            let pushed = env.push("pager", "ops", &title, &["--urgency", "emergency"]);
            assert!(pushed.contains("emergency"), "{pushed}");
            recorder.next()
        })
        .collect();
    assert!(
        alerts.iter().all(|alert| alert.client == alerts[0].client),
        "every alert from one connection: {:?}",
        alerts.iter().map(|a| &a.client).collect::<Vec<_>>()
    );
    let waiting = |status: &str| status.matches("\nEmergency ").count();
    let status = env.ok(&["status"]);
    assert_eq!(waiting(&status), 20, "every alert waits: {status}");

    // Dismissing one acknowledges nothing; "I'm on it" on each of the others, the oldest
    // last, acknowledges each.
    recorder.close(&alerts[0]);
    for alert in alerts[1..].iter().rev() {
        recorder.invoke(alert, "acknowledge");
    }
    eventually("19 alerts acknowledged", || {
        (waiting(&env.ok(&["status"])) == 1).then_some(())
    });
    recorder.invoke(&alerts[0], "acknowledge");
    std::thread::sleep(Duration::from_millis(500));
    let status = env.ok(&["status"]);
    assert_eq!(
        waiting(&status),
        1,
        "a dismissed alert's late button does nothing: {status}"
    );
}

#[test]
fn matrix_through_the_keyring_and_the_daemon_survives_a_kill_9() {
    use deepwork_harness::synapse::Synapse;
    let runtime = runtime();
    let synapse = Synapse::start();
    let (alice, bob, dm) = runtime.block_on(async {
        let alice = synapse.register("alice").await;
        let bob = synapse.register("bob").await;
        let dm = bob
            .create_room(serde_json::json!({ "preset": "trusted_private_chat", "invite": [alice.user_id], "is_direct": true }))
            .await;
        alice.join(&dm).await;
        alice.set_presence("online", "lunch at 1").await;
        (alice, bob, dm)
    });
    let presence = |bob: &deepwork_harness::synapse::Person| {
        runtime.block_on(bob.presence_of("@alice:localhost"))
    };

    let config = format!(
        "[notifications]\nenabled = false\n[adapters.matrix]\nhomeserver = \"{}\"\nuser_id = \"{}\"\nauto_reply = true\n",
        synapse.base(),
        alice.user_id
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());

    let daemon = env.daemon();
    let status = env.ok(&["status"]);
    assert!(
        status.contains("matrix: needs attention: no access token"),
        "{status}"
    );
    assert!(env.ok(&["adapters", "list"]).contains("no token"));
    drop(daemon);

    let stored = env.run_with_input(
        &["adapters", "token", "matrix"],
        &format!("{}\n", alice.token),
    );
    assert_eq!(stored.code, 0, "{stored:?}");
    assert!(
        !std::fs::read_to_string(&env.config)
            .unwrap()
            .contains(&alice.token),
        "the token is not in the config"
    );
    assert!(
        env.ok(&["adapters", "test", "matrix"])
            .contains("connected as @alice:localhost")
    );

    let daemon = env.daemon();
    // Long enough that the kill below comes before the end even on a loaded machine.
    env.ok(&["start", "--for", "12s"]);
    let ends_at: jiff::Timestamp = env.json(&["status", "--json"])["session"]["ends_at"]
        .as_str()
        .expect("a session")
        .parse()
        .expect("a time");
    let wait_for = |what: &str, check: &dyn Fn((String, Option<String>)) -> bool| {
        for _ in 0..100 {
            if check(presence(&bob)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "alice's presence never showed {what}; last {:?}",
            presence(&bob)
        );
    };
    wait_for("the focus status", &|(p, text)| {
        p == "unavailable" && text.is_some_and(|t| t.starts_with("Deep work"))
    });
    runtime.block_on(bob.send(&dm, "hi"));
    for _ in 0..100 {
        if env.ok(&["status"]).contains("1 held: 1 pre-ping") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        env.ok(&["status"]).contains("1 held: 1 pre-ping"),
        "bob's DM is held"
    );

    assert!(
        jiff::Timestamp::now() < ends_at,
        "the test was too slow: the session ended before the kill"
    );
    daemon.kill_9();
    // Past the session's end, with no engine to restore anything.
    let past_end =
        ends_at.duration_since(jiff::Timestamp::now()) + jiff::SignedDuration::from_secs(1);
    std::thread::sleep(past_end.unsigned_abs());
    // Synapse may move the presence state itself once no client syncs (seen: back to
    // "online"), but only the engine puts the user's own text back.
    let (_, text) = presence(&bob);
    assert!(
        text.as_deref().is_some_and(|t| t.starts_with("Deep work")),
        "nothing restored the status text while the engine was dead: {text:?}"
    );
    let _daemon = env.daemon();
    wait_for("the status from before", &|(p, text)| {
        p == "online" && text.as_deref() == Some("lunch at 1")
    });
    let digest = env.json(&["digest", "--json"]);
    assert_eq!(digest["summary"], "1 held: 1 pre-ping", "{digest}");
    assert_eq!(digest["groups"][0]["items"][0]["source"], "matrix");
}

/// A homeserver that answers every request with a 500 whose error text tries to clear
/// the terminal and reverse what follows.
fn hostile_homeserver() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let body = r#"{"errcode":"M_UNKNOWN","error":"\u001b[2J\u202Egnp.exe"}"#;
            let answer = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    format!("http://{address}")
}

#[test]
fn a_servers_error_text_cannot_drive_the_terminal() {
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.matrix]\nhomeserver = \"{}\"\nuser_id = \"@alice:localhost\"\n",
        hostile_homeserver()
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let stored = env.run_with_input(&["adapters", "token", "matrix"], "syt_token\n");
    assert_eq!(stored.code, 0, "{stored:?}");
    let tested = env.run(&["adapters", "test", "matrix"]);
    assert_ne!(tested.code, 0, "{tested:?}");
    assert!(
        tested.stderr.contains("M_UNKNOWN"),
        "the error is still told: {tested:?}"
    );
    assert!(
        !tested.stderr.contains('\u{1b}') && !tested.stderr.contains('\u{202E}'),
        "{tested:?}"
    );
}

#[test]
fn slack_status_through_the_keyring_and_the_daemon() {
    use deepwork_harness::slack::{APP_TOKEN, GENERAL, ME, SlackContract, TOKEN};
    let runtime = runtime();
    let slack = runtime.block_on(SlackContract::start());
    {
        let mut state = slack.state.lock().unwrap();
        state.status_text = "Commuting".into();
        state.status_emoji = ":bus:".into();
    }
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.slack]\nworkspace = \"acme.slack.com\"\napi = \"{}\"\n",
        slack.api
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let stored = env.run_with_input(&["adapters", "token", "slack"], &format!("{TOKEN}\n"));
    assert_eq!(stored.code, 0, "{stored:?}");
    assert!(env.ok(&["adapters", "test", "slack"]).contains("Commuting"));
    assert!(env.ok(&["adapters", "list"]).contains("messages polled"));
    let stored = env.run_with_input(
        &["adapters", "token", "slack", "--app-level"],
        &format!("{APP_TOKEN}\n"),
    );
    assert_eq!(stored.code, 0, "{stored:?}");
    assert!(
        env.ok(&["adapters", "list"])
            .contains("messages over Socket Mode")
    );
    let unknown = env.run(&["adapters", "test", "irc"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("built-in adapters are: matrix, slack"),
        "{unknown:?}"
    );

    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    let eventually = |what: &str, check: &dyn Fn(&deepwork_harness::slack::SlackState) -> bool| {
        for _ in 0..200 {
            if check(&slack.now()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("Slack never showed {what}: {:?}", slack.now());
    };
    eventually("the focus status", &|s| {
        s.status_text
            .starts_with("Deep work — checking messages at")
            && s.snooze_endtime.is_some()
    });
    assert!(
        env.ok(&["adapters", "list"])
            .contains("slack   acme.slack.com")
    );
    eventually("a Socket Mode connection", &|s| s.connections_opened == 1);
    std::thread::sleep(Duration::from_millis(300));
    slack.state.lock().unwrap().post(
        GENERAL,
        Some("U0BOB"),
        None,
        &format!("<@{ME}> the release is blocked"),
    );
    for _ in 0..200 {
        if env.ok(&["status"]).contains("1 held") {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        env.ok(&["status"]).contains("1 held"),
        "the mention is held"
    );
    env.ok(&["stop"]);
    eventually("the status from before", &|s| {
        s.status_text == "Commuting" && s.status_emoji == ":bus:" && s.snooze_endtime.is_none()
    });
}

#[test]
fn mattermost_status_messages_and_one_reply_through_the_daemon() {
    use deepwork_harness::mattermost::{
        BOB_ID, DM_WITH_BOB, MattermostContract, TOKEN, TOWN_SQUARE, USER_ID,
    };
    let runtime = runtime();
    let server = runtime.block_on(MattermostContract::start());
    {
        let mut state = server.state.lock().unwrap();
        state.status = "away".into();
        state.manual = true;
    }
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.mattermost]\nserver = \"{}\"\nauto_reply = true\n",
        server.url
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let _daemon = env.daemon();
    assert!(
        env.ok(&["status"])
            .contains("mattermost: needs attention: no personal access token"),
        "{}",
        env.ok(&["status"])
    );
    // Stored while the engine runs: it reconnects at once, no restart.
    let stored = env.run_with_input(&["adapters", "token", "mattermost"], &format!("{TOKEN}\n"));
    assert_eq!(stored.code, 0, "{stored:?}");
    assert!(stored.stdout.contains("reconnecting"), "{stored:?}");
    for _ in 0..200 {
        if !env.ok(&["status"]).contains("needs attention") {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(!env.ok(&["status"]).contains("needs attention"));
    env.ok(&["start", "--for", "1h"]);
    until("the focus status", &|| {
        let state = server.now();
        state.status == "dnd"
            && state.custom.as_ref().is_some_and(|c| {
                c["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Deep work — checking messages at"))
            })
    });
    // The engine reads once it has its starting position: the event socket is open.
    until("the event socket", &|| server.now().sockets_opened >= 1);
    std::thread::sleep(Duration::from_millis(300));
    server.post_as(BOB_ID, DM_WITH_BOB, "hi", serde_json::json!({}));
    until("bob's pre-ping held", &|| {
        env.ok(&["status"]).contains("1 held: 1 pre-ping")
    });
    let replies = || {
        server
            .now()
            .posts
            .iter()
            .filter(|p| p.user_id == USER_ID)
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
    };
    until("one auto-reply", &|| replies().len() == 1);
    assert!(replies()[0].contains("deep work"), "{:?}", replies());
    server.post_as(BOB_ID, DM_WITH_BOB, "hello?", serde_json::json!({}));
    server.post_as(
        BOB_ID,
        TOWN_SQUARE,
        "@alice the build is red on my branch, no rush",
        serde_json::json!({}),
    );
    until("three held", &|| env.ok(&["status"]).contains("3 held"));
    assert_eq!(replies().len(), 1, "one reply per sender per session");

    env.ok(&["stop"]);
    until("the status from before", &|| {
        let state = server.now();
        state.status == "away" && state.manual && state.custom.is_none()
    });
    let digest = env.json(&["digest", "--json"]);
    let sources: Vec<&str> = digest["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["items"].as_array().unwrap())
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["mattermost"; 3], "{digest}");
}

#[test]
fn teams_sign_in_and_presence_through_the_daemon() {
    use deepwork_harness::teams::{CLIENT_ID, TeamsContract, USER_CODE};
    let runtime = runtime();
    let server = runtime.block_on(TeamsContract::start());
    server.state.lock().unwrap().status_message = Some(serde_json::json!({
        "message": { "content": "Back at 3", "contentType": "text" },
    }));
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.teams]\naccount = \"alice@contoso.com\"\nclient_id = \"{CLIENT_ID}\"\nauthority = \"{}\"\ngraph = \"{}\"\n",
        server.authority, server.graph
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());

    let before = env.run(&["adapters", "test", "teams"]);
    assert_eq!(before.code, 2, "{before:?}");
    assert!(
        before
            .stderr
            .contains("run `deepwork adapters connect teams`"),
        "{before:?}"
    );
    let signed_in = env.ok(&["adapters", "connect", "teams"]);
    assert!(
        signed_in.contains(USER_CODE) && signed_in.contains("Signed in to Microsoft Teams"),
        "{signed_in}"
    );
    assert!(env.ok(&["adapters", "test", "teams"]).contains("Back at 3"));

    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("do-not-disturb and the focus message", &|| {
        let s = server.now();
        s.availability() == "DoNotDisturb"
            && s.status_message.as_ref().is_some_and(|m| {
                m["message"]["content"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Deep work — checking messages at"))
            })
    });
    env.ok(&["stop"]);
    until("the presence and message from before", &|| {
        let s = server.now();
        s.availability() == "Available"
            && s.sessions.is_empty()
            && s.status_message
                .as_ref()
                .is_some_and(|m| m["message"]["content"] == "Back at 3")
    });
}

#[test]
fn xmpp_presence_messages_and_one_reply_against_prosody() {
    use deepwork_harness::prosody::{Person, Prosody};
    let runtime = runtime();
    let mut prosody = Prosody::start();
    prosody.register("alice", "alice-password");
    prosody.register("bob", "bob-password");
    // bob sees alice's presence: he asks, her own client approves.
    let alice_phone = runtime.block_on(Person::connect(
        &prosody.address(),
        "alice",
        "alice-password",
    ));
    let bob = runtime.block_on(Person::connect(&prosody.address(), "bob", "bob-password"));
    runtime.block_on(bob.subscribe_to("alice@localhost"));
    until("alice's approval", &|| {
        !alice_phone.seen().subscribe_requests.is_empty()
    });
    runtime.block_on(alice_phone.leave());

    let config = format!(
        "[notifications]\nenabled = false\n[adapters.xmpp]\njid = \"alice@localhost\"\nserver = \"{}\"\nauto_reply = true\n",
        prosody.address()
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    env.ca_file = Some(prosody.ca_file());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    env.run_with_input(&["adapters", "token", "xmpp"], "not-her-password\n");
    let refused = env.run(&["adapters", "test", "xmpp"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("refused the password"),
        "{refused:?}"
    );
    env.run_with_input(&["adapters", "token", "xmpp"], "alice-password\n");
    env.ok(&["adapters", "test", "xmpp"]);

    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    let focused = |bob: &Person| {
        bob.seen()
            .presence_of("alice@localhost/deepwork")
            .is_some_and(|(show, status)| {
                show.as_deref() == Some("dnd")
                    && status.is_some_and(|s| s.starts_with("Deep work — checking messages at"))
            })
    };
    until("alice in do-not-disturb", &|| focused(&bob));
    runtime.block_on(bob.say("alice@localhost", "hi"));
    until("bob's pre-ping held", &|| {
        env.ok(&["status"]).contains("1 held: 1 pre-ping")
    });
    let replies = || {
        bob.seen()
            .messages
            .iter()
            .filter(|(from, _, marked)| from.starts_with("alice@localhost/") && *marked)
            .count()
    };
    until("one marked auto-reply", &|| replies() == 1);
    // XML cannot carry control characters at all; markup arrives as the text it is.
    runtime.block_on(bob.say(
        "alice@localhost",
        "the <b>build</b> is red on my branch, no rush",
    ));
    until("the second held", &|| {
        env.ok(&["status"]).contains("2 held")
    });
    assert_eq!(replies(), 1, "one reply per sender per session");

    // The password stored again mid-session: the engine reconnects the platform, and
    // the old connection goes rather than fighting the new one for the resource.
    env.run_with_input(&["adapters", "token", "xmpp"], "alice-password\n");
    let went_offline = |bob: &Person| {
        bob.seen()
            .presences
            .iter()
            .filter(|(from, shown)| from == "alice@localhost/deepwork" && shown.is_none())
            .count()
    };
    until("the old connection gone", &|| went_offline(&bob) == 1);
    until("alice in do-not-disturb again", &|| focused(&bob));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(went_offline(&bob), 1, "one connection, no tug of war");
    assert!(focused(&bob));

    // An outage: the session goes on, the adapter says it is retrying, and the
    // presence comes back with the server.
    prosody.stop();
    until("xmpp shown retrying", &|| {
        env.ok(&["status"]).contains("xmpp: retrying")
    });
    prosody.restart();
    let bob = runtime.block_on(Person::connect(&prosody.address(), "bob", "bob-password"));
    // The adapter's retries back off up to a minute while the server is down, so the
    // next one may be that far away.
    eventually_within(
        Duration::from_secs(80),
        "alice in do-not-disturb after the outage",
        || focused(&bob).then_some(()),
    );

    env.ok(&["stop"]);
    until("alice's Deepwork offline", &|| {
        bob.seen().presence_of("alice@localhost/deepwork").is_none()
    });
    let digest = env.json(&["digest", "--json"]);
    let texts: Vec<&str> = digest["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["items"].as_array().unwrap())
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{digest}");
    assert!(
        texts.contains(&"the <b>build</b> is red on my branch, no rush"),
        "as written: {texts:?}"
    );
}

#[test]
fn slack_sign_in_in_the_browser_through_the_cli() {
    use deepwork_harness::slack::{CLIENT_ID, SlackContract};
    let runtime = runtime();
    let slack = runtime.block_on(SlackContract::start());
    slack.state.lock().unwrap().status_text = "Commuting".into();
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.slack]\nworkspace = \"acme.slack.com\"\napi = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n",
        slack.api
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let opened = env.browser_stand_in();

    let signing_in = env
        .command()
        .args(["adapters", "connect", "slack"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut page = String::new();
    for _ in 0..400 {
        page = std::fs::read_to_string(&opened).unwrap_or_default();
        if !page.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        page.contains("/oauth/v2/authorize?"),
        "the consent page was opened: {page:?}"
    );
    let landing = runtime.block_on(async { reqwest::get(&page).await.unwrap().status() });
    assert_eq!(landing, 200);
    let done = signing_in.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success() && stdout.contains("Signed in to Slack"),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(env.ok(&["adapters", "test", "slack"]).contains("Commuting"));
}

/// The reference plugin on a directory whose status reads "at lunch", with `settings`
/// added to its `[[adapters.plugins]]` entry and `sections` to the config.
fn inbox_plugin(settings: &str, sections: &str) -> (tempfile::TempDir, Env) {
    let inbox = tempfile::tempdir().unwrap();
    std::fs::write(
        inbox.path().join("status.json"),
        r#"{"text": "at lunch", "until": null}"#,
    )
    .unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plugins/inbox.py");
    let config = format!(
        "[notifications]\nenabled = false\n{sections}[[adapters.plugins]]\nname = \"inbox\"\ncommand = [\"python3\", {:?}, {:?}]\n{settings}",
        script.display().to_string(),
        inbox.path().display().to_string()
    );
    let env = Env::new(&config);
    (inbox, env)
}

#[test]
fn a_plugin_through_the_daemon() {
    let (inbox, env) = inbox_plugin("auto_reply = true\n", "");
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    let wait_until = |what: &str, check: &dyn Fn() -> bool| {
        // A plugin answers one request at a time: a status change may wait for the
        // read in flight (the reference plugin holds a read at most 5 s).
        for _ in 0..600 {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("never saw {what}");
    };
    let status = || std::fs::read_to_string(inbox.path().join("status.json")).unwrap_or_default();
    wait_until("the focus status", &|| status().contains("Deep work"));
    // Give the plugin its starting read position before the message arrives.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(
        inbox.path().join("inbox.jsonl"),
        "{\"sender\": \"bob\", \"text\": \"hi\", \"direct\": true}\n",
    )
    .unwrap();
    wait_until("the message held", &|| {
        env.ok(&["status"]).contains("1 held: 1 pre-ping")
    });
    let outbox = || std::fs::read_to_string(inbox.path().join("outbox.jsonl")).unwrap_or_default();
    wait_until("one auto-reply", &|| {
        outbox().contains("in deep work until")
    });
    assert!(env.ok(&["status"]).contains("inbox: ok"));
    // A new end while a read waits in the plugin: the status follows.
    let before = status();
    env.ok(&["extend", "--for", "3h"]);
    wait_until("the status of the new end", &|| {
        let now = status();
        now.contains("Deep work") && now != before
    });
    env.ok(&["stop"]);
    wait_until("the status from before", &|| status().contains("at lunch"));
}

#[test]
fn a_status_that_lapses_while_the_user_is_away_is_put_back_and_the_digest_still_waits() {
    // Presence comes from the test alone, not from this machine's lock or idle time.
    let (inbox, env) = inbox_plugin("", "[desktop]\ndetect_away = false\n");
    let _daemon = env.daemon();
    let status = || std::fs::read_to_string(inbox.path().join("status.json")).unwrap_or_default();
    let presence = |away_since: Option<jiff::Timestamp>| {
        let request =
            serde_json::json!({ "method": "presence", "params": { "away_since": away_since } });
        let answer = raw_exchange(&env.socket, format!("{request}\n").as_bytes());
        assert!(answer.contains("\"ok\""), "{answer}");
    };

    env.ok(&["start", "--for", "4s"]);
    // A plugin answers one request at a time: a status change may wait for the read in
    // flight (the reference plugin holds a read at most 5 s).
    until("the focus status", &|| status().contains("Deep work"));
    presence(Some(jiff::Timestamp::now()));
    until("the end reached while away", &|| {
        env.json(&["status", "--json"])["check_in_waiting"] == true
    });
    until(
        "the status from before, once the focus status lapsed",
        &|| status().contains("at lunch"),
    );
    let waiting = env.json(&["status", "--json"]);
    assert!(
        !waiting["session"].is_null(),
        "the session runs on until the user is back: {waiting}"
    );

    presence(None);
    until("the session ended on the user's return", &|| {
        env.json(&["status", "--json"])["session"].is_null()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(status().contains("at lunch"), "{}", status());
}

#[test]
fn toggle_starts_a_session_of_the_default_length_then_stops_it() {
    let env = Env::new("[session]\ndefault_length = \"25m\"\n[notifications]\nenabled = false\n");
    let _daemon = env.daemon();
    let started = env.ok(&["toggle"]);
    assert!(started.contains("Deep work until"), "{started}");
    let status = env.json(&["status", "--json"]);
    assert_eq!(
        status["session"]["remaining_seconds"]
            .as_i64()
            .map(|s| (s + 59) / 60),
        Some(25)
    );
    let stopped = env.ok(&["toggle"]);
    assert!(stopped.starts_with("Deep work stopped."), "{stopped}");
    assert_eq!(
        env.json(&["status", "--json"])["session"],
        serde_json::Value::Null
    );
}

//! Session intents and the written standup through the real daemon.

mod support;

use support::*;

#[test]
fn an_intent_recorded_done_is_in_the_standup_and_a_bad_outcome_is_refused() {
    let env = Env::new("[notifications]\nenabled = false\n");
    let _daemon = env.daemon();
    let none = env.run(&["intent", "done"]);
    assert_ne!(none.code, 0, "{none:?}");
    assert!(none.stderr.contains("no session has an intent"), "{none:?}");

    env.ok(&["start", "--for", "1h", "--intent", "Finish the billing RFC"]);
    env.ok(&["stop"]);
    let recorded = env.ok(&["intent", "done", "--note", "sent to Ana"]);
    assert_eq!(
        recorded.trim(),
        "Finish the billing RFC: done — sent to Ana"
    );
    let refused = env.run(&["intent", "maybe"]);
    assert_eq!(refused.code, 2, "{refused:?}");

    env.ok(&[
        "start",
        "--for",
        "1h",
        "--intent",
        "Load test the refund webhook",
    ]);
    env.ok(&["stop"]);
    let standup = env.ok(&["standup"]);
    assert!(
        standup.contains("*Shipped*\n- Finish the billing RFC — sent to Ana\n"),
        "{standup}"
    );
    assert!(
        standup.contains("*Today*\n- Load test the refund webhook\n"),
        "not said yet: carried over\n{standup}"
    );
    let json = env.json(&["standup", "--json"]);
    assert_eq!(json["draft"]["today"][0], "Load test the refund webhook");
    assert_eq!(
        json["kept"], false,
        "a draft nobody saved or posted is not kept"
    );
}

#[test]
fn the_daily_draft_is_kept_announced_once_and_posted_to_mattermost() {
    use deepwork_harness::mattermost::{MattermostContract, TEAM_NAME, TOKEN, TOWN_SQUARE};
    let runtime = runtime();
    let server = runtime.block_on(MattermostContract::start());
    // 00:00 has passed on every day: the engine drafts at once when it starts.
    let config = format!(
        "[standup]\nat = \"00:00\"\ndays = \"mon-sun\"\n[adapters.mattermost]\nserver = \"{}\"\n",
        server.url
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    let recorder = Recorder::start(&bus.address);
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let stored = env.run_with_input(&["adapters", "token", "mattermost"], &format!("{TOKEN}\n"));
    assert_eq!(stored.code, 0, "{stored:?}");

    let daemon = env.daemon();
    let notice = recorder.next();
    assert_eq!(notice.summary, "Your standup is drafted");
    assert!(
        notice.actions.iter().any(|a| a == "open-standup"),
        "{notice:?}"
    );
    let kept = env.json(&["standup", "--json"]);
    assert_eq!(kept["kept"], true, "{kept}");
    assert_eq!(kept["posted"], serde_json::Value::Null);

    let nowhere = env.run(&["standup", "--post"]);
    assert_eq!(nowhere.code, 1, "{nowhere:?}");
    assert!(
        nowhere.stderr.contains("set [standup] post_to"),
        "{nowhere:?}"
    );
    let not_connected = env.run(&["standup", "--post", "--to", "slack:#team"]);
    assert!(
        not_connected.stderr.contains("slack is not connected"),
        "{not_connected:?}"
    );
    let bad = env.run(&["standup", "--post", "--to", "github:acme"]);
    assert_eq!(bad.code, 2, "{bad:?}");

    let target = format!("mattermost:{TEAM_NAME}/town-square");
    let posted = env.ok(&["standup", "--post", "--to", &target]);
    assert!(posted.starts_with("**Standup "), "{posted}");
    assert!(
        posted.contains(&format!("Posted to {target} at ")),
        "{posted}"
    );
    let landed = server.now().posts;
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].channel_id, TOWN_SQUARE);
    assert!(
        landed[0].message.starts_with("**Standup "),
        "{}",
        landed[0].message
    );
    assert!(
        posted.contains(&format!("{}/{TEAM_NAME}/pl/{}", server.url, landed[0].id)),
        "the link to the post\n{posted}"
    );

    // Kept across a restart, and not drafted or announced again the same day.
    drop(daemon);
    let _daemon = env.daemon();
    recorder.quiet_for(std::time::Duration::from_millis(500));
    let history = env.json(&["standup", "--history", "5", "--json"]);
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history[0]["posted"]["to"], target.as_str());
}

#[test]
fn jira_work_done_and_blocked_makes_the_standup() {
    use deepwork_harness::jira::{API_TOKEN, BOB, EMAIL, JiraContract, ME};
    let runtime = runtime();
    let server = runtime.block_on(JiraContract::start());
    {
        let mut state = server.state.lock().unwrap();
        state.create_issue("PAY-1", "Retry failed card payments", BOB, Some(ME));
        state.create_issue("PAY-2", "Migrate the ledger", BOB, Some(ME));
        state.set_status("PAY-1", ME, "Done");
        state.set_status("PAY-2", ME, "Blocked");
    }
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.jira]\nsite = \"{}\"\nemail = \"{EMAIL}\"\n",
        server.base
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    env.run_with_input(&["adapters", "token", "jira"], &format!("{API_TOKEN}\n"));
    let _daemon = env.daemon();
    // The work is asked for when the platform connects, then hourly.
    let standup = eventually("the work in the standup", || {
        let standup = env.ok(&["standup"]);
        standup.contains("Blocked: PAY-2").then_some(standup)
    });
    assert!(
        standup.contains("*Shipped*\n- PAY-1 Retry failed card payments (jira)\n"),
        "{standup}"
    );
    assert!(
        standup.contains("- Blocked: PAY-2 Migrate the ledger (jira)\n"),
        "{standup}"
    );
}

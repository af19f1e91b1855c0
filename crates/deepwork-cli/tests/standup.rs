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
    assert_eq!(json["today"][0], "Load test the refund webhook");
}

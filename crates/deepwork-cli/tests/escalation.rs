//! Emergencies escalated by the real daemon: its desktop alert on a private bus's
//! recording notification server, then SMS and calls through the Twilio contract server
//! (Twilio cannot run here), with ladders of seconds.

mod support;

use deepwork_harness::twilio::{
    ACCOUNT_SID, AUTH_TOKEN, Endpoint, Fault, TWILIO_NUMBER, TwilioContract, USER_PHONE,
};
use std::time::Duration;
use support::{Bus, Daemon, Env, Keyring, Recorder, runtime};

/// A daemon's surroundings with Twilio credentials stored and `[escalation]` pointing at
/// the contract server, with `steps` (e.g. `sms_after = "1s"`).
struct Escalating {
    env: Env,
    bus: Bus,
    _keyring: Keyring,
}

fn escalating(twilio: &TwilioContract, steps: &str) -> Escalating {
    let config = format!(
        "[escalation]\nphone = \"{USER_PHONE}\"\nfrom = \"{TWILIO_NUMBER}\"\ntwilio_api = \"{}\"\n{steps}\n",
        twilio.base
    );
    let mut env = Env::new(&config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let keyring = Keyring::start(&bus.address, env.dir.path());
    let stored = env.run_with_input(
        &["adapters", "token", "twilio"],
        &format!("{ACCOUNT_SID}:{AUTH_TOKEN}\n"),
    );
    assert_eq!(stored.code, 0, "{stored:?}");
    Escalating {
        env,
        bus,
        _keyring: keyring,
    }
}

/// Waits up to 20 s for `probe`, showing the daemon's log if it never comes.
fn wait_for<T>(daemon: &Daemon, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..800 {
        if let Some(found) = probe() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "waited 20 s for {what}; the daemon's log:\n{}",
        daemon.log_text()
    );
}

fn push_emergency(env: &Env) -> String {
    let pushed = env.push(
        "pager",
        "ops",
        "Checkout is down for every customer",
        &["--urgency", "emergency"],
    );
    assert!(pushed.contains("emergency"), "{pushed}");
    pushed
}

#[test]
fn an_unacknowledged_emergency_is_texted_once_then_called_once() {
    let runtime = runtime();
    let twilio = runtime.block_on(TwilioContract::start());
    let Escalating { env, bus, _keyring } = escalating(
        &twilio,
        "renotify_after = \"off\"\nsms_after = \"2s\"\ncall_after = \"5s\"",
    );
    let recorder = Recorder::start(&bus.address);
    let daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    push_emergency(&env);

    let alert = recorder.next();
    assert_eq!(alert.summary, "Emergency from ops");
    assert!(
        alert.actions.contains(&"acknowledge".to_owned()),
        "{:?}",
        alert.actions
    );
    let sms = wait_for(&daemon, "the SMS", || twilio.sent().into_iter().next());
    assert_eq!(sms.to, USER_PHONE);
    assert_eq!(sms.from.as_deref(), Some(TWILIO_NUMBER));
    assert!(
        sms.body.contains("ops") && sms.body.contains("Checkout is down for every customer"),
        "{}",
        sms.body
    );
    let call = wait_for(&daemon, "the call", || twilio.calls().into_iter().next());
    assert_eq!(call.to, USER_PHONE);
    assert!(
        call.twiml
            .as_deref()
            .is_some_and(|t| t.contains("<Say>Deepwork emergency from ops")),
        "{call:?}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        (twilio.sent().len(), twilio.calls().len()),
        (1, 1),
        "each step once"
    );

    let status = env.ok(&["status"]);
    assert!(
        status.contains("shown") && status.contains("SMS") && status.contains("call"),
        "{status}"
    );
    assert!(
        status.contains("not acknowledged: deepwork ack"),
        "{status}"
    );
    assert!(env.ok(&["ack"]).contains("Acknowledged emergency"));
    let digest = env.ok(&["checkin"]);
    assert!(
        digest.contains("acknowledged") && digest.contains("with deepwork ack"),
        "the digest tells the story:\n{digest}"
    );
}

#[test]
fn acknowledged_on_the_notification_nothing_follows() {
    let runtime = runtime();
    let twilio = runtime.block_on(TwilioContract::start());
    let Escalating { env, bus, _keyring } = escalating(&twilio, "sms_after = \"3s\"");
    let recorder = Recorder::start(&bus.address);
    let daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    push_emergency(&env);
    let alert = recorder.next();
    // The daemon listens for the click once the server has answered; a person clicks
    // later than a test would.
    std::thread::sleep(Duration::from_millis(500));
    recorder.invoke(&alert, "acknowledge");
    wait_for(&daemon, "the acknowledgement", || {
        (!env.ok(&["status"]).contains("Emergency")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(twilio.sent().is_empty(), "{:?}", twilio.sent());
    let digest = env.ok(&["checkin"]);
    assert!(
        digest.contains("acknowledged") && digest.contains("on the notification"),
        "{digest}"
    );
}

#[test]
fn a_text_reply_acknowledges_and_stops_the_call() {
    let runtime = runtime();
    let twilio = runtime.block_on(TwilioContract::start());
    let Escalating {
        env,
        bus: _bus,
        _keyring,
    } = escalating(
        &twilio,
        "renotify_after = \"off\"\nsms_after = \"1s\"\ncall_after = \"15s\"",
    );
    let daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    push_emergency(&env);
    wait_for(&daemon, "the SMS", || twilio.sent().into_iter().next());
    twilio.inbound(USER_PHONE, "what is this?");
    twilio.inbound(USER_PHONE, "Ack, on it");
    wait_for(&daemon, "the text acknowledges", || {
        (!env.ok(&["status"]).contains("Emergency")).then_some(())
    });
    let digest = env.ok(&["checkin"]);
    assert!(
        digest.contains("acknowledged") && digest.contains("by SMS"),
        "{digest}"
    );
    std::thread::sleep(Duration::from_secs(14));
    assert!(
        twilio.calls().is_empty(),
        "no call after the acknowledgement"
    );
    assert_eq!(twilio.sent().len(), 1);
}

#[test]
fn kill_9_and_twilio_failures_send_nothing_twice() {
    let runtime = runtime();
    let twilio = runtime.block_on(TwilioContract::start());
    let Escalating {
        env,
        bus: _bus,
        _keyring,
    } = escalating(
        &twilio,
        "renotify_after = \"off\"\nsms_after = \"1s\"\ncall_after = \"6s\"",
    );
    // The first SMS is refused with a 503, the first call rate limited: both are
    // retried, the retries first looking for an earlier attempt.
    twilio.fail_next(1, Some(Endpoint::CreateMessage), Fault::Unavailable);
    twilio.fail_next(
        1,
        Some(Endpoint::CreateCall),
        Fault::RateLimited {
            retry_after: Some(1),
        },
    );
    let daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    push_emergency(&env);
    wait_for(&daemon, "the SMS", || twilio.sent().into_iter().next());
    assert!(
        twilio.requests(Endpoint::ListMessages) >= 1,
        "the retry checked first"
    );
    daemon.kill_9();
    let daemon = env.daemon();
    wait_for(&daemon, "the call", || twilio.calls().into_iter().next());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        (twilio.sent().len(), twilio.calls().len()),
        (1, 1),
        "nothing twice across a kill -9 and two refusals"
    );
    assert!(
        twilio.requests(Endpoint::CreateCall) == 2,
        "one refused, one placed"
    );
}

#[test]
fn without_a_notification_server_the_phone_is_texted_at_once() {
    let runtime = runtime();
    let twilio = runtime.block_on(TwilioContract::start());
    // The default ladder: an SMS only after 5 minutes, were the alert shown.
    let Escalating {
        env,
        bus: _bus,
        _keyring,
    } = escalating(&twilio, "");
    let daemon = env.daemon();
    assert!(
        env.ok(&["escalation", "test"])
            .contains("Twilio accepted the test SMS")
    );
    assert_eq!(twilio.sent().len(), 1);
    env.ok(&["start", "--for", "1h"]);
    push_emergency(&env);
    wait_for(&daemon, "the SMS", || twilio.sent().into_iter().nth(1));
    let status = env.ok(&["status"]);
    assert!(status.contains("could not be shown"), "{status}");

    twilio.set_invalid(USER_PHONE);
    let refused = env.run(&["escalation", "test"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("21211"), "{refused:?}");
}

#[test]
fn without_credentials_status_says_what_to_do() {
    let mut env = Env::new(&format!(
        "[escalation]\nphone = \"{USER_PHONE}\"\nfrom = \"{TWILIO_NUMBER}\"\n"
    ));
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let _keyring = Keyring::start(&bus.address, env.dir.path());
    let daemon = env.daemon();
    let status = env.ok(&["status"]);
    assert!(
        status.contains("no Twilio credentials")
            && status.contains("deepwork adapters token twilio"),
        "{status}"
    );
    let bad = env.run_with_input(&["adapters", "token", "twilio"], "just-a-token\n");
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("ACCOUNT_SID:AUTH_TOKEN"), "{bad:?}");
    // Stored while the engine runs, they are used at once.
    let stored = env.run_with_input(
        &["adapters", "token", "twilio"],
        &format!("{ACCOUNT_SID}:{AUTH_TOKEN}\n"),
    );
    assert_eq!(stored.code, 0, "{stored:?}");
    wait_for(&daemon, "the engine to use the credentials", || {
        (!env.ok(&["status"]).contains("no Twilio credentials")).then_some(())
    });
    let bad_config = Env::new("[escalation]\nphone = \"0151 1234\"\n");
    let refused = bad_config.run(&["config", "check"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("escalation.phone"), "{refused:?}");
}

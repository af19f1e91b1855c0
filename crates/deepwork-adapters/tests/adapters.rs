//! Adapters against real servers: Matrix against a real Synapse on loopback.

use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::{
    AdapterError, Addressed, FocusStatus, IncomingMessage, MessageSource, Replier, StatusAdapter,
};
use deepwork_harness::synapse::Synapse;
use serde_json::json;
use std::time::{Duration, Instant};

const FOCUS: &str = "Deep work — checking messages at 14:00";

fn focus() -> FocusStatus {
    FocusStatus {
        text: FOCUS.into(),
        until: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2),
    }
}

/// Polls `done` every 10 ms for up to 10 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Fetches until `count` messages arrived or 15 s passed.
async fn fetch_at_least(
    adapter: &MatrixAdapter,
    cursor: &mut String,
    count: usize,
) -> Vec<IncomingMessage> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut messages = Vec::new();
    while messages.len() < count && Instant::now() < deadline {
        let batch = adapter
            .fetch(Some(cursor), Duration::from_secs(2))
            .await
            .expect("sync");
        *cursor = batch.cursor;
        messages.extend(batch.messages);
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_focus_status_held_messages_and_one_reply_against_synapse() {
    let synapse = Synapse::start();
    let alice = synapse.register("alice").await;
    let bob = synapse.register("bob").await;
    let carol = synapse.register("carol").await;
    let dm = bob
        .create_room(json!({ "preset": "trusted_private_chat", "invite": [alice.user_id], "is_direct": true }))
        .await;
    alice.join(&dm).await;
    let team = bob
        .create_room(json!({ "preset": "public_chat", "name": "Team", "invite": [alice.user_id, carol.user_id] }))
        .await;
    alice.join(&team).await;
    carol.join(&team).await;
    alice.set_presence("online", "lunch at 1").await;

    let adapter = MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap();
    let snapshot = adapter.snapshot().await.expect("snapshot");
    let stored = serde_json::to_string(&snapshot).unwrap();
    adapter.set_focus(&focus()).await.expect("set focus");
    assert_eq!(
        bob.presence_of(&alice.user_id).await,
        ("unavailable".to_owned(), Some(FOCUS.to_owned())),
        "bob sees alice's focus status"
    );

    let first = adapter
        .fetch(None, Duration::ZERO)
        .await
        .expect("first sync");
    assert!(
        first.messages.is_empty(),
        "history is not imported as new: {:?}",
        first.messages
    );
    let mut cursor = first.cursor;
    bob.send(&dm, "hi").await;
    carol
        .send(&team, "alice: the deploy is blocked on your review")
        .await;
    carol.send(&team, "lunch anyone?").await;
    bob.send(&dm, "\u{1b}[31m<img src=x onerror=alert(1)>\u{7} done")
        .await;

    let messages = fetch_at_least(&adapter, &mut cursor, 3).await;
    let summary: Vec<(Addressed, &str, Option<&str>, &str)> = messages
        .iter()
        .map(|m| {
            (
                m.addressed,
                m.sender.as_str(),
                m.channel.as_deref(),
                m.text.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Addressed::Direct, bob.user_id.as_str(), None, "hi"),
            (
                Addressed::Mention,
                carol.user_id.as_str(),
                Some("Team"),
                "alice: the deploy is blocked on your review"
            ),
            (
                Addressed::Direct,
                bob.user_id.as_str(),
                None,
                "[31m<img src=x onerror=alert(1)> done"
            ),
        ],
        "DMs and mentions, not other chatter; control characters dropped, markup left as text"
    );
    assert!(
        messages[0]
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://matrix.to/#/"))
    );
    let item = messages[1].to_item("matrix");
    assert_eq!(
        (item.source.as_str(), item.channel.as_deref()),
        ("matrix", Some("Team"))
    );

    adapter
        .reply(&messages[0].reply_to, "I'm in deep work until 14:00.")
        .await
        .expect("reply");
    let recent = bob.recent(&dm).await;
    assert_eq!(
        recent[0],
        (
            alice.user_id.clone(),
            "m.notice".to_owned(),
            "I'm in deep work until 14:00.".to_owned()
        ),
        "the reply is a notice, which bots and other Deepworks do not answer"
    );
    // The sync returns as soon as the reply lands in the room; it must not come back as held.
    let own = adapter
        .fetch(Some(&cursor), Duration::from_secs(3))
        .await
        .expect("sync");
    assert!(
        own.messages.is_empty(),
        "alice's own reply is not held: {:?}",
        own.messages
    );
    assert_eq!(
        bob.presence_of(&alice.user_id).await.0,
        "unavailable",
        "syncing did not undo the focus status"
    );

    let snapshot = serde_json::from_str(&stored).expect("the stored snapshot reads back");
    adapter.restore(&snapshot).await.expect("restore");
    assert_eq!(
        bob.presence_of(&alice.user_id).await,
        ("online".to_owned(), Some("lunch at 1".to_owned())),
        "the status is exactly what it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_failures_say_what_to_do() {
    let mut synapse = Synapse::start();
    let alice = synapse.register("alice").await;

    let revoked =
        MatrixAdapter::new(&synapse.base(), &alice.user_id, "syt_not_a_token".into()).unwrap();
    let error = revoked
        .snapshot()
        .await
        .expect_err("a bad token is refused");
    assert!(
        matches!(error, AdapterError::Unauthorized { .. }) && !error.is_transient(),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("sign in to Matrix again"),
        "{error}"
    );

    let adapter = MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap();
    synapse.stop();
    let error = adapter
        .set_focus(&focus())
        .await
        .expect_err("the server is down");
    assert!(
        matches!(error, AdapterError::Unavailable { .. }) && error.is_transient(),
        "{error:?}"
    );
    synapse.resume();
    adapter
        .set_focus(&focus())
        .await
        .expect("works again once the server is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_room_that_grows_is_direct_no_more_and_senders_go_by_display_name() {
    let synapse = Synapse::start();
    let alice = synapse.register("alice").await;
    let bob = synapse.register("bob").await;
    let carol = synapse.register("carol").await;
    let room = bob
        .create_room(json!({ "preset": "trusted_private_chat", "invite": [alice.user_id, carol.user_id], "is_direct": true }))
        .await;
    alice.join(&room).await;
    let adapter = MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap();
    let mut cursor = adapter
        .fetch(None, Duration::ZERO)
        .await
        .expect("first sync")
        .cursor;

    bob.send(&room, "are you around?").await;
    let first = fetch_at_least(&adapter, &mut cursor, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].addressed,
        Addressed::Direct,
        "two members: a direct chat"
    );
    assert_eq!(
        first[0].sender_name.as_deref(),
        Some("bob"),
        "the display name, not @bob:…"
    );
    assert_eq!(first[0].to_item("matrix").sender, "bob");

    carol.join(&room).await;
    bob.send(&room, "lunch, anyone?").await;
    carol
        .send(&room, "alice: the release notes need your OK")
        .await;
    let later = fetch_at_least(&adapter, &mut cursor, 1).await;
    let texts: Vec<(Addressed, &str)> = later
        .iter()
        .map(|m| (m.addressed, m.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![(Addressed::Mention, "alice: the release notes need your OK")],
        "with three members only a mention reaches alice"
    );
}

mod slack {
    //! Slack against a contract server written from Slack's API reference
    //! (Slack itself cannot run here).

    use deepwork_adapters::slack::{FOCUS_EMOJI, SlackAdapter};
    use deepwork_adapters::{AdapterError, FocusStatus, StatusAdapter};
    use deepwork_harness::slack::{SlackContract, TOKEN};
    use jiff::{SignedDuration, Timestamp};
    use std::time::Duration;

    fn adapter(server: &SlackContract, token: &str) -> SlackAdapter {
        SlackAdapter::new(&server.api, token.into()).unwrap()
    }

    fn two_hours() -> Timestamp {
        Timestamp::now() + SignedDuration::from_hours(2)
    }

    #[tokio::test]
    async fn focus_status_and_snooze_are_set_and_restored_exactly() {
        let server = SlackContract::start().await;
        {
            let mut state = server.state.lock().unwrap();
            state.status_text = "In a meeting".into();
            state.status_emoji = ":calendar:".into();
        }
        let slack = adapter(&server, TOKEN);
        let snapshot = slack.snapshot().await.unwrap();
        let until = two_hours();
        let long = format!(
            "Deep work — checking messages at 14:00. {}",
            "Really. ".repeat(20)
        );
        let text = deepwork_core::away::fit(&long, slack.status_limit());
        slack.set_focus(&FocusStatus { text, until }).await.unwrap();
        let focused = server.now();
        assert_eq!(
            focused.status_text.chars().count(),
            100,
            "Slack allows 100 characters: {:?}",
            focused.status_text
        );
        assert!(focused.status_text.ends_with('…'));
        assert_eq!(
            (focused.status_emoji.as_str(), focused.status_expiration),
            (FOCUS_EMOJI, until.as_second())
        );
        let snooze_end = focused.snooze_endtime.expect("do not disturb is on");
        assert!(
            (snooze_end - until.as_second()).abs() <= 60,
            "snoozed until the session's end"
        );

        slack.restore(&snapshot).await.unwrap();
        let after = server.now();
        assert_eq!(
            (
                after.status_text.as_str(),
                after.status_emoji.as_str(),
                after.status_expiration
            ),
            ("In a meeting", ":calendar:", 0)
        );
        assert_eq!(
            after.snooze_endtime, None,
            "the snooze Deepwork started is ended"
        );
    }

    #[tokio::test]
    async fn an_earlier_snooze_comes_back_and_an_expired_status_does_not() {
        let server = SlackContract::start().await;
        let now = Timestamp::now().as_second();
        {
            let mut state = server.state.lock().unwrap();
            state.status_text = "Lunch".into();
            state.status_emoji = ":sandwich:".into();
            state.status_expiration = now + 2;
            state.snooze_endtime = Some(now + 3 * 3600);
        }
        let slack = adapter(&server, TOKEN);
        let snapshot = slack.snapshot().await.unwrap();
        slack
            .set_focus(&FocusStatus {
                text: "Deep work".into(),
                until: two_hours(),
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        slack.restore(&snapshot).await.unwrap();
        let after = server.now();
        assert_eq!(
            after.status_text, "",
            "the lunch status would have expired by now"
        );
        let end = after.snooze_endtime.expect("the user's own snooze is back");
        assert!((end - (now + 3 * 3600)).abs() <= 120, "{end}");
    }

    #[tokio::test]
    async fn slack_errors_say_what_to_do() {
        let server = SlackContract::start().await;
        let error = adapter(&server, "xoxp-revoked")
            .snapshot()
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("connect Slack again"), "{error}");

        server
            .state
            .lock()
            .unwrap()
            .scopes
            .retain(|s| s != "dnd:write");
        let slack = adapter(&server, TOKEN);
        let error = slack
            .set_focus(&FocusStatus {
                text: "Deep work".into(),
                until: two_hours(),
            })
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("lacks the scope dnd:write"),
            "{error}"
        );
        assert!(!error.is_transient());

        server.state.lock().unwrap().rate_limit_next = 1;
        let error = slack.snapshot().await.unwrap_err();
        assert!(
            matches!(error, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
            "Retry-After is honoured: {error:?}"
        );
        server.state.lock().unwrap().fail_next = 1;
        let error = slack.snapshot().await.unwrap_err();
        assert!(
            matches!(error, AdapterError::Unavailable { .. }) && error.is_transient(),
            "{error:?}"
        );
        slack
            .snapshot()
            .await
            .expect("works once the server recovers");
    }
}

mod mattermost {
    //! Mattermost against a contract server written from its API reference.

    use deepwork_adapters::mattermost::{FOCUS_EMOJI, MattermostAdapter};
    use deepwork_adapters::{AdapterError, FocusStatus, StatusAdapter};
    use deepwork_harness::mattermost::{MattermostContract, TOKEN};
    use jiff::{SignedDuration, Timestamp};
    use serde_json::json;
    use std::time::Duration;

    #[tokio::test]
    async fn dnd_and_custom_status_are_set_and_restored_exactly() {
        let server = MattermostContract::start().await;
        let lunch = json!({ "emoji": "sandwich", "text": "Lunch", "duration": "date_and_time", "expires_at": "2099-01-01T00:00:00Z" });
        {
            let mut state = server.state.lock().unwrap();
            state.status = "away".into();
            state.manual = true;
            state.custom = Some(lunch.clone());
        }
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let snapshot = mattermost.snapshot().await.unwrap();
        let until = Timestamp::now() + SignedDuration::from_hours(2);
        mattermost
            .set_focus(&FocusStatus {
                text: "Deep work — checking messages at 14:00".into(),
                until,
            })
            .await
            .unwrap();
        let focused = server.now();
        assert_eq!(
            (focused.status.as_str(), focused.dnd_end_time),
            ("dnd", until.as_second())
        );
        let custom = focused.custom.expect("custom status set");
        assert_eq!(
            (custom["emoji"].as_str(), custom["text"].as_str()),
            (
                Some(FOCUS_EMOJI),
                Some("Deep work — checking messages at 14:00")
            )
        );

        mattermost.restore(&snapshot).await.unwrap();
        let after = server.now();
        assert_eq!((after.status.as_str(), after.manual), ("away", true));
        assert_eq!(
            after.custom,
            Some(lunch),
            "the custom status from before is back"
        );
    }

    #[tokio::test]
    async fn an_automatic_status_goes_back_to_following_activity() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let snapshot = mattermost.snapshot().await.unwrap();
        let until = Timestamp::now() + SignedDuration::from_hours(1);
        mattermost
            .set_focus(&FocusStatus {
                text: "Deep work".into(),
                until,
            })
            .await
            .unwrap();
        mattermost.restore(&snapshot).await.unwrap();
        let after = server.now();
        assert_eq!(
            (after.status.as_str(), after.manual, after.custom),
            ("online", false, None)
        );
    }

    #[tokio::test]
    async fn mattermost_errors_say_what_to_do() {
        let server = MattermostContract::start().await;
        let error = MattermostAdapter::new(&server.url, "wrong".into())
            .unwrap()
            .snapshot()
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("create a new personal access token"),
            "{error}"
        );
        server.state.lock().unwrap().rate_limit_next = 1;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let error = mattermost.snapshot().await.unwrap_err();
        assert!(
            matches!(error, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
            "{error:?}"
        );
        mattermost.snapshot().await.expect("works after the limit");
    }
}

mod mattermost_messages {
    //! Mattermost posts and auto-replies against the contract server, over its
    //! WebSocket and its posts API.

    use super::until;
    use deepwork_adapters::mattermost::{AUTO_REPLY_PROP, MattermostAdapter};
    use deepwork_adapters::{AdapterError, Addressed, IncomingMessage, MessageSource, Replier};
    use deepwork_harness::mattermost::{
        BOB_ID, DM_WITH_BOB, MattermostContract, TOKEN, TOWN_SQUARE, USER_ID,
    };
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    fn summary(
        messages: &[IncomingMessage],
    ) -> Vec<(String, Addressed, Option<String>, String, bool)> {
        messages
            .iter()
            .map(|m| {
                (
                    m.sender_name.clone().unwrap_or_default(),
                    m.addressed,
                    m.channel.clone(),
                    m.text.clone(),
                    m.automated,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn posts_arrive_over_the_socket_without_polling() {
        let server = MattermostContract::start().await;
        server.post_as(BOB_ID, DM_WITH_BOB, "from before the session", json!({}));
        let mattermost = Arc::new(MattermostAdapter::new(&server.url, TOKEN.into()).unwrap());
        let mut cursor = mattermost.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;

        let reader = {
            let (mattermost, cursor) = (mattermost.clone(), cursor.clone());
            tokio::spawn(async move { mattermost.fetch(Some(&cursor), Duration::ZERO).await })
        };
        until("the event socket", || server.now().sockets_opened == 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let requests = server.now().requests;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            server.now().requests,
            requests,
            "a waiting fetch sends no requests: the socket tells it"
        );
        assert!(!reader.is_finished(), "nothing new yet: {:?}", reader);

        server.post_as(BOB_ID, TOWN_SQUARE, "lunch anyone?", json!({}));
        server.post_as(
            BOB_ID,
            DM_WITH_BOB,
            "<b>hey</b>, got a sec?\u{1b}[2J",
            json!({}),
        );
        let first = reader.await.unwrap().unwrap();
        assert_eq!(
            summary(&first.messages),
            vec![(
                "bob".to_owned(),
                Addressed::Direct,
                None,
                "<b>hey</b>, got a sec?[2J".to_owned(),
                false
            )],
            "the channel chatter is not for the user; control characters go, markup stays text"
        );
        assert_eq!(first.messages[0].reply_to.conversation, DM_WITH_BOB);
        assert!(
            first.messages[0]
                .url
                .as_deref()
                .is_some_and(|u| u.contains("/_redirect/pl/")),
            "a permalink: {:?}",
            first.messages[0].url
        );
        cursor = first.cursor;

        let reader = {
            let (mattermost, cursor) = (mattermost.clone(), cursor.clone());
            tokio::spawn(async move { mattermost.fetch(Some(&cursor), Duration::ZERO).await })
        };
        until("a second socket", || server.now().sockets_opened == 2).await;
        server.post_as(
            BOB_ID,
            TOWN_SQUARE,
            "@alice can you review the release notes?",
            json!({}),
        );
        let second = reader.await.unwrap().unwrap();
        assert_eq!(
            summary(&second.messages),
            vec![(
                "bob".to_owned(),
                Addressed::Mention,
                Some("Town Square".to_owned()),
                "@alice can you review the release notes?".to_owned(),
                false
            )]
        );
    }

    #[tokio::test]
    async fn what_came_while_no_socket_was_open_is_read_back() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let cursor = mattermost.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;
        server.post_as(BOB_ID, DM_WITH_BOB, "are you there?", json!({}));
        server.post_as(BOB_ID, TOWN_SQUARE, "thanks @alice.", json!({}));
        server.post_as(BOB_ID, TOWN_SQUARE, "general chatter", json!({}));
        server.post_as(
            BOB_ID,
            DM_WITH_BOB,
            "build 812 passed",
            json!({ "from_bot": "true" }),
        );
        server.post_as(USER_ID, DM_WITH_BOB, "my own, from my phone", json!({}));

        let batch = mattermost
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            summary(&batch.messages),
            vec![
                (
                    "bob".to_owned(),
                    Addressed::Direct,
                    None,
                    "are you there?".to_owned(),
                    false
                ),
                (
                    "bob".to_owned(),
                    Addressed::Mention,
                    Some("Town Square".to_owned()),
                    "thanks @alice.".to_owned(),
                    false
                ),
                (
                    "bob".to_owned(),
                    Addressed::Direct,
                    None,
                    "build 812 passed".to_owned(),
                    true
                ),
            ],
            "oldest first; own posts and unmentioning chatter skipped; bots are automated"
        );

        let reader =
            tokio::spawn(
                async move { mattermost.fetch(Some(&batch.cursor), Duration::ZERO).await },
            );
        until("the event socket", || server.now().sockets_opened == 2).await;
        server.close_sockets();
        let error = reader.await.unwrap().unwrap_err();
        assert!(
            matches!(error, AdapterError::Unavailable { .. }) && error.is_transient(),
            "a closed socket is retried, not fatal: {error}"
        );
    }

    #[tokio::test]
    async fn one_marked_reply_and_no_answer_to_another_deepwork() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let cursor = mattermost.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;
        server.post_as(BOB_ID, DM_WITH_BOB, "hi", json!({}));
        let batch = mattermost
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap();
        mattermost
            .reply(&batch.messages[0].reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let reply = server.now().posts.last().cloned().unwrap();
        assert_eq!(
            (reply.user_id.as_str(), reply.channel_id.as_str()),
            (USER_ID, DM_WITH_BOB)
        );
        assert_eq!(reply.props[AUTO_REPLY_PROP], "true");

        server.post_as(
            BOB_ID,
            DM_WITH_BOB,
            "I'm in deep work until 15:00.",
            json!({ AUTO_REPLY_PROP: "true" }),
        );
        let next = mattermost
            .fetch(Some(&batch.cursor), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            summary(&next.messages),
            vec![(
                "bob".to_owned(),
                Addressed::Direct,
                None,
                "I'm in deep work until 15:00.".to_owned(),
                true
            )],
            "our reply is our own; bob's Deepwork reply is automated, so no loop"
        );
    }
}

mod slack_messages {
    //! Slack direct messages and auto-replies against the contract server.

    use deepwork_adapters::slack::{AUTO_REPLY_EVENT, SlackAdapter};
    use deepwork_adapters::{Addressed, MessageSource, Replier};
    use deepwork_harness::slack::{ME, SlackContract, TOKEN};
    use std::time::Duration;

    #[tokio::test]
    async fn direct_messages_are_read_and_one_reply_is_marked() {
        let server = SlackContract::start().await;
        server
            .state
            .lock()
            .unwrap()
            .post("D0BOB", Some("U0BOB"), None, "from before the session");
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let start = slack.fetch(None, Duration::ZERO).await.unwrap();
        assert!(start.messages.is_empty(), "history is not imported as new");
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post("D0BOB", Some("U0BOB"), None, "hey, got a sec?\u{1b}[2J");
            state.post("D0CI", None, Some("B0CI"), "build 812 passed");
            state.post("D0BOB", Some(ME), None, "my own message from my phone");
        }
        let batch = slack
            .fetch(Some(&start.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        let seen: Vec<(&str, bool, &str, Addressed)> = batch
            .messages
            .iter()
            .map(|m| (m.sender.as_str(), m.automated, m.text.as_str(), m.addressed))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("U0BOB", false, "hey, got a sec?[2J", Addressed::Direct),
                ("B0CI", true, "build 812 passed", Addressed::Direct)
            ],
            "own messages skipped, bots marked automated, control characters dropped"
        );

        slack
            .reply(&batch.messages[0].reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let posted = server.now().messages.last().cloned().unwrap();
        assert_eq!(
            (posted.channel.as_str(), posted.user.as_deref()),
            ("D0BOB", Some(ME))
        );
        assert_eq!(posted.metadata.unwrap()["event_type"], AUTO_REPLY_EVENT);

        let again = slack
            .fetch(Some(&batch.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        assert!(
            again.messages.is_empty(),
            "nothing is read twice, and the reply is our own: {:?}",
            again.messages
        );
    }

    #[tokio::test]
    async fn the_first_read_position_is_slacks_now_not_ours() {
        let server = SlackContract::start().await;
        // Slack's clock is ten minutes behind this machine's.
        server.state.lock().unwrap().clock_skew_secs = -600;
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let start = slack.fetch(None, Duration::ZERO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        server.state.lock().unwrap().post(
            "D0BOB",
            Some("U0BOB"),
            None,
            "prod is down, are you there?",
        );
        let batch = slack
            .fetch(Some(&start.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(batch.messages.len(), 1, "not skipped: {:?}", start.cursor);
    }

    #[tokio::test]
    async fn slack_escapes_mentions_and_links_read_as_people_wrote_them() {
        let server = SlackContract::start().await;
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let start = slack.fetch(None, Duration::ZERO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // As Slack sends what bob typed: "<script>alert(1)</script> Q&A for @alice, see
        // the doc" with a mention of alice and a labelled link.
        server.state.lock().unwrap().post(
            "D0BOB",
            Some("U0BOB"),
            None,
            "&lt;script&gt;alert(1)&lt;/script&gt; Q&amp;A for <@U0ALICE>, see <https://docs.example/a?b=1&amp;c=2|the doc>",
        );
        let batch = slack
            .fetch(Some(&start.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(
            batch.messages[0].text,
            "<script>alert(1)</script> Q&A for @alice, see the doc"
        );
        assert_eq!(batch.messages[0].sender_name.as_deref(), Some("bob"));
    }

    #[tokio::test]
    async fn another_deepworks_reply_is_automated() {
        let server = SlackContract::start().await;
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let start = slack.fetch(None, Duration::ZERO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post(
                "D0BOB",
                Some("U0BOB"),
                None,
                "I'm in deep work until 15:00.",
            );
            let last = state.messages.last_mut().unwrap();
            last.metadata =
                Some(serde_json::json!({ "event_type": AUTO_REPLY_EVENT, "event_payload": {} }));
        }
        let batch = slack
            .fetch(Some(&start.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(batch.messages.len(), 1);
        assert!(
            batch.messages[0].automated,
            "two Deepwork users never answer each other's auto-replies"
        );
    }
}

mod slack_socket_mode {
    //! Slack messages pushed over Socket Mode by the contract server.

    use super::until;
    use deepwork_adapters::slack::SlackAdapter;
    use deepwork_adapters::{AdapterError, Addressed, Batch, MessageSource, Replier};
    use deepwork_harness::slack::{APP_TOKEN, GENERAL, ME, SlackContract, TOKEN};
    use std::sync::Arc;
    use std::time::Duration;

    fn read_from(
        slack: &Arc<SlackAdapter>,
        cursor: &str,
    ) -> tokio::task::JoinHandle<Result<Batch, AdapterError>> {
        let (slack, cursor) = (slack.clone(), cursor.to_owned());
        tokio::spawn(async move { slack.fetch(Some(&cursor), Duration::from_secs(25)).await })
    }

    fn socket_mode(server: &SlackContract) -> Arc<SlackAdapter> {
        Arc::new(
            SlackAdapter::new(&server.api, TOKEN.into())
                .unwrap()
                .with_app_token(APP_TOKEN.into()),
        )
    }

    #[tokio::test]
    async fn mentions_and_direct_messages_are_pushed_and_acknowledged() {
        let server = SlackContract::start().await;
        let slack = socket_mode(&server);
        let cursor = slack.fetch(None, Duration::ZERO).await.unwrap().cursor;
        let reader = read_from(&slack, &cursor);
        until("a Socket Mode connection", || {
            server.now().connections_opened == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let calls = server.now().calls.len();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            server.now().calls.len(),
            calls,
            "a waiting read calls no method"
        );

        server
            .state
            .lock()
            .unwrap()
            .post(GENERAL, Some("U0BOB"), None, "lunch anyone?");
        server.state.lock().unwrap().post(
            GENERAL,
            Some("U0BOB"),
            None,
            &format!("<@{ME}> can you look at the release?\u{7}"),
        );
        let batch = reader.await.unwrap().unwrap();
        let seen: Vec<_> = batch
            .messages
            .iter()
            .map(|m| {
                (
                    m.sender_name.as_deref(),
                    m.addressed,
                    m.channel.as_deref(),
                    m.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![(
                Some("bob"),
                Addressed::Mention,
                Some("general"),
                "@alice can you look at the release?"
            )],
            "the chatter is not for the user; the mention comes once though Slack sends it as a message and an app_mention"
        );
        until("every envelope acknowledged", || {
            server.now().acked.len() == 3
        })
        .await;

        let reader = read_from(&slack, &batch.cursor);
        server
            .state
            .lock()
            .unwrap()
            .post("D0BOB", Some("U0BOB"), None, "hi");
        let direct = reader.await.unwrap().unwrap();
        assert_eq!(direct.messages.len(), 1);
        assert_eq!(
            (
                direct.messages[0].addressed,
                direct.messages[0].text.as_str()
            ),
            (Addressed::Direct, "hi")
        );
        slack
            .reply(
                &direct.messages[0].reply_to,
                "I'm in deep work until 14:00.",
            )
            .await
            .unwrap();
        server
            .state
            .lock()
            .unwrap()
            .post("D0CI", None, Some("B0CI"), "build 812 passed");
        let next = read_from(&slack, &direct.cursor).await.unwrap().unwrap();
        assert_eq!(
            next.messages.len(),
            1,
            "our own reply is skipped: {:?}",
            next.messages
        );
        assert!(next.messages[0].automated, "bots are automated");
        assert_eq!(
            server.now().connections_opened,
            1,
            "one connection throughout"
        );
    }

    #[tokio::test]
    async fn a_refreshed_connection_reads_back_what_came_in_between() {
        let server = SlackContract::start().await;
        let slack = socket_mode(&server);
        let cursor = slack.fetch(None, Duration::ZERO).await.unwrap().cursor;
        let reader = read_from(&slack, &cursor);
        until("a Socket Mode connection", || {
            server.now().connections_opened == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.disconnect("refresh_requested");
        let empty = reader.await.unwrap().unwrap();
        assert!(empty.messages.is_empty());
        server
            .state
            .lock()
            .unwrap()
            .post("D0BOB", Some("U0BOB"), None, "while you were away");
        let batch = read_from(&slack, &empty.cursor).await.unwrap().unwrap();
        assert_eq!(server.now().connections_opened, 2, "a new connection");
        assert_eq!(
            batch
                .messages
                .iter()
                .map(|m| m.text.as_str())
                .collect::<Vec<_>>(),
            ["while you were away"],
            "read back from the history"
        );
    }

    #[tokio::test]
    async fn socket_mode_problems_say_what_to_do() {
        let server = SlackContract::start().await;
        let wrong = Arc::new(
            SlackAdapter::new(&server.api, TOKEN.into())
                .unwrap()
                .with_app_token(TOKEN.into()),
        );
        let cursor = wrong.fetch(None, Duration::ZERO).await.unwrap().cursor;
        let error = wrong
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("app-level token"),
            "{error}"
        );

        let slack = socket_mode(&server);
        let reader = read_from(&slack, &cursor);
        until("a Socket Mode connection", || {
            server.now().connections_opened == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.disconnect("link_disabled");
        let error = reader.await.unwrap().unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("Socket Mode was turned off"),
            "{error}"
        );
    }
}

mod plugins {
    //! The plugin protocol against the reference plugin in examples/plugins.

    use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
    use deepwork_adapters::{AdapterError, FocusStatus, MessageSource, Replier, StatusAdapter};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn plugin(dir: &Path, protocol: &str) -> PluginAdapter {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/plugins/inbox.py");
        PluginAdapter::new(PluginCommand {
            name: "inbox".into(),
            program: "python3".into(),
            args: vec![script.display().to_string()],
            env: vec![
                ("INBOX_DIR".into(), dir.display().to_string()),
                ("INBOX_PROTOCOL".into(), protocol.into()),
            ],
        })
    }

    #[tokio::test]
    async fn a_plugin_sets_status_delivers_messages_and_replies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("status.json"),
            r#"{"text": "lunch", "until": null}"#,
        )
        .unwrap();
        let inbox = plugin(dir.path(), "1");
        let info = inbox.info().await.unwrap();
        assert_eq!((info.protocol, info.roles.len()), (1, 3));

        let snapshot = inbox.snapshot().await.unwrap();
        let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
        inbox
            .set_focus(&FocusStatus {
                text: "Deep work".into(),
                until,
            })
            .await
            .unwrap();
        let shown = std::fs::read_to_string(dir.path().join("status.json")).unwrap();
        assert!(shown.contains("Deep work"), "{shown}");

        let start = inbox.fetch(None, Duration::ZERO).await.unwrap();
        std::fs::write(
            dir.path().join("inbox.jsonl"),
            "{\"sender\": \"bob\", \"text\": \"hi\\u001b[2J\", \"direct\": true}\n",
        )
        .unwrap();
        let batch = inbox
            .fetch(Some(&start.cursor), Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(batch.messages.len(), 1);
        assert_eq!(
            (
                batch.messages[0].sender.as_str(),
                batch.messages[0].text.as_str()
            ),
            ("bob", "hi[2J")
        );
        inbox
            .reply(&batch.messages[0].reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let outbox = std::fs::read_to_string(dir.path().join("outbox.jsonl")).unwrap();
        assert!(outbox.contains("deep work until 14:00"), "{outbox}");

        inbox.restore(&snapshot).await.unwrap();
        let back = std::fs::read_to_string(dir.path().join("status.json")).unwrap();
        assert!(back.contains("lunch"), "{back}");
    }

    #[tokio::test]
    async fn a_plugin_of_another_protocol_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let error = plugin(dir.path(), "2").snapshot().await.unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("speaks protocol 2, this Deepwork speaks 1"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_plugin_writing_without_end_of_line_is_cut_off() {
        let error = PluginAdapter::new(PluginCommand {
            name: "firehose".into(),
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "head -c 9000000 /dev/zero | tr '\\0' x; exec sleep 60".into(),
            ],
            env: vec![],
        })
        .snapshot()
        .await
        .unwrap_err();
        assert!(error.to_string().contains("a line over 4 MiB"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_plugin_says_so() {
        let error = PluginAdapter::new(PluginCommand {
            name: "ghost".into(),
            program: "/nonexistent/plugin".into(),
            args: vec![],
            env: vec![],
        })
        .snapshot()
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot run the plugin /nonexistent/plugin"),
            "{error}"
        );
    }
}

mod teams {
    //! Microsoft Teams against a contract server for the identity platform and Graph.

    use super::{FOCUS, focus};
    use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints, start_sign_in};
    use deepwork_adapters::{
        AdapterError, Addressed, FocusStatus, MessageSource, Replier, StatusAdapter,
    };
    use deepwork_harness::teams::{
        BOB, CHAT_WITH_BOB, CLIENT_ID, ME, TEAM_CHAT, TeamsContract, USER_CODE,
    };
    use serde_json::json;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn endpoints(server: &TeamsContract, client_id: &str) -> TeamsEndpoints {
        TeamsEndpoints::new(&server.authority, "organizations", &server.graph, client_id).unwrap()
    }

    /// An adapter on the server's current refresh token, and the tokens it kept.
    fn adapter(server: &TeamsContract) -> (TeamsAdapter, Arc<Mutex<Vec<String>>>) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let keep = kept.clone();
        let refresh = server.now().refresh_token;
        let teams = TeamsAdapter::new(
            endpoints(server, CLIENT_ID),
            refresh,
            Box::new(move |token: &str| keep.lock().unwrap().push(token.to_owned())),
        )
        .unwrap();
        (teams, kept)
    }

    #[tokio::test]
    async fn device_code_sign_in_waits_for_the_user() {
        let server = TeamsContract::start().await;
        let (shown, pending) = start_sign_in(&endpoints(&server, CLIENT_ID)).await.unwrap();
        assert_eq!(shown.user_code, USER_CODE);
        assert!(shown.message.contains("devicelogin"), "{}", shown.message);
        let refresh = pending.finish().await.unwrap();
        assert_eq!(refresh, server.now().refresh_token);

        let error = start_sign_in(&endpoints(&server, "not-registered"))
            .await
            .unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("client_id"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn do_not_disturb_and_status_message_are_set_and_restored() {
        let server = TeamsContract::start().await;
        server.state.lock().unwrap().status_message = Some(json!({
            "message": { "content": "In the Berlin office", "contentType": "text" },
            "expiryDateTime": { "dateTime": "9999-12-30T23:59:59.9999999", "timeZone": "UTC" },
        }));
        let (teams, kept) = adapter(&server);
        let snapshot = teams.snapshot().await.unwrap();
        assert_eq!(
            kept.lock().unwrap().as_slice(),
            [server.now().refresh_token],
            "the rotated refresh token is handed over to be kept"
        );
        teams.set_focus(&focus()).await.unwrap();
        let now = server.now();
        assert_eq!(now.availability(), "DoNotDisturb");
        let session = &now.sessions[CLIENT_ID];
        assert_eq!(
            (session.activity.as_str(), session.duration.as_str()),
            ("Presenting", "PT120M")
        );
        assert_eq!(
            now.status_message.as_ref().unwrap()["message"]["content"],
            FOCUS
        );

        teams.restore(&snapshot).await.unwrap();
        let now = server.now();
        assert_eq!(now.availability(), "Available");
        assert!(
            now.sessions.is_empty(),
            "Deepwork's presence session is cleared"
        );
        assert_eq!(
            now.status_message.as_ref().unwrap()["message"]["content"],
            "In the Berlin office"
        );

        let long = FocusStatus {
            text: FOCUS.into(),
            until: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(6),
        };
        teams.set_focus(&long).await.unwrap();
        assert_eq!(
            server.now().sessions[CLIENT_ID].duration,
            "PT240M",
            "Graph's longest; renewed before it lapses"
        );
        let empty = deepwork_adapters::StatusSnapshot {
            adapter: "teams".into(),
            data: json!({ "availability": "Available", "status_message": null }),
        };
        teams.restore(&empty).await.unwrap();
        assert!(
            server.now().status_message.is_none(),
            "no message before, none after"
        );
    }

    #[tokio::test]
    async fn chat_messages_are_polled_and_one_reply_sent() {
        let server = TeamsContract::start().await;
        let (teams, _) = adapter(&server);
        server
            .state
            .lock()
            .unwrap()
            .post(CHAT_WITH_BOB, Some((BOB, "Bob")), "<p>old</p>", &[]);
        let cursor = teams.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post(
                CHAT_WITH_BOB,
                Some((BOB, "Bob")),
                "<p>got a sec?&nbsp;<b>urgent</b></p>",
                &[],
            );
            state.post(TEAM_CHAT, Some((BOB, "Bob")), "<p>lunch?</p>", &[]);
            state.post(
                TEAM_CHAT,
                Some((BOB, "Bob")),
                "<p><at id=\"0\">Alice</at> please review</p>",
                &[ME],
            );
            state.post(
                TEAM_CHAT,
                None,
                "<p>build 812 failed, <at id=\"0\">Alice</at></p>",
                &[ME],
            );
        }
        let batch = teams.fetch(Some(&cursor), Duration::ZERO).await.unwrap();
        let seen: Vec<_> = batch
            .messages
            .iter()
            .map(|m| {
                (
                    m.sender_name.as_deref().unwrap_or(""),
                    m.addressed,
                    m.channel.as_deref(),
                    m.text.as_str(),
                    m.automated,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("Bob", Addressed::Direct, None, "got a sec? urgent", false),
                (
                    "Bob",
                    Addressed::Mention,
                    Some("Release team"),
                    "Alice please review",
                    false
                ),
                (
                    "Build Bot",
                    Addressed::Mention,
                    Some("Release team"),
                    "build 812 failed, Alice",
                    true
                ),
            ],
            "oldest first; the group's chatter skipped; bots automated; HTML made plain"
        );
        teams
            .reply(&batch.messages[0].reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let reply = server.now().messages.last().cloned().unwrap();
        assert_eq!(reply.chat, CHAT_WITH_BOB);
        assert_eq!(reply.user.as_ref().map(|u| u.0.as_str()), Some(ME));
        let next = teams
            .fetch(Some(&batch.cursor), Duration::from_millis(10))
            .await
            .unwrap();
        assert!(
            next.messages.is_empty(),
            "our own reply: {:?}",
            next.messages
        );
    }

    #[tokio::test]
    async fn teams_failures_say_what_to_do() {
        let server = TeamsContract::start().await;
        let (teams, _) = adapter(&server);
        teams.snapshot().await.unwrap();

        server.state.lock().unwrap().expire_access_tokens();
        teams
            .snapshot()
            .await
            .expect("an expired access token is replaced without the user");

        server.state.lock().unwrap().rate_limit_next = 1;
        let error = teams.snapshot().await.unwrap_err();
        assert!(
            matches!(error, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
            "{error}"
        );

        server
            .state
            .lock()
            .unwrap()
            .scopes
            .retain(|s| s != "Chat.Read");
        let cursor = teams.fetch(None, Duration::ZERO).await.unwrap().cursor;
        let error = teams
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("Chat.Read"),
            "{error}"
        );

        server.state.lock().unwrap().revoke();
        let error = teams.snapshot().await.unwrap_err();
        assert!(
            !error.is_transient()
                && error
                    .to_string()
                    .contains("deepwork adapters connect teams"),
            "{error}"
        );
    }
}

mod pumble {
    //! The Pumble plugin in examples/plugins against a contract server for Pumble's
    //! API addon.

    use super::FOCUS;
    use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
    use deepwork_adapters::{
        AdapterError, Addressed, FocusStatus, MessageSource, Replier, StatusAdapter,
    };
    use deepwork_harness::pumble::{BOB, DM_WITH_BOB, GENERAL, KEY, ME, PumbleContract};
    use std::path::PathBuf;
    use std::time::Duration;

    fn pumble(server: &PumbleContract, key: &str) -> PluginAdapter {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/plugins/pumble.py");
        PluginAdapter::new(PluginCommand {
            name: "pumble".into(),
            program: "python3".into(),
            args: vec![script.display().to_string()],
            env: vec![
                ("PUMBLE_API".into(), server.url.clone()),
                ("DEEPWORK_PLUGIN_TOKEN".into(), key.into()),
            ],
        })
    }

    #[tokio::test]
    async fn the_custom_status_is_set_and_restored() {
        let server = PumbleContract::start().await;
        let later = jiff::Timestamp::now().as_millisecond() + 86_400_000;
        server.state.lock().unwrap().custom_status =
            Some((":calendar:".into(), "In a meeting".into(), later));
        let plugin = pumble(&server, KEY);
        let snapshot = plugin.snapshot().await.unwrap();
        let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
        plugin
            .set_focus(&FocusStatus {
                text: FOCUS.into(),
                until,
            })
            .await
            .unwrap();
        assert_eq!(
            server.now().custom_status,
            Some((":headphones:".into(), FOCUS.into(), until.as_millisecond()))
        );
        plugin.restore(&snapshot).await.unwrap();
        assert_eq!(
            server.now().custom_status,
            Some((":calendar:".into(), "In a meeting".into(), later))
        );
    }

    #[tokio::test]
    async fn direct_messages_and_mentions_are_read_and_one_reply_sent() {
        let server = PumbleContract::start().await;
        server
            .state
            .lock()
            .unwrap()
            .post(DM_WITH_BOB, BOB, None, "from before the session");
        let plugin = pumble(&server, KEY);
        let start = plugin.fetch(None, Duration::ZERO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post(DM_WITH_BOB, BOB, None, "hi <b>there</b>\u{1b}[2J");
            state.post(GENERAL, BOB, None, "lunch anyone?");
            state.post(GENERAL, BOB, None, &format!("<<@{ME}>> can you review?"));
            state.post(DM_WITH_BOB, BOB, Some("app-ci"), "build 812 passed");
        }
        let batch = plugin
            .fetch(Some(&start.cursor), Duration::from_secs(2))
            .await
            .unwrap();
        let seen: Vec<_> = batch
            .messages
            .iter()
            .map(|m| {
                (
                    m.addressed,
                    m.channel.as_deref(),
                    m.text.as_str(),
                    m.automated,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Addressed::Direct, None, "hi <b>there</b>[2J", false),
                (
                    Addressed::Mention,
                    Some("general"),
                    "@alice can you review?",
                    false
                ),
                (Addressed::Direct, None, "build 812 passed", true),
            ],
            "history and channel chatter skipped; the mention readable; bots automated"
        );
        plugin
            .reply(&batch.messages[0].reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let reply = server.now().messages.last().cloned().unwrap();
        assert_eq!(
            (reply.channel_id.as_str(), reply.author.as_str()),
            (DM_WITH_BOB, ME)
        );
        let next = plugin
            .fetch(Some(&batch.cursor), Duration::from_millis(100))
            .await
            .unwrap();
        assert!(
            next.messages.is_empty(),
            "our own reply: {:?}",
            next.messages
        );
    }

    #[tokio::test]
    async fn pumble_failures_say_what_to_do() {
        let server = PumbleContract::start().await;
        let refused = pumble(&server, "revoked-key").snapshot().await.unwrap_err();
        assert!(
            matches!(&refused, AdapterError::Unauthorized { fix, .. } if fix.contains("deepwork adapters token pumble")),
            "{refused}"
        );
        server.state.lock().unwrap().rate_limit_next = 1;
        let limited = pumble(&server, KEY).snapshot().await.unwrap_err();
        assert!(
            matches!(limited, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
            "{limited}"
        );
    }
}

mod slack_sign_in {
    //! Signing in to Slack with OAuth v2 and PKCE, the contract server playing Slack's
    //! consent page and `oauth.v2.access`, and the test playing the browser.

    use deepwork_adapters::slack::start_sign_in;
    use deepwork_harness::slack::{CLIENT_ID, SlackContract, TOKEN};

    #[tokio::test]
    async fn the_browser_comes_back_with_a_code_that_becomes_the_user_token() {
        let server = SlackContract::start().await;
        let (page, pending) = start_sign_in(&server.api, &server.authorize(), CLIENT_ID)
            .await
            .unwrap();
        assert!(
            page.contains("code_challenge_method=S256") && !page.contains("client_secret"),
            "{page}"
        );
        let redirect = url_param(&page, "redirect_uri");
        assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
        let finish = tokio::spawn(pending.finish());

        // A connection that says nothing holds up no other.
        let port = reqwest::Url::parse(&redirect).unwrap().port().unwrap();
        let _stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();

        // A request without the sign-in's state is not taken for the answer.
        let forged = reqwest::get(format!("{redirect}?code=stolen&state=guess"))
            .await
            .unwrap();
        assert_eq!(forged.status(), 404);
        // The browser: Slack's page sends it back to Deepwork's loopback address.
        let landing = reqwest::get(&page).await.unwrap();
        assert_eq!(landing.status(), 200);
        assert!(
            landing
                .text()
                .await
                .unwrap()
                .contains("You can close this tab")
        );
        let token = tokio::time::timeout(std::time::Duration::from_secs(3), finish)
            .await
            .expect("signed in while a stalled connection stays open");
        assert_eq!(token.unwrap().unwrap(), TOKEN);
    }

    #[tokio::test]
    async fn a_declined_sign_in_says_so() {
        let server = SlackContract::start().await;
        server.state.lock().unwrap().deny_sign_in = true;
        let (page, pending) = start_sign_in(&server.api, &server.authorize(), CLIENT_ID)
            .await
            .unwrap();
        let finish = tokio::spawn(pending.finish());
        reqwest::get(&page).await.unwrap();
        let error = finish.await.unwrap().unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("access_denied"),
            "{error}"
        );
    }

    fn url_param(page: &str, key: &str) -> String {
        reqwest::Url::parse(page)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }
}

mod calendars {
    use deepwork_adapters::AdapterError;
    use deepwork_adapters::calendar::{CalendarClient, CalendarSource, Fetched};
    use deepwork_harness::radicale::{self, Radicale};
    use jiff::{SignedDuration, Timestamp};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(uid: &str, start: &str, summary: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//deepwork tests//EN\nBEGIN:VEVENT\nUID:{uid}\n\
             DTSTAMP:20261101T000000Z\nDTSTART;TZID=Europe/Berlin:{start}\nDURATION:PT1H\n\
             SUMMARY:{summary}\nEND:VEVENT\nEND:VCALENDAR\n"
        )
    }

    fn window() -> (Timestamp, Timestamp) {
        let from: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        (from, from + SignedDuration::from_hours(24 * 14))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn caldav_reads_the_window_and_knows_when_nothing_changed() {
        let mut server = Radicale::start();
        server.make_calendar("work").await;
        server
            .put(
                "work",
                "focus-1",
                &event("focus-1", "20261130T090000", "Focus: RFC"),
            )
            .await;
        server
            .put("work", "old", &event("old", "20250101T090000", "Long ago"))
            .await;
        let client = CalendarClient::new().unwrap();
        let source = CalendarSource {
            url: server.calendar_url("work").parse().unwrap(),
            caldav: true,
            sign_in: Some((radicale::USER.into(), radicale::PASSWORD.into())),
        };
        let (from, until) = window();
        let Fetched::Changed { body, validator } =
            client.fetch(&source, None, from, until).await.unwrap()
        else {
            panic!("the first read brings the calendar");
        };
        assert!(body.contains("UID:focus-1"), "{body}");
        assert!(
            !body.contains("UID:old"),
            "the time-range leaves old events out: {body}"
        );
        let validator = validator.expect("Radicale offers a sync-token");
        assert!(validator.starts_with("sync:"), "{validator}");
        assert_eq!(
            client
                .fetch(&source, Some(&validator), from, until)
                .await
                .unwrap(),
            Fetched::Unchanged
        );
        server
            .put(
                "work",
                "standup",
                &event("standup", "20261201T100000", "Standup"),
            )
            .await;
        let Fetched::Changed { body, .. } = client
            .fetch(&source, Some(&validator), from, until)
            .await
            .unwrap()
        else {
            panic!("a new event changes the sync-token");
        };
        assert!(body.contains("UID:standup") && body.contains("UID:focus-1"));

        let wrong = CalendarSource {
            sign_in: Some((radicale::USER.into(), "wrong".into())),
            ..source.clone()
        };
        let refused = client.fetch(&wrong, None, from, until).await.unwrap_err();
        assert!(
            matches!(&refused, AdapterError::Unauthorized { fix, .. } if fix.contains("deepwork plan password")),
            "{refused:?}"
        );
        server.stop();
        let down = client
            .fetch(&source, Some(&validator), from, until)
            .await
            .unwrap_err();
        assert!(matches!(down, AdapterError::Unavailable { .. }), "{down:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_ics_feed_is_read_again_only_when_its_etag_changed() {
        use axum::http::{HeaderMap, StatusCode, header};
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        let app = axum::Router::new()
            .route(
                "/team.ics",
                axum::routing::get(move |headers: HeaderMap| {
                    let count = count.clone();
                    async move {
                        if headers
                            .get(header::IF_NONE_MATCH)
                            .and_then(|v| v.to_str().ok())
                            == Some("\"v1\"")
                        {
                            return (
                                StatusCode::NOT_MODIFIED,
                                [(header::ETAG, "\"v1\"")],
                                String::new(),
                            );
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        (
                            StatusCode::OK,
                            [(header::ETAG, "\"v1\"")],
                            event("team", "20261130T140000", "Design review"),
                        )
                    }
                }),
            )
            .route(
                "/broken.ics",
                axum::routing::get(|| async { "<html>sign in</html>" }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = CalendarClient::new().unwrap();
        let source = CalendarSource {
            url: format!("http://{address}/team.ics").parse().unwrap(),
            caldav: false,
            sign_in: None,
        };
        let (from, until) = window();
        let Fetched::Changed { body, validator } =
            client.fetch(&source, None, from, until).await.unwrap()
        else {
            panic!("the first read brings the feed");
        };
        assert!(body.contains("Design review"));
        assert_eq!(validator.as_deref(), Some("etag:\"v1\""));
        assert_eq!(
            client
                .fetch(&source, validator.as_deref(), from, until)
                .await
                .unwrap(),
            Fetched::Unchanged
        );
        assert_eq!(served.load(Ordering::SeqCst), 1, "the 304 sent no body");
        let broken = CalendarSource {
            url: format!("http://{address}/broken.ics").parse().unwrap(),
            ..source
        };
        let error = client.fetch(&broken, None, from, until).await.unwrap_err();
        assert!(matches!(error, AdapterError::Malformed { .. }), "{error:?}");
    }
}

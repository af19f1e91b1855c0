//! The chat adapters noticing that the user answered held messages where they live:
//! Matrix against a real Synapse, Slack, Mattermost and Teams against contract servers
//! written from their references. Each held message also links back to itself.

use deepwork_adapters::{Asked, FollowUp, IncomingMessage, MessageSource};
use jiff::Timestamp;
use std::time::{Duration, Instant};

/// What the engine asks of the items it held from `messages`, which arrived `since`.
fn asked(messages: &[&IncomingMessage], since: Timestamp) -> Vec<Asked> {
    messages
        .iter()
        .map(|message| Asked {
            message_id: message.id.clone(),
            conversation: message.reply_to.conversation.clone(),
            since,
        })
        .collect()
}

/// The message ids `follow_up` says were answered, sorted.
async fn answered(follow_up: &dyn FollowUp, asked: &[Asked]) -> Vec<String> {
    let mut ids: Vec<String> = follow_up
        .answered(asked)
        .await
        .expect("answered")
        .into_iter()
        .map(|a| a.message_id)
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    ids.sort();
    ids
}

/// The message whose text contains `text`.
fn find<'a>(messages: &'a [IncomingMessage], text: &str) -> &'a IncomingMessage {
    messages
        .iter()
        .find(|m| m.text.contains(text))
        .unwrap_or_else(|| panic!("no message with {text:?} in {messages:?}"))
}

/// Reads until `count` messages came or 15 s passed.
async fn read_at_least(
    source: &dyn MessageSource,
    cursor: &mut String,
    count: usize,
    wait: Duration,
) -> Vec<IncomingMessage> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut messages = Vec::new();
    while messages.len() < count && Instant::now() < deadline {
        let batch = source.fetch(Some(cursor), wait).await.expect("read");
        *cursor = batch.cursor;
        messages.extend(batch.messages);
    }
    messages
}

/// Polls `done` every 10 ms for up to 10 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

mod matrix {
    use super::*;
    use deepwork_adapters::Replier;
    use deepwork_adapters::matrix::MatrixAdapter;
    use deepwork_harness::synapse::{Person, Synapse};
    use serde_json::{Value, json};

    /// `person` sends `content` to `room` as a client would; returns the event's id.
    async fn send(synapse: &Synapse, person: &Person, room: &str, content: Value) -> String {
        let txn = Timestamp::now().as_nanosecond();
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/send/m.room.message/t{txn}",
            synapse.base(),
            encoded(room)
        );
        let sent: Value = reqwest::Client::new()
            .put(url)
            .bearer_auth(&person.token)
            .json(&content)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("event id");
        sent["event_id"].as_str().expect("event id").to_owned()
    }

    fn encoded(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_in_the_room_or_the_thread_count_notices_and_earlier_words_do_not() {
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
        let adapter =
            MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap();
        let mut cursor = adapter.fetch(None, Duration::ZERO).await.unwrap().cursor;

        bob.send(&dm, "can you review my PR?").await;
        carol.send(&team, "alice: is the deploy blocked?").await;
        carol.send(&team, "alice: lunch on friday?").await;
        // Before Deepwork read them: not an answer to either.
        send(
            &synapse,
            &alice,
            &team,
            json!({ "msgtype": "m.text", "body": "morning all" }),
        )
        .await;
        let held = read_at_least(&adapter, &mut cursor, 3, Duration::from_secs(2)).await;
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let review = find(&held, "review my PR");
        let deploy = find(&held, "deploy");
        let lunch = find(&held, "lunch");
        for message in [review, deploy, lunch] {
            assert_eq!(
                message.url.as_deref(),
                Some(
                    format!(
                        "https://matrix.to/#/{}/{}?via=localhost",
                        encoded(&message.reply_to.conversation),
                        encoded(&message.id)
                    )
                    .as_str()
                ),
                "a percent-encoded matrix.to link, routed through alice's server"
            );
        }
        let asked = asked(&[review, deploy, lunch], since);

        adapter
            .reply(&review.reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        send(
            &synapse,
            &alice,
            &team,
            json!({
                "msgtype": "m.text",
                "body": "not blocked anymore",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": deploy.id,
                    "is_falling_back": true,
                    "m.in_reply_to": { "event_id": deploy.id },
                },
            }),
        )
        .await;
        assert_eq!(
            answered(&adapter, &asked).await,
            sorted(&[&deploy.id]),
            "the thread reply answers its item only; the notice and the earlier words answer nothing"
        );

        send(
            &synapse,
            &alice,
            &dm,
            json!({ "msgtype": "m.text", "body": "sure, looking now" }),
        )
        .await;
        let answers = adapter.answered(&asked).await.unwrap();
        let mut ids: Vec<&str> = answers.iter().map(|a| a.message_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, sorted(&[&deploy.id, &review.id]), "any word in the DM");
        assert!(
            answers
                .iter()
                .all(|a| a.at > since && a.at <= Timestamp::now()),
            "answered when the user wrote: {answers:?}"
        );
    }
}

mod slack {
    use super::*;
    use deepwork_adapters::slack::SlackAdapter;
    use deepwork_adapters::{AdapterError, Replier};
    use deepwork_harness::slack::{APP_TOKEN, GENERAL, ME, SlackContract, TOKEN};
    use std::sync::Arc;

    /// The instant of a Slack timestamp.
    fn slack_time(ts: &str) -> Timestamp {
        let (seconds, micros) = ts.split_once('.').unwrap();
        Timestamp::new(
            seconds.parse().unwrap(),
            micros.parse::<i32>().unwrap() * 1_000,
        )
        .unwrap()
    }

    fn history_calls(server: &SlackContract) -> usize {
        server
            .now()
            .calls
            .iter()
            .filter(|c| *c == "conversations.history")
            .count()
    }

    #[tokio::test]
    async fn answers_in_the_conversation_or_the_thread_count_auto_replies_and_earlier_words_do_not()
    {
        let server = SlackContract::start().await;
        {
            let mut state = server.state.lock().unwrap();
            state.scopes.push("channels:history".into());
            state.ims.push(("D0CAROL".into(), "U0CAROL".into()));
            state.ims.push(("D0DAN".into(), "U0DAN".into()));
        }
        let slack = Arc::new(
            SlackAdapter::new(&server.api, TOKEN.into())
                .unwrap()
                .with_app_token(APP_TOKEN.into()),
        );
        let mut cursor = slack.fetch(None, Duration::ZERO).await.unwrap().cursor;
        let reader = {
            let (slack, cursor) = (slack.clone(), cursor.clone());
            tokio::spawn(async move { slack.fetch(Some(&cursor), Duration::from_secs(25)).await })
        };
        until("a Socket Mode connection", || {
            server.now().connections_opened == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post("D0BOB", Some("U0BOB"), None, "can you review my PR?");
            state.post(
                GENERAL,
                Some("U0BOB"),
                None,
                &format!("<@{ME}> is the deploy blocked?"),
            );
            state.post(
                GENERAL,
                Some("U0BOB"),
                None,
                &format!("<@{ME}> lunch on friday?"),
            );
            state.post(
                "D0CAROL",
                Some("U0CAROL"),
                None,
                "are you coming to the demo?",
            );
            state.post("D0DAN", Some("U0DAN"), None, "did the invoice go out?");
            // Before Deepwork read it: not an answer.
            state.post("D0DAN", Some(ME), None, "yes, this morning");
        }
        let first = reader.await.unwrap().unwrap();
        cursor = first.cursor;
        let mut held = first.messages;
        held.extend(
            read_at_least(
                &*slack,
                &mut cursor,
                5 - held.len(),
                Duration::from_secs(25),
            )
            .await,
        );
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let review = find(&held, "review my PR");
        let deploy = find(&held, "deploy");
        let lunch = find(&held, "lunch");
        let demo = find(&held, "demo");
        let invoice = find(&held, "invoice");
        for message in [review, deploy, lunch, demo, invoice] {
            assert_eq!(
                message.url,
                Some(format!(
                    "https://acme.slack.com/archives/{}/p{}",
                    message.reply_to.conversation,
                    message.id.replace('.', "")
                )),
                "the permalink Slack gave"
            );
        }
        let asked = asked(&[review, deploy, lunch, demo, invoice], since);

        let (in_dm, in_thread) = {
            let mut state = server.state.lock().unwrap();
            let in_dm = state.post("D0BOB", Some(ME), None, "looking now");
            let in_thread = state.reply(GENERAL, &deploy.id, ME, "not blocked anymore");
            (in_dm, in_thread)
        };
        slack
            .reply(&demo.reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        let answers = slack.answered(&asked).await.unwrap();
        let mut seen: Vec<(&str, Timestamp)> = answers
            .iter()
            .map(|a| (a.message_id.as_str(), a.at))
            .collect();
        seen.sort_unstable();
        let mut expected = vec![
            (review.id.as_str(), slack_time(&in_dm)),
            (deploy.id.as_str(), slack_time(&in_thread)),
        ];
        expected.sort_unstable();
        assert_eq!(
            seen, expected,
            "the DM answer and the thread reply, when written; not lunch (another thread), \
             the demo (only an auto-reply) or the invoice (answered before it was read)"
        );

        // Without channels:history the channel cannot be read; the DMs still are.
        server
            .state
            .lock()
            .unwrap()
            .scopes
            .retain(|s| s != "channels:history");
        assert_eq!(answered(&*slack, &asked).await, sorted(&[&review.id]));
        let error = slack.answered(&asked[1..3]).await.unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. })
                && error.to_string().contains("channels:history"),
            "when nothing could be read, why: {error}"
        );

        server.state.lock().unwrap().rate_limit_next = 1;
        let error = slack.answered(&asked).await.unwrap_err();
        assert!(
            matches!(error, AdapterError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
            "a rate limit stops the round: {error}"
        );
    }

    #[tokio::test]
    async fn any_thread_of_a_direct_conversation_counts_and_answers_are_found_pages_back() {
        let server = SlackContract::start().await;
        server
            .state
            .lock()
            .unwrap()
            .scopes
            .push("channels:history".into());
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let (item_dm, later_dm, item_channel, later_channel) = {
            let mut state = server.state.lock().unwrap();
            (
                state.post("D0BOB", Some("U0BOB"), None, "one more thing"),
                state.post("D0BOB", Some("U0BOB"), None, "and another"),
                state.post(
                    GENERAL,
                    Some("U0BOB"),
                    None,
                    &format!("<@{ME}> one more thing"),
                ),
                state.post(GENERAL, Some("U0BOB"), None, "a thread of its own"),
            )
        };
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.reply("D0BOB", &later_dm, ME, "answering both down here");
            state.reply(GENERAL, &later_channel, ME, "answering that thread only");
        }
        let item = |id: &str, conversation: &str| Asked {
            message_id: id.to_owned(),
            conversation: conversation.to_owned(),
            since,
        };
        assert_eq!(
            answered(
                &slack,
                &[item(&item_dm, "D0BOB"), item(&item_channel, GENERAL)]
            )
            .await,
            sorted(&[&item_dm]),
            "in a DM any thread is the conversation; in a channel another thread is not"
        );

        let ping = server
            .state
            .lock()
            .unwrap()
            .post("D0BOB", Some("U0BOB"), None, "ping");
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let pong = {
            let mut state = server.state.lock().unwrap();
            let pong = state.post("D0BOB", Some(ME), None, "pong");
            for i in 0..450 {
                state.post("D0BOB", Some("U0BOB"), None, &format!("chatter {i}"));
            }
            pong
        };
        let before = history_calls(&server);
        let answers = slack
            .answered(&[Asked {
                message_id: ping.clone(),
                conversation: "D0BOB".into(),
                since,
            }])
            .await
            .unwrap();
        assert_eq!(
            answers
                .iter()
                .map(|a| (a.message_id.as_str(), a.at))
                .collect::<Vec<_>>(),
            vec![(ping.as_str(), slack_time(&pong))],
            "the answer under 450 later messages"
        );
        assert_eq!(
            history_calls(&server) - before,
            3,
            "three pages of 200, joined by their cursors"
        );
    }
}

mod mattermost {
    use super::*;
    use deepwork_adapters::mattermost::MattermostAdapter;
    use deepwork_adapters::{AdapterError, Replier};
    use deepwork_harness::mattermost::{
        BOB_ID, DM_WITH_BOB, MattermostContract, TEAM_NAME, TOKEN, TOWN_SQUARE, USER_ID,
    };
    use serde_json::json;

    #[tokio::test]
    async fn answers_in_the_channel_or_the_thread_count_auto_replies_and_earlier_words_do_not() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let cursor = mattermost.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let release = server.post_as(BOB_ID, TOWN_SQUARE, "release thread", json!({}));
        server.post_as(BOB_ID, DM_WITH_BOB, "got a sec?", json!({}));
        server.post_as(
            BOB_ID,
            TOWN_SQUARE,
            "@alice is the deploy blocked?",
            json!({}),
        );
        server.post_as(BOB_ID, TOWN_SQUARE, "@alice lunch on friday?", json!({}));
        server.reply_as(
            BOB_ID,
            TOWN_SQUARE,
            &release,
            "@alice can you sign the notes?",
        );
        // Before Deepwork read them: not an answer to any.
        server.post_as(USER_ID, TOWN_SQUARE, "morning all", json!({}));
        let held = mattermost
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap()
            .messages;
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sec = find(&held, "got a sec");
        let deploy = find(&held, "deploy");
        let lunch = find(&held, "lunch");
        let notes = find(&held, "sign the notes");
        assert_eq!(
            sec.url,
            Some(format!("{}/_redirect/pl/{}", server.url, sec.id)),
            "a direct message has no team: Mattermost finds it"
        );
        for message in [deploy, lunch, notes] {
            assert_eq!(
                message.url,
                Some(format!("{}/{TEAM_NAME}/pl/{}", server.url, message.id)),
                "a channel's post, under its team"
            );
        }
        let asked = asked(&[sec, deploy, lunch, notes], since);

        mattermost
            .reply(&sec.reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        server.reply_as(USER_ID, TOWN_SQUARE, &deploy.id, "not blocked anymore");
        server.reply_as(USER_ID, TOWN_SQUARE, &release, "signed");
        assert_eq!(
            answered(&mattermost, &asked).await,
            sorted(&[&deploy.id, &notes.id]),
            "each thread reply answers the item in that thread; not lunch, and not the DM \
             (only an auto-reply)"
        );

        server.post_as(USER_ID, DM_WITH_BOB, "sure, what's up?", json!({}));
        assert_eq!(
            answered(&mattermost, &asked).await,
            sorted(&[&deploy.id, &notes.id, &sec.id])
        );

        server.state.lock().unwrap().rate_limit_next = 1;
        let error = mattermost.answered(&asked).await.unwrap_err();
        assert!(
            matches!(error, AdapterError::RateLimited { .. }),
            "a rate limit stops the round: {error}"
        );
    }
}

mod teams {
    use super::*;
    use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints};
    use deepwork_adapters::{AdapterError, Replier};
    use deepwork_harness::teams::{BOB, CHAT_WITH_BOB, CLIENT_ID, ME, TEAM_CHAT, TeamsContract};

    fn message_calls(server: &TeamsContract) -> usize {
        server
            .now()
            .calls
            .iter()
            .filter(|c| *c == "GET me/chats/{id}/messages")
            .count()
    }

    #[tokio::test]
    async fn answers_in_the_chat_count_auto_replies_and_earlier_words_do_not() {
        let server = TeamsContract::start().await;
        let endpoints =
            TeamsEndpoints::new(&server.authority, "organizations", &server.graph, CLIENT_ID)
                .unwrap();
        let teams = TeamsAdapter::new(
            endpoints,
            server.now().refresh_token,
            Box::new(|_: &str| {}),
        )
        .unwrap();
        let cursor = teams.fetch(None, Duration::ZERO).await.unwrap().cursor;
        tokio::time::sleep(Duration::from_millis(5)).await;
        {
            let mut state = server.state.lock().unwrap();
            state.post(CHAT_WITH_BOB, Some((BOB, "Bob")), "<p>got a sec?</p>", &[]);
            state.post(
                TEAM_CHAT,
                Some((BOB, "Bob")),
                "<p><at id=\"0\">Alice</at> is the deploy blocked?</p>",
                &[ME],
            );
            // Before Deepwork read them: not an answer.
            state.post(TEAM_CHAT, Some((ME, "Alice")), "<p>morning all</p>", &[]);
        }
        let held = teams
            .fetch(Some(&cursor), Duration::ZERO)
            .await
            .unwrap()
            .messages;
        let since = Timestamp::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sec = find(&held, "got a sec");
        let deploy = find(&held, "deploy");
        assert_eq!(
            sec.url,
            Some(format!(
                "https://teams.microsoft.com/l/message/19%3Aalice_bob%40unq.gbl.spaces/{}?context=%7B%22contextType%22%3A%22chat%22%7D",
                sec.id
            )),
            "the message's own webUrl, not the chat's"
        );
        let asked = asked(&[sec, deploy], since);

        teams
            .reply(&sec.reply_to, "I'm in deep work until 14:00.")
            .await
            .unwrap();
        assert_eq!(
            server
                .now()
                .messages
                .last()
                .and_then(|m| m.user.clone())
                .map(|u| u.0),
            Some(ME.to_owned()),
            "the auto-reply is sent as the user"
        );
        assert_eq!(
            answered(&teams, &asked).await,
            Vec::<String>::new(),
            "neither the auto-reply nor the words before count"
        );

        {
            let mut state = server.state.lock().unwrap();
            state.post(CHAT_WITH_BOB, Some((ME, "Alice")), "<p>sure</p>", &[]);
            state.post(
                TEAM_CHAT,
                Some((ME, "Alice")),
                "<p>not blocked anymore</p>",
                &[],
            );
            for i in 0..120 {
                state.post(
                    TEAM_CHAT,
                    Some((BOB, "Bob")),
                    &format!("<p>chatter {i}</p>"),
                    &[],
                );
            }
        }
        let before = message_calls(&server);
        assert_eq!(
            answered(&teams, &asked).await,
            sorted(&[&sec.id, &deploy.id]),
            "the user's words after each arrived, the group chat's under 120 later messages"
        );
        assert_eq!(
            message_calls(&server) - before,
            1 + 3,
            "one page for the one-on-one chat, three of 50 joined by nextLink for the group"
        );

        server
            .state
            .lock()
            .unwrap()
            .scopes
            .retain(|s| s != "Chat.Read");
        let error = teams.answered(&asked).await.unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. })
                && error.to_string().contains("Chat.Read"),
            "no chat could be read, and why: {error}"
        );
    }
}

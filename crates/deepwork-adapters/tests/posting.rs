//! Posting the user's standup: Matrix against a real Synapse, Slack, Mattermost and
//! Teams against contract servers written from their references. Each post lands where
//! it was named, in the platform's own markup, with a link back where one is given.

use deepwork_adapters::{AdapterError, Post, Poster};

/// A post whose text tries to be markup and to notify a whole room.
fn post() -> Post {
    let draft = deepwork_core::standup::StandupDraft {
        date: "2026-11-30".parse().unwrap(),
        since: "2026-11-27".parse().unwrap(),
        shipped: vec!["Finish the <b>billing</b> RFC & [send](https://evil.example) it".into()],
        today: vec!["Refund webhook".into()],
        blockers: vec!["Reply owed to bob: @channel @room is prod down?".into()],
    };
    Post {
        markdown: draft.to_markdown(),
        html: draft.to_html(),
        slack: draft.to_slack(),
    }
}

mod slack {
    use super::*;
    use deepwork_adapters::slack::SlackAdapter;
    use deepwork_harness::slack::{GENERAL, ME, SlackContract, TOKEN};

    #[tokio::test]
    async fn a_post_by_channel_name_lands_in_mrkdwn_with_its_permalink() {
        let server = SlackContract::start().await;
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let posted = slack.post("#general", &post()).await.unwrap();
        let state = server.now();
        let message = state.messages.last().expect("posted");
        assert_eq!(message.channel, GENERAL);
        assert_eq!(message.user.as_deref(), Some(ME));
        assert!(message.text.starts_with("*Standup 2026-11-30*\n\n*Shipped*\n• Finish the &lt;b&gt;billing&lt;/b&gt; RFC &amp; [send]"), "{}", message.text);
        assert!(
            message.text.contains("@\u{2060}channel"),
            "{}",
            message.text
        );
        assert_eq!(
            posted.link,
            Some(format!(
                "https://acme.slack.com/archives/{GENERAL}/p{}",
                message.ts.replace('.', "")
            ))
        );
    }

    #[tokio::test]
    async fn an_unknown_channel_is_refused_with_slacks_reason() {
        let server = SlackContract::start().await;
        let slack = SlackAdapter::new(&server.api, TOKEN.into()).unwrap();
        let error = slack.post("#nowhere", &post()).await.unwrap_err();
        assert!(error.to_string().contains("channel_not_found"), "{error}");
        assert!(server.now().messages.is_empty(), "nothing was posted");
    }
}

mod mattermost {
    use super::*;
    use deepwork_adapters::mattermost::MattermostAdapter;
    use deepwork_harness::mattermost::{
        MattermostContract, TEAM_NAME, TOKEN, TOWN_SQUARE, USER_ID,
    };

    #[tokio::test]
    async fn a_post_by_team_and_channel_name_lands_in_markdown_with_its_permalink() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let posted = mattermost
            .post(&format!("{TEAM_NAME}/town-square"), &post())
            .await
            .unwrap();
        let state = server.now();
        let landed = state.posts.last().expect("posted");
        assert_eq!(
            (landed.channel_id.as_str(), landed.user_id.as_str()),
            (TOWN_SQUARE, USER_ID)
        );
        assert_eq!(landed.message, post().markdown);
        assert!(
            landed
                .message
                .contains("Finish the \\<b\\>billing\\</b\\> RFC & \\[send\\]"),
            "{}",
            landed.message
        );
        assert_eq!(
            posted.link,
            Some(format!("{}/{TEAM_NAME}/pl/{}", server.url, landed.id))
        );

        // By the channel's id too.
        mattermost.post(TOWN_SQUARE, &post()).await.unwrap();
        assert_eq!(server.now().posts.len(), 2);
    }

    #[tokio::test]
    async fn an_unknown_channel_is_an_error_and_posts_nothing() {
        let server = MattermostContract::start().await;
        let mattermost = MattermostAdapter::new(&server.url, TOKEN.into()).unwrap();
        let error = mattermost
            .post(&format!("{TEAM_NAME}/standups"), &post())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("Channel does not exist"),
            "{error}"
        );
        assert!(server.now().posts.is_empty());
    }
}

mod teams {
    use super::*;
    use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints};
    use deepwork_harness::teams::{CHANNEL, CLIENT_ID, TEAM, TEAM_CHAT, TeamsContract};

    fn adapter(server: &TeamsContract) -> TeamsAdapter {
        let endpoints =
            TeamsEndpoints::new(&server.authority, "organizations", &server.graph, CLIENT_ID)
                .unwrap();
        TeamsAdapter::new(
            endpoints,
            server.now().refresh_token,
            Box::new(|_: &str| {}),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_post_to_a_channel_or_a_chat_lands_as_escaped_html_with_its_web_url() {
        let server = TeamsContract::start().await;
        let teams = adapter(&server);
        let posted = teams
            .post(&format!("{TEAM}/{CHANNEL}"), &post())
            .await
            .unwrap();
        let state = server.now();
        let landed = state.messages.last().expect("posted");
        assert_eq!(landed.chat, format!("{TEAM}/{CHANNEL}"));
        assert_eq!(landed.content_type, "html");
        assert!(
            landed
                .content
                .contains("<li>Finish the &lt;b&gt;billing&lt;/b&gt; RFC &amp; [send]"),
            "{}",
            landed.content
        );
        assert!(
            posted
                .link
                .is_some_and(|link| link.starts_with("https://teams.microsoft.com/l/message/"))
        );

        teams.post(TEAM_CHAT, &post()).await.unwrap();
        assert_eq!(server.now().messages.last().unwrap().chat, TEAM_CHAT);
    }

    #[tokio::test]
    async fn without_channel_message_send_the_fix_is_named() {
        let server = TeamsContract::start().await;
        server
            .state
            .lock()
            .unwrap()
            .scopes
            .retain(|scope| scope != "ChannelMessage.Send");
        let teams = adapter(&server);
        let error = teams
            .post(&format!("{TEAM}/{CHANNEL}"), &post())
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdapterError::Unauthorized { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("ChannelMessage.Send"), "{error}");
    }
}

mod matrix {
    use super::*;
    use deepwork_adapters::matrix::MatrixAdapter;
    use deepwork_harness::synapse::Synapse;
    use serde_json::{Value, json};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_to_a_room_alias_lands_with_escaped_html_and_mentions_no_one() {
        let synapse = Synapse::start();
        let alice = synapse.register("alice").await;
        let bob = synapse.register("bob").await;
        let room = bob
            .create_room(json!({ "preset": "public_chat", "room_alias_name": "standup", "invite": [alice.user_id] }))
            .await;
        alice.join(&room).await;
        let adapter =
            MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).unwrap();

        let posted = adapter.post("#standup:localhost", &post()).await.unwrap();

        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/messages?dir=b&limit=5",
            synapse.base(),
            room.replace('!', "%21").replace(':', "%3A")
        );
        let page: Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let event = page["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "m.room.message")
            .expect("the post, as bob sees it")
            .clone();
        assert_eq!(event["sender"], alice.user_id.as_str());
        let content = &event["content"];
        assert_eq!(content["msgtype"], "m.text");
        assert_eq!(content["body"], post().markdown.as_str());
        assert_eq!(content["format"], "org.matrix.custom.html");
        assert!(
            content["formatted_body"]
                .as_str()
                .unwrap()
                .contains("<li>Finish the &lt;b&gt;billing&lt;/b&gt;")
        );
        assert_eq!(content["m.mentions"], json!({}), "no one is notified");
        let event_id = event["event_id"].as_str().unwrap();
        let link = posted.link.expect("a matrix.to link");
        assert!(link.starts_with("https://matrix.to/#/%21"), "{link}");
        assert!(link.contains(&event_id.replace('$', "%24")), "{link}");

        let error = adapter
            .post("#nowhere:localhost", &post())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("M_NOT_FOUND") || error.to_string().contains("not found"),
            "{error}"
        );
    }
}

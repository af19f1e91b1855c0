//! Work trackers and documents through the real daemon and keyring, against contract
//! servers written from each service's reference (none of them can run here).

mod support;

use serde_json::Value;
use std::time::Duration;
use support::*;

/// Every item of the latest digest, as JSON.
fn digest_items(env: &Env) -> Vec<Value> {
    let digest = env.json(&["digest", "--json"]);
    digest["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| {
            let class = group["class"].clone();
            group["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(move |item| {
                    let mut item = item.clone();
                    item["class"] = class.clone();
                    item
                })
        })
        .collect()
}

/// A daemon with a keyring, for `config`.
fn env_with_keyring(config: &str) -> (Env, Bus, Keyring) {
    let mut env = Env::new(config);
    let bus = Bus::start(env.dir.path());
    env.bus = Some(bus.address.clone());
    let keyring = Keyring::start(&bus.address, env.dir.path());
    (env, bus, keyring)
}

#[test]
fn github_notifications_are_held_with_links_after_a_device_flow_sign_in() {
    use deepwork_harness::github::{BOB, CLIENT_ID, GitHubContract, USER_CODE};
    let runtime = runtime();
    let server = runtime.block_on(GitHubContract::start());
    server.state.lock().unwrap().poll_interval = "1".into();
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.github]\nuser = \"alice\"\napi = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n",
        server.base
    );
    let (env, _bus, _keyring) = env_with_keyring(&config);
    let before = env.run(&["adapters", "test", "github"]);
    assert_eq!(before.code, 2, "{before:?}");
    assert!(
        before.stderr.contains("deepwork adapters token github"),
        "{before:?}"
    );
    let signed_in = env.ok(&["adapters", "connect", "github"]);
    assert!(signed_in.contains(USER_CODE), "{signed_in}");
    assert!(
        env.ok(&["adapters", "test", "github"])
            .contains("github: connected as alice"),
    );

    let old = server.state.lock().unwrap().notify(
        "acme/shop",
        "subscribed",
        "Issue",
        "An issue from last week",
        3,
    );
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    // The first read takes GitHub's "now"; then it asks with If-Modified-Since.
    until("a conditional read", &|| {
        server.now().conditional_calls >= 1
    });
    {
        let mut state = server.state.lock().unwrap();
        state.notify(
            "acme/shop",
            "review_requested",
            "PullRequest",
            "Add retries to the payment client",
            12,
        );
        state.ci_failed("acme/shop", "CI workflow run failed for fix/retry branch");
    }
    until("two held", &|| {
        env.ok(&["status"]).contains("2 held: 2 blockers")
    });
    until("an unchanged answer", &|| server.now().not_modified >= 1);

    // A secondary rate limit is waited out, and nothing is lost.
    {
        let mut state = server.state.lock().unwrap();
        state.secondary_limit_next = 1;
        state.retry_after = 2;
    }
    until("the rate limit reported", &|| {
        env.ok(&["status"]).contains("rate-limiting")
    });
    server.state.lock().unwrap().mention(
        "acme/shop",
        12,
        BOB,
        "@alice checkout is returning 500s for every customer since the deploy, can you look NOW?",
    );
    // Read as an emergency, it breaks through rather than waiting in the hold.
    until("the mention", &|| {
        let status = env.json(&["status", "--json"]);
        let held: u64 = status["held"]
            .as_object()
            .map(|counts| counts.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        held >= 3
            || status["escalations"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
    });
    assert!(!env.ok(&["status"]).contains("rate-limiting"));

    env.ok(&["stop"]);
    let items = digest_items(&env);
    assert_eq!(items.len(), 3, "{items:#?}");
    assert!(items.iter().all(|i| i["source"] == "github"), "{items:#?}");
    let review = items
        .iter()
        .find(|i| i["title"] == "Add retries to the payment client" && i["sender"] == "acme/shop")
        .expect("the review request, from the repository (GitHub does not say who asked)");
    assert_eq!(review["class"], "blocker");
    assert_eq!(
        review["url"],
        format!("{}/acme/shop/pull/12", server.base),
        "links to the pull request's page"
    );
    assert!(
        review["why"].as_str().unwrap().contains("github"),
        "{review}"
    );
    let mention = items
        .iter()
        .find(|i| i["sender"] == BOB)
        .expect("bob's mention, with the comment's author");
    assert_eq!(
        mention["class"], "emergency",
        "the model reads the comment's text: {mention}"
    );
    assert!(
        !items
            .iter()
            .any(|i| i["title"] == "An issue from last week"),
        "thread {old} came before the session"
    );
    let calls = server.now().calls;
    assert!(
        !calls.iter().any(|c| c.starts_with("PATCH")),
        "nothing is marked read: {calls:?}"
    );
    // Marked done in the digest: then, and only then, read on GitHub too.
    let id = review["id"].as_i64().expect("an id").to_string();
    env.ok(&["done", &id]);
    until("the thread marked read", &|| {
        server
            .now()
            .calls
            .iter()
            .any(|c| c.starts_with("PATCH /notifications/threads/"))
    });
}

#[test]
fn jira_comments_and_assignments_are_held_as_blockers() {
    use deepwork_harness::jira::{API_TOKEN, BOB, EMAIL, JiraContract, ME};
    let runtime = runtime();
    let server = runtime.block_on(JiraContract::start());
    {
        let mut state = server.state.lock().unwrap();
        state.create_issue("PAY-1", "Retry failed card payments", BOB, Some(ME));
        state.create_issue("PAY-2", "Refund webhook", BOB, None);
        state.create_issue("OPS-9", "Rotate the VPN certificates", BOB, None);
        state.comment("PAY-1", BOB, "An old comment, before the session", &[]);
    }
    // Older than the session by more than the Date header's one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.jira]\nsite = \"{}\"\nemail = \"{EMAIL}\"\npoll = \"1s\"\n",
        server.base
    );
    let (env, _bus, _keyring) = env_with_keyring(&config);
    env.run_with_input(&["adapters", "token", "jira"], "not-the-token\n");
    let refused = env.run(&["adapters", "test", "jira"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("API token"), "{refused:?}");
    env.run_with_input(&["adapters", "token", "jira"], &format!("{API_TOKEN}\n"));
    env.ok(&["adapters", "test", "jira"]);

    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("a search", &|| {
        server
            .now()
            .calls
            .iter()
            .any(|c| c.contains("/rest/api/3/search/jql"))
    });
    {
        let mut state = server.state.lock().unwrap();
        state.comment(
            "PAY-1",
            BOB,
            "Can you approve the rollout of the retry change? QA is waiting on it.",
            &[ME],
        );
        state.assign("PAY-2", ME);
        state.comment("OPS-9", BOB, "Not alice's issue: not watched by her", &[]);
    }
    until("two held", &|| env.ok(&["status"]).contains("2 blockers"));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        env.ok(&["status"]).contains("2 held"),
        "read again, held once: {}",
        env.ok(&["status"])
    );
    env.ok(&["stop"]);
    let items = digest_items(&env);
    let titles: Vec<&str> = items.iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles.len(),
        2,
        "the old comment and the unwatched issue stay out: {items:#?}"
    );
    let comment = items
        .iter()
        .find(|i| i["title"] == "PAY-1: Retry failed card payments")
        .expect("the comment");
    assert_eq!(comment["sender"], "Bob", "{comment}");
    assert!(
        comment["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/browse/PAY-1?focusedCommentId=", server.base)),
        "{comment}"
    );
    let assigned = items
        .iter()
        .find(|i| i["title"] == "PAY-2: Refund webhook")
        .expect("the assignment");
    assert!(
        assigned["snippet"]
            .as_str()
            .unwrap()
            .contains("Assigned to you"),
        "{assigned}"
    );
}

#[test]
fn confluence_comments_on_my_pages_and_mentions_are_held_as_strategic() {
    use deepwork_harness::confluence::{API_TOKEN, BOB, ConfluenceContract, EMAIL, ME};
    let runtime = runtime();
    let server = runtime.block_on(ConfluenceContract::start());
    let (mine, bobs) = {
        let mut state = server.state.lock().unwrap();
        let mine = state.create_page("ENG", "Billing RFC: event sourcing", ME);
        let bobs = state.create_page("ENG", "Q3 roadmap", BOB);
        (mine, bobs)
    };
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.confluence]\nsite = \"{}\"\nemail = \"{EMAIL}\"\npoll = \"1s\"\n",
        server.base
    );
    let (env, _bus, _keyring) = env_with_keyring(&config);
    env.run_with_input(
        &["adapters", "token", "confluence"],
        &format!("{API_TOKEN}\n"),
    );
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("a search", &|| {
        server
            .now()
            .calls
            .iter()
            .any(|c| c.contains("/wiki/rest/api/content/search"))
    });
    {
        let mut state = server.state.lock().unwrap();
        state.comment(
            &mine,
            BOB,
            "Have we weighed the storage cost of keeping every event? Comments welcome this week.",
            &[],
            None,
        );
        state.comment(&bobs, BOB, "Talking to myself on my own page", &[], None);
        state.mention_in_page(&bobs, BOB, ME);
    }
    until("two held", &|| env.ok(&["status"]).contains("2 held"));
    env.ok(&["stop"]);
    let items = digest_items(&env);
    assert_eq!(items.len(), 2, "{items:#?}");
    assert!(
        items.iter().all(|i| i["class"] == "strategic"),
        "{items:#?}"
    );
    let comment = items
        .iter()
        .find(|i| i["title"] == "Comment on Billing RFC: event sourcing")
        .expect("the comment on alice's page");
    assert!(
        comment["url"].as_str().unwrap().starts_with(&server.base),
        "{comment}"
    );
    assert!(
        items
            .iter()
            .any(|i| i["title"] == "Mentioned in Q3 roadmap"),
        "{items:#?}"
    );
}

#[test]
fn notion_comments_on_shared_pages_are_held_as_blockers() {
    use deepwork_harness::notion::{BOB, ME, NotionContract, TOKEN};
    let runtime = runtime();
    let server = runtime.block_on(NotionContract::start());
    let page = server
        .state
        .lock()
        .unwrap()
        .create_page("Launch checklist", true);
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.notion]\nworkspace = \"acme\"\nuser_id = \"{ME}\"\napi = \"{}\"\npoll = \"1s\"\n",
        server.base
    );
    let (env, _bus, _keyring) = env_with_keyring(&config);
    env.run_with_input(&["adapters", "token", "notion"], &format!("{TOKEN}\n"));
    env.ok(&["adapters", "test", "notion"]);
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("a read of the page's comments", &|| {
        server
            .now()
            .calls
            .iter()
            .any(|c| c.starts_with("GET /v1/comments"))
    });
    {
        let mut state = server.state.lock().unwrap();
        state.comment(
            &page,
            BOB,
            "Is the DNS change done? We ship at 4.",
            &[ME],
            None,
        );
        state.comment(&page, ME, "my own note", &[], None);
    }
    until("bob's comment", &|| env.ok(&["status"]).contains("1 held"));
    std::thread::sleep(Duration::from_millis(1500));
    env.ok(&["stop"]);
    let items = digest_items(&env);
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["title"], "Comment on Launch checklist");
    assert_eq!(items[0]["source"], "notion");
    assert!(
        items[0]["class"] == "blocker",
        "a task thread is a blocker: {}",
        items[0]
    );
}

#[test]
fn google_docs_sign_in_in_the_browser_and_comments_held_as_strategic() {
    use deepwork_harness::drive::{BOB, CLIENT_ID, CLIENT_SECRET, DriveContract, ME_EMAIL};
    let runtime = runtime();
    let server = runtime.block_on(DriveContract::start());
    let doc = server.state.lock().unwrap().create_doc("Billing RFC", true);
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.gdocs]\naccount = \"{ME_EMAIL}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nauthorize = \"{}\"\noauth = \"{}\"\ndrive = \"{}\"\npoll = \"1s\"\n",
        server.authorize_url(),
        server.base,
        server.base
    );
    let (mut env, _bus, _keyring) = env_with_keyring(&config);
    let opened = env.browser_stand_in();
    let signing_in = env
        .command()
        .args(["adapters", "connect", "gdocs"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let page = eventually("the consent page opened", || {
        std::fs::read_to_string(&opened)
            .ok()
            .filter(|page| !page.is_empty())
    });
    assert!(page.contains("code_challenge_method=S256"), "{page}");
    let landing = runtime.block_on(async { reqwest::get(&page).await.unwrap().status() });
    assert_eq!(landing, 200, "the consent page sent the browser back");
    let done = signing_in.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    env.ok(&["adapters", "test", "gdocs"]);

    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("a read of the document's comments", &|| {
        server.now().calls.iter().any(|c| c.contains("/comments?"))
    });
    server.state.lock().unwrap().comment(
        &doc,
        BOB,
        "Would a snapshot every 1,000 events keep replays fast enough?",
        Some("replay the whole stream"),
    );
    until("bob's comment", &|| env.ok(&["status"]).contains("1 held"));
    env.ok(&["stop"]);
    let items = digest_items(&env);
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["title"], "Comment on Billing RFC");
    assert_eq!(items[0]["class"], "strategic");
    assert!(
        items[0]["url"].as_str().unwrap().contains("disco="),
        "links to the comment: {}",
        items[0]
    );
}

#[test]
fn answering_where_an_item_lives_marks_it_done_and_a_blocker_still_owed_is_reminded_once() {
    use deepwork_harness::github::{GitHubContract, ME, TOKEN};
    let runtime = runtime();
    let server = runtime.block_on(GitHubContract::start());
    server.state.lock().unwrap().poll_interval = "1".into();
    // A blocker's window of 4 minutes, reminded 3m50s ahead: due 10 s after it came.
    let config = format!(
        "[adapters.github]\nuser = \"alice\"\napi = \"{}\"\n[response_windows]\nblocker = \"4m\"\n[follow_through]\ncheck_every = \"1s\"\nremind_before = \"3m50s\"\n",
        server.base
    );
    let (env, bus, _keyring) = env_with_keyring(&config);
    let recorder = Recorder::start(&bus.address);
    env.run_with_input(&["adapters", "token", "github"], &format!("{TOKEN}\n"));
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("a conditional read", &|| {
        server.now().conditional_calls >= 1
    });
    {
        let mut state = server.state.lock().unwrap();
        state.notify(
            "acme/shop",
            "review_requested",
            "PullRequest",
            "Add retries to the payment client",
            12,
        );
        state.notify(
            "acme/shop",
            "assign",
            "Issue",
            "Refunds fail for EUR cards",
            7,
        );
    }
    until("two blockers held", &|| {
        env.ok(&["status"]).contains("2 held: 2 blockers")
    });
    let reviews_asked = || {
        server
            .now()
            .calls
            .iter()
            .filter(|c| c.contains("/pulls/12/reviews"))
            .count()
    };
    let before = reviews_asked();
    server
        .state
        .lock()
        .unwrap()
        .review("acme/shop", 12, ME, "APPROVED");
    until("the review seen", &|| reviews_asked() > before);
    // Answered items are not asked about again: the next round skips the pull request.
    let issue_asked = || {
        server
            .now()
            .calls
            .iter()
            .filter(|c| c.contains("/issues/7/comments"))
            .count()
    };
    let rounds = issue_asked();
    until("two rounds after it", &|| issue_asked() > rounds + 1);
    // The round that saw the review, and at most one that began before it came.
    assert!(
        reviews_asked() <= before + 2,
        "done items are not asked about again"
    );

    env.ok(&["stop"]);
    let digest = digest_items(&env);
    let review = digest
        .iter()
        .find(|i| i["title"] == "Add retries to the payment client")
        .expect("the review request");
    assert_eq!(review["done"], true, "{review}");
    assert_eq!(review["done_by"], "answer", "{review}");
    let issue = digest
        .iter()
        .find(|i| i["title"] == "Refunds fail for EUR cards")
        .expect("the assignment");
    assert_eq!(issue["done"], false, "{issue}");

    let check_in = recorder.next();
    assert!(
        check_in.summary.contains("check-in"),
        "{}",
        check_in.summary
    );
    let reminder = recorder.next();
    assert!(
        reminder.summary.starts_with("Reply owed by "),
        "{}",
        reminder.summary
    );
    assert!(
        reminder.body.contains("Refunds fail for EUR cards"),
        "only the blocker still owed: {}",
        reminder.body
    );
    recorder.quiet_for(Duration::from_secs(3));

    server.state.lock().unwrap().comment(
        "acme/shop",
        7,
        ME,
        "Found it: the currency check rounds first. Fix in #13.",
    );
    until("the comment noticed", &|| {
        digest_items(&env)
            .iter()
            .any(|i| i["title"] == "Refunds fail for EUR cards" && i["done"] == true)
    });
    let stats = env.ok(&["stats"]);
    assert!(
        stats.contains("Answered within the window: blockers 2/2"),
        "{stats}"
    );
}

#[test]
fn a_reply_in_the_matrix_dm_marks_the_held_message_done() {
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
        (alice, bob, dm)
    });
    let config = format!(
        "[notifications]\nenabled = false\n[adapters.matrix]\nhomeserver = \"{}\"\nuser_id = \"{}\"\n[follow_through]\ncheck_every = \"1s\"\n",
        synapse.base(),
        alice.user_id
    );
    let (env, _bus, _keyring) = env_with_keyring(&config);
    env.run_with_input(
        &["adapters", "token", "matrix"],
        &format!("{}\n", alice.token),
    );
    let _daemon = env.daemon();
    env.ok(&["start", "--for", "1h"]);
    until("the focus status", &|| {
        runtime.block_on(bob.presence_of(&alice.user_id)).0 == "unavailable"
    });
    runtime.block_on(bob.send(
        &dm,
        "Can you look at the billing migration plan before the 3pm sync?",
    ));
    until("bob's question held", &|| {
        env.ok(&["status"]).contains("1 held")
    });
    env.ok(&["stop"]);
    let held = digest_items(&env);
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(held[0]["done"], false);
    assert!(
        held[0]["url"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://matrix.to/#/")),
        "a link back to the message: {}",
        held[0]
    );

    runtime.block_on(alice.send(&dm, "Looked at it: two comments in the doc."));
    until("her reply noticed", &|| {
        digest_items(&env)[0]["done_by"] == "answer"
    });
}

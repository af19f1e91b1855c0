//! The read-only sources against contract servers written from each service's
//! reference (none of them can run here): what is new is read, what is old, the user's
//! own or not addressed to them is not, and refusals and rate limits say what they are.

use deepwork_adapters::atlassian::confluence::ConfluenceSource;
use deepwork_adapters::atlassian::jira::JiraSource;
use deepwork_adapters::gdocs::{self, GoogleDocsSource, GoogleEndpoints};
use deepwork_adapters::github::GitHubSource;
use deepwork_adapters::notion::NotionSource;
use deepwork_adapters::{
    AdapterError, Addressed, Asked, Batch, FollowUp, IncomingMessage, MessageSource,
};
use deepwork_core::Class;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

/// The first read ("now"), then one more.
async fn start(source: &dyn MessageSource) -> String {
    let start = source.fetch(None, Duration::ZERO).await.expect("start");
    assert!(start.messages.is_empty(), "history is never new");
    start.cursor
}

async fn next(source: &dyn MessageSource, cursor: &str) -> Batch {
    source.fetch(Some(cursor), WAIT).await.expect("read")
}

/// What the engine asks of an item it held from `message`.
fn asked(message: &IncomingMessage) -> Asked {
    Asked {
        message_id: message.id.clone(),
        conversation: message.reply_to.conversation.clone(),
        since: jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2),
    }
}

/// The message ids `follow_up` says were answered.
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

#[tokio::test]
async fn github_reads_changes_only_paces_itself_and_tells_rate_limits() {
    use deepwork_harness::github::{BOB, GitHubContract, ME, TOKEN};
    let server = GitHubContract::start().await;
    server.state.lock().unwrap().poll_interval = "1".into();
    server
        .state
        .lock()
        .unwrap()
        .notify("acme/shop", "subscribed", "Issue", "Old news", 1);
    // Older than the session by more than the Date header's one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let source = GitHubSource::new(&server.base, TOKEN.into()).unwrap();
    let cursor = start(&source).await;
    let nothing = next(&source, &cursor).await;
    assert!(nothing.messages.is_empty());
    let unchanged = next(&source, &nothing.cursor).await;
    assert!(unchanged.messages.is_empty());
    assert!(
        server.now().not_modified >= 1,
        "asked with If-Modified-Since"
    );

    server.state.lock().unwrap().notify(
        "acme/shop",
        "review_requested",
        "PullRequest",
        "Add retries to the payment client",
        12,
    );
    let review = next(&source, &unchanged.cursor).await;
    assert_eq!(review.messages.len(), 1, "{review:?}");
    let message = &review.messages[0];
    assert_eq!(message.usual_class, Some(Class::Blocker));
    assert_eq!(message.channel.as_deref(), Some("acme/shop"));
    assert!(
        message
            .text
            .starts_with("Add retries to the payment client\nReview requested")
    );
    assert_eq!(
        message.url.as_deref(),
        Some(format!("{}/acme/shop/pull/12", server.base).as_str())
    );

    server.state.lock().unwrap().mention(
        "acme/shop",
        12,
        BOB,
        "@alice can you look at the retry budget?",
    );
    let mention = next(&source, &review.cursor).await;
    assert_eq!(mention.messages.len(), 1, "{mention:?}");
    assert_eq!(mention.messages[0].sender, BOB, "the comment's author");
    assert_eq!(mention.messages[0].addressed, Addressed::Mention);
    assert!(mention.messages[0].text.contains("retry budget"));

    // Follow-through: a review on the pull request answers both items about it; an
    // issue nobody commented on stays owed.
    server
        .state
        .lock()
        .unwrap()
        .notify("acme/shop", "assign", "Issue", "Refunds fail", 7);
    let issue = next(&source, &mention.cursor).await;
    let items = [
        asked(&review.messages[0]),
        asked(&mention.messages[0]),
        asked(&issue.messages[0]),
    ];
    assert!(answered(&source, &items).await.is_empty());
    server
        .state
        .lock()
        .unwrap()
        .review("acme/shop", 12, ME, "APPROVED");
    let mut expected = vec![
        review.messages[0].id.clone(),
        mention.messages[0].id.clone(),
    ];
    expected.sort();
    assert_eq!(answered(&source, &items).await, expected);
    server
        .state
        .lock()
        .unwrap()
        .comment("acme/shop", 7, ME, "On it");
    assert_eq!(answered(&source, &items).await.len(), 3);
    let mention = issue;

    {
        let mut state = server.state.lock().unwrap();
        state.secondary_limit_next = 1;
        state.retry_after = 7;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let limited = source.fetch(Some(&mention.cursor), WAIT).await;
    assert!(
        matches!(limited, Err(AdapterError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(7)),
        "{limited:?}"
    );
    let calls = server.now().calls.len();
    let paced = source.fetch(Some(&mention.cursor), WAIT).await.unwrap();
    assert!(paced.messages.is_empty());
    assert_eq!(
        server.now().calls.len(),
        calls,
        "nothing asked while told to wait"
    );

    server.state.lock().unwrap().revoke();
    let revoked = GitHubSource::new(&server.base, TOKEN.into()).unwrap();
    assert!(matches!(
        revoked.fetch(None, Duration::ZERO).await,
        Err(AdapterError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn jira_reads_comments_and_assignments_for_the_user() {
    use deepwork_harness::jira::{API_TOKEN, BOB, EMAIL, JiraContract, ME};
    let server = JiraContract::start().await;
    {
        let mut state = server.state.lock().unwrap();
        state.create_issue("PAY-1", "Retry failed card payments", BOB, Some(ME));
        state.create_issue("PAY-2", "Refund webhook", BOB, None);
        state.comment("PAY-1", BOB, "Before the session", &[]);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let source = JiraSource::new(&server.base, EMAIL, API_TOKEN.into())
        .unwrap()
        .every(Duration::from_millis(100));
    let cursor = start(&source).await;
    {
        let mut state = server.state.lock().unwrap();
        state.comment("PAY-1", BOB, "Can you approve the rollout?", &[ME]);
        state.comment("PAY-1", ME, "My own note", &[]);
        state.assign("PAY-2", ME);
    }
    let batch = next(&source, &cursor).await;
    let texts: Vec<&str> = batch.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    let comment = &batch.messages[0];
    assert_eq!(
        comment.text,
        "PAY-1: Retry failed card payments\n@Alice Can you approve the rollout?"
    );
    assert_eq!(comment.addressed, Addressed::Mention);
    assert_eq!(comment.sender_name.as_deref(), Some("Bob"));
    assert_eq!(comment.usual_class, Some(Class::Blocker));
    assert!(batch.messages[1].text.contains("Assigned to you by Bob"));
    let jql = server
        .now()
        .calls
        .into_iter()
        .find(|c| c.contains("search/jql"))
        .unwrap();
    assert!(jql.contains("updated+%3E%3D+-"), "relative time: {jql}");

    let again = next(&source, &batch.cursor).await;
    let repeated: Vec<&str> = again.messages.iter().map(|m| m.id.as_str()).collect();
    assert!(
        repeated
            .iter()
            .all(|id| batch.messages.iter().any(|m| m.id == *id)),
        "an overlap repeats ids the store already holds, nothing else: {repeated:?}"
    );

    let items: Vec<Asked> = batch.messages.iter().map(asked).collect();
    assert_eq!(
        answered(&source, &items).await,
        [batch.messages[0].id.clone()],
        "her note on PAY-1 came after Bob's question"
    );
    server
        .state
        .lock()
        .unwrap()
        .comment("PAY-2", ME, "Taking it", &[]);
    assert_eq!(answered(&source, &items).await.len(), 2);

    server.state.lock().unwrap().rate_limit_next = 1;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(
        source.fetch(Some(&again.cursor), WAIT).await,
        Err(AdapterError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn confluence_reads_comments_on_the_users_pages_and_mentions() {
    use deepwork_harness::confluence::{API_TOKEN, BOB, ConfluenceContract, EMAIL, ME};
    let server = ConfluenceContract::start().await;
    let (mine, bobs) = {
        let mut state = server.state.lock().unwrap();
        (
            state.create_page("ENG", "Billing RFC", ME),
            state.create_page("ENG", "Roadmap", BOB),
        )
    };
    let source = ConfluenceSource::new(&server.base, EMAIL, API_TOKEN.into())
        .unwrap()
        .every(Duration::from_millis(100));
    let cursor = start(&source).await;
    {
        let mut state = server.state.lock().unwrap();
        state.comment(
            &mine,
            BOB,
            "Have we weighed the storage cost?\nMore next week.",
            &[],
            None,
        );
        state.comment(&bobs, BOB, "A note on my own page", &[], None);
        state.comment(&bobs, BOB, "what do you think?", &[ME], None);
        state.mention_in_page(&bobs, BOB, ME);
    }
    let batch = next(&source, &cursor).await;
    let titles: Vec<&str> = batch
        .messages
        .iter()
        .map(|m| m.text.lines().next().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Comment on Billing RFC",
            "Comment on Roadmap",
            "Mentioned in Roadmap"
        ],
        "{batch:#?}"
    );
    assert_eq!(
        batch.messages[0].text,
        "Comment on Billing RFC\nHave we weighed the storage cost?\nMore next week."
    );
    assert_eq!(batch.messages[1].addressed, Addressed::Mention);
    assert!(
        batch
            .messages
            .iter()
            .all(|m| m.usual_class == Some(Class::Strategic))
    );
    assert!(
        batch.messages[0]
            .url
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}/wiki/spaces/ENG/pages/", server.base))
    );
    let items: Vec<Asked> = batch.messages.iter().map(asked).collect();
    assert!(answered(&source, &items).await.is_empty());
    server
        .state
        .lock()
        .unwrap()
        .comment(&mine, ME, "Snapshots every 1,000 events", &[], None);
    assert_eq!(
        answered(&source, &items).await,
        [batch.messages[0].id.clone()]
    );
}

#[tokio::test]
async fn notion_reads_comments_on_shared_pages_by_others() {
    use deepwork_harness::notion::{BOB, ME, NotionContract, TOKEN};
    let server = NotionContract::start().await;
    let (shared, private) = {
        let mut state = server.state.lock().unwrap();
        (
            state.create_page("Launch checklist", true),
            state.create_page("Diary", false),
        )
    };
    let source = NotionSource::new(&server.base, TOKEN.into(), Some(ME.into()), &[])
        .unwrap()
        .every(Duration::from_millis(100));
    let cursor = start(&source).await;
    // Notion's times are whole minutes: the comment is stamped before the session
    // started, and is still read.
    {
        let mut state = server.state.lock().unwrap();
        state.comment(&shared, BOB, "is the DNS change done?", &[ME], None);
        state.comment(&shared, ME, "my own answer", &[], None);
        state.comment(&private, BOB, "not shared with the integration", &[], None);
    }
    let batch = next(&source, &cursor).await;
    assert_eq!(batch.messages.len(), 1, "{batch:#?}");
    let message = &batch.messages[0];
    assert!(message.text.starts_with("Comment on Launch checklist\n"));
    assert!(message.text.contains("is the DNS change done?"));
    assert_eq!(message.addressed, Addressed::Mention);
    assert_eq!(message.usual_class, Some(Class::Blocker));
    assert!(message.sender_name.is_some(), "{message:?}");
    let items = [asked(message)];
    let discussion = message
        .reply_to
        .conversation
        .split_once('/')
        .unwrap()
        .1
        .to_owned();
    assert!(
        answered(&source, &items).await.is_empty(),
        "her own comment was in another discussion"
    );
    server
        .state
        .lock()
        .unwrap()
        .comment(&shared, ME, "Done at 15:40", &[], Some(&discussion));
    assert_eq!(
        answered(&source, &items).await,
        std::slice::from_ref(&message.id)
    );

    // Pages named in the config are watched whatever else was edited, and read by link.
    let watched = server
        .state
        .lock()
        .unwrap()
        .create_page("Release notes", true);
    let link = format!(
        "https://www.notion.so/acme/Release-notes-{}",
        watched.replace('-', "")
    );
    let configured = NotionSource::new(&server.base, TOKEN.into(), Some(ME.into()), &[link])
        .unwrap()
        .every(Duration::from_millis(100));
    let cursor = start(&configured).await;
    server
        .state
        .lock()
        .unwrap()
        .comment(&watched, BOB, "typo in the title", &[], None);
    let from_configured = next(&configured, &cursor).await;
    assert_eq!(from_configured.messages.len(), 1, "{from_configured:#?}");
    assert!(
        from_configured.messages[0]
            .text
            .starts_with("Comment on Release notes\n")
    );

    server.state.lock().unwrap().revoke();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(
        source.fetch(Some(&batch.cursor), WAIT).await,
        Err(AdapterError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn google_docs_signs_in_with_pkce_and_reads_comments_and_replies() {
    use deepwork_harness::drive::{BOB, CLIENT_ID, CLIENT_SECRET, DriveContract, ME, ME_EMAIL};
    let server = DriveContract::start().await;
    let endpoints = GoogleEndpoints::new(
        &server.authorize_url(),
        &server.base,
        &server.base,
        CLIENT_ID,
        Some(CLIENT_SECRET),
    )
    .unwrap();
    let (page, pending) = gdocs::start_sign_in(&endpoints, ME_EMAIL).await.unwrap();
    // The browser: the consent page sends it back to Deepwork's loopback address.
    let browser = tokio::spawn(async move { reqwest::get(page).await.map(|r| r.status()) });
    let refresh_token = pending.finish().await.expect("signed in");
    assert!(browser.await.unwrap().unwrap().is_success());

    let (doc, other) = {
        let mut state = server.state.lock().unwrap();
        (
            state.create_doc("Billing RFC", true),
            state.create_doc("Bob's notes", false),
        )
    };
    let old = server
        .state
        .lock()
        .unwrap()
        .comment(&doc, BOB, "An old thought", None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let source = GoogleDocsSource::new(endpoints, ME_EMAIL, refresh_token)
        .unwrap()
        .every(Duration::from_millis(100));
    let cursor = start(&source).await;
    {
        let mut state = server.state.lock().unwrap();
        state.comment(
            &doc,
            BOB,
            &format!("+{ME_EMAIL} is 48h enough?"),
            Some("within 48 hours"),
        );
        state.reply(&doc, &old, BOB, "Still open?");
        state.reply(&doc, &old, ME, "My own reply");
        state.resolve(&doc, &old);
        state.comment(&other, BOB, "On a document that is not alice's", None);
        state.expire_access_tokens();
    }
    let batch = next(&source, &cursor).await;
    let firsts: Vec<&str> = batch
        .messages
        .iter()
        .map(|m| m.text.lines().next().unwrap())
        .collect();
    assert_eq!(
        firsts,
        ["Comment on Billing RFC", "Reply on Billing RFC"],
        "{batch:#?}"
    );
    let comment = &batch.messages[0];
    assert_eq!(comment.addressed, Addressed::Mention);
    assert!(comment.text.contains("> within 48 hours"), "{comment:?}");
    assert_eq!(comment.usual_class, Some(Class::Strategic));
    assert!(
        comment.url.as_deref().unwrap().contains("disco="),
        "{comment:?}"
    );
    assert_eq!(batch.messages[1].sender, BOB);
    assert!(!batch.messages.iter().any(|m| m.sender == ME));
    let items: Vec<Asked> = batch.messages.iter().map(asked).collect();
    assert_eq!(
        answered(&source, &items).await,
        [batch.messages[1].id.clone()],
        "her reply in the old thread answers Bob's reply there"
    );

    server.state.lock().unwrap().user_rate_limit_next = 1;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(
        source.fetch(Some(&batch.cursor), WAIT).await,
        Err(AdapterError::RateLimited { .. })
    ));
    server.state.lock().unwrap().revoke();
    let signed_out = GoogleDocsSource::new(
        GoogleEndpoints::new(
            &server.authorize_url(),
            &server.base,
            &server.base,
            CLIENT_ID,
            Some(CLIENT_SECRET),
        )
        .unwrap(),
        ME_EMAIL,
        "revoked".into(),
    )
    .unwrap();
    let refused = signed_out.fetch(None, Duration::ZERO).await;
    assert!(
        matches!(&refused, Err(AdapterError::Unauthorized { fix, .. }) if fix.contains("connect gdocs")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn github_tells_merged_pull_requests_and_issues_closed_as_completed() {
    use deepwork_adapters::WorkReport;
    use deepwork_harness::github::{GitHubContract, ME, TOKEN};
    let server = GitHubContract::start().await;
    {
        let mut state = server.state.lock().unwrap();
        state.notify(
            "acme/pay",
            "author",
            "PullRequest",
            "Add retries to the payment client",
            12,
        );
        state.notify(
            "acme/pay",
            "review_requested",
            "PullRequest",
            "Bob's refactor",
            13,
        );
        state.notify("acme/pay", "author", "PullRequest", "Still open", 14);
        state.notify("acme/pay", "assign", "Issue", "Checkout times out", 20);
        state.notify("acme/pay", "assign", "Issue", "Won't fix this", 21);
        state.close("acme/pay", 12, "completed");
        state.close("acme/pay", 13, "completed");
        state.close("acme/pay", 20, "completed");
        state.close("acme/pay", 21, "not_planned");
    }
    let source = GitHubSource::new(&server.base, TOKEN.into()).unwrap();
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let work = source.work(since).await.unwrap();
    let titles: Vec<&str> = work.shipped.iter().map(|w| w.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Add retries to the payment client (acme/pay#12)",
            "Checkout times out (acme/pay#20)"
        ],
        "the user's merged PR and their issue closed as completed; not Bob's PR, an open one or one not planned"
    );
    assert_eq!(work.shipped[0].key, "https://github.com/acme/pay/pull/12");
    assert!(work.blocked.is_empty());
    let searches: Vec<String> = server
        .now()
        .calls
        .into_iter()
        .filter(|call| call.contains("/search/issues"))
        .collect();
    assert_eq!(searches.len(), 2, "{searches:?}");
    assert!(
        searches[0].contains(&format!("author%3A{ME}")),
        "{searches:?}"
    );
    // Nothing merged since an hour from now (the contract's clock runs a second ahead
    // with every change).
    let later = source
        .work(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
        .await
        .unwrap();
    assert!(later.shipped.is_empty(), "{later:?}");
}

#[tokio::test]
async fn jira_tells_issues_done_since_and_those_blocked_now() {
    use deepwork_adapters::WorkReport;
    use deepwork_harness::jira::{API_TOKEN, BOB, EMAIL, JiraContract, ME};
    let server = JiraContract::start().await;
    {
        let mut state = server.state.lock().unwrap();
        state.create_issue("PAY-1", "Retry failed card payments", BOB, Some(ME));
        state.create_issue("PAY-2", "Migrate the ledger", BOB, Some(ME));
        state.create_issue("PAY-3", "Bob's own", BOB, Some(BOB));
        state.create_issue("PAY-4", "Done long ago", BOB, Some(ME));
        state.set_status("PAY-4", ME, "Done");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = jiff::Timestamp::now();
    // Jira's times have millisecond resolution.
    tokio::time::sleep(Duration::from_millis(5)).await;
    {
        let mut state = server.state.lock().unwrap();
        state.set_status("PAY-1", ME, "Done");
        state.set_status("PAY-2", ME, "Blocked");
        state.set_status("PAY-3", BOB, "Done");
        // Updated after it was done: still not shipped today.
        state.comment("PAY-4", BOB, "thanks!", &[]);
    }
    let source = JiraSource::new(&server.base, EMAIL, API_TOKEN.into()).unwrap();
    let work = source.work(since).await.unwrap();
    let line = |works: &[deepwork_core::standup::SourceWork]| {
        works.iter().map(|w| w.title.clone()).collect::<Vec<_>>()
    };
    assert_eq!(line(&work.shipped), ["PAY-1 Retry failed card payments"]);
    assert_eq!(line(&work.blocked), ["PAY-2 Migrate the ledger"]);
    assert_eq!(work.shipped[0].key, "PAY-1");
}

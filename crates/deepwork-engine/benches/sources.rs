//! The work trackers and documents through the engine, on loopback, each at its own
//! pace (GitHub's `X-Poll-Interval` of 60 s, Jira and Confluence a minute, Notion and
//! Google Docs two): the requests each makes in a minute with nothing new, and how long
//! a new notification takes to be held. Contract servers stand in for the services.
//!
//! Run: `cargo bench -p deepwork-engine --bench sources` (or `make bench`); it takes
//! about IDLE_MINUTES (default 3) plus up to two minutes.

use deepwork_adapters::atlassian::confluence::ConfluenceSource;
use deepwork_adapters::atlassian::jira::JiraSource;
use deepwork_adapters::gdocs::{GoogleDocsSource, GoogleEndpoints};
use deepwork_adapters::github::GitHubSource;
use deepwork_adapters::notion::NotionSource;
use deepwork_adapters::{FollowUp, MessageSource};
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_engine::api::Event;
use deepwork_engine::chats::ChatAdapter;
use deepwork_engine::{Client, Paths, server};
use deepwork_harness::{confluence, drive, github, jira, notion};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn source<S: MessageSource + FollowUp + 'static>(name: &str, source: Arc<S>) -> ChatAdapter {
    ChatAdapter {
        name: name.into(),
        status: None,
        source: Some(source.clone()),
        replier: None,
        follow_up: Some(source),
        poster: None,
        work: None,
        auto_reply: false,
        problem: None,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let idle_minutes: u64 = std::env::var("IDLE_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let github = github::GitHubContract::start().await;
        let jira = jira::JiraContract::start().await;
        let confluence = confluence::ConfluenceContract::start().await;
        let notion = notion::NotionContract::start().await;
        let drive = drive::DriveContract::start().await;
        // What a user has: a few issues, pages and documents, nothing new.
        let (page, doc, mine) = {
            jira.state.lock().expect("state").create_issue(
                "PAY-1",
                "Retries",
                jira::BOB,
                Some(jira::ME),
            );
            let mine = confluence.state.lock().expect("state").create_page(
                "ENG",
                "Billing RFC",
                confluence::ME,
            );
            let mut notion_state = notion.state.lock().expect("state");
            let page = notion_state.create_page("Launch checklist", true);
            for n in 0..4 {
                notion_state.create_page(&format!("Page {n}"), true);
            }
            drop(notion_state);
            let mut drive_state = drive.state.lock().expect("state");
            let doc = drive_state.create_doc("Billing RFC", true);
            for n in 0..4 {
                drive_state.create_doc(&format!("Doc {n}"), true);
            }
            // As a sign-in with Deepwork's scope leaves it.
            drive_state.refresh_tokens.push("bench-refresh".into());
            drive_state.scopes.push(drive::SCOPE_DRIVE_READONLY.into());
            (page, doc, mine)
        };
        let endpoints = GoogleEndpoints::new(
            &drive.authorize_url(),
            &drive.base,
            &drive.base,
            drive::CLIENT_ID,
            Some(drive::CLIENT_SECRET),
        )
        .expect("endpoints");
        let adapters = vec![
            source(
                "github",
                Arc::new(GitHubSource::new(&github.base, github::TOKEN.into()).expect("github")),
            ),
            source(
                "jira",
                Arc::new(
                    JiraSource::new(&jira.base, jira::EMAIL, jira::API_TOKEN.into()).expect("jira"),
                ),
            ),
            source(
                "confluence",
                Arc::new(
                    ConfluenceSource::new(
                        &confluence.base,
                        confluence::EMAIL,
                        confluence::API_TOKEN.into(),
                    )
                    .expect("confluence"),
                ),
            ),
            source(
                "notion",
                Arc::new(
                    NotionSource::new(
                        &notion.base,
                        notion::TOKEN.into(),
                        Some(notion::ME.into()),
                        &[],
                    )
                    .expect("notion"),
                ),
            ),
            source(
                "gdocs",
                Arc::new(
                    GoogleDocsSource::new(endpoints, drive::ME_EMAIL, "bench-refresh".into())
                        .expect("gdocs"),
                ),
            ),
        ];
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("config.toml"),
            "[notifications]\nenabled = false\n[hold_notifications]\nenabled = false\n",
        )
        .expect("config");
        let paths = Paths {
            config: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
            socket: dir.path().join("engine.sock"),
        };
        let serve_paths = paths.clone();
        tokio::spawn(async move {
            let _ = server::serve_with(&serve_paths, adapters, std::future::pending()).await;
        });
        let mut client = loop {
            match Client::connect(&paths.socket).await {
                Ok(client) => break client,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        let mut events = Client::connect(&paths.socket)
            .await
            .expect("connect")
            .subscribe()
            .await
            .expect("subscribe");
        let plan = SessionPlan {
            end: Some(SessionEnd::For("8h".parse().expect("length"))),
            check_in: None,
        };
        client.start(plan).await.expect("start");

        let counts = || {
            [
                ("github", github.now().calls.len()),
                ("jira", jira.now().calls.len()),
                ("confluence", confluence.now().calls.len()),
                ("notion", notion.now().calls.len()),
                ("gdocs", drive.now().calls.len()),
            ]
        };
        // The first reads (start positions, the lists of pages and documents) are not idle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = counts();
        tokio::time::sleep(Duration::from_secs(60 * idle_minutes)).await;
        let after = counts();
        for ((name, was), (_, is)) in before.iter().zip(after.iter()) {
            println!(
                "{name}: {:.1} requests a minute with nothing new ({} in {idle_minutes} min)",
                (is - was) as f64 / idle_minutes as f64,
                is - was
            );
        }
        println!(
            "github: {} of its asks were conditional, {} answered 304",
            github.now().conditional_calls,
            github.now().not_modified
        );

        // One new notification on each, at once: held within one poll interval.
        let sent = Instant::now();
        github.state.lock().expect("state").notify(
            "acme/shop",
            "review_requested",
            "PullRequest",
            "Add retries",
            12,
        );
        jira.state.lock().expect("state").comment(
            "PAY-1",
            jira::BOB,
            "Can you approve the rollout?",
            &[jira::ME],
        );
        confluence.state.lock().expect("state").comment(
            &mine,
            confluence::BOB,
            "Storage cost?",
            &[],
            None,
        );
        notion.state.lock().expect("state").comment(
            &page,
            notion::BOB,
            "Is the DNS change done?",
            &[],
            None,
        );
        drive.state.lock().expect("state").comment(
            &doc,
            drive::BOB,
            "Snapshots every 1,000 events?",
            None,
        );
        let mut held = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while held < 5 {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(Ok(Event::ItemHeld { .. }))) => held += 1,
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("the event stream ended: {other:?}"),
                Err(_) => break,
            }
        }
        let posted =
            jiff::Timestamp::now() - jiff::SignedDuration::try_from(sent.elapsed()).expect("short");
        client.stop().await.expect("stop");
        let digest = client
            .digest(None)
            .await
            .expect("digest")
            .expect("a digest");
        let mut missing = vec!["github", "jira", "confluence", "notion", "gdocs"];
        for group in &digest.groups {
            for item in &group.items {
                missing.retain(|source| *source != item.source);
                println!(
                    "{}: posted → held in {:.1} s, as {}",
                    item.source,
                    item.received_at.duration_since(posted).as_secs_f64(),
                    group.class
                );
            }
        }
        assert!(missing.is_empty(), "not held within 5 minutes: {missing:?}");
    });
}

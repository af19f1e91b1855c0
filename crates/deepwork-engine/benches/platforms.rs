//! Every platform at once, on loopback, through the engine: session start → the focus
//! status visible on each platform (they are updated in parallel, one task each), and a
//! message sent → held, per platform. Real Synapse and Prosody; contract servers for
//! Slack (Socket Mode), Mattermost (WebSocket), Teams (Graph) and Pumble (the plugin).
//!
//! Run: `cargo bench -p deepwork-engine --bench platforms` (or `make bench`).
//!
//! Deepwork's XMPP connection checks Prosody's test certificate through
//! `SSL_CERT_FILE`, which must be set before the process starts: the bench starts
//! Prosody, then runs itself again with it set.

use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
use deepwork_adapters::slack::SlackAdapter;
use deepwork_adapters::teams::{TeamsAdapter, TeamsEndpoints};
use deepwork_adapters::xmpp::XmppAdapter;
use deepwork_adapters::{MessageSource, Replier, StatusAdapter};
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_engine::api::Event;
use deepwork_engine::chats::ChatAdapter;
use deepwork_engine::{Client, Paths, server};
use deepwork_harness::prosody::{Person, Prosody};
use deepwork_harness::synapse::Synapse;
use deepwork_harness::{mattermost, pumble, slack, teams};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: usize = 20;
const CHILD: &str = "DEEPWORK_BENCH_PROSODY";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn adapter<A>(name: &str, adapter: Arc<A>) -> ChatAdapter
where
    A: StatusAdapter + MessageSource + Replier + 'static,
{
    ChatAdapter {
        name: name.into(),
        status: Some(adapter.clone()),
        source: Some(adapter.clone()),
        replier: Some(adapter),
        follow_up: None,
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
    if let Ok(address) = std::env::var(CHILD) {
        measure(&address);
        return;
    }
    let prosody = Prosody::start();
    prosody.register("alice", "alice-password");
    prosody.register("bob", "bob-password");
    let status = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env(CHILD, prosody.address())
        .env("SSL_CERT_FILE", prosody.ca_file())
        .status()
        .expect("run the measurement");
    assert!(status.success(), "the measurement failed");
}

/// Polls `check` every 2 ms until it holds; how long that took from `since`.
async fn first_seen(since: Instant, check: impl AsyncFn() -> bool) -> Duration {
    let deadline = since + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "not seen within 30 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    since.elapsed()
}

fn measure(prosody_address: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let synapse = Synapse::start();
    runtime.block_on(async {
        let alice = synapse.register("alice").await;
        let bob = synapse.register("bob").await;
        let dm = bob
            .create_room(json!({ "preset": "trusted_private_chat", "invite": [alice.user_id], "is_direct": true }))
            .await;
        alice.join(&dm).await;
        alice.set_presence("online", "").await;
        let slack = slack::SlackContract::start().await;
        let mattermost = mattermost::MattermostContract::start().await;
        let teams = teams::TeamsContract::start().await;
        let pumble = pumble::PumbleContract::start().await;
        // bob follows alice's XMPP presence: he asks, her own client approves.
        let alice_phone = Person::connect(prosody_address, "alice", "alice-password").await;
        let xmpp_bob = Person::connect(prosody_address, "bob", "bob-password").await;
        xmpp_bob.subscribe_to("alice@localhost").await;
        first_seen(Instant::now(), async || !alice_phone.seen().subscribe_requests.is_empty()).await;
        alice_phone.leave().await;

        let teams_adapter = TeamsAdapter::new(
            TeamsEndpoints::new(&teams.authority, "organizations", &teams.graph, teams::CLIENT_ID).expect("endpoints"),
            teams.now().refresh_token,
            Box::new(|_: &str| {}),
        )
        .expect("teams");
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/plugins/pumble.py");
        let adapters = vec![
            adapter("matrix", Arc::new(MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).expect("matrix"))),
            adapter("slack", Arc::new(SlackAdapter::new(&slack.api, slack::TOKEN.into()).expect("slack").with_app_token(slack::APP_TOKEN.into()))),
            adapter("mattermost", Arc::new(MattermostAdapter::new(&mattermost.url, mattermost::TOKEN.into()).expect("mattermost"))),
            adapter("teams", Arc::new(teams_adapter)),
            adapter("xmpp", Arc::new(XmppAdapter::new("alice@localhost", "alice-password".into(), Some(prosody_address)).expect("xmpp"))),
            adapter("pumble", Arc::new(PluginAdapter::new(PluginCommand {
                name: "pumble".into(),
                program: "python3".into(),
                args: vec![script.display().to_string()],
                env: vec![("PUMBLE_API".into(), pumble.url.clone()), ("DEEPWORK_PLUGIN_TOKEN".into(), pumble::KEY.into())],
            }))),
        ];

        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), "[notifications]\nenabled = false\n[hold_notifications]\nenabled = false\n").expect("config");
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
        let mut events = Client::connect(&paths.socket).await.expect("connect").subscribe().await.expect("subscribe");

        let plan = SessionPlan { end: Some(SessionEnd::For("2h".parse().expect("length"))), check_in: None };
        let started = Instant::now();
        client.start(plan).await.expect("start");
        let (matrix_seen, slack_seen, mattermost_seen, teams_seen, xmpp_seen, pumble_seen) = tokio::join!(
            first_seen(started, async || bob.presence_of(&alice.user_id).await.0 == "unavailable"),
            first_seen(started, async || slack.now().status_text.starts_with("Deep work")),
            first_seen(started, async || mattermost.now().status == "dnd" && mattermost.now().custom.is_some()),
            first_seen(started, async || teams.now().availability() == "DoNotDisturb" && teams.now().status_message.is_some()),
            first_seen(started, async || xmpp_bob.seen().presence_of("alice@localhost/deepwork").is_some()),
            first_seen(started, async || pumble.now().custom_status.is_some()),
        );
        let seen = [
            ("matrix", matrix_seen),
            ("slack", slack_seen),
            ("mattermost", mattermost_seen),
            ("teams", teams_seen),
            ("xmpp", xmpp_seen),
            ("pumble", pumble_seen),
        ];
        println!("deepwork platforms benchmark (all on loopback; {MESSAGES} messages per pushed platform)");
        for (name, at) in seen {
            println!("start → focus status visible on {name}: {:.1} ms", ms(at));
        }
        let all = seen.iter().map(|(_, at)| *at).max().expect("platforms");
        println!("start → focus status on all six: {:.1} ms", ms(all));

        // Each reader takes its starting position first.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for platform in ["matrix", "slack (Socket Mode)", "mattermost (WebSocket)", "xmpp"] {
            let mut latencies = Vec::with_capacity(MESSAGES);
            for n in 0..MESSAGES {
                let text = format!("{platform} message {n}");
                let sent = Instant::now();
                match platform {
                    "matrix" => bob.send(&dm, &text).await,
                    "xmpp" => xmpp_bob.say("alice@localhost", &text).await,
                    "mattermost (WebSocket)" => {
                        mattermost.post_as(mattermost::BOB_ID, mattermost::DM_WITH_BOB, &text, json!({}));
                    }
                    _ => {
                        slack.state.lock().expect("state").post("D0BOB", Some("U0BOB"), None, &text);
                    }
                }
                loop {
                    match tokio::time::timeout(Duration::from_secs(30), events.next()).await {
                        Ok(Some(Ok(Event::ItemHeld { .. }))) => break,
                        Ok(Some(Ok(_))) => {}
                        other => panic!("{platform}: no ItemHeld event within 30 s: {other:?}"),
                    }
                }
                latencies.push(sent.elapsed());
            }
            latencies.sort();
            println!(
                "message sent on {platform} → held: p50 {:.1} ms, max {:.1} ms",
                ms(latencies[latencies.len() / 2]),
                ms(*latencies.last().expect("measured"))
            );
        }
        println!("teams and pumble are polled (every 30 s and 2 s): a message is held within one interval");
    });
}

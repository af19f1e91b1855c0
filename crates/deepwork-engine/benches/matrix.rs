//! Chat latency on loopback against a real Synapse, through the engine and its Matrix
//! adapter: session start → focus status visible to another user, and a message sent
//! on Synapse → held by the engine (the ItemHeld event).
//!
//! Run: `cargo bench -p deepwork-engine --bench matrix` (or `make bench`).

use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_engine::api::Event;
use deepwork_engine::chats::ChatAdapter;
use deepwork_engine::{Client, Paths, server};
use deepwork_harness::synapse::Synapse;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: usize = 30;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
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

        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), "[notifications]\nenabled = false\n").expect("config");
        let paths = Paths {
            config: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
            socket: dir.path().join("engine.sock"),
        };
        let matrix = Arc::new(MatrixAdapter::new(&synapse.base(), &alice.user_id, alice.token.clone()).expect("adapter"));
        let adapter = ChatAdapter {
            name: "matrix".into(),
            status: Some(matrix.clone()),
            source: Some(matrix.clone()),
            replier: Some(matrix),
            follow_up: None,
            poster: None,
            work: None,
            auto_reply: false,
            problem: None,
        };
        let serve_paths = paths.clone();
        tokio::spawn(async move {
            let _ = server::serve_with(&serve_paths, vec![adapter], std::future::pending()).await;
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
        loop {
            if bob.presence_of(&alice.user_id).await.0 == "unavailable" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status_visible = started.elapsed();
        // Let the adapter take its starting read position before the first message.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let mut latencies = Vec::with_capacity(MESSAGES);
        for n in 0..MESSAGES {
            let sent = Instant::now();
            bob.send(&dm, &format!("message {n} for the benchmark")).await;
            loop {
                match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
                    Ok(Some(Ok(Event::ItemHeld { .. }))) => break,
                    Ok(Some(Ok(_))) => {}
                    other => panic!("no ItemHeld event within 10 s: {other:?}"),
                }
            }
            latencies.push(sent.elapsed());
        }
        latencies.sort();
        println!("deepwork chat benchmark (Synapse on loopback, {MESSAGES} messages)");
        println!("start → focus status visible to another user: {:.1} ms", ms(status_visible));
        println!(
            "message sent → held: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().expect("measured"))
        );
    });
}

//! Push → durable → acknowledged, over the real socket of a real `deepwork daemon`,
//! against a raw rusqlite insert loop with the same durability, in the same run.
//!
//! Run: `cargo bench -p deepwork-cli --bench push` (or `make bench`).

use deepwork_core::NewItem;
use deepwork_engine::Client;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEQUENTIAL: usize = 20_000;
const WARM_UP: usize = 1_000;
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 5_000;

fn item(n: usize) -> NewItem {
    NewItem {
        source: "bench".into(),
        sender: format!("sender-{}", n % 40),
        title: format!("build {n} finished on main"),
        body: Some("The nightly pipeline finished; three flaky tests were retried.".into()),
        url: Some(format!("https://ci.example/runs/{n}")),
        channel: Some("#ci".into()),
        urgency: None,
        message_id: None,
        source_class: None,
        conversation: None,
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) -> f64 {
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<34} n={:<6} p50={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms  {:>8.0} items/s",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        rate
    );
    rate
}

fn raw_rusqlite(path: &Path) -> (Vec<Duration>, Duration) {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    conn.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, session_id INTEGER, received_at INTEGER NOT NULL,
         source TEXT NOT NULL, sender TEXT NOT NULL, channel TEXT, title TEXT NOT NULL, body TEXT, url TEXT,
         class TEXT NOT NULL, reason_kind TEXT NOT NULL, reason_detail TEXT, reason_rule TEXT,
         disposition TEXT NOT NULL, digest_id INTEGER, done_at INTEGER)",
    )
    .expect("schema");
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    let started = Instant::now();
    for n in 0..SEQUENTIAL {
        let it = item(n);
        let t = Instant::now();
        conn.execute_batch("BEGIN").expect("begin");
        conn.prepare_cached(
            "INSERT INTO items (session_id, received_at, source, sender, channel, title, body, url, class,
             reason_kind, reason_detail, disposition) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'update', 'default', NULL, 'held')",
        )
        .expect("prepare")
        .execute(rusqlite::params![n as i64, it.source, it.sender, it.channel, it.title, it.body, it.url])
        .expect("insert");
        conn.execute_batch("COMMIT").expect("commit");
        latencies.push(t.elapsed());
    }
    (latencies, started.elapsed())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[notifications]\nenabled = false\n").expect("config");
    let socket = dir.path().join("engine.sock");
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_deepwork"))
            .arg("daemon")
            .env("DEEPWORK_CONFIG", &config)
            .env("DEEPWORK_DATA_DIR", dir.path().join("data"))
            .env("DEEPWORK_SOCKET", &socket)
            .env("DEEPWORK_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn the daemon"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut client = loop {
            match Client::connect(&socket).await {
                Ok(client) => break client,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let plan = deepwork_core::schedule::SessionPlan {
            end: Some(deepwork_core::schedule::SessionEnd::For(
                "12h".parse().expect("length"),
            )),
            check_in: None,
        };
        client
            .start(plan)
            .await
            .expect("start a session, so items are held");
        for n in 0..WARM_UP {
            client.push(item(n)).await.expect("push");
        }
        println!(
            "deepwork push benchmark ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let mut latencies = Vec::with_capacity(SEQUENTIAL);
        let started = Instant::now();
        for n in 0..SEQUENTIAL {
            let t = Instant::now();
            client.push(item(n)).await.expect("push");
            latencies.push(t.elapsed());
        }
        let engine_rate = report(
            "engine, 1 client (sequential)",
            latencies,
            started.elapsed(),
        );

        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let socket = socket.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(&socket).await.expect("connect");
                let mut latencies = Vec::with_capacity(PER_CLIENT);
                for n in 0..PER_CLIENT {
                    let t = Instant::now();
                    client.push(item(c * PER_CLIENT + n)).await.expect("push");
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::with_capacity(CLIENTS * PER_CLIENT);
        for task in tasks {
            all.extend(task.await.expect("client task"));
        }
        report(
            &format!("engine, {CLIENTS} clients (group commit)"),
            all,
            started.elapsed(),
        );

        let (raw, elapsed) = raw_rusqlite(&dir.path().join("raw.sqlite3"));
        let raw_rate = report("raw rusqlite, 1 insert per commit", raw, elapsed);
        println!(
            "engine sequential / raw rusqlite throughput: {:.2}",
            engine_rate / raw_rate
        );
    });
    drop(daemon);
}

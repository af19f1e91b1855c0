//! `Notify` on the session bus → the notification held (stored, `item_held` sent), with
//! a real `deepwork daemon`, a real dunst on Xvfb and a private bus, during a session.
//! The clock starts just before the Notify call is sent and stops when the engine's
//! event arrives over its socket, so both the monitor and the store are inside it.
//!
//! Run: `cargo bench -p deepwork-cli --bench hold` (or `make bench`).

use deepwork_core::schedule::{SessionEnd, SessionPlan};
use deepwork_engine::Client;
use deepwork_engine::api::Event;
use deepwork_harness::desktop::{Bus, Xvfb};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WARM_UP: usize = 50;
const ROUNDS: usize = 1_000;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let bus = Bus::start(dir.path());
    let x = Xvfb::start();
    let _dunst = Process(
        Command::new("dunst")
            .args(["-config", "/dev/null"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("DISPLAY", &x.display)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst is installed (make test installs it)"),
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[notifications]\nenabled = false\n").expect("config");
    let socket = dir.path().join("engine.sock");
    let _daemon = Process(
        Command::new(env!("CARGO_BIN_EXE_deepwork"))
            .args(["daemon", "--headless"])
            .env("HOME", dir.path())
            .env("DEEPWORK_CONFIG", &config)
            .env("DEEPWORK_DATA_DIR", dir.path().join("data"))
            .env("DEEPWORK_SOCKET", &socket)
            .env("DEEPWORK_LOG", "warn")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn the daemon"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
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
        let plan = SessionPlan {
            end: Some(SessionEnd::For("12h".parse().expect("length"))),
            check_in: None,
        };
        client.start(plan).await.expect("start a session");
        // Holding starts once the session has paused dunst (the monitor is on the bus
        // before that).
        loop {
            let paused = Command::new("dunstctl")
                .arg("is-paused")
                .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
                .output()
                .expect("dunstctl");
            if paused.stdout.starts_with(b"true") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut events = Client::connect(&socket)
            .await
            .expect("connect")
            .subscribe()
            .await
            .expect("subscribe");
        let app = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .expect("connect to the bus");
        let mut latencies = Vec::with_capacity(ROUNDS);
        for n in 0..WARM_UP + ROUNDS {
            let started = Instant::now();
            app.call_method(
                Some("org.freedesktop.Notifications"),
                "/org/freedesktop/Notifications",
                Some("org.freedesktop.Notifications"),
                "Notify",
                &(
                    "mail",
                    0u32,
                    "",
                    format!("New mail {n}"),
                    "Quarterly numbers attached",
                    Vec::<&str>::new(),
                    HashMap::<&str, zbus::Variant>::new(),
                    -1i32,
                ),
            )
            .await
            .expect("Notify answered");
            loop {
                match events.next().await {
                    Some(Ok(Event::ItemHeld { .. })) => break,
                    Some(Ok(_)) => {}
                    other => panic!("the engine's events stopped: {other:?}"),
                }
            }
            if n >= WARM_UP {
                latencies.push(started.elapsed());
            }
        }
        latencies.sort();
        println!(
            "Notify on the bus -> held and announced (dunst, {} cores): n={} p50={:.2} ms  p99={:.2} ms  max={:.2} ms",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            latencies.len(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
    });
}

//! The digest as the engine builds it: 100,000 held items read from a real SQLite file
//! and grouped. Also the cost of one durable item write, for the push figures.

use criterion::{Criterion, criterion_group, criterion_main};
use deepwork_core::config::ResponseWindows;
use deepwork_core::digest::{ItemRecord, build_digest};
use deepwork_core::plans::{PlansConfig, WorkHours};
use deepwork_core::triage::Reason;
use deepwork_core::{Class, Disposition, ItemId, SessionId};
use deepwork_store::{SessionKind, Store, from_millis};
use jiff::tz::TimeZone;
use std::hint::black_box;

fn record(n: i64) -> ItemRecord {
    ItemRecord {
        id: ItemId(n),
        session: Some(SessionId(1)),
        received_at: from_millis(1_800_000_000_000 + n * 100),
        source: "slack".into(),
        sender: format!("sender-{}", n % 50),
        channel: Some("#general".into()),
        title: format!("message number {n} about the release"),
        body: Some(
            "Some longer body text that the snippet will shorten for the digest view. ".repeat(3),
        ),
        url: Some(format!("https://chat.example/m/{n}")),
        class: Class::ALL[(n % 5) as usize],
        reason: Reason::Rule {
            matched: "keyword 'release'".into(),
            name: None,
        },
        deadline: None,
        disposition: Disposition::Held,
        digest: None,
        done_at: None,
        done_by: None,
        message_id: None,
        conversation: None,
    }
}

fn digest_from_disk(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(&dir.path().join("bench.sqlite3")).expect("open");
    let t0 = from_millis(1_800_000_000_000);
    let digest = store
        .write(|w| {
            w.insert_session(
                SessionId(1),
                SessionKind::Focus,
                t0,
                from_millis(1_800_036_000_000),
                &[],
                None,
            )?;
            let mut ids = Vec::with_capacity(100_000);
            for n in 1..=100_000 {
                w.insert_item(&record(n))?;
                ids.push(ItemId(n));
            }
            w.insert_digest(SessionId(1), t0, &ids)
        })
        .expect("fill");
    let windows = ResponseWindows::default();
    c.bench_function("digest_from_sqlite/100000", |b| {
        b.iter(|| {
            let items = store.digest_items(digest).expect("read");
            black_box(build_digest(
                digest,
                SessionId(1),
                t0,
                items,
                &windows,
                &WorkHours::new(&PlansConfig::default(), &TimeZone::UTC),
            ))
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = digest_from_disk
}
criterion_main!(benches);

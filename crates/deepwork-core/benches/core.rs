//! Criterion benchmarks of the core's pure functions at their stated scales:
//! a digest of 100,000 held items, and weekly stats over ten years of sessions.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deepwork_core::config::{Config, ResponseWindows};
use deepwork_core::digest::{DigestId, ItemRecord, build_digest};
use deepwork_core::stats::{IsoWeek, ItemFact, SessionRecord, weekly_stats};
use deepwork_core::triage::{Reason, Triager};
use deepwork_core::{Class, Disposition, ItemId, NewItem, SessionId};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::hint::black_box;

const START: i64 = 1_800_000_000;

fn held_items(count: i64) -> Vec<ItemRecord> {
    (0..count)
        .map(|n| ItemRecord {
            id: ItemId(n),
            session: Some(SessionId(1)),
            received_at: Timestamp::from_second(START + n % 7200).expect("in range"),
            source: "slack".into(),
            sender: format!("sender-{}", n % 50),
            channel: Some("#general".into()),
            title: format!("message number {n} about the release"),
            body: Some(
                "Some longer body text that the snippet will shorten for the digest view. "
                    .repeat(3),
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
        })
        .collect()
}

/// Ten years of days with eight 50-minute sessions each: 29,200 sessions, five items each.
fn ten_years() -> (Vec<SessionRecord>, Vec<ItemFact>) {
    let mut sessions = Vec::new();
    let mut items = Vec::new();
    let day = 86_400;
    for d in 0..(10 * 365) {
        for s in 0..8 {
            let started_at =
                Timestamp::from_second(START - 10 * 365 * day + d * day + 8 * 3600 + s * 70 * 60)
                    .expect("in range");
            let id = SessionId(sessions.len() as i64 + 1);
            sessions.push(SessionRecord {
                id,
                started_at,
                planned_end: started_at + SignedDuration::from_mins(50),
                ended_at: Some(
                    started_at + SignedDuration::from_mins(if s == 7 { 30 } else { 50 }),
                ),
                early: s == 7,
            });
            for i in 0..5 {
                items.push(ItemFact {
                    session: id,
                    received_at: started_at + SignedDuration::from_mins(i * 7),
                    class: Class::ALL[(i % 5) as usize],
                    disposition: if i == 0 {
                        Disposition::BrokeThrough
                    } else {
                        Disposition::Held
                    },
                });
            }
        }
    }
    (sessions, items)
}

fn digest(c: &mut Criterion) {
    let windows = ResponseWindows::default();
    let items = held_items(100_000);
    c.bench_with_input(
        BenchmarkId::new("build_digest", 100_000),
        &items,
        |b, items| {
            b.iter_batched(
                || items.clone(),
                |items| {
                    black_box(build_digest(
                        DigestId(1),
                        SessionId(1),
                        Timestamp::UNIX_EPOCH,
                        items,
                        &windows,
                    ))
                },
                criterion::BatchSize::LargeInput,
            );
        },
    );
}

fn stats(c: &mut Criterion) {
    let tz = TimeZone::get("Europe/Berlin").expect("tzdb");
    let (sessions, items) = ten_years();
    let now = Timestamp::from_second(START).expect("in range");
    let week = IsoWeek::at(now - SignedDuration::from_hours(24 * 3), &tz);
    c.bench_function(&format!("weekly_stats/{}_sessions", sessions.len()), |b| {
        b.iter(|| black_box(weekly_stats(week, &tz, now, &sessions, &items, 15.0, 8)));
    });
}

fn triage(c: &mut Criterion) {
    let triager = Triager::new(&Config::default().triage).expect("default rules compile");
    let texts = [
        "hey, got a sec?",
        "Production outage in eu-west",
        "new mockups are up for review",
        "roadmap for next quarter",
    ];
    let items: Vec<NewItem> = texts
        .iter()
        .map(|t| NewItem {
            source: "slack".into(),
            sender: "bob".into(),
            title: (*t).into(),
            body: None,
            url: None,
            channel: None,
            urgency: None,
        })
        .collect();
    c.bench_function("triage/one_item", |b| {
        let mut n = 0;
        b.iter(|| {
            n = (n + 1) % items.len();
            black_box(triager.triage(&items[n]))
        });
    });
}

criterion_group!(benches, digest, stats, triage);
criterion_main!(benches);

//! Fuzzing helpers shared by the crates' `tests/fuzz.rs`: a loop that runs a proptest
//! strategy for a time budget (`DEEPWORK_FUZZ_SECONDS`) or a short smoke run, and
//! strategies that make arbitrary and mutated text and JSON.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as RunnerConfig, RngSeed, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// Runs `test` on values of `strategy` until `DEEPWORK_FUZZ_SECONDS` have passed, or
/// for `smoke` cases when it is not set. Panics with the smallest failing input.
pub fn fuzz<S>(
    name: &str,
    smoke: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let seconds = std::env::var("DEEPWORK_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let seed = std::env::var("DEEPWORK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            // A smoke run (the test suite's) is the same every time; a timed run explores.
            if seconds.is_none() {
                return 0;
            }
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ u64::from(std::process::id()).rotate_left(32)
        });
    let batch = smoke.clamp(1, 64);
    let config = RunnerConfig {
        cases: batch,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_time: 120_000,
        ..RunnerConfig::default()
    };
    // A runner counts its cases up to `cases` once: each batch gets its own, with the
    // next random stream of the one seeded runner, so a seed replays the whole run.
    let mut seeded = TestRunner::new(config.clone());
    let started = Instant::now();
    let budget = seconds.map(Duration::from_secs);
    let mut cases: u64 = 0;
    loop {
        let mut runner = TestRunner::new_with_rng(config.clone(), seeded.new_rng());
        if let Err(error) = runner.run(&strategy, &test) {
            panic!("fuzz {name}: {error}\nreplay with DEEPWORK_FUZZ_SEED={seed}");
        }
        cases += u64::from(batch);
        let done = match budget {
            Some(budget) => started.elapsed() >= budget,
            None => cases >= u64::from(smoke),
        };
        if done {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {name}: {cases} cases in {elapsed:.1} s ({:.0}/s), no panic (seed {seed})",
        cases as f64 / elapsed.max(1e-9)
    );
}

/// Text made of `tokens` (the shapes a parser cares about) and arbitrary characters.
pub fn soup(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(tokens).prop_map(str::to_owned),
            2 => any::<char>().prop_map(String::from),
            1 => any::<String>(),
            1 => (prop::sample::select(tokens), 1usize..200).prop_map(|(t, n)| t.repeat(n)),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// Any text: arbitrary characters, arbitrary bytes read as UTF-8, or a soup of tokens.
pub fn text(tokens: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..256)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        4 => soup(tokens, 40),
    ]
}

/// One edit of a valid input.
#[derive(Clone, Debug)]
pub enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    Replace(Index, usize, String),
    Repeat(Index, usize, usize),
    Truncate(Index),
}

pub fn edit(tokens: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    let piece = prop_oneof![
        3 => prop::sample::select(tokens).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
        1 => any::<String>(),
    ];
    prop_oneof![
        4 => (any::<Index>(), piece.clone()).prop_map(|(at, s)| Edit::Insert(at, s)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(at, n)| Edit::Delete(at, n)),
        3 => (any::<Index>(), 1usize..16, piece).prop_map(|(at, n, s)| Edit::Replace(at, n, s)),
        1 => (any::<Index>(), 1usize..40, 2usize..50).prop_map(|(at, n, k)| Edit::Repeat(at, n, k)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

pub fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

pub fn apply(mut text: String, edits: &[Edit]) -> String {
    for edit in edits {
        let at = |index: &Index, text: &str| boundary(text, index.index(text.len() + 1));
        match edit {
            Edit::Insert(index, piece) => {
                let at = at(index, &text);
                text.insert_str(at, piece);
            }
            Edit::Delete(index, len) => {
                let start = at(index, &text);
                let end = boundary(&text, start + len);
                text.replace_range(start..end, "");
            }
            Edit::Replace(index, len, piece) => {
                let start = at(index, &text);
                let end = boundary(&text, start + len);
                text.replace_range(start..end, piece);
            }
            Edit::Repeat(index, len, times) => {
                let start = at(index, &text);
                let end = boundary(&text, start + len);
                let repeated = text[start..end].repeat(*times);
                text.replace_range(start..end, &repeated);
            }
            Edit::Truncate(index) => {
                let at = at(index, &text);
                text.truncate(at);
            }
        }
    }
    text
}

/// A valid input from `seeds` with one to eight edits.
pub fn mutated(
    seeds: Vec<String>,
    tokens: &'static [&'static str],
) -> impl Strategy<Value = String> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(edit(tokens), 1..8),
    )
        .prop_map(|(seed, edits)| apply(seed, &edits))
}

/// `open` repeated `depth` times, then `close` as often: nesting a recursive parser
/// might not survive.
pub fn nested(pairs: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = String> {
    (prop::sample::select(pairs), 1usize..20_000, any::<bool>()).prop_map(
        |((open, close), depth, closed)| {
            let mut text = open.repeat(depth);
            if closed {
                text.push_str(&close.repeat(depth));
            }
            text
        },
    )
}

// ---- structured mutation of JSON ----

#[rustfmt::skip]
pub const ODD_NUMBERS: &[i64] = &[
    0, -1, 1, 2, 59, 60, 3600, i32::MAX as i64, u32::MAX as i64, i64::MIN, i64::MAX,
    i64::MAX / 1000, -62_135_596_800, 253_402_300_799, 1_700_000_000_000, 9_007_199_254_740_993,
];

/// Values a field might be given instead of what it expects; `strings` are the odd
/// texts that matter to this parser.
pub fn odd_value(strings: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => prop::sample::select(ODD_NUMBERS).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => prop::sample::select(vec![json!(1e308), json!(-0.0), json!(0.5), json!(168.000001)]),
        4 => prop::sample::select(strings).prop_map(Value::from),
        2 => any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every node of `value`, as JSON pointers.
pub fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One change to a document's structure.
#[derive(Clone, Debug)]
pub enum JsonEdit {
    /// Replace a node.
    Set(Index, Value),
    /// Remove a node from its object or array.
    Remove(Index),
    /// Add a key to an object (or an element to an array).
    Add(Index, String, Value),
}

pub fn json_edit(
    keys: &'static [&'static str],
    strings: &'static [&'static str],
) -> impl Strategy<Value = JsonEdit> + Clone {
    let key = prop::sample::select(keys).prop_map(str::to_owned);
    prop_oneof![
        5 => (any::<Index>(), odd_value(strings)).prop_map(|(at, v)| JsonEdit::Set(at, v)),
        2 => any::<Index>().prop_map(JsonEdit::Remove),
        2 => (any::<Index>(), key, odd_value(strings)).prop_map(|(at, k, v)| JsonEdit::Add(at, k, v)),
    ]
}

pub fn apply_json(mut value: Value, edits: &[JsonEdit]) -> Value {
    for edit in edits {
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        let pick = |index: &Index| all[index.index(all.len())].clone();
        match edit {
            JsonEdit::Set(index, new) => {
                if let Some(node) = value.pointer_mut(&pick(index)) {
                    *node = new.clone();
                }
            }
            JsonEdit::Remove(index) => {
                let pointer = pick(index);
                let Some((parent, last)) = pointer.rsplit_once('/') else {
                    continue;
                };
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(at) = last.parse::<usize>()
                            && at < items.len()
                        {
                            items.remove(at);
                        }
                    }
                    _ => {}
                }
            }
            JsonEdit::Add(index, key, new) => match value.pointer_mut(&pick(index)) {
                Some(Value::Object(map)) => {
                    map.insert(key.clone(), new.clone());
                }
                Some(Value::Array(items)) => items.push(new.clone()),
                _ => {}
            },
        }
    }
    value
}

/// `seed` as it is, or with up to `most` edits of its structure.
pub fn edited(
    seed: impl Strategy<Value = Value> + Clone,
    most: usize,
    keys: &'static [&'static str],
    strings: &'static [&'static str],
) -> impl Strategy<Value = Value> + Clone {
    (
        seed,
        prop::collection::vec(json_edit(keys, strings), 0..=most),
    )
        .prop_map(|(value, edits)| apply_json(value, &edits))
}

//! Trains the triage model: `make train-triage`.
//!
//! Reads the labelled corpus in `triage/corpus/*.jsonl`, trains a multinomial logistic
//! regression over the core's own features (AdaGrad; classes weighed by their rarity; no
//! regularization, which did not help out of fold; five shuffles averaged), picks the
//! emergency threshold for recall from 5-fold out-of-fold probabilities, writes
//! `triage/model.bin`, and reports on the held-out split in
//! `triage/heldout/` (and on `triage/unseen.jsonl`, written by another author), which
//! it never trains on. Deterministic: the same corpus gives the same bytes. With
//! `--misses` (`make train-triage ARGS=--misses`) it lists the corpus's out-of-fold
//! mistakes and the evaluation sets' mistakes.

use deepwork_core::config::TriageConfig;
use deepwork_core::triage::Triager;
use deepwork_core::triage::eval::{Labelled, evaluate, parse_labelled, reference_arrival};
use deepwork_core::triage::features::{self, Origin};
use deepwork_core::triage::model::{self, Model, Weights};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const CLASSES: usize = 5;
const EPOCHS: usize = 15;
const LEARNING_RATE: f32 = 0.5;
const FOLDS: usize = 5;
/// Models averaged into one.
const BAGS: usize = 5;
/// Out-of-fold emergency recall the threshold must keep.
const TARGET_RECALL: f64 = 0.98;

struct Example {
    features: Vec<(u32, f32)>,
    class: usize,
}

fn featurize(message: &Labelled) -> Example {
    let item = message.to_item();
    let words = features::words(&item.title);
    let origin = Origin {
        source: &item.source,
        sender: &item.sender,
        channel: item.channel.as_deref(),
    };
    let features = features::vector(features::extract(origin, &words))
        .into_iter()
        .map(|(f, value)| (f.key, value))
        .collect();
    Example {
        features,
        class: message.expected.index(),
    }
}

/// A small deterministic generator for the shuffles (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

struct Trained {
    weights: HashMap<u32, [f32; CLASSES]>,
    bias: [f32; CLASSES],
}

impl Trained {
    fn probabilities(&self, features: &[(u32, f32)]) -> [f32; CLASSES] {
        let mut logits = self.bias;
        for (key, value) in features {
            if let Some(w) = self.weights.get(key) {
                for c in 0..CLASSES {
                    logits[c] += w[c] * value;
                }
            }
        }
        model::softmax(logits)
    }
}

fn train_one(examples: &[&Example], seed: u64) -> Trained {
    let mut counts = [0usize; CLASSES];
    for e in examples {
        counts[e.class] += 1;
    }
    // Classes weigh by their rarity; recall for emergencies comes from the threshold.
    let class_weight: Vec<f32> = (0..CLASSES)
        .map(|c| examples.len() as f32 / (CLASSES as f32 * counts[c].max(1) as f32))
        .collect();
    let mut weights: HashMap<u32, [f32; CLASSES]> = HashMap::new();
    let mut squares: HashMap<u32, [f32; CLASSES]> = HashMap::new();
    let mut bias = [0.0f32; CLASSES];
    let mut bias_squares = [0.0f32; CLASSES];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Rng(seed);
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for &i in &order {
            let example = examples[i];
            let mut logits = bias;
            for (key, value) in &example.features {
                if let Some(w) = weights.get(key) {
                    for c in 0..CLASSES {
                        logits[c] += w[c] * value;
                    }
                }
            }
            let p = model::softmax(logits);
            let gradient: Vec<f32> = (0..CLASSES)
                .map(|c| {
                    let target = if c == example.class { 1.0 } else { 0.0 };
                    (p[c] - target) * class_weight[example.class]
                })
                .collect();
            for c in 0..CLASSES {
                bias_squares[c] += gradient[c] * gradient[c];
                bias[c] -= LEARNING_RATE * gradient[c] / (bias_squares[c].sqrt() + 1e-8);
            }
            for (key, value) in &example.features {
                let w = weights.entry(*key).or_insert([0.0; CLASSES]);
                let g2 = squares.entry(*key).or_insert([0.0; CLASSES]);
                for c in 0..CLASSES {
                    let g = gradient[c] * value;
                    g2[c] += g * g;
                    w[c] -= LEARNING_RATE * g / (g2[c].sqrt() + 1e-8);
                }
            }
        }
    }
    Trained { weights, bias }
}

/// Several models trained on different shuffles, averaged: a linear model's average is
/// one linear model, and it varies less with the order it saw the examples in.
fn train(examples: &[&Example]) -> Trained {
    let mut averaged = Trained {
        weights: HashMap::new(),
        bias: [0.0; CLASSES],
    };
    for bag in 0..BAGS {
        let seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(bag as u64 + 1);
        let trained = train_one(examples, seed);
        for (key, w) in trained.weights {
            let sum = averaged.weights.entry(key).or_insert([0.0; CLASSES]);
            for c in 0..CLASSES {
                sum[c] += w[c] / BAGS as f32;
            }
        }
        for c in 0..CLASSES {
            averaged.bias[c] += trained.bias[c] / BAGS as f32;
        }
    }
    averaged
}

/// Out-of-fold emergency probabilities, for every example.
fn out_of_fold(examples: &[Example]) -> Vec<[f32; CLASSES]> {
    let mut probabilities = vec![[0.0; CLASSES]; examples.len()];
    for fold in 0..FOLDS {
        let training: Vec<&Example> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, e)| e)
            .collect();
        let trained = train(&training);
        for (i, e) in examples.iter().enumerate() {
            if i % FOLDS == fold {
                probabilities[i] = trained.probabilities(&e.features);
            }
        }
    }
    probabilities
}

/// The highest threshold that keeps the target recall out of fold, and what it costs.
fn pick_threshold(examples: &[Example], oof: &[[f32; CLASSES]]) -> f32 {
    let emergencies: Vec<f32> = examples
        .iter()
        .zip(oof)
        .filter(|(e, _)| e.class == 0)
        .map(|(_, p)| p[0])
        .collect();
    let mut sorted = emergencies.clone();
    sorted.sort_by(f32::total_cmp);
    let allowed_misses = ((1.0 - TARGET_RECALL) * sorted.len() as f64).floor() as usize;
    let threshold = sorted.get(allowed_misses).copied().unwrap_or(0.5).min(0.5) * 0.95;
    println!("emergency threshold, out of fold (recall first):");
    for t in [0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, threshold] {
        let (mut tp, mut fp) = (0, 0);
        for (e, p) in examples.iter().zip(oof) {
            if p[0] >= t {
                if e.class == 0 { tp += 1 } else { fp += 1 }
            }
        }
        let marker = if t == threshold { "  <- chosen" } else { "" };
        println!(
            "  p >= {t:.3}: recall {:.1}%, precision {:.1}%{marker}",
            100.0 * tp as f64 / emergencies.len().max(1) as f64,
            100.0 * tp as f64 / (tp + fp).max(1) as f64
        );
    }
    threshold
}

fn read_dir(dir: &Path) -> Vec<Labelled> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| read_file(f)).collect()
}

fn read_file(file: &Path) -> Vec<Labelled> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    parse_labelled(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn report(name: &str, model: Model, messages: &[Labelled], show_misses: bool) {
    let triager = Triager::with_model(&TriageConfig::default(), Some(model)).expect("no rules");
    let received = reference_arrival(&jiff::tz::TimeZone::UTC);
    let (confusion, misses) = evaluate(&triager, messages, &received);
    println!("\n{name}:\n{confusion}");
    if show_misses {
        for miss in misses {
            println!(
                "  {} -> {}: {:?} ({})",
                miss.message.expected.label(),
                miss.got.label(),
                miss.message.text,
                miss.why
            );
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("triage");
    let show_misses = std::env::args().any(|a| a == "--misses");
    let corpus = read_dir(&root.join("corpus"));
    let examples: Vec<Example> = corpus.iter().map(featurize).collect();
    let mut per_class = [0usize; CLASSES];
    for e in &examples {
        per_class[e.class] += 1;
    }
    println!(
        "training on {} messages {per_class:?} (emergency, blocker, update, strategic, pre-ping)",
        examples.len()
    );
    let oof = out_of_fold(&examples);
    let right = examples
        .iter()
        .zip(&oof)
        .filter(|(e, p)| model::decide(p, 0.5).index() == e.class)
        .count();
    println!(
        "out-of-fold accuracy of the model alone: {:.1}%",
        100.0 * right as f64 / examples.len() as f64
    );
    let emergency_threshold = pick_threshold(&examples, &oof);
    if show_misses {
        // The training corpus's own out-of-fold mistakes: where labels are worth a second
        // look, or where the corpus needs more of a kind, without peeking at held-out data.
        println!("out-of-fold mistakes in the training corpus:");
        for ((example, p), message) in examples.iter().zip(&oof).zip(&corpus) {
            let got = model::decide(p, emergency_threshold);
            if got.index() != example.class {
                println!(
                    "  {} -> {} ({:.2}): {:?}",
                    message.expected.label(),
                    got.label(),
                    p[got.index()],
                    message.text
                );
            }
        }
    }
    let all: Vec<&Example> = examples.iter().collect();
    let trained = train(&all);
    let weights = Weights {
        features: trained.weights.into_iter().collect(),
        bias: trained.bias,
        emergency_threshold,
    };
    let bytes = model::encode(&weights);
    let out = root.join("model.bin");
    std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    let model =
        Model::load(Box::leak(bytes.into_boxed_slice())).expect("the model just written loads");
    report(
        "held-out split (triage/heldout)",
        model,
        &read_dir(&root.join("heldout")),
        show_misses,
    );
    let unseen = root.join("unseen.jsonl");
    if unseen.exists() {
        report(
            "another author's set (triage/unseen.jsonl)",
            model,
            &read_file(&unseen),
            show_misses,
        );
    }
}

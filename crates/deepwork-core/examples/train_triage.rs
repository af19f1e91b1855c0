//! Trains the triage model: `make train-triage`.
//!
//! Reads the labelled corpus in `triage/corpus/*.jsonl` and trains a network with one
//! hidden layer of ReLU units over the core's own features (each feature seen in at
//! least [`MIN_COUNT`] messages, the most frequent first within the file's budget, gets a
//! row of hidden weights; Adam; classes weighed by their rarity; feature dropout). The
//! width and the number of networks averaged are chosen from 5-fold out-of-fold figures
//! on the corpus, and so is the emergency threshold, for recall. It
//! writes `triage/model.bin` and reports on the held-out split in `triage/heldout/` (and
//! on `triage/unseen*.jsonl`, written by other authors), which it never trains on.
//! Deterministic: the same corpus gives the same bytes. With `--misses`
//! (`make train-triage ARGS=--misses`) it lists the corpus's out-of-fold mistakes; the
//! evaluation sets' mistakes stay unprinted, so that nobody tunes the corpus to them.
//! With `--learning-curve` it trains on a quarter, a half, three quarters and all of the
//! corpus (whole families at a time) and prints the held-out and unseen figures of each,
//! writing no model: what more data of the same kind would buy.

use deepwork_core::config::TriageConfig;
use deepwork_core::item::Class;
use deepwork_core::triage::Triager;
use deepwork_core::triage::eval::{Labelled, evaluate, parse_labelled, reference_arrival};
use deepwork_core::triage::features::{self, Origin};
use deepwork_core::triage::model::{self, Model, Weights};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const CLASSES: usize = 5;
/// Passes and rate as checked out of fold: 10 epochs underfit, 40 epochs or a rate of
/// 3e-3 overfit.
const EPOCHS: usize = 20;
const BATCH: usize = 128;
const LEARNING_RATE: f32 = 1e-3;
/// Adam's decay rates for its first and second moments.
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
/// L2 penalty on the weights (not the biases), per example of a batch.
const L2: f32 = 1e-4;
/// A feature seen in fewer training messages gets no row: rarer ones are mostly ids and
/// typos the network would only memorize, and they would triple the model's size. (A
/// count of 5 lost accuracy out of fold.)
const MIN_COUNT: usize = 3;
const FOLDS: usize = 5;
/// Each training message loses this share of its features at random on every pass, so
/// that no single phrase carries a class alone and a message worded another way still
/// finds its class (19,650 messages, 1 x 8, out of fold: none 89.3% accuracy and 76.5%
/// emergency precision, 0.2 89.5% and 77.3%, 0.4 over 30 passes 89.3% and 76.7%).
const DROPOUT: f32 = 0.2;
/// The shapes tried, as (hidden units per network, networks averaged). Within the file's
/// budget a narrower network keeps more features, which counted for more out of fold
/// (19,650 messages within 2.3 MB, no dropout: 1 x 4 86.8%, 1 x 8 89.3%, 1 x 16 88.9%,
/// 1 x 32 87.4%; within 4.6 MB 1 x 32 89.1%, 1 x 48 88.2%); wider or averaged shapes
/// (2 x 64, 1 x 128) scored no better on 8,314 even unbudgeted.
const CANDIDATES: [(usize, usize); 2] = [(8, 1), (16, 1)];
/// The largest model file a shape may make: the engine maps the model into memory and
/// reads all of it over a session, and its resident size has a budget (25 MB). A shape
/// keeps its most frequent features that fit. Every feature seen [`MIN_COUNT`] times fits
/// at 8 units; a 4.6 MB model of 32 units scored the same out of fold but put the
/// resident at 27.6 MB once a session had paged it all in.
const MAX_MODEL_BYTES: usize = 2_300_000;
/// Out-of-fold emergency recall the threshold must keep. 99% cost too much on 17,503
/// messages: the threshold fell to p >= 0.015 and out-of-fold emergency precision from
/// 76% to 67%.
const TARGET_RECALL: f64 = 0.98;

/// Sets written by authors who never saw the corpus, never trained on.
const OTHER_AUTHORS: [&str; 2] = ["unseen.jsonl", "unseen-2.jsonl"];

#[derive(Clone)]
struct Example {
    features: Vec<(u32, f32)>,
    class: usize,
    /// The cross-validation fold it is scored in.
    fold: usize,
}

/// A message's fold: its family's, so that no variant of a scenario is scored by a
/// network trained on another (which would make the out-of-fold figures, and the
/// threshold chosen from them, too kind); by position when it has no family.
fn fold_of(message: &Labelled, position: usize) -> usize {
    match &message.family {
        Some(family) => (fnv64(family.as_bytes()) % FOLDS as u64) as usize,
        None => position % FOLDS,
    }
}

/// 64-bit FNV-1a.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a message is among `percent` of the corpus kept for a point of the learning
/// curve: whole families together, drawn apart from the folds by a salted hash.
fn in_share(message: &Labelled, position: usize, percent: u64) -> bool {
    let key = match &message.family {
        Some(family) => format!("share {family}"),
        None => format!("share #{position}"),
    };
    fnv64(key.as_bytes()) % 100 < percent
}

fn featurize(position: usize, message: &Labelled) -> Example {
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
        fold: fold_of(message, position),
    }
}

/// A small deterministic generator for initial weights and shuffles (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-bound, bound).
    fn uniform(&mut self, bound: f32) -> f32 {
        (2.0 * self.unit() - 1.0) * bound
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// The features a network has rows for: those seen in at least [`MIN_COUNT`] of its
/// training messages, the most frequent first as far as the file's budget goes, sorted.
struct Vocabulary {
    keys: Vec<u32>,
    index: HashMap<u32, usize>,
}

impl Vocabulary {
    fn new(examples: &[&Example], most: usize) -> Vocabulary {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for e in examples {
            for (key, _) in &e.features {
                *counts.entry(*key).or_default() += 1;
            }
        }
        let mut frequent: Vec<(usize, u32)> = counts
            .into_iter()
            .filter(|(_, n)| *n >= MIN_COUNT)
            .map(|(key, n)| (n, key))
            .collect();
        frequent.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut keys: Vec<u32> = frequent
            .into_iter()
            .take(most)
            .map(|(_, key)| key)
            .collect();
        keys.sort_unstable();
        let index = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        Vocabulary { keys, index }
    }

    fn rows(&self, features: &[(u32, f32)]) -> Vec<(usize, f32)> {
        features
            .iter()
            .filter_map(|(key, value)| self.index.get(key).map(|row| (*row, *value)))
            .collect()
    }
}

/// A network: feature rows into `hidden` ReLU units, then a softmax over the classes.
#[derive(Clone)]
struct Net {
    hidden: usize,
    /// One row of `hidden` weights per vocabulary entry.
    rows: Vec<f32>,
    hidden_bias: Vec<f32>,
    /// One row of `hidden` weights per class.
    output: Vec<f32>,
    output_bias: [f32; CLASSES],
}

impl Net {
    /// Weights drawn as Glorot and Bengio advise for ReLU layers.
    fn new(features: usize, hidden: usize, rng: &mut Rng) -> Net {
        let bound = (6.0 / (features + hidden) as f32).sqrt();
        let rows = (0..features * hidden).map(|_| rng.uniform(bound)).collect();
        let hidden_bias = (0..hidden).map(|_| rng.uniform(bound)).collect();
        let bound = (6.0 / (hidden + CLASSES) as f32).sqrt();
        let output = (0..CLASSES * hidden).map(|_| rng.uniform(bound)).collect();
        let output_bias = std::array::from_fn(|_| rng.uniform(bound));
        Net {
            hidden,
            rows,
            hidden_bias,
            output,
            output_bias,
        }
    }

    /// The hidden layer's pre-activations.
    fn hidden_layer(&self, features: &[(usize, f32)]) -> Vec<f32> {
        let mut hidden = self.hidden_bias.clone();
        for (row, value) in features {
            let row = &self.rows[row * self.hidden..(row + 1) * self.hidden];
            for (h, w) in hidden.iter_mut().zip(row) {
                *h += w * value;
            }
        }
        hidden
    }

    fn logits(&self, hidden: &[f32]) -> [f32; CLASSES] {
        std::array::from_fn(|c| {
            let row = &self.output[c * self.hidden..(c + 1) * self.hidden];
            self.output_bias[c]
                + row
                    .iter()
                    .zip(hidden)
                    .map(|(w, h)| w * h.max(0.0))
                    .sum::<f32>()
        })
    }

    fn probabilities(&self, features: &[(usize, f32)]) -> [f32; CLASSES] {
        model::softmax(self.logits(&self.hidden_layer(features)))
    }

    /// Networks side by side as one, their logits averaged: what the file can hold.
    fn average(nets: Vec<Net>) -> Net {
        let n = nets.len();
        let features = nets[0].rows.len() / nets[0].hidden;
        let hidden: usize = nets.iter().map(|net| net.hidden).sum();
        let mut rows = Vec::with_capacity(features * hidden);
        for f in 0..features {
            for net in &nets {
                rows.extend_from_slice(&net.rows[f * net.hidden..(f + 1) * net.hidden]);
            }
        }
        let hidden_bias = nets
            .iter()
            .flat_map(|net| net.hidden_bias.clone())
            .collect();
        let mut output = Vec::with_capacity(CLASSES * hidden);
        for c in 0..CLASSES {
            for net in &nets {
                let row = &net.output[c * net.hidden..(c + 1) * net.hidden];
                output.extend(row.iter().map(|w| w / n as f32));
            }
        }
        let output_bias = std::array::from_fn(|c| {
            nets.iter().map(|net| net.output_bias[c]).sum::<f32>() / n as f32
        });
        Net {
            hidden,
            rows,
            hidden_bias,
            output,
            output_bias,
        }
    }
}

/// Adam's running moments for one block of parameters.
struct Moments {
    first: Vec<f32>,
    second: Vec<f32>,
}

impl Moments {
    fn new(len: usize) -> Moments {
        Moments {
            first: vec![0.0; len],
            second: vec![0.0; len],
        }
    }

    /// One Adam step of `params` along `gradient`, plus `l2` times the parameter.
    fn step(&mut self, params: &mut [f32], gradient: &[f32], l2: f32, rate: f32) {
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(gradient)
            .zip(&mut self.first)
            .zip(&mut self.second)
        {
            let g = g + l2 * *p;
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *p -= rate * *m / (v.sqrt() + 1e-8);
        }
    }
}

/// Trains one network on examples given as vocabulary rows.
fn train_one(
    examples: &[(Vec<(usize, f32)>, usize)],
    features: usize,
    hidden: usize,
    seed: u64,
) -> Net {
    let mut counts = [0usize; CLASSES];
    for (_, class) in examples {
        counts[*class] += 1;
    }
    // Classes weigh by their rarity; recall for emergencies comes from the threshold.
    let class_weight: [f32; CLASSES] =
        std::array::from_fn(|c| examples.len() as f32 / (CLASSES as f32 * counts[c].max(1) as f32));
    let mut rng = Rng(seed);
    let mut net = Net::new(features, hidden, &mut rng);
    let mut moments = [
        Moments::new(net.rows.len()),
        Moments::new(hidden),
        Moments::new(net.output.len()),
        Moments::new(CLASSES),
    ];
    let mut row_gradient = vec![0.0f32; net.rows.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut steps = 0;
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for batch in order.chunks(BATCH) {
            let mut hidden_gradient = vec![0.0f32; hidden];
            let mut output_gradient = vec![0.0f32; net.output.len()];
            let mut output_bias_gradient = [0.0f32; CLASSES];
            for &i in batch {
                let (all, class) = &examples[i];
                let features: Vec<(usize, f32)> = all
                    .iter()
                    .filter(|_| rng.unit() >= DROPOUT)
                    .map(|(row, value)| (*row, value / (1.0 - DROPOUT)))
                    .collect();
                let features = &features;
                let pre = net.hidden_layer(features);
                let p = model::softmax(net.logits(&pre));
                let weight = class_weight[*class] / batch.len() as f32;
                let d_logits: [f32; CLASSES] =
                    std::array::from_fn(|c| (p[c] - if c == *class { 1.0 } else { 0.0 }) * weight);
                let mut d_hidden = vec![0.0f32; hidden];
                for (c, d) in d_logits.iter().enumerate() {
                    output_bias_gradient[c] += d;
                    let row = c * hidden..(c + 1) * hidden;
                    for ((g, w), (dh, h)) in output_gradient[row.clone()]
                        .iter_mut()
                        .zip(&net.output[row])
                        .zip(d_hidden.iter_mut().zip(&pre))
                    {
                        *g += d * h.max(0.0);
                        *dh += d * w;
                    }
                }
                for (dh, h) in d_hidden.iter_mut().zip(&pre) {
                    if *h <= 0.0 {
                        *dh = 0.0;
                    }
                }
                for (g, dh) in hidden_gradient.iter_mut().zip(&d_hidden) {
                    *g += dh;
                }
                for (row, value) in features {
                    touched.push(*row);
                    let gradient = &mut row_gradient[row * hidden..(row + 1) * hidden];
                    for (g, dh) in gradient.iter_mut().zip(&d_hidden) {
                        *g += dh * value;
                    }
                }
            }
            steps += 1;
            // Adam's bias correction folded into the rate.
            let rate = LEARNING_RATE * (1.0 - BETA2.powi(steps)).sqrt() / (1.0 - BETA1.powi(steps));
            let l2 = L2 / batch.len() as f32;
            moments[0].step(&mut net.rows, &row_gradient, l2, rate);
            moments[1].step(&mut net.hidden_bias, &hidden_gradient, 0.0, rate);
            moments[2].step(&mut net.output, &output_gradient, l2, rate);
            moments[3].step(&mut net.output_bias, &output_bias_gradient, 0.0, rate);
            for row in touched.drain(..) {
                row_gradient[row * hidden..(row + 1) * hidden].fill(0.0);
            }
        }
    }
    net
}

fn seed(bag: usize) -> u64 {
    0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(bag as u64 + 1)
}

/// Trains `bags` networks of `hidden` units on different seeds, averaged.
fn train(examples: &[&Example], vocabulary: &Vocabulary, hidden: usize, bags: usize) -> Net {
    let rows: Vec<(Vec<(usize, f32)>, usize)> = examples
        .iter()
        .map(|e| (vocabulary.rows(&e.features), e.class))
        .collect();
    let nets = (0..bags)
        .map(|bag| train_one(&rows, vocabulary.keys.len(), hidden, seed(bag)))
        .collect();
    Net::average(nets)
}

/// How many features a shape's file holds within [`MAX_MODEL_BYTES`]: each takes a key,
/// a scale and a byte per hidden unit.
fn feature_budget((hidden, bags): (usize, usize)) -> usize {
    MAX_MODEL_BYTES / (8 + hidden * bags)
}

/// Out-of-fold probabilities for every example, for a network of `shape`.
fn out_of_fold(examples: &[Example], shape: (usize, usize)) -> Vec<[f32; CLASSES]> {
    let mut probabilities = vec![[0.0; CLASSES]; examples.len()];
    for fold in 0..FOLDS {
        let training: Vec<&Example> = examples.iter().filter(|e| e.fold != fold).collect();
        let vocabulary = Vocabulary::new(&training, feature_budget(shape));
        let net = train(&training, &vocabulary, shape.0, shape.1);
        for (i, e) in examples.iter().enumerate() {
            if e.fold == fold {
                probabilities[i] = net.probabilities(&vocabulary.rows(&e.features));
            }
        }
    }
    probabilities
}

/// The highest threshold that keeps the target recall out of fold.
fn threshold(examples: &[Example], oof: &[[f32; CLASSES]]) -> f32 {
    let mut emergencies: Vec<f32> = examples
        .iter()
        .zip(oof)
        .filter(|(e, _)| e.class == 0)
        .map(|(_, p)| p[0])
        .collect();
    emergencies.sort_by(f32::total_cmp);
    let allowed_misses = ((1.0 - TARGET_RECALL) * emergencies.len() as f64).floor() as usize;
    emergencies
        .get(allowed_misses)
        .copied()
        .unwrap_or(0.5)
        .min(0.5)
        * 0.95
}

/// Emergency recall and precision at a threshold, out of fold.
fn emergency_figures(examples: &[Example], oof: &[[f32; CLASSES]], t: f32) -> (f64, f64) {
    let (mut tp, mut fp, mut all) = (0, 0, 0);
    for (e, p) in examples.iter().zip(oof) {
        all += usize::from(e.class == 0);
        if p[0] >= t {
            if e.class == 0 { tp += 1 } else { fp += 1 }
        }
    }
    (
        tp as f64 / all.max(1) as f64,
        tp as f64 / (tp + fp).max(1) as f64,
    )
}

/// Share of examples classed right with the emergency threshold at `t`.
fn accuracy(examples: &[Example], oof: &[[f32; CLASSES]], t: f32) -> f64 {
    let right = examples
        .iter()
        .zip(oof)
        .filter(|(e, p)| model::decide(p, t).index() == e.class)
        .count();
    right as f64 / examples.len() as f64
}

/// The shape with the best out-of-fold accuracy and emergency precision (their mean),
/// each at the shape's own recall-keeping threshold; the first listed on a tie.
fn choose(examples: &[Example], oof: &[Vec<[f32; CLASSES]>]) -> usize {
    println!("shapes, out of fold at each one's emergency threshold:");
    let mut best: Option<(usize, f64)> = None;
    for (candidate, ((hidden, bags), oof)) in CANDIDATES.iter().zip(oof).enumerate() {
        let t = threshold(examples, oof);
        let (_, precision) = emergency_figures(examples, oof, t);
        let accuracy = accuracy(examples, oof, t);
        println!(
            "  {bags} x {hidden} units, at most {} features: accuracy {:.1}%, emergency precision {:.1}% (p >= {t:.3})",
            feature_budget((*hidden, *bags)),
            100.0 * accuracy,
            100.0 * precision,
        );
        let score = (accuracy + precision) / 2.0;
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((candidate, score));
        }
    }
    best.map_or(0, |(candidate, _)| candidate)
}

/// The recall-keeping threshold, and what other thresholds would cost.
fn pick_threshold(examples: &[Example], oof: &[[f32; CLASSES]]) -> f32 {
    let chosen = threshold(examples, oof);
    println!("emergency threshold, out of fold (recall first):");
    for t in [0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, chosen] {
        let (recall, precision) = emergency_figures(examples, oof, t);
        let marker = if t == chosen { "  <- chosen" } else { "" };
        println!(
            "  p >= {t:.3}: recall {:.1}%, precision {:.1}%{marker}",
            100.0 * recall,
            100.0 * precision
        );
    }
    chosen
}

/// Each `.jsonl` file of `dir` by name, in name order.
fn read_files(dir: &Path) -> Vec<(String, Vec<Labelled>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f.file_stem().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), read_file(f))
        })
        .collect()
}

fn read_dir(dir: &Path) -> Vec<Labelled> {
    read_files(dir)
        .into_iter()
        .flat_map(|(_, messages)| messages)
        .collect()
}

fn read_file(file: &Path) -> Vec<Labelled> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    parse_labelled(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn report(name: &str, model: Model, messages: &[Labelled]) {
    let triager = Triager::with_model(&TriageConfig::default(), Some(model)).expect("no rules");
    let received = reference_arrival(&jiff::tz::TimeZone::UTC);
    let (confusion, _) = evaluate(&triager, messages, &received);
    println!("\n{name}:\n{confusion}");
}

/// A figure as a percentage, "-" where the set has none of the class.
fn percent(figure: Option<f64>) -> String {
    figure.map_or("-".to_owned(), |f| format!("{:.1}%", 100.0 * f))
}

/// One line of figures per held-out file: which kinds of message the model reads worse.
fn report_per_file(model: Model, files: &[(String, Vec<Labelled>)]) {
    let triager = Triager::with_model(&TriageConfig::default(), Some(model)).expect("no rules");
    let received = reference_arrival(&jiff::tz::TimeZone::UTC);
    println!("\nper held-out file: messages, accuracy, emergency recall and precision");
    for (name, messages) in files {
        let (confusion, _) = evaluate(&triager, messages, &received);
        println!(
            "  {name:<16} {:>5} {:>7} {:>7} {:>7}",
            messages.len(),
            percent(Some(confusion.accuracy())),
            percent(confusion.recall(Class::Emergency)),
            percent(confusion.precision(Class::Emergency)),
        );
    }
}

/// The model of a network of `shape` trained on all of `examples`.
fn fit(examples: &[Example], shape: (usize, usize), emergency_threshold: f32) -> Vec<u8> {
    let all: Vec<&Example> = examples.iter().collect();
    let vocabulary = Vocabulary::new(&all, feature_budget(shape));
    let net = train(&all, &vocabulary, shape.0, shape.1);
    let width = net.hidden;
    model::encode(&Weights {
        features: vocabulary
            .keys
            .iter()
            .zip(net.rows.chunks(width))
            .map(|(key, row)| (*key, row.to_vec()))
            .collect(),
        hidden_bias: net.hidden_bias,
        output: std::array::from_fn(|c| net.output[c * width..(c + 1) * width].to_vec()),
        output_bias: net.output_bias,
        emergency_threshold,
    })
}

fn load(bytes: Vec<u8>) -> Model {
    Model::load(Box::leak(bytes.into_boxed_slice())).expect("the model just written loads")
}

fn read_corpus(root: &Path) -> (Vec<Labelled>, Vec<Example>) {
    let corpus = read_dir(&root.join("corpus"));
    let examples = corpus
        .iter()
        .enumerate()
        .map(|(position, message)| featurize(position, message))
        .collect();
    (corpus, examples)
}

/// Emergency recall, emergency precision, pre-ping recall and accuracy, in one line.
fn figures(model: Model, messages: &[Labelled]) -> String {
    let triager = Triager::with_model(&TriageConfig::default(), Some(model)).expect("no rules");
    let received = reference_arrival(&jiff::tz::TimeZone::UTC);
    let (confusion, _) = evaluate(&triager, messages, &received);
    format!(
        "{} / {} / {} / {}",
        percent(confusion.recall(Class::Emergency)),
        percent(confusion.precision(Class::Emergency)),
        percent(confusion.recall(Class::PrePing)),
        percent(Some(confusion.accuracy())),
    )
}

/// The first shape's figures on the evaluation sets when trained on a growing share of
/// the corpus, each with its own out-of-fold threshold.
fn learning_curve(root: &Path) {
    let (corpus, examples) = read_corpus(root);
    let held_out = read_dir(&root.join("heldout"));
    let unseen: Vec<Labelled> = OTHER_AUTHORS
        .iter()
        .flat_map(|name| read_file(&root.join(name)))
        .collect();
    let shape = CANDIDATES[0];
    println!(
        "learning curve, 1 x {} units; emergency recall / precision, pre-ping recall, accuracy:",
        shape.0
    );
    for percent in [25, 50, 75, 100] {
        let share: Vec<Example> = examples
            .iter()
            .zip(&corpus)
            .enumerate()
            .filter(|(position, (_, message))| in_share(message, *position, percent))
            .map(|(_, (example, _))| example.clone())
            .collect();
        let threshold = threshold(&share, &out_of_fold(&share, shape));
        let model = load(fit(&share, shape, threshold));
        println!(
            "  {percent:>3}% ({} messages): held-out {}; other authors' {}",
            share.len(),
            figures(model, &held_out),
            figures(model, &unseen),
        );
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("triage");
    if std::env::args().any(|a| a == "--learning-curve") {
        learning_curve(&root);
        return;
    }
    let show_misses = std::env::args().any(|a| a == "--misses");
    let (corpus, examples) = read_corpus(&root);
    let mut per_class = [0usize; CLASSES];
    for e in &examples {
        per_class[e.class] += 1;
    }
    println!(
        "training on {} messages {per_class:?} (emergency, blocker, update, strategic, pre-ping)",
        examples.len()
    );
    let oofs: Vec<Vec<[f32; CLASSES]>> = CANDIDATES
        .iter()
        .map(|shape| out_of_fold(&examples, *shape))
        .collect();
    let chosen = choose(&examples, &oofs);
    let (hidden, bags) = CANDIDATES[chosen];
    let oof = &oofs[chosen];
    println!(
        "out-of-fold accuracy of the model alone ({bags} x {hidden} units): {:.1}%",
        100.0 * accuracy(&examples, oof, 0.5)
    );
    let emergency_threshold = pick_threshold(&examples, oof);
    if show_misses {
        // The training corpus's own out-of-fold mistakes: where labels are worth a second
        // look, or where the corpus needs more of a kind, without peeking at held-out data.
        println!("out-of-fold mistakes in the training corpus:");
        for ((example, p), message) in examples.iter().zip(oof).zip(&corpus) {
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
    let bytes = fit(&examples, CANDIDATES[chosen], emergency_threshold);
    let out = root.join("model.bin");
    std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    let model = load(bytes);
    let held_out = read_files(&root.join("heldout"));
    let all_held_out: Vec<Labelled> = held_out.iter().flat_map(|(_, m)| m.clone()).collect();
    report("held-out split (triage/heldout)", model, &all_held_out);
    report_per_file(model, &held_out);
    for name in OTHER_AUTHORS {
        report(
            &format!("another author's set (triage/{name})"),
            model,
            &read_file(&root.join(name)),
        );
    }
}

//! The learned part of triage: a small neural network over hashed features, its weights
//! shipped inside the binary.
//!
//! Weights are trained offline by `examples/train_triage.rs` on the labelled corpus in
//! `triage/corpus/` and written as `triage/model.bin`. The network has one hidden layer
//! of ReLU units: each feature seen in training has a row of hidden weights (its
//! embedding), a message's hidden layer is the sum of its features' rows scaled by their
//! values, and a softmax over the classes reads the hidden layer. The file holds a
//! header, the hidden and output layers' small dense weights, the sorted feature keys,
//! one scale per key and one signed byte per key and hidden unit. Loading reads the
//! header and checks the keys are in order; scoring binary-searches the keys in place,
//! so nothing is copied.

use super::features::{self, Feature, Word};
use crate::item::Class;

const MAGIC: &[u8; 8] = b"DWTRIAGE";
const VERSION: u32 = 2;
const CLASSES: usize = Class::ALL.len();
/// Magic, version, classes, features, hidden units, emergency threshold.
const HEADER: usize = 8 + 4 + 4 + 4 + 4 + 4;

/// The model shipped with this build.
static SHIPPED: &[u8] = include_bytes!("../../triage/model.bin");

/// Why a weights file could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not a weights file of this version.
    #[error("not a Deepwork triage model of version {VERSION}")]
    Format,
    /// Shorter than its header says.
    #[error("the model is truncated: {expected} bytes expected, {found} found")]
    Truncated {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Keys out of order, so lookups would miss.
    #[error("the model's feature keys are not sorted at entry {0}")]
    Unsorted(usize),
}

/// A loaded model: a view over its bytes.
#[derive(Clone, Copy)]
pub struct Model {
    bytes: &'static [u8],
    features: usize,
    hidden: usize,
    emergency_threshold: f32,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("features", &self.features)
            .field("hidden", &self.hidden)
            .field("emergency_threshold", &self.emergency_threshold)
            .finish_non_exhaustive()
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn f32_at(bytes: &[u8], at: usize) -> f32 {
    f32::from_bits(u32_at(bytes, at))
}

/// Where each part of a file starts, from its feature and hidden unit counts.
struct Layout {
    hidden_bias: usize,
    output: usize,
    output_bias: usize,
    keys: usize,
    scales: usize,
    rows: usize,
    end: usize,
}

impl Layout {
    fn new(features: usize, hidden: usize) -> Layout {
        let hidden_bias = HEADER;
        let output = hidden_bias + 4 * hidden;
        let output_bias = output + 4 * CLASSES * hidden;
        let keys = output_bias + 4 * CLASSES;
        let scales = keys + 4 * features;
        let rows = scales + 4 * features;
        let end = rows + features * hidden;
        Layout {
            hidden_bias,
            output,
            output_bias,
            keys,
            scales,
            rows,
            end,
        }
    }
}

/// What the model makes of one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Probability per class, in [`Class::ALL`] order.
    pub probabilities: [f32; CLASSES],
    /// The class the model picks: emergency as soon as its probability reaches the
    /// recall-tuned threshold, else the most probable.
    pub class: Class,
    /// The words that weighed most for that class against the runner-up, strongest
    /// first, each with its weight.
    pub evidence: Vec<(String, f32)>,
}

impl Scores {
    /// The probability of one class.
    pub fn probability(&self, class: Class) -> f32 {
        self.probabilities[class.index()]
    }

    /// The most probable class other than those `excluded`.
    pub fn best_except(&self, excluded: &[Class]) -> Class {
        Class::ALL
            .into_iter()
            .filter(|c| !excluded.contains(c))
            .max_by(|a, b| self.probability(*a).total_cmp(&self.probability(*b)))
            .unwrap_or(Class::Update)
    }
}

impl Model {
    /// The model built into this binary.
    pub fn shipped() -> Result<Model, ModelError> {
        Model::load(SHIPPED)
    }

    /// Reads a weights file written by [`encode`].
    pub fn load(bytes: &'static [u8]) -> Result<Model, ModelError> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC || u32_at(bytes, 8) != VERSION {
            return Err(ModelError::Format);
        }
        if u32_at(bytes, 12) as usize != CLASSES {
            return Err(ModelError::Format);
        }
        let features = u32_at(bytes, 16) as usize;
        let hidden = u32_at(bytes, 20) as usize;
        let expected = Layout::new(features, hidden).end;
        if bytes.len() != expected {
            return Err(ModelError::Truncated {
                expected,
                found: bytes.len(),
            });
        }
        let model = Model {
            bytes,
            features,
            hidden,
            emergency_threshold: f32_at(bytes, 24),
        };
        for i in 1..features {
            if model.key(i - 1) >= model.key(i) {
                return Err(ModelError::Unsorted(i));
            }
        }
        Ok(model)
    }

    /// The emergency probability from which the model says emergency.
    pub fn emergency_threshold(&self) -> f32 {
        self.emergency_threshold
    }

    fn layout(&self) -> Layout {
        Layout::new(self.features, self.hidden)
    }

    fn key(&self, index: usize) -> u32 {
        u32_at(self.bytes, self.layout().keys + 4 * index)
    }

    fn f32s(&self, at: usize, count: usize) -> Vec<f32> {
        (0..count).map(|i| f32_at(self.bytes, at + 4 * i)).collect()
    }

    /// The index of a feature's row, if training saw the feature.
    fn row_of(&self, key: u32) -> Option<usize> {
        let (mut low, mut high) = (0, self.features);
        while low < high {
            let mid = (low + high) / 2;
            match self.key(mid).cmp(&key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// A feature's row of hidden weights, as signed bytes, and the scale that turns a
    /// byte into a weight.
    fn row(&self, index: usize) -> (&'static [u8], f32) {
        let layout = self.layout();
        let at = layout.rows + index * self.hidden;
        (
            &self.bytes[at..at + self.hidden],
            f32_at(self.bytes, layout.scales + 4 * index),
        )
    }

    /// Scores a message from its features ([`features::extract`]) and the words they came
    /// from (which name the evidence).
    pub fn score(&self, found: Vec<Feature>, words: &[Word]) -> Scores {
        let layout = self.layout();
        let mut hidden = self.f32s(layout.hidden_bias, self.hidden);
        let mut active: Vec<(Feature, &'static [u8], f32)> = Vec::new();
        for (feature, value) in features::vector(found) {
            if let Some(index) = self.row_of(feature.key) {
                let (row, scale) = self.row(index);
                let weight = scale * value;
                add_row(&mut hidden, row, weight);
                active.push((feature, row, weight));
            }
        }
        let output = self.f32s(layout.output, CLASSES * self.hidden);
        let output = Output {
            weights: &output,
            bias: self.f32s(layout.output_bias, CLASSES),
        };
        let logits = output.logits(&hidden);
        let probabilities = softmax(logits);
        let class = decide(&probabilities, self.emergency_threshold);
        let chosen = class.index();
        let runner_up = (0..CLASSES)
            .filter(|c| *c != chosen)
            .max_by(|a, b| logits[*a].total_cmp(&logits[*b]))
            .unwrap_or(chosen);
        let margin =
            |hidden: &[f32]| output.logit(chosen, hidden) - output.logit(runner_up, hidden);
        // The weights no longer add up per feature, so each feature's push is what the
        // margin loses when the feature is taken out of the hidden layer.
        let full = margin(&hidden);
        let mut without = hidden.clone();
        let pushes: Vec<(Feature, f32)> = active
            .iter()
            .filter(|(feature, _, _)| feature.span.is_some())
            .map(|(feature, row, weight)| {
                without.copy_from_slice(&hidden);
                add_row(&mut without, row, -weight);
                (*feature, full - margin(&without))
            })
            .collect();
        Scores {
            probabilities,
            class,
            evidence: evidence(words, &pushes),
        }
    }
}

/// Adds a quantized row times `weight` to the hidden layer's pre-activations.
fn add_row(hidden: &mut [f32], row: &[u8], weight: f32) {
    for (h, w) in hidden.iter_mut().zip(row) {
        *h += weight * f32::from(*w as i8);
    }
}

/// The output layer: one row of weights over the hidden units per class.
struct Output<'a> {
    weights: &'a [f32],
    bias: Vec<f32>,
}

impl Output<'_> {
    /// One class's logit from the hidden layer's pre-activations.
    fn logit(&self, class: usize, hidden: &[f32]) -> f32 {
        let row = &self.weights[class * hidden.len()..(class + 1) * hidden.len()];
        self.bias[class]
            + row
                .iter()
                .zip(hidden)
                .map(|(w, h)| w * h.max(0.0))
                .sum::<f32>()
    }

    fn logits(&self, hidden: &[f32]) -> [f32; CLASSES] {
        std::array::from_fn(|class| self.logit(class, hidden))
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: [f32; CLASSES]) -> [f32; CLASSES] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = logits.map(|l| (l - max).exp());
    let sum: f32 = p.iter().sum();
    for p in &mut p {
        *p /= sum;
    }
    p
}

/// Emergency from the threshold on, else the most probable other class.
pub fn decide(probabilities: &[f32; CLASSES], emergency_threshold: f32) -> Class {
    if probabilities[0] >= emergency_threshold {
        return Class::Emergency;
    }
    let best = (1..CLASSES)
        .max_by(|a, b| probabilities[*a].total_cmp(&probabilities[*b]))
        .unwrap_or(2);
    Class::ALL[best]
}

/// Phrases that pushed the chosen class over the runner-up, strongest first: each word's
/// own features summed, and a pair of neighbours kept together when both pushed.
/// `pushes` holds each feature's push for the chosen class against the runner-up.
fn evidence(words: &[Word], pushes: &[(Feature, f32)]) -> Vec<(String, f32)> {
    let mut per_word = vec![0.0f32; words.len()];
    let mut per_pair = vec![0.0f32; words.len()];
    for (feature, push) in pushes {
        match feature.span {
            Some((a, b)) if a == b => per_word[a] += push,
            Some((a, _)) => per_pair[a] += push,
            None => {}
        }
    }
    let mut candidates: Vec<(usize, usize, f32)> = Vec::new();
    for i in 0..words.len() {
        if per_word[i] > 0.0 {
            candidates.push((i, i, per_word[i]));
        }
        if i + 1 < words.len()
            && per_word[i] > 0.0
            && per_word[i + 1] > 0.0
            && !words[i].ends_clause
            && !is_filler(&words[i].text)
            && !is_filler(&words[i + 1].text)
        {
            candidates.push((
                i,
                i + 1,
                per_word[i] + per_word[i + 1] + per_pair[i].max(0.0),
            ));
        }
    }
    candidates.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut taken = vec![false; words.len()];
    let mut out = Vec::new();
    for (a, b, weight) in candidates {
        if out.len() == 3 {
            break;
        }
        if taken[a..=b].iter().any(|t| *t) || words[a].text == "emoji" || is_filler(&words[a].text)
        {
            continue;
        }
        taken[a..=b].iter_mut().for_each(|t| *t = true);
        out.push((phrase(&words[a..=b]), weight));
    }
    out
}

/// Words that carry no meaning alone: evidence names the words around them instead.
fn is_filler(word: &str) -> bool {
    const FILLERS: &[&str] = &[
        "a", "an", "the", "is", "are", "was", "be", "to", "of", "in", "on", "at", "for", "and",
        "or", "it", "this", "that", "i", "you", "we", "my", "your", "our", "me", "with", "so",
        "der", "die", "das", "ist", "und", "el", "la", "de", "que", "le", "les", "et", "est",
    ];
    FILLERS.contains(&word)
}

/// Words as written: spaced, except between characters of scripts without spaces.
fn phrase(words: &[Word]) -> String {
    let unspaced = |w: &Word| w.text.chars().all(features::is_unspaced_script);
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 && !(unspaced(word) && unspaced(&words[i - 1])) {
            out.push(' ');
        }
        out.push_str(&word.text);
    }
    out
}

/// Trained weights before quantization: what the trainer writes with [`encode`].
#[derive(Clone, Debug, Default)]
pub struct Weights {
    /// Per feature key, its row of hidden weights.
    pub features: Vec<(u32, Vec<f32>)>,
    /// One bias per hidden unit.
    pub hidden_bias: Vec<f32>,
    /// Per class, in [`Class::ALL`] order, one weight per hidden unit.
    pub output: [Vec<f32>; CLASSES],
    /// One bias per class.
    pub output_bias: [f32; CLASSES],
    /// The emergency probability from which the model says emergency.
    pub emergency_threshold: f32,
}

/// Writes weights in the shipped format: the small dense layers as they are, and the
/// feature rows as one signed byte per weight with one scale per row (a rare feature's
/// small weights keep their precision next to a common one's large ones). Features
/// whose weights all round to zero are left out.
///
/// # Panics
/// When a row or an output layer's width is not the number of hidden units.
pub fn encode(weights: &Weights) -> Vec<u8> {
    let hidden = weights.hidden_bias.len();
    assert!(
        weights.features.iter().all(|(_, row)| row.len() == hidden)
            && weights.output.iter().all(|row| row.len() == hidden),
        "every layer is {hidden} hidden units wide"
    );
    let mut kept: Vec<(u32, f32, Vec<i8>)> = weights
        .features
        .iter()
        .map(|(key, row)| {
            let largest = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            let bytes: Vec<i8> = row
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
                .collect();
            (*key, scale, bytes)
        })
        .filter(|(_, _, q)| q.iter().any(|q| *q != 0))
        .collect();
    kept.sort_unstable_by_key(|(key, _, _)| *key);
    kept.dedup_by_key(|(key, _, _)| *key);
    let mut out = Vec::with_capacity(Layout::new(kept.len(), hidden).end);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(CLASSES as u32).to_le_bytes());
    out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
    out.extend_from_slice(&(hidden as u32).to_le_bytes());
    out.extend_from_slice(&weights.emergency_threshold.to_le_bytes());
    let floats = weights
        .hidden_bias
        .iter()
        .chain(weights.output.iter().flatten())
        .chain(&weights.output_bias);
    for w in floats {
        out.extend_from_slice(&w.to_le_bytes());
    }
    for (key, _, _) in &kept {
        out.extend_from_slice(&key.to_le_bytes());
    }
    for (_, scale, _) in &kept {
        out.extend_from_slice(&scale.to_le_bytes());
    }
    for (_, _, q) in &kept {
        out.extend(q.iter().map(|q| *q as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::features::{Origin, words};

    fn leak(bytes: Vec<u8>) -> &'static [u8] {
        Box::leak(bytes.into_boxed_slice())
    }

    #[test]
    fn the_shipped_model_loads() {
        let model = Model::shipped().expect("the shipped model is well-formed");
        assert!(
            model.features > 1000,
            "{model:?} has too few features to be trained"
        );
        assert!((0.0..1.0).contains(&model.emergency_threshold()));
    }

    /// Two hidden units: the first adds up the features, the second stays off.
    fn two_units(keys: impl Iterator<Item = u32>) -> Weights {
        Weights {
            features: keys.map(|key| (key, vec![2.0, -1.0])).collect(),
            hidden_bias: vec![0.0, 0.0],
            output: [
                vec![1.0, 3.0],
                vec![-0.5, 3.0],
                vec![0.0, 0.0],
                vec![0.0, 0.0],
                vec![0.0, 0.0],
            ],
            output_bias: [0.0, 0.0, 0.5, 0.0, 0.0],
            emergency_threshold: 0.3,
        }
    }

    #[test]
    fn weights_survive_encoding_within_quantization() {
        let origin = Origin {
            source: "slack",
            sender: "ana",
            channel: None,
        };
        let ws = words("prod down");
        let vector = features::vector(features::extract(origin, &ws));
        let weights = two_units(vector.iter().map(|(f, _)| f.key));
        let model = Model::load(leak(encode(&weights))).expect("loads what encode wrote");
        let scores = model.score(features::extract(origin, &ws), &ws);
        assert_eq!(scores.class, Class::Emergency);
        let unit = 2.0 * vector.iter().map(|(_, value)| value).sum::<f32>();
        let expected = softmax([unit, -unit / 2.0, 0.5, 0.0, 0.0]);
        assert!((scores.probabilities[0] - expected[0]).abs() < 1e-3);
        assert_eq!(
            scores.evidence[0].0, "prod down",
            "both words pushed: one phrase"
        );
    }

    #[test]
    fn evidence_is_what_taking_a_feature_out_costs() {
        let origin = Origin {
            source: "slack",
            sender: "ana",
            channel: None,
        };
        let ws = words("prod is down");
        let vector = features::vector(features::extract(origin, &ws));
        // Only the words "prod" and "down" and their own features push.
        let pushing: Vec<u32> = vector
            .iter()
            .filter(|(f, _)| matches!(f.span, Some((0, 0) | (2, 2))))
            .map(|(f, _)| f.key)
            .collect();
        let mut weights = two_units(pushing.iter().copied());
        weights.features.extend(
            vector
                .iter()
                .filter(|(f, _)| !pushing.contains(&f.key))
                .map(|(f, _)| (f.key, vec![-0.001, 0.0])),
        );
        let model = Model::load(leak(encode(&weights))).expect("loads");
        let scores = model.score(features::extract(origin, &ws), &ws);
        let phrases: Vec<&str> = scores.evidence.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(scores.class, Class::Emergency);
        assert!(
            phrases.contains(&"prod") && phrases.contains(&"down") && !phrases.contains(&"is"),
            "{phrases:?}"
        );
        assert!(scores.evidence.iter().all(|(_, push)| *push > 0.0));
    }

    #[test]
    fn broken_files_are_refused_not_read() {
        assert_eq!(Model::load(b"nonsense").err(), Some(ModelError::Format));
        let mut bytes = encode(&two_units([1, 2].into_iter()));
        bytes.pop();
        assert!(matches!(
            Model::load(leak(bytes)),
            Err(ModelError::Truncated { .. })
        ));
    }

    #[test]
    fn the_threshold_decides_emergency_before_the_most_probable_class() {
        assert_eq!(decide(&[0.3, 0.6, 0.1, 0.0, 0.0], 0.25), Class::Emergency);
        assert_eq!(decide(&[0.2, 0.6, 0.2, 0.0, 0.0], 0.25), Class::Blocker);
    }
}

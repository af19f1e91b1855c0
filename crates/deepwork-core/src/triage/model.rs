//! The learned part of triage: a linear classifier over hashed features, its weights
//! shipped inside the binary.
//!
//! Weights are trained offline by `examples/train_triage.rs` on the labelled corpus in
//! `triage/corpus/` and written as `triage/model.bin`: a header, the sorted feature keys,
//! and one signed byte per key and class. Loading reads the header and checks the keys
//! are in order; scoring binary-searches the keys in place, so nothing is copied.

use super::features::{self, Feature, Word};
use crate::item::Class;

const MAGIC: &[u8; 8] = b"DWTRIAGE";
const VERSION: u32 = 1;
const CLASSES: usize = Class::ALL.len();
const HEADER: usize = 8 + 4 + 4 + 4 + 4 + 4 + 4 * CLASSES;

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
    emergency_threshold: f32,
    scale: f32,
    bias: [f32; CLASSES],
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("features", &self.features)
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
        let expected = HEADER + features * (4 + CLASSES);
        if bytes.len() != expected {
            return Err(ModelError::Truncated {
                expected,
                found: bytes.len(),
            });
        }
        let mut bias = [0.0; CLASSES];
        for (i, b) in bias.iter_mut().enumerate() {
            *b = f32_at(bytes, 28 + 4 * i);
        }
        let model = Model {
            bytes,
            features,
            emergency_threshold: f32_at(bytes, 20),
            scale: f32_at(bytes, 24),
            bias,
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

    fn key(&self, index: usize) -> u32 {
        u32_at(self.bytes, HEADER + 4 * index)
    }

    fn weights(&self, key: u32) -> Option<[f32; CLASSES]> {
        let (mut low, mut high) = (0, self.features);
        while low < high {
            let mid = (low + high) / 2;
            match self.key(mid).cmp(&key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    let at = HEADER + 4 * self.features + CLASSES * mid;
                    let mut w = [0.0; CLASSES];
                    for (c, w) in w.iter_mut().enumerate() {
                        *w = f32::from(self.bytes[at + c] as i8) * self.scale;
                    }
                    return Some(w);
                }
            }
        }
        None
    }

    /// Scores a message from its features ([`features::extract`]) and the words they came
    /// from (which name the evidence).
    pub fn score(&self, found: Vec<Feature>, words: &[Word]) -> Scores {
        let found = features::vector(found);
        let mut logits = self.bias;
        let mut weighed: Vec<(Feature, [f32; CLASSES])> = Vec::with_capacity(found.len());
        for (feature, value) in found {
            if let Some(w) = self.weights(feature.key) {
                for (logit, w) in logits.iter_mut().zip(w) {
                    *logit += w * value;
                }
                weighed.push((feature, w.map(|w| w * value)));
            }
        }
        let probabilities = softmax(logits);
        let class = decide(&probabilities, self.emergency_threshold);
        let chosen = class.index();
        let runner_up = (0..CLASSES)
            .filter(|c| *c != chosen)
            .max_by(|a, b| logits[*a].total_cmp(&logits[*b]))
            .unwrap_or(chosen);
        let evidence = evidence(words, &weighed, chosen, runner_up);
        Scores {
            probabilities,
            class,
            evidence,
        }
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
/// `weighed` holds each feature's contribution (weight times value) per class.
fn evidence(
    words: &[Word],
    weighed: &[(Feature, [f32; CLASSES])],
    chosen: usize,
    runner_up: usize,
) -> Vec<(String, f32)> {
    let mut per_word = vec![0.0f32; words.len()];
    let mut per_pair = vec![0.0f32; words.len()];
    for (feature, w) in weighed {
        let push = w[chosen] - w[runner_up];
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
    /// Per feature key, one weight per class in [`Class::ALL`] order.
    pub features: Vec<(u32, [f32; CLASSES])>,
    /// One bias per class.
    pub bias: [f32; CLASSES],
    /// The emergency probability from which the model says emergency.
    pub emergency_threshold: f32,
}

/// Writes weights in the shipped format, one signed byte per weight. Features whose
/// weights all round to zero are left out.
pub fn encode(weights: &Weights) -> Vec<u8> {
    let largest = weights
        .features
        .iter()
        .flat_map(|(_, w)| w.iter())
        .fold(0.0f32, |m, w| m.max(w.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    let mut kept: Vec<(u32, [i8; CLASSES])> = weights
        .features
        .iter()
        .map(|(key, w)| {
            (
                *key,
                w.map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8),
            )
        })
        .filter(|(_, q)| q.iter().any(|q| *q != 0))
        .collect();
    kept.sort_unstable_by_key(|(key, _)| *key);
    kept.dedup_by_key(|(key, _)| *key);
    let mut out = Vec::with_capacity(HEADER + kept.len() * (4 + CLASSES));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(CLASSES as u32).to_le_bytes());
    out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
    out.extend_from_slice(&weights.emergency_threshold.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    for b in weights.bias {
        out.extend_from_slice(&b.to_le_bytes());
    }
    for (key, _) in &kept {
        out.extend_from_slice(&key.to_le_bytes());
    }
    for (_, q) in &kept {
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

    #[test]
    fn weights_survive_encoding_within_quantization() {
        let origin = Origin {
            source: "slack",
            sender: "ana",
            channel: None,
        };
        let ws = words("prod down");
        let vector = features::vector(features::extract(origin, &ws));
        let weights = Weights {
            features: vector
                .iter()
                .map(|(f, _)| (f.key, [2.0, -1.0, 0.0, 0.0, 0.0]))
                .collect(),
            bias: [0.0, 0.0, 0.5, 0.0, 0.0],
            emergency_threshold: 0.3,
        };
        let model = Model::load(leak(encode(&weights))).expect("loads what encode wrote");
        let scores = model.score(features::extract(origin, &ws), &ws);
        assert_eq!(scores.class, Class::Emergency);
        let expected_logit = 2.0 * vector.iter().map(|(_, value)| value).sum::<f32>();
        let expected = softmax([expected_logit, -expected_logit / 2.0, 0.5, 0.0, 0.0]);
        assert!((scores.probabilities[0] - expected[0]).abs() < 1e-3);
        assert_eq!(
            scores.evidence[0].0, "prod down",
            "both words pushed: one phrase"
        );
    }

    #[test]
    fn broken_files_are_refused_not_read() {
        assert_eq!(Model::load(b"nonsense").err(), Some(ModelError::Format));
        let mut bytes = encode(&Weights {
            features: vec![(1, [1.0; 5]), (2, [1.0; 5])],
            ..Weights::default()
        });
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

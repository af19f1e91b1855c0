//! What the triage model reads: hashed word, word-pair and character n-gram features of
//! a message, plus a few facts about where it came from.
//!
//! The trainer (`examples/train_triage.rs`) and the classifier both call
//! [`extract`], so the features a weight was learned for are the features it is applied
//! to. Every feature remembers the words it came from, which is what lets the model say
//! which phrases decided a class.

use std::sync::LazyLock;

/// At most this many characters of a message are read: what decides the class is at the
/// start, and it bounds the time one item takes however long its body is.
pub const MAX_CHARS: usize = 1200;

/// Words after a negation cue that count as negated ("not urgent", "nothing is on fire").
const NEGATION_SCOPE: usize = 3;

/// Whether a word negates the few words after it.
pub fn is_negation(word: &str) -> bool {
    LEXICON.negation.contains(word)
}

/// A word of the message, lower-cased, and whether it closes a clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The word, lower-cased.
    pub text: String,
    /// Punctuation that ends a clause (",", ".", "!", "?", ":", ";", a line break)
    /// follows it.
    pub ends_clause: bool,
}

/// The words of a text, in order. Emoji count as one word each, "emoji"; digits stay.
pub fn words(text: &str) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, words: &mut Vec<Word>| {
        if !current.is_empty() {
            let text = current.trim_matches('\'').to_owned();
            current.clear();
            if !text.is_empty() {
                words.push(Word {
                    text,
                    ends_clause: false,
                });
            }
        }
    };
    for c in text.chars().take(MAX_CHARS) {
        if is_unspaced_script(c) {
            // Chinese and Japanese put no spaces between words: each character is a
            // word, so word pairs are character bigrams, the usual unit for them.
            flush(&mut current, &mut words);
            words.push(Word {
                text: c.to_string(),
                ends_clause: false,
            });
        } else if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() && is_combining_mark(c) {
            current.push(c);
        } else if (c == '\'' || c == '’') && !current.is_empty() {
            current.push('\'');
        } else {
            flush(&mut current, &mut words);
            if is_emoji(c) {
                words.push(Word {
                    text: "emoji".to_owned(),
                    ends_clause: false,
                });
            } else if matches!(
                c,
                ',' | '.' | '!' | '?' | ':' | ';' | '\n' | '¿' | '¡' | '。' | '、' | '？' | '！'
            ) && let Some(last) = words.last_mut()
            {
                last.ends_clause = true;
            }
        }
    }
    flush(&mut current, &mut words);
    words
}

/// Marks that belong to the letter before them and are not letters themselves, such as
/// Thai tone marks and the Devanagari virama: without this, "ล่ม" and "प्रोडक्शन" would
/// fall apart into pieces.
fn is_combining_mark(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    c.general_category_group() == GeneralCategoryGroup::Mark
}

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)
}

/// Where a message came from, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The source ("slack", "pagerduty", "desktop").
    pub source: &'a str,
    /// The sender.
    pub sender: &'a str,
    /// The channel or room; `None` for a direct message.
    pub channel: Option<&'a str>,
}

/// One feature: its hash and the words (by index, inclusive) it came from; `None` for a
/// fact about the origin or the shape of the message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feature {
    /// The hashed feature.
    pub key: u32,
    /// First and last word it came from.
    pub span: Option<(usize, usize)>,
    /// How much it counts before the message's features are scaled to unit length.
    pub strength: f32,
}

impl Family {
    /// Character n-grams are many and each says little; concepts are few and each says
    /// much. Without this, a long message's concepts drown in its n-grams.
    fn strength(self) -> f32 {
        match self {
            Family::CharGram => 0.3,
            Family::Concept | Family::NegatedConcept | Family::ConceptPair => 3.0,
            Family::Word | Family::NegatedWord | Family::Pair | Family::Shape => 1.0,
            Family::Source | Family::Channel | Family::Direct | Family::Length | Family::Bot => 2.0,
        }
    }
}

/// A message's distinct features with their values, scaled so the vector has unit
/// length (long and short messages weigh alike), sorted by key.
pub fn vector(mut features: Vec<Feature>) -> Vec<(Feature, f32)> {
    features.sort_by_key(|f| f.key);
    features.dedup_by_key(|f| f.key);
    let norm = features
        .iter()
        .map(|f| f.strength * f.strength)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    features
        .into_iter()
        .filter(|f| f.strength > 0.0)
        .map(|f| {
            let value = f.strength / norm;
            (f, value)
        })
        .collect()
}

/// Feature families, hashed into separate spaces so a word and a source of the same
/// name stay apart.
#[derive(Clone, Copy)]
enum Family {
    Word = 1,
    NegatedWord = 2,
    Pair = 3,
    CharGram = 4,
    Shape = 5,
    Source = 6,
    Channel = 7,
    Direct = 8,
    Length = 9,
    Bot = 10,
    Concept = 11,
    NegatedConcept = 12,
    ConceptPair = 13,
}

/// Concepts: groups of words and phrases that mean the same for triage, in the languages
/// the corpus covers. A message that says "payments are returning 500s" and one that says
/// "checkout is dead for everyone" share concepts (failure, impact) where they share no
/// words, which is what lets a model trained on a few thousand messages read new ones in
/// many languages. Pairs of concepts are features too, since a failure that is over
/// weighs unlike one happening now. The phrases are data: `triage/lexicon.txt`.
const CONCEPTS: [&str; 18] = [
    "failure",
    "security",
    "impact",
    "now",
    "over",
    "practice",
    "low_env",
    "minor",
    "hedge",
    "waiting",
    "deadline",
    "direction",
    "greeting",
    // What tells alarming words that are not the user's emergency: someone else's
    // trouble, none for us, one unit of many, a question, a hobby system.
    "elsewhere",
    "no_impact",
    "single",
    "hypothetical",
    "personal",
];

const LEXICON_TEXT: &str = include_str!("../../triage/lexicon.txt");

/// A concept's phrase: its first word is the key it is filed under, the hashes of the rest
/// are `Lexicon::rest[start..start + len - 1]`; the last may be a stem, matching any word
/// it begins.
#[derive(Clone, Copy)]
struct ConceptPhrase {
    concept: u8,
    last_is_stem: bool,
    len: u8,
    start: u32,
}

/// `triage/lexicon.txt`, ready to match. Thousands of phrases are kept as 64-bit hashes
/// of their words in flat arrays (about 26 bytes a phrase), not as strings in maps (which
/// took 4 MB of the resident's memory).
struct Lexicon {
    phrases: Vec<ConceptPhrase>,
    rest: Vec<u64>,
    /// Phrases whose first word is whole, by the hash of that word.
    by_first: Filed,
    /// One-word phrases that are stems, by the hash of the stem.
    by_stem: Filed,
    negation: std::collections::HashSet<String>,
}

/// Phrase indices filed under 64-bit keys: parallel arrays sorted by key, then index (a
/// slice of pairs would pad each to 16 bytes).
#[derive(Default)]
struct Filed {
    keys: Vec<u64>,
    phrases: Vec<u32>,
}

impl Filed {
    fn new(mut pairs: Vec<(u64, u32)>) -> Filed {
        pairs.sort_unstable();
        let (keys, phrases) = pairs.into_iter().unzip();
        Filed { keys, phrases }
    }

    /// The phrase indices filed under `key`, in the file's order.
    fn under(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        let from = self.keys.partition_point(|k| *k < key);
        self.keys[from..]
            .iter()
            .zip(&self.phrases[from..])
            .take_while(move |(k, _)| **k == key)
            .map(|(_, index)| *index)
    }
}

/// A message word's hash, and the hashes of its prefixes (at character boundaries), for
/// stems.
struct HashedWord {
    whole: u64,
    prefixes: Vec<u64>,
}

impl HashedWord {
    fn new(text: &str) -> HashedWord {
        let mut hash = Fnv64::default();
        let mut prefixes = Vec::with_capacity(text.len());
        for c in text.chars() {
            let mut buf = [0; 4];
            hash = hash.str(c.encode_utf8(&mut buf));
            prefixes.push(hash.0);
        }
        HashedWord {
            whole: hash.0,
            prefixes,
        }
    }
}

/// 64-bit FNV-1a, for the lexicon's words: with thousands of them, 32 bits would collide.
#[derive(Clone, Copy)]
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn str(self, s: &str) -> Fnv64 {
        Fnv64(s.bytes().fold(self.0, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }))
    }
}

fn hash64(text: &str) -> u64 {
    Fnv64::default().str(text).0
}

impl Lexicon {
    /// Parses the lexicon; a line that is not one is an error naming it.
    fn parse(text: &str) -> Result<Lexicon, String> {
        let mut lexicon = Lexicon {
            phrases: Vec::new(),
            rest: Vec::new(),
            by_first: Filed::default(),
            by_stem: Filed::default(),
            negation: std::collections::HashSet::new(),
        };
        let (mut by_first, mut by_stem) = (Vec::new(), Vec::new());
        let mut section: Option<Option<u8>> = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(match name {
                    "negation" => None,
                    _ => Some(
                        CONCEPTS
                            .iter()
                            .position(|c| *c == name)
                            .and_then(|i| u8::try_from(i).ok())
                            .ok_or_else(|| {
                                format!("lexicon line {}: no concept {name:?}", number + 1)
                            })?,
                    ),
                });
                continue;
            }
            let (phrase, last_is_stem) = match line.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (line, false),
            };
            let ws: Vec<String> = words(phrase).into_iter().map(|w| w.text).collect();
            let Some(first) = ws.first() else {
                return Err(format!("lexicon line {}: no word in {line:?}", number + 1));
            };
            match section {
                None => return Err(format!("lexicon line {}: before any [section]", number + 1)),
                Some(None) => {
                    lexicon.negation.insert(first.clone());
                }
                Some(Some(concept)) => {
                    let index = u32::try_from(lexicon.phrases.len()).unwrap_or(u32::MAX);
                    let key = (hash64(first), index);
                    if last_is_stem && ws.len() == 1 {
                        by_stem.push(key);
                    } else {
                        by_first.push(key);
                    }
                    lexicon.phrases.push(ConceptPhrase {
                        concept,
                        last_is_stem,
                        len: u8::try_from(ws.len())
                            .map_err(|_| format!("lexicon line {}: too many words", number + 1))?,
                        start: u32::try_from(lexicon.rest.len()).unwrap_or(u32::MAX),
                    });
                    lexicon.rest.extend(ws[1..].iter().map(|w| hash64(w)));
                }
            }
        }
        // Sorted by hash, then by file order, so the first match is the file's first.
        lexicon.by_first = Filed::new(by_first);
        lexicon.by_stem = Filed::new(by_stem);
        lexicon.phrases.shrink_to_fit();
        lexicon.rest.shrink_to_fit();
        Ok(lexicon)
    }

    /// Whether `phrase`, found by its first word at `at[0]`, matches the words after it.
    fn matches(&self, phrase: ConceptPhrase, at: &[HashedWord]) -> bool {
        let len = usize::from(phrase.len);
        let start = phrase.start as usize;
        at.len() >= len
            && self.rest[start..start + len - 1]
                .iter()
                .zip(&at[1..])
                .enumerate()
                .all(|(i, (wanted, word))| {
                    if phrase.last_is_stem && i + 2 == len {
                        word.prefixes.contains(wanted)
                    } else {
                        word.whole == *wanted
                    }
                })
    }

    /// The phrases that may start at `word`, in the file's order.
    fn candidates(&self, word: &HashedWord) -> Vec<ConceptPhrase> {
        let mut found: Vec<u32> = self.by_first.under(word.whole).collect();
        for prefix in &word.prefixes {
            found.extend(self.by_stem.under(*prefix));
        }
        found.sort_unstable();
        found
            .into_iter()
            .map(|index| self.phrases[index as usize])
            .collect()
    }

    /// One-word phrases that start inside `text`, after its first character.
    fn inside(&self, text: &str) -> Vec<ConceptPhrase> {
        let chars: Vec<char> = text.chars().collect();
        let mut found: Vec<u32> = Vec::new();
        for start in 1..chars.len() {
            let mut hash = Fnv64::default();
            for c in chars[start..].iter().take(INNER_PHRASE_CHARS) {
                hash = hash.str(c.encode_utf8(&mut [0; 4]));
                found.extend(self.by_stem.under(hash.0));
                found.extend(
                    self.by_first
                        .under(hash.0)
                        .filter(|index| self.phrases[*index as usize].len == 1),
                );
            }
        }
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .map(|index| self.phrases[index as usize])
            .collect()
    }
}

/// The longest Thai phrase looked for inside a chunk, in characters (the lexicon's
/// longest is 22).
const INNER_PHRASE_CHARS: usize = 24;

/// Thai puts no spaces between words, so a chunk between spaces holds several.
fn is_thai(text: &str) -> bool {
    text.chars().any(|c| matches!(c as u32, 0x0E00..=0x0E7F))
}

static LEXICON: LazyLock<Lexicon> =
    LazyLock::new(|| Lexicon::parse(LEXICON_TEXT).unwrap_or_else(|error| panic!("{error}")));

/// Builds the concept table now rather than on the first message.
pub(crate) fn prepare() {
    LazyLock::force(&LEXICON);
}

/// The concepts a message mentions: each concept's first match, and whether it was
/// negated there.
fn concepts(words: &[Word], negated: &[bool]) -> Vec<(usize, (usize, usize), bool)> {
    let hashed: Vec<HashedWord> = words.iter().map(|w| HashedWord::new(&w.text)).collect();
    let mut found: Vec<(usize, (usize, usize), bool)> = Vec::new();
    for i in 0..hashed.len() {
        for phrase in LEXICON.candidates(&hashed[i]) {
            let concept = usize::from(phrase.concept);
            if !found.iter().any(|(c, _, _)| *c == concept) && LEXICON.matches(phrase, &hashed[i..])
            {
                found.push((concept, (i, i + usize::from(phrase.len) - 1), negated[i]));
            }
        }
        if is_thai(&words[i].text) {
            for phrase in LEXICON.inside(&words[i].text) {
                let concept = usize::from(phrase.concept);
                if !found.iter().any(|(c, _, _)| *c == concept) {
                    found.push((concept, (i, i), negated[i]));
                }
            }
        }
    }
    found
}

/// 32-bit FNV-1a: tiny, stable across platforms and releases, which the shipped weights
/// depend on.
#[derive(Clone, Copy)]
struct Fnv(u32, Family);

impl Fnv {
    fn new(family: Family) -> Fnv {
        Fnv(0x811c_9dc5, family).byte(family as u8)
    }

    fn byte(self, b: u8) -> Fnv {
        Fnv((self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193), self.1)
    }

    fn bytes(self, bytes: &[u8]) -> Fnv {
        bytes.iter().fold(self, |h, b| h.byte(*b))
    }

    fn str(self, s: &str) -> Fnv {
        self.bytes(s.as_bytes())
    }
}

/// The features of a message, duplicates included (the model counts each key once).
pub fn extract(origin: Origin<'_>, words: &[Word]) -> Vec<Feature> {
    let mut out = Vec::with_capacity(words.len() * 12 + 8);
    let mut push = |hash: Fnv, span: Option<(usize, usize)>| {
        out.push(Feature {
            key: hash.0,
            span,
            strength: hash.1.strength(),
        })
    };
    let mut negated_until: Option<usize> = None;
    let mut negated = vec![false; words.len()];
    for (i, word) in words.iter().enumerate() {
        let span = Some((i, i));
        let text = word.text.as_str();
        push(Fnv::new(Family::Word).str(text), span);
        if negated_until.is_some_and(|until| i <= until) {
            negated[i] = true;
            push(Fnv::new(Family::NegatedWord).str(text), span);
        }
        if word.ends_clause {
            negated_until = None;
        }
        if is_negation(text) && !word.ends_clause {
            negated_until = Some(i + NEGATION_SCOPE);
        }
        if text.chars().any(|c| c.is_ascii_digit()) {
            let shape: String = shape_of(text);
            push(Fnv::new(Family::Shape).str(&shape), span);
        }
        if let Some(next) = words.get(i + 1) {
            push(
                Fnv::new(Family::Pair).str(text).byte(0).str(&next.text),
                Some((i, i + 1)),
            );
        }
        char_grams(text, |gram| {
            push(Fnv::new(Family::CharGram).str(gram), span)
        });
    }
    let mentioned = concepts(words, &negated);
    for (concept, span, negated) in &mentioned {
        let family = if *negated {
            Family::NegatedConcept
        } else {
            Family::Concept
        };
        push(Fnv::new(family).str(CONCEPTS[*concept]), Some(*span));
    }
    for (a, a_span, a_negated) in &mentioned {
        for (b, b_span, b_negated) in &mentioned {
            if (a_span.0, a) < (b_span.0, b) && !a_negated && !b_negated {
                push(
                    Fnv::new(Family::ConceptPair)
                        .str(CONCEPTS[*a])
                        .byte(0)
                        .str(CONCEPTS[*b]),
                    None,
                );
            }
        }
    }
    push(
        Fnv::new(Family::Source).str(&origin.source.to_lowercase()),
        None,
    );
    match origin.channel {
        None => push(Fnv::new(Family::Direct), None),
        Some(channel) => {
            for word in self::words(channel) {
                push(Fnv::new(Family::Channel).str(&word.text), None);
            }
        }
    }
    if looks_automated(origin.sender) {
        push(Fnv::new(Family::Bot), None);
    }
    push(
        Fnv::new(Family::Length).byte(length_bucket(words.len())),
        None,
    );
    out
}

/// Digits become `0`, runs of them one `0`: "500s" → "0s", "3pm" → "0pm".
fn shape_of(text: &str) -> String {
    let mut shape = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !shape.ends_with('0') {
                shape.push('0');
            }
        } else {
            shape.push(c);
        }
    }
    shape
}

/// Character 3- to 5-grams of a word padded with `<` and `>`, which carry spelling
/// variants, typos, inflections and languages without spaces. Long tokens (links, run-on
/// scripts) give at most 48.
fn char_grams(word: &str, mut each: impl FnMut(&str)) {
    const MAX_GRAMS: usize = 48;
    let padded = format!("<{word}>");
    let bounds: Vec<usize> = padded
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(padded.len()))
        .collect();
    let chars = bounds.len() - 1;
    let mut emitted = 0;
    for start in 0..chars {
        for n in 3..=5 {
            if start + n > chars || emitted == MAX_GRAMS {
                break;
            }
            each(&padded[bounds[start]..bounds[start + n]]);
            emitted += 1;
        }
    }
}

fn looks_automated(sender: &str) -> bool {
    let sender = sender.to_lowercase();
    [
        "bot",
        "noreply",
        "no-reply",
        "alert",
        "monitor",
        "notification",
        "[app]",
        "github",
        "jira",
        "pagerduty",
        "opsgenie",
        "grafana",
        "sentry",
        "datadog",
        "statuspage",
    ]
    .iter()
    .any(|marker| sender.contains(marker))
}

fn length_bucket(words: usize) -> u8 {
    match words {
        0..=1 => 1,
        2 => 2,
        3..=4 => 3,
        5..=8 => 4,
        9..=16 => 5,
        17..=40 => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn words_are_lower_cased_and_keep_apostrophes_and_emoji() {
        assert_eq!(
            texts("Prod's DOWN!! 🔥 can't log-in"),
            ["prod's", "down", "emoji", "can't", "log", "in"]
        );
        assert_eq!(texts("‘quoted’"), ["quoted"]);
        assert_eq!(texts("本番のAPI"), ["本", "番", "の", "api"]);
        assert_eq!(texts("เว็บล่ม แล้ว"), ["เว็บล่ม", "แล้ว"], "Thai tone marks");
        assert_eq!(texts("प्रोडक्शन डाउन"), ["प्रोडक्शन", "डाउन"], "the virama");
    }

    #[test]
    fn clauses_end_at_punctuation() {
        let ws = words("not urgent, but the deploy");
        assert!(ws[1].ends_clause, "the comma ends the clause");
        assert!(!ws[0].ends_clause);
    }

    fn keys(text: &str) -> Vec<u32> {
        let origin = Origin {
            source: "slack",
            sender: "ana",
            channel: None,
        };
        extract(origin, &words(text))
            .into_iter()
            .map(|f| f.key)
            .collect()
    }

    #[test]
    fn negation_marks_the_next_words_of_its_clause_only() {
        let negated = |word: &str| Fnv::new(Family::NegatedWord).str(word).0;
        let k = keys("this is not urgent, the deploy is fine");
        assert!(k.contains(&negated("urgent")), "'urgent' is negated");
        assert!(
            !k.contains(&negated("deploy")),
            "the comma ends the negation"
        );
        assert!(!keys("this is urgent").contains(&negated("urgent")));
    }

    #[test]
    fn the_same_text_gives_the_same_features() {
        assert_eq!(
            keys("Payments API returning 500s"),
            keys("payments api returning 500s")
        );
        assert_ne!(
            keys("payments api returning 500s"),
            keys("payments api returning 200s")
        );
    }

    #[test]
    fn long_words_give_a_bounded_number_of_character_grams() {
        let mut count = 0;
        char_grams(&"x".repeat(10_000), |_| count += 1);
        assert_eq!(count, 48);
        let mut grams = Vec::new();
        char_grams("hé", |g| grams.push(g.to_owned()));
        assert_eq!(grams, ["<hé", "<hé>", "hé>"]);
    }

    #[test]
    fn shapes_collapse_digits() {
        assert_eq!(shape_of("500s"), "0s");
        assert_eq!(shape_of("15h30"), "0h0");
    }

    #[test]
    fn the_lexicon_matches_phrases_and_stems_and_says_where_it_is_wrong() {
        let lexicon = Lexicon::parse(
            "# a comment\n[over]\nback to normal\nwieder erreich*\n복구*\n[negation]\nnot\n",
        )
        .expect("parses");
        let found = |text: &str| {
            let ws: Vec<HashedWord> = words(text)
                .iter()
                .map(|w| HashedWord::new(&w.text))
                .collect();
            (0..ws.len())
                .flat_map(|i| {
                    lexicon
                        .candidates(&ws[i])
                        .into_iter()
                        .filter(|p| lexicon.matches(*p, &ws[i..]))
                        .map(|p| (p.concept, i))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let over = u8::try_from(
            CONCEPTS
                .iter()
                .position(|c| *c == "over")
                .expect("a concept"),
        )
        .expect("few concepts");
        assert_eq!(found("all back to normal now"), vec![(over, 1)]);
        assert_eq!(found("back to work"), vec![]);
        assert_eq!(found("server wieder erreichbar"), vec![(over, 1)]);
        assert_eq!(
            found("wieder da"),
            vec![],
            "a stem matches as the last word only"
        );
        assert_eq!(found("서비스 복구되었습니다"), vec![(over, 1)]);
        assert_eq!(
            found("복"),
            vec![],
            "a stem is a prefix of the word, not the reverse"
        );
        assert!(lexicon.negation.contains("not"));
        assert_eq!(
            Lexicon::parse("[outages]\ndown\n").err().as_deref(),
            Some("lexicon line 1: no concept \"outages\"")
        );
        assert_eq!(
            Lexicon::parse("down\n").err().as_deref(),
            Some("lexicon line 1: before any [section]")
        );
        prepare();
        assert!(is_negation("nicht"), "the shipped lexicon loads");
    }

    #[test]
    fn thai_phrases_are_found_inside_a_chunk_without_spaces() {
        let lexicon = Lexicon::parse("[failure]\nล่ม\n[over]\nกลับมาใช้ได้*\n").expect("parses");
        let concepts_in =
            |text: &str| -> Vec<u8> { lexicon.inside(text).iter().map(|p| p.concept).collect() };
        // "the whole website is down" and "the system works again": the words sit after
        // others in one chunk.
        assert_eq!(concepts_in("เว็บไซต์ล่มทั้งหมด"), vec![0]);
        assert_eq!(concepts_in("ระบบกลับมาใช้ได้แล้ว"), vec![4]);
        assert_eq!(concepts_in("ประชุมพรุ่งนี้"), Vec::<u8>::new());
        assert!(is_thai("ระบบ") && !is_thai("system"));
    }
}

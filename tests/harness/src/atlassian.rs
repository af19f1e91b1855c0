//! What the Jira and Confluence contract servers share, one Atlassian account being
//! signed in to both: the account ([`EMAIL`], [`API_TOKEN`], [`ME`], [`BOB`]), HTTP Basic
//! credentials and the platform's 401, the 429 answer of Atlassian's "Rate limiting"
//! page, the request log, query strings and paging tokens, the absolute dates JQL and CQL
//! both read, and the query language itself: JQL and CQL have one shape, so one tokenizer
//! and one recursive-descent parser (AND binds tighter than OR, NOT, parentheses,
//! keywords in any case, `ORDER BY`) serve both, each product validating fields and
//! values and wording errors its own way.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The user's Atlassian account email, the Basic user name.
pub const EMAIL: &str = "alice@example.com";
/// The user's API token, the Basic password.
pub const API_TOKEN: &str = "ATATT3xFfGF0-deepwork-test-api-token-0001";
/// The user's account id (Alice), the same in every Atlassian product.
pub const ME: &str = "5b10a2844c20165700ede21g";
/// A colleague's account id (Bob).
pub const BOB: &str = "5b10ac8d82e05b22cc7d4ef5";
/// The user's time zone until a test sets another.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Berlin";

/// The display name of an account the site knows.
pub fn display_name(account: &str) -> &'static str {
    match account {
        ME => "Alice",
        BOB => "Bob",
        _ => "Former user",
    }
}

// ---- The gate: the request log, the rate limit, credentials ----

/// A product's site state, as the gate and the fallback see it.
pub(crate) trait Site {
    /// Its request log (every request, as `METHOD /path?query`), how many coming
    /// requests to answer with 429, and whether the API token was revoked.
    fn gate_fields(&mut self) -> (&mut Vec<String>, &mut u32, bool);
    /// The product's 429 (see [`rate_limited`]).
    fn too_many_requests(&self) -> Response;
    /// The product's 404 for a path it does not serve.
    fn no_resource() -> Response;

    /// Logs the request, then refuses it while the rate limit lasts or without the
    /// user's credentials; `Some` is the refusal.
    fn gate(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let (calls, rate_limit_next, revoked) = self.gate_fields();
        calls.push(call_line(method, uri));
        if *rate_limit_next > 0 {
            *rate_limit_next -= 1;
            return Some(self.too_many_requests());
        }
        (revoked || !basic_ok(headers)).then(unauthorized)
    }
}

/// The fallback: logs the request, then answers the product's 404.
pub(crate) async fn unknown<S: Site>(
    State(state): State<Arc<Mutex<S>>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let mut state = state.lock().expect("state");
    let (calls, _, _) = state.gate_fields();
    calls.push(call_line(&method, &uri));
    S::no_resource()
}

/// Whether the request carries the user's Basic credentials.
pub(crate) fn basic_ok(headers: &HeaderMap) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .is_some_and(|d| d == format!("{EMAIL}:{API_TOKEN}"))
}

/// The platform's answer to missing, wrong or revoked credentials.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "message": "Client must be authenticated to access this resource.", "status-code": 401 })),
    )
        .into_response()
}

/// A 429 with the headers Atlassian's "Rate limiting" page lists.
pub(crate) fn rate_limited(
    retry_after: u32,
    now: Timestamp,
    reason: Option<&str>,
    body: Value,
) -> Response {
    let reset = now
        .checked_add(SignedDuration::from_secs(i64::from(retry_after)))
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%MZ")
        .to_string();
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("retry-after", retry_after.to_string());
    set("x-ratelimit-reset", reset);
    set("x-ratelimit-limit", "100".into());
    set("x-ratelimit-remaining", "0".into());
    set("x-ratelimit-nearlimit", "true".into());
    if let Some(reason) = reason {
        set("ratelimit-reason", reason.to_owned());
    }
    response
}

// ---- The request log, query strings and paging ----

/// The request's `/path?query`.
pub(crate) fn target(uri: &Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
}

/// A request as the calls log keeps it: `METHOD /path?query`.
pub(crate) fn call_line(method: &Method, uri: &Uri) -> String {
    format!("{method} {}", target(uri))
}

/// The query string's pairs, decoded.
pub(crate) fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Every value the query gives `name`, in order.
pub(crate) fn values<'a>(
    pairs: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The first value the query gives `name`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &'a str) -> Option<&'a str> {
    values(pairs, name).next()
}

/// A comma list, or several, split into its items.
pub(crate) fn items<'a>(lists: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    lists
        .into_iter()
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A page position as an opaque token.
pub(crate) fn page_token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// The page position a token stands for.
pub(crate) fn page_offset(token: &str) -> Option<usize> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(decoded)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// The user's time zone (IANA), or UTC when it is not one.
pub(crate) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// A relative date's sign and the rest: `-` is -1, `+` or none is 1.
pub(crate) fn signed(text: &str) -> (i64, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    }
}

/// An absolute date in one of the formats both JQL and CQL document
/// (`yyyy/MM/dd HH:mm`, `yyyy-MM-dd HH:mm`, `yyyy/MM/dd`, `yyyy-MM-dd`), read in `zone`.
pub(crate) fn civil_time(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    for format in ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = jiff::civil::DateTime::strptime(format, text) {
            return at.to_zoned(zone.clone()).ok().map(|z| z.timestamp());
        }
    }
    for format in ["%Y/%m/%d", "%Y-%m-%d"] {
        if let Ok(day) = jiff::civil::Date::strptime(format, text) {
            return day.to_zoned(zone.clone()).ok().map(|z| z.timestamp());
        }
    }
    None
}

// ---- The query language (JQL and CQL have one shape) ----

/// Where a token starts: line and character, both from 1, as Jira reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct At {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    at: At,
}

impl Token {
    fn text(&self) -> String {
        match &self.tok {
            Tok::Word(w) | Tok::Quoted(w) => w.clone(),
            Tok::Op(op) => (*op).to_owned(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
        }
    }

    fn is(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

/// What the parser wanted where it stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Expect {
    Operator,
    Value,
    Logical,
    Field,
    Open,
    Close,
    By,
}

/// Why a query does not parse.
#[derive(Clone, Debug)]
pub(crate) enum Syntax {
    Unterminated {
        text: String,
        at: At,
    },
    Expected {
        what: Expect,
        got: Option<String>,
        at: At,
    },
}

/// A boolean combination of leaves (clauses, or what a language compiles them to).
#[derive(Clone, Debug)]
pub(crate) enum Expr<C> {
    And(Box<Expr<C>>, Box<Expr<C>>),
    Or(Box<Expr<C>>, Box<Expr<C>>),
    Not(Box<Expr<C>>),
    Leaf(C),
}

impl<C> Expr<C> {
    /// The same combination over `f`'s leaves, or `f`'s first error (leftmost first).
    pub(crate) fn try_map<D, E>(self, f: &mut impl FnMut(C) -> Result<D, E>) -> Result<Expr<D>, E> {
        Ok(match self {
            Expr::And(a, b) => Expr::And(Box::new(a.try_map(f)?), Box::new(b.try_map(f)?)),
            Expr::Or(a, b) => Expr::Or(Box::new(a.try_map(f)?), Box::new(b.try_map(f)?)),
            Expr::Not(a) => Expr::Not(Box::new(a.try_map(f)?)),
            Expr::Leaf(c) => Expr::Leaf(f(c)?),
        })
    }

    /// Whether the combination holds when each leaf holds as `f` says.
    pub(crate) fn holds(&self, f: &impl Fn(&C) -> bool) -> bool {
        match self {
            Expr::And(a, b) => a.holds(f) && b.holds(f),
            Expr::Or(a, b) => a.holds(f) || b.holds(f),
            Expr::Not(a) => !a.holds(f),
            Expr::Leaf(c) => f(c),
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    In,
    NotIn,
    Is,
    IsNot,
}

impl Op {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "~",
            Op::NotLike => "!~",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Is => "is",
            Op::IsNot => "is not",
        }
    }

    /// Whether it is `=`, `!=`, `<`, `<=`, `>` or `>=`: the operators a date takes.
    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    /// Whether `left op right` holds, for the ordering operators and (in)equality.
    pub(crate) fn compares<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Op::Eq => left == right,
            Op::Ne => left != right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            _ => false,
        }
    }
}

/// A value on the right of an operator.
#[derive(Clone, Debug)]
pub(crate) enum Term {
    Text(String),
    Empty,
    Func { name: String, args: Vec<String> },
}

/// `field op value` or `field op (list)`.
#[derive(Clone, Debug)]
pub(crate) struct Clause {
    pub(crate) field: String,
    pub(crate) op: Op,
    pub(crate) terms: Vec<Term>,
}

/// A parsed query: the restriction, if any, and the `ORDER BY` fields with their
/// direction (`Some(true)` for `DESC`, `None` when not given).
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub(crate) filter: Option<Expr<Clause>>,
    pub(crate) order: Vec<(String, Option<bool>)>,
}

/// Words that cannot stand unquoted as a field or a value.
const RESERVED: [&str; 8] = ["and", "or", "not", "in", "is", "order", "by", "empty"];

fn tokenize(text: &str) -> Result<(Vec<Token>, At), Syntax> {
    let chars: Vec<char> = text.chars().collect();
    let mut positions = Vec::with_capacity(chars.len() + 1);
    let (mut line, mut column) = (1, 1);
    for &c in &chars {
        positions.push(At { line, column });
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    positions.push(At { line, column });
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = positions[i];
        let next = chars.get(i + 1).copied();
        let simple = match c {
            '(' => Some((Tok::Open, 1)),
            ')' => Some((Tok::Close, 1)),
            ',' => Some((Tok::Comma, 1)),
            '!' if next == Some('=') => Some((Tok::Op("!="), 2)),
            '!' if next == Some('~') => Some((Tok::Op("!~"), 2)),
            '<' if next == Some('=') => Some((Tok::Op("<="), 2)),
            '>' if next == Some('=') => Some((Tok::Op(">="), 2)),
            '=' => Some((Tok::Op("="), 1)),
            '<' => Some((Tok::Op("<"), 1)),
            '>' => Some((Tok::Op(">"), 1)),
            '~' => Some((Tok::Op("~"), 1)),
            _ => None,
        };
        if let Some((tok, width)) = simple {
            tokens.push(Token { tok, at });
            i += width;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut value = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(Syntax::Unterminated { text: value, at }),
                    Some('\\') if j + 1 < chars.len() => {
                        value.push(chars[j + 1]);
                        j += 2;
                    }
                    Some(&q) if q == c => break,
                    Some(&other) => {
                        value.push(other);
                        j += 1;
                    }
                }
            }
            tokens.push(Token {
                tok: Tok::Quoted(value),
                at,
            });
            i = j + 1;
        } else {
            // A lone `!` is a word of its own, so a scan always moves on.
            let mut j = i + 1;
            while j < chars.len() && !chars[j].is_whitespace() && !"()=<>~,\"'!".contains(chars[j])
            {
                j += 1;
            }
            tokens.push(Token {
                tok: Tok::Word(chars[i..j].iter().collect()),
                at,
            });
            i = j;
        }
    }
    Ok((tokens, positions[chars.len()]))
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    end: At,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn at(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is(keyword))
    }

    fn error(&self, what: Expect) -> Syntax {
        match self.peek() {
            Some(token) => Syntax::Expected {
                what,
                got: Some(token.text()),
                at: token.at,
            },
            None => Syntax::Expected {
                what,
                got: None,
                at: self.end,
            },
        }
    }

    fn or(&mut self) -> Result<Expr<Clause>, Syntax> {
        let mut left = self.and()?;
        while self.at("or") {
            self.next += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr<Clause>, Syntax> {
        let mut left = self.unary()?;
        while self.at("and") {
            self.next += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr<Clause>, Syntax> {
        if self.at("not") {
            self.next += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek().is_some_and(|t| t.tok == Tok::Open) {
            self.next += 1;
            let inner = self.or()?;
            return match self.peek().map(|t| &t.tok) {
                Some(Tok::Close) => {
                    self.next += 1;
                    Ok(inner)
                }
                Some(_) => Err(self.error(Expect::Logical)),
                None => Err(self.error(Expect::Close)),
            };
        }
        self.clause()
    }

    fn name(&mut self) -> Result<String, Syntax> {
        match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Word(w)) if !RESERVED.contains(&w.to_ascii_lowercase().as_str()) => {
                self.next += 1;
                Ok(w)
            }
            Some(Tok::Quoted(q)) => {
                self.next += 1;
                Ok(q)
            }
            _ => Err(self.error(Expect::Field)),
        }
    }

    fn clause(&mut self) -> Result<Expr<Clause>, Syntax> {
        let field = self.name()?;
        let op = self.operator()?;
        let terms = if matches!(op, Op::In | Op::NotIn) {
            self.list()?
        } else {
            vec![self.term()?]
        };
        Ok(Expr::Leaf(Clause { field, op, terms }))
    }

    fn operator(&mut self) -> Result<Op, Syntax> {
        let op = match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Op(symbol)) => match symbol {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "~" => Op::Like,
                _ => Op::NotLike,
            },
            _ if self.at("in") => Op::In,
            _ if self.at("not") => {
                self.next += 1;
                if !self.at("in") {
                    return Err(self.error(Expect::Operator));
                }
                Op::NotIn
            }
            _ if self.at("is") => {
                if self.tokens.get(self.next + 1).is_some_and(|t| t.is("not")) {
                    self.next += 1;
                    Op::IsNot
                } else {
                    Op::Is
                }
            }
            _ => return Err(self.error(Expect::Operator)),
        };
        self.next += 1;
        Ok(op)
    }

    fn term(&mut self) -> Result<Term, Syntax> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error(Expect::Value));
        };
        match token.tok {
            Tok::Quoted(q) => {
                self.next += 1;
                Ok(Term::Text(q))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") => {
                self.next += 1;
                Ok(Term::Empty)
            }
            Tok::Word(w) if !RESERVED.contains(&w.to_ascii_lowercase().as_str()) => {
                self.next += 1;
                if self.peek().is_none_or(|t| t.tok != Tok::Open) {
                    return Ok(Term::Text(w));
                }
                self.next += 1;
                let mut args = Vec::new();
                loop {
                    match self.peek().map(|t| t.tok.clone()) {
                        Some(Tok::Close) => {
                            self.next += 1;
                            return Ok(Term::Func { name: w, args });
                        }
                        Some(Tok::Comma) if !args.is_empty() => self.next += 1,
                        Some(Tok::Word(a) | Tok::Quoted(a)) => {
                            self.next += 1;
                            args.push(a);
                        }
                        _ => return Err(self.error(Expect::Close)),
                    }
                }
            }
            _ => Err(self.error(Expect::Value)),
        }
    }

    fn list(&mut self) -> Result<Vec<Term>, Syntax> {
        if self.peek().is_none_or(|t| t.tok != Tok::Open) {
            return Err(self.error(Expect::Open));
        }
        self.next += 1;
        let mut terms = Vec::new();
        loop {
            terms.push(self.term()?);
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Comma) => self.next += 1,
                Some(Tok::Close) => {
                    self.next += 1;
                    return Ok(terms);
                }
                _ => return Err(self.error(Expect::Close)),
            }
        }
    }
}

/// Parses a JQL or CQL query; the validation of fields and values is each language's.
pub(crate) fn parse_query(text: &str) -> Result<Query, Syntax> {
    let (tokens, end) = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        end,
    };
    let filter = if parser.peek().is_none() || parser.at("order") {
        None
    } else {
        Some(parser.or()?)
    };
    let mut order = Vec::new();
    if parser.at("order") {
        parser.next += 1;
        if !parser.at("by") {
            return Err(parser.error(Expect::By));
        }
        parser.next += 1;
        loop {
            let field = parser.name()?;
            let descending = if parser.at("desc") {
                Some(true)
            } else if parser.at("asc") {
                Some(false)
            } else {
                None
            };
            if descending.is_some() {
                parser.next += 1;
            }
            order.push((field, descending));
            if parser.peek().is_some_and(|t| t.tok == Tok::Comma) {
                parser.next += 1;
            } else {
                break;
            }
        }
    }
    if parser.peek().is_some() {
        return Err(parser.error(Expect::Logical));
    }
    Ok(Query { filter, order })
}

/// How two results compare under `ORDER BY`: by each field in turn, as `by` compares
/// them on it, reversed where the field is descending.
pub(crate) fn order_by<F>(
    order: &[(F, bool)],
    by: impl Fn(&F) -> std::cmp::Ordering,
) -> std::cmp::Ordering {
    order
        .iter()
        .fold(std::cmp::Ordering::Equal, |acc, (field, descending)| {
            acc.then_with(|| {
                let ordering = by(field);
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
        })
}

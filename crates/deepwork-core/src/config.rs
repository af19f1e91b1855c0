//! The one typed configuration, read from TOML. Every field has a default.
//!
//! Parsing is pure (text in, [`Config`] or a located [`ConfigError`] out); the engine
//! reads the file.

use crate::away::{self, AutoReplyConfig, StatusConfig};
use crate::escalation::EscalationConfig;
use crate::held_notifications::HoldNotificationsConfig;
use crate::item::Class;
use crate::plans::PlansConfig;
use crate::resident::DesktopConfig;
use crate::schedule::ClockTime;
use crate::triage::Triager;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Everything a user can configure. See `docs/configuration.md`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Session lengths and check-in slots.
    pub session: SessionConfig,
    /// How items are classed.
    pub triage: TriageConfig,
    /// How long each class may wait for a reply.
    pub response_windows: ResponseWindows,
    /// The weekly goal.
    pub stats: StatsConfig,
    /// Desktop notifications.
    pub notifications: NotificationsConfig,
    /// The status text shown on chat platforms during a session.
    pub status: StatusConfig,
    /// The auto-reply text.
    pub auto_reply: AutoReplyConfig,
    /// Connected chat platforms (their tokens live in the OS keyring, never here).
    pub adapters: AdaptersConfig,
    /// The tray icon and the global hotkey.
    pub desktop: DesktopConfig,
    /// Other apps' desktop notifications during a session.
    pub hold_notifications: HoldNotificationsConfig,
    /// How long message text is kept.
    pub storage: StorageConfig,
    /// What follows an emergency nobody acknowledged: alerts, SMS, a call.
    pub escalation: EscalationConfig,
    /// Work hours: reply-by clocks run only in them.
    pub plans: PlansConfig,
    /// Noticing the user's answers where items live, and the one reminder.
    pub follow_through: FollowThroughConfig,
    /// The written standup: when it is drafted and where it is posted.
    pub standup: crate::standup::StandupConfig,
}

/// The `[storage]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Days a handled item's text (sender, title, body, link) is kept; 0 keeps it for
    /// good. Classes and times stay, so the stats do.
    pub keep_days: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { keep_days: 90 }
    }
}

/// The most days `[storage] keep_days` takes: ten years.
pub const MAX_KEEP_DAYS: u32 = 3650;

/// The `[adapters]` section: one table per platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptersConfig {
    /// A Matrix account.
    pub matrix: Option<MatrixConfig>,
    /// A Slack workspace.
    pub slack: Option<SlackConfig>,
    /// A Mattermost account.
    pub mattermost: Option<MattermostConfig>,
    /// A Microsoft Teams account.
    pub teams: Option<TeamsConfig>,
    /// An XMPP (Jabber) account.
    pub xmpp: Option<XmppConfig>,
    /// GitHub notifications.
    pub github: Option<GitHubConfig>,
    /// Jira Cloud issues.
    pub jira: Option<AtlassianConfig>,
    /// Confluence Cloud pages.
    pub confluence: Option<AtlassianConfig>,
    /// Comments in a Notion workspace.
    pub notion: Option<NotionConfig>,
    /// Comments on the user's Google Docs.
    pub gdocs: Option<GoogleDocsConfig>,
    /// External plugins, one per platform nobody built in.
    pub plugins: Vec<PluginConfig>,
}

impl AdaptersConfig {
    /// The first thing wrong in the work trackers' and documents' tables: the key and
    /// what is wrong. Their tokens only ever travel over https or to this computer.
    fn source_problem(&self) -> Option<(String, String)> {
        let mut required: Vec<(&str, &str, &str)> = Vec::new();
        let mut addresses: Vec<(&str, &str, &str)> = Vec::new();
        if let Some(github) = &self.github {
            required.push(("github", "user", &github.user));
            addresses.push(("github", "api", &github.api));
        }
        for (name, site) in [("jira", &self.jira), ("confluence", &self.confluence)] {
            if let Some(site) = site {
                required.push((name, "email", &site.email));
                addresses.push((name, "site", &site.site));
            }
        }
        if let Some(notion) = &self.notion {
            required.push(("notion", "workspace", &notion.workspace));
            addresses.push(("notion", "api", &notion.api));
        }
        if let Some(gdocs) = &self.gdocs {
            required.push(("gdocs", "account", &gdocs.account));
            required.push(("gdocs", "client_id", &gdocs.client_id));
            addresses.push(("gdocs", "authorize", &gdocs.authorize));
            addresses.push(("gdocs", "oauth", &gdocs.oauth));
            addresses.push(("gdocs", "drive", &gdocs.drive));
        }
        if let Some((name, key, _)) = required.iter().find(|(_, _, v)| v.trim().is_empty()) {
            return Some((format!("adapters.{name}.{key}"), "must not be empty".into()));
        }
        addresses
            .iter()
            .find(|(_, _, url)| !is_private_transport(url))
            .map(|(name, key, url)| {
                (
                    format!("adapters.{name}.{key}"),
                    format!(
                        "{url:?} must be an https:// address (plain http only to this computer): the token goes with every request"
                    ),
                )
            })
    }
}

/// `[[adapters.plugins]]`: an executable speaking the plugin protocol (`docs/plugins.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Its name in status and digests, e.g. `pumble`; names its token in the keyring.
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Send the one polite auto-reply per sender per session to direct messages.
    #[serde(default)]
    pub auto_reply: bool,
}

/// `[adapters.mattermost]`: status, custom status, direct messages and mentions on one
/// Mattermost server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MattermostConfig {
    /// The server, e.g. `https://chat.example.org`; also names the token in the keyring.
    pub server: String,
    /// Send the one polite auto-reply per sender per session to direct messages.
    #[serde(default)]
    pub auto_reply: bool,
}

/// `[adapters.github]`: review requests, mentions, CI failures and the rest of the user's
/// GitHub notifications, read while focusing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubConfig {
    /// The user's login, e.g. `alice`; names the token in the keyring.
    pub user: String,
    /// The REST API: `https://api.github.com`, or a GitHub Enterprise Server's
    /// `https://HOST/api/v3`.
    #[serde(default = "default_github_api")]
    pub api: String,
    /// The client id of an OAuth app with the device flow turned on, to sign in with
    /// `deepwork adapters connect github`; without it a personal access token is pasted.
    #[serde(default)]
    pub client_id: Option<String>,
}

fn default_github_api() -> String {
    "https://api.github.com".into()
}

/// `[adapters.jira]` and `[adapters.confluence]`: one Atlassian Cloud site, signed in
/// with an API token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtlassianConfig {
    /// The site, e.g. `https://acme.atlassian.net`; names the API token in the keyring.
    pub site: String,
    /// The account's email address, which the API token belongs to.
    pub email: String,
    /// How often to ask while focusing; a minute when not set.
    #[serde(default)]
    pub poll: Option<Length>,
}

/// `[adapters.notion]`: comments on the pages shared with an internal integration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotionConfig {
    /// A name for the workspace, e.g. `acme`; names the integration's secret in the
    /// keyring.
    pub workspace: String,
    /// The user's own Notion user id: their comments are not news to them, and a
    /// comment mentioning them is addressed to them.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The pages to watch (ids or links); empty watches the most recently edited
    /// pages shared with the integration.
    #[serde(default)]
    pub pages: Vec<String>,
    /// The API's address.
    #[serde(default = "default_notion_api")]
    pub api: String,
    /// How often to ask while focusing (one request per watched page); two minutes
    /// when not set.
    #[serde(default)]
    pub poll: Option<Length>,
}

fn default_notion_api() -> String {
    "https://api.notion.com".into()
}

/// `[adapters.gdocs]`: comments on the user's Google Docs, through the Drive API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleDocsConfig {
    /// The Google account, e.g. `alice@example.com`; names the sign-in in the keyring.
    pub account: String,
    /// The OAuth client ("Desktop app") to sign in with, from Google Cloud's console.
    pub client_id: String,
    /// That client's secret, which Google issues to desktop apps too (it is not
    /// secret there).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Google's consent page.
    #[serde(default = "default_google_authorize")]
    pub authorize: String,
    /// Google's token service.
    #[serde(default = "default_google_oauth")]
    pub oauth: String,
    /// The Drive API's address.
    #[serde(default = "default_google_drive")]
    pub drive: String,
    /// How often to ask while focusing (one request per watched document); two
    /// minutes when not set.
    #[serde(default)]
    pub poll: Option<Length>,
}

fn default_google_authorize() -> String {
    "https://accounts.google.com/o/oauth2/v2/auth".into()
}

fn default_google_oauth() -> String {
    "https://oauth2.googleapis.com".into()
}

fn default_google_drive() -> String {
    "https://www.googleapis.com".into()
}

/// Whether a secret sent to `url` stays private: https (or `webcal(s)://`, read as
/// https), or plain http to this computer.
pub fn is_private_transport(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "webcal" | "webcals" => !host.is_empty(),
        "http" => loopback,
        _ => false,
    }
}

/// `[adapters.xmpp]`: presence and chat messages of one XMPP account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    /// The account, e.g. `alice@example.org`; names the password in the keyring.
    pub jid: String,
    /// `host:port` to connect to, when the domain's DNS records do not say.
    #[serde(default)]
    pub server: Option<String>,
    /// Send the one polite auto-reply per sender per session to chat messages.
    #[serde(default)]
    pub auto_reply: bool,
}

/// `[adapters.teams]`: presence, status message and chat messages of one Microsoft 365
/// work account, through Microsoft Graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The account, e.g. `alice@contoso.com`; names the sign-in in the keyring.
    pub account: String,
    /// The client id of the app registration that signs in (a public client allowed
    /// the device-code flow, with the delegated permissions in docs/configuration.md).
    pub client_id: String,
    /// The tenant: `organizations`, a domain such as `contoso.com`, or a tenant id.
    #[serde(default = "default_teams_tenant")]
    pub tenant: String,
    /// The identity platform's address.
    #[serde(default = "default_teams_authority")]
    pub authority: String,
    /// Microsoft Graph's address.
    #[serde(default = "default_teams_graph")]
    pub graph: String,
    /// Send the one polite auto-reply per sender per session to one-on-one chats.
    #[serde(default)]
    pub auto_reply: bool,
}

fn default_teams_tenant() -> String {
    "organizations".into()
}

fn default_teams_authority() -> String {
    "https://login.microsoftonline.com/".into()
}

fn default_teams_graph() -> String {
    "https://graph.microsoft.com/v1.0/".into()
}

/// `[adapters.slack]`: status, do-not-disturb and direct messages on one Slack workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The workspace, e.g. `acme.slack.com`; names the token in the keyring.
    pub workspace: String,
    /// The Web API address.
    #[serde(default = "default_slack_api")]
    pub api: String,
    /// The client id of the Slack app to sign in with (`deepwork adapters connect
    /// slack`), an app with PKCE turned on; without it the token is pasted.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Send the one polite auto-reply per sender per session to direct messages.
    #[serde(default)]
    pub auto_reply: bool,
}

fn default_slack_api() -> String {
    "https://slack.com/api/".into()
}

/// `[adapters.matrix]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The homeserver's address, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The account, e.g. `@alice:example.org`.
    pub user_id: String,
    /// Send the one polite auto-reply per sender per session.
    #[serde(default)]
    pub auto_reply: bool,
}

/// Session defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Length of a session started without `--for` or `--until`.
    pub default_length: Length,
    /// Local times of day at which a running session checks in, e.g. `["11:00", "14:00"]`.
    pub check_in_slots: Vec<ClockTime>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            default_length: Length(SignedDuration::from_mins(50)),
            check_in_slots: Vec::new(),
        }
    }
}

/// Triage rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageConfig {
    /// Senders whose items get `vip_class`.
    pub vip_senders: Vec<String>,
    /// The class of a VIP's items.
    pub vip_class: Class,
    /// Sources whose declared urgency is trusted; `"*"` trusts every source.
    pub trusted_urgency_sources: Vec<String>,
    /// The user's own rules, tried in order before the built-in ones.
    pub rules: Vec<RuleConfig>,
    /// Whether the built-in model (and its guard rails) classes what the user's rules,
    /// VIPs, trusted sources and corrections left open. `builtin_rules` is its old name.
    #[serde(alias = "builtin_rules")]
    pub builtin_model: bool,
    /// More phrases that, alone, make a message a pre-ping.
    pub pre_ping_phrases: Vec<String>,
    /// The user's names, so "hi Alice" still reads as a pre-ping.
    pub my_names: Vec<String>,
    /// The class of an item nothing decided (only with `builtin_model = false`).
    pub default_class: Class,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            vip_senders: Vec::new(),
            vip_class: Class::Blocker,
            trusted_urgency_sources: vec!["*".into()],
            rules: Vec::new(),
            builtin_model: true,
            pre_ping_phrases: Vec::new(),
            my_names: Vec::new(),
            default_class: Class::Update,
        }
    }
}

/// One triage rule: every condition it sets must hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A name shown in the digest's "why".
    #[serde(default)]
    pub name: Option<String>,
    /// The class the rule assigns.
    pub class: Class,
    /// Whole words or phrases, any of which matches (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// A regular expression over title and body (case-insensitive).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The source must be this one.
    #[serde(default)]
    pub source: Option<String>,
    /// The sender must be this one.
    #[serde(default)]
    pub sender: Option<String>,
    /// The channel must be this one.
    #[serde(default)]
    pub channel: Option<String>,
}

/// Reply-by windows per class: an item's reply-by is its arrival plus its window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseWindows {
    /// Default 15 minutes.
    pub emergency: Length,
    /// Default 4 hours.
    pub blocker: Length,
    /// Default 24 hours.
    pub update: Length,
    /// Default 48 hours.
    pub strategic: Length,
    /// Default 24 hours.
    pub pre_ping: Length,
}

impl Default for ResponseWindows {
    fn default() -> Self {
        ResponseWindows {
            emergency: Length(SignedDuration::from_mins(15)),
            blocker: Length(SignedDuration::from_hours(4)),
            update: Length(SignedDuration::from_hours(24)),
            strategic: Length(SignedDuration::from_hours(48)),
            pre_ping: Length(SignedDuration::from_hours(24)),
        }
    }
}

impl ResponseWindows {
    /// The window of one class.
    pub fn for_class(&self, class: Class) -> SignedDuration {
        match class {
            Class::Emergency => self.emergency.0,
            Class::Blocker => self.blocker.0,
            Class::Update => self.update.0,
            Class::Strategic => self.strategic.0,
            Class::PrePing => self.pre_ping.0,
        }
    }
}

/// Weekly statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Focus hours a week the user aims for.
    pub weekly_goal_hours: f64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            weekly_goal_hours: 15.0,
        }
    }
}

/// `[follow_through]`: items mark themselves done when the user answers them where they
/// live, and a blocker still owed is reminded of once before its reply-by lapses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FollowThroughConfig {
    /// How often each platform is asked whether open items were answered (only while
    /// some are open).
    pub check_every: Length,
    /// How long before a blocker's reply-by the reminder comes, outside a session;
    /// `remind = false` turns it off.
    pub remind_before: Length,
    /// Whether to remind at all.
    pub remind: bool,
}

impl Default for FollowThroughConfig {
    fn default() -> Self {
        FollowThroughConfig {
            check_every: Length(SignedDuration::from_mins(5)),
            remind_before: Length(SignedDuration::from_mins(30)),
            remind: true,
        }
    }
}

/// Desktop notifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Send breakthrough, check-in and outside-session notifications to the desktop.
    pub enabled: bool,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig { enabled: true }
    }
}

/// A positive length of time, written like `"50m"`, `"1h30m"` or `"4h"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(type = "string"))]
pub struct Length(pub SignedDuration);

impl FromStr for Length {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let duration: SignedDuration = text.trim().parse().map_err(|_| {
            format!("{text:?} is not a length of time; write it like \"90m\", \"2h\" or \"1h30m\"")
        })?;
        if duration <= SignedDuration::ZERO {
            return Err(format!("{text:?} must be longer than zero"));
        }
        Ok(Length(duration))
    }
}

text_serde!(Length);

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

/// A configuration that could not be used, located by key and line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location(.key, .line, .column))]
pub struct ConfigError {
    /// The dotted key, e.g. `session.check_in_slots[1]`, when known.
    pub key: Option<String>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

fn location(key: &Option<String>, line: &Option<usize>, column: &Option<usize>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!("line {line}"));
        if let Some(column) = column {
            out.push_str(&format!(", column {column}"));
        }
        out.push_str(": ");
    }
    if let Some(key) = key {
        out.push_str(&format!("{key}: "));
    }
    out
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| toml_error(text, &e, None))?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let key = (key != ".").then_some(key);
            toml_error(text, e.inner(), key)
        })?;
        config.validate(text)?;
        Ok(config)
    }

    fn validate(&self, text: &str) -> Result<(), ConfigError> {
        let plain = |key: &str, message: String| {
            let line = find_key_line(text, key);
            ConfigError {
                key: Some(key.to_owned()),
                line,
                column: None,
                message,
            }
        };
        if self.session.default_length.0 > crate::session::MAX_SESSION {
            return Err(plain(
                "session.default_length",
                "must be at most 12h".into(),
            ));
        }
        let goal = self.stats.weekly_goal_hours;
        if !(0.0..=168.0).contains(&goal) {
            return Err(plain(
                "stats.weekly_goal_hours",
                format!("{goal} is not between 0 and 168 hours"),
            ));
        }
        if self.storage.keep_days > MAX_KEEP_DAYS {
            return Err(plain(
                "storage.keep_days",
                format!(
                    "{} is more than {MAX_KEEP_DAYS} days; use 0 to keep message text for good",
                    self.storage.keep_days
                ),
            ));
        }
        if let Some((key, message)) = self.escalation.problem() {
            return Err(plain(key, message));
        }
        if let Some(matrix) = &self.adapters.matrix {
            let lower = matrix.homeserver.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(plain(
                    "adapters.matrix.homeserver",
                    format!(
                        "{:?} must be an http:// or https:// address",
                        matrix.homeserver
                    ),
                ));
            }
            let valid_user = matrix
                .user_id
                .strip_prefix('@')
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty());
            if !valid_user {
                return Err(plain(
                    "adapters.matrix.user_id",
                    format!(
                        "{:?} is not a Matrix user id; write it like \"@alice:example.org\"",
                        matrix.user_id
                    ),
                ));
            }
        }
        if let Some(slack) = &self.adapters.slack {
            if slack.workspace.trim().is_empty() {
                return Err(plain(
                    "adapters.slack.workspace",
                    "must name the workspace, e.g. \"acme.slack.com\"".into(),
                ));
            }
            let lower = slack.api.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(plain(
                    "adapters.slack.api",
                    format!("{:?} must be an http:// or https:// address", slack.api),
                ));
            }
        }
        if let Some(mattermost) = &self.adapters.mattermost {
            let lower = mattermost.server.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(plain(
                    "adapters.mattermost.server",
                    format!(
                        "{:?} must be an http:// or https:// address",
                        mattermost.server
                    ),
                ));
            }
        }
        if let Some(teams) = &self.adapters.teams {
            for (key, value) in [
                ("account", &teams.account),
                ("client_id", &teams.client_id),
                ("tenant", &teams.tenant),
            ] {
                if value.trim().is_empty() {
                    return Err(plain(
                        &format!("adapters.teams.{key}"),
                        "must not be empty".into(),
                    ));
                }
            }
            for (key, value) in [("authority", &teams.authority), ("graph", &teams.graph)] {
                let lower = value.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                    return Err(plain(
                        &format!("adapters.teams.{key}"),
                        format!("{value:?} must be an http:// or https:// address"),
                    ));
                }
            }
        }
        if let Some(xmpp) = &self.adapters.xmpp {
            let valid = xmpp.jid.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && !domain.is_empty() && !domain.contains('/')
            });
            if !valid {
                return Err(plain(
                    "adapters.xmpp.jid",
                    format!(
                        "{:?} is not an account; write it like \"alice@example.org\"",
                        xmpp.jid
                    ),
                ));
            }
            if let Some(server) = &xmpp.server {
                let valid = server
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !valid {
                    return Err(plain(
                        "adapters.xmpp.server",
                        format!("{server:?} is not host:port, e.g. \"xmpp.example.org:5222\""),
                    ));
                }
            }
        }
        if let Some((key, message)) = self.adapters.source_problem() {
            return Err(plain(&key, message));
        }
        let builtin = [
            "matrix",
            "slack",
            "mattermost",
            "teams",
            "xmpp",
            "github",
            "jira",
            "confluence",
            "notion",
            "gdocs",
        ];
        for (index, plugin) in self.adapters.plugins.iter().enumerate() {
            let key = format!("adapters.plugins[{index}]");
            let valid_name = !plugin.name.is_empty()
                && plugin
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid_name || builtin.contains(&plugin.name.as_str()) {
                return Err(plain(
                    &format!("{key}.name"),
                    format!(
                        "{:?} must be lowercase letters, digits and dashes, and not a built-in adapter",
                        plugin.name
                    ),
                ));
            }
            if plugin
                .command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                return Err(plain(
                    &format!("{key}.command"),
                    "must name the program to run".into(),
                ));
            }
            if self.adapters.plugins[..index]
                .iter()
                .any(|other| other.name == plugin.name)
            {
                return Err(plain(
                    &format!("{key}.name"),
                    format!("{:?} is used twice", plugin.name),
                ));
            }
        }
        for (index, calendar) in self.plans.calendars.iter().enumerate() {
            if calendar.user.is_some() && !calendar.url.is_private_transport() {
                return Err(plain(
                    &format!("plans.calendars[{index}].url"),
                    format!(
                        "{} would send the password unencrypted; use https:// (plain http only on this computer)",
                        calendar.url
                    ),
                ));
            }
        }
        // `{intent}` is known in the one template that names it.
        let intent_template = self.status.intent_template.replace(away::INTENT, "");
        for (key, template, optional) in [
            ("status.template", &self.status.template, false),
            ("status.intent_template", &intent_template, true),
            ("auto_reply.template", &self.auto_reply.template, false),
            ("auto_reply.after_hours", &self.auto_reply.after_hours, true),
            (
                "plans.after_hours_status",
                &self.plans.after_hours_status,
                true,
            ),
        ] {
            if template.trim().is_empty() && !optional {
                return Err(plain(key, "must not be empty".into()));
            }
            if let Some(unknown) = away::unknown_placeholder(template) {
                return Err(plain(
                    key,
                    format!(
                        "{unknown} is not a placeholder; use {}",
                        away::PLACEHOLDERS.join(", ")
                    ),
                ));
            }
        }
        Triager::with_model(&self.triage, None).map_err(|e| {
            let mut err = plain(&format!("triage.rules[{}]", e.index), e.message.clone());
            err.line = nth_rule_line(text, e.index);
            err
        })?;
        Ok(())
    }
}

fn toml_error(text: &str, error: &toml::de::Error, key: Option<String>) -> ConfigError {
    let (line, column) = match error.span() {
        Some(span) => {
            let (l, c) = line_and_column(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    ConfigError {
        key,
        line,
        column,
        message: error.message().trim().to_owned(),
    }
}

/// The line of `section.key = …`, looking inside `[section]` when the key has one.
fn find_key_line(text: &str, dotted_key: &str) -> Option<usize> {
    let (section, key) = dotted_key.rsplit_once('.').unwrap_or(("", dotted_key));
    let mut in_section = section.is_empty();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.starts_with('[') {
            in_section = line.trim_end() == format!("[{section}]");
            continue;
        }
        let is_key = line
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_section && is_key {
            return Some(index + 1);
        }
    }
    None
}

fn nth_rule_line(text: &str, index: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[triage.rules]]")
        .nth(index)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_all_defaults() {
        assert_eq!(
            Config::from_toml_str("").expect("empty parses"),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_reported_with_key_and_line() {
        let err = Config::from_toml_str("[session]\ndefault_length = \"50m\"\nlenght = 3\n")
            .expect_err("unknown key");
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("unknown field `lenght`"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Config::from_toml_str("[session]\ncheck_in_slots = [\"11:00\", \"25:00\"]\n")
            .expect_err("bad slot");
        assert_eq!(
            err.key.as_deref(),
            Some("session.check_in_slots[1]"),
            "{err}"
        );
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().contains("25:00"), "{err}");

        let err = Config::from_toml_str("[response_windows]\nblocker = \"soon\"\n")
            .expect_err("bad length");
        assert_eq!(
            err.key.as_deref(),
            Some("response_windows.blocker"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("line 2, column 11: response_windows.blocker: "),
            "{err}"
        );
    }

    #[test]
    fn the_intent_placeholder_belongs_to_the_intent_template_only() {
        Config::from_toml_str("[status]\nintent_template = \"On {intent} until {until}\"\n")
            .expect("valid");
        let err = Config::from_toml_str("[status]\ntemplate = \"On {intent}\"\n")
            .expect_err("not in the plain template");
        assert_eq!(err.key.as_deref(), Some("status.template"), "{err}");
        let err = Config::from_toml_str("[status]\nintent_template = \"On {intnet}\"\n")
            .expect_err("a typo");
        assert_eq!(err.key.as_deref(), Some("status.intent_template"), "{err}");
    }

    #[test]
    fn templates_with_unknown_placeholders_are_refused_where_they_are() {
        let text = "[status]\ntemplate = \"ok {check_in}\"\n[auto_reply]\ntemplate = \"back at {chek_in}\"\n";
        let err = Config::from_toml_str(text).expect_err("typo");
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("auto_reply.template"), Some(4)),
            "{err}"
        );
        assert!(
            err.message.contains("{chek_in} is not a placeholder"),
            "{err}"
        );
    }

    #[test]
    fn a_matrix_account_is_checked() {
        let ok = "[adapters.matrix]\nhomeserver = \"https://matrix.example.org\"\nuser_id = \"@alice:example.org\"\n";
        let config = Config::from_toml_str(ok).expect("valid");
        assert_eq!(
            config.adapters.matrix.map(|m| m.auto_reply),
            Some(false),
            "auto-replies are opt-in"
        );
        let err = Config::from_toml_str(
            "[adapters.matrix]\nhomeserver = \"https://m.org\"\nuser_id = \"alice\"\n",
        )
        .expect_err("bad user id");
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("adapters.matrix.user_id"), Some(3)),
            "{err}"
        );
        let err = Config::from_toml_str("[adapters.matrix]\nhomeserver = \"https://m.org\"\nuser_id = \"@a:m.org\"\ntoken = \"x\"\n")
            .expect_err("tokens do not belong in the config");
        assert!(err.message.contains("unknown field `token`"), "{err}");
    }

    #[test]
    fn teams_needs_an_account_and_an_app_registration() {
        let ok = "[adapters.teams]\naccount = \"alice@contoso.com\"\nclient_id = \"6b1d\"\n";
        let teams = Config::from_toml_str(ok)
            .expect("valid")
            .adapters
            .teams
            .unwrap();
        assert_eq!(
            (teams.tenant.as_str(), teams.graph.as_str()),
            ("organizations", "https://graph.microsoft.com/v1.0/")
        );
        let err = Config::from_toml_str("[adapters.teams]\naccount = \"alice@contoso.com\"\n")
            .expect_err("no client id");
        assert!(err.message.contains("client_id"), "{err}");
        let err = Config::from_toml_str(
            "[adapters.teams]\naccount = \"a\"\nclient_id = \"c\"\ngraph = \"graph.microsoft.com\"\n",
        )
        .expect_err("not an address");
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("adapters.teams.graph"), Some(4)),
            "{err}"
        );
    }

    #[test]
    fn work_trackers_and_documents_send_their_tokens_only_over_https() {
        let ok = "[adapters.github]\nuser = \"alice\"\n\n[adapters.jira]\nsite = \"https://acme.atlassian.net\"\nemail = \"alice@acme.com\"\n\n[adapters.notion]\nworkspace = \"acme\"\n\n[adapters.gdocs]\naccount = \"alice@acme.com\"\nclient_id = \"123.apps.googleusercontent.com\"\n";
        let adapters = Config::from_toml_str(ok).expect("valid").adapters;
        assert_eq!(adapters.github.unwrap().api, "https://api.github.com");
        assert_eq!(adapters.notion.unwrap().api, "https://api.notion.com");
        assert!(adapters.confluence.is_none());
        let err = Config::from_toml_str(
            "[adapters.confluence]\nsite = \"http://wiki.acme.com\"\nemail = \"a@acme.com\"\n",
        )
        .expect_err("plain http to another computer");
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("adapters.confluence.site"), Some(2)),
            "{err}"
        );
        assert!(err.message.contains("https://"), "{err}");
        Config::from_toml_str(
            "[adapters.confluence]\nsite = \"http://127.0.0.1:8090\"\nemail = \"a@acme.com\"\n",
        )
        .expect("loopback is private");
        let err = Config::from_toml_str("[adapters.github]\nuser = \" \"\n").expect_err("blank");
        assert_eq!(err.key.as_deref(), Some("adapters.github.user"), "{err}");
    }

    #[test]
    fn plugins_are_named_and_have_a_command() {
        let ok = "[[adapters.plugins]]\nname = \"pumble\"\ncommand = [\"/usr/bin/pumble\"]\n";
        assert_eq!(
            Config::from_toml_str(ok)
                .expect("valid")
                .adapters
                .plugins
                .len(),
            1
        );
        for (text, key) in [
            (
                "[[adapters.plugins]]\nname = \"slack\"\ncommand = [\"x\"]\n",
                "adapters.plugins[0].name",
            ),
            (
                "[[adapters.plugins]]\nname = \"My Chat\"\ncommand = [\"x\"]\n",
                "adapters.plugins[0].name",
            ),
            (
                "[[adapters.plugins]]\nname = \"p\"\ncommand = []\n",
                "adapters.plugins[0].command",
            ),
            (
                "[[adapters.plugins]]\nname = \"p\"\ncommand = [\"x\"]\n[[adapters.plugins]]\nname = \"p\"\ncommand = [\"y\"]\n",
                "adapters.plugins[1].name",
            ),
        ] {
            let err = Config::from_toml_str(text).expect_err(text);
            assert_eq!(err.key.as_deref(), Some(key), "{err}");
        }
    }

    #[test]
    fn toml_syntax_errors_have_a_line() {
        let err = Config::from_toml_str("[session\n").expect_err("syntax");
        assert_eq!(err.line, Some(1), "{err}");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let err = Config::from_toml_str("[storage]\nkeep_days = 99999\n").expect_err("days");
        assert_eq!(err.key.as_deref(), Some("storage.keep_days"));
        assert_eq!(
            Config::from_toml_str("[storage]\nkeep_days = 0\n").map(|c| c.storage.keep_days),
            Ok(0)
        );
        let err = Config::from_toml_str("[stats]\nweekly_goal_hours = 200\n").expect_err("goal");
        assert_eq!(err.key.as_deref(), Some("stats.weekly_goal_hours"));
        assert_eq!(err.line, Some(2));
        let err =
            Config::from_toml_str("[session]\ndefault_length = \"13h\"\n").expect_err("too long");
        assert!(err.to_string().contains("at most 12h"), "{err}");
        let err = Config::from_toml_str("[response_windows]\nupdate = \"0m\"\n").expect_err("zero");
        assert!(err.to_string().contains("longer than zero"), "{err}");
    }

    #[test]
    fn lengths_read_the_way_people_write_them() {
        for (text, minutes) in [
            ("90m", 90),
            ("1h30m", 90),
            ("1h 30m", 90),
            ("90 minutes", 90),
            ("2h", 120),
            ("PT45M", 45),
        ] {
            let length: Length = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(length.0, SignedDuration::from_mins(minutes), "{text}");
        }
        for bad in ["", "soon", "-5m", "0s"] {
            assert!(bad.parse::<Length>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn a_full_config_round_trips() {
        let text = r#"
            [session]
            default_length = "1h 30m"
            check_in_slots = ["11:00", "14:00", "16:30"]
            [triage]
            vip_senders = ["ceo"]
            [[triage.rules]]
            class = "emergency"
            keywords = ["pager"]
            [response_windows]
            blocker = "2h"
            [stats]
            weekly_goal_hours = 12.5
        "#;
        let config = Config::from_toml_str(text).expect("parses");
        assert_eq!(
            config.session.default_length.0,
            SignedDuration::from_mins(90)
        );
        assert_eq!(config.session.check_in_slots.len(), 3);
        let again = toml::to_string(&config).expect("serializes");
        assert_eq!(Config::from_toml_str(&again).expect("re-parses"), config);
    }
}

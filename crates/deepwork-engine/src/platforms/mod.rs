//! The platform registry: one module per chat platform, each with one [`Platform`]
//! descriptor. The engine's connections, the CLI's `deepwork adapters`, and what the
//! window offers to connect all derive from [`PLATFORMS`]. Adding a platform is its
//! module (descriptor, `connect`, optionally `sign_in`) and one line in `PLATFORMS`;
//! the config's `[adapters.NAME]` table is its typed section in `deepwork-core`.

pub mod atlassian;
pub mod gdocs;
pub mod github;
pub mod matrix;
pub mod mattermost;
pub mod notion;
pub mod slack;
pub mod teams;
pub mod xmpp;

use crate::api::{ConnectKind, SignInCode};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::notification_monitor::{DesktopNotifications, DndKind};
use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
use deepwork_adapters::{AdapterError, FollowUp, MessageSource, Replier, StatusAdapter};
use deepwork_core::config::{AdaptersConfig, PluginConfig};
use deepwork_core::held_notifications::HoldNotificationsConfig;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Every built-in platform, in the order they are listed.
pub const PLATFORMS: &[Platform] = &[
    matrix::PLATFORM,
    slack::PLATFORM,
    mattermost::PLATFORM,
    teams::PLATFORM,
    xmpp::PLATFORM,
    github::PLATFORM,
    atlassian::JIRA,
    atlassian::CONFLUENCE,
    notion::PLATFORM,
    gdocs::PLATFORM,
];

/// The name of the adapter for other apps' desktop notifications.
pub const DESKTOP: &str = "desktop";

/// A chat platform, as the rest of Deepwork knows it.
#[derive(Debug)]
pub struct Platform {
    /// Its name: in the config (`[adapters.NAME]`), the keyring, status and commands.
    pub name: &'static str,
    /// Its name for people ("Microsoft Teams").
    pub title: &'static str,
    /// What the user gives it to connect.
    pub credential: Credential,
    /// What it does for a session.
    pub roles: Roles,
    /// Its account, when the config has this platform.
    pub configured: fn(&AdaptersConfig) -> Option<Configured>,
    /// Connects the configured account with its credential from the keyring (`None`
    /// when the config does not have it); one that cannot be used says why.
    pub connect: fn(&AdaptersConfig, &Secrets) -> Option<ChatAdapter>,
    /// Starts a sign-in in the browser, where the platform has one.
    pub sign_in: Option<fn(&AdaptersConfig) -> SignInStart<'_>>,
}

/// A sign-in being started: what to show the person, and what to wait on.
pub type SignInStart<'a> = BoxFuture<'a, Result<(SignInCode, PendingSignIn), AdapterError>>;

/// What the user gives a platform to connect.
#[derive(Clone, Copy, Debug)]
pub enum Credential {
    /// A token or password, pasted (`deepwork adapters token NAME`).
    Token {
        /// What it is called ("access token").
        what: &'static str,
    },
    /// A sign-in in the browser only (`deepwork adapters connect NAME`).
    SignIn,
    /// Either: a pasted token, or a sign-in that yields one.
    TokenOrSignIn {
        /// What the token is called.
        what: &'static str,
        /// A second, optional token (`deepwork adapters token NAME --second`).
        second: Option<SecondToken>,
    },
}

/// A platform's second, optional token (Slack's app-level token for Socket Mode).
#[derive(Clone, Copy, Debug)]
pub struct SecondToken {
    /// What it is called.
    pub what: &'static str,
    /// The keyring account it is kept under, from the first one's.
    pub account: fn(&str) -> String,
    /// What having it means ("messages over Socket Mode").
    pub with: &'static str,
    /// What not having it means.
    pub without: &'static str,
}

impl Credential {
    /// How the window offers to connect it.
    pub fn kind(self) -> ConnectKind {
        match self {
            Credential::Token { .. } => ConnectKind::Token,
            Credential::SignIn => ConnectKind::SignIn,
            Credential::TokenOrSignIn { .. } => ConnectKind::TokenOrSignIn,
        }
    }

    /// What the pasted credential is called; `None` for sign-in only.
    pub fn what(self) -> Option<&'static str> {
        match self {
            Credential::Token { what } | Credential::TokenOrSignIn { what, .. } => Some(what),
            Credential::SignIn => None,
        }
    }

    /// The second token, where there is one.
    pub fn second(self) -> Option<SecondToken> {
        match self {
            Credential::TokenOrSignIn { second, .. } => second,
            Credential::Token { .. } | Credential::SignIn => None,
        }
    }
}

/// What a platform does for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// Shows the focus status.
    pub status: bool,
    /// Reads messages addressed to the user.
    pub messages: bool,
    /// Sends auto-replies.
    pub replies: bool,
}

impl Roles {
    /// Status, messages and replies.
    pub const ALL: Roles = Roles {
        status: true,
        messages: true,
        replies: true,
    };
    /// A work tracker or documents: read only.
    pub const READ_ONLY: Roles = Roles {
        status: false,
        messages: true,
        replies: false,
    };
}

/// A configured account, as the config names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configured {
    /// What names its credential in the keyring (user id, workspace, server, JID).
    pub account: String,
    /// More to show beside it ("on https://matrix.example.org"); may be empty.
    pub detail: String,
    /// Whether auto-replies are on.
    pub auto_reply: bool,
}

/// The built-in platform called `name`.
pub fn find(name: &str) -> Option<&'static Platform> {
    PLATFORMS.iter().find(|platform| platform.name == name)
}

/// The built-in platforms' names, for messages: "matrix, slack, …".
pub fn names() -> String {
    PLATFORMS
        .iter()
        .map(|platform| platform.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the window offers to connect the adapter `name`: a built-in platform's way, a
/// plugin's token, or nothing (the desktop's notifications).
pub fn connect_kind(config: &AdaptersConfig, name: &str) -> ConnectKind {
    match find(name) {
        Some(platform) => platform.credential.kind(),
        None if config.plugins.iter().any(|p| p.name == name) => ConnectKind::Token,
        None => ConnectKind::None,
    }
}

/// The command that stores a platform's token.
pub fn token_command(adapter: &str) -> String {
    format!("deepwork adapters token {adapter}")
}

/// The account `adapter`'s token is kept under in the keyring, as its config names it;
/// `None` when no such platform is configured.
fn keyring_account(config: &AdaptersConfig, adapter: &str) -> Option<String> {
    match find(adapter) {
        Some(platform) => (platform.configured)(config).map(|c| c.account),
        None => config
            .plugins
            .iter()
            .find(|p| p.name == adapter)
            .map(|p| p.name.clone()),
    }
}

/// One [`ChatAdapter`] per configured platform and plugin; one that cannot be used says
/// why.
pub fn adapters(config: &AdaptersConfig) -> Vec<ChatAdapter> {
    let configured = PLATFORMS
        .iter()
        .any(|platform| (platform.configured)(config).is_some());
    if !configured && config.plugins.is_empty() {
        return Vec::new();
    }
    let secrets = Secrets::open();
    let mut adapters: Vec<ChatAdapter> = PLATFORMS
        .iter()
        .filter(|platform| (platform.configured)(config).is_some())
        .filter_map(|platform| match &secrets {
            Ok(secrets) => (platform.connect)(config, secrets),
            Err(error) => Some(ChatAdapter::unusable(platform.name, error.to_string())),
        })
        .collect();
    for plugin in &config.plugins {
        adapters.push(connect_plugin(plugin, secrets.as_ref().ok()));
    }
    adapters
}

/// A connected platform that plays every role.
fn all_roles<A>(name: &str, adapter: Arc<A>, auto_reply: bool) -> ChatAdapter
where
    A: StatusAdapter + MessageSource + Replier + 'static,
{
    ChatAdapter {
        name: name.into(),
        status: Some(adapter.clone()),
        source: Some(adapter.clone()),
        replier: Some(adapter),
        follow_up: None,
        poster: None,
        work: None,
        auto_reply,
        problem: None,
    }
}

/// A connected source that only reads, and follows up on what it read.
fn read_only<S>(name: &str, source: Arc<S>) -> ChatAdapter
where
    S: MessageSource + FollowUp + 'static,
{
    ChatAdapter {
        name: name.into(),
        status: None,
        source: Some(source.clone()),
        replier: None,
        follow_up: Some(source),
        poster: None,
        work: None,
        auto_reply: false,
        problem: None,
    }
}

/// The credential stored for `account`, or the unusable adapter that says how to store
/// one.
fn token(
    secrets: &Secrets,
    platform: &Platform,
    account: &str,
) -> Result<String, Box<ChatAdapter>> {
    let what = platform.credential.what().unwrap_or("sign-in");
    let fix = match secrets.token(platform.name, account) {
        Ok(Some(token)) => return Ok(token),
        Ok(None) => format!(
            "no {what} for {account} in the keyring; run `{}`",
            token_command(platform.name)
        ),
        Err(error) => error.to_string(),
    };
    Err(Box::new(ChatAdapter::unusable(platform.name, fix)))
}

/// Other apps' desktop notifications, held while focusing, when enabled and there is
/// a session bus to watch (a headless server has none, and nothing to hold).
pub fn desktop_notifications(config: &HoldNotificationsConfig) -> Option<ChatAdapter> {
    let bus = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(address) => address
            .strip_prefix("unix:path=")
            .map(|rest| rest.split(',').next().unwrap_or(rest))
            .is_none_or(|path| std::path::Path::new(path).exists()),
        Err(_) => std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists()),
    };
    if !config.enabled || !bus {
        return None;
    }
    let desktop = Arc::new(DesktopNotifications::new(
        config.clone(),
        DndKind::configured(config.do_not_disturb),
    ));
    Some(ChatAdapter {
        name: DESKTOP.into(),
        status: Some(desktop.clone()),
        source: Some(desktop),
        replier: None,
        follow_up: None,
        poster: None,
        work: None,
        auto_reply: false,
        problem: None,
    })
}

/// A plugin; its token, when one is stored under its name, is handed to it in
/// `DEEPWORK_PLUGIN_TOKEN`. Its roles are what it says in `hello`; every role is wired
/// and a role it lacks answers with an error.
pub fn connect_plugin(config: &PluginConfig, secrets: Option<&Secrets>) -> ChatAdapter {
    let Some((program, args)) = config.command.split_first() else {
        return ChatAdapter::unusable(&config.name, "the plugin has no command".into());
    };
    let mut env = Vec::new();
    if let Some(Ok(Some(token))) = secrets.map(|s| s.token(&config.name, &config.name)) {
        env.push(("DEEPWORK_PLUGIN_TOKEN".to_owned(), token));
    }
    all_roles(
        &config.name,
        Arc::new(PluginAdapter::new(PluginCommand {
            name: config.name.clone(),
            program: program.into(),
            args: args.to_vec(),
            env,
        })),
        config.auto_reply,
    )
}

/// A sign-in waiting for the person: Teams' device code to be entered, or the browser
/// to come back from Slack's consent page.
#[derive(Debug)]
pub enum PendingSignIn {
    /// Teams, by device code.
    Teams(deepwork_adapters::teams::PendingSignIn),
    /// Slack, by OAuth with PKCE.
    Slack(deepwork_adapters::slack::SlackSignIn),
    /// A device code (RFC 8628) that yields an access token: GitHub.
    Device(deepwork_adapters::device_flow::PendingDevice),
    /// Google, by OAuth for installed apps with PKCE.
    Google(deepwork_adapters::gdocs::GoogleSignIn),
}

impl PendingSignIn {
    /// Waits for the person to finish; the token to keep.
    pub async fn finish(self) -> Result<String, AdapterError> {
        match self {
            PendingSignIn::Teams(pending) => pending.finish().await,
            PendingSignIn::Slack(pending) => pending.finish().await,
            PendingSignIn::Device(pending) => pending.finish().await.map(|t| t.access_token),
            PendingSignIn::Google(pending) => pending.finish().await,
        }
    }
}

fn needs(adapter: &str, fix: String) -> AdapterError {
    AdapterError::Unauthorized {
        adapter: adapter.into(),
        fix,
    }
}

fn not_configured(name: &str) -> AdapterError {
    needs(
        name,
        format!(
            "{name} is not configured: add [adapters.{name}] to config.toml (see docs/configuration.md)"
        ),
    )
}

/// Starts signing in to the configured platform `name`: what to show the person (for
/// a page that opens in the browser, `user_code` is empty), and what to wait on.
pub async fn start_sign_in(
    config: &AdaptersConfig,
    name: &str,
) -> Result<(SignInCode, PendingSignIn), AdapterError> {
    match find(name).and_then(|platform| platform.sign_in) {
        Some(sign_in) => sign_in(config).await,
        None => Err(needs(
            name,
            format!(
                "{name} has no sign-in; store its token with `{}`",
                token_command(name)
            ),
        )),
    }
}

/// [`keep_token`] for the config in `config_file`, read afresh (the user may have
/// just added the platform); `twilio` keeps the escalation's credentials. Blocking.
pub fn keep_token_for(
    config_file: &std::path::Path,
    name: &str,
    token: &str,
) -> Result<(), String> {
    if name == crate::escalate::TWILIO {
        return crate::escalate::keep_twilio_credentials(token);
    }
    let config = crate::server::load_config(config_file).map_err(|error| error.to_string())?;
    keep_token(&config.adapters, name, token)
}

/// Keeps `token` in the keyring under the account `name`'s config names. Blocking.
pub fn keep_token(config: &AdaptersConfig, name: &str, token: &str) -> Result<(), String> {
    let account = keyring_account(config, name)
        .ok_or_else(|| format!("{name} is not configured; add it to config.toml first"))?;
    Secrets::open()
        .and_then(|secrets| secrets.set_token(name, &account, token))
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_knows_its_config_table() {
        let mut seen = std::collections::HashSet::new();
        let config = AdaptersConfig::default();
        for platform in PLATFORMS {
            assert!(seen.insert(platform.name), "{} twice", platform.name);
            assert!(
                (platform.configured)(&config).is_none(),
                "{}",
                platform.name
            );
            assert_eq!(
                platform.sign_in.is_some(),
                !matches!(platform.credential, Credential::Token { .. }),
                "{}: a sign-in exactly where the credential offers one",
                platform.name
            );
        }
        assert_eq!(
            names(),
            "matrix, slack, mattermost, teams, xmpp, github, jira, confluence, notion, gdocs"
        );
    }
}

//! Builds the configured chat platforms, with their tokens from the keyring.

use crate::api::SignInCode;
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::AdapterError;
use deepwork_adapters::desktop::{DesktopNotifications, DndKind};
use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_adapters::plugin::{PluginAdapter, PluginCommand};
use deepwork_adapters::slack::{SlackAdapter, SlackSignIn};
use deepwork_adapters::teams::{self, TeamsAdapter, TeamsEndpoints};
use deepwork_adapters::xmpp::XmppAdapter;
use deepwork_core::config::{
    AdaptersConfig, MatrixConfig, MattermostConfig, PluginConfig, SlackConfig, TeamsConfig,
    XmppConfig,
};
use deepwork_core::held_notifications::HoldNotificationsConfig;
use std::sync::Arc;

/// The name of the adapter for other apps' desktop notifications.
pub const DESKTOP: &str = "desktop";

/// The command that stores a platform's token.
pub fn token_command(adapter: &str) -> String {
    format!("deepwork adapters token {adapter}")
}

/// Where Slack's app-level token (for Socket Mode) is kept: beside the user token of
/// the same workspace.
pub fn slack_app_account(workspace: &str) -> String {
    format!("{workspace} (app-level)")
}

/// The account `adapter`'s token is kept under in the keyring, as its config names it;
/// `None` when no such platform is configured.
fn keyring_account(config: &AdaptersConfig, adapter: &str) -> Option<String> {
    match adapter {
        "matrix" => config.matrix.as_ref().map(|m| m.user_id.clone()),
        "slack" => config.slack.as_ref().map(|s| s.workspace.clone()),
        "mattermost" => config.mattermost.as_ref().map(|m| m.server.clone()),
        "teams" => config.teams.as_ref().map(|t| t.account.clone()),
        "xmpp" => config.xmpp.as_ref().map(|x| x.jid.clone()),
        plugin => config
            .plugins
            .iter()
            .find(|p| p.name == plugin)
            .map(|p| p.name.clone()),
    }
}

/// One [`ChatAdapter`] per configured platform; one that cannot be used says why.
pub fn adapters(config: &AdaptersConfig) -> Vec<ChatAdapter> {
    if config.matrix.is_none()
        && config.slack.is_none()
        && config.mattermost.is_none()
        && config.teams.is_none()
        && config.xmpp.is_none()
        && config.plugins.is_empty()
    {
        return Vec::new();
    }
    let secrets = Secrets::open();
    let mut adapters = Vec::new();
    if let Some(matrix) = &config.matrix {
        adapters.push(match &secrets {
            Ok(secrets) => connect_matrix(matrix, secrets),
            Err(error) => ChatAdapter::unusable("matrix", error.to_string()),
        });
    }
    if let Some(slack) = &config.slack {
        adapters.push(match &secrets {
            Ok(secrets) => connect_slack(slack, secrets),
            Err(error) => ChatAdapter::unusable("slack", error.to_string()),
        });
    }
    if let Some(mattermost) = &config.mattermost {
        adapters.push(match &secrets {
            Ok(secrets) => connect_mattermost(mattermost, secrets),
            Err(error) => ChatAdapter::unusable("mattermost", error.to_string()),
        });
    }
    if let Some(teams) = &config.teams {
        adapters.push(match &secrets {
            Ok(secrets) => connect_teams(teams, secrets),
            Err(error) => ChatAdapter::unusable("teams", error.to_string()),
        });
    }
    if let Some(xmpp) = &config.xmpp {
        adapters.push(match &secrets {
            Ok(secrets) => connect_xmpp(xmpp, secrets),
            Err(error) => ChatAdapter::unusable("xmpp", error.to_string()),
        });
    }
    for plugin in &config.plugins {
        adapters.push(connect_plugin(plugin, secrets.as_ref().ok()));
    }
    adapters
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
    let plugin = Arc::new(PluginAdapter::new(PluginCommand {
        name: config.name.clone(),
        program: program.into(),
        args: args.to_vec(),
        env,
    }));
    ChatAdapter {
        name: config.name.clone(),
        status: Some(plugin.clone()),
        source: Some(plugin.clone()),
        replier: Some(plugin),
        auto_reply: config.auto_reply,
        problem: None,
    }
}

/// The token stored for `account`, or the unusable adapter that says how to store one.
fn token(
    secrets: &Secrets,
    adapter: &str,
    account: &str,
    what: &str,
) -> Result<String, ChatAdapter> {
    match secrets.token(adapter, account) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(ChatAdapter::unusable(
            adapter,
            format!(
                "no {what} for {account} in the keyring; run `{}`",
                token_command(adapter)
            ),
        )),
        Err(error) => Err(ChatAdapter::unusable(adapter, error.to_string())),
    }
}

/// The Mattermost account of `config`, with its personal access token from `secrets`.
pub fn connect_mattermost(config: &MattermostConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match token(
        secrets,
        "mattermost",
        &config.server,
        "personal access token",
    ) {
        Ok(token) => token,
        Err(unusable) => return unusable,
    };
    match MattermostAdapter::new(&config.server, token) {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            ChatAdapter {
                name: "mattermost".into(),
                status: Some(adapter.clone()),
                source: Some(adapter.clone()),
                replier: Some(adapter),
                auto_reply: config.auto_reply,
                problem: None,
            }
        }
        Err(error) => ChatAdapter::unusable("mattermost", error.to_string()),
    }
}

/// The Slack workspace of `config`, with its user token from `secrets`.
pub fn connect_slack(config: &SlackConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match token(secrets, "slack", &config.workspace, "user token") {
        Ok(token) => token,
        Err(unusable) => return unusable,
    };
    let app_token = match secrets.token("slack", &slack_app_account(&config.workspace)) {
        Ok(app_token) => app_token,
        Err(error) => return ChatAdapter::unusable("slack", error.to_string()),
    };
    match SlackAdapter::new(&config.api, token) {
        Ok(adapter) => {
            let adapter = Arc::new(match app_token {
                Some(app_token) => adapter.with_app_token(app_token),
                None => adapter,
            });
            ChatAdapter {
                name: "slack".into(),
                status: Some(adapter.clone()),
                source: Some(adapter.clone()),
                replier: Some(adapter),
                auto_reply: config.auto_reply,
                problem: None,
            }
        }
        Err(error) => ChatAdapter::unusable("slack", error.to_string()),
    }
}

/// The Matrix account of `config`, with its token from `secrets`.
pub fn connect_matrix(config: &MatrixConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match token(secrets, "matrix", &config.user_id, "access token") {
        Ok(token) => token,
        Err(unusable) => return unusable,
    };
    match MatrixAdapter::new(&config.homeserver, &config.user_id, token) {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            ChatAdapter {
                name: "matrix".into(),
                status: Some(adapter.clone()),
                source: Some(adapter.clone()),
                replier: Some(adapter),
                auto_reply: config.auto_reply,
                problem: None,
            }
        }
        Err(error) => ChatAdapter::unusable("matrix", error.to_string()),
    }
}

/// A sign-in waiting for the person: Teams' device code to be entered, or the browser
/// to come back from Slack's consent page.
#[derive(Debug)]
pub enum PendingSignIn {
    /// Teams, by device code.
    Teams(teams::PendingSignIn),
    /// Slack, by OAuth with PKCE.
    Slack(SlackSignIn),
}

impl PendingSignIn {
    /// Waits for the person to finish; the token to keep.
    pub async fn finish(self) -> Result<String, AdapterError> {
        match self {
            PendingSignIn::Teams(pending) => pending.finish().await,
            PendingSignIn::Slack(pending) => pending.finish().await,
        }
    }
}

fn needs(adapter: &str, fix: String) -> AdapterError {
    AdapterError::Unauthorized {
        adapter: adapter.into(),
        fix,
    }
}

/// Starts signing in to the configured platform `name`: what to show the person (for
/// Slack, whose page opens in the browser, `user_code` is empty), and what to wait on.
pub async fn start_sign_in(
    config: &AdaptersConfig,
    name: &str,
) -> Result<(SignInCode, PendingSignIn), AdapterError> {
    let not_configured = || {
        needs(
            name,
            format!(
                "{name} is not configured: add [adapters.{name}] to config.toml (see docs/configuration.md)"
            ),
        )
    };
    match name {
        "teams" => {
            let endpoints = teams_endpoints(config.teams.as_ref().ok_or_else(not_configured)?)?;
            let (code, pending) = teams::start_sign_in(&endpoints).await?;
            let code = SignInCode {
                user_code: code.user_code,
                verification_uri: code.verification_uri,
                message: code.message,
            };
            Ok((code, PendingSignIn::Teams(pending)))
        }
        "slack" => {
            let slack = config.slack.as_ref().ok_or_else(not_configured)?;
            let client_id = slack.client_id.as_deref().ok_or_else(|| {
                needs(name, format!("signing in needs the Slack app's client id: add client_id to [adapters.slack] (see docs/configuration.md), or store a token with `{}`", token_command(name)))
            })?;
            let (page, pending) = deepwork_adapters::slack::start_sign_in(
                &slack.api,
                &slack_authorize_page(slack),
                client_id,
            )
            .await?;
            let code = SignInCode {
                user_code: String::new(),
                verification_uri: page,
                message: "Sign in to Slack in the browser.".into(),
            };
            Ok((code, PendingSignIn::Slack(pending)))
        }
        _ => Err(needs(
            name,
            format!(
                "{name} has no sign-in; store its token with `{}`",
                token_command(name)
            ),
        )),
    }
}

/// Keeps `token` in the keyring under the account `name`'s config names. Blocking.
pub fn keep_token(config: &AdaptersConfig, name: &str, token: &str) -> Result<(), String> {
    let account = keyring_account(config, name)
        .ok_or_else(|| format!("{name} is not configured; add it to config.toml first"))?;
    Secrets::open()
        .and_then(|secrets| secrets.set_token(name, &account, token))
        .map_err(|error| error.to_string())
}

/// Slack's consent page for a sign-in: beside the Web API (`…/api/` →
/// `…/oauth/v2/authorize`).
fn slack_authorize_page(config: &SlackConfig) -> String {
    let api = config.api.trim_end_matches('/');
    let base = api.strip_suffix("/api").unwrap_or(api);
    format!("{base}/oauth/v2/authorize")
}

/// Where the Teams account of `config` signs in.
pub fn teams_endpoints(config: &TeamsConfig) -> Result<TeamsEndpoints, AdapterError> {
    TeamsEndpoints::new(
        &config.authority,
        &config.tenant,
        &config.graph,
        &config.client_id,
    )
}

/// The Teams account of `config`, with the refresh token of its sign-in from `secrets`;
/// a refresh token the identity platform replaces is kept there in its stead.
pub fn connect_teams(config: &TeamsConfig, secrets: &Secrets) -> ChatAdapter {
    let refresh_token = match secrets.token("teams", &config.account) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return ChatAdapter::unusable(
                "teams",
                format!(
                    "{} is not signed in; run `deepwork adapters connect teams`",
                    config.account
                ),
            );
        }
        Err(error) => return ChatAdapter::unusable("teams", error.to_string()),
    };
    let (keeper, account) = (secrets.clone(), config.account.clone());
    let keep = Box::new(move |token: &str| {
        let (keeper, account, token) = (keeper.clone(), account.clone(), token.to_owned());
        // The keyring's client runs its own executor, so it gets a thread of its own;
        // waiting for it (milliseconds, about once an hour) means the token is kept
        // before anything can exit, as the old one may stop working.
        let kept = std::thread::spawn(move || keeper.set_token("teams", &account, &token)).join();
        match kept {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not keep the renewed Teams sign-in"),
            Err(_) => tracing::warn!("keeping the renewed Teams sign-in failed"),
        }
    });
    let adapter = teams_endpoints(config)
        .and_then(|endpoints| TeamsAdapter::new(endpoints, refresh_token, keep));
    match adapter {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            ChatAdapter {
                name: "teams".into(),
                status: Some(adapter.clone()),
                source: Some(adapter.clone()),
                replier: Some(adapter),
                auto_reply: config.auto_reply,
                problem: None,
            }
        }
        Err(error) => ChatAdapter::unusable("teams", error.to_string()),
    }
}

/// The XMPP account of `config`, with its password from `secrets`.
pub fn connect_xmpp(config: &XmppConfig, secrets: &Secrets) -> ChatAdapter {
    let password = match token(secrets, "xmpp", &config.jid, "password") {
        Ok(password) => password,
        Err(unusable) => return unusable,
    };
    match XmppAdapter::new(&config.jid, password, config.server.as_deref()) {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            ChatAdapter {
                name: "xmpp".into(),
                status: Some(adapter.clone()),
                source: Some(adapter.clone()),
                replier: Some(adapter),
                auto_reply: config.auto_reply,
                problem: None,
            }
        }
        Err(error) => ChatAdapter::unusable("xmpp", error.to_string()),
    }
}

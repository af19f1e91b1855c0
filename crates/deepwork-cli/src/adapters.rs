//! `deepwork adapters`: list, store a token, test a connection.

use crate::args::AdaptersCommand;
use crate::commands::{Failure, runtime};
use crate::render::safe;
use deepwork_core::config::{
    AdaptersConfig, MatrixConfig, MattermostConfig, PluginConfig, SlackConfig, TeamsConfig,
    XmppConfig,
};
use deepwork_engine::api::AdapterState;
use deepwork_engine::chats::ChatAdapter;
use deepwork_engine::connect;
use deepwork_engine::secrets::Secrets;
use deepwork_engine::server::load_config;
use deepwork_engine::{Client, Paths};
use std::io::BufRead;

/// The built-in adapters, for messages.
const BUILT_IN: &str = "matrix, slack, mattermost, teams, xmpp";

/// A configured account on one platform.
enum Account<'a> {
    Matrix(&'a MatrixConfig),
    Slack(&'a SlackConfig),
    Mattermost(&'a MattermostConfig),
    Teams(&'a TeamsConfig),
    Xmpp(&'a XmppConfig),
    Plugin(&'a PluginConfig),
}

impl Account<'_> {
    fn name(&self) -> &str {
        match self {
            Account::Matrix(_) => "matrix",
            Account::Slack(_) => "slack",
            Account::Mattermost(_) => "mattermost",
            Account::Teams(_) => "teams",
            Account::Xmpp(_) => "xmpp",
            Account::Plugin(plugin) => &plugin.name,
        }
    }

    /// What names the token in the keyring.
    fn account(&self) -> &str {
        match self {
            Account::Matrix(matrix) => &matrix.user_id,
            Account::Slack(slack) => &slack.workspace,
            Account::Mattermost(mattermost) => &mattermost.server,
            Account::Teams(teams) => &teams.account,
            Account::Xmpp(xmpp) => &xmpp.jid,
            Account::Plugin(plugin) => &plugin.name,
        }
    }

    fn describe(&self) -> String {
        match self {
            Account::Matrix(matrix) => format!(
                "{} on {} · auto-reply {}",
                safe(&matrix.user_id),
                safe(&matrix.homeserver),
                if matrix.auto_reply { "on" } else { "off" }
            ),
            Account::Slack(slack) => {
                format!(
                    "{} · auto-reply {}",
                    safe(&slack.workspace),
                    if slack.auto_reply { "on" } else { "off" }
                )
            }
            Account::Mattermost(mattermost) => format!(
                "{} · auto-reply {}",
                safe(&mattermost.server),
                if mattermost.auto_reply { "on" } else { "off" }
            ),
            Account::Teams(teams) => format!(
                "{} · auto-reply {}",
                safe(&teams.account),
                if teams.auto_reply { "on" } else { "off" }
            ),
            Account::Xmpp(xmpp) => format!(
                "{} · auto-reply {}",
                safe(&xmpp.jid),
                if xmpp.auto_reply { "on" } else { "off" }
            ),
            Account::Plugin(plugin) => format!(
                "plugin {} · auto-reply {}",
                safe(&plugin.command.join(" ")),
                if plugin.auto_reply { "on" } else { "off" }
            ),
        }
    }

    fn connect(&self, secrets: &Secrets) -> ChatAdapter {
        match self {
            Account::Matrix(matrix) => connect::connect_matrix(matrix, secrets),
            Account::Slack(slack) => connect::connect_slack(slack, secrets),
            Account::Mattermost(mattermost) => connect::connect_mattermost(mattermost, secrets),
            Account::Teams(teams) => connect::connect_teams(teams, secrets),
            Account::Xmpp(xmpp) => connect::connect_xmpp(xmpp, secrets),
            Account::Plugin(plugin) => connect::connect_plugin(plugin, Some(secrets)),
        }
    }
}

fn accounts(config: &AdaptersConfig) -> Vec<Account<'_>> {
    let mut accounts = Vec::new();
    if let Some(matrix) = &config.matrix {
        accounts.push(Account::Matrix(matrix));
    }
    if let Some(slack) = &config.slack {
        accounts.push(Account::Slack(slack));
    }
    if let Some(mattermost) = &config.mattermost {
        accounts.push(Account::Mattermost(mattermost));
    }
    if let Some(teams) = &config.teams {
        accounts.push(Account::Teams(teams));
    }
    if let Some(xmpp) = &config.xmpp {
        accounts.push(Account::Xmpp(xmpp));
    }
    accounts.extend(config.plugins.iter().map(Account::Plugin));
    accounts
}

pub fn run(paths: &Paths, command: AdaptersCommand) -> Result<(), Failure> {
    let config = load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let accounts = accounts(&config.adapters);
    match command {
        AdaptersCommand::List => list(paths, &accounts),
        AdaptersCommand::Token { name, app_level } => {
            store_token(find(paths, &name, &accounts)?, app_level)?;
            reconnect(paths)
        }
        AdaptersCommand::Connect { name } => {
            sign_in(paths, find(paths, &name, &accounts)?)?;
            reconnect(paths)
        }
        AdaptersCommand::Test { name } => test(find(paths, &name, &accounts)?),
    }
}

fn find<'a, 'c>(
    paths: &Paths,
    name: &str,
    accounts: &'a [Account<'c>],
) -> Result<&'a Account<'c>, Failure> {
    if let Some(account) = accounts.iter().find(|a| a.name() == name) {
        return Ok(account);
    }
    if BUILT_IN.split(", ").any(|known| known == name) {
        return Err(Failure::Usage(format!(
            "{name} is not configured: add [adapters.{name}] to {} (see docs/configuration.md)",
            paths.config.display()
        )));
    }
    Err(Failure::Usage(format!(
        "unknown adapter {:?}; the built-in adapters are: {BUILT_IN}",
        safe(name)
    )))
}

fn secrets() -> Result<Secrets, Failure> {
    Secrets::open().map_err(|e| Failure::Runtime(e.to_string()))
}

fn list(paths: &Paths, accounts: &[Account<'_>]) -> Result<(), Failure> {
    if accounts.is_empty() {
        println!("No chat platforms configured. See docs/configuration.md, [adapters.*].");
        return Ok(());
    }
    let secrets = Secrets::open();
    let live = runtime()?.block_on(async {
        let mut client = Client::connect(&paths.socket).await.ok()?;
        client.status().await.ok()
    });
    for account in accounts {
        let token = match &secrets {
            Err(error) => error.to_string(),
            Ok(secrets) => match secrets.token(account.name(), account.account()) {
                Ok(Some(_)) => match account {
                    Account::Slack(slack) => {
                        let app =
                            secrets.token("slack", &connect::slack_app_account(&slack.workspace));
                        if matches!(app, Ok(Some(_))) {
                            "token in keyring · messages over Socket Mode".to_owned()
                        } else {
                            "token in keyring · messages polled (no app-level token)".to_owned()
                        }
                    }
                    _ => "token in keyring".to_owned(),
                },
                Ok(None) => format!(
                    "no token (run `{}`)",
                    connect::token_command(account.name())
                ),
                Err(error) => error.to_string(),
            },
        };
        let health = live
            .as_ref()
            .and_then(|s| s.adapters.iter().find(|a| a.name == account.name()));
        let state = match health.map(|h| &h.state) {
            None => "engine not running or not connected yet".to_owned(),
            Some(AdapterState::Ok) => "ok".to_owned(),
            Some(AdapterState::Retrying { error }) => format!("retrying ({})", safe(error)),
            Some(AdapterState::NeedsAttention { fix }) => format!("needs attention: {}", safe(fix)),
        };
        println!(
            "{:<7} {} · {token} · {state}",
            account.name(),
            account.describe()
        );
    }
    Ok(())
}

fn store_token(account: &Account<'_>, app_level: bool) -> Result<(), Failure> {
    let key = match (account, app_level) {
        (_, false) => account.account().to_owned(),
        (Account::Slack(slack), true) => connect::slack_app_account(&slack.workspace),
        (_, true) => {
            return Err(Failure::Usage(
                "--app-level is for Slack's Socket Mode token only".into(),
            ));
        }
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!(
            "Paste the {} token for {key} and press Enter:",
            account.name()
        );
    }
    let mut token = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut token)
        .map_err(|e| Failure::Runtime(format!("cannot read the token: {e}")))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::Usage("no token given on standard input".into()));
    }
    secrets()?
        .set_token(account.name(), &key, token)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    println!(
        "Stored the {} token for {key} in the keyring.",
        account.name()
    );
    Ok(())
}

/// Has a running engine reconnect its platforms, so a new token is used at once.
fn reconnect(paths: &Paths) -> Result<(), Failure> {
    let reloaded = runtime()?.block_on(async {
        let mut client = Client::connect(&paths.socket).await.ok()?;
        Some(client.reload_adapters().await)
    });
    match reloaded {
        None => println!("The engine is not running; it connects when it starts."),
        Some(Ok(_)) => {
            println!("The running engine is reconnecting; `deepwork status` shows how it went.")
        }
        Some(Err(error)) => {
            return Err(Failure::Runtime(format!(
                "the engine could not reconnect: {error}"
            )));
        }
    }
    Ok(())
}

/// The sign-in flow of a platform that has one (Teams' device code, Slack's consent
/// page in the browser); the others take a pasted token.
fn sign_in(paths: &Paths, account: &Account<'_>) -> Result<(), Failure> {
    let config = load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let name = account.name();
    let token = runtime()?
        .block_on(async {
            let (code, pending) = connect::start_sign_in(&config.adapters, name).await?;
            println!("{}", safe(&code.message));
            if code.user_code.is_empty() {
                println!("If it does not open, open:\n{}", code.verification_uri);
                let _ = std::process::Command::new("xdg-open")
                    .arg(&code.verification_uri)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
            println!("Waiting for the sign-in to finish…");
            pending.finish().await
        })
        .map_err(adapter_failure)?;
    connect::keep_token(&config.adapters, name, &token).map_err(Failure::Runtime)?;
    let platform = match name {
        "teams" => "Teams",
        "slack" => "Slack",
        other => other,
    };
    println!(
        "Signed in to {platform} as {}; the sign-in is kept in the keyring.",
        safe(account.account())
    );
    Ok(())
}

/// A platform's answer as the CLI's failure: one retrying may fix, or one the user must.
fn adapter_failure(error: deepwork_adapters::AdapterError) -> Failure {
    if error.is_transient() {
        Failure::Runtime(error.to_string())
    } else {
        Failure::Usage(error.to_string())
    }
}

fn test(account: &Account<'_>) -> Result<(), Failure> {
    let adapter = account.connect(&secrets()?);
    if let Some(fix) = adapter.problem {
        return Err(Failure::Usage(format!("{}: {fix}", account.name())));
    }
    let Some(status) = adapter.status else {
        return Err(Failure::Runtime(format!(
            "{}: cannot check the status",
            account.name()
        )));
    };
    let snapshot = runtime()?
        .block_on(status.snapshot())
        .map_err(adapter_failure)?;
    println!(
        "{}: connected as {}; status now {}",
        account.name(),
        account.account(),
        safe(&snapshot.data.to_string())
    );
    Ok(())
}

//! `deepwork adapters`: list, store a token, test a connection.

use crate::args::AdaptersCommand;
use crate::commands::{Failure, runtime};
use crate::render::safe;
use deepwork_core::config::{AdaptersConfig, PluginConfig};
use deepwork_engine::api::AdapterState;
use deepwork_engine::chats::ChatAdapter;
use deepwork_engine::escalate;
use deepwork_engine::platforms::{self, Configured, PLATFORMS, Platform, Roles};
use deepwork_engine::secrets::Secrets;
use deepwork_engine::server::load_config;
use deepwork_engine::{Client, Paths};
use std::io::BufRead;

/// A configured account: a built-in platform's, or a plugin's.
struct Account<'a> {
    name: &'a str,
    kind: Kind<'a>,
    configured: Configured,
}

enum Kind<'a> {
    BuiltIn(&'static Platform),
    Plugin(&'a PluginConfig),
}

impl Account<'_> {
    fn describe(&self) -> String {
        let auto_reply = if self.configured.auto_reply {
            "on"
        } else {
            "off"
        };
        let roles = match &self.kind {
            Kind::BuiltIn(platform) => {
                let Roles {
                    status,
                    messages,
                    replies,
                } = platform.roles;
                [
                    (status, "status"),
                    (messages, "messages"),
                    (replies, "replies"),
                ]
                .into_iter()
                .filter_map(|(has, role)| has.then_some(role))
                .collect::<Vec<_>>()
                .join(", ")
            }
            Kind::Plugin(_) => "roles from the plugin".to_owned(),
        };
        let what = match &self.kind {
            Kind::BuiltIn(_) if self.configured.detail.is_empty() => safe(&self.configured.account),
            Kind::BuiltIn(_) => format!(
                "{} {}",
                safe(&self.configured.account),
                safe(&self.configured.detail)
            ),
            Kind::Plugin(plugin) => format!("plugin {}", safe(&plugin.command.join(" "))),
        };
        let reads_only = matches!(&self.kind, Kind::BuiltIn(platform) if !platform.roles.replies);
        if reads_only {
            format!("{what} · {roles}")
        } else {
            format!("{what} · {roles} · auto-reply {auto_reply}")
        }
    }

    fn connect(&self, config: &AdaptersConfig, secrets: &Secrets) -> ChatAdapter {
        match &self.kind {
            Kind::BuiltIn(platform) => (platform.connect)(config, secrets).unwrap_or_else(|| {
                ChatAdapter::unusable(self.name, format!("{} is not configured", self.name))
            }),
            Kind::Plugin(plugin) => platforms::connect_plugin(plugin, Some(secrets)),
        }
    }
}

fn accounts(config: &AdaptersConfig) -> Vec<Account<'_>> {
    let built_in = PLATFORMS.iter().filter_map(|platform| {
        (platform.configured)(config).map(|configured| Account {
            name: platform.name,
            kind: Kind::BuiltIn(platform),
            configured,
        })
    });
    let plugins = config.plugins.iter().map(|plugin| Account {
        name: &plugin.name,
        kind: Kind::Plugin(plugin),
        configured: Configured {
            account: plugin.name.clone(),
            detail: String::new(),
            auto_reply: plugin.auto_reply,
        },
    });
    built_in.chain(plugins).collect()
}

pub fn run(paths: &Paths, command: AdaptersCommand) -> Result<(), Failure> {
    let config = load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let accounts = accounts(&config.adapters);
    match command {
        AdaptersCommand::List => list(paths, &accounts),
        AdaptersCommand::Token { name, .. } if name == escalate::TWILIO => {
            store_twilio()?;
            reconnect(paths)
        }
        AdaptersCommand::Token { name, app_level } => {
            store_token(find(paths, &name, &accounts)?, app_level)?;
            reconnect(paths)
        }
        AdaptersCommand::Connect { name } => {
            sign_in(paths, find(paths, &name, &accounts)?)?;
            reconnect(paths)
        }
        AdaptersCommand::Test { name } => test(&config.adapters, find(paths, &name, &accounts)?),
    }
}

fn find<'a, 'c>(
    paths: &Paths,
    name: &str,
    accounts: &'a [Account<'c>],
) -> Result<&'a Account<'c>, Failure> {
    if let Some(account) = accounts.iter().find(|a| a.name == name) {
        return Ok(account);
    }
    if platforms::find(name).is_some() {
        return Err(Failure::Usage(format!(
            "{name} is not configured: add [adapters.{name}] to {} (see docs/configuration.md)",
            paths.config.display()
        )));
    }
    Err(Failure::Usage(format!(
        "unknown adapter {:?}; the built-in adapters are: {}",
        safe(name),
        platforms::names()
    )))
}

pub(crate) fn secrets() -> Result<Secrets, Failure> {
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
            Ok(secrets) => match secrets.token(account.name, &account.configured.account) {
                Ok(Some(_)) => match second_token(account) {
                    Some(second) => {
                        let kept = secrets
                            .token(account.name, &(second.account)(&account.configured.account));
                        if matches!(kept, Ok(Some(_))) {
                            format!("token in keyring · {}", second.with)
                        } else {
                            format!("token in keyring · {}", second.without)
                        }
                    }
                    None => "token in keyring".to_owned(),
                },
                Ok(None) => format!(
                    "no token (run `{}`)",
                    platforms::token_command(account.name)
                ),
                Err(error) => error.to_string(),
            },
        };
        let health = live
            .as_ref()
            .and_then(|s| s.adapters.iter().find(|a| a.name == account.name));
        let state = match health.map(|h| &h.state) {
            None => "engine not running or not connected yet".to_owned(),
            Some(AdapterState::Ok) => "ok".to_owned(),
            Some(AdapterState::Retrying { error }) => format!("retrying ({})", safe(error)),
            Some(AdapterState::NeedsAttention { fix }) => format!("needs attention: {}", safe(fix)),
        };
        println!(
            "{:<7} {} · {token} · {state}",
            account.name,
            account.describe()
        );
    }
    Ok(())
}

/// The platform's second token, where it has one.
fn second_token(account: &Account<'_>) -> Option<platforms::SecondToken> {
    match account.kind {
        Kind::BuiltIn(platform) => platform.credential.second(),
        Kind::Plugin(_) => None,
    }
}

/// Keeps the Twilio credentials that escalation texts and calls with.
/// One line of standard input, asking for it with `prompt` at a terminal; `what` names
/// it in the error.
pub(crate) fn read_secret(prompt: &str, what: &str) -> Result<String, Failure> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("{prompt}");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Runtime(format!("cannot read the {what}: {e}")))?;
    Ok(line)
}

fn store_twilio() -> Result<(), Failure> {
    let text = read_secret(
        "Paste the Twilio credentials as ACCOUNT_SID:AUTH_TOKEN (or ACCOUNT_SID:API_KEY_SID:API_KEY_SECRET) and press Enter:",
        "credentials",
    )?;
    escalate::keep_twilio_credentials(&text).map_err(Failure::Usage)?;
    println!(
        "Stored the Twilio credentials in the keyring; `deepwork escalation test` sends a test SMS."
    );
    Ok(())
}

fn store_token(account: &Account<'_>, app_level: bool) -> Result<(), Failure> {
    let key = match (second_token(account), app_level) {
        (_, false) => account.configured.account.clone(),
        (Some(second), true) => (second.account)(&account.configured.account),
        (None, true) => {
            return Err(Failure::Usage(format!(
                "--app-level is for a second token, and {} has none",
                account.name
            )));
        }
    };
    let what = match (&account.kind, second_token(account), app_level) {
        (_, Some(second), true) => second.what,
        (Kind::BuiltIn(platform), _, _) => platform.credential.what().unwrap_or("token"),
        (Kind::Plugin(_), _, _) => "token",
    };
    let token = read_secret(
        &format!(
            "Paste the {} {what} for {key} and press Enter:",
            account.name
        ),
        "token",
    )?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::Usage("no token given on standard input".into()));
    }
    secrets()?
        .set_token(account.name, &key, token)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    println!(
        "Stored the {} token for {key} in the keyring.",
        account.name
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
    let name = account.name;
    let token = runtime()?
        .block_on(async {
            let (code, pending) = platforms::start_sign_in(&config.adapters, name).await?;
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
    platforms::keep_token(&config.adapters, name, &token).map_err(Failure::Runtime)?;
    let platform = match account.kind {
        Kind::BuiltIn(platform) => platform.title,
        Kind::Plugin(_) => name,
    };
    println!(
        "Signed in to {platform} as {}; the sign-in is kept in the keyring.",
        safe(&account.configured.account)
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

fn test(config: &AdaptersConfig, account: &Account<'_>) -> Result<(), Failure> {
    let adapter = account.connect(config, &secrets()?);
    if let Some(fix) = adapter.problem {
        return Err(Failure::Usage(format!("{}: {fix}", account.name)));
    }
    let Some(status) = adapter.status else {
        // A source that only reads: its first read checks the token and asks nothing old.
        let Some(source) = adapter.source else {
            return Err(Failure::Runtime(format!(
                "{}: cannot check the status",
                account.name
            )));
        };
        runtime()?
            .block_on(source.fetch(None, std::time::Duration::ZERO))
            .map_err(adapter_failure)?;
        println!(
            "{}: connected as {}; reads what is new while you focus",
            account.name,
            safe(&account.configured.account)
        );
        return Ok(());
    };
    let snapshot = runtime()?
        .block_on(status.snapshot())
        .map_err(adapter_failure)?;
    println!(
        "{}: connected as {}; status now {}",
        account.name,
        safe(&account.configured.account),
        safe(&snapshot.data.to_string())
    );
    Ok(())
}

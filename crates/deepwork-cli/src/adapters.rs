//! `deepwork adapters`: list, store a token, test a connection.

use crate::args::AdaptersCommand;
use crate::commands::{Failure, runtime};
use crate::render::safe;
use deepwork_core::config::MatrixConfig;
use deepwork_engine::api::AdapterState;
use deepwork_engine::connect;
use deepwork_engine::secrets::Secrets;
use deepwork_engine::server::load_config;
use deepwork_engine::{Client, Paths};
use std::io::BufRead;

pub fn run(paths: &Paths, command: AdaptersCommand) -> Result<(), Failure> {
    let config = load_config(&paths.config).map_err(|e| Failure::Usage(e.to_string()))?;
    let matrix = config.adapters.matrix;
    match command {
        AdaptersCommand::List => list(paths, matrix.as_ref()),
        AdaptersCommand::Token { name } => store_token(paths, &name, matrix.as_ref()),
        AdaptersCommand::Test { name } => test(paths, &name, matrix.as_ref()),
    }
}

fn configured<'a>(
    paths: &Paths,
    name: &str,
    matrix: Option<&'a MatrixConfig>,
) -> Result<&'a MatrixConfig, Failure> {
    match (name, matrix) {
        ("matrix", Some(matrix)) => Ok(matrix),
        ("matrix", None) => Err(Failure::Usage(format!(
            "matrix is not configured: add [adapters.matrix] with homeserver and user_id to {}",
            paths.config.display()
        ))),
        (other, _) => Err(Failure::Usage(format!(
            "unknown adapter {:?}; the built-in adapters are: matrix",
            safe(other)
        ))),
    }
}

fn secrets() -> Result<Secrets, Failure> {
    Secrets::open().map_err(|e| Failure::Runtime(e.to_string()))
}

fn list(paths: &Paths, matrix: Option<&MatrixConfig>) -> Result<(), Failure> {
    let Some(matrix) = matrix else {
        println!("No chat platforms configured. See docs/configuration.md, [adapters.matrix].");
        return Ok(());
    };
    let token = match Secrets::open().and_then(|s| s.token("matrix", &matrix.user_id)) {
        Ok(Some(_)) => "token in keyring".to_owned(),
        Ok(None) => format!("no token (run `{}`)", connect::token_command("matrix")),
        Err(error) => error.to_string(),
    };
    let live = runtime()?.block_on(async {
        let mut client = Client::connect(&paths.socket).await.ok()?;
        client.status().await.ok()
    });
    let state = match live.and_then(|s| s.adapters.into_iter().find(|a| a.name == "matrix")) {
        None => "engine not running or not connected yet".to_owned(),
        Some(health) => match health.state {
            AdapterState::Ok => "ok".to_owned(),
            AdapterState::Retrying { error } => format!("retrying ({})", safe(&error)),
            AdapterState::NeedsAttention { fix } => format!("needs attention: {}", safe(&fix)),
        },
    };
    let replies = if matrix.auto_reply {
        "auto-reply on"
    } else {
        "auto-reply off"
    };
    println!(
        "matrix  {} on {} · {token} · {replies} · {state}",
        safe(&matrix.user_id),
        safe(&matrix.homeserver)
    );
    Ok(())
}

fn store_token(paths: &Paths, name: &str, matrix: Option<&MatrixConfig>) -> Result<(), Failure> {
    let matrix = configured(paths, name, matrix)?;
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!(
            "Paste the access token for {} and press Enter:",
            matrix.user_id
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
        .set_token("matrix", &matrix.user_id, token)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    println!(
        "Stored the access token for {} in the keyring. Restart the engine to connect.",
        matrix.user_id
    );
    Ok(())
}

fn test(paths: &Paths, name: &str, matrix: Option<&MatrixConfig>) -> Result<(), Failure> {
    let matrix = configured(paths, name, matrix)?;
    let adapter = connect::connect_matrix(matrix, &secrets()?);
    if let Some(fix) = adapter.problem {
        return Err(Failure::Usage(format!("matrix: {fix}")));
    }
    let Some(status) = adapter.status else {
        return Err(Failure::Runtime("matrix: no status role".into()));
    };
    let snapshot = runtime()?.block_on(status.snapshot()).map_err(|e| {
        if e.is_transient() {
            Failure::Runtime(e.to_string())
        } else {
            Failure::Usage(e.to_string())
        }
    })?;
    println!(
        "matrix: connected as {}; status now {}",
        matrix.user_id,
        safe(&snapshot.data.to_string())
    );
    Ok(())
}

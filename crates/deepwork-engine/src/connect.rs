//! Builds the configured chat platforms, with their tokens from the keyring.

use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_core::config::{AdaptersConfig, MatrixConfig};
use std::sync::Arc;

/// The command that stores a platform's token.
pub fn token_command(adapter: &str) -> String {
    format!("deepwork adapters token {adapter}")
}

/// One [`ChatAdapter`] per configured platform; one that cannot be used says why.
pub fn adapters(config: &AdaptersConfig) -> Vec<ChatAdapter> {
    let Some(matrix) = &config.matrix else {
        return Vec::new();
    };
    let secrets = Secrets::open();
    vec![match secrets {
        Ok(secrets) => connect_matrix(matrix, &secrets),
        Err(error) => ChatAdapter::unusable("matrix", error.to_string()),
    }]
}

/// The Matrix account of `config`, with its token from `secrets`.
pub fn connect_matrix(config: &MatrixConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match secrets.token("matrix", &config.user_id) {
        Ok(Some(token)) => token,
        Ok(None) => {
            let fix = format!(
                "no access token for {} in the keyring; run `{}`",
                config.user_id,
                token_command("matrix")
            );
            return ChatAdapter::unusable("matrix", fix);
        }
        Err(error) => return ChatAdapter::unusable("matrix", error.to_string()),
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

//! Builds the configured chat platforms, with their tokens from the keyring.

use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_adapters::slack::SlackAdapter;
use deepwork_core::config::{AdaptersConfig, MatrixConfig, MattermostConfig, SlackConfig};
use std::sync::Arc;

/// The command that stores a platform's token.
pub fn token_command(adapter: &str) -> String {
    format!("deepwork adapters token {adapter}")
}

/// One [`ChatAdapter`] per configured platform; one that cannot be used says why.
pub fn adapters(config: &AdaptersConfig) -> Vec<ChatAdapter> {
    if config.matrix.is_none() && config.slack.is_none() && config.mattermost.is_none() {
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
    adapters
}

/// The Mattermost account of `config`, with its personal access token from `secrets`.
/// Status only: Mattermost messages are not read yet.
pub fn connect_mattermost(config: &MattermostConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match secrets.token("mattermost", &config.server) {
        Ok(Some(token)) => token,
        Ok(None) => {
            let fix = format!(
                "no personal access token for {} in the keyring; run `{}`",
                config.server,
                token_command("mattermost")
            );
            return ChatAdapter::unusable("mattermost", fix);
        }
        Err(error) => return ChatAdapter::unusable("mattermost", error.to_string()),
    };
    match MattermostAdapter::new(&config.server, token) {
        Ok(adapter) => ChatAdapter {
            name: "mattermost".into(),
            status: Some(Arc::new(adapter)),
            source: None,
            replier: None,
            auto_reply: false,
            problem: None,
        },
        Err(error) => ChatAdapter::unusable("mattermost", error.to_string()),
    }
}

/// The Slack workspace of `config`, with its user token from `secrets`. Status only:
/// Slack messages are not read yet.
pub fn connect_slack(config: &SlackConfig, secrets: &Secrets) -> ChatAdapter {
    let token = match secrets.token("slack", &config.workspace) {
        Ok(Some(token)) => token,
        Ok(None) => {
            let fix = format!(
                "no user token for {} in the keyring; run `{}`",
                config.workspace,
                token_command("slack")
            );
            return ChatAdapter::unusable("slack", fix);
        }
        Err(error) => return ChatAdapter::unusable("slack", error.to_string()),
    };
    match SlackAdapter::new(&config.api, token) {
        Ok(adapter) => ChatAdapter {
            name: "slack".into(),
            status: Some(Arc::new(adapter)),
            source: None,
            replier: None,
            auto_reply: false,
            problem: None,
        },
        Err(error) => ChatAdapter::unusable("slack", error.to_string()),
    }
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

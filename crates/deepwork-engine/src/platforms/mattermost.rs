//! Mattermost: a personal access token, kept under the server's address.

use super::{Configured, Credential, Platform, Roles, all_roles, token};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::mattermost::MattermostAdapter;
use deepwork_core::config::AdaptersConfig;
use std::sync::Arc;

/// Mattermost's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "mattermost",
    title: "Mattermost",
    credential: Credential::Token {
        what: "personal access token",
    },
    roles: Roles::ALL,
    configured,
    connect,
    sign_in: None,
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.mattermost.as_ref().map(|mattermost| Configured {
        account: mattermost.server.clone(),
        detail: String::new(),
        auto_reply: mattermost.auto_reply,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let mattermost = config.mattermost.as_ref()?;
    let token = match token(secrets, &PLATFORM, &mattermost.server) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    Some(match MattermostAdapter::new(&mattermost.server, token) {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            all_roles(PLATFORM.name, adapter.clone(), mattermost.auto_reply)
                .with_follow_up(adapter.clone())
                .with_poster(adapter)
        }
        Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
    })
}

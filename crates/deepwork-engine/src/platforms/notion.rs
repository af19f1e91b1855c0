//! Notion: an internal integration's secret, kept under the workspace's name. Read-only.

use super::{Configured, Credential, Platform, Roles, read_only, token};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::notion::NotionSource;
use deepwork_core::config::AdaptersConfig;
use std::sync::Arc;

/// Notion's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "notion",
    title: "Notion",
    credential: Credential::Token {
        what: "internal integration secret (notion.so/my-integrations)",
    },
    roles: Roles::READ_ONLY,
    configured,
    connect,
    sign_in: None,
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.notion.as_ref().map(|notion| Configured {
        account: notion.workspace.clone(),
        detail: if notion.pages.is_empty() {
            "recently edited shared pages".into()
        } else {
            format!("{} pages", notion.pages.len())
        },
        auto_reply: false,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let notion = config.notion.as_ref()?;
    let token = match token(secrets, &PLATFORM, &notion.workspace) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    Some(
        match NotionSource::new(&notion.api, token, notion.user_id.clone(), &notion.pages) {
            Ok(source) => read_only(
                PLATFORM.name,
                Arc::new(match notion.poll {
                    Some(poll) => source.every(poll.0.unsigned_abs()),
                    None => source,
                }),
            ),
            Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
        },
    )
}

//! Matrix: an access token, kept under the user id.

use super::{Configured, Credential, Platform, Roles, all_roles, token};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::matrix::MatrixAdapter;
use deepwork_core::config::AdaptersConfig;
use std::sync::Arc;

/// Matrix's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "matrix",
    title: "Matrix",
    credential: Credential::Token {
        what: "access token",
    },
    roles: Roles::ALL,
    configured,
    connect,
    sign_in: None,
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.matrix.as_ref().map(|matrix| Configured {
        account: matrix.user_id.clone(),
        detail: format!("on {}", matrix.homeserver),
        auto_reply: matrix.auto_reply,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let matrix = config.matrix.as_ref()?;
    let token = match token(secrets, &PLATFORM, &matrix.user_id) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    Some(
        match MatrixAdapter::new(&matrix.homeserver, &matrix.user_id, token) {
            Ok(adapter) => {
                let adapter = Arc::new(adapter);
                all_roles(PLATFORM.name, adapter.clone(), matrix.auto_reply)
                    .with_follow_up(adapter.clone())
                    .with_poster(adapter)
            }
            Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
        },
    )
}

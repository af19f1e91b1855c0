//! GitHub: a classic personal access token, or one from the device flow when the config
//! names an OAuth app, kept under the user's login. Read-only: notifications.

use super::{
    Configured, Credential, PendingSignIn, Platform, Roles, SignInStart, needs, not_configured,
    read_only, token, token_command,
};
use crate::api::SignInCode;
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::github::GitHubSource;
use deepwork_core::config::AdaptersConfig;
use futures_util::FutureExt;
use std::sync::Arc;

/// GitHub's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "github",
    title: "GitHub",
    credential: Credential::TokenOrSignIn {
        what: "personal access token (classic, scopes notifications and repo)",
        second: None,
    },
    roles: Roles::READ_ONLY,
    configured,
    connect,
    sign_in: Some(start_sign_in),
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.github.as_ref().map(|github| Configured {
        account: github.user.clone(),
        detail: format!("on {}", github.api),
        auto_reply: false,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let github = config.github.as_ref()?;
    let token = match token(secrets, &PLATFORM, &github.user) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    Some(match GitHubSource::new(&github.api, token) {
        Ok(source) => {
            let source = Arc::new(source);
            read_only(PLATFORM.name, source.clone()).with_work(source)
        }
        Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
    })
}

fn start_sign_in(config: &AdaptersConfig) -> SignInStart<'_> {
    async move {
        let github = config
            .github
            .as_ref()
            .ok_or_else(|| not_configured(PLATFORM.name))?;
        let client_id = github.client_id.as_deref().ok_or_else(|| {
            needs(
                PLATFORM.name,
                format!(
                    "signing in needs an OAuth app with the device flow: add its client_id to [adapters.github] (see docs/configuration.md), or store a token with `{}`",
                    token_command(PLATFORM.name)
                ),
            )
        })?;
        let (code, pending) =
            deepwork_adapters::github::start_sign_in(&github.api, client_id).await?;
        let shown = SignInCode {
            message: format!(
                "Open {} and enter the code {} to let Deepwork read your GitHub notifications.",
                code.verification_uri, code.user_code
            ),
            user_code: code.user_code,
            verification_uri: code.verification_uri,
        };
        Ok((shown, PendingSignIn::Device(pending)))
    }
    .boxed()
}

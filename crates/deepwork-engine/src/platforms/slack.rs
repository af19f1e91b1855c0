//! Slack: a user token kept under the workspace (pasted, or from a sign-in in the
//! browser when the config names the Slack app), and optionally an app-level token
//! for Socket Mode, kept beside it.

use super::{
    Configured, Credential, PendingSignIn, Platform, Roles, SecondToken, SignInStart, all_roles,
    needs, not_configured, token, token_command,
};
use crate::api::SignInCode;
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::slack::SlackAdapter;
use deepwork_core::config::{AdaptersConfig, SlackConfig};
use futures_util::FutureExt;
use std::sync::Arc;

/// Slack's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "slack",
    title: "Slack",
    credential: Credential::TokenOrSignIn {
        what: "user token",
        second: Some(SecondToken {
            what: "app-level token",
            account: app_account,
            with: "messages over Socket Mode",
            without: "messages polled (no app-level token)",
        }),
    },
    roles: Roles::ALL,
    configured,
    connect,
    sign_in: Some(start_sign_in),
};

/// Where Slack's app-level token (for Socket Mode) is kept: beside the user token of
/// the same workspace.
pub fn app_account(workspace: &str) -> String {
    format!("{workspace} (app-level)")
}

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.slack.as_ref().map(|slack| Configured {
        account: slack.workspace.clone(),
        detail: String::new(),
        auto_reply: slack.auto_reply,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let slack = config.slack.as_ref()?;
    let token = match token(secrets, &PLATFORM, &slack.workspace) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    let app_token = match secrets.token(PLATFORM.name, &app_account(&slack.workspace)) {
        Ok(app_token) => app_token,
        Err(error) => return Some(ChatAdapter::unusable(PLATFORM.name, error.to_string())),
    };
    Some(match SlackAdapter::new(&slack.api, token) {
        Ok(adapter) => {
            let adapter = Arc::new(match app_token {
                Some(app_token) => adapter.with_app_token(app_token),
                None => adapter,
            });
            all_roles(PLATFORM.name, adapter.clone(), slack.auto_reply)
                .with_follow_up(adapter.clone())
                .with_poster(adapter)
        }
        Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
    })
}

fn start_sign_in(config: &AdaptersConfig) -> SignInStart<'_> {
    async move {
        let slack = config.slack.as_ref().ok_or_else(|| not_configured(PLATFORM.name))?;
        let client_id = slack.client_id.as_deref().ok_or_else(|| {
            needs(
                PLATFORM.name,
                format!(
                    "signing in needs the Slack app's client id: add client_id to [adapters.slack] (see docs/configuration.md), or store a token with `{}`",
                    token_command(PLATFORM.name)
                ),
            )
        })?;
        let (page, pending) = deepwork_adapters::slack::start_sign_in(
            &slack.api,
            &authorize_page(slack),
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
    .boxed()
}

/// Slack's consent page for a sign-in: beside the Web API (`…/api/` →
/// `…/oauth/v2/authorize`).
fn authorize_page(config: &SlackConfig) -> String {
    let api = config.api.trim_end_matches('/');
    let base = api.strip_suffix("/api").unwrap_or(api);
    format!("{base}/oauth/v2/authorize")
}

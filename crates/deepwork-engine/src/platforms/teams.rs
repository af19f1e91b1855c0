//! Microsoft Teams: a sign-in by device code; its refresh token is kept under the
//! account, and replaced there when the identity platform renews it.

use super::{
    Configured, Credential, PendingSignIn, Platform, Roles, SignInStart, all_roles, not_configured,
};
use crate::api::SignInCode;
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::AdapterError;
use deepwork_adapters::teams::{self, TeamsAdapter, TeamsEndpoints};
use deepwork_core::config::{AdaptersConfig, TeamsConfig};
use futures_util::FutureExt;
use std::sync::Arc;

/// Teams' descriptor.
pub const PLATFORM: Platform = Platform {
    name: "teams",
    title: "Microsoft Teams",
    credential: Credential::SignIn,
    roles: Roles::ALL,
    configured,
    connect,
    sign_in: Some(start_sign_in),
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.teams.as_ref().map(|teams| Configured {
        account: teams.account.clone(),
        detail: String::new(),
        auto_reply: teams.auto_reply,
    })
}

/// Where the Teams account of `config` signs in.
pub fn endpoints(config: &TeamsConfig) -> Result<TeamsEndpoints, AdapterError> {
    TeamsEndpoints::new(
        &config.authority,
        &config.tenant,
        &config.graph,
        &config.client_id,
    )
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let teams = config.teams.as_ref()?;
    let refresh_token = match secrets.token(PLATFORM.name, &teams.account) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Some(ChatAdapter::unusable(
                PLATFORM.name,
                format!(
                    "{} is not signed in; run `deepwork adapters connect teams`",
                    teams.account
                ),
            ));
        }
        Err(error) => return Some(ChatAdapter::unusable(PLATFORM.name, error.to_string())),
    };
    let (keeper, account) = (secrets.clone(), teams.account.clone());
    let keep = Box::new(move |token: &str| {
        let (keeper, account, token) = (keeper.clone(), account.clone(), token.to_owned());
        // The keyring's client runs its own executor, so it gets a thread of its own;
        // waiting for it (milliseconds, about once an hour) means the token is kept
        // before anything can exit, as the old one may stop working.
        let kept =
            std::thread::spawn(move || keeper.set_token(PLATFORM.name, &account, &token)).join();
        match kept {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not keep the renewed Teams sign-in"),
            Err(_) => tracing::warn!("keeping the renewed Teams sign-in failed"),
        }
    });
    let adapter =
        endpoints(teams).and_then(|endpoints| TeamsAdapter::new(endpoints, refresh_token, keep));
    Some(match adapter {
        Ok(adapter) => {
            let adapter = Arc::new(adapter);
            all_roles(PLATFORM.name, adapter.clone(), teams.auto_reply)
                .with_follow_up(adapter.clone())
                .with_poster(adapter)
        }
        Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
    })
}

fn start_sign_in(config: &AdaptersConfig) -> SignInStart<'_> {
    async move {
        let teams = config
            .teams
            .as_ref()
            .ok_or_else(|| not_configured(PLATFORM.name))?;
        let (code, pending) = teams::start_sign_in(&endpoints(teams)?).await?;
        let code = SignInCode {
            user_code: code.user_code,
            verification_uri: code.verification_uri,
            message: code.message,
        };
        Ok((code, PendingSignIn::Teams(pending)))
    }
    .boxed()
}

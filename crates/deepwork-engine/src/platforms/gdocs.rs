//! Google Docs: a sign-in in the browser (OAuth for installed apps, with the config's
//! OAuth client); its refresh token is kept under the account. Read-only.

use super::{
    Configured, Credential, PendingSignIn, Platform, Roles, SignInStart, not_configured, read_only,
};
use crate::api::SignInCode;
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::AdapterError;
use deepwork_adapters::gdocs::{self, GoogleDocsSource, GoogleEndpoints};
use deepwork_core::config::{AdaptersConfig, GoogleDocsConfig};
use futures_util::FutureExt;
use std::sync::Arc;

/// Google Docs' descriptor.
pub const PLATFORM: Platform = Platform {
    name: "gdocs",
    title: "Google Docs",
    credential: Credential::SignIn,
    roles: Roles::READ_ONLY,
    configured,
    connect,
    sign_in: Some(start_sign_in),
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.gdocs.as_ref().map(|gdocs| Configured {
        account: gdocs.account.clone(),
        detail: String::new(),
        auto_reply: false,
    })
}

fn endpoints(config: &GoogleDocsConfig) -> Result<GoogleEndpoints, AdapterError> {
    GoogleEndpoints::new(
        &config.authorize,
        &config.oauth,
        &config.drive,
        &config.client_id,
        config.client_secret.as_deref(),
    )
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let gdocs = config.gdocs.as_ref()?;
    let refresh_token = match secrets.token(PLATFORM.name, &gdocs.account) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Some(ChatAdapter::unusable(
                PLATFORM.name,
                format!(
                    "{} is not signed in; run `deepwork adapters connect gdocs`",
                    gdocs.account
                ),
            ));
        }
        Err(error) => return Some(ChatAdapter::unusable(PLATFORM.name, error.to_string())),
    };
    let source = endpoints(gdocs)
        .and_then(|endpoints| GoogleDocsSource::new(endpoints, &gdocs.account, refresh_token))
        .map(|source| match gdocs.poll {
            Some(poll) => source.every(poll.0.unsigned_abs()),
            None => source,
        });
    Some(match source {
        Ok(source) => read_only(PLATFORM.name, Arc::new(source)),
        Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
    })
}

fn start_sign_in(config: &AdaptersConfig) -> SignInStart<'_> {
    async move {
        let gdocs = config
            .gdocs
            .as_ref()
            .ok_or_else(|| not_configured(PLATFORM.name))?;
        let (page, pending) = gdocs::start_sign_in(&endpoints(gdocs)?, &gdocs.account).await?;
        let code = SignInCode {
            user_code: String::new(),
            verification_uri: page,
            message: "Sign in to Google in the browser and allow Deepwork to read comments on your documents.".into(),
        };
        Ok((code, PendingSignIn::Google(pending)))
    }
    .boxed()
}

//! XMPP: a password, kept under the JID.

use super::{Configured, Credential, Platform, Roles, all_roles, token};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::xmpp::XmppAdapter;
use deepwork_core::config::AdaptersConfig;
use std::sync::Arc;

/// XMPP's descriptor.
pub const PLATFORM: Platform = Platform {
    name: "xmpp",
    title: "XMPP",
    credential: Credential::Token { what: "password" },
    roles: Roles::ALL,
    configured,
    connect,
    sign_in: None,
};

fn configured(config: &AdaptersConfig) -> Option<Configured> {
    config.xmpp.as_ref().map(|xmpp| Configured {
        account: xmpp.jid.clone(),
        detail: String::new(),
        auto_reply: xmpp.auto_reply,
    })
}

fn connect(config: &AdaptersConfig, secrets: &Secrets) -> Option<ChatAdapter> {
    let xmpp = config.xmpp.as_ref()?;
    let password = match token(secrets, &PLATFORM, &xmpp.jid) {
        Ok(password) => password,
        Err(unusable) => return Some(*unusable),
    };
    Some(
        match XmppAdapter::new(&xmpp.jid, password, xmpp.server.as_deref()) {
            Ok(adapter) => all_roles(PLATFORM.name, Arc::new(adapter), xmpp.auto_reply),
            Err(error) => ChatAdapter::unusable(PLATFORM.name, error.to_string()),
        },
    )
}

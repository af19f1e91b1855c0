//! Jira and Confluence Cloud: the account's email and an API token, kept under the site.
//! Read-only.

use super::{Configured, Credential, Platform, Roles, read_only, token};
use crate::chats::ChatAdapter;
use crate::secrets::Secrets;
use deepwork_adapters::AdapterError;
use deepwork_adapters::atlassian::{confluence::ConfluenceSource, jira::JiraSource};
use deepwork_core::config::AtlassianConfig;
use std::sync::Arc;

const API_TOKEN: Credential = Credential::Token {
    what: "API token (id.atlassian.com → Security → API tokens)",
};

/// Jira's descriptor.
pub const JIRA: Platform = Platform {
    name: "jira",
    title: "Jira",
    credential: API_TOKEN,
    roles: Roles::READ_ONLY,
    configured: |config| configured(config.jira.as_ref()),
    connect: |config, secrets| {
        connect(&JIRA, config.jira.as_ref(), secrets, |site, token| {
            let source = JiraSource::new(&site.site, &site.email, token)?;
            let source = match site.poll {
                Some(poll) => source.every(poll.0.unsigned_abs()),
                None => source,
            };
            let source = Arc::new(source);
            Ok(read_only(JIRA.name, source.clone()).with_work(source))
        })
    },
    sign_in: None,
};

/// Confluence's descriptor.
pub const CONFLUENCE: Platform = Platform {
    name: "confluence",
    title: "Confluence",
    credential: API_TOKEN,
    roles: Roles::READ_ONLY,
    configured: |config| configured(config.confluence.as_ref()),
    connect: |config, secrets| {
        connect(
            &CONFLUENCE,
            config.confluence.as_ref(),
            secrets,
            |site, token| {
                let source = ConfluenceSource::new(&site.site, &site.email, token)?;
                let source = match site.poll {
                    Some(poll) => source.every(poll.0.unsigned_abs()),
                    None => source,
                };
                Ok(read_only(CONFLUENCE.name, Arc::new(source)))
            },
        )
    },
    sign_in: None,
};

fn configured(site: Option<&AtlassianConfig>) -> Option<Configured> {
    site.map(|site| Configured {
        account: site.site.clone(),
        detail: format!("as {}", site.email),
        auto_reply: false,
    })
}

fn connect(
    platform: &Platform,
    site: Option<&AtlassianConfig>,
    secrets: &Secrets,
    source: impl FnOnce(&AtlassianConfig, String) -> Result<ChatAdapter, AdapterError>,
) -> Option<ChatAdapter> {
    let site = site?;
    let token = match token(secrets, platform, &site.site) {
        Ok(token) => token,
        Err(unusable) => return Some(*unusable),
    };
    Some(
        source(site, token)
            .unwrap_or_else(|error| ChatAdapter::unusable(platform.name, error.to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepwork_core::config::AdaptersConfig;

    #[test]
    fn both_read_their_own_table() {
        let site = AtlassianConfig {
            site: "https://acme.atlassian.net".into(),
            email: "alice@acme.com".into(),
            poll: None,
        };
        let config = AdaptersConfig {
            confluence: Some(site),
            ..AdaptersConfig::default()
        };
        assert!((JIRA.configured)(&config).is_none());
        assert_eq!(
            (CONFLUENCE.configured)(&config).unwrap().account,
            "https://acme.atlassian.net"
        );
    }
}

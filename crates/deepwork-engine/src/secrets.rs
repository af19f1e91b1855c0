//! Chat tokens in the OS keyring (the freedesktop Secret Service on Linux), never in the
//! config file or the database. The config names the account; the keyring holds the
//! token under service `deepwork`, user `ADAPTER:ACCOUNT`.

use keyring_core::api::CredentialStore;
use std::sync::Arc;

const SERVICE: &str = "deepwork";

/// Why a token could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No keyring answered.
    #[error(
        "no keyring is available ({0}); start and unlock one (GNOME Keyring, KeePassXC, KWallet with the Secret Service API)"
    )]
    Unavailable(String),
    /// The keyring refused or failed.
    #[error("the keyring failed: {0}")]
    Failed(String),
}

/// The OS keyring.
#[derive(Clone)]
pub struct Secrets {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets")
    }
}

impl Secrets {
    /// Connects to the Secret Service on the session bus. Blocking: call it outside an
    /// async task.
    pub fn open() -> Result<Self, SecretError> {
        let store = zbus_secret_service_keyring_store::Store::new()
            .map_err(|e| SecretError::Unavailable(e.to_string()))?;
        Ok(Secrets { store })
    }

    fn entry(&self, adapter: &str, account: &str) -> Result<keyring_core::Entry, SecretError> {
        self.store
            .build(SERVICE, &format!("{adapter}:{account}"), None)
            .map_err(|e| SecretError::Failed(e.to_string()))
    }

    /// The token for an account, if one is stored.
    pub fn token(&self, adapter: &str, account: &str) -> Result<Option<String>, SecretError> {
        match self.entry(adapter, account)?.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(keyring_core::Error::NoStorageAccess(e)) => {
                Err(SecretError::Unavailable(e.to_string()))
            }
            Err(e) => Err(SecretError::Failed(e.to_string())),
        }
    }

    /// Keeps the token for an account, replacing any earlier one.
    pub fn set_token(&self, adapter: &str, account: &str, token: &str) -> Result<(), SecretError> {
        self.entry(adapter, account)?
            .set_password(token)
            .map_err(|e| match e {
                keyring_core::Error::NoStorageAccess(e) => SecretError::Unavailable(e.to_string()),
                other => SecretError::Failed(other.to_string()),
            })
    }
}

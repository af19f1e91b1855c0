//! Where the config, the data and the socket live (XDG), each overridable.

use std::path::{Path, PathBuf};

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "DEEPWORK_CONFIG";
/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "DEEPWORK_DATA_DIR";
/// Environment variable naming the engine's socket.
pub const SOCKET_ENV: &str = "DEEPWORK_SOCKET";

/// The engine's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The TOML config file (it need not exist).
    pub config: PathBuf,
    /// The directory holding the database.
    pub data_dir: PathBuf,
    /// The engine's Unix socket.
    pub socket: PathBuf,
}

impl Paths {
    /// Resolves from the environment and the XDG base directories; `config` overrides
    /// the config file (the CLI's `--config`).
    pub fn resolve(config: Option<&Path>) -> Paths {
        let env_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home_fallback = || std::env::temp_dir().join(format!("deepwork-{}", user_tag()));
        let config = config
            .map(Path::to_path_buf)
            .or_else(|| env_path(CONFIG_ENV))
            .unwrap_or_else(|| {
                dirs::config_dir()
                    .unwrap_or_else(home_fallback)
                    .join("deepwork")
                    .join("config.toml")
            });
        let data_dir = env_path(DATA_DIR_ENV).unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(home_fallback)
                .join("deepwork")
        });
        let socket = env_path(SOCKET_ENV).unwrap_or_else(|| {
            dirs::runtime_dir()
                .map(|dir| dir.join("deepwork"))
                .unwrap_or_else(|| data_dir.clone())
                .join("engine.sock")
        });
        Paths {
            config,
            data_dir,
            socket,
        }
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("deepwork.sqlite3")
    }

    /// The lock that keeps one engine per database: beside it, so that two engines
    /// with different sockets (one without `XDG_RUNTIME_DIR`) still exclude each other.
    pub fn lock(&self) -> PathBuf {
        self.data_dir.join("engine.lock")
    }
}

/// Another of Deepwork's programs (`deepwork`, `deepwork-app`): the one installed beside
/// the running program, else the name alone, for `PATH` to find.
pub fn sibling_program(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(name))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn user_tag() -> String {
    std::env::var("USER").unwrap_or_else(|_| "user".into())
}

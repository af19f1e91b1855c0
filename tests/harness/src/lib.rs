//! What Deepwork's tests share: real servers started and stopped by the tests, and,
//! where the real service cannot run here, contract servers written from its docs.

mod atlassian;
pub mod confluence;
pub mod desktop;
pub mod drive;
pub mod github;
pub mod jira;
pub mod mattermost;
pub mod notion;
pub mod prosody;
pub mod pumble;
pub mod radicale;
pub mod slack;
pub mod synapse;
pub mod teams;
pub mod twilio;

/// A contract server on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct Served {
    /// Its address, `http://127.0.0.1:PORT`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves `app` until dropped.
    pub async fn start(app: axum::Router) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Served { base, task }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether process `pid` itself listens on TCP `port`. A server restarted on its old
/// port may find it taken by another test's server meanwhile: answering on the port
/// then proves nothing, owning the listening socket does.
pub fn listens(pid: u32, port: u16) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let sockets: Vec<String> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    let port = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // local address, state (0A is LISTEN), inode
                fields.len() > 9
                    && fields[1].ends_with(&format!(":{port}"))
                    && fields[3] == "0A"
                    && sockets.iter().any(|inode| inode == fields[9])
            })
    })
}

/// The Python of a test server's private virtualenv under `.tools/` (scripts/setup.sh
/// installs them); `name` says which server in the panic when it is missing.
pub fn tool_python(dir: &str, name: &str) -> std::path::PathBuf {
    // This crate lives in tests/harness, two levels below the repository root.
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools")
        .join(dir)
        .join("bin/python");
    assert!(
        python.exists(),
        "{name} is not installed at {}: run `make test` (scripts/setup.sh installs it)",
        python.display()
    );
    python
}

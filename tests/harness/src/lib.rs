//! What Deepwork's tests share: real servers started and stopped by the tests, and,
//! where the real service cannot run here, contract servers written from its docs.

pub mod desktop;
pub mod mattermost;
pub mod prosody;
pub mod pumble;
pub mod slack;
pub mod synapse;
pub mod teams;

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

//! A TCP proxy in front of Postgres that can cut every open connection (mid-transaction, as a
//! network fault or a database restart does) and refuse new ones for a while (the database is
//! unavailable). Workers reach Postgres through it; the tests' own checks do not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy.
#[derive(Debug, Clone)]
pub struct DbProxy {
    /// `host:port` to connect to instead of Postgres's.
    pub address: String,
    /// Bumped to cut every connection open at that moment.
    generation: watch::Sender<u64>,
    down: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
    cut: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl DbProxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (generation, _) = watch::channel(0u64);
        let proxy = DbProxy {
            address: listener.local_addr().unwrap().to_string(),
            generation,
            down: Arc::new(AtomicBool::new(false)),
            open: Arc::new(AtomicUsize::new(0)),
            cut: Arc::new(AtomicUsize::new(0)),
            refused: Arc::new(AtomicUsize::new(0)),
        };
        let upstream = upstream.to_owned();
        let this = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if this.down.load(Ordering::SeqCst) {
                    this.refused.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(this.clone().pipe(client, server));
            }
        });
        proxy
    }

    async fn pipe(self, mut client: TcpStream, mut server: TcpStream) {
        let mut cut = self.generation.subscribe();
        self.open.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            _ = cut.changed() => { self.cut.fetch_add(1, Ordering::SeqCst); }
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
        // Dropping both sockets closes them: each side sees the connection end mid-stream.
    }

    /// Cuts every open connection now. Returns how many were open.
    pub fn cut_all(&self) -> usize {
        let open = self.open.load(Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
        open
    }

    /// While down, every open connection is cut and new ones are closed on accept.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut_all();
        }
    }

    /// Connections cut so far.
    pub fn connections_cut(&self) -> usize {
        self.cut.load(Ordering::SeqCst)
    }

    /// Connection attempts refused so far.
    pub fn connections_refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

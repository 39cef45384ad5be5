//! The embedded reference server: an in-memory implementation of the two endpoints the contract
//! covers (`GET /api/public/coworkers/profiles`, `PUT /api/public/coworkers/profiles/current`),
//! plus the related benefits endpoint.
//!
//! It exists so that the harness runs out of the box and so that client developers have something
//! to point at (`nexudus-conformance serve`). It depends on nothing of the harness — it could be
//! its own crate — and behaves as the documentation says, filling the documentation's gaps the way
//! the harness's SHOULD rules expect (see `ARCHITECTURE.md`).

/// A closed list of named behaviours (faults, variants): the enum, `ALL` in catalog order, the
/// command-line `name`, a one-sentence `description`, `from_name` and `Display`.
macro_rules! named_behaviours {
    ($(#[$doc:meta])* $enum:ident { $($variant:ident = $name:literal : $description:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $enum {
            $($variant,)*
        }

        impl $enum {
            /// Every one, in catalog order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)*];

            /// The name used on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }

            /// What the server does, in a sentence.
            pub fn description(self) -> &'static str {
                match self {
                    $($enum::$variant => $description,)*
                }
            }

            /// The one of this name.
            pub fn from_name(name: &str) -> Option<$enum> {
                $enum::ALL.iter().copied().find(|v| v.name() == name)
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

mod data;
mod endpoints;
mod fault;
mod handlers;
mod routes;
mod token;
mod variant;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use data::{Credentials, FixedTokens};
pub use fault::{Fault, Faults};
pub use routes::{Arrival, Throttle};
pub use variant::{Variant, Variants};

/// Where the reference server listens and how it behaves.
#[derive(Clone)]
pub struct ServerOptions {
    /// Address to bind; the default is loopback only.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Contract violations to commit; empty for the faithful implementation.
    pub faults: Faults,
    /// Legitimate ways to answer where the documentation leaves room.
    pub variants: Variants,
    /// Fixed tokens instead of random ones.
    pub tokens: Option<FixedTokens>,
    /// A delay added to every request, to model a remote target.
    pub latency: std::time::Duration,
    /// Rate limiting as Nexudus does it, to test the harness's politeness.
    pub throttle: Option<Throttle>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            faults: Faults::new(),
            variants: Variants::new(),
            tokens: None,
            latency: std::time::Duration::ZERO,
            throttle: None,
        }
    }
}

/// A reference server running on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    credentials: Credentials,
    state: handlers::Shared,
    traffic: Arc<routes::Traffic>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The socket address the server accepted its listener on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fixture tokens and ids of this instance (tokens are random per instance).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The profile id that is currently the default of the primary user, for tests that check the
    /// server's state from outside the HTTP interface.
    pub fn primary_default_profile(&self) -> Option<i64> {
        handlers::default_of(&self.state, self.credentials.primary_user_id)
    }

    /// How many requests the server has received so far.
    pub fn requests_received(&self) -> u64 {
        self.traffic
            .count
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every request received so far, with its arrival time.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.traffic
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops accepting connections and waits until the server task has ended.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds the listener and starts serving on the current runtime.
///
/// # Errors
/// Returns the bind error, e.g. when the port is taken.
pub async fn start(options: &ServerOptions) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(SocketAddr::new(options.host, options.port)).await?;
    let addr = listener.local_addr()?;
    let (mut db, credentials) = data::Db::seeded(options.faults.clone(), options.tokens.as_ref());
    db.variants = options.variants.clone();
    if options.variants.contains(&Variant::TwoActiveProfiles) {
        db.keep_two_active_profiles();
    }
    let throttle = options.throttle.clone().or_else(|| {
        [(Variant::Throttle409, 409), (Variant::Throttle429, 429)]
            .into_iter()
            .find(|(v, _)| options.variants.contains(v))
            .map(|(_, status)| Throttle {
                every: 3,
                writes_only: false,
                status,
                retry_after: "0".into(),
                spare_retries: true,
            })
    });
    let state: handlers::Shared = Arc::new(Mutex::new(db));
    let traffic = Arc::new(routes::Traffic::default());
    let router = routes::router(
        state.clone(),
        traffic.clone(),
        options.latency,
        throttle,
        options.variants.clone(),
    );
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningServer {
        addr,
        credentials,
        state,
        traffic,
        shutdown: Some(tx),
        task,
    })
}

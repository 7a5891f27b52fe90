//! A stand-in for auth-server's published keys (`GET /.well-known/jwks.json`): it serves the
//! JWK Set it is told to (and an ended-session feed where no session ends), counts every
//! connection and every request but the feed's, whatever the path, and
//! runs on a thread and runtime of its own, so that it outlives any one test's runtime (the
//! one every test server of an `EdDSA` target follows lives as long as the process).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse as _, Response};
use axum::serve::ListenerExt as _;
use jwt_tokens::Ed25519PublicKey;
use jwt_tokens::follow::{ENDED_PATH, JWKS_PATH};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// What the stand-in serves and what it has seen, behind one lock: a request is counted and
/// answered with the set of that moment, so that a request counted after [`JwksServer::serve`]
/// returned got the new set.
struct Seen {
    jwks: String,
    requests: usize,
    connections: usize,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running stand-in on `127.0.0.1`, stopped when dropped (its port then refuses connections).
pub struct JwksServer {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The JWK Set of `keys`, each under its RFC 7638 thumbprint, as auth-server publishes it.
pub fn jwks(keys: &[Ed25519PublicKey]) -> String {
    let keys: Vec<_> = keys.iter().map(|key| key.jwk(&key.kid())).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

impl JwksServer {
    /// A stand-in on a free port, serving `{"keys":[]}` (what auth-server publishes in HS256
    /// mode) until [`serve`](Self::serve) says otherwise.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the stand-in's address");
        let shared = Arc::new(Mutex::new(Seen {
            jwks: jwks(&[]),
            requests: 0,
            connections: 0,
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the stand-in");
            runtime.block_on(async move {
                let counting = Arc::clone(&serving);
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("a tokio listener")
                    .tap_io(move |_| lock(&counting).connections += 1);
                let app = Router::new().fallback(answer).with_state(serving);
                tokio::select! {
                    served = axum::serve(listener, app).into_future() => served.expect("the stand-in serves"),
                    _ = stopped => {}
                }
            });
            // Dropping the runtime ends every connection it still holds.
        });
        Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Its base URL, as `AUTH_URL` takes it: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `jwks` (a JWK Set document) from now on.
    pub fn serve(&self, jwks: String) {
        lock(&self.shared).jwks = jwks;
    }

    /// How many requests it has had, of any method and path.
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> usize {
        lock(&self.shared).connections
    }

    /// Waits until it has had `count` requests in all, for at most 10 s.
    pub async fn wait_for_requests(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests() < count {
            assert!(
                Instant::now() < deadline,
                "the key server had {} requests, not {count}, within 10s",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until whoever follows it has fetched the set twice more: the first of those
    /// fetches is answered after this call, with the set served now, and once the second has
    /// come, what the first got has been applied (a follower fetches one at a time, and applies
    /// a set before it asks again).
    pub async fn wait_until_followed(&self) {
        self.wait_for_requests(self.requests() + 2).await;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every request is counted, but those of the ended-session feed; the key set's path gets the
/// set, the feed's an empty page (after the wait asked for, as auth-server would when no session
/// ends), any other a `404`.
async fn answer(State(shared): State<Shared>, uri: Uri) -> Response {
    if uri.path() == ENDED_PATH {
        let wait = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix("wait="))
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let page = r#"{"log":"stand-in","cursor":0,"ended":[],"more":false}"#;
        return ([(header::CONTENT_TYPE, "application/json")], page).into_response();
    }
    let mut seen = lock(&shared);
    seen.requests += 1;
    if uri.path() == JWKS_PATH {
        ([(header::CONTENT_TYPE, "application/json")], seen.jwks.clone()).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

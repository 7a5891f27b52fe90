//! Password hashing with argon2id, off the async threads and bounded in parallelism.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use service_kit::ApiError;
use tokio::sync::Semaphore;

use crate::domain::Password;

/// OWASP's argon2id parameters: 19 MiB of memory, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Hashes and verifies on the blocking pool. Each hash holds 19 MiB for tens
/// of milliseconds, so at most one per core runs at once; the rest wait
/// their turn instead of piling up memory and threads.
pub struct Hasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so that an unknown
    /// username costs the same as a wrong password.
    dummy_hash: String,
}

impl Hasher {
    pub async fn new() -> Result<Self, String> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(|e| e.to_string())?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let worker = argon.clone();
        let dummy_hash = tokio::task::spawn_blocking(move || hash_with(&worker, b"not a password anyone has"))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(Self {
            argon,
            permits: Arc::new(Semaphore::new(parallel)),
            dummy_hash,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        let argon = self.argon.clone();
        self.run(move || hash_with(&argon, password.expose()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `stored` (or, with no stored hash, runs the
    /// same work against the dummy hash and answers `false`).
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool, ApiError> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let argon = self.argon.clone();
        let matches = self
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| argon.verify_password(password.expose(), &parsed).is_ok())
                    .map_err(|e| e.to_string())
            })
            .await?
            .map_err(ApiError::internal)?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(ApiError::internal)
    }
}

fn hash_with(argon: &Argon2<'_>, password: &[u8]) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

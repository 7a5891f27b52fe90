//! Password hashing with argon2id, off the async threads and bounded in parallelism and memory.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use service_kit::ApiError;
use tokio::sync::{Semaphore, oneshot};

use crate::domain::Password;

/// OWASP's argon2id parameters: 19 MiB of memory, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Hashes and verifies passwords on a few threads of its own, one per core,
/// each with its 19 MiB of argon2 memory allocated once (at its first job).
///
/// Allocating 19 MiB per hash on the general blocking pool lets memory grow
/// to hundreds of MiB under a login flood (the allocator keeps what it was
/// given, fragmented across threads). Here memory is one hash's worth per
/// core, whatever the load, and no hash pays for an allocation. Requests
/// beyond that wait their turn (cancellably: a request that gives up leaves
/// no work behind).
pub struct Hasher {
    argon: Argon2<'static>,
    workers: Workers,
    /// Verified against when the user does not exist, so that an unknown
    /// username costs the same as a wrong password.
    dummy_hash: String,
}

impl Hasher {
    pub async fn new() -> Result<Self, String> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(|e| e.to_string())?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = Workers::start(threads, params_blocks(&argon))
            .map_err(|e| format!("cannot start hashing threads ({e})"))?;
        // Made once with the library's allocating hasher, so the workers' memory
        // is only taken on the first real login and an idle server stays small.
        let worker = argon.clone();
        let dummy_hash = tokio::task::spawn_blocking(move || {
            worker
                .hash_password(b"not a password anyone has", &SaltString::generate(&mut OsRng))
                .map(|hash| hash.to_string())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        Ok(Self {
            argon,
            workers,
            dummy_hash,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        let argon = self.argon.clone();
        self.workers
            .run(move |memory| hash_with(&argon, password.expose(), memory))
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
            .workers
            .run(move |memory| verify_with(&argon, password.expose(), &hash, memory))
            .await?
            .map_err(ApiError::internal)?;
        Ok(known && matches)
    }
}

fn params_blocks(argon: &Argon2<'_>) -> usize {
    argon.params().block_count()
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`, with a fresh salt.
fn hash_with(argon: &Argon2<'_>, password: &[u8], memory: &mut [Block]) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        .map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, recomputed in `memory`
/// and compared in constant time. A hash made with other parameters (more
/// memory than a worker holds) is checked the ordinary, allocating way.
fn verify_with(argon: &Argon2<'_>, password: &[u8], stored: &str, memory: &mut [Block]) -> Result<bool, String> {
    let parsed = PasswordHash::new(stored).map_err(|e| e.to_string())?;
    let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
    if params.block_count() > memory.len() {
        return Ok(argon.verify_password(password, &parsed).is_ok());
    }
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err("stored hash has no salt or no output".into());
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        .map_err(|e| e.to_string())?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
}

/// Hashing is slow on purpose and must not delay the cheap requests: a hashing
/// thread runs under Linux's `SCHED_IDLE`, so any other thread that wakes up
/// (an async worker with a `GET` or a `POST /token` to answer, here or in another
/// process) takes the core at once, while on cores nothing else wants it hashes
/// at full speed. Elsewhere, or if refused, it keeps the normal policy.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(err) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            tracing::debug!(?err, "hashing threads keep the normal scheduling policy");
        }
    }
}

/// Work for a hashing thread, given that thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// A fixed set of threads taking jobs from one queue; they end when it is dropped.
struct Workers {
    queue: mpsc::Sender<Job>,
    /// One per thread: at most that many jobs are queued or running, the
    /// rest of the callers wait here, where giving up is free.
    slots: Arc<Semaphore>,
}

impl Workers {
    fn start(threads: usize, blocks: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..threads {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                lower_priority();
                // Taken on the first job and kept: one hash's memory per thread.
                let mut memory = Vec::new();
                loop {
                    let next = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = next else { return };
                    if memory.len() < blocks {
                        memory.resize(blocks, Block::default());
                    }
                    // A job that panics must not take its thread with it.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
                }
            })?;
        }
        Ok(Self {
            queue,
            slots: Arc::new(Semaphore::new(threads)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
            drop(slot);
        });
        self.queue
            .send(job)
            .map_err(|_| ApiError::internal("the password hashing threads have stopped"))?;
        result.await.map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argon() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid params"),
        )
    }

    #[test]
    fn hashes_are_standard_phc_strings_that_verify_both_ways() {
        let argon = argon();
        let mut memory = vec![Block::default(); params_blocks(&argon)];
        let hash = hash_with(&argon, b"correct horse", &mut memory).expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        // Ours verify with the library's own verifier, and the library's with ours.
        let parsed = PasswordHash::new(&hash).expect("parses");
        assert!(argon.verify_password(b"correct horse", &parsed).is_ok());
        assert_eq!(verify_with(&argon, b"correct horse", &hash, &mut memory), Ok(true));
        assert_eq!(verify_with(&argon, b"wrong horse", &hash, &mut memory), Ok(false));
        let theirs = argon
            .hash_password(b"battery staple", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        assert_eq!(verify_with(&argon, b"battery staple", &theirs, &mut memory), Ok(true));
        assert_eq!(verify_with(&argon, b"battery stapler", &theirs, &mut memory), Ok(false));
    }

    #[test]
    fn hashes_of_other_parameters_still_verify() {
        let bigger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MEMORY_KIB * 2, 1, 1, None).expect("valid params"),
        );
        let hash = bigger
            .hash_password(b"pw-of-another-era", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        let argon = argon();
        let mut memory = vec![Block::default(); params_blocks(&argon)];
        assert_eq!(verify_with(&argon, b"pw-of-another-era", &hash, &mut memory), Ok(true));
        assert_eq!(verify_with(&argon, b"pw-of-another-eon", &hash, &mut memory), Ok(false));
    }
}

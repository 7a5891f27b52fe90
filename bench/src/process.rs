//! The servers under test: started from the release binaries with a clean
//! environment, timed to `/readyz`, measured in `/proc`, stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::Result;
use crate::http;

pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    /// From spawn to the first `200` of its readiness path (`/readyz`).
    pub ready: Duration,
    child: Child,
}

/// The release binary `name`, next to this harness's own.
pub fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("the harness has no folder")?;
    let path = dir.join(name);
    if !path.exists() {
        return Err(format!("{} is missing: run bench/run, which builds it", path.display()).into());
    }
    Ok(path)
}

impl Server {
    /// Starts `binary` in `dir` with only `env` (and `PATH`), and waits until
    /// `ready_path` answers `200`.
    pub async fn start(
        name: &str,
        binary: &Path,
        dir: &Path,
        env: &[(String, String)],
        ready_path: &str,
    ) -> Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let started = Instant::now();
        let mut child = Command::new(binary)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr: SocketAddr = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .map_err(|_| format!("{name} did not start within 60 s (see {})", log.display()))??
                .ok_or_else(|| format!("{name} exited at start (see {})", log.display()))?;
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().parse()?;
            }
        };
        // Whatever else it prints (warnings) goes to its log, so the pipe never fills.
        let mut out = tokio::fs::OpenOptions::new().append(true).open(&log).await?;
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        let probe = http::request("GET", ready_path, None, None);
        let ready = loop {
            if let Ok(response) = http::once(addr, &probe).await
                && response.status == 200
            {
                break started.elapsed();
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("{name} was not ready within 60 s").into());
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        Ok(Self {
            name: name.to_owned(),
            addr,
            ready,
            child,
        })
    }

    fn pid(&self) -> Result<u32> {
        Ok(self.child.id().ok_or("the server has exited")?)
    }

    /// A number field of `/proc/PID/status` (in kiB for the memory ones).
    fn status_kib(&self, field: &str) -> Result<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))?;
        Ok(line.split_whitespace().nth(1).ok_or("an empty status line")?.parse()?)
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> Result<f64> {
        Ok(self.status_kib("VmRSS:")? as f64 / 1024.0)
    }

    /// The most resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64> {
        Ok(self.status_kib("VmHWM:")? as f64 / 1024.0)
    }

    /// Its threads now.
    pub fn threads(&self) -> Result<u64> {
        self.status_kib("Threads:")
    }

    /// Its open file descriptors now (sockets, database files, logs).
    pub fn open_fds(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid()?))?.count())
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after 10 s).
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await?;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop within 10 s; killed", self.name);
            self.child.kill().await?;
        }
        Ok(())
    }
}

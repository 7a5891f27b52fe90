//! The servers under test: started from the release binaries with a clean
//! environment, timed to `/readyz`, measured in `/proc`, stopped with SIGTERM.
//! Their stdout (the log lines) goes straight to a file, as a server's would in
//! production, so that no process of the harness spends CPU relaying it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::Result;
use crate::http;

pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    /// From spawn to the first `200` of its readiness path (`/readyz`).
    pub ready: Duration,
    child: Child,
    /// Where its stdout goes.
    output: PathBuf,
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

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| crate::report::command("getconf", &["CLK_TCK"]).parse().unwrap_or(100.0))
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
        let output = dir.join(format!("{name}.out"));
        // Appending, so that the harness can empty the file between rounds while it runs.
        let stdout = std::fs::OpenOptions::new().create(true).append(true).open(&output)?;
        stdout.set_len(0)?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(stdout)
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        let addr: SocketAddr = loop {
            let printed = tokio::fs::read_to_string(&output).await?;
            if let Some(rest) = printed.split("listening on http://").nth(1) {
                break rest.lines().next().unwrap_or_default().trim().parse()?;
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("{name} exited at start ({status}; see {})", log.display()).into());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("{name} did not start within 60 s (see {})", log.display()).into());
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
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
            output,
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

    /// The CPU time it has used so far, all threads, user and system, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let pid = self.pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .ok_or("an unexpected /proc/PID/stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).ok_or("a short /proc/PID/stat")?.parse::<f64>()?) };
        // utime and stime are fields 14 and 15, in clock ticks.
        Ok((ticks(11)? + ticks(12)?) / clock_ticks())
    }

    /// Empties the file its stdout goes to (its log lines so far), to bound the disk a long
    /// run takes.
    pub fn forget_output(&self) -> Result<()> {
        std::fs::OpenOptions::new().write(true).open(&self.output)?.set_len(0)?;
        Ok(())
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

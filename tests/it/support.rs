//! Helpers: a reference server on its own runtime, and runs of the harness binary.

use std::path::Path;
use std::process::{Command, Output};

use nexudus_conformance::server::{self, RunningServer, ServerOptions};

/// A reference server with the runtime that drives it.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<RunningServer>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(server::start(&options)).unwrap();
        Server {
            runtime,
            server: Some(server),
        }
    }

    /// Stops the server now (the target "starts failing").
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }

    pub fn get(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub fn base_url(&self) -> String {
        self.get().base_url()
    }

    /// `--base-url`, `--token`, `--foreign-token`, `--expired-token` for this server.
    pub fn target_args(&self) -> Vec<String> {
        let c = self.get().credentials();
        vec![
            "--base-url".into(),
            self.base_url(),
            "--token".into(),
            c.primary_token.clone(),
            "--foreign-token".into(),
            c.foreign_token.clone(),
            "--expired-token".into(),
            c.expired_token.clone(),
        ]
    }

    /// [`Server::target_args`] followed by `extra`.
    pub fn target_args_with(&self, extra: &[&str]) -> Vec<String> {
        let mut a = self.target_args();
        a.extend(args(extra));
        a
    }

    pub fn secrets(&self) -> Vec<String> {
        let c = self.get().credentials();
        vec![
            c.primary_token.clone(),
            c.foreign_token.clone(),
            c.expired_token.clone(),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

/// The result of one harness run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `test NAME ... RESULT` lines, as (name, result).
    pub fn trials(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("test "))
            .filter_map(|l| l.split_once(" ... "))
            .map(|(n, r)| (n.trim().to_string(), r.trim().to_string()))
            .collect()
    }

    pub fn failed(&self) -> Vec<String> {
        self.trials()
            .into_iter()
            .filter(|(_, r)| r == "FAILED")
            .map(|(n, _)| n)
            .collect()
    }

    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn command(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"));
    for (k, _) in std::env::vars() {
        if k.starts_with("NEXUDUS_") {
            cmd.env_remove(k);
        }
    }
    // The journal goes to a folder of the test run, never the user's own state folder.
    cmd.env(
        "XDG_STATE_HOME",
        std::env::temp_dir().join(format!("nxc-it-state-{}", std::process::id())),
    );
    // Runs start outside the source tree, in a folder holding a copy of the embedded server's
    // snapshots: what a run writes (a pending snapshot, a baseline) never touches the files
    // build.rs embeds, so a later `cargo run --release` does not rebuild.
    cmd.current_dir(workdir());
    cmd.args(args);
    cmd
}

/// The folder the harness runs in during tests: `snapshots/embedded` copied from the repository.
pub fn workdir() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("nxc-it-cwd-{}", std::process::id()));
        let to = dir.join("snapshots").join("embedded");
        std::fs::create_dir_all(&to).unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("snapshots")
            .join("embedded");
        for entry in std::fs::read_dir(from).unwrap().flatten() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        dir
    })
}

/// Runs the harness binary with `args`, with no NEXUDUS_* variables from the environment.
pub fn harness(args: &[String]) -> Run {
    harness_env(args, &[])
}

/// Like [`harness`], with these environment variables set (`CI`, …) and `CI` unset otherwise.
pub fn harness_env(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(args);
    cmd.env_remove("CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`harness`], also returning the wall time and the peak resident memory (VmHWM, sampled
/// from /proc while the process runs; 0 where /proc is missing).
pub fn harness_measured(args: &[String]) -> (Run, std::time::Duration, u64) {
    let started = std::time::Instant::now();
    let (run, peak) = wait_for(spawn_harness(args), true);
    (run, started.elapsed(), peak)
}

/// A `--base-url` target with a primary token and another user's profile id (enough for the core
/// cases), then `extra`: for targets that answer nothing the tests need more of.
pub fn remote_args(url: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "--base-url",
        url,
        "--token",
        "abcdefghijkl",
        "--foreign-profile-id",
        "2201",
    ]);
    a.extend(args(extra));
    a
}

pub fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

/// Writes case files into a fresh temporary directory, with the shipped catalog
/// (`cases/_contract.json`) that the cases cite, unless `files` brings its own.
pub fn case_dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = plain_dir(name, files);
    if !files.iter().any(|(f, _)| f.starts_with('_'))
        && files.iter().any(|(f, _)| f.ends_with(".json"))
    {
        std::fs::write(dir.join(CATALOG), shipped_case("_contract")).unwrap();
    }
    dir
}

/// The shipped catalog's file name.
pub const CATALOG: &str = "_contract.json";

/// Writes files into a fresh temporary directory, as they are.
pub fn plain_dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nxc-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The repository's own case file, for tests that copy and change one.
pub fn shipped_case(id: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cases")
            .join(format!("{id}.json")),
    )
    .unwrap()
}

/// Replaces run-specific values (ports, timings) so outputs can be snapshotted.
pub fn normalize(text: &str, base_url: &str) -> String {
    let mut out = text.replace(base_url, "http://127.0.0.1:PORT");
    let mut result = String::new();
    for line in out.lines() {
        let mut line = line.to_string();
        if let Some(i) = line.find("finished in ") {
            line.truncate(i);
            line.push_str("finished in [TIME]");
        }
        if let Some(i) = line.find(" bytes, ")
            && let Some(j) = line[i..].find(" ms)")
        {
            line.replace_range(i + 8..i + j, "[N]");
        }
        result.push_str(&line);
        result.push('\n');
    }
    out = result;
    out
}

/// Starts the harness binary without waiting, output piped.
pub fn spawn_harness(args: &[String]) -> std::process::Child {
    command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a harness started by [`spawn_harness`] and collects its output.
pub fn finish(child: std::process::Child) -> Run {
    wait_for(child, false).0
}

/// Collects a child's output while waiting for it, sampling its peak memory if asked. A watchdog
/// kills it after 60 s, so that a hang fails the test instead of stalling it.
fn wait_for(mut child: std::process::Child, sample_memory: bool) -> (Run, u64) {
    use std::io::Read;
    fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    }
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status_file = format!("/proc/{}/status", child.id());
    let started = std::time::Instant::now();
    let mut peak = 0u64;
    let status = loop {
        if sample_memory
            && let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
        {
            peak = peak.max(kb * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (run, peak)
}

/// Sends a signal (`INT`, `TERM`) to a process.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls `condition` every 5 ms for up to 20 s.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

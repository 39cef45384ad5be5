//! `cargo bench`: how much the harness costs next to the target.
//!
//! 1. the full suite against the embedded server: wall time and requests/s;
//! 2. the full suite against a server with 50 ms latency: wall time / (dependent chain × 50 ms);
//! 3. a 10,000-request sweep: harness requests/s / a bare reqwest loop's, same concurrency, same server;
//! 4. peak memory (VmHWM) of a full run of the binary;
//! 5. `--list`'s start-up;
//! 6. seven everyday cases at 50 ms latency against a hand-written client that sends the same
//!    requests one after another (issue 19's yardstick).
//!
//! Each figure is the median of several runs measured in this one process, interleaved where two
//! things are compared, so a noisy machine affects both sides alike. Built with the `bench`
//! profile, which has the settings of `dist`: the figures are those of the prebuilt archives, not
//! of the unoptimised `release` build `cargo install` makes.

// A measuring program, like a test: a failed setup step should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexudus_conformance::case::{Level, load_cases};
use nexudus_conformance::cli::{DEFAULT_REMOTE_RPS, paces};
use nexudus_conformance::contract::Contract;
use nexudus_conformance::http::{HttpClient, HttpOptions};
use nexudus_conformance::plan::{self, Plan, PlanOptions, ProbeChecks, RunShape, Selection};
use nexudus_conformance::record::Observed;
use nexudus_conformance::run::{self, Credentials, Target};
use nexudus_conformance::server::{self, RunningServer, ServerOptions};
use nexudus_conformance::source::{embedded_cases, embedded_schemas};

const CONCURRENCY: usize = 8;
const SWEEP: usize = 10_000;
const SWEEP_CONCURRENCY: usize = 32;

fn plan_for(select: &dyn Fn(&str, Level) -> bool) -> Plan {
    plan_with(PlanOptions::default(), select)
}

fn plan_with(options: PlanOptions, select: &dyn Fn(&str, Level) -> bool) -> Plan {
    let mut contract = Contract::load(&embedded_schemas()).expect("schemas");
    let cases = load_cases(&embedded_cases(), &mut contract).expect("cases");
    plan::build(cases, options, &|name, level| {
        if select(name, level) {
            Selection::Run
        } else {
            Selection::FilteredOut
        }
    })
}

fn target(server: &RunningServer, concurrency: usize, sweep_size: usize) -> Target {
    let client = HttpClient::new(&server.base_url(), HttpOptions::default()).expect("client");
    let credentials = Credentials::of_reference_server(server.credentials());
    let mut target = Target::new(client, server.base_url(), credentials, concurrency);
    target.sweep_size = sweep_size;
    target
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// A fresh reference server answering after `latency`.
async fn reference_server(latency: Duration) -> RunningServer {
    server::start(&ServerOptions {
        latency,
        ..ServerOptions::default()
    })
    .await
    .expect("server")
}

/// A plain reqwest client: the yardstick the harness is measured against.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Runs `plan` against a fresh server; returns (wall time, requests the server received).
async fn suite(
    plan: &Plan,
    latency: Duration,
    concurrency: usize,
    sweep_size: usize,
) -> (Duration, u64) {
    let server = reference_server(latency).await;
    let target = target(&server, concurrency, sweep_size);
    let started = Instant::now();
    let report = run::run(plan, target).await;
    let wall = started.elapsed();
    assert!(report.unusable.is_none(), "{:?}", report.unusable);
    let failed = report
        .results
        .iter()
        .flatten()
        .filter(|r| !matches!(r.observed, Observed::Judged(ref v) if !v.is_failure()))
        .count();
    assert_eq!(failed, 0, "the faithful server passes everything");
    let requests = server.requests_received();
    server.stop().await;
    (wall, requests)
}

/// The seven cases a hand-written suite (Hurl's, say) also covers.
const EVERYDAY: [&str; 7] = [
    "profiles_list::",
    "profiles_requires_auth::",
    "valid_switch::",
    "foreign_profile::",
    "unknown_profile::",
    "bad_token::",
    "invalid_coworker_id::",
];

/// Runs `plan` against a fresh server with `latency`; returns the wall time and, for each request
/// the harness sent, its method, URL and `Authorization` value (the real token for a credential
/// that carries one).
async fn sent_requests(
    plan: &Plan,
    latency: Duration,
) -> (Duration, Vec<(&'static str, String, Option<String>)>) {
    use nexudus_conformance::api::Credential;
    let server = reference_server(latency).await;
    let target = target(&server, CONCURRENCY, run::DEFAULT_SWEEP_SIZE);
    let started = Instant::now();
    let report = run::run(plan, target).await;
    let wall = started.elapsed();
    assert!(report.unusable.is_none(), "{:?}", report.unusable);
    let c = server.credentials();
    let requests = report
        .exchanges
        .iter()
        .map(|r| {
            let auth = match r.credential {
                Credential::None => None,
                Credential::Foreign => Some(format!("Bearer {}", c.foreign_token)),
                Credential::Expired => Some(format!("Bearer {}", c.expired_token)),
                Credential::Invalid => Some("Bearer nxc-invalid-0000".to_string()),
                _ => Some(format!("Bearer {}", c.primary_token)),
            };
            (r.exchange.method, r.exchange.url.clone(), auth)
        })
        .collect();
    server.stop().await;
    (wall, requests)
}

/// The same requests sent one after another by a plain reqwest client, against a fresh server
/// with `latency`: what a hand-written sequential suite costs for the same work.
async fn sequential(
    requests: &[(&'static str, String, Option<String>)],
    latency: Duration,
) -> Duration {
    let server = reference_server(latency).await;
    let client = plain_client();
    // The recorded URLs name the first server's port.
    let started = Instant::now();
    for (method, url, auth) in requests {
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map_or(String::new(), |p| format!("/{p}"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = client
            .request(method, format!("{}{path}", server.base_url()))
            .header("content-length", "0");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("request");
        let _ = response.bytes().await.expect("body");
    }
    let wall = started.elapsed();
    server.stop().await;
    wall
}

/// `n` switches to unknown ids with a plain reqwest client, `concurrency` at a time: the floor.
async fn bare_loop(n: usize, concurrency: usize) -> Duration {
    let server = reference_server(Duration::ZERO).await;
    let client = plain_client();
    let url = format!(
        "{}/api/public/coworkers/profiles/current",
        server.base_url()
    );
    let auth = format!("Bearer {}", server.credentials().primary_token);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, url, auth, permits) =
            (client.clone(), url.clone(), auth.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let response = client
                .put(format!("{url}?coworkerId={}", 999_999_937 + i))
                .header("authorization", auth)
                .header("content-length", "0")
                .send()
                .await
                .expect("request");
            let _ = response.bytes().await.expect("body");
        });
    }
    while tasks.join_next().await.is_some() {}
    let wall = started.elapsed();
    server.stop().await;
    wall
}

/// Peak resident memory of the binary (this bench's build) running the whole suite, in bytes.
fn peak_memory(args: &[&str]) -> u64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        }) {
            peak = peak.max(kb * 1024);
        }
        if child.try_wait().expect("wait").is_some() {
            return peak;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() {
    // `cargo bench -- FILTER` passes arguments we do not need; `cargo test --benches` passes --test.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Every trial, SHOULD ones included, as `cargo run --release -- --include-ignored` plans it
    // (the snapshot trials send nothing of their own).
    let everything = plan_with(
        PlanOptions {
            snapshots: true,
            ..PlanOptions::default()
        },
        &|_, _| true,
    );
    println!(
        "machine: {} cores; figures are medians of the runs shown",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // `cargo bench -- 2 6` measures figures 2 and 6 only; the README quotes a run of all.
    let figures: Vec<u32> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let wanted = |n: u32| figures.is_empty() || figures.contains(&n);
    let latency = Duration::from_millis(50);
    let shape = RunShape {
        sweep_size: run::DEFAULT_SWEEP_SIZE,
        concurrency: CONCURRENCY,
        reads_foreign_list: true,
        foreign_token: true,
        probe_checks: ProbeChecks::Batch,
    };
    let cost = everything.cost(&shape);
    if wanted(1) {
        // 1. Full suite, embedded server, no latency.
        let runs = 11;
        let mut walls = Vec::new();
        let mut rates = Vec::new();
        let mut requests = 0;
        for _ in 0..runs {
            let (wall, n) = runtime.block_on(suite(
                &everything,
                Duration::ZERO,
                CONCURRENCY,
                run::DEFAULT_SWEEP_SIZE,
            ));
            walls.push(wall.as_secs_f64() * 1000.0);
            rates.push(n as f64 / wall.as_secs_f64());
            requests = n;
        }
        println!(
            "1. full suite, embedded server:        {:8.1} ms wall, {:8.0} requests/s ({requests} requests, {runs} runs)",
            median(walls),
            median(rates)
        );
        let (pace, write_pace) = paces(DEFAULT_REMOTE_RPS);
        let seconds = |c: &nexudus_conformance::plan::Cost| {
            c.paced_time(pace, write_pace)
                .unwrap_or_default()
                .as_secs_f64()
        };
        println!(
            "   planned: {} requests ({} writes) + up to {} to restore; at the polite default ({DEFAULT_REMOTE_RPS} requests/s): {:.1} s, up to {:.1} s",
            cost.needed().requests,
            cost.needed().writes,
            cost.when_needed,
            seconds(&cost.needed()),
            seconds(&cost),
        );
        // The floor Nexudus's documented limits set: 120 requests and 60 writes a minute.
        let limits_floor = (cost.needed().requests as f64 / 2.0).max(cost.needed().writes as f64);
        println!(
            "   polite default against the documented limits' floor ({limits_floor:.1} s): ratio {:.3} (goal ≤ 1.05)",
            seconds(&cost.needed()) / limits_floor
        );
    }

    if wanted(2) {
        // 2. Full suite, 50 ms per request.
        let chain = cost.round_trips;
        let floor = latency.as_secs_f64() * chain as f64;
        let runs = 5;
        let mut ratios = Vec::new();
        let mut walls = Vec::new();
        for _ in 0..runs {
            let (wall, _) = runtime.block_on(suite(
                &everything,
                latency,
                CONCURRENCY,
                run::DEFAULT_SWEEP_SIZE,
            ));
            walls.push(wall.as_secs_f64());
            ratios.push(wall.as_secs_f64() / floor);
        }
        println!(
            "2. full suite, 50 ms latency:          {:8.3} s wall (goal ≤ 1.0 s; {} trials, SHOULD included); chain {chain} × 50 ms = {floor:.3} s; ratio {:.3} (goal ≤ 1.2, {runs} runs)",
            median(walls),
            everything.trials.len(),
            median(ratios)
        );
    }

    if wanted(3) {
        // 3. A 10,000-request sweep against a bare reqwest loop, interleaved.
        let sweep_plan = plan_for(&|name, _| name.starts_with("unknown_profile_sweep::"));
        let runs = 5;
        let (mut harness_rates, mut bare_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (wall, n) =
                runtime.block_on(suite(&sweep_plan, Duration::ZERO, SWEEP_CONCURRENCY, SWEEP));
            let harness = n as f64 / wall.as_secs_f64();
            let bare_wall = runtime.block_on(bare_loop(SWEEP, SWEEP_CONCURRENCY));
            let bare = SWEEP as f64 / bare_wall.as_secs_f64();
            harness_rates.push(harness);
            bare_rates.push(bare);
            ratios.push(harness / bare);
        }
        println!(
            "3. sweep of {SWEEP}, concurrency {SWEEP_CONCURRENCY}:     harness {:8.0} requests/s, bare reqwest {:8.0} requests/s; ratio {:.3} (goal ≥ 0.8, {runs} runs)",
            median(harness_rates),
            median(bare_rates),
            median(ratios)
        );
    }

    if wanted(4) {
        // 4. Peak memory of the release binary.
        let mut peaks = Vec::new();
        for _ in 0..5 {
            peaks.push(peak_memory(&["--include-ignored", "-q"]) as f64 / 1024.0 / 1024.0);
        }
        let sweep_peak = peak_memory(&[
            "--include-ignored",
            "-q",
            "--sweep-size",
            "10000",
            "--test-threads",
            "32",
            "unknown_profile_sweep",
        ]) as f64
            / 1024.0
            / 1024.0;
        println!(
            "4. peak memory (VmHWM), full run:      {:8.1} MiB (5 runs); with a 10,000-request sweep: {sweep_peak:.1} MiB",
            median(peaks)
        );
    }

    if wanted(5) {
        // --list: start-up without network.
        let mut lists = Vec::new();
        for _ in 0..11 {
            let started = Instant::now();
            let status = std::process::Command::new(env!("CARGO_BIN_EXE_nexudus-conformance"))
                .arg("--list")
                .stdout(std::process::Stdio::null())
                .status()
                .expect("binary");
            assert!(status.success());
            lists.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "5. --list (process start to exit):     {:8.1} ms (11 runs)",
            median(lists)
        );
    }

    if wanted(6) {
        // 6. Seven everyday cases at 50 ms, against a sequential client sending the same requests.
        let everyday = plan_for(&|name, _| EVERYDAY.iter().any(|c| name.starts_with(c)));
        let chain = everyday.cost(&shape).round_trips;
        let runs = 5;
        let (mut harness_walls, mut sequential_walls, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut count = 0;
        for _ in 0..runs {
            let (wall, requests) = runtime.block_on(sent_requests(&everyday, latency));
            let one_by_one = runtime.block_on(sequential(&requests, latency));
            count = requests.len();
            harness_walls.push(wall.as_secs_f64());
            sequential_walls.push(one_by_one.as_secs_f64());
            ratios.push(wall.as_secs_f64() / one_by_one.as_secs_f64());
        }
        println!(
            "6. 7 everyday cases, 50 ms latency:    harness {:.3} s (chain {chain}), the same {count} requests one after another {:.3} s; ratio {:.3} (goal ≤ 0.5, {runs} runs)",
            median(harness_walls),
            median(sequential_walls),
            median(ratios)
        );
    }
}

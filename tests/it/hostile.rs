//! Hostile targets: small misbehaving servers on 127.0.0.1. The harness must end within the
//! timeout plus a margin, never panic, keep its memory bounded, and say what happened — `could
//! not judge` (Broken) where it could not, a violation where the target answered wrongly — with
//! exit code 101 (trials failed) or 3 (target unusable).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Run, args, harness_measured, remote_args};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Accepts, reads the request, never answers.
    Silent,
    /// Sends headers, then one body byte every 100 ms.
    Trickle,
    /// Sends a body that never ends.
    Endless,
    /// `application/json` whose body is HTML.
    Html,
    /// `application/json` whose body is not UTF-8.
    InvalidUtf8,
    /// Resets the connection after reading the request.
    Reset,
    /// 307 to another host.
    Redirect,
    /// `Content-Encoding: gzip` (the harness must not decompress).
    Gzip,
}

/// Which requests the server misbehaves on.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Every request.
    All,
    /// Only PUT; GET answers a sane profile list.
    Put,
}

const LIST: &str = r#"{"User":{"Id":1,"FullName":"A","Email":"a@example.test","Active":true,"IsAdmin":false,"AccessToken":"hostile-access-token"},"DefaultBusiness":null,"Profiles":[{"Id":11,"FullName":"A","CompanyName":"","Active":true,"IsDefaultProfile":true,"CoworkerType":1,"HasVirtualOffice":false,"VirtualOfficePaused":null,"VirtualOfficeContractId":null},{"Id":12,"FullName":"A","CompanyName":"B","Active":true,"IsDefaultProfile":false,"CoworkerType":2,"HasVirtualOffice":false,"VirtualOfficePaused":null,"VirtualOfficeContractId":null}]}"#;

struct Hostile {
    /// Drives the servers; dropping it stops them.
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    /// Requests that reached a second server, on another host name (a redirect's target).
    elsewhere_hits: Arc<AtomicU64>,
}

impl Hostile {
    fn start(mode: Mode, scope: Scope) -> Hostile {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let elsewhere_hits = Arc::new(AtomicU64::new(0));
        let addr = runtime.block_on(async {
            let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let elsewhere = other.local_addr().unwrap();
            let hits = elsewhere_hits.clone();
            tokio::spawn(async move {
                while let Ok((mut s, _)) = other.accept().await {
                    hits.fetch_add(1, Ordering::Relaxed);
                    let _ = read_head(&mut s).await;
                    let _ = s
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                }
            });
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((s, _)) = listener.accept().await {
                    tokio::spawn(serve(s, mode, scope, elsewhere));
                }
            });
            addr
        });
        Hostile {
            _runtime: runtime,
            addr,
            elsewhere_hits,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 65536 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A gzip member holding `{"WasSuccessful":true}` in a stored (uncompressed) deflate block.
fn gzip_of(data: &[u8]) -> Vec<u8> {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    let crc = !crc;
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 1];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

async fn serve(mut s: TcpStream, mode: Mode, scope: Scope, elsewhere: SocketAddr) {
    let Some(head) = read_head(&mut s).await else {
        return;
    };
    let hostile = scope == Scope::All || head.starts_with("PUT ");
    if !hostile {
        let res = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{LIST}",
            LIST.len()
        );
        let _ = s.write_all(res.as_bytes()).await;
        return;
    }
    let json = |body: &[u8], extra: &str| {
        let mut res = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        res.extend_from_slice(body);
        res
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    match mode {
        Mode::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
        Mode::Trickle => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n").await;
            while Instant::now() < deadline && s.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Mode::Endless => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[").await;
            let block = vec![b'0'; 64 * 1024];
            while Instant::now() < deadline && s.write_all(&block).await.is_ok() {}
        }
        Mode::Html => {
            let _ = s
                .write_all(&json(
                    b"<!DOCTYPE html><html><body>Sign in</body></html>",
                    "",
                ))
                .await;
        }
        Mode::InvalidUtf8 => {
            let _ = s.write_all(&json(&[0x7b, 0xff, 0xfe, 0x7d], "")).await;
        }
        Mode::Reset => {
            // SO_LINGER 0 turns the close into a reset (RST), which is the point here.
            #[allow(deprecated)]
            let _ = s.set_linger(Some(Duration::ZERO));
            drop(s);
        }
        Mode::Redirect => {
            let res = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://localhost:{}/api/public/coworkers/profiles/current?coworkerId=12\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                elsewhere.port()
            );
            let _ = s.write_all(res.as_bytes()).await;
        }
        Mode::Gzip => {
            let body = gzip_of(
                br#"{"WasSuccessful":true,"Value":null,"Status":200,"Message":null,"Errors":null}"#,
            );
            let _ = s
                .write_all(&json(&body, "content-encoding: gzip\r\n"))
                .await;
        }
    }
}

/// Runs the harness against `server` with a 1 s timeout; returns the run, its duration and its peak RSS.
fn run_against(server: &Hostile, extra: &[&str]) -> (Run, Duration, u64) {
    let mut a = args(&[
        "--base-url",
        &server.url(),
        "--token",
        "hostile-primary-token",
        "--foreign-profile-id",
        "2201",
        "--timeout",
        "1",
    ]);
    a.extend(args(extra));
    harness_measured(&a)
}

/// The failure text of one trial, from the pretty output.
fn failure_of<'a>(run: &'a Run, trial: &str) -> &'a str {
    let marker = format!("---- {trial} ----");
    let start = run.stdout.find(&marker).map_or(0, |i| i + marker.len());
    let rest = &run.stdout[start..];
    let end = rest
        .find("\n---- ")
        .or_else(|| rest.find("\nfailures:"))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The timeout is 1 s; a case makes at most a few requests, each bounded by it (plus the 0.5 s
/// guard). This margin only catches hangs; it is not a performance claim.
const HANG_LIMIT: Duration = Duration::from_secs(15);

#[test]
fn hostile_on_put_fails_the_trials_with_what_happened() {
    let table: &[(Mode, &str, &str, &[&str])] = &[
        (
            Mode::Silent,
            "valid_switch::status_is_200",
            "could not judge: no complete response within 1.0s (--timeout)",
            &[],
        ),
        (
            Mode::Trickle,
            "valid_switch::status_is_200",
            "could not judge: no complete response within 1.0s (--timeout)",
            &[],
        ),
        (
            Mode::Endless,
            "valid_switch::status_is_200",
            "could not judge: response body exceeds the 65536-byte cap",
            &["--max-body", "65536"],
        ),
        (
            Mode::Reset,
            "valid_switch::status_is_200",
            "could not judge: transport error:",
            &[],
        ),
        (
            Mode::Html,
            "valid_switch::envelope_success",
            "actual:    text that is not JSON",
            &[],
        ),
        (
            Mode::InvalidUtf8,
            "valid_switch::envelope_success",
            "actual:    bytes that are not UTF-8",
            &[],
        ),
        (
            // Raw gzip bytes reach the rule: nothing is decompressed, so no bomb can expand.
            Mode::Gzip,
            "valid_switch::envelope_success",
            "actual:    bytes that are not UTF-8",
            &[],
        ),
        (
            Mode::Redirect,
            "valid_switch::status_is_200",
            "actual:    status 307",
            &[],
        ),
    ];
    for (mode, trial, fragment, extra) in table {
        let server = Hostile::start(*mode, Scope::Put);
        let mut a = vec!["--exact", trial];
        a.extend_from_slice(extra);
        let (run, took, _) = run_against(&server, &a);
        assert_eq!(run.code, 101, "{mode:?}: {}", run.all_output());
        assert_eq!(
            run.failed(),
            vec![trial.to_string()],
            "{mode:?}: {}",
            run.all_output()
        );
        let text = failure_of(&run, trial);
        assert!(
            text.contains(fragment),
            "{mode:?}: want {fragment:?} in\n{text}"
        );
        assert!(text.contains("reproduce: curl"), "{mode:?}: {text}");
        if *mode == Mode::Gzip {
            assert!(
                text.contains("body:      not UTF-8, 100 bytes: 1f 8b 08"),
                "{text}"
            );
        }
        assert!(!run.stderr.contains("panicked"), "{mode:?}: {}", run.stderr);
        assert!(took < HANG_LIMIT, "{mode:?} took {took:?}");
        if *mode == Mode::Redirect {
            assert!(text.contains("location:  http://localhost:"), "{text}");
            assert_eq!(
                server.elsewhere_hits.load(Ordering::Relaxed),
                0,
                "the redirect was followed"
            );
        }
    }
}

#[test]
fn later_steps_are_not_run_after_a_broken_step() {
    let server = Hostile::start(Mode::Silent, Scope::Put);
    let (run, _, _) = run_against(&server, &["valid_switch::"]);
    assert_eq!(run.code, 101, "{}", run.all_output());
    let text = failure_of(&run, "valid_switch::target_is_default");
    assert!(
        text.contains(
            "not run:   step `switch` could not be completed: no complete response within 1.0s"
        ),
        "{text}"
    );
}

#[test]
fn hostile_everywhere_makes_the_target_unusable() {
    let table: &[(Mode, &str)] = &[
        (Mode::Silent, "no complete response within 1.0s"),
        (Mode::Trickle, "no complete response within 1.0s"),
        (Mode::Endless, "response body exceeds the 1048576-byte cap"),
        (Mode::Reset, "transport error"),
        (Mode::Html, "a body that is not JSON"),
        (Mode::InvalidUtf8, "a body that is not JSON"),
        (Mode::Redirect, "answered 307"),
    ];
    for (mode, fragment) in table {
        let server = Hostile::start(*mode, Scope::All);
        let (run, took, peak) = run_against(&server, &[]);
        assert_eq!(run.code, 3, "{mode:?}: {}", run.all_output());
        assert!(
            run.stderr.contains(fragment),
            "{mode:?}: want {fragment:?} in {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{mode:?}: {}", run.stderr);
        assert!(took < HANG_LIMIT, "{mode:?} took {took:?}");
        // The body cap bounds memory: an endless body does not grow the process.
        assert!(peak < 150 * 1024 * 1024, "{mode:?}: peak RSS {peak} bytes");
    }
}

#[test]
fn a_refused_connection_is_reported_as_unusable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (run, took, _) = harness_measured(&remote_args(&format!("http://127.0.0.1:{port}"), &[]));
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    assert!(took < HANG_LIMIT);
}

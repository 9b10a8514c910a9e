//! A real Prometheus for integration tests: found (or installed, when running as root),
//! started on its own loopback port with its own config and data dir, and queried over a
//! tiny blocking HTTP client. Tests never skip: a missing Prometheus fails them loudly.
//!
//! The system service the Debian package may start on :9090 is never used.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const DEFAULT_BIN: &str = "/usr/bin/prometheus";
const BIN_ENV: &str = "MLTOP_PROMETHEUS_BIN";
const MISSING: &str = "Prometheus is required for this test and is not installed; install the \
     Debian package `prometheus` (apt-get install --no-install-recommends prometheus) or set \
     MLTOP_PROMETHEUS_BIN";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 5;

/// Write a progress line straight to the process's stderr (not captured by the test harness).
fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[mltop test support] {msg}");
}

/// Path of the Prometheus binary: `$MLTOP_PROMETHEUS_BIN` if set (it must exist: never
/// installed over), else `/usr/bin/prometheus`, installed from the Debian package when
/// missing and running as root. Panics with a specific message otherwise.
pub fn prometheus_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(resolve_binary).clone()
}

fn resolve_binary() -> PathBuf {
    if let Some(custom) = std::env::var_os(BIN_ENV) {
        let path = PathBuf::from(custom);
        if path.is_file() {
            return path;
        }
        panic!("{MISSING} ({BIN_ENV}={} does not exist)", path.display());
    }
    let path = PathBuf::from(DEFAULT_BIN);
    if path.is_file() {
        return path;
    }
    if !running_as_root() {
        panic!(
            "{MISSING} ({DEFAULT_BIN} is missing and the tests are not running as root, so they cannot install it)"
        );
    }
    if let Err(e) = install_prometheus() {
        panic!("{MISSING} (automatic install failed: {e})");
    }
    if !path.is_file() {
        panic!("{MISSING} (apt-get reported success but {DEFAULT_BIN} is still missing)");
    }
    path
}

fn running_as_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfs"
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `apt-get update` + install, serialised across concurrently running test binaries by
/// `flock` on a lock file (a kernel lock: released even if the holder dies). The binary is
/// checked again under the lock, so only the first binary installs.
fn install_prometheus() -> Result<(), String> {
    let lock = std::env::temp_dir().join("mltop-apt.lock");
    progress(&format!(
        "{DEFAULT_BIN} is missing: installing the Debian package `prometheus` \
         (apt-get update; apt-get install -y --no-install-recommends prometheus), \
         serialised by flock on {}",
        lock.display()
    ));
    let script = format!(
        "test -x {DEFAULT_BIN} && exit 0
         apt-get -o DPkg::Lock::Timeout=300 update &&
         apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends prometheus"
    );
    // apt's output goes to our stderr so that a CI log shows what happened.
    let to_stderr = || {
        std::os::fd::AsFd::as_fd(&std::io::stderr())
            .try_clone_to_owned()
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::inherit())
    };
    let status = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c", &script])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(to_stderr())
        .stderr(to_stderr())
        .status()
        .map_err(|e| format!("could not run `flock ... apt-get`: {e}"))?;
    if !status.success() {
        return Err(format!("apt-get exited with {status}"));
    }
    progress("Prometheus installed");
    Ok(())
}

/// A Prometheus server of the test's own, on `127.0.0.1:port`, stopped (its whole process
/// group) when dropped.
pub struct PrometheusServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    dir: TempDir,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl PrometheusServer {
    /// Start Prometheus scraping `targets` (`host:port`, path `/metrics`) in job `demo`
    /// every `scrape_interval_secs`, evaluating `extra_rules_yaml` (a rules file's YAML)
    /// at the same interval. Blocks until `/-/ready` answers 200 (30 s at most).
    pub fn start(
        targets: &[String],
        scrape_interval_secs: u32,
        extra_rules_yaml: Option<&str>,
    ) -> PrometheusServer {
        assert!(scrape_interval_secs >= 1, "scrape interval must be >= 1 s");
        prometheus_binary(); // fail (or install) before anything else
        let dir = tempfile::Builder::new()
            .prefix("mltop-prometheus-")
            .tempdir()
            .expect("create temp dir for Prometheus");
        let config = dir.path().join("prometheus.yml");
        let log = dir.path().join("prometheus.log");
        fs::create_dir_all(dir.path().join("data")).expect("create Prometheus data dir");

        // JSON strings are valid YAML scalars: quoting done right for free.
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let mut yaml = format!(
            "global:\n  scrape_interval: {i}s\n  scrape_timeout: {t}s\n  evaluation_interval: {i}s\n",
            i = scrape_interval_secs,
            t = scrape_interval_secs.min(10),
        );
        if let Some(rules) = extra_rules_yaml {
            let rules_path = dir.path().join("rules.yml");
            fs::write(&rules_path, rules).expect("write rules file");
            yaml += &format!("rule_files:\n  - {}\n", q(&rules_path.to_string_lossy()));
        }
        let targets: Vec<String> = targets.iter().map(|t| q(t)).collect();
        yaml += &format!(
            "scrape_configs:\n  - job_name: demo\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        fs::write(&config, yaml).expect("write prometheus.yml");

        let mut server = PrometheusServer {
            url: String::new(),
            port: 0,
            dir,
            config,
            log,
            child: None,
        };
        let mut last_err = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            server.url = format!("http://127.0.0.1:{}", server.port);
            match server.launch() {
                Ok(()) => return server,
                Err(Launch::PortTaken(e)) => {
                    progress(&format!(
                        "Prometheus could not take port {} (attempt {attempt}/{PORT_ATTEMPTS}): {e}",
                        server.port
                    ));
                    last_err = e;
                }
                Err(Launch::Failed(e)) => panic!("{e}"),
            }
        }
        panic!("Prometheus found no free port in {PORT_ATTEMPTS} attempts; last: {last_err}");
    }

    /// Stop the server now (Prometheus going down): the url refuses connections afterwards.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            kill_group(child);
        }
    }

    /// Start again on the same port with the same config and data dir; waits until ready.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_err = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match self.launch() {
                Ok(()) => return,
                Err(Launch::PortTaken(e)) => {
                    last_err = e;
                    thread::sleep(Duration::from_secs(1));
                }
                Err(Launch::Failed(e)) => panic!("{e}"),
            }
        }
        panic!(
            "Prometheus could not restart on port {}: {last_err}",
            self.port
        );
    }

    /// Temp dir holding prometheus.yml, rules.yml, data/ and prometheus.log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v1/query?query=...`: the JSON reply (also for PromQL errors, whose reply
    /// is a JSON envelope with `status: "error"`). Panics if the server can't be reached.
    pub fn query(&self, promql: &str) -> Value {
        self.try_query(promql)
            .unwrap_or_else(|e| panic!("Prometheus query {promql:?} failed: {e}"))
    }

    /// Like [`query`](Self::query), without panicking.
    pub fn try_query(&self, promql: &str) -> Result<Value, String> {
        let url = format!("{}/api/v1/query?query={}", self.url, percent_encode(promql));
        let (status, body) = http_get(&url, Duration::from_secs(10))?;
        serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, body not JSON ({e}): {body}"))
    }

    /// Poll `promql` every 500 ms until `pred` accepts the reply; returns that reply.
    /// Panics with the last reply (or error) after `timeout`.
    pub fn wait_until(
        &self,
        promql: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.try_query(promql) {
                Ok(v) if pred(&v) => return v,
                Ok(v) => v.to_string(),
                Err(e) => format!("error: {e}"),
            };
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting on Prometheus query {promql:?}; last reply: {last}\n--- prometheus log tail ---\n{}",
                    tail(&self.log(), 40)
                );
            }
            thread::sleep(Duration::from_millis(500));
        }
    }

    fn launch(&mut self) -> Result<(), Launch> {
        let bin = prometheus_binary();
        let data = self.dir.path().join("data");
        let logfile = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Launch::Failed(format!("open {}: {e}", self.log.display())))?;
        let log_len = logfile.metadata().map(|m| m.len()).unwrap_or(0);
        let err_log = logfile
            .try_clone()
            .map_err(|e| Launch::Failed(e.to_string()))?;
        // `sh` runs Prometheus plus a watchdog that stops it when our stdin pipe closes, i.e.
        // when this test process dies without running Drop (Ctrl-C, abort, timeout kill).
        // All three share a process group of their own, which stop()/Drop signal as a whole;
        // `sh` ignores SIGTERM so that it lives until Prometheus has shut down gracefully.
        let watchdog = r#"exec 3<&0
"$0" "$@" </dev/null &
p=$!
{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &
trap '' TERM
wait "$p""#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg(&bin)
            .arg(format!("--config.file={}", self.config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-lifecycle")
            .arg("--log.level=warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(logfile))
            .stderr(Stdio::from(err_log))
            .process_group(0)
            .spawn()
            .map_err(|e| Launch::Failed(format!("could not spawn {}: {e}", bin.display())))?;
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        let ready_url = format!("{}/-/ready", self.url);
        loop {
            let exited = self.child.as_mut().unwrap().try_wait().ok().flatten();
            if let Some(status) = exited {
                self.stop();
                let log = self.log_since(log_len);
                return Err(if log.contains("address already in use") {
                    Launch::PortTaken(tail(&log, 5))
                } else {
                    Launch::Failed(format!(
                        "Prometheus ({}) exited with {status} before it was ready\n--- {} ---\n{}",
                        bin.display(),
                        self.log.display(),
                        tail(&log, 40)
                    ))
                });
            }
            if let Ok((200, _)) = http_get(&ready_url, Duration::from_secs(2)) {
                // Make sure the server answering is ours, not another one that took the port.
                let flags = http_get(
                    &format!("{}/api/v1/status/flags", self.url),
                    Duration::from_secs(5),
                );
                let data_json = serde_json::to_string(&data.to_string_lossy()).unwrap();
                match flags {
                    Ok((200, body)) if body.contains(&data_json) => return Ok(()),
                    _ => {
                        self.stop();
                        return Err(Launch::PortTaken(
                            "another server answers on that port".into(),
                        ));
                    }
                }
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Launch::Failed(format!(
                    "Prometheus ({}) was not ready on {ready_url} within {READY_TIMEOUT:?}\n--- {} ---\n{}",
                    bin.display(),
                    self.log.display(),
                    tail(&self.log_since(log_len), 40)
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let all = fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(offset as usize..).unwrap_or(&[])).into_owned()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

/// SIGTERM the child's process group, wait up to 5 s, then SIGKILL it.
fn kill_group(mut child: Child) {
    let pgid = child.id();
    let signal = |sig: &str| {
        // `sh`'s builtin kill: no dependency on procps.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -s {sig} -- -{pgid}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; the watchdog may still be waiting on stdin.
            signal("KILL");
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    signal("KILL");
    let _ = child.kill();
    let _ = child.wait();
}

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Serve `body()` as a text-format `/metrics` page (any path) on a free loopback port from a
/// background thread; returns its `127.0.0.1:PORT`. The thread lives as long as the process.
pub fn serve_metrics(body: impl Fn() -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind metrics listener");
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let page = body();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    addr
}

/// First sample's value of an instant-vector (or scalar) query reply, as f64.
pub fn first_value(reply: &Value) -> Option<f64> {
    let data = reply.get("data")?;
    let value = match data.get("resultType")?.as_str()? {
        "vector" => data.get("result")?.get(0)?.get("value")?,
        "scalar" => data.get("result")?,
        _ => return None,
    };
    value.get(1)?.as_str()?.parse().ok()
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Blocking HTTP/1.1 GET of an `http://host[:port]/path` URL (`Connection: close`).
/// Returns the status code and the body (chunked transfer encoding decoded).
/// `timeout` bounds connecting and the whole exchange.
pub fn http_get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("resolve {host_port}: {e}"))?
        .collect();
    let deadline = Instant::now() + timeout;
    let mut stream = None;
    let mut last_err = format!("no address for {host_port}");
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("connect {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_err)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\nConnection: close\r\nUser-Agent: mltop-tests\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(timeout))
        .and_then(|_| stream.write_all(request.as_bytes()))
        .map_err(|e| format!("send to {url}: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("GET {url}: timed out after {timeout:?}"));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("GET {url}: read: {e}")),
        }
    }
    parse_response(&raw).map_err(|e| format!("GET {url}: {e}"))
}

pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let body = &raw[head_end + 4..];
    let body = if chunked {
        decode_chunked(body)?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or_else(|| format!("body shorter than Content-Length {n}"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

pub fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size line")?;
        let size_line = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_hex:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out); // trailers, if any, are ignored
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("missing CRLF after chunk")?;
    }
}

/// Last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

//! A small fault-injecting HTTP proxy for integration tests: it sits between mltop and a real
//! server (Prometheus) and, switched at run time, passes requests through or injects one fault:
//! refused connections, a hang, an HTTP 500, or a 200 whose body is not JSON.
//!
//! Every reply carries `Connection: close`, so a client never reuses a connection across a mode
//! switch: each request is decided by the mode in force when its head has been read. GET only
//! (a request body is not forwarded), which is all mltop sends to Prometheus.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the upstream server and relay its reply.
    PassThrough,
    /// Stop listening: connections are refused, as a stopped server's address refuses them.
    Refuse,
    /// Accept and read the request, never answer (until the client gives up).
    Hang,
    /// Answer `500 Internal Server Error` with the body `internal error`.
    Http500,
    /// Answer `200 OK` with the body `<html>not json`.
    Garbage,
}

/// A running proxy on `127.0.0.1:port`; stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    pub upstream: SocketAddr,
    mode: watch::Sender<Fault>,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

/// Longest a request head may take to arrive, and longest a hanging exchange is held.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const HANG_LIMIT: Duration = Duration::from_secs(120);
const MAX_HEAD: usize = 64 * 1024;

impl FaultProxy {
    /// Start on a free loopback port, passing through to `upstream`. Needs a tokio runtime.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fault proxy on 127.0.0.1");
        let port = listener.local_addr().expect("proxy address").port();
        let (mode, rx) = watch::channel(Fault::PassThrough);
        let requests = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(listener, port, upstream, rx, requests.clone()));
        FaultProxy {
            url: format!("http://127.0.0.1:{port}"),
            port,
            upstream,
            mode,
            requests,
            task,
        }
    }

    /// Switch the behaviour for every request whose head is read from now on.
    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }

    pub fn fault(&self) -> Fault {
        *self.mode.borrow()
    }

    /// Requests seen so far (all modes).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    first: TcpListener,
    port: u16,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Fault>,
    requests: Arc<AtomicU64>,
) {
    let mut listener = Some(first);
    loop {
        let refusing = *mode.borrow_and_update() == Fault::Refuse;
        if refusing {
            // Dropping the listener makes the kernel refuse new connections on the port.
            listener = None;
        } else if listener.is_none() {
            listener = Some(rebind(port).await);
        }
        match &listener {
            None => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            Some(l) => {
                tokio::select! {
                    changed = mode.changed() => if changed.is_err() { return },
                    accepted = l.accept() => {
                        if let Ok((stream, _)) = accepted {
                            let mode = mode.clone();
                            let requests = requests.clone();
                            tokio::spawn(async move {
                                let _ = handle(stream, upstream, mode, requests).await;
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Bind the same port again (SO_REUSEADDR is set by tokio on Unix); retried briefly.
async fn rebind(port: u16) -> TcpListener {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the fault proxy could not listen on 127.0.0.1:{port} again: {last:?}");
}

/// Read up to the end of the request head; returns the head (without the blank line) and any
/// bytes read past it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok((head, buf[end + 4..].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = tokio::time::timeout(HEAD_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::other("request head timed out"))??;
        if n == 0 {
            return Err(std::io::Error::other("client closed before the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn canned(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: watch::Receiver<Fault>,
    requests: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    requests.fetch_add(1, Ordering::Relaxed);
    let fault = *mode.borrow();
    match fault {
        // Accepted just before the switch: behave as a dead server would, drop the connection.
        Fault::Refuse => Ok(()),
        Fault::Hang => {
            // Hold the connection, answering nothing, until the client gives up (EOF).
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(HANG_LIMIT, async {
                while let Ok(n) = client.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            Ok(())
        }
        Fault::Http500 => {
            let reply = canned(
                "500 Internal Server Error",
                "text/plain; charset=utf-8",
                "internal error",
            );
            client.write_all(reply.as_bytes()).await?;
            client.shutdown().await
        }
        Fault::Garbage => {
            let reply = canned("200 OK", "text/html", "<html>not json");
            client.write_all(reply.as_bytes()).await?;
            client.shutdown().await
        }
        Fault::PassThrough => {
            let mut server = match TcpStream::connect(upstream).await {
                Ok(s) => s,
                Err(e) => {
                    let reply = canned(
                        "502 Bad Gateway",
                        "text/plain; charset=utf-8",
                        &format!("fault proxy: upstream {upstream} unreachable: {e}"),
                    );
                    client.write_all(reply.as_bytes()).await?;
                    return client.shutdown().await;
                }
            };
            // Hop-by-hop headers are replaced: one request per upstream connection.
            let mut forwarded: Vec<&str> = head
                .split("\r\n")
                .filter(|line| {
                    let name = line.split(':').next().unwrap_or("").trim();
                    !(name.eq_ignore_ascii_case("connection")
                        || name.eq_ignore_ascii_case("keep-alive")
                        || name.eq_ignore_ascii_case("proxy-connection"))
                })
                .collect();
            forwarded.push("Connection: close");
            let request = format!("{}\r\n\r\n", forwarded.join("\r\n"));
            server.write_all(request.as_bytes()).await?;
            server.write_all(&rest).await?;
            // The upstream closes after its reply (Connection: close): relay until EOF.
            tokio::io::copy(&mut server, &mut client).await?;
            client.shutdown().await
        }
    }
}

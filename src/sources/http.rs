//! The one HTTP client builder every source uses: timeouts, auth, custom headers, a user agent
//! and a limit on the size of a reply. TLS certificates are always verified.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

use crate::config::Auth;
use crate::sanitize::clean;

/// Why a request got no usable reply.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The server could not be reached or did not answer in time: the whole source is down.
    Transport(String),
    /// The server answered, but not with something usable (status, size, content).
    Reply(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Transport(s) | FetchError::Reply(s) => f.write_str(s),
        }
    }
}

/// Why a write got no usable reply.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// The connection was never made: the server did not see the request.
    NotSent(String),
    /// Sent, but no complete answer (timeout, connection reset): it may have taken effect.
    Unknown(String),
}

/// A body with its HTTP status.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    timeout: Duration,
    max_body: usize,
}

/// Make sure rustls has its crypto provider (ring). Safe to call many times.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpClient {
    pub fn new(
        timeout: Duration,
        headers: &[(String, String)],
        auth: &Auth,
        max_body: usize,
    ) -> Result<HttpClient, String> {
        install_crypto();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("`{k}` is not a valid HTTP header name"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("the value of header `{k}` is not valid in HTTP"))?;
            map.insert(name, value);
        }
        match auth {
            Auth::None => {}
            Auth::Bearer { token } => {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                        "the bearer token contains characters not allowed in HTTP".to_string()
                    })?;
                v.set_sensitive(true);
                map.insert(reqwest::header::AUTHORIZATION, v);
            }
            Auth::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                let mut v = HeaderValue::from_str(&format!("Basic {}", base64(raw.as_bytes())))
                    .map_err(|_| "the basic-auth credentials are not valid in HTTP".to_string())?;
                v.set_sensitive(true);
                map.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        let inner = reqwest::Client::builder()
            .user_agent(concat!("mltop/", env!("CARGO_PKG_VERSION")))
            .default_headers(map)
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(HttpClient {
            inner,
            timeout,
            max_body,
        })
    }

    /// GET `url` with query parameters; the body is read up to the size limit.
    pub async fn get(&self, url: &url::Url, query: &[(&str, String)]) -> Result<Reply, FetchError> {
        let req = self.inner.get(url.clone()).query(query);
        self.send(req, url).await
    }

    /// Send a request with a JSON body (writes). A write that may have reached the server
    /// but got no answer is `WriteError::Unknown`: the caller must re-read, never retry blindly.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        body: &serde_json::Value,
    ) -> Result<Reply, WriteError> {
        let req = self.inner.request(method, url.clone()).json(body);
        match req.send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let mut body = Vec::new();
                loop {
                    match resp.chunk().await {
                        Ok(Some(c)) if body.len() + c.len() <= self.max_body => {
                            body.extend_from_slice(&c)
                        }
                        Ok(Some(_)) => {
                            return Err(WriteError::Unknown(
                                "the reply exceeded max_body_bytes".into(),
                            ));
                        }
                        Ok(None) => break,
                        Err(e) => {
                            return Err(WriteError::Unknown(self.transport(e, url).to_string()));
                        }
                    }
                }
                Ok(Reply { status, body })
            }
            Err(e) if e.is_connect() => {
                Err(WriteError::NotSent(self.transport(e, url).to_string()))
            }
            Err(e) => Err(WriteError::Unknown(self.transport(e, url).to_string())),
        }
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &url::Url,
    ) -> Result<Reply, FetchError> {
        let mut resp = req.send().await.map_err(|e| self.transport(e, url))?;
        let status = resp.status().as_u16();
        if let Some(len) = resp.content_length()
            && len as usize > self.max_body
        {
            return Err(FetchError::Reply(format!(
                "reply of {len} bytes exceeds the {} byte limit (max_body_bytes)",
                self.max_body
            )));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body {
                        return Err(FetchError::Reply(format!(
                            "reply exceeds the {} byte limit (max_body_bytes)",
                            self.max_body
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport(e, url)),
            }
        }
        Ok(Reply { status, body })
    }

    fn transport(&self, e: reqwest::Error, url: &url::Url) -> FetchError {
        let host = url.host_str().unwrap_or("?");
        let port = url.port_or_known_default().unwrap_or(0);
        let what = if e.is_timeout() {
            format!(
                "no reply within {}",
                humantime::format_duration(self.timeout)
            )
        } else {
            // The innermost cause says the most: "Connection refused (os error 111)".
            let mut source: &dyn std::error::Error = &e;
            while let Some(s) = source.source() {
                source = s;
            }
            let root = source.to_string();
            if e.is_connect() {
                format!("cannot connect: {root}")
            } else {
                root
            }
        };
        FetchError::Transport(clean(&format!("{host}:{port}: {what}"), 200))
    }
}

/// Standard base64 (RFC 4648) for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in cases {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}

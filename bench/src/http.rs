//! A minimal HTTP/1.1 client on one keep-alive connection: the harness's own
//! requests (set-up, latency probes, the rotation load) cost only a write and
//! a read, so what is measured is the server.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

pub struct Response {
    pub status: u16,
    pub body: String,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// A request's bytes: `Host`, optional bearer token, optional JSON body.
pub fn request(method: &str, path: &str, bearer: Option<&str>, json: Option<&str>) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match json {
        Some(body) => head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => head.push_str("\r\n"),
    }
    head.into_bytes()
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Whether the server has closed this connection (or sent something unasked)
    /// since its last answer: a client opens another rather than send on it.
    pub fn closed(&self) -> bool {
        !matches!(self.stream.try_read(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Sends `request` and reads the whole answer (sized by `Content-Length`).
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).map_err(|_| invalid("a head that is not UTF-8"))?;
                let status = head
                    .get(9..12)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| invalid("no status"))?;
                let length = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let total = end + 4 + length;
                while self.buf.len() < total {
                    if self.stream.read_buf(&mut self.buf).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..total]).into_owned();
                return Ok(Response { status, body });
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// [`Conn::send`], and how long the answer took.
    pub async fn timed(&mut self, request: &[u8]) -> io::Result<(Response, Duration)> {
        let started = Instant::now();
        let response = self.send(request).await?;
        Ok((response, started.elapsed()))
    }
}

/// One request on a connection of its own.
pub async fn once(addr: SocketAddr, request: &[u8]) -> io::Result<Response> {
    Conn::open(addr).await?.send(request).await
}

/// The string value of `"field":"…"` in a JSON answer, without parsing the rest.
pub fn field<'a>(body: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\":\"");
    let start = body.find(&key)? + key.len();
    let len = body[start..].find('"')?;
    Some(&body[start..start + len])
}

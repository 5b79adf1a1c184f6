//! A deliberately small HTTP/1.1 client: one blocking keep-alive connection, requests
//! written in one `write_all`, responses framed by `Content-Length` or chunked encoding.
//!
//! The load generator shares the machine's cores with the server it measures, so every
//! request must cost the client as little as possible: no async runtime, no TLS, no
//! header map, buffers reused across requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::Result;

/// Long enough for a recommendations report over a million events on a loaded
/// machine, short enough that a hung server fails the call instead of the whole run.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// One keep-alive connection to the server, opened on first use and reopened after the
/// server closes it.
pub struct Client {
    timeout: Duration,
    /// `Content-Type` and `Content-Encoding` of request bodies (JSON, not encoded, unless
    /// [`Client::sending`] says otherwise).
    content: (&'static str, Option<&'static str>),
    addr: SocketAddr,
    authorization: Option<String>,
    conn: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: String,
}

/// What the status line and headers said about the body.
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
    None,
}

impl Client {
    pub fn new(addr: SocketAddr, bearer: Option<&str>) -> Client {
        Client::patient(addr, bearer, IO_TIMEOUT)
    }

    /// A client that waits up to `timeout` for a response (a long re-pricing).
    pub fn patient(addr: SocketAddr, bearer: Option<&str>, timeout: Duration) -> Client {
        Client {
            timeout,
            content: ("application/json", None),
            addr,
            authorization: bearer.map(|t| format!("Bearer {t}")),
            conn: None,
            request: Vec::with_capacity(4096),
            line: String::with_capacity(256),
        }
    }

    /// This client, sending bodies of `content_type`, encoded as `encoding` (`gzip`).
    pub fn sending(mut self, content_type: &'static str, encoding: Option<&'static str>) -> Client {
        self.content = (content_type, encoding);
        self
    }

    /// Sends one request and reads the whole response into `body`; returns the status.
    /// After an I/O error the connection is dropped, so the next call reconnects.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        payload: Option<&[u8]>,
        body: &mut Vec<u8>,
    ) -> Result<u16> {
        let outcome = self.exchange(method, path, payload, body);
        match outcome {
            Ok(head) => {
                if head.close {
                    self.conn = None;
                }
                Ok(head.status)
            }
            Err(e) => {
                self.conn = None;
                Err(match e.kind() {
                    // A read timeout surfaces as EAGAIN on Linux.
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        format!("{method} {path}: no response within {:?}", self.timeout)
                    }
                    _ => format!("{method} {path}: {e}"),
                })
            }
        }
    }

    /// [`Client::send`] for callers that want the body as a string.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        payload: Option<&[u8]>,
    ) -> Result<(u16, String)> {
        let mut body = Vec::new();
        let status = self.send(method, path, payload, &mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        payload: Option<&[u8]>,
        body: &mut Vec<u8>,
    ) -> std::io::Result<Head> {
        self.encode(method, path, payload);
        let conn = match &mut self.conn {
            Some(c) => c,
            slot => slot.insert(connect(self.addr, self.timeout)?),
        };
        conn.get_mut().write_all(&self.request)?;
        let head = read_head(conn, &mut self.line)?;
        body.clear();
        read_body(conn, &head.framing, &mut self.line, body)?;
        Ok(head)
    }

    fn encode(&mut self, method: &str, path: &str, payload: Option<&[u8]>) {
        let r = &mut self.request;
        r.clear();
        for part in [method, " ", path, " HTTP/1.1\r\nHost: ", "bench\r\n"] {
            r.extend_from_slice(part.as_bytes());
        }
        if let Some(auth) = &self.authorization {
            r.extend_from_slice(b"Authorization: ");
            r.extend_from_slice(auth.as_bytes());
            r.extend_from_slice(b"\r\n");
        }
        if let Some(p) = payload {
            let (content_type, encoding) = self.content;
            r.extend_from_slice(b"Content-Type: ");
            r.extend_from_slice(content_type.as_bytes());
            if let Some(encoding) = encoding {
                r.extend_from_slice(b"\r\nContent-Encoding: ");
                r.extend_from_slice(encoding.as_bytes());
            }
            r.extend_from_slice(b"\r\nContent-Length: ");
            r.extend_from_slice(p.len().to_string().as_bytes());
            r.extend_from_slice(b"\r\n\r\n");
            r.extend_from_slice(p);
        } else {
            r.extend_from_slice(b"\r\n");
        }
    }
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // Without it Nagle's algorithm holds back small requests on a reused connection.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(BufReader::with_capacity(64 * 1024, stream))
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF-terminated line into `line` (without the terminator).
fn read_line(conn: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    if conn.read_line(line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    Ok(())
}

fn read_head(conn: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<Head> {
    // Interim 1xx responses (100 Continue) precede the real one.
    loop {
        read_line(conn, line)?;
        let status = parse_status(line)?;
        let head = read_headers(conn, line, status)?;
        if !(100..200).contains(&status) {
            return Ok(head);
        }
    }
}

fn parse_status(line: &str) -> std::io::Result<u16> {
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(invalid(format!("not an HTTP/1.x status line: {line:?}")));
    }
    parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line: {line:?}")))
}

fn read_headers(
    conn: &mut BufReader<TcpStream>,
    line: &mut String,
    status: u16,
) -> std::io::Result<Head> {
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    loop {
        read_line(conn, line)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("bad header line: {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid(format!("bad content-length: {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let framing = match (chunked, length) {
        // RFC 9112 §6.3: chunked wins over a Content-Length sent alongside it.
        (true, _) => Framing::Chunked,
        _ if status == 204 || status == 304 || (100..200).contains(&status) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    };
    let close = close || matches!(framing, Framing::UntilClose);
    Ok(Head {
        status,
        framing,
        close,
    })
}

fn read_body(
    conn: &mut BufReader<TcpStream>,
    framing: &Framing,
    line: &mut String,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(n) => read_exact_into(conn, *n, body),
        Framing::UntilClose => conn.read_to_end(body).map(|_| ()),
        Framing::Chunked => read_chunked(conn, line, body),
    }
}

fn read_exact_into(
    conn: &mut BufReader<TcpStream>,
    n: usize,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    let start = body.len();
    body.resize(start + n, 0);
    conn.read_exact(&mut body[start..])
}

fn read_chunked(
    conn: &mut BufReader<TcpStream>,
    line: &mut String,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    loop {
        read_line(conn, line)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size: {line:?}")))?;
        if size == 0 {
            // Trailer fields, if any, end with an empty line.
            loop {
                read_line(conn, line)?;
                if line.is_empty() {
                    return Ok(());
                }
            }
        }
        read_exact_into(conn, size, body)?;
        read_line(conn, line)?;
        if !line.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// Serves `responses` in order on one connection, reading each request head (and
    /// ignoring bodies, which these tests do not send).
    fn serve(responses: Vec<&'static str>) -> Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        std::thread::spawn(move || -> std::io::Result<()> {
            let (stream, _) = listener.accept()?;
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut writer = stream;
            for response in responses {
                let mut line = String::new();
                while reader.read_line(&mut line)? > 0 && line != "\r\n" {
                    line.clear();
                }
                writer.write_all(response.as_bytes())?;
            }
            Ok(())
        });
        Ok(addr)
    }

    #[test]
    fn reads_length_chunked_and_empty_bodies_on_one_connection() -> Result<()> {
        let addr = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: t\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ])?;
        let mut client = Client::new(addr, Some("t"));
        assert_eq!(client.call("GET", "/a", None)?, (200, "{}".into()));
        assert_eq!(
            client.call("POST", "/b", Some(b"{}"))?,
            (201, "{\"a\":1}".into())
        );
        assert_eq!(client.call("DELETE", "/c", None)?, (204, String::new()));
        assert_eq!(client.call("GET", "/d", None)?, (503, String::new()));
        assert!(client.conn.is_none(), "closed after Connection: close");
        Ok(())
    }

    #[test]
    fn encodes_requests_with_length_and_credentials() {
        let Ok(addr) = "127.0.0.1:9".parse() else {
            return;
        };
        let mut client = Client::new(addr, Some("k"));
        client.encode("POST", "/x", Some(b"{}"));
        assert_eq!(
            String::from_utf8_lossy(&client.request),
            "POST /x HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer k\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}

//! The webhook receiver the tenants part delivers to: HTTP/1.1 on a free loopback port,
//! keep-alive, a thread per connection, `204` to every request at once. It counts what
//! arrives and when the first and the latest request did, so the delivery rate is the
//! server's, not a slow receiver's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::Result;

/// An idle keep-alive connection is closed after this, so no thread outlives a run by
/// much.
const IDLE: Duration = Duration::from_secs(30);

/// What arrived since the last [`Receiver::reset`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Arrivals {
    pub count: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    arrivals: Arc<Mutex<Arrivals>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start() -> Result<Receiver> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("receiver: no port: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (arrivals.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    return;
                }
                if let Ok(stream) = stream {
                    let seen = seen.clone();
                    std::thread::spawn(move || serve(stream, &seen));
                }
            }
        });
        Ok(Receiver {
            addr,
            arrivals,
            stop,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn arrivals(&self) -> Arrivals {
        *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn reset(&self) {
        *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner) = Arrivals::default();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Answers every request on `stream` until the client closes it or it idles.
fn serve(stream: TcpStream, arrivals: &Mutex<Arrivals>) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        let Some(length) = read_head(&mut reader, &mut line) else {
            return;
        };
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let now = Instant::now();
            let mut a = arrivals.lock().unwrap_or_else(PoisonError::into_inner);
            a.count += 1;
            a.first.get_or_insert(now);
            a.last = Some(now);
        }
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Reads a request line and headers; the body's length, or `None` at the end of the
/// connection.
fn read_head(reader: &mut impl BufRead, line: &mut String) -> Option<usize> {
    line.clear();
    if reader.read_line(line).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            return Some(length);
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_on_one_connection() -> Result<()> {
        let receiver = Receiver::start()?;
        let mut client = super::super::super::client::Client::new(receiver.addr, None);
        for _ in 0..3 {
            let (status, _) = client.call("POST", "/hook", Some(b"{\"a\":1}"))?;
            assert_eq!(status, 204);
        }
        let a = receiver.arrivals();
        assert_eq!(a.count, 3);
        assert!(a.first <= a.last);
        receiver.reset();
        assert_eq!(receiver.arrivals().count, 0);
        Ok(())
    }
}

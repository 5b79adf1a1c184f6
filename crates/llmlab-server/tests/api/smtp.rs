//! An SMTP sink: a real SMTP server on a free loopback port that accepts every login and
//! message and records them, so email is tested over the wire with the production client.
//! It speaks what lettre's client needs of RFC 5321 (EHLO/HELO, AUTH PLAIN and LOGIN,
//! MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and offers no STARTTLS. A
//! recipient whose local part is `nobody`, or one the test has refused, is rejected with
//! 550, as an unknown user is.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use llmlab_app::notify::email::SmtpSettings;
use llmlab_server::delivery::email::Mailer;

/// One accepted message: its envelope, the raw DATA (unstuffed, CRLF line ends, without
/// the final dot) and the user the session logged in as.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    pub user: Option<String>,
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
    /// Addresses rejected from now on, besides every `nobody@`.
    refused: Mutex<Vec<String>>,
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let inbox = shared.clone();
                // A session that breaks off mid-way is the client's business, not the sink's.
                std::thread::spawn(move || {
                    let _ = session(stream, &inbox);
                });
            }
        });
        SmtpSink { addr, inbox }
    }

    /// The sink's URL with the credentials `user` / `secret`.
    pub fn url(&self) -> String {
        format!("smtp://user:secret@{}", self.addr)
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.inbox.mails.lock().unwrap().clone()
    }

    /// Rejects `address` from now on, as a server does a mailbox that was closed.
    pub fn refuse(&self, address: &str) {
        self.inbox.refused.lock().unwrap().push(address.to_string());
    }

    /// Forgets the messages `which` picks, as if they had never arrived.
    pub fn discard(&self, which: impl Fn(&Mail) -> bool) {
        self.inbox.mails.lock().unwrap().retain(|m| !which(m));
    }

    /// The messages once there are at least `n`, or whatever arrived within `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let mails = self.inbox.mails.lock().unwrap();
        let (mails, _) = self
            .inbox
            .arrived
            .wait_timeout_while(mails, timeout, |m| m.len() < n)
            .unwrap();
        mails.clone()
    }
}

fn session(stream: TcpStream, inbox: &Inbox) -> io::Result<()> {
    // A client that goes quiet must not pin the thread forever.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    reply(&mut out, "220 sink.test ESMTP ready")?;
    let mut user = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut reader)? {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply(
                &mut out,
                "250-sink.test greets you\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME",
            )?,
            "HELO" => reply(&mut out, "250 sink.test")?,
            "AUTH" => {
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let initial = words.next().map(str::to_string);
                let login = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(r) => r,
                            None => challenge(&mut out, &mut reader, "334 ")?,
                        };
                        // authzid NUL authcid NUL password
                        let decoded = base64(&response);
                        decoded.split('\0').nth(1).map(str::to_string)
                    }
                    "LOGIN" => {
                        let name = match initial {
                            Some(r) => r,
                            None => challenge(&mut out, &mut reader, "334 VXNlcm5hbWU6")?,
                        };
                        challenge(&mut out, &mut reader, "334 UGFzc3dvcmQ6")?;
                        Some(base64(&name))
                    }
                    _ => None,
                };
                match login {
                    Some(name) => {
                        user = Some(name);
                        reply(&mut out, "235 2.7.0 Authentication successful")?;
                    }
                    None => reply(&mut out, "504 5.5.4 Unrecognized authentication type")?,
                }
            }
            "MAIL" => {
                from = Some(path(&line));
                to.clear();
                reply(&mut out, "250 2.1.0 OK")?;
            }
            "RCPT" if from.is_none() => reply(&mut out, "503 5.5.1 MAIL first")?,
            "RCPT" => {
                let address = path(&line);
                let refused = inbox.refused.lock().unwrap().contains(&address);
                if refused || address.split('@').next() == Some("nobody") {
                    let answer = format!("550 5.1.1 <{address}>: Recipient address rejected");
                    reply(&mut out, &answer)?;
                } else {
                    to.push(address);
                    reply(&mut out, "250 2.1.5 OK")?;
                }
            }
            "DATA" if to.is_empty() => reply(&mut out, "503 5.5.1 RCPT first")?,
            "DATA" => {
                reply(&mut out, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut lines = Vec::new();
                loop {
                    let Some(l) = read_line(&mut reader)? else {
                        return Ok(());
                    };
                    if l == "." {
                        break;
                    }
                    lines.push(l.strip_prefix('.').unwrap_or(&l).to_string());
                }
                let mail = Mail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data: lines.join("\r\n"),
                    user: user.clone(),
                };
                inbox.mails.lock().unwrap().push(mail);
                inbox.arrived.notify_all();
                reply(&mut out, "250 2.0.0 OK queued")?;
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut out, "250 2.0.0 OK")?;
            }
            "NOOP" => reply(&mut out, "250 2.0.0 OK")?,
            "QUIT" => return reply(&mut out, "221 2.0.0 Bye"),
            _ => reply(&mut out, "502 5.5.2 Command not recognized")?,
        }
    }
    Ok(())
}

fn reply(out: &mut TcpStream, text: &str) -> io::Result<()> {
    out.write_all(format!("{text}\r\n").as_bytes())?;
    out.flush()
}

/// A line without its CRLF; `None` at the end of the stream.
fn read_line(reader: &mut BufReader<TcpStream>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn challenge(
    out: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    prompt: &str,
) -> io::Result<String> {
    reply(out, prompt)?;
    read_line(reader)?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
}

/// The address in `MAIL FROM:<a@b> BODY=8BITMIME` or `RCPT TO:<a@b>`.
fn path(line: &str) -> String {
    match (line.find('<'), line.find('>')) {
        (Some(start), Some(end)) if start < end => line[start + 1..end].to_string(),
        _ => line
            .split_once(':')
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
            .unwrap_or_default(),
    }
}

fn base64(s: &str) -> String {
    String::from_utf8_lossy(&base64_bytes(s)).into_owned()
}

fn base64_bytes(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in s.bytes().take_while(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    bytes
}

impl Mail {
    /// The `text/plain` part, its transfer encoding (quoted-printable, base64 or none)
    /// undone.
    pub fn text(&self) -> String {
        let start = self
            .data
            .find("Content-Type: text/plain")
            .unwrap_or_else(|| panic!("no text part in {}", self.data));
        let part = &self.data[start..];
        let (head, body) = part.split_once("\r\n\r\n").unwrap();
        let body = body.split("\r\n--").next().unwrap_or_default();
        let encoding = head.to_ascii_lowercase();
        if encoding.contains("content-transfer-encoding: base64") {
            String::from_utf8_lossy(&base64_bytes(&body.replace("\r\n", ""))).into_owned()
        } else if encoding.contains("content-transfer-encoding: quoted-printable") {
            let joined = body.replace("=\r\n", "");
            let raw = joined.as_bytes();
            let mut bytes = Vec::new();
            let mut i = 0;
            while i < raw.len() {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match (raw[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                    (b'=', Some(b)) => {
                        bytes.push(b);
                        i += 3;
                    }
                    (b, _) => {
                        bytes.push(b);
                        i += 1;
                    }
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_string()
        }
    }

    /// The header `name` as it travelled (unfolded), `None` when absent.
    pub fn raw_header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        unfolded
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim_start().to_string())
    }

    /// The header `name` as a mail client shows it: every RFC 2047 encoded-word decoded,
    /// wherever it stands (as lenient clients do, quoted strings included).
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw_header(name).map(|v| decode_words(&v))
    }
}

/// `value` with each `=?charset?b|q?text?=` decoded and the blanks between two adjacent
/// encoded-words dropped (RFC 2047, section 6.2).
pub fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        if let Some(word) = rest.strip_prefix("=?")
            && let Some((decoded, used)) = encoded_word(word)
        {
            out.extend(decoded);
            rest = &rest[2 + used..];
            after_word = true;
            continue;
        }
        if after_word {
            let blank = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if blank > 0 && rest[blank..].starts_with("=?") {
                rest = &rest[blank..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap();
        let mut buf = [0; 4];
        out.extend(c.encode_utf8(&mut buf).as_bytes());
        rest = &rest[c.len_utf8()..];
        after_word = false;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bytes of the encoded-word starting after `=?`, and how much of `s` it used.
fn encoded_word(s: &str) -> Option<(Vec<u8>, usize)> {
    let mut parts = s.splitn(3, '?');
    let charset = parts.next()?;
    let encoding = parts.next()?;
    let rest = parts.next()?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if charset.is_empty() || text.contains(' ') {
        return None;
    }
    let bytes = match encoding {
        "b" | "B" => base64_bytes(text),
        "q" | "Q" => {
            let mut bytes = Vec::new();
            let mut i = 0;
            let raw = text.as_bytes();
            while i < raw.len() {
                match raw[i] {
                    b'_' => bytes.push(b' '),
                    b'=' => {
                        let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                        bytes.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b => bytes.push(b),
                }
                i += 1;
            }
            bytes
        }
        _ => return None,
    };
    Some((bytes, charset.len() + encoding.len() + end + 4))
}

fn mailer(url: String, timeout: Duration) -> Mailer {
    let settings = SmtpSettings {
        url,
        from: "LLMLab <alerts@llmlab.test>".to_string(),
    };
    Mailer::new(&settings, timeout).unwrap()
}

#[test]
fn smtp_mailer_delivers_multipart_mail_to_the_sink() {
    let sink = SmtpSink::start();
    let to = vec!["ops@example.com".to_string(), "cfo@example.com".to_string()];
    let text = "Spend reached 100% of the budget.\n.hidden line";
    let html = "<p>Spend reached <b>100%</b> of the budget.</p>";
    mailer(sink.url(), Duration::from_secs(5))
        .send(&to, "Budget reached", text, html)
        .unwrap();

    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "alerts@llmlab.test");
    assert_eq!(mail.to, to);
    assert_eq!(mail.user.as_deref(), Some("user"));
    let data = &mail.data;
    assert!(data.contains("\r\nSubject: Budget reached\r\n"), "{data}");
    assert!(data.contains("From: LLMLab <alerts@llmlab.test>"), "{data}");
    assert!(
        data.contains("To: ops@example.com, cfo@example.com"),
        "{data}"
    );
    assert!(
        data.contains("Content-Type: multipart/alternative"),
        "{data}"
    );
    let plain = data.find("Content-Type: text/plain").expect("a text part");
    let rich = data.find("Content-Type: text/html").expect("an HTML part");
    assert!(plain < rich, "the richer part comes last: {data}");
    assert!(data.contains("Spend reached 100% of the budget."), "{data}");
    assert!(data.contains(html), "{data}");
    // Stuffed by the client, unstuffed by the server: the body arrives as written.
    assert!(data.contains("\r\n.hidden line"), "{data}");
    assert!(!data.contains("..hidden"), "{data}");
}

#[test]
fn smtp_credentials_are_percent_decoded() {
    let sink = SmtpSink::start();
    let url = format!("smtp://ops%40llmlab.test:s%3Acr%40t@{}", sink.addr);
    mailer(url, Duration::from_secs(5))
        .send(&["a@example.com".to_string()], "s", "t", "<p>h</p>")
        .unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails[0].user.as_deref(), Some("ops@llmlab.test"));
}

#[test]
fn smtp_a_rejected_recipient_is_an_error_and_nothing_is_sent() {
    let sink = SmtpSink::start();
    let to = vec![
        "ops@example.com".to_string(),
        "nobody@example.com".to_string(),
    ];
    let err = mailer(sink.url(), Duration::from_secs(5))
        .send(&to, "s", "t", "<p>h</p>")
        .unwrap_err();
    assert!(err.contains("rejected"), "{err}");
    assert!(err.contains("nobody@example.com"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    // The client gave up before DATA, so there is nothing to wait for.
    assert!(sink.messages().is_empty());
}

#[test]
fn smtp_an_unreachable_server_fails_fast() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("smtp://user:secret@127.0.0.1:{port}");
    let started = Instant::now();
    let err = mailer(url, Duration::from_secs(2))
        .send(&["a@example.com".to_string()], "s", "t", "<p>h</p>")
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("could not reach"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn smtp_subjects_and_display_names_reach_the_reader_as_written() {
    let sink = SmtpSink::start();
    let settings = SmtpSettings {
        url: sink.url(),
        from: "=?utf-8?q?Your_Bank?= <alerts@llmlab.test>".to_string(),
    };
    let mailer = Mailer::new(&settings, Duration::from_secs(5)).unwrap();
    let subjects = [
        "Acme =?utf-8?q?Pay_now_at_evil.example?= report",
        "Größe =?utf-8?b?UGF5?= · résumé",
        "plain ASCII stays readable",
        "a control\u{1b}[31m character",
    ];
    for subject in subjects {
        mailer
            .send(&["ops@example.com".to_string()], subject, "t", "<p>h</p>")
            .unwrap();
    }
    let mails = sink.wait_for(subjects.len(), Duration::from_secs(5));
    assert_eq!(mails.len(), subjects.len());
    for (mail, subject) in mails.iter().zip(subjects) {
        assert_eq!(
            mail.header("Subject").as_deref(),
            Some(subject),
            "{}",
            mail.data
        );
        // Every header line is printable ASCII: nothing for a client to guess at.
        let head = mail.data.split("\r\n\r\n").next().unwrap();
        assert!(
            head.bytes()
                .all(|b| b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b)),
            "{head}"
        );
        assert_eq!(
            mail.header("From").as_deref(),
            Some("=?utf-8?q?Your_Bank?= <alerts@llmlab.test>"),
            "{}",
            mail.data
        );
    }
    assert_eq!(
        mails[2].raw_header("Subject").as_deref(),
        Some("plain ASCII stays readable")
    );
    assert_eq!(mails[0].from, "alerts@llmlab.test");
}

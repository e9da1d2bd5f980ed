//! A small SMTP server (RFC 5321) for the sandbox and tests: EHLO/HELO, AUTH PLAIN and
//! LOGIN when credentials are set, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT. No TLS: it stands in for a local relay. Keeps every accepted message.
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest command line accepted (RFC 5321 4.5.3.1.4 allows 512 octets).
const MAX_LINE: usize = 1000;
/// Largest message accepted (advertised as SIZE).
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct FakeSmtpConfig {
    /// `(user, password)` required before MAIL; `None`: no authentication.
    pub credentials: Option<(String, String)>,
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpMessage {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
}

#[derive(Clone, Default)]
pub struct FakeSmtp {
    config: Arc<FakeSmtpConfig>,
    received: Arc<Mutex<Vec<SmtpMessage>>>,
}

pub struct RunningSmtp {
    pub addr: SocketAddr,
    pub state: FakeSmtp,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningSmtp {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl FakeSmtp {
    pub fn config(&self) -> &FakeSmtpConfig {
        &self.config
    }

    pub fn received(&self) -> Vec<SmtpMessage> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub async fn spawn(config: FakeSmtpConfig, addr: SocketAddr) -> std::io::Result<RunningSmtp> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = FakeSmtp {
            config: Arc::new(config),
            received: Arc::default(),
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let server = state.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => {
                            let server = server.clone();
                            sessions.spawn(async move {
                                if let Err(e) = server.session(socket).await {
                                    tracing::debug!(error = %e, "fake smtp session ended");
                                }
                            });
                        }
                        Err(e) => tracing::warn!(error = %e, "fake smtp accept failed"),
                    },
                    Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                    _ = &mut stopped => break,
                }
            }
            sessions.abort_all();
        });
        Ok(RunningSmtp {
            addr,
            state,
            stop,
            task,
        })
    }

    async fn session(&self, socket: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 fake-smtp ESMTP ready\r\n").await?;
        let mut authenticated = self.config.credentials.is_none();
        let mut greeted = false;
        let mut from: Option<String> = None;
        let mut to: Vec<String> = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if read_line(&mut lines, &mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end_matches(['\r', '\n']);
            let verb = command
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let arg = command.get(verb.len()..).unwrap_or_default().trim();
            let reply = match verb.as_str() {
                "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 Syntax: EHLO hostname".to_owned(),
                "EHLO" => {
                    greeted = true;
                    let auth = if self.config.credentials.is_some() {
                        "250-AUTH PLAIN LOGIN\r\n"
                    } else {
                        ""
                    };
                    format!("250-fake-smtp greets {arg}\r\n{auth}250-8BITMIME\r\n250-SIZE {MAX_MESSAGE}\r\n250 OK")
                }
                "HELO" => {
                    greeted = true;
                    "250 fake-smtp".to_owned()
                }
                _ if !greeted && verb != "QUIT" && verb != "NOOP" => {
                    "503 5.5.1 EHLO first".to_owned()
                }
                "AUTH" => {
                    let ok = self.authenticate(arg, &mut lines, &mut write).await?;
                    authenticated |= ok;
                    if ok {
                        "235 2.7.0 Authentication successful"
                    } else {
                        "535 5.7.8 Authentication credentials invalid"
                    }
                    .to_owned()
                }
                "MAIL" if !authenticated => "530 5.7.0 Authentication required".to_owned(),
                "MAIL" => match address(arg, "FROM:") {
                    Some(a) => {
                        from = Some(a);
                        to.clear();
                        "250 2.1.0 OK".to_owned()
                    }
                    None => "501 5.5.4 Syntax: MAIL FROM:<address>".to_owned(),
                },
                "RCPT" if from.is_none() => "503 5.5.1 MAIL first".to_owned(),
                "RCPT" => match address(arg, "TO:") {
                    Some(a) if a.contains('@') => {
                        to.push(a);
                        "250 2.1.5 OK".to_owned()
                    }
                    _ => "501 5.1.3 Bad recipient address syntax".to_owned(),
                },
                "DATA" if to.is_empty() => "503 5.5.1 RCPT first".to_owned(),
                "DATA" => {
                    write
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let data = read_data(&mut lines).await?;
                    match (data, from.take()) {
                        (Some(data), Some(from)) => {
                            let message = SmtpMessage {
                                from,
                                to: std::mem::take(&mut to),
                                data,
                            };
                            self.received
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(message);
                            format!("250 2.0.0 OK queued as {}", uuid::Uuid::new_v4().simple())
                        }
                        _ => "552 5.3.4 Message too big".to_owned(),
                    }
                }
                "RSET" => {
                    from = None;
                    to.clear();
                    "250 2.0.0 OK".to_owned()
                }
                "NOOP" => "250 2.0.0 OK".to_owned(),
                "QUIT" => {
                    write.write_all(b"221 2.0.0 Bye\r\n").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 Command not recognized".to_owned(),
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }

    /// AUTH PLAIN [initial response] or AUTH LOGIN; true when the credentials match.
    async fn authenticate(
        &self,
        arg: &str,
        lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: &mut tokio::net::tcp::OwnedWriteHalf,
    ) -> std::io::Result<bool> {
        let Some((user, password)) = &self.config.credentials else {
            return Ok(false);
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut parts = arg.split_whitespace();
        let mechanism = parts.next().unwrap_or_default().to_ascii_uppercase();
        let mut line = String::new();
        match mechanism.as_str() {
            "PLAIN" => {
                let response = match parts.next() {
                    Some(r) => r.to_owned(),
                    None => {
                        write.write_all(b"334 \r\n").await?;
                        read_line(lines, &mut line).await?;
                        line.trim().to_owned()
                    }
                };
                let decoded = b64.decode(response).unwrap_or_default();
                let fields: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                Ok(fields.len() == 3
                    && fields[1] == user.as_bytes()
                    && fields[2] == password.as_bytes())
            }
            "LOGIN" => {
                write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                read_line(lines, &mut line).await?;
                let given_user = b64.decode(line.trim()).unwrap_or_default();
                line.clear();
                write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                read_line(lines, &mut line).await?;
                let given_password = b64.decode(line.trim()).unwrap_or_default();
                Ok(given_user == user.as_bytes() && given_password == password.as_bytes())
            }
            _ => Ok(false),
        }
    }
}

/// One line, refusing lines longer than [`MAX_LINE`].
async fn read_line(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> std::io::Result<usize> {
    let n = (&mut *lines).take(MAX_LINE as u64).read_line(line).await?;
    if n == MAX_LINE && !line.ends_with('\n') {
        return Err(std::io::Error::other("line too long"));
    }
    Ok(n)
}

/// `FROM:<a@b>` (with optional parameters such as `BODY=8BITMIME`) -> `a@b`.
fn address(arg: &str, prefix: &str) -> Option<String> {
    let rest = arg
        .get(..prefix.len())?
        .eq_ignore_ascii_case(prefix)
        .then(|| &arg[prefix.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

/// The DATA section up to the lone `.`, dot-unstuffed; `None` if it grew too big.
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut data = String::new();
    let mut too_big = false;
    let mut line = String::new();
    loop {
        line.clear();
        if read_line(lines, &mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed during DATA"));
        }
        let content = line.trim_end_matches(['\r', '\n']);
        if content == "." {
            return Ok((!too_big).then_some(data));
        }
        let unstuffed = content.strip_prefix('.').unwrap_or(content);
        if data.len() + unstuffed.len() > MAX_MESSAGE {
            too_big = true;
            continue;
        }
        data.push_str(unstuffed);
        data.push_str("\r\n");
    }
}

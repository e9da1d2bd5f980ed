//! What the tests that run the real `parley` binary share.
#[allow(dead_code)] // not every test binary counts events
pub mod live;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills its process when dropped, so a failing test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command serve` and returns once it logs that it is listening.
#[allow(dead_code)] // each test binary uses one of the two
pub fn serve(command: Command) -> Proc {
    serve_logged(command).0
}

/// Like [`serve`], and also keeps every line the server logs, for the test to check.
#[allow(dead_code)]
pub fn serve_logged(mut command: Command) -> (Proc, Arc<Mutex<Vec<String>>>) {
    let mut child = command
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start parley serve");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    let mut suite_log = suite_log_file();
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening") {
                let _ = tx.send(());
            }
            if let Some(file) = suite_log.as_mut() {
                let _ = writeln!(file, "{line}");
            }
            kept.lock().unwrap().push(line);
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("parley serve starts listening");
    (Proc(child), log)
}

/// With `PARLEY_TEST_LOG_DIR` set (scripts/test sets it), a file there for one server's
/// log, which scripts/test checks for unmasked phone numbers with the rest of the suite's.
fn suite_log_file() -> Option<std::fs::File> {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::var_os("PARLEY_TEST_LOG_DIR")?;
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("serve-{}-{n}.log", std::process::id());
    std::fs::File::create(std::path::Path::new(&dir).join(name)).ok()
}

/// Runs `command admin create-api-key` and returns the key it prints last.
#[allow(dead_code)] // not every test binary makes keys
pub fn create_api_key(mut command: Command, name: &str, role: &str) -> String {
    let out = command
        .args(["admin", "create-api-key", "--name", name, "--role", role])
        .stdout(Stdio::piped())
        .output()
        .expect("run parley admin create-api-key");
    assert!(out.status.success(), "create-api-key {role}: {out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .last()
        .expect("a key")
        .trim()
        .to_string()
}

/// The `parley` binary with none of the caller's `PARLEY_*` settings or `RUST_LOG`, and
/// its output discarded: each test says exactly what the node gets.
#[allow(dead_code)]
pub fn clean_parley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    c.env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("PARLEY_") {
            c.env_remove(k);
        }
    }
    // Tests run several servers at once: each gets a free metrics port.
    c.env("PARLEY_METRICS__LISTEN", "127.0.0.1:0");
    c
}

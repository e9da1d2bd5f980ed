//! CPU time and memory of a process, read from Linux's /proc.
//!
//! VmHWM ("high water mark") is the kernel's own record of peak resident memory, so a
//! process's peak needs no sampling; [`PeakSampler`] exists for the cases VmHWM cannot
//! answer, such as the peak during one phase of a longer-lived process.
use std::cell::Cell;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// /proc reports CPU times in USER_HZ ticks, which Linux fixes at 100 for user space on
/// every architecture (it is not the kernel's internal HZ).
const USER_HZ: u64 = 100;

/// Which process to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The calling process.
    This,
    Other(u32),
}

impl Pid {
    fn dir(self) -> PathBuf {
        match self {
            Pid::This => PathBuf::from("/proc/self"),
            Pid::Other(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// Resident memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Now (VmRSS).
    pub rss: u64,
    /// The highest it has been since the process started (VmHWM).
    pub peak_rss: u64,
    /// The anonymous part of `rss` (RssAnon: heap, stacks), without the pages of the
    /// executable and libraries, which are shared, clean, and read in once however many
    /// calls run.
    pub anon: u64,
}

/// Resident memory of `pid` from /proc/<pid>/status.
pub fn memory(pid: Pid) -> io::Result<Memory> {
    let status = std::fs::read_to_string(pid.dir().join("status"))?;
    parse_status(&status).ok_or_else(|| {
        io::Error::other("no VmRSS/VmHWM/RssAnon in /proc/<pid>/status (not Linux?)")
    })
}

/// User plus system CPU time `pid` has used, from /proc/<pid>/stat.
pub fn cpu_time(pid: Pid) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(pid.dir().join("stat"))?;
    parse_stat_cpu(&stat).ok_or_else(|| io::Error::other("unreadable /proc/<pid>/stat"))
}

fn parse_status(status: &str) -> Option<Memory> {
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let value = line[key.len()..].trim().strip_suffix("kB")?.trim();
        value.parse::<u64>().ok().map(|k| k * 1024)
    };
    Some(Memory {
        rss: kib("VmRSS:")?,
        peak_rss: kib("VmHWM:")?,
        anon: kib("RssAnon:")?,
    })
}

fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces or ')', so count
    // fields from the last ')'. utime and stime are fields 14 and 15 of the whole line,
    // hence 12th and 13th after the name.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// Samples a process's VmRSS in a background task and keeps the highest value seen.
pub struct PeakSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakSampler {
    /// Starts sampling `pid` every `every`; stops when the process is gone or on `stop`.
    pub fn start(pid: Pid, every: Duration) -> PeakSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                match memory(pid) {
                    Ok(m) => {
                        seen.fetch_max(m.rss, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        });
        PeakSampler { peak, task }
    }

    /// The highest resident memory seen so far, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling and returns the peak.
    pub fn stop(self) -> u64 {
        self.task.abort();
        self.peak()
    }
}

/// The highest anonymous memory (RssAnon) of a process seen by [`AnonPeak::observe`],
/// for code that cannot run a sampling task (the bridge's load generator is one
/// synchronous loop). RssAnon has no high-water mark of its own.
pub struct AnonPeak {
    pid: Pid,
    every: Duration,
    peak: Cell<u64>,
    last: Cell<Option<Instant>>,
}

impl AnonPeak {
    pub fn new(pid: Pid, every: Duration) -> AnonPeak {
        AnonPeak {
            pid,
            every,
            peak: Cell::new(0),
            last: Cell::new(None),
        }
    }

    /// Reads the process's memory if `every` has passed since the last read.
    pub fn observe(&self) {
        let now = Instant::now();
        if self.last.get().is_some_and(|t| now - t < self.every) {
            return;
        }
        self.last.set(Some(now));
        if let Ok(m) = memory(self.pid) {
            self.peak.set(self.peak.get().max(m.anon));
        }
    }

    /// The highest seen, in bytes, after one last read.
    pub fn peak(&self) -> u64 {
        self.last.set(None);
        self.observe();
        self.peak.get()
    }
}

/// Bytes as mebibytes, for reports.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_bytes() {
        let status = "Name:\tparley\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n\
                      RssAnon:\t     256 kB\nRssFile:\t     768 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss: 1024 * 1024,
                peak_rss: 2048 * 1024,
                anon: 256 * 1024,
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn stat_cpu_survives_odd_command_names() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(parse_stat_cpu(stat), Some(Duration::from_secs(3)));
    }

    #[test]
    fn this_process_has_memory_and_cpu() {
        let m = memory(Pid::This).unwrap();
        assert!(m.rss > 0 && m.peak_rss >= m.rss && m.anon <= m.rss, "{m:?}");
        cpu_time(Pid::This).unwrap();
        let anon = AnonPeak::new(Pid::This, Duration::from_secs(3600));
        anon.observe();
        assert!(
            anon.peak() >= m.anon / 2,
            "{m:?}: a peak of {}",
            anon.peak()
        );
    }
}

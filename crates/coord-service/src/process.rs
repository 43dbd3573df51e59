//! Holding a process: knowing the moment it ends, without a busy loop.
//!
//! On Linux a pidfd becomes readable when its process ends, so a watcher sleeps in `poll` and
//! wakes at once. The pidfd is opened first and the process's start time checked after, so the
//! descriptor is known to refer to the recorded process and not to a later one that got the
//! same PID. Where pidfds are not available (old kernels, some sandboxes) the holder falls back
//! to looking the process up every 50 ms, and says so.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use coord_core::ExitStatus;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

use crate::host::{child_start_time, start_time};

/// How the fallback looks for the process.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// How a process is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldMode {
    /// A pidfd: the end is seen the moment it happens.
    Pidfd,
    /// Looking the process up every 50 ms.
    Polling,
}

/// A process held until it ends.
pub struct Held {
    pid: u32,
    start: u64,
    fd: Option<OwnedFd>,
}

impl Held {
    /// Holds process `pid`, which must be running with start time `start` (when given).
    pub fn open(pid: u32, start: Option<u64>) -> io::Result<Held> {
        let fd = pidfd_open(raw_pid(pid)?, PidfdFlags::empty()).ok();
        let actual = start_time(pid).ok_or_else(|| not_found(pid))?;
        if start.is_some_and(|s| s != actual) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("process {pid} is not the one recorded (another start time)"),
            ));
        }
        Ok(Held {
            pid,
            start: actual,
            fd,
        })
    }

    /// Holds a child of this process. Its PID cannot be reused before this process reaps it,
    /// so no start time needs checking, and a child that has already ended is held too (its
    /// end is seen at the first wait).
    pub fn child(pid: u32) -> io::Result<Held> {
        Ok(Held {
            pid,
            start: child_start_time(pid).ok_or_else(|| not_found(pid))?,
            fd: Some(pidfd_open(raw_pid(pid)?, PidfdFlags::empty())?),
        })
    }

    /// The process's start time.
    #[must_use]
    pub fn start(&self) -> u64 {
        self.start
    }

    /// How the process is held.
    #[must_use]
    pub fn mode(&self) -> HoldMode {
        if self.fd.is_some() {
            HoldMode::Pidfd
        } else {
            HoldMode::Polling
        }
    }

    /// The process's PID.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfd, readable once the process has ended; `None` when held by polling.
    #[must_use]
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.fd.as_ref().map(AsFd::as_fd)
    }

    /// Whether a process held by polling has ended (without reaping anything).
    #[must_use]
    pub fn has_ended(&self) -> bool {
        start_time(self.pid) != Some(self.start)
    }

    /// Waits up to `timeout` for the process to end. `Some` with how it ended (its code or
    /// signal when it is this process's child, else [`ExitStatus::Gone`]); `None` if it still
    /// runs.
    #[must_use]
    pub fn wait(&self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(fd) = &self.fd {
            let timeout = Timespec {
                tv_sec: timeout.as_secs() as i64,
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            return match poll(&mut fds, Some(&timeout)) {
                Ok(n) if n > 0 => Some(reap(fd)),
                _ => None,
            };
        }
        let deadline = Instant::now() + timeout;
        loop {
            if start_time(self.pid) != Some(self.start) {
                return Some(ExitStatus::Gone);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(POLL_EVERY));
        }
    }
}

/// How the process behind `fd` ended: its status if it is our child (reaping it), else gone.
fn reap(fd: &OwnedFd) -> ExitStatus {
    match waitid(WaitId::PidFd(fd.as_fd()), WaitIdOptions::EXITED) {
        Ok(Some(status)) => {
            if let Some(code) = status.exit_status() {
                ExitStatus::Code(code)
            } else if let Some(signal) = status.terminating_signal() {
                ExitStatus::Signal(signal)
            } else {
                ExitStatus::Gone
            }
        }
        _ => ExitStatus::Gone,
    }
}

fn not_found(pid: u32) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no process {pid}"))
}

fn raw_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| not_found(pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_child_is_seen_to_end_at_once_with_its_status() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 0.2; exit 3"])
            .spawn()
            .unwrap();
        let held = Held::open(child.id(), None).unwrap();
        assert_eq!(held.mode(), HoldMode::Pidfd);
        assert_eq!(held.wait(Duration::from_millis(10)), None);
        let start = Instant::now();
        assert_eq!(held.wait(Duration::from_secs(5)), Some(ExitStatus::Code(3)));
        assert!(start.elapsed() < Duration::from_secs(1));
        let reaped = child.wait();
        assert!(reaped.is_err(), "the holder reaped it");
    }

    #[test]
    fn a_killed_child_reports_its_signal() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let held = Held::open(child.id(), None).unwrap();
        child.kill().unwrap();
        assert_eq!(
            held.wait(Duration::from_secs(5)),
            Some(ExitStatus::Signal(9))
        );
        let reaped = child.wait();
        assert!(reaped.is_err(), "the holder reaped it");
    }

    #[test]
    fn without_a_pidfd_the_end_is_seen_by_looking_the_process_up() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let held = Held {
            pid: child.id(),
            start: start_time(child.id()).unwrap(),
            fd: None,
        };
        assert_eq!(held.mode(), HoldMode::Polling);
        assert_eq!(held.wait(Duration::from_millis(120)), None);
        child.kill().unwrap();
        let reaped = child.wait();
        assert!(reaped.is_ok());
        let start = Instant::now();
        assert_eq!(held.wait(Duration::from_secs(5)), Some(ExitStatus::Gone));
        assert!(start.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn another_start_time_is_another_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let start = start_time(child.id()).unwrap();
        let err = Held::open(child.id(), Some(start + 1)).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

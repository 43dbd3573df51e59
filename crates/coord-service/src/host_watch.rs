//! The per-host watcher (`coord watch --all`): one small process per host that keeps the store
//! current on every session this host runs, with no polling loop.
//!
//! It sleeps in one `poll` on an inotify descriptor and on a pidfd per session process:
//! - the agents' status directories (Claude Code's `sessions/`) are watched, so a session
//!   appears, changes status or goes the moment its file does ([`Service::discover`] reads
//!   them); so is the directory where Codex files today's rollouts, so a Codex session is
//!   found the moment it writes its rollout, and its turns are seen as they are written;
//! - each session process of this host is held ([`Held`]: the pidfd opened first and the start
//!   time checked after, so a recycled PID is never taken for it), so its death is recorded the
//!   moment it happens.
//!
//! Every `interval` it also looks at every session of this host ([`Service::observe`]: a proof
//! of life, or an exit nothing announced) and holds the ones registered since by someone else
//! (a hook, a command, the API). A store that cannot be reached costs a round, not the
//! watcher. It writes to whatever store `COORD_URL` names, so each host of a fleet runs one and
//! all of them show up in one `coord ps`.
//!
//! With a [`Dispatcher`] (the `[[notify]]` rules of the config file), the verdicts of this
//! host's sessions (subagents left out: a person attaches to their parent) go to it after every
//! round and every exit, and again when a change it saw is due to settle; it sends off this
//! thread, so the watcher never waits for a channel.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coord_core::{Phase, ProcessFact, Session};
use coord_notify::Dispatcher;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use rustix::io::Errno;

use crate::process::{Held, HoldMode};
use crate::watch::watcher_source;
use crate::{Result, Service};

/// How often a holder without a pidfd looks its process up.
const POLLING_STEP: Duration = Duration::from_millis(50);

/// A process the watcher holds: which incarnation of which session it is.
struct Holding {
    incarnation: u64,
    held: Held,
}

impl Service {
    /// Watches this host until `stop` says so (checked whenever a signal interrupts the wait,
    /// and at least every `interval`), telling `notify` of each round's verdicts. Returns how
    /// many sessions it held at the end.
    pub fn watch_host(
        &self,
        interval: Duration,
        stop: &dyn Fn() -> bool,
        mut notify: Option<&mut Dispatcher>,
    ) -> Result<usize> {
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok();
        if let Some(fd) = &inotify {
            self.watch_dirs(fd);
        }
        let mut holding: BTreeMap<String, Holding> = BTreeMap::new();
        let mut next_round = Instant::now();
        // When a change the notifier saw settles.
        let mut notify_due: Option<Instant> = None;
        while !stop() {
            if Instant::now() >= next_round {
                // A store that cannot be reached costs this round only.
                let _ = self.host_round(&mut holding);
                next_round = Instant::now() + interval;
                notify_due = self.notify(notify.as_deref_mut());
            } else if notify_due.is_some_and(|due| Instant::now() >= due) {
                notify_due = self.notify(notify.as_deref_mut());
            }
            let mut wait = next_round.saturating_duration_since(Instant::now());
            if let Some(due) = notify_due {
                wait = wait.min(due.saturating_duration_since(Instant::now()));
            }
            if holding.values().any(|h| h.held.mode() == HoldMode::Polling) {
                wait = wait.min(POLLING_STEP);
            }
            let changed = wait_for_change(inotify.as_ref(), &holding, wait);
            if changed.dirs {
                if let Some(fd) = &inotify {
                    self.watch_dirs(fd);
                }
                let _ = self.discover();
                let _ = self.host_round(&mut holding);
            }
            let exits = !changed.ended.is_empty();
            for id in changed.ended {
                if let Some(h) = holding.remove(&id)
                    && let Some(status) = h.held.wait(Duration::ZERO)
                {
                    let _ =
                        self.watch_exit(&id, h.incarnation, status, watcher_source(h.held.mode()));
                }
            }
            if changed.dirs || exits {
                notify_due = self.notify(notify.as_deref_mut());
            }
        }
        Ok(holding.len())
    }

    /// Hands the verdicts of this host's sessions to `notify`, if there is one; returns when
    /// the next change it saw settles. A store that cannot be reached costs this look only.
    fn notify(&self, notify: Option<&mut Dispatcher>) -> Option<Instant> {
        let notify = notify?;
        let fleet = self.judge_all().ok()?;
        notify.round(
            fleet.now,
            fleet
                .entries
                .iter()
                .filter(|e| e.session.host == self.host.name && e.session.parent.is_none())
                .map(|e| (&e.session, &e.verdict)),
        );
        let due = notify.next_due()?;
        Some(Instant::now() + due.since(fleet.now))
    }

    /// Watches the directories whose changes mean a session appeared, changed or went: Claude
    /// Code's status directory, and the directory of Codex's newest rollouts. Called again on
    /// every change, so that directories created since are watched too.
    fn watch_dirs(&self, fd: &OwnedFd) {
        if let Some(dir) = &self.host.claude_sessions {
            watch_dir(fd, dir, CHANGES);
        }
        if let Some(dir) = &self.host.codex_sessions {
            // Codex files a rollout under the day it began (`YYYY/MM/DD`): the newest day is
            // watched for new rollouts and their writes, each level above it for the next
            // day, month or year.
            watch_dir(fd, dir, NEW_ENTRIES);
            let mut level = dir.clone();
            for depth in 0..3 {
                let Some(newest) = newest_dated(&level) else {
                    break;
                };
                let last = depth == 2;
                watch_dir(fd, &newest, if last { CHANGES } else { NEW_ENTRIES });
                level = newest;
            }
        }
    }

    /// One look at the whole host: the status files, then every session of this host: observed
    /// (a proof of life, or the exit nothing announced), and held from now on if it runs.
    fn host_round(&self, holding: &mut BTreeMap<String, Holding>) -> Result<()> {
        self.discover()?;
        let now = self.store.now()?;
        let mut local: BTreeMap<String, Session> = BTreeMap::new();
        for mut session in self.store.sessions()? {
            if session.host != self.host.name || session.pid.is_none() {
                continue;
            }
            self.observe(&mut session, now)?;
            if session.phase != Phase::Ended
                && !matches!(session.process, ProcessFact::Exited { .. })
            {
                local.insert(session.id.clone(), session);
            }
        }
        holding.retain(|id, h| {
            local
                .get(id)
                .is_some_and(|s| s.incarnation == h.incarnation)
        });
        for (id, session) in local {
            if holding.contains_key(&id) {
                continue;
            }
            let Some(pid) = session.pid else { continue };
            if let Ok(held) = Held::open(pid, session.pid_start) {
                let incarnation = session.incarnation;
                holding.insert(id, Holding { incarnation, held });
            } else {
                // It ended between the look and the hold: look again, which records it.
                let mut session = session;
                self.observe(&mut session, now)?;
            }
        }
        Ok(())
    }
}

/// What woke the watcher.
#[derive(Default)]
struct Changes {
    /// A status directory changed.
    dirs: bool,
    /// The sessions whose process ended.
    ended: Vec<String>,
}

/// Waits up to `wait` for a status directory to change or a held process to end.
fn wait_for_change(
    inotify: Option<&OwnedFd>,
    holding: &BTreeMap<String, Holding>,
    wait: Duration,
) -> Changes {
    let mut fds = Vec::with_capacity(holding.len() + 1);
    if let Some(fd) = inotify {
        fds.push(PollFd::new(fd, PollFlags::IN));
    }
    let pidfds: Vec<(&String, _)> = holding
        .iter()
        .filter_map(|(id, h)| h.held.fd().map(|fd| (id, fd)))
        .collect();
    for (_, fd) in &pidfds {
        fds.push(PollFd::from_borrowed_fd(fd.as_fd(), PollFlags::IN));
    }
    let timeout = Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let mut changes = Changes::default();
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) if n > 0 => {}
        // A timeout, or a signal (the caller checks whether it means stop); polling holders
        // are looked at below either way.
        _ => {
            changes.ended = polled_ends(holding);
            return changes;
        }
    }
    let mut ready = fds.iter().map(|f| !f.revents().is_empty());
    if inotify.is_some() && ready.next() == Some(true) {
        changes.dirs = true;
        if let Some(fd) = inotify {
            drain(fd);
        }
    }
    for ((id, _), is_ready) in pidfds.iter().zip(ready) {
        if is_ready {
            changes.ended.push((*id).clone());
        }
    }
    changes.ended.extend(polled_ends(holding));
    changes
}

/// The held processes without a pidfd that have ended.
fn polled_ends(holding: &BTreeMap<String, Holding>) -> Vec<String> {
    holding
        .iter()
        .filter(|(_, h)| h.held.mode() == HoldMode::Polling && h.held.has_ended())
        .map(|(id, _)| id.clone())
        .collect()
}

/// What is watched in a directory whose files are sessions.
const CHANGES: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MODIFY);

/// What is watched in a directory where new directories appear.
const NEW_ENTRIES: WatchFlags = WatchFlags::CREATE.union(WatchFlags::MOVED_TO);

/// Watches `dir` on `fd` for `changes`. A directory that does not exist yet (no agent has run
/// on this host) is watched through its nearest existing parent, for its creation: the wake-up
/// that follows watches again, then the directory itself.
fn watch_dir(fd: &OwnedFd, dir: &Path, changes: WatchFlags) {
    if inotify::add_watch(fd, dir, changes).is_ok() {
        return;
    }
    if let Some(parent) = dir.ancestors().skip(1).find(|a| a.is_dir()) {
        let _ = inotify::add_watch(fd, parent, NEW_ENTRIES);
    }
}

/// The subdirectory of `dir` with the greatest all-digit name (the newest year, month or day).
fn newest_dated(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(std::result::Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.as_encoded_bytes();
            !name.is_empty()
                && name.iter().all(u8::is_ascii_digit)
                && e.file_type().is_ok_and(|t| t.is_dir())
        })
        .max_by_key(fs::DirEntry::file_name)
        .map(|e| e.path())
}

/// Reads every pending inotify event; which file changed does not matter (the status files are
/// read again).
fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(n) if n > 0 => {}
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

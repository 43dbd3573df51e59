//! Agents found by their processes: Codex, pi, opencode, Gemini CLI and aider sessions running
//! on this host that no hook or command registered.
//!
//! The scan reads `/proc/<pid>/cmdline` of every process and nothing more, unless the command
//! line is an agent's ([`agents`]: exact rules). Only then does it read the process's owner and
//! environment (this user's agents, started with this `HOME`, as Claude Code's status files are
//! the ones under it: another user's agents are theirs to list), start time, ancestors,
//! working directory and, for Codex, the rollout files it holds open ([`codex`]): each of those
//! is one session keyed on Codex's own session id, so it merges with the session Codex's hooks
//! register. A process with no rollout is one session with the CLI's default id,
//! `<host>-<pid>`.
//!
//! One session per agent, not one per process: a process is left out when a process of the same
//! agent below it runs the session (the node wrapper of the native `codex`, Gemini CLI's first
//! process that restarts itself, a Codex TUI whose own daemon holds the rollout), and an
//! `app-server` that holds no rollout runs no session. A session discovery registered as
//! `<host>-<pid>` ends (unregistered by `probe`) once its process turns out to be represented
//! otherwise, when its first rollout appears: a process is never both `<host>-<pid>` and the
//! session of a rollout.
//!
//! A discovered session is registered with its PID and start time by [`Source::Probe`], so its
//! death is exact and `coord watch --all` holds it like any other, with the pane that runs it
//! (`tmux=<session:window.pane>`, [`tmux`]) as a label, the agent's name too where the runtime
//! does not say it (`agent=gemini`, runtime `other`), and its rollout as its log. A session
//! already known (the same id and process; without a rollout, any live session of the process:
//! `coord run`, `coord watch --pid`) is left as it is, except that its turn follows the
//! rollout's last turn event.
//!
//! Wrappers whose agent runs elsewhere (`docker exec`, `ssh`, `kubectl exec`) are not agents
//! here and are skipped, not registered: their process is not the agent's, so its life says
//! nothing about the agent, and a session judged by it would be `dead` once the wrapper ends
//! while the agent may live on. The agent is found by a coord where it runs (in a container,
//! with `COORD_HOST` naming it).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use coord_core::{Beat, Phase, ProcessFact, Runtime, Session, Source};

use super::agents::{self, Agent, Recognised, Role};
use super::codex::{self, Rollout};
use super::tmux;
use crate::host::{parent_of, start_time};
use crate::observe::log_mtime;
use crate::{RegisterRequest, Result, Service};

/// How much of a command line is read: enough for the program, its script and its subcommand.
const CMDLINE_READ: usize = 4096;

/// How far up the process tree a process's ancestors are followed.
const MAX_DEPTH: usize = 64;

/// An agent process found in the process table.
#[derive(Clone, Debug)]
struct Found {
    pid: u32,
    start: u64,
    /// Its ancestors, its parent first.
    ancestors: Vec<u32>,
    what: Recognised,
    /// The Codex rollouts it holds open.
    rollouts: Vec<Rollout>,
    /// The tmux server it runs under.
    tmux_socket: Option<PathBuf>,
}

impl Found {
    /// Whether this process runs a session of its own.
    fn runs_sessions(&self) -> bool {
        self.what.role == Role::Agent || !self.rollouts.is_empty()
    }

    /// Whether `other` is a process of the same agent below this one.
    fn is_above(&self, other: &Found) -> bool {
        other.pid != self.pid
            && other.what.agent == self.what.agent
            && other.ancestors.contains(&self.pid)
    }
}

/// One session a found process runs: the process, and the rollout that names it (Codex).
#[derive(Debug)]
struct Candidate<'a> {
    found: &'a Found,
    rollout: Option<&'a Rollout>,
}

/// What the found processes amount to.
#[derive(Debug)]
struct Selection<'a> {
    /// The sessions.
    sessions: Vec<Candidate<'a>>,
    /// The processes that are no `<host>-<pid>` session: their sessions are their rollouts, or
    /// a process below them.
    represented: Vec<&'a Found>,
}

impl Service {
    /// Registers every agent session found by its process that is not known yet; returns how
    /// many sessions the processes run.
    pub(super) fn discover_processes(&self) -> Result<usize> {
        let Some(home) = self.host.home.as_deref() else {
            return Ok(0);
        };
        let found = scan(home);
        if found.is_empty() {
            return Ok(0);
        }
        let selection = select(&found);
        let panes = tmux::panes(&sockets(&found));
        let mut local = None;
        for candidate in &selection.sessions {
            self.merge_process(candidate, &panes, &mut local)?;
        }
        for found in selection.represented {
            self.retire(found)?;
        }
        Ok(selection.sessions.len())
    }

    /// Registers the session `c` unless it is known; renews the turn of a known one.
    fn merge_process(
        &self,
        c: &Candidate<'_>,
        panes: &HashMap<u32, tmux::Pane>,
        local: &mut Option<Vec<Session>>,
    ) -> Result<()> {
        let f = c.found;
        let id = c
            .rollout
            .map_or_else(|| self.default_id(f.pid), |r| r.session_id.clone());
        if let Some(stored) = self.store.session(&id)?
            && stored.pid == Some(f.pid)
            && !matches!(stored.process, ProcessFact::Exited { .. })
        {
            if let Some(rollout) = c.rollout {
                self.follow_turn(&stored, rollout)?;
            }
            return Ok(());
        }
        if c.rollout.is_none() {
            let sessions = match local {
                Some(sessions) => sessions,
                None => local.insert(self.store.sessions()?),
            };
            if sessions.iter().any(|s| self.runs_as(s, f)) {
                return Ok(());
            }
        }
        let mut labels = BTreeMap::new();
        if f.what.agent.runtime() == Runtime::Other {
            labels.insert("agent".to_owned(), f.what.agent.name().to_owned());
        }
        let chain = std::iter::once(f.pid).chain(f.ancestors.iter().copied());
        if let Some(pane) = tmux::pane_of(chain, panes) {
            pane.label(&mut labels);
        }
        let req = RegisterRequest {
            id: Some(id),
            pid: Some(f.pid),
            pid_start: Some(f.start),
            runtime: Some(f.what.agent.runtime()),
            cwd: fs::read_link(format!("/proc/{}/cwd", f.pid)).ok(),
            labels,
            log_path: c.rollout.map(|r| r.path.clone()),
            phase: c.rollout.and_then(|r| codex::turn_phase(&r.path)),
            source: Some(Source::Probe),
            ..RegisterRequest::default()
        };
        self.store.register(&self.registration(req)?)?;
        Ok(())
    }

    /// Whether `s` is a live session of the process `f` on this host.
    fn runs_as(&self, s: &Session, f: &Found) -> bool {
        s.host == self.host.name
            && s.pid == Some(f.pid)
            && s.pid_start == Some(f.start)
            && s.phase != Phase::Ended
            && !matches!(s.process, ProcessFact::Exited { .. })
    }

    /// Ends the `<host>-<pid>` session discovery registered for `f` before it was represented
    /// otherwise. A session anyone else registered under that id is left alone.
    fn retire(&self, f: &Found) -> Result<()> {
        let id = self.default_id(f.pid);
        let Some(stored) = self.store.session(&id)? else {
            return Ok(());
        };
        let by_discovery = stored
            .signals
            .keys()
            .all(|s| matches!(s, Source::Probe | Source::Watch | Source::Poll));
        if by_discovery && self.runs_as(&stored, f) {
            self.store.unregister(&id, Source::Probe)?;
        }
        Ok(())
    }

    /// Moves a known Codex session's turn on from its rollout's last turn event, when the
    /// rollout changed after the phase was last reported: a turn over (completed or
    /// interrupted) is waiting; a new turn after a wait is working. Finer phases a hook reported
    /// (a tool, a permission prompt) are never overridden by a turn that runs.
    fn follow_turn(&self, stored: &Session, rollout: &Rollout) -> Result<()> {
        let Some(at) = log_mtime(&rollout.path.to_string_lossy()) else {
            return Ok(());
        };
        if at <= stored.phase_at {
            return Ok(());
        }
        let phase = match (codex::turn_phase(&rollout.path), &stored.phase) {
            (Some(Phase::Waiting), current)
                if !matches!(current, Phase::Waiting | Phase::Ended) =>
            {
                Phase::Waiting
            }
            (Some(Phase::Working), Phase::Waiting) => Phase::Working,
            _ => return Ok(()),
        };
        let beat = Beat {
            phase: Some(phase),
            log_mtime: Some(at),
            ..Beat::alive(Source::Probe, at)
        };
        self.store.renew(&stored.id, &beat)?;
        Ok(())
    }
}

/// The agent processes of this user started with the home directory `home`, other than this
/// process.
fn scan(home: &Path) -> Vec<Found> {
    let Ok(proc) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let uid = rustix::process::geteuid().as_raw();
    let mut buf = vec![0u8; CMDLINE_READ];
    let mut found = Vec::new();
    for entry in proc.filter_map(std::result::Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(len) = read_cmdline(pid, &mut buf) else {
            continue;
        };
        let Some(what) = agents::recognise(&split_argv(&buf[..len])) else {
            continue;
        };
        if fs::metadata(entry.path()).map(|m| m.uid()).ok() != Some(uid) {
            continue;
        }
        let environ = Environ::of(pid);
        if environ.home.as_deref().is_some_and(|h| h != home) {
            continue;
        }
        let Some(start) = start_time(pid) else {
            continue;
        };
        let rollouts = if what.agent == Agent::Codex {
            codex::held_rollouts(pid)
        } else {
            Vec::new()
        };
        found.push(Found {
            pid,
            start,
            ancestors: ancestors(pid),
            what,
            rollouts,
            tmux_socket: environ.tmux_socket,
        });
    }
    found
}

/// What coord reads of an agent's environment.
#[derive(Default)]
struct Environ {
    /// `HOME`.
    home: Option<PathBuf>,
    /// The tmux server named by `TMUX`.
    tmux_socket: Option<PathBuf>,
}

impl Environ {
    /// The environment the process `pid` was started with (empty when unreadable).
    fn of(pid: u32) -> Self {
        let mut environ = Self::default();
        let Ok(vars) = fs::read(format!("/proc/{pid}/environ")) else {
            return environ;
        };
        for var in vars.split(|b| *b == 0) {
            if let Some(home) = var.strip_prefix(b"HOME=") {
                environ.home = Some(PathBuf::from(OsStr::from_bytes(home)));
            } else if let Some(tmux) = var.strip_prefix(b"TMUX=") {
                environ.tmux_socket = tmux::socket_in(tmux);
            }
        }
        environ
    }
}

/// Reads the start of `/proc/<pid>/cmdline` into `buf`; how many bytes, `None` for a process
/// without one (a kernel thread, a zombie) or one that ended.
fn read_cmdline(pid: u32, buf: &mut [u8]) -> Option<usize> {
    let mut file = File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let len = file.read(buf).ok()?;
    (len > 0).then_some(len)
}

/// The arguments of a command line (NUL-separated, NUL-terminated).
fn split_argv(cmdline: &[u8]) -> Vec<&[u8]> {
    let end = cmdline.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    cmdline[..end].split(|b| *b == 0).collect()
}

/// The ancestors of `pid`, its parent first, up to the first process (pid 1 excluded).
fn ancestors(pid: u32) -> Vec<u32> {
    let mut chain = Vec::new();
    let mut at = pid;
    while chain.len() < MAX_DEPTH {
        match parent_of(at) {
            Some(parent) if parent > 1 => {
                chain.push(parent);
                at = parent;
            }
            _ => break,
        }
    }
    chain
}

/// The sessions the found processes run, and the processes that are no session of their own.
fn select(found: &[Found]) -> Selection<'_> {
    let mut selection = Selection {
        sessions: Vec::new(),
        represented: Vec::new(),
    };
    for f in found {
        if !f.rollouts.is_empty() {
            // A rollout a process below also holds (inherited) is that process's.
            let own = f.rollouts.iter().filter(|r| {
                !found.iter().any(|g| {
                    f.is_above(g) && g.rollouts.iter().any(|o| o.session_id == r.session_id)
                })
            });
            selection.sessions.extend(own.map(|r| Candidate {
                found: f,
                rollout: Some(r),
            }));
            selection.represented.push(f);
        } else if f.what.role == Role::Server {
            // A server with no session holds nothing to report.
        } else if found.iter().any(|g| f.is_above(g) && g.runs_sessions()) {
            selection.represented.push(f);
        } else {
            selection.sessions.push(Candidate {
                found: f,
                rollout: None,
            });
        }
    }
    selection
}

/// The tmux servers to ask: the ones the agents run under, and this user's default one.
fn sockets(found: &[Found]) -> Vec<PathBuf> {
    let mut sockets: Vec<PathBuf> = Vec::new();
    for socket in found
        .iter()
        .filter_map(|f| f.tmux_socket.clone())
        .chain(tmux::default_socket())
    {
        if !sockets.contains(&socket) {
            sockets.push(socket);
        }
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, ancestors: &[u32], agent: Agent, role: Role, rollouts: &[&str]) -> Found {
        Found {
            pid,
            start: 1,
            ancestors: ancestors.to_vec(),
            what: Recognised { agent, role },
            rollouts: rollouts
                .iter()
                .map(|id| Rollout {
                    session_id: (*id).to_owned(),
                    path: PathBuf::from(format!("/r/{id}")),
                })
                .collect(),
            tmux_socket: None,
        }
    }

    /// (pid, rollout id or "-") of each session selected, and the represented pids.
    fn selected(found: &[Found]) -> (Vec<(u32, &str)>, Vec<u32>) {
        let s = select(found);
        (
            s.sessions
                .iter()
                .map(|c| {
                    (
                        c.found.pid,
                        c.rollout.map_or("-", |r| r.session_id.as_str()),
                    )
                })
                .collect(),
            s.represented.iter().map(|f| f.pid).collect(),
        )
    }

    #[test]
    fn a_node_wrapper_gives_way_to_the_native_codex_below_it() {
        let found = [
            process(10, &[5], Agent::Codex, Role::Agent, &[]),
            process(11, &[10, 5], Agent::Codex, Role::Agent, &["a"]),
        ];
        assert_eq!(selected(&found), (vec![(11, "a")], vec![10, 11]));
        // Before its first prompt, the native TUI is the session.
        let found = [
            process(10, &[5], Agent::Codex, Role::Agent, &[]),
            process(11, &[10, 5], Agent::Codex, Role::Agent, &[]),
        ];
        assert_eq!(selected(&found), (vec![(11, "-")], vec![10]));
    }

    #[test]
    fn a_daemon_is_one_session_per_rollout_and_none_without() {
        let tui = process(20, &[5], Agent::Codex, Role::Agent, &[]);
        let idle = process(21, &[20, 5], Agent::Codex, Role::Server, &[]);
        assert_eq!(selected(&[tui.clone(), idle]), (vec![(20, "-")], vec![]));
        let busy = process(21, &[20, 5], Agent::Codex, Role::Server, &["a", "b"]);
        // A second TUI the daemon does not descend from stays a session of its own.
        let other = process(30, &[6], Agent::Codex, Role::Agent, &[]);
        assert_eq!(
            selected(&[tui, busy, other]),
            (vec![(21, "a"), (21, "b"), (30, "-")], vec![20, 21])
        );
    }

    #[test]
    fn an_inherited_rollout_is_the_childs_and_other_agents_do_not_shadow() {
        let found = [
            process(40, &[5], Agent::Codex, Role::Agent, &["a", "b"]),
            process(41, &[40, 5], Agent::Codex, Role::Agent, &["b"]),
            // A gemini run by a codex tool is a session of its own, and leaves codex its own.
            process(42, &[40, 5], Agent::Gemini, Role::Agent, &[]),
        ];
        assert_eq!(
            selected(&found),
            (vec![(40, "a"), (41, "b"), (42, "-")], vec![40, 41])
        );
    }

    #[test]
    fn a_command_line_is_split_into_arguments() {
        assert_eq!(
            split_argv(b"node\0/usr/bin/codex\0\0exec\0\0"),
            vec![&b"node"[..], b"/usr/bin/codex", b"", b"exec"]
        );
    }

    #[test]
    fn this_process_has_ancestors() {
        let chain = ancestors(std::process::id());
        assert_eq!(chain.first().copied(), parent_of(std::process::id()));
        assert!(!chain.contains(&1));
    }
}

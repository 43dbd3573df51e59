//! The command line, declared with clap. Parsing only: every command's work is in
//! [`crate::commands`]. The work queue's commands are in [`task`], the agent hooks' in
//! [`hooks`], the help's examples and the completions and man pages in [`docs`].
//!
//! The doc comments on arguments are the `--help` text people read, not Markdown: Markdown
//! marks would show in the terminal.
#![allow(clippy::doc_markdown)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use coord_core::{Runtime, State};

mod docs;
mod history;
mod hooks;
mod task;

pub use docs::{CompletionsArgs, ManArgs};
use docs::{
    EXAMPLES_COMPLETIONS, EXAMPLES_HOOKS, EXAMPLES_MAN, EXAMPLES_PS, EXAMPLES_RUN, EXAMPLES_TASK,
};
pub use history::{EventsArgs, ReportArgs};
pub use hooks::{HooksAction, HooksArgs, HooksRuntime, HooksScope, HooksVia};
pub use task::{TaskAction, TaskArgs};

/// Which of your agent sessions are alive, working, idle, hung or dead.
#[derive(Debug, Parser)]
#[command(name = "coord", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store: unset for the embedded default, sqlite:///path/to/coord.db,
    /// redis://[user:password@]host:port/db (rediss://, redis+unix:///path.sock), the sentinels
    /// of one, redis+sentinel://host:port[,host:port…]/MASTER[/db], the nodes of a cluster,
    /// redis+cluster://host:port[,host:port…], or a coord serve at http://host:port (its token
    /// in COORD_TOKEN).
    #[arg(long, env = "COORD_URL", global = true, hide_env_values = true)]
    pub url: Option<String>,

    /// The fleet to work on; fleets sharing a store never mix.
    #[arg(
        long,
        env = "COORD_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The command line of a hook invocation (`coord hook …`, `coord heartbeat --hook`): the same
/// global options and the two commands hooks run, and nothing else, so that the parser the
/// hook path builds on every tool call is small.
#[derive(Debug, Parser)]
#[command(name = "coord")]
pub struct HookCli {
    /// The store.
    #[arg(long, env = "COORD_URL", global = true)]
    pub url: Option<String>,
    /// The fleet.
    #[arg(
        long,
        env = "COORD_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
    /// The command.
    #[command(subcommand)]
    pub command: HookCommand,
}

/// The commands a hook runs.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// `coord hook EVENT`.
    Hook(HookArgs),
    /// `coord heartbeat --hook`.
    Heartbeat(HeartbeatArgs),
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register (or re-register) a session; prints its id.
    Register(RegisterArgs),
    /// Renew a session: the call agent hooks make on every tool call.
    Heartbeat(HeartbeatArgs),
    /// Record an agent's hook event (what installed hooks run): reads the event's JSON from
    /// stdin, prints nothing, exits 0 whatever happens.
    Hook(HookArgs),
    /// Install, remove or inspect the agent hooks that report to coord (Claude Code, Codex).
    #[command(after_help = EXAMPLES_HOOKS)]
    Hooks(HooksArgs),
    /// End a session cleanly.
    Unregister(UnregisterArgs),
    /// Show the fleet: every session, its state and why.
    #[command(after_help = EXAMPLES_PS)]
    Ps(PsArgs),
    /// Watch the fleet live in the terminal: sessions, tasks and events, sortable, filtered by
    /// state, each session explained (q quits).
    Top(TopArgs),
    /// Show one session in detail: its signals, its verdict, its events.
    Show(ShowArgs),
    /// Explain one session's state: every signal held and the rule that decided.
    Explain(ExplainArgs),
    /// Go to a session's agent: switch to (or attach) the tmux pane it runs in, or print the
    /// line that does it from the host it runs on.
    Attach(AttachArgs),
    /// Check the installation: the store, the clocks, the agents' hooks, the watchers.
    Doctor,
    /// The config file, where the notification rules are.
    Config(ConfigArgs),
    /// Notifications (the config file's [[notify]] rules, sent by the per-host watcher): test
    /// them.
    Notify(NotifyArgs),
    /// Show the event log.
    Events(EventsArgs),
    /// What the fleet did over a window: per session and in all, the time in each phase it
    /// reported, how often it entered each, and its exits.
    Report(ReportArgs),
    /// Evict sessions dead (or ended) for longer than the grace period; take back their work.
    Sweep(SweepArgs),
    /// The work queue: add, claim, report progress, complete, fail, release, list, show.
    #[command(after_help = EXAMPLES_TASK)]
    Task(TaskArgs),
    /// Hold a process: renew its session while it lives, record its end the moment it comes.
    /// With --all: watch every session of this host (the per-host watcher).
    Watch(WatchArgs),
    /// Run the per-host watcher as a service of the user's systemd: install or uninstall.
    Service(ServiceArgs),
    /// Show the fleet's hosts: when each was last heard, its state (heard, silent, asleep,
    /// down, lost) and its sessions.
    Hosts(HostsArgs),
    /// Say what this host does next (sleep, wake, shutdown): what the units of `coord service
    /// install` call, so a sleeping laptop is never lost and a reboot hands its work on at once.
    Host(HostArgs),
    /// One report of a sidecar (used by coord-sidecar).
    #[command(hide = true)]
    WatchReport(WatchReportArgs),
    /// Run a command under coord: registered, watched, its end recorded (in the foreground,
    /// or in a detached tmux session).
    #[command(after_help = EXAMPLES_RUN)]
    Run(RunArgs),
    /// Watch coord track a few real processes that work, hang, crash and end (about 20 s).
    Demo(DemoArgs),
    /// Serve the fleet over the network: JSON-RPC 2.0 (HTTP and WebSocket, with the
    /// ClaudeBench system.* methods), live events, /metrics and /healthz.
    Serve(ServeArgs),
    /// Print coord's completions for a shell (bash, zsh, fish, elvish, powershell).
    #[command(after_help = EXAMPLES_COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Write the man pages of coord and of each of its commands into a directory.
    #[command(after_help = EXAMPLES_MAN)]
    Man(ManArgs),
}

/// Limits a session sets for itself.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Dead after this long with every source silent (default 30m).
    #[arg(long, value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// Stale (hung) after this long without progress while working (default 10m).
    #[arg(long, value_parser = parse_duration)]
    pub stale_after: Option<Duration>,
    /// Active while a signal is this recent (default 60s).
    #[arg(long, value_parser = parse_duration)]
    pub active_window: Option<Duration>,
    /// A tool call longer than this no longer excuses a lack of progress (default 30m).
    #[arg(long, value_parser = parse_duration)]
    pub tool_timeout: Option<Duration>,
    /// Dead once its host is silent this long while another host is heard all along (default
    /// 2h, or COORD_HOST_LOST_AFTER).
    #[arg(long, value_parser = parse_duration)]
    pub host_lost_after: Option<Duration>,
}

/// `coord hosts`.
#[derive(Debug, Args)]
pub struct HostsArgs {
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `coord host`.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// What this host says of itself.
    #[command(subcommand)]
    pub word: HostWord,
}

/// What a host can say of itself.
#[derive(Clone, Copy, Debug, Subcommand)]
pub enum HostWord {
    /// It goes to sleep: its sessions are unknown, never lost, for up to COORD_HOST_ASLEEP_MAX
    /// (default 24h).
    Sleep,
    /// It woke up.
    Wake,
    /// It shuts down: its sessions end now and their tasks go back to the queue.
    Shutdown,
}

/// `coord register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The session id [default: <host>-<pid>].
    #[arg(long, env = "COORD_ID")]
    pub id: Option<String>,
    /// What it works on [default: the .claude-task file above the working directory, else "session"].
    #[arg(long)]
    pub task: Option<String>,
    /// The process that proves it lives [default: the caller, coord's parent process].
    #[arg(long)]
    pub pid: Option<u32>,
    /// The kind of agent [default: guessed from the process name].
    #[arg(long)]
    pub runtime: Option<Runtime>,
    /// A file whose modification time shows progress (a log, a transcript).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// A free label, key=value; repeat for more.
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Start a new incarnation even if the same process registered before.
    #[arg(long)]
    pub restart: bool,
    /// The session's limits.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl RegisterArgs {
    /// The labels as a map.
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }
}

/// The phase a heartbeat reports.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PhaseArg {
    /// Working on a turn.
    Working,
    /// Inside a tool call (name it with --tool).
    InTool,
    /// The turn is over; waiting for a prompt.
    Waiting,
}

/// `coord heartbeat`.
#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// The session id [default: the hook event's session_id, else <host>-<parent pid>].
    #[arg(long, env = "COORD_ID")]
    pub id: Option<String>,
    /// Progress details to keep for whoever takes the work over (JSON).
    #[arg(long, value_parser = parse_json)]
    pub progress: Option<serde_json::Value>,
    /// The phase the session is in.
    #[arg(long)]
    pub phase: Option<PhaseArg>,
    /// The tool that runs (with --phase in-tool).
    #[arg(long, requires = "phase")]
    pub tool: Option<String>,
    /// Called from an agent hook: read the event from stdin, register if needed, print
    /// nothing, exit 0 whatever happens.
    #[arg(long)]
    pub hook: bool,
    /// Also renew (or take, if nobody holds it) the leader lease, and print `leader` or
    /// `follower`.
    #[arg(long, conflicts_with = "hook")]
    pub lead: bool,
}

/// `coord hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The event the hook is installed for (SessionStart, PreToolUse, Stop…), or
    /// codex-notify for Codex's notify program.
    pub event: String,
    /// What the session works on [default: the .claude-task file above its directory].
    #[arg(long)]
    pub task: Option<String>,
    /// For codex-notify: the user's own notify program and its arguments (run first), then the
    /// JSON Codex appends.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `coord unregister`.
#[derive(Debug, Args)]
pub struct UnregisterArgs {
    /// The session id [default: <host>-<parent pid>].
    #[arg(long, env = "COORD_ID")]
    pub id: Option<String>,
}

/// `coord ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Include sessions that ended cleanly.
    #[arg(long, short)]
    pub all: bool,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Redraw every second until interrupted.
    #[arg(long, short, conflicts_with = "json")]
    pub watch: bool,
    /// Only sessions in these states (repeat, or separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub state: Vec<State>,
}

/// `coord show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The session id.
    pub id: String,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `coord explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The session id.
    pub id: String,
}

/// `coord attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The session id.
    pub id: String,
    /// Print the tmux command that goes there instead of running it.
    #[arg(long)]
    pub print: bool,
}

/// `coord sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Evict sessions dead or ended for longer than this [default: 5m].
    #[arg(long, value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Work taken back is not handed out again for this long [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub lock_delay: Option<Duration>,
    /// Remove tasks done or failed longer ago than this, with their history [default: 7d, or
    /// COORD_TASK_KEEP].
    #[arg(long, value_parser = parse_duration)]
    pub keep: Option<Duration>,
    /// Hand the tasks waiting in the queue to live sessions whose labels fit, the least loaded
    /// first.
    #[arg(long)]
    pub assign: bool,
    /// The lease of claims made by --assign.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub lease: Duration,
    /// The most quiet sessions to examine in this sweep.
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `coord watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The process to hold.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub pid: Option<u32>,
    /// Watch every session of this host instead: the agents' status files (inotify) and a
    /// pidfd on every session process, until SIGINT or SIGTERM.
    #[arg(long)]
    pub all: bool,
    /// Its session [default: <host>-<pid>]; registered if it is not this process's yet.
    #[arg(long, env = "COORD_ID", conflicts_with = "all")]
    pub id: Option<String>,
    /// A file whose modification time shows progress (the session's log).
    #[arg(long, conflicts_with = "all")]
    pub log: Option<PathBuf>,
    /// How often to renew the session while the process lives (with --all: how often to look
    /// at every session of the host).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,
    /// With --all: the loopback address where Claude Code's HTTP hooks are received (`coord
    /// hooks install --via http` points them here).
    #[arg(long, default_value = "127.0.0.1:7078", value_name = "IP:PORT")]
    pub hook_listen: std::net::SocketAddr,
    /// With --all: receive no HTTP hooks.
    #[arg(long)]
    pub no_hook_listen: bool,
}

/// `coord service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ServiceAction,
}

/// What `coord service` does.
#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Write the user unit `coord-watch.service` (running `coord watch --all` with this
    /// COORD_URL and COORD_NAMESPACE) and enable and start it with `systemctl --user`.
    Install {
        /// Write the unit only; do not call systemctl.
        #[arg(long)]
        no_start: bool,
    },
    /// Stop and disable the unit, and remove it.
    Uninstall {
        /// Remove the unit only; do not call systemctl.
        #[arg(long)]
        no_start: bool,
    },
}

/// `coord config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// What `coord config` does.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the config file's path ($XDG_CONFIG_HOME/coord/config.toml, else
    /// ~/.config/coord/config.toml), whether it exists or not.
    Path,
}

/// `coord notify`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: NotifyAction,
}

/// What `coord notify` does.
#[derive(Debug, Subcommand)]
pub enum NotifyAction {
    /// Send a sample event through every rule, waiting for each, and print one line per rule:
    /// ok, or why it failed. Exit 1 if any failed.
    Test,
}

/// `coord watch-report`.
#[derive(Debug, Args)]
pub struct WatchReportArgs {
    /// The session.
    #[arg(long)]
    pub id: String,
    /// Its incarnation that the sidecar holds.
    #[arg(long)]
    pub incarnation: u64,
    /// How the process is held: watch (pidfd) or poll.
    #[arg(long, value_parser = ["watch", "poll"])]
    pub source: String,
    /// The session's log.
    #[arg(long)]
    pub log: Option<String>,
    /// The process ended, like this (JSON of the exit status).
    #[arg(long)]
    pub exited: Option<String>,
}

/// `coord run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Start the command in a new detached tmux session of this name.
    #[arg(long)]
    pub tmux: Option<String>,
    /// The session id [default: the tmux session's name, else <host>-<pid>].
    #[arg(long)]
    pub id: Option<String>,
    /// What it works on.
    #[arg(long)]
    pub task: Option<String>,
    /// The kind of agent [default: guessed from the process name].
    #[arg(long)]
    pub runtime: Option<Runtime>,
    /// A free label, key=value; repeat for more.
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// The session's limits.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `coord serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (IP:port); any but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:7077")]
    pub listen: std::net::SocketAddr,
    /// The bearer token every request must carry (Authorization: Bearer <token>).
    #[arg(long, env = "COORD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Let web pages of this origin (scheme, host and port, as a browser's Origin header writes
    /// them) call the server from a browser (CORS) and open its WebSocket; repeat for more
    /// [default: none].
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Evict sessions dead or ended for longer than this [default: 5m].
    #[arg(long, value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Work taken back is not handed out again for this long [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub lock_delay: Option<Duration>,
    /// Remove tasks done or failed longer ago than this, with their history [default: 7d, or
    /// COORD_TASK_KEEP].
    #[arg(long, value_parser = parse_duration)]
    pub keep: Option<Duration>,
}

/// `coord top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// How often to read the store again, at least 100ms (r reads it at once).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
}

/// `coord demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to run.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (for example 30s, 10m, 1h)"))
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected key=value".to_owned()),
    }
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}

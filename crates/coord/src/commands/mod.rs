//! One module per command. Each takes its parsed arguments and a [`Context`], calls the
//! service, and prints through [`crate::render`].

pub mod attach;
pub mod config;
pub mod demo;
pub mod docs;
pub mod doctor;
pub mod events;
pub mod explain;
pub mod heartbeat;
pub mod hook;
pub mod hooks;
pub mod hosts;
pub mod notify;
pub mod ps;
pub mod register;
pub mod report;
pub mod run;
pub mod serve;
pub mod service;
pub mod show;
pub mod sweep;
pub mod task;
pub mod top;
pub mod unregister;
pub mod watch;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use coord_core::{Policy, PolicyOverrides};
use coord_service::{HostInfo, Service};
use coord_store::{Config, StoreUrl};

use crate::cli::{Cli, Command, PolicyArgs};

/// How long the hook path waits for a store another writer holds.
const HOOK_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the hook path waits to reach a store over the network (a down or black-holed
/// Redis): the agent's tool call waits for the hook.
const HOOK_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// How long a command may wait for the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// A command a person or a script runs: the store's defaults (seconds).
    Command,
    /// An agent's hook: a short wait, then give up silently.
    Hook,
}

/// The file holding the token of this host's hook receiver (`coord watch --all`), which
/// `coord hooks install --via http` writes into the hooks.
pub fn hook_token_path() -> anyhow::Result<std::path::PathBuf> {
    Ok(coord_store::url::state_dir(|k| std::env::var(k).ok())?.join("hook-token"))
}

/// An error in how coord was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Where the store is and which fleet to see, as the command line and environment said.
pub struct Context {
    url: Option<String>,
    namespace: String,
}

impl Context {
    /// The context of a parsed command line.
    pub fn new(url: Option<String>, namespace: String) -> Self {
        Self { url, namespace }
    }

    /// The parsed store URL.
    pub fn store_url(&self) -> anyhow::Result<StoreUrl> {
        StoreUrl::parse(self.url.as_deref(), |k| std::env::var(k).ok())
            .map_err(|e| UsageError(e.to_string()).into())
    }

    /// Opens the service, waiting for the store as long as `patience` allows and judging with
    /// the namespace's limits (the defaults, and the environment's), adjusted by `adjust` (a
    /// command's own flags).
    pub fn service_with(
        &self,
        patience: Patience,
        adjust: impl FnOnce(Policy) -> Policy,
    ) -> anyhow::Result<Service> {
        let url = self.store_url()?;
        let mut config = Config::new(&self.namespace);
        if patience == Patience::Hook {
            config.busy_timeout = HOOK_BUSY_TIMEOUT;
            config.connect_timeout = HOOK_CONNECT_TIMEOUT;
        }
        let policy =
            coord_service::hosts::namespace_limits(Policy::default(), |k| std::env::var(k).ok())
                .map_err(UsageError)?;
        let policy = adjust(policy);
        let host = HostInfo::current();
        config.client = Some(host.name.clone());
        let store = coord_store::open(&url, &config.judged_by(&policy))
            .with_context(|| format!("cannot open the store {url}"))?;
        Ok(Service::new(store, host, policy))
    }

    /// Opens the service for a command a person or a script runs, with the default policy.
    pub fn service(&self) -> anyhow::Result<Service> {
        self.service_with(Patience::Command, |p| p)
    }

    /// The store URL given on the command line or in `COORD_URL`, if any.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Context::new(cli.url, cli.namespace);
    match cli.command {
        Command::Register(args) => register::run(&ctx, &args),
        Command::Heartbeat(args) => heartbeat::run(&ctx, &args),
        // Hook invocations never get here: `main` sends them to `hook::run_silently`.
        Command::Hook(_) => Ok(ExitCode::SUCCESS),
        Command::Unregister(args) => unregister::run(&ctx, args),
        Command::Ps(args) => ps::run(&ctx, &args),
        Command::Top(args) => top::run(&ctx, &args),
        Command::Show(args) => show::run(&ctx, &args),
        Command::Events(args) => events::run(&ctx, &args),
        Command::Report(args) => report::run(&ctx, &args),
        Command::Explain(args) => explain::run(&ctx, &args),
        Command::Attach(args) => attach::run(&ctx, &args),
        Command::Doctor => doctor::run(&ctx),
        Command::Config(args) => config::run(&args),
        Command::Notify(args) => notify::run(&args),
        Command::Sweep(args) => sweep::run(&ctx, &args),
        Command::Task(args) => task::run(&ctx, &args),
        Command::Demo(args) => demo::run(&args),
        Command::Watch(args) => watch::run(&ctx, &args),
        Command::WatchReport(args) => watch::report(&ctx, &args),
        Command::Hooks(args) => hooks::run(&args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Serve(args) => serve::run(&ctx, &args),
        Command::Completions(args) => Ok(docs::completions(&args)),
        Command::Man(args) => docs::man(&args),
        Command::Service(args) => service::run(&ctx, &args),
        Command::Hosts(args) => hosts::list(&ctx, &args),
        Command::Host(args) => hosts::say(&ctx, &args),
    }
}

impl From<&PolicyArgs> for PolicyOverrides {
    fn from(p: &PolicyArgs) -> Self {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        PolicyOverrides {
            active_window: ms(p.active_window),
            stale_after: ms(p.stale_after),
            tool_timeout: ms(p.tool_timeout),
            ttl: ms(p.ttl),
            host_lost_after: ms(p.host_lost_after),
        }
    }
}

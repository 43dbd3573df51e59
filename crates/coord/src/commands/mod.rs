//! One module per command. Each takes its parsed arguments and a [`Context`], calls the
//! service, and prints through [`crate::render`].

pub mod demo;
pub mod events;
pub mod heartbeat;
pub mod hook;
pub mod hooks;
pub mod ps;
pub mod register;
pub mod run;
pub mod show;
pub mod sweep;
pub mod unregister;
pub mod watch;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use coord_core::{Policy, PolicyOverrides, Timestamp};
use coord_service::{HostInfo, Service};
use coord_store::{Config, StoreUrl};

use crate::cli::{Cli, Command, PolicyArgs};

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

    /// Opens the service, waiting at most `busy_timeout` for a store another writer holds and
    /// judging with `policy`.
    pub fn service_with(&self, busy_timeout: Duration, policy: Policy) -> anyhow::Result<Service> {
        let url = self.store_url()?;
        let config = Config {
            busy_timeout,
            ..Config::new(&self.namespace)
        };
        let store = coord_store::open(&url, &config)
            .with_context(|| format!("cannot open the store {url}"))?;
        Ok(Service::new(store, HostInfo::current(), policy))
    }

    /// Opens the service with the default busy timeout and policy.
    pub fn service(&self) -> anyhow::Result<Service> {
        self.service_with(Config::new(&self.namespace).busy_timeout, Policy::default())
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
        Command::Show(args) => show::run(&ctx, &args),
        Command::Events(args) => events::run(&ctx, &args),
        Command::Sweep(args) => sweep::run(&ctx, &args),
        Command::Demo(args) => demo::run(&args),
        Command::Watch(args) => watch::run(&ctx, &args),
        Command::Hooks(args) => hooks::run(&args),
        Command::Run(args) => run::run(&ctx, &args),
    }
}

/// The host's wall clock, for the time a signal was observed.
pub fn wall_clock() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_millis(coord_core::time::millis(since_epoch))
}

impl From<&PolicyArgs> for PolicyOverrides {
    fn from(p: &PolicyArgs) -> Self {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        PolicyOverrides {
            active_window: ms(p.active_window),
            stale_after: ms(p.stale_after),
            tool_timeout: ms(p.tool_timeout),
            ttl: ms(p.ttl),
        }
    }
}

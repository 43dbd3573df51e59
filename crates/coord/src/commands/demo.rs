//! `coord demo`: coord's main job, shown on real processes in about 20 seconds.
//!
//! It starts five shell scripts that register with a private store and heartbeat through the
//! real `coord` binary: one keeps working (in and out of tool calls), one finishes its turn and
//! waits, one hangs, one is killed with SIGKILL, one ends cleanly. The demo redraws the fleet
//! as coord sees it every second, with short limits so that every state shows up in time.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use coord_core::{Policy, State};
use coord_service::{Entry, HostInfo, Service};
use coord_store::{Config, StoreUrl};

use super::{events, ps};
use crate::cli::DemoArgs;
use crate::render::outln;
use crate::render::use_color;

/// The demo's workers: (id, script). `$C` is coord itself; every worker judges itself stale
/// after 5 s without progress.
const WORKERS: [(&str, &str); 5] = [
    (
        "builder",
        r#"$C register --id builder --task "build the release" --stale-after 5s >/dev/null
while :; do
  $C heartbeat --id builder --phase in-tool --tool cargo; sleep 3
  $C heartbeat --id builder --phase working; sleep 2
done"#,
    ),
    (
        "reviewer",
        r#"$C register --id reviewer --task "review the open pull request" --stale-after 5s >/dev/null
for i in 1 2 3; do $C heartbeat --id reviewer; sleep 1; done
$C heartbeat --id reviewer --phase waiting
exec sleep 3600"#,
    ),
    (
        "tester",
        r#"$C register --id tester --task "run the test suite" --stale-after 5s >/dev/null
for i in 1 2 3; do $C heartbeat --id tester; sleep 1; done
exec sleep 3600"#,
    ),
    (
        "crasher",
        r#"$C register --id crasher --task "migrate the schema" --stale-after 5s >/dev/null
for i in 1 2 3 4 5 6; do $C heartbeat --id crasher; sleep 1; done
kill -9 $$"#,
    ),
    (
        "finisher",
        r#"$C register --id finisher --task "write the changelog" --stale-after 5s >/dev/null
for i in 1 2 3 4; do $C heartbeat --id finisher; sleep 1; done
$C unregister --id finisher"#,
    ),
];

/// How long the demo keeps a dead or ended session before evicting it.
const DEMO_EVICT_GRACE: Duration = Duration::from_secs(5);

/// Runs `coord demo`.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("coord-demo-").tempdir()?;
    let url = StoreUrl::Sqlite(dir.path().join("coord.db"));
    let namespace = "demo";
    let policy = Policy {
        evict_grace: DEMO_EVICT_GRACE,
        ..Policy::default()
    };
    let service = Service::new(
        coord_store::open(&url, &Config::new(namespace))?,
        HostInfo::current(),
        policy,
    );
    let coord = std::env::current_exe().context("cannot find the coord binary")?;
    let mut children: Vec<Child> = WORKERS
        .iter()
        .map(|(name, script)| {
            Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .env("C", &coord)
                .env("COORD_URL", url.to_string())
                .env("COORD_NAMESPACE", namespace)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("cannot start the {name} worker"))
        })
        .collect::<anyhow::Result<_>>()?;

    let outcome = show(&service, args.duration);
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcome?;
    outln!();
    outln!("Events:");
    for e in service.events(0, 1000)? {
        outln!("{}", events::line(&e));
    }
    outln!();
    outln!("That was coord on five real processes. Next: `coord register` in a script,");
    outln!("`coord heartbeat` from an agent hook, and `coord ps` to see your own fleet.");
    Ok(ExitCode::SUCCESS)
}

/// Redraws the fleet every second until `duration` has passed. On a terminal the view is
/// redrawn in place; otherwise a snapshot is printed whenever a state changes.
fn show(service: &Service, duration: Duration) -> anyhow::Result<()> {
    let live = std::io::stdout().is_terminal();
    let color = use_color();
    let start = Instant::now();
    let mut last: BTreeMap<String, State> = BTreeMap::new();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1));
        let fleet = service.fleet()?;
        let states: BTreeMap<String, State> = fleet
            .entries
            .iter()
            .map(|e| (e.session.id.clone(), e.verdict.state))
            .collect();
        let all: Vec<&Entry> = fleet.entries.iter().collect();
        let table = ps::table(&fleet, &all, color);
        let t = start.elapsed().as_secs();
        let mut out = std::io::stdout().lock();
        if live {
            write!(out, "\x1b[H\x1b[2J")?;
            writeln!(
                out,
                "coord demo: five real processes, t+{t}s of {}s\n",
                duration.as_secs()
            )?;
            write!(out, "{table}")?;
        } else if states != last {
            writeln!(out, "t+{t}s")?;
            write!(out, "{table}")?;
            for id in last.keys().filter(|id| !states.contains_key(*id)) {
                writeln!(out, "(evicted: {id})")?;
            }
            writeln!(out)?;
        }
        out.flush()?;
        last = states;
    }
    Ok(())
}

//! `coord ps`: the fleet at a glance.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use coord_core::State;
use coord_service::{Entry, Fleet};
use serde_json::json;

use super::Context;
use crate::cli::PsArgs;
use crate::render::table::{Cell, Table, truncate};
use crate::render::{ago, json as render_json, paint, use_color};

/// Runs `coord ps`.
pub fn run(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let color = use_color();
    loop {
        let fleet = service.fleet()?;
        service.tidy()?;
        let shown: Vec<&Entry> = fleet
            .entries
            .iter()
            .filter(|e| shows(args, e.verdict.state))
            .collect();
        let mut out = std::io::stdout().lock();
        if args.json {
            let sessions: Vec<_> = shown.iter().map(|e| render_json::entry(e)).collect();
            let doc = render_json::document(
                fleet.now,
                json!({ "namespace": ctx.namespace(), "sessions": sessions }),
            );
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        if args.watch {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        write!(out, "{}", table(&fleet, &shown, color))?;
        out.flush()?;
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        drop(out);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The tasks a session holds, and `leader` if it leads.
fn work(e: &Entry) -> String {
    let mut work = e.claims.clone();
    if e.leads {
        work.push("leader".to_owned());
    }
    if work.is_empty() {
        "-".to_owned()
    } else {
        work.join(",")
    }
}

fn shows(args: &PsArgs, state: State) -> bool {
    if args.state.is_empty() {
        args.all || state != State::Ended
    } else {
        args.state.contains(&state)
    }
}

/// The fleet as an aligned table.
pub fn table(fleet: &Fleet, entries: &[&Entry], color: bool) -> String {
    let mut t = Table::new(vec![
        "ID",
        "RUNTIME",
        "TASK",
        "HOST:PID",
        "STATE",
        "LAST SEEN",
        "WORK",
        "REASON",
    ]);
    for e in entries {
        let s = &e.session;
        let state = e.verdict.state;
        t.push(vec![
            s.id.as_str().into(),
            s.runtime.as_str().into(),
            truncate(&s.task, 32).into(),
            s.location().into(),
            Cell::painted(state.to_string(), paint(state, state.as_str(), color)),
            ago(s.last_seen, fleet.now).into(),
            work(e).into(),
            e.verdict.reason.as_str().into(),
        ]);
    }
    t.render()
}

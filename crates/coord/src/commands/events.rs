//! `coord events`: the event log, and `--follow` to keep reading it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use coord_core::Event;
use serde_json::json;

use super::Context;
use crate::cli::EventsArgs;
use crate::render::{json as render_json, rfc3339};

/// Events read per round trip to the store.
const PAGE: usize = 1000;

/// How often `--follow` looks for new events.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Runs `coord events`.
pub fn run(ctx: &Context, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let mut after = args.since;
    let mut out = std::io::stdout().lock();
    if args.json && !args.follow {
        let mut all = Vec::new();
        loop {
            let page = service.events(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page.iter().map(render_json::event));
        }
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "events": all }))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let page = service.events(after, PAGE)?;
        for e in &page {
            if args.json {
                writeln!(out, "{}", render_json::event(e))?;
            } else {
                writeln!(out, "{}", line(e))?;
            }
        }
        out.flush()?;
        match page.last() {
            Some(last) => after = last.seq,
            None if args.follow => std::thread::sleep(FOLLOW_EVERY),
            None => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// One event as a line of text.
pub fn line(e: &Event) -> String {
    format!("{:>6}  {}  {}  {}", e.seq, rfc3339(e.at), e.session, e.kind)
}

//! `coord report`: what the fleet did over a window (24 hours unless `--since` says), per session
//! and in all: the time in each phase the sessions reported, how often each was entered, and
//! the exits, from the event log ([`coord_service::report`]).

use std::process::ExitCode;

use coord_core::history::{SessionHistory, UNREPORTED};
use coord_core::time::{Compact, millis};
use serde_json::{Value, json};

use super::Context;
use crate::cli::ReportArgs;
use crate::render::table::{Cell, Table};
use crate::render::{json as render_json, out, outln, rfc3339};

/// The phases as columns, in the order of a turn: the names events carry, and their titles.
const COLUMNS: [(&str, &str); 8] = [
    ("working", "WORKING"),
    ("in-tool", "IN-TOOL"),
    ("blocked", "BLOCKED"),
    ("limited", "LIMITED"),
    ("background", "BACKGROUND"),
    ("waiting", "WAITING"),
    ("ended", "ENDED"),
    (UNREPORTED, "UNREPORTED"),
];

/// Runs `coord report`.
pub fn run(ctx: &Context, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let r = service.fleet_history(args.since)?;
    if args.json {
        let sessions: Vec<Value> = r
            .sessions
            .iter()
            .map(|(id, h)| {
                let mut v = history_json(h);
                v["id"] = id.clone().into();
                v
            })
            .collect();
        let doc = render_json::document(
            r.now,
            json!({
                "since": rfc3339(r.since),
                "since_ms": r.since.as_millis(),
                "events": r.events,
                "trimmed_before_ms": r.trimmed_before.map(coord_core::Timestamp::as_millis),
                "sessions": sessions,
                "fleet": history_json(&r.fleet),
            }),
        );
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "the last {}: {} to {}, from {} events",
        Compact(args.since),
        rfc3339(r.since),
        rfc3339(r.now),
        r.events
    );
    if let Some(oldest) = r.trimmed_before.filter(|t| *t > r.since) {
        outln!(
            "the log no longer holds what came before {}: the report starts there",
            rfc3339(oldest)
        );
    }
    let shown: Vec<(&str, &'static str)> = COLUMNS
        .into_iter()
        .filter(|(name, _)| r.fleet.time.contains_key(*name) || r.fleet.entered.contains_key(*name))
        .collect();
    let mut header = vec!["SESSION"];
    header.extend(shown.iter().map(|(_, title)| *title));
    header.push("EXITS");
    let mut table = Table::new(header);
    let row = |name: &str, h: &SessionHistory| {
        let mut cells: Vec<Cell> = vec![name.into()];
        cells.extend(shown.iter().map(|(phase, _)| cell(h, phase).into()));
        cells.push(if h.exits == 0 {
            "-".into()
        } else {
            h.exits.to_string().into()
        });
        cells
    };
    for (id, h) in &r.sessions {
        table.push(row(id, h));
    }
    table.push(row("fleet", &r.fleet));
    out!("{}", table.render());
    Ok(ExitCode::SUCCESS)
}

/// The time in `phase`, and how many times it was entered: `2h10m ×14`.
fn cell(h: &SessionHistory, phase: &str) -> String {
    let time = h.time.get(phase).copied().unwrap_or_default();
    let entered = h.entered.get(phase).copied().unwrap_or(0);
    match (time.is_zero(), entered) {
        (true, 0) => "-".to_owned(),
        (_, 0) => Compact(time).to_string(),
        _ => format!("{} ×{entered}", Compact(time)),
    }
}

fn history_json(h: &SessionHistory) -> Value {
    let time: serde_json::Map<String, Value> = h
        .time
        .iter()
        .map(|(name, d)| (name.clone(), millis(*d).into()))
        .collect();
    let transitions: Vec<Value> = h
        .transitions
        .iter()
        .map(|((from, to), n)| json!({ "from": from, "to": to, "count": n }))
        .collect();
    json!({
        "time_ms": time,
        "entered": h.entered,
        "transitions": transitions,
        "exits": h.exits,
    })
}

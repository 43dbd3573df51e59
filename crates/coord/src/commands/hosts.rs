//! `coord hosts`: every host of the fleet with its last signal, since when it has been heard
//! without a gap, its state and its sessions; `coord host sleep|wake|shutdown`: what this
//! host says of itself.

use std::process::ExitCode;

use coord_core::{HostState, State};
use coord_service::hosts::Said;
use serde_json::json;

use super::Context;
use crate::cli::{HostArgs, HostWord, HostsArgs};
use crate::render::table::{Cell, Table, truncate};
use crate::render::{ago, json as render_json, paint, use_color};
use crate::render::{out, outln};

/// Runs `coord hosts`.
pub fn list(ctx: &Context, args: &HostsArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let (now, hosts) = service.host_table()?;
    if args.json {
        let hosts: Vec<_> = hosts.iter().map(render_json::host).collect();
        let doc =
            render_json::document(now, json!({ "namespace": ctx.namespace(), "hosts": hosts }));
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let color = use_color();
    let mut table = Table::new(vec![
        "HOST",
        "STATE",
        "LAST HEARD",
        "HEARD SINCE",
        "SESSIONS",
        "REASON",
    ]);
    for h in &hosts {
        let state = h.verdict.state.as_str();
        // The session state each host state means for its silent sessions, for its colour.
        let shade = match h.verdict.state {
            HostState::Heard => State::Active,
            HostState::Silent | HostState::Asleep => State::Unknown,
            HostState::Down | HostState::Lost => State::Dead,
        };
        let sessions = if h.sessions.is_empty() {
            "-".to_owned()
        } else {
            truncate(&h.sessions.join(","), 40)
        };
        table.push(vec![
            Cell::from(h.name.clone()),
            Cell::painted(state.to_owned(), paint(shade, state, color)),
            Cell::from(ago(h.heard.last, now)),
            Cell::from(ago(h.heard.since, now)),
            Cell::from(sessions),
            Cell::from(h.verdict.reason.clone()),
        ]);
    }
    if hosts.is_empty() {
        outln!("no host heard yet in namespace `{}`", ctx.namespace());
    } else {
        out!("{}", table.render());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `coord host sleep|wake|shutdown`.
pub fn say(ctx: &Context, args: &HostArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let said = match args.word {
        HostWord::Sleep => Said::Sleep,
        HostWord::Wake => Said::Wake,
        HostWord::Shutdown => Said::Shutdown,
    };
    let done = service.announce(said)?;
    let host = &service.host().name;
    match said {
        Said::Sleep => outln!("{host} asleep: its sessions are not lost while it sleeps"),
        Said::Wake => outln!("{host} awake"),
        Said::Shutdown => {
            let n = |count: usize, one: &str| {
                format!("{count} {one}{}", if count == 1 { "" } else { "s" })
            };
            outln!(
                "{host} down: {} ended, {} back in the queue",
                n(done.ended.len(), "session"),
                n(done.released.len(), "task")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `coord sweep`: run `check_health` now: evict the sessions dead (or ended) past the grace
//! period, take back the tasks they held and the claims that lapsed, remove the tasks finished
//! longer ago than `--keep`, and with `--assign` hand the waiting tasks to live sessions.

use std::collections::BTreeMap;
use std::process::ExitCode;

use coord_core::Policy;
use serde_json::json;

use super::{Context, Patience};
use crate::cli::SweepArgs;
use crate::render::outln;

/// Runs `coord sweep`.
pub fn run(ctx: &Context, args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service_with(Patience::Command, |limits| Policy {
        evict_grace: args.grace.unwrap_or(limits.evict_grace),
        lock_delay: args.lock_delay.unwrap_or(limits.lock_delay),
        task_keep: args.keep.unwrap_or(limits.task_keep),
        ..limits
    })?;
    let report = service.check_health(args.limit)?;
    let assigned = if args.assign {
        service.assign(args.lease)?
    } else {
        BTreeMap::new()
    };
    service.tidy()?;
    if args.json {
        let pairs = |list: &[(String, String)], key: &str| -> Vec<serde_json::Value> {
            list.iter()
                .map(|(id, why)| json!({ "id": id, key: why }))
                .collect()
        };
        let doc = json!({
            "examined": report.examined,
            "exited": report.exited,
            "evicted": pairs(&report.evicted, "reason"),
            "released": report.released.iter().map(|r| json!({ "id": r.task, "holder": r.holder, "why": r.why })).collect::<Vec<_>>(),
            "retired": report.retired,
            "hosts": pairs(&report.hosts, "became"),
            "assigned": assigned,
            "leader": report.leader,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (host, became) in &report.hosts {
        outln!("host      {host}: {became}");
    }
    for id in &report.exited {
        outln!("exited    {id}: process gone");
    }
    for (id, reason) in &report.evicted {
        outln!("evicted   {id}: {reason}");
    }
    for r in &report.released {
        outln!("released  {}: {}", r.task, r.why);
    }
    for (task, session) in &assigned {
        outln!("assigned  {task} -> {session}");
    }
    if let Some(leader) = &report.leader {
        outln!("leader    {leader}");
    }
    if report.retired > 0 {
        outln!(
            "retired   {} finished task{}",
            report.retired,
            if report.retired == 1 { "" } else { "s" }
        );
    }
    if report.evicted.is_empty()
        && report.released.is_empty()
        && report.retired == 0
        && assigned.is_empty()
        && report.hosts.is_empty()
    {
        outln!(
            "nothing to do ({} quiet sessions examined)",
            report.examined
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `coord sweep`: evict the sessions dead (or ended) past the grace period, now.

use std::process::ExitCode;

use coord_core::Policy;
use serde_json::json;

use super::{Context, Patience};
use crate::cli::SweepArgs;

/// Runs `coord sweep`.
pub fn run(ctx: &Context, args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let policy = Policy {
        evict_grace: args.grace.unwrap_or(Policy::default().evict_grace),
        ..Policy::default()
    };
    let service = ctx.service_with(Patience::Command, policy)?;
    let report = service.sweep(args.limit)?;
    service.tidy()?;
    if args.json {
        let evicted: Vec<_> = report
            .evicted
            .iter()
            .map(|(id, reason)| json!({ "id": id, "reason": reason }))
            .collect();
        let doc =
            json!({ "examined": report.examined, "exited": report.exited, "evicted": evicted });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    for id in &report.exited {
        println!("exited   {id}: process gone");
    }
    for (id, reason) in &report.evicted {
        println!("evicted  {id}: {reason}");
    }
    if report.evicted.is_empty() {
        println!(
            "nothing to evict ({} quiet sessions examined)",
            report.examined
        );
    }
    Ok(ExitCode::SUCCESS)
}

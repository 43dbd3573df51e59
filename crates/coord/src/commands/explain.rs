//! `coord explain ID`: every signal coord holds for a session (source, time, value) and the
//! rule that decided its state, so a wrong state can be understood in one look.

use std::fmt::Write as _;
use std::process::ExitCode;

use coord_core::{Compact, Phase, ProcessFact, Rule, State};
use coord_service::fleet::Report;

use super::Context;
use crate::cli::ExplainArgs;
use crate::render::out;
use crate::render::{ago, rfc3339};

/// The rules of `classify`, in the order they are tried.
const RULES: [Rule; 12] = [
    Rule::EndedCleanly,
    Rule::ProcessExited,
    Rule::HostLost,
    Rule::SilentPastTtl,
    Rule::HostSilent,
    Rule::WaitingForPerson,
    Rule::CannotWork,
    Rule::ToolRunning,
    Rule::NoProgress,
    Rule::BackgroundWork,
    Rule::TurnOver,
    Rule::Working,
];

/// Runs `coord explain`.
pub fn run(ctx: &Context, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let (service, report) = super::show::load(ctx, &args.id)?;
    out!("{}", explain(&report, service.policy()));
    Ok(ExitCode::SUCCESS)
}

fn explain(report: &Report, policy: &coord_core::Policy) -> String {
    let (s, v, now) = (&report.entry.session, &report.entry.verdict, report.now);
    let p = policy.with(&s.policy);
    let at = |t: coord_core::Timestamp| format!("{:>9}  {}", ago(t, now), rfc3339(t));
    let mut out = String::new();
    let _ = writeln!(out, "{} is {}: {}", s.id, v.state, v.reason);
    let _ = writeln!(out);
    let _ = writeln!(out, "signals (the last of each source):");
    for (source, t) in &s.signals {
        let _ = writeln!(out, "  {:<8} {}", source.as_str(), at(*t));
    }
    let _ = writeln!(out, "  {:<8} {}", "any", at(s.last_seen));
    if let Some(t) = s.last_activity {
        let _ = writeln!(
            out,
            "  {:<8} {}  (a tool call, a prompt, a heartbeat)",
            "activity",
            at(t)
        );
    }
    if let Some(t) = s.log_mtime {
        let path = s.log_path.as_deref().unwrap_or("");
        let _ = writeln!(out, "  {:<8} {}  ({path} modified)", "log", at(t));
    }
    let phase = match &s.phase {
        Phase::InTool { tool, since } => format!("in-tool ({tool}, since {})", ago(*since, now)),
        Phase::Blocked { on } => format!("blocked on {on}"),
        Phase::Limited { why } => format!("limited: {why}"),
        other => other.name().to_owned(),
    };
    let _ = writeln!(
        out,
        "  {:<8} {phase}, reported {}",
        "phase",
        ago(s.phase_at, now)
    );
    let process = match s.process {
        ProcessFact::Unknown => "not watched (no watcher, or another host)".to_owned(),
        ProcessFact::Alive { checked_at } => format!("alive, seen {}", ago(checked_at, now)),
        ProcessFact::Exited { status, at } => format!("{status}, seen {}", ago(at, now)),
    };
    let _ = writeln!(out, "  {:<8} {} {process}", "process", s.location());
    let _ = writeln!(out);
    let (heard, host) = &report.host;
    let _ = writeln!(out, "host {}: {} ({})", s.host, host.state, host.reason);
    if let Some(h) = heard {
        let _ = writeln!(out, "  {:<12} {}", "last signal", at(h.last));
        let _ = writeln!(out, "  {:<12} {}", "heard since", at(h.since));
        if !h.pause.is_zero() {
            let _ = writeln!(
                out,
                "  {:<12} {} (its longest silence since)",
                "pause",
                Compact(h.pause)
            );
        }
        if let Some(n) = h.notice {
            let _ = writeln!(out, "  {:<12} {} {}", "noted", n.kind.as_str(), at(n.at));
        }
    }
    if !host.witnesses.is_empty() {
        let _ = writeln!(
            out,
            "  heard without a gap all the while: {}",
            host.witnesses.join(", ")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "limits: active_window {}, stale_after {}, tool_timeout {}, ttl {}, evict_grace {}, \
         host_lost_after {}, host_asleep_max {}",
        Compact(p.active_window),
        Compact(p.stale_after),
        Compact(p.tool_timeout),
        Compact(p.ttl),
        Compact(p.evict_grace),
        Compact(p.host_lost_after),
        Compact(p.host_asleep_max)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "rules, in order (the first that holds decides):");
    for (i, rule) in RULES.iter().enumerate() {
        let mark = if *rule == v.rule { "->" } else { "  " };
        let _ = writeln!(out, "{mark} {}. {}", i + 1, rule.describe());
    }
    if v.state == State::Stale || v.state == State::Dead {
        let _ = writeln!(out);
        let _ = writeln!(out, "since {} ({})", ago(v.since, now), rfc3339(v.since));
    }
    out
}

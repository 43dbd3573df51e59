//! `coord show ID`: one session in detail, with the rule that decided its state.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::anyhow;
use coord_core::{Phase, Policy, ProcessFact, Session, Timestamp};
use coord_service::Service;
use coord_service::fleet::Report;
use serde_json::json;

use super::Context;
use crate::cli::ShowArgs;
use crate::render::{ago, json as render_json, paint, rfc3339, use_color};
use crate::render::{out, outln};

/// The service and the report on session `id`; an error naming the namespace if there is no
/// such session.
pub fn load(ctx: &Context, id: &str) -> anyhow::Result<(Service, Report)> {
    let service = ctx.service()?;
    let report = service
        .report(id)?
        .ok_or_else(|| anyhow!("no session `{id}` in namespace `{}`", ctx.namespace()))?;
    Ok((service, report))
}

/// Runs `coord show`.
pub fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let (service, report) = load(ctx, &args.id)?;
    if args.json {
        let events: Vec<_> = report.events.iter().map(render_json::event).collect();
        let doc = render_json::document(
            report.now,
            json!({ "session": render_json::entry(&report.entry), "events": events }),
        );
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", text(&report, service.policy(), use_color()));
    }
    Ok(ExitCode::SUCCESS)
}

fn text(report: &Report, policy: &Policy, color: bool) -> String {
    let (s, v, now) = (&report.entry.session, &report.entry.verdict, report.now);
    let when = |t: Timestamp| format!("{} ({})", ago(t, now), rfc3339(t));
    let mut rows: Vec<(&str, String)> = vec![
        ("id", format!("{} (incarnation {})", s.id, s.incarnation)),
        (
            "state",
            format!(
                "{} since {}: {}",
                paint(v.state, v.state.as_str(), color),
                ago(v.since, now),
                v.reason
            ),
        ),
        ("rule", v.rule.describe().to_owned()),
        ("runtime", s.runtime.to_string()),
        ("task", s.task.clone()),
        ("process", process(s, now)),
        ("phase", phase(s, now)),
        ("registered", when(s.registered_at)),
        ("last seen", when(s.last_seen)),
    ];
    if let Some(t) = s.last_activity {
        rows.push(("last activity", when(t)));
    }
    if let Some(t) = s.last_progress {
        rows.push(("last progress", when(t)));
    }
    let signals: Vec<String> = s
        .signals
        .iter()
        .map(|(src, t)| format!("{} {}", src.as_str(), ago(*t, now)))
        .collect();
    rows.push(("signals", signals.join(", ")));
    rows.push(("beats", s.beats.to_string()));
    if let Some(cwd) = &s.cwd {
        rows.push(("cwd", cwd.clone()));
    }
    if !s.labels.is_empty() {
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(("labels", labels.join(" ")));
    }
    if let Some(path) = &s.log_path {
        let modified = s.log_mtime.map_or("not seen".to_owned(), |t| {
            format!("modified {}", ago(t, now))
        });
        rows.push(("log", format!("{path} ({modified})")));
    }
    if let Some(p) = &s.progress {
        rows.push(("progress", p.to_string()));
    }
    rows.push(("policy", limits(s, policy)));
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{:<14} {v}", format!("{k}:"));
    }
    let _ = writeln!(out, "events:");
    for e in &report.events {
        let _ = writeln!(out, "  {:>6}  {}  {}", e.seq, rfc3339(e.at), e.kind);
    }
    out
}

fn process(s: &Session, now: Timestamp) -> String {
    let fact = match s.process {
        ProcessFact::Unknown => "not watched".to_owned(),
        ProcessFact::Alive { checked_at } => format!("alive, checked {}", ago(checked_at, now)),
        ProcessFact::Exited { status, at } => format!("{status}, seen {}", ago(at, now)),
    };
    format!("{} ({fact})", s.location())
}

fn phase(s: &Session, now: Timestamp) -> String {
    match &s.phase {
        Phase::InTool { tool, since } => format!("in-tool: {tool} since {}", ago(*since, now)),
        other => format!("{} since {}", other.name(), ago(s.phase_at, now)),
    }
}

fn limits(s: &Session, policy: &Policy) -> String {
    let p = policy.with(&s.policy);
    let mark = |own: Option<u64>| if own.is_some() { " (own)" } else { "" };
    format!(
        "active_window {}{}, stale_after {}{}, tool_timeout {}{}, ttl {}{}, evict_grace {}",
        coord_core::Compact(p.active_window),
        mark(s.policy.active_window),
        coord_core::Compact(p.stale_after),
        mark(s.policy.stale_after),
        coord_core::Compact(p.tool_timeout),
        mark(s.policy.tool_timeout),
        coord_core::Compact(p.ttl),
        mark(s.policy.ttl),
        coord_core::Compact(p.evict_grace),
    )
}

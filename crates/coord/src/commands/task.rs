//! `coord task add|claim|progress|complete|fail|release|list|show`: the work queue, with
//! fencing tokens. A holder passes its claim's token back with every change; a stale token is
//! refused (exit 1) and changes nothing.

use std::process::ExitCode;

use coord_core::{NewTask, Task, TaskState};
use coord_service::host;
use coord_service::tasks::TaskOp;
use serde_json::json;

use super::Context;
use crate::cli::{TaskAction, TaskArgs};
use crate::render::table::{Table, truncate};
use crate::render::{ago, rfc3339};
use crate::render::{out, outln};

/// Runs `coord task`.
pub fn run(ctx: &Context, args: &TaskArgs) -> anyhow::Result<ExitCode> {
    let service = ctx.service()?;
    let session = |given: &Option<String>| {
        given
            .clone()
            .unwrap_or_else(|| service.default_id(host::parent_pid()))
    };
    let print = |t: &Task, json: bool| -> anyhow::Result<()> {
        if json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&coord_service::json::task(t))?
            );
        } else {
            out!("{}", task_text(t, service.now()?));
        }
        Ok(())
    };
    match &args.action {
        TaskAction::Add {
            title,
            id,
            labels,
            max_attempts,
        } => {
            let task = service.task_add(NewTask {
                id: id.clone().unwrap_or_default(),
                title: title.join(" "),
                labels: labels.iter().cloned().collect(),
                max_attempts: *max_attempts,
            })?;
            outln!("{}", task.id);
        }
        TaskAction::Claim {
            session: who,
            task,
            lease,
            json,
        } => {
            let t = service.task_claim(&session(who), task.as_deref(), *lease)?;
            if *json {
                print(&t, true)?;
            } else {
                let TaskState::Claimed { token, .. } = t.state else {
                    unreachable!("a claim returns a claimed task")
                };
                outln!("{} {token}", t.id);
                if let Some(p) = &t.progress {
                    eprintln!("coord: progress left by the last holder: {p}");
                }
            }
        }
        TaskAction::Progress {
            task,
            token,
            details,
            lease,
        } => {
            service.task_update(task, *token, &TaskOp::Progress(details.clone(), *lease))?;
        }
        TaskAction::Complete { task, token } => {
            service.task_update(task, *token, &TaskOp::Complete)?;
        }
        TaskAction::Fail {
            task,
            token,
            reason,
        } => {
            service.task_update(task, *token, &TaskOp::Fail(reason.clone()))?;
        }
        TaskAction::Release { task, token } => {
            service.task_update(task, *token, &TaskOp::Release)?;
        }
        TaskAction::List { all, json } => {
            let tasks = service.tasks(*all)?;
            list(&tasks, service.now()?, *json)?;
            let finished = tasks.iter().filter(|t| t.finished_at().is_some()).count();
            if !*all && !*json && finished == coord_service::tasks::FINISHED_SHOWN {
                eprintln!("the last {finished} finished tasks shown; --all lists every one kept");
            }
        }
        TaskAction::Show { task, json } => print(&service.task(task)?, *json)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list(tasks: &[Task], now: coord_core::Timestamp, json: bool) -> anyhow::Result<()> {
    if json {
        let all: Vec<_> = tasks.iter().map(coord_service::json::task).collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "tasks": all }))?
        );
        return Ok(());
    }
    let mut table = Table::new(vec![
        "ID", "STATE", "HOLDER", "TOKEN", "ATTEMPTS", "CHANGED", "TITLE",
    ]);
    for t in tasks {
        let (holder, token) = match &t.state {
            TaskState::Claimed { session, token, .. } => (session.clone(), token.to_string()),
            TaskState::Done { session } => (session.clone(), String::new()),
            _ => (String::new(), String::new()),
        };
        table.push(vec![
            t.id.as_str().into(),
            t.state.name().into(),
            holder.into(),
            token.into(),
            format!("{}/{}", t.attempts, t.max_attempts).into(),
            ago(t.updated_at, now).into(),
            truncate(&t.title, 48).into(),
        ]);
    }
    out!("{}", table.render());
    Ok(())
}

fn task_text(t: &Task, now: coord_core::Timestamp) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{:<10} {}", "id:", t.id);
    let _ = writeln!(out, "{:<10} {}", "title:", t.title);
    let state = match &t.state {
        TaskState::Pending => "pending".to_owned(),
        TaskState::Claimed {
            session,
            token,
            lease_until,
        } => format!(
            "claimed by {session}, token {token}, lease until {}",
            rfc3339(*lease_until)
        ),
        TaskState::Done { session } => format!("done by {session}"),
        TaskState::Failed { reason } => format!("failed: {reason}"),
    };
    let _ = writeln!(out, "{:<10} {state}", "state:");
    let _ = writeln!(
        out,
        "{:<10} {} of {}",
        "attempts:", t.attempts, t.max_attempts
    );
    if !t.labels.is_empty() {
        let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "{:<10} {}", "labels:", labels.join(" "));
    }
    if let Some(p) = &t.progress {
        let _ = writeln!(out, "{:<10} {p}", "progress:");
    }
    let _ = writeln!(out, "history:");
    for h in &t.history {
        let _ = writeln!(
            out,
            "  {}  {:>8}  {}",
            rfc3339(h.at),
            ago(h.at, now),
            h.what
        );
    }
    out
}

//! Applying an agent's hook event to the store: [`Service::record_hook`] takes the event as the
//! agent sent it, whoever received it (`coord hook <Event>` from stdin, the watcher's HTTP hook
//! receiver from a POST), reads it with [`coord_core::agent_event`] and applies it.
//!
//! A subagent is a record of its own, `<session>/<agent id>`, with its parent named: its events
//! change that record and count as activity of the parent, never as the parent's phase, and its
//! end never ends the parent. A session's end ends its subagents.

use std::path::{Path, PathBuf};

use coord_core::agent_event::{self, Effect, HookPayload, Reading, Target};
use coord_core::{Beat, BeatKind, Phase, Runtime, Source, Timestamp};

use crate::{RegisterRequest, Result, Service};

/// What the hook knows besides the event itself.
#[derive(Clone)]
pub struct HookContext<'a> {
    /// The agent's session id.
    pub session_id: String,
    /// When the hook observed the event (its start).
    pub observed_at: Timestamp,
    /// Finds the agent's process; called only when a record is registered, so that the events
    /// of a known session cost no look at the process table.
    pub find_agent: &'a dyn Fn() -> Option<u32>,
    /// The runtime, when known without a process (from the transcript's location).
    pub runtime: Option<Runtime>,
    /// The session's working directory.
    pub cwd: Option<PathBuf>,
    /// The agent's transcript, kept as the session's passive log.
    pub transcript: Option<PathBuf>,
    /// A task label given on the command line.
    pub task: Option<String>,
}

/// No agent process known.
fn no_agent() -> Option<u32> {
    None
}

impl Default for HookContext<'_> {
    fn default() -> Self {
        Self {
            session_id: String::new(),
            observed_at: Timestamp::default(),
            find_agent: &no_agent,
            runtime: None,
            cwd: None,
            transcript: None,
            task: None,
        }
    }
}

impl Service {
    /// Records one hook event of an agent: `event` is its name (`PostToolUse`), `payload` what
    /// the agent sent, `observed_at` when it arrived (on the store's clock), `find_agent` how
    /// to find the agent's process should the session need registering. An event without a
    /// session id is ignored.
    pub fn record_hook(
        &self,
        event: &str,
        payload: &HookPayload,
        observed_at: Timestamp,
        find_agent: &dyn Fn() -> Option<u32>,
        task: Option<String>,
    ) -> Result<()> {
        let Some(session_id) = payload.session_id.clone().filter(|id| !id.is_empty()) else {
            return Ok(());
        };
        let reading = agent_event::read_hook(event, payload, observed_at);
        let transcript = payload.transcript_path.as_ref().map(PathBuf::from);
        let hook = HookContext {
            session_id,
            observed_at,
            find_agent,
            runtime: transcript.as_deref().and_then(runtime_of_transcript),
            cwd: payload.cwd.as_ref().map(PathBuf::from),
            transcript,
            task,
        };
        self.apply_hook(&reading, &hook)
    }

    /// Applies one event.
    pub fn apply_hook(&self, reading: &Reading, ctx: &HookContext) -> Result<()> {
        match &reading.target {
            Target::Session => self.apply_effect(
                &ctx.session_id,
                None,
                &reading.effect,
                reading.may_register,
                ctx,
            ),
            Target::Subagent(agent) => {
                let child = format!("{}/{agent}", ctx.session_id);
                let parent = Some(ctx.session_id.as_str());
                self.apply_effect(&child, parent, &reading.effect, reading.may_register, ctx)?;
                self.apply_effect(&ctx.session_id, None, &Effect::Activity, true, ctx)
            }
        }
    }

    fn apply_effect(
        &self,
        id: &str,
        parent: Option<&str>,
        effect: &Effect,
        may_register: bool,
        ctx: &HookContext,
    ) -> Result<()> {
        let (kind, phase) = match effect {
            Effect::Start { restart, phase } => {
                let req = RegisterRequest {
                    phase: phase.clone(),
                    restart: *restart,
                    ..hook_registration(id, parent, ctx)
                };
                self.store.register(&self.registration(req)?)?;
                return Ok(());
            }
            Effect::End => return self.end_hooked(id, parent.is_none()),
            Effect::SubagentStart => (BeatKind::Activity, Some(Phase::Working)),
            Effect::Phase(phase) => (BeatKind::Activity, Some(phase.clone())),
            Effect::Blocked { on } => {
                let blocked = (self.store.session(id)?)
                    .is_some_and(|s| matches!(s.phase, Phase::Blocked { .. }));
                let phase = Phase::Blocked { on: on.clone() };
                (BeatKind::Activity, (!blocked).then_some(phase))
            }
            Effect::Activity => (BeatKind::Activity, None),
            Effect::Signal => (BeatKind::Signal, None),
        };
        let beat = Beat {
            kind,
            phase,
            ..Beat::activity(Source::Hook, ctx.observed_at)
        };
        if may_register {
            self.heartbeat_or_register(id, &beat, || hook_registration(id, parent, ctx))?;
        } else {
            self.store.renew(id, &beat)?;
        }
        Ok(())
    }

    /// Ends a record; a session's end ends its subagents too.
    fn end_hooked(&self, id: &str, with_children: bool) -> Result<()> {
        if self.store.unregister(id, Source::Hook)?.is_some() && with_children {
            let children = self.store.sessions()?;
            for child in children.iter().filter(|s| s.parent.as_deref() == Some(id)) {
                self.store.unregister(&child.id, Source::Hook)?;
            }
        }
        Ok(())
    }
}

/// The runtime a transcript's location gives away (`~/.claude/…`, `~/.codex/…`).
fn runtime_of_transcript(path: &Path) -> Option<Runtime> {
    let text = path.to_string_lossy();
    if text.contains("/.claude/") {
        Some(Runtime::Claude)
    } else if text.contains("/.codex/") {
        Some(Runtime::Codex)
    } else {
        None
    }
}

/// The registration an event implies for a record coord does not have yet.
fn hook_registration(id: &str, parent: Option<&str>, ctx: &HookContext) -> RegisterRequest {
    RegisterRequest {
        id: Some(id.to_owned()),
        parent: parent.map(str::to_owned),
        pid: (ctx.find_agent)(),
        runtime: ctx.runtime,
        task: ctx.task.clone(),
        cwd: ctx.cwd.clone(),
        log_path: ctx.transcript.clone(),
        source: Some(Source::Hook),
        ..RegisterRequest::default()
    }
}

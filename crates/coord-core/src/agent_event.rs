//! What an agent's hook event means for coord: the pure reading of Claude Code and Codex hook
//! payloads (and Codex's `notify`) into the model's terms.
//!
//! The mapping follows what the real agents were seen to do (`claude-code-observed.md`,
//! `codex-observed.md`), not only what they document: Claude Code runs subagents in the same
//! process with the same `session_id` (only `agent_id` tells them apart), a `Stop` may come
//! while background subagents still run, Codex's `Interrupt` ends a turn without a `Stop`, a
//! tool that asks the person something ([`PERSON_TOOLS`]) waits for them from its `PreToolUse`
//! on, and an event coord does not know is a sign of life and nothing more.

use serde::Deserialize;

use crate::session::Phase;
use crate::time::Timestamp;

/// The fields of a hook event coord reads; every other field is ignored.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HookPayload {
    /// The agent's session (Codex: thread) id.
    pub session_id: Option<String>,
    /// The agent's transcript: a passive progress signal.
    pub transcript_path: Option<String>,
    /// The session's working directory.
    pub cwd: Option<String>,
    /// The event's name as the agent gives it.
    pub hook_event_name: Option<String>,
    /// `SessionStart`: `startup`, `resume`, `clear`, `compact`, `fork`.
    pub source: Option<String>,
    /// Tool events and `PermissionRequest`: the tool.
    pub tool_name: Option<String>,
    /// Notification: what it is about.
    pub notification_type: Option<String>,
    /// Set on events that come from inside a subagent, and on SubagentStart/Stop.
    pub agent_id: Option<String>,
    /// Stop: background work of the session and its state.
    #[serde(default)]
    pub background_tasks: Vec<BackgroundTask>,
    /// `StopFailure` and `PostToolUseFailure`: what went wrong.
    pub error: Option<String>,
}

impl HookPayload {
    /// The event in `bytes`, as an agent sends it (one JSON object, UTF-8 throughout), or
    /// `None` when they hold anything else.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        // Parsed as text: from bytes, serde skips the fields coord ignores without checking
        // that they are UTF-8, and an event with invalid UTF-8 anywhere is not one an agent
        // sent.
        let text = std::str::from_utf8(bytes).ok()?;
        serde_json::from_str(text).ok()
    }
}

/// One entry of `Stop.background_tasks`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BackgroundTask {
    /// `running`, `completed`…
    pub status: Option<String>,
}

/// Codex's `notify` payload (its last argument).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NotifyPayload {
    /// `agent-turn-complete`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The thread, which is the hooks' `session_id`.
    #[serde(rename = "thread-id")]
    pub thread_id: Option<String>,
    /// The working directory.
    pub cwd: Option<String>,
}

/// Claude Code's tools that wait for a person from the moment they are called, and what they
/// wait for. `AskUserQuestion` and `ExitPlanMode` were recorded (`fixtures/claude-code/tui-ask*`,
/// `tui-plan*`): `PreToolUse`, `PermissionRequest` for the same tool at once, the dialog,
/// `Notification(permission_prompt)` 6 s later, then nothing until the person answers
/// (`PostToolUse`) or dismisses it (no hook at all: the status file turns `idle`). The others
/// are the tools 2.1.328's binary marks as needing the person (`requiresUserInteraction`), only
/// offered in other hosts than the terminal, not recorded. `EnterPlanMode` asks nothing.
pub const PERSON_TOOLS: [(&str, &str); 6] = [
    ("AskUserQuestion", "your answer to its question"),
    ("ExitPlanMode", "your approval of its plan"),
    ("ShowOnboardingRolePicker", "your pick of a role"),
    ("OfferChromeSetup", "your answer to its Chrome setup offer"),
    ("PublishPlugin", "your go-ahead to publish a plugin"),
    ("SendToProject", "your go-ahead to send to the project"),
];

/// What a call of `tool` waits for, when it waits for a person ([`PERSON_TOOLS`]).
fn waits_for_person(tool: Option<&str>) -> Option<Phase> {
    let tool = tool?;
    PERSON_TOOLS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, on)| Phase::Blocked {
            on: (*on).to_owned(),
        })
}

/// Which record an event concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The session itself.
    Session,
    /// A subagent of the session, by its `agent_id`: a child record that never overwrites or
    /// ends its parent.
    Subagent(String),
}

/// What an event does to its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The session started: register it. `restart` starts a new incarnation (a new
    /// conversation); otherwise it continues (resume, compact). `phase` is the phase after.
    Start {
        /// Start a new incarnation.
        restart: bool,
        /// The phase after starting, if it changes.
        phase: Option<Phase>,
    },
    /// A subagent began (its record is created).
    SubagentStart,
    /// The agent reports a phase, with activity.
    Phase(Phase),
    /// The agent waits for a person without saying for what: blocked on `on`, unless the record
    /// is blocked already (by an earlier report that said more, which this must not overwrite).
    Blocked {
        /// What it waits for, as far as this event tells.
        on: String,
    },
    /// Activity without a change of phase.
    Activity,
    /// A sign of life, nothing more.
    Signal,
    /// The record ends cleanly (`SessionEnd`; `SubagentStop` for a subagent).
    End,
}

/// An event read into the model's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Which record.
    pub target: Target,
    /// What happens to it.
    pub effect: Effect,
    /// Whether an unknown record may be registered from this event (so a wiped store heals).
    /// False for events that only make sense for a record coord already has.
    pub may_register: bool,
}

/// Reads a hook event. `event` is the name the hook was installed for; the payload's own
/// `hook_event_name` wins when present. `at` is when the hook observed it.
#[must_use]
pub fn read_hook(event: &str, p: &HookPayload, at: Timestamp) -> Reading {
    let name = p.hook_event_name.as_deref().unwrap_or(event);
    let subagent = p.agent_id.clone().filter(|a| !a.is_empty());
    let working = || Effect::Phase(Phase::Working);
    let effect = match name {
        "SessionStart" => {
            let restart = matches!(
                p.source.as_deref(),
                None | Some("startup" | "clear" | "fork")
            );
            let phase = (p.source.as_deref() != Some("compact")).then_some(Phase::Waiting);
            Effect::Start { restart, phase }
        }
        "SubagentStart" => Effect::SubagentStart,
        "SubagentStop" | "SessionEnd" => Effect::End,
        "UserPromptSubmit" | "PostToolUse" | "PostToolUseFailure" | "PreModelRequest" => working(),
        "PreToolUse" => {
            Effect::Phase(waits_for_person(p.tool_name.as_deref()).unwrap_or_else(|| {
                Phase::InTool {
                    tool: p.tool_name.clone().unwrap_or_else(|| "a tool".to_owned()),
                    since: at,
                }
            }))
        }
        // A tool that asks the person is shown the way a permission is asked: the same words
        // as its PreToolUse, so the more telling reason stays.
        "PermissionRequest" => {
            Effect::Phase(waits_for_person(p.tool_name.as_deref()).unwrap_or_else(|| {
                Phase::Blocked {
                    on: match &p.tool_name {
                        Some(tool) => format!("permission for {tool}"),
                        None => "permission".to_owned(),
                    },
                }
            }))
        }
        "Notification" => match p.notification_type.as_deref() {
            // 6 s into any dialog the PermissionRequest opened (a question and a plan too),
            // naming no tool.
            Some("permission_prompt") => Effect::Blocked {
                on: "permission".to_owned(),
            },
            Some("elicitation_dialog" | "elicitation_url_dialog" | "agent_needs_input") => {
                Effect::Phase(Phase::Blocked {
                    on: "an answer".to_owned(),
                })
            }
            Some("idle_prompt") => Effect::Phase(Phase::Waiting),
            Some("elicitation_complete" | "elicitation_response") => Effect::Activity,
            _ => Effect::Signal,
        },
        // Background subagents or shells still run: the turn is over, the work is not.
        "Stop"
            if p.background_tasks
                .iter()
                .any(|t| t.status.as_deref() == Some("running")) =>
        {
            Effect::Phase(Phase::Background)
        }
        "StopFailure" => Effect::Phase(Phase::Limited {
            why: match p.error.as_deref() {
                Some(error) => format!("API error: {error}"),
                None => "API error".to_owned(),
            },
        }),
        "Stop" | "Interrupt" => Effect::Phase(Phase::Waiting),
        "PostToolBatch"
        | "PreCompact"
        | "PostCompact"
        | "UserPromptExpansion"
        | "MessageDisplay"
        | "CwdChanged"
        | "InstructionsLoaded" => Effect::Activity,
        _ => Effect::Signal,
    };
    let target = match (subagent, name) {
        (Some(agent), _) => Target::Subagent(agent),
        // A subagent's end without its id (Claude Code's /compact) concerns no record.
        (None, "SubagentStop" | "SubagentStart") => {
            return Reading {
                target: Target::Session,
                effect: Effect::Activity,
                may_register: false,
            };
        }
        (None, _) => Target::Session,
    };
    let may_register = !matches!(effect, Effect::End);
    Reading {
        target,
        effect,
        may_register,
    }
}

/// Reads a Codex `notify` call: a turn completed. It never registers a session: Codex's TUI
/// also notifies for a side thread (its title generator) that no hook ever names.
#[must_use]
pub fn read_notify(p: &NotifyPayload) -> Option<Reading> {
    (p.kind.as_deref() == Some("agent-turn-complete")).then_some(Reading {
        target: Target::Session,
        effect: Effect::Phase(Phase::Waiting),
        may_register: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> HookPayload {
        serde_json::from_str(json).unwrap()
    }

    fn read(json: &str) -> Reading {
        read_hook("Unused", &payload(json), Timestamp::from_millis(5))
    }

    #[test]
    fn session_start_restarts_on_startup_and_continues_on_resume_and_compact() {
        let start = |source: &str| {
            read(&format!(
                r#"{{"hook_event_name":"SessionStart","source":"{source}"}}"#
            ))
            .effect
        };
        assert_eq!(
            start("startup"),
            Effect::Start {
                restart: true,
                phase: Some(Phase::Waiting)
            }
        );
        assert_eq!(
            start("resume"),
            Effect::Start {
                restart: false,
                phase: Some(Phase::Waiting)
            }
        );
        assert_eq!(
            start("compact"),
            Effect::Start {
                restart: false,
                phase: None
            }
        );
        assert!(matches!(
            start("clear"),
            Effect::Start { restart: true, .. }
        ));
    }

    #[test]
    fn tools_permissions_and_turns_map_to_phases() {
        let pre = read(r#"{"hook_event_name":"PreToolUse","tool_name":"Bash"}"#);
        assert_eq!(
            pre.effect,
            Effect::Phase(Phase::InTool {
                tool: "Bash".into(),
                since: Timestamp::from_millis(5)
            })
        );
        let ask = read(r#"{"hook_event_name":"PermissionRequest","tool_name":"Write"}"#);
        assert_eq!(
            ask.effect,
            Effect::Phase(Phase::Blocked {
                on: "permission for Write".into()
            })
        );
        for turn_over in ["Stop", "Interrupt"] {
            let r = read(&format!(r#"{{"hook_event_name":"{turn_over}"}}"#));
            assert_eq!(r.effect, Effect::Phase(Phase::Waiting), "{turn_over}");
        }
        let failed = read(r#"{"hook_event_name":"StopFailure","error":"rate_limit"}"#);
        assert_eq!(
            failed.effect,
            Effect::Phase(Phase::Limited {
                why: "API error: rate_limit".into()
            })
        );
        let idle = read(r#"{"hook_event_name":"Notification","notification_type":"idle_prompt"}"#);
        assert_eq!(idle.effect, Effect::Phase(Phase::Waiting));
        let unknown = read(r#"{"hook_event_name":"SomethingNew"}"#);
        assert_eq!(
            (unknown.effect, unknown.may_register),
            (Effect::Signal, true)
        );
    }

    #[test]
    fn a_question_or_a_plan_is_blocked_from_its_pre_tool_use_with_its_own_words() {
        let blocked = |on: &str| Effect::Phase(Phase::Blocked { on: on.to_owned() });
        for (tool, on) in [
            ("AskUserQuestion", "your answer to its question"),
            ("ExitPlanMode", "your approval of its plan"),
        ] {
            // The same words from the PreToolUse and the PermissionRequest that follows at once.
            for event in ["PreToolUse", "PermissionRequest"] {
                let r = read(&format!(
                    r#"{{"hook_event_name":"{event}","tool_name":"{tool}"}}"#
                ));
                assert_eq!(r.effect, blocked(on), "{event} {tool}");
            }
        }
        // Planning asks nothing: entering plan mode is a tool like any other.
        let enter = read(r#"{"hook_event_name":"PreToolUse","tool_name":"EnterPlanMode"}"#);
        assert!(
            matches!(enter.effect, Effect::Phase(Phase::InTool { .. })),
            "{enter:?}"
        );
        // The notification 6 s into the dialog names no tool: it must not overwrite them.
        let prompt = read(
            r#"{"hook_event_name":"Notification","notification_type":"permission_prompt","message":"Claude needs your permission"}"#,
        );
        assert_eq!(
            prompt.effect,
            Effect::Blocked {
                on: "permission".into()
            }
        );
        // The answer, a failure, the turn's end or a new prompt end the wait.
        for after in ["PostToolUse", "PostToolUseFailure", "UserPromptSubmit"] {
            let r = read(&format!(
                r#"{{"hook_event_name":"{after}","tool_name":"AskUserQuestion"}}"#
            ));
            assert_eq!(r.effect, Effect::Phase(Phase::Working), "{after}");
        }
        let stop = read(r#"{"hook_event_name":"Stop"}"#);
        assert_eq!(stop.effect, Effect::Phase(Phase::Waiting));
    }

    #[test]
    fn a_subagents_question_blocks_the_subagent() {
        let r = read(
            r#"{"hook_event_name":"PreToolUse","tool_name":"AskUserQuestion","agent_id":"a1"}"#,
        );
        assert_eq!(
            (r.target, r.effect),
            (
                Target::Subagent("a1".into()),
                Effect::Phase(Phase::Blocked {
                    on: "your answer to its question".into()
                })
            )
        );
    }

    #[test]
    fn a_stop_with_running_background_work_does_not_end_the_turn() {
        let r = read(
            r#"{"hook_event_name":"Stop","background_tasks":[{"id":"a","status":"running"}]}"#,
        );
        assert_eq!(r.effect, Effect::Phase(Phase::Background));
        let done = read(
            r#"{"hook_event_name":"Stop","background_tasks":[{"id":"a","status":"completed"}]}"#,
        );
        assert_eq!(done.effect, Effect::Phase(Phase::Waiting));
    }

    #[test]
    fn subagent_events_target_the_subagent_never_the_parent() {
        let tool = read(r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","agent_id":"a1"}"#);
        assert_eq!(tool.target, Target::Subagent("a1".into()));
        let start = read(r#"{"hook_event_name":"SubagentStart","agent_id":"a1"}"#);
        assert_eq!(
            (start.target, start.effect),
            (Target::Subagent("a1".into()), Effect::SubagentStart)
        );
        let stop = read(r#"{"hook_event_name":"SubagentStop","agent_id":"a1"}"#);
        assert_eq!(
            (stop.target, stop.effect, stop.may_register),
            (Target::Subagent("a1".into()), Effect::End, false)
        );
        let orphan = read(r#"{"hook_event_name":"SubagentStop","agent_id":""}"#);
        assert_eq!(
            (orphan.target, orphan.effect),
            (Target::Session, Effect::Activity)
        );
    }

    #[test]
    fn session_end_never_registers() {
        let end = read(r#"{"hook_event_name":"SessionEnd","reason":"other"}"#);
        assert_eq!((end.effect, end.may_register), (Effect::End, false));
    }

    #[test]
    fn only_a_completed_turn_notify_counts() {
        let done: NotifyPayload =
            serde_json::from_str(r#"{"type":"agent-turn-complete","thread-id":"t"}"#).unwrap();
        let r = read_notify(&done).unwrap();
        assert_eq!(
            (r.effect, r.may_register),
            (Effect::Phase(Phase::Waiting), false)
        );
        let other: NotifyPayload = serde_json::from_str(r#"{"type":"something-else"}"#).unwrap();
        assert!(read_notify(&other).is_none());
    }
}

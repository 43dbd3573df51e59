//! The channels, and one attempt at sending an [`Event`] through each. Each attempt is bounded
//! in time; retrying is [`crate::sender`]'s.
//!
//! - `webhook`: a JSON POST of `{"text": <one line>, "event": <the event>}` (`text` is what
//!   Slack and its look-alikes show), with the rule's header if it has one.
//! - `exec`: `sh -c <command>` with the event as JSON on stdin and its main fields in the
//!   environment (`COORD_ID`, `COORD_STATE`, `COORD_TRIGGER`, `COORD_PREVIOUS`, `COORD_REASON`,
//!   `COORD_HOST`, `COORD_TASK`, `COORD_ATTACH`); killed, with everything it started, after
//!   [`EXEC_TIMEOUT`].
//! - `desktop`: `org.freedesktop.Notifications.Notify` on the session bus.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use coord_core::State;
use serde_json::json;

use crate::event::Event;

/// How long a webhook may take, connecting included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an `exec` command may run before it is killed.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the notification service may take to answer.
pub const DESKTOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a failed command's stderr is kept for its error.
const STDERR_KEPT: u64 = 4096;

/// Where a rule sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A desktop notification (the freedesktop notification service).
    Desktop,
    /// A JSON POST.
    Webhook {
        /// Where.
        url: String,
        /// One more header (name, value), such as an authorization.
        header: Option<(String, String)>,
    },
    /// A shell command.
    Exec {
        /// Run by `sh -c`.
        command: String,
    },
}

/// Why one attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

impl Channel {
    /// The channel in a few words, with nothing secret in them (a webhook's path and header
    /// are left out: they often hold its key).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Channel::Desktop => "desktop".to_owned(),
            Channel::Webhook { url, .. } => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let authority = authority.rsplit('@').next().unwrap_or_default();
                format!("webhook {scheme}://{authority}")
            }
            Channel::Exec { command } => format!("exec `{command}`"),
        }
    }

    /// Sends `event` once.
    pub fn send(&self, event: &Event) -> Result<(), SendError> {
        match self {
            Channel::Desktop => desktop(event),
            Channel::Webhook { url, header } => webhook(url, header.as_ref(), event),
            Channel::Exec { command } => exec(command, event, EXEC_TIMEOUT),
        }
    }
}

/// POSTs the event to `url`.
fn webhook(url: &str, header: Option<&(String, String)>, event: &Event) -> Result<(), SendError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(WEBHOOK_TIMEOUT))
        .build()
        .into();
    let body = json!({ "text": event.text(), "event": event });
    let mut request = agent.post(url).header("content-type", "application/json");
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request
        .send(body.to_string())
        .map_err(|e| SendError(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(SendError(format!("HTTP {status}")))
    }
}

/// Runs `command` with the event on stdin and in the environment, for `limit` at most.
fn exec(command: &str, event: &Event, limit: Duration) -> Result<(), SendError> {
    let state = |s: Option<State>| s.map_or("", State::as_str);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("COORD_ID", &event.id)
        .env("COORD_STATE", event.state.as_str())
        .env("COORD_TRIGGER", event.trigger.as_str())
        .env("COORD_PREVIOUS", state(event.previous))
        .env("COORD_REASON", &event.reason)
        .env("COORD_HOST", &event.host)
        .env("COORD_TASK", event.task.as_deref().unwrap_or_default())
        .env("COORD_ATTACH", &event.attach)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(|e| SendError(format!("cannot run sh: {e}")))?;
    let pid = child.id();
    let input = serde_json::to_vec(event).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        // On a thread: a command that never reads its input must not hold the sender.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let mut stderr = child.stderr.take();
    let (done, status) = mpsc::channel();
    thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(stderr) = &mut stderr {
            let _ = stderr.take(STDERR_KEPT).read_to_end(&mut text);
        }
        let _ = done.send((child.wait(), text));
    });
    let Ok((status, stderr)) = status.recv_timeout(limit) else {
        if let Some(group) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        return Err(SendError(format!(
            "still running after {}: killed",
            humantime::format_duration(limit)
        )));
    };
    let status = status.map_err(|e| SendError(format!("cannot wait for sh: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&stderr);
    match stderr.trim().lines().last() {
        Some(line) => Err(SendError(format!("{status}: {line}"))),
        None => Err(SendError(status.to_string())),
    }
}

/// Shows the event on the desktop.
fn desktop(event: &Event) -> Result<(), SendError> {
    let bus_error = |e: zbus::Error| SendError(format!("desktop notification: {e}"));
    let connection = zbus::blocking::connection::Builder::session()
        .map_err(bus_error)?
        .method_timeout(DESKTOP_TIMEOUT)
        .build()
        .map_err(bus_error)?;
    let summary = format!("{} {}", event.id, event.what());
    let mut body = vec![escape(&event.reason)];
    if let Some(task) = &event.task {
        body.push(format!("task: {}", escape(task)));
    }
    body.push(format!("on {}", escape(&event.host)));
    body.push(escape(&event.attach));
    // A person is waiting to be asked: critical; anything else: normal.
    let urgency: u8 = if event.state == State::Blocked { 2 } else { 1 };
    let hints = HashMap::from([("urgency", zbus::zvariant::Value::U8(urgency))]);
    let no_actions: Vec<&str> = Vec::new();
    connection
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                "coord",
                0u32,
                "",
                summary.as_str(),
                body.join("\n").as_str(),
                no_actions,
                hints,
                -1i32,
            ),
        )
        .map_err(bus_error)?;
    Ok(())
}

/// `text` with the characters of the body's markup escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use coord_core::Timestamp;

    use super::*;

    #[test]
    fn a_webhook_is_described_without_its_path_or_credentials() {
        let hook = |url: &str| Channel::Webhook {
            url: url.to_owned(),
            header: Some(("Authorization".to_owned(), "Bearer secret".to_owned())),
        };
        assert_eq!(
            hook("https://hooks.slack.com/services/T0/B0/key").describe(),
            "webhook https://hooks.slack.com"
        );
        assert_eq!(
            hook("http://user:pw@127.0.0.1:8080?k=v").describe(),
            "webhook http://127.0.0.1:8080"
        );
    }

    #[test]
    fn exec_gets_the_event_on_stdin_and_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let command = format!(
            "cat > '{0}.json'; echo \"$COORD_ID|$COORD_STATE|$COORD_TRIGGER|$COORD_PREVIOUS|$COORD_HOST|$COORD_TASK\" > '{0}.env'",
            out.display()
        );
        let event = Event::sample("laptop", Timestamp::from_millis(7));
        Channel::Exec { command }.send(&event).unwrap();
        let sent: Event =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(sent, event);
        assert_eq!(
            std::fs::read_to_string(out.with_extension("env")).unwrap(),
            "coord-notify-test|blocked|blocked|active|laptop|a sample task\n"
        );
    }

    #[test]
    fn a_failing_command_says_how_it_failed() {
        let event = Event::sample("h", Timestamp::from_millis(0));
        let err = Channel::Exec {
            command: "echo first >&2; echo 'no such place' >&2; exit 3".to_owned(),
        }
        .send(&event)
        .unwrap_err();
        assert_eq!(err.0, "exit status: 3: no such place");
    }

    #[test]
    fn a_command_past_its_time_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let late = dir.path().join("late");
        let command = format!("(sleep 1; touch '{}') & sleep 30", late.display());
        let event = Event::sample("h", Timestamp::from_millis(0));
        let started = std::time::Instant::now();
        let err = exec(&command, &event, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.0, "still running after 200ms: killed");
        assert!(started.elapsed() < Duration::from_secs(1));
        thread::sleep(Duration::from_millis(1200));
        assert!(!late.exists(), "what the command started was killed too");
    }
}

//! One of coord's hook handlers as a JSON object, written and recognised in each of its forms.
//!
//! - shell: `{"type": "command", "command": "<coord> hook <Event>"}`, run through `sh -c` (the
//!   command line itself is [`crate::command`]'s);
//! - exec: `{"type": "command", "command": "<coord>", "args": ["hook", "<Event>"]}`, run without
//!   a shell (Claude Code 2.1.139 and later);
//! - http: `{"type": "http", "url": "<base>/coord/hook/<Event>", "headers":
//!   {"X-Coord-Hook-Token": "<token>"}}`, posted to coord's per-host watcher.
//!
//! coord marks nothing: a handler is coord's by what it runs, in any form. [`Target`] is what
//! coord writes and [`recognise`] reads back any form, so that each reads what the other writes;
//! [`Target::apply`] turns a coord handler of one form into another in place, keeping every key
//! the user added (`timeout`, `async`, `statusMessage`…) where it was.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Delivery;
use crate::command::{hook_command, is_coord_program, is_event_name, parse_hook_command};

/// The header that carries coord's token in an HTTP hook.
pub(crate) const TOKEN_HEADER: &str = "X-Coord-Hook-Token";

/// The path an HTTP hook posts to, before the event.
const URL_PATH: &str = "/coord/hook/";

/// The keys that say what a handler runs, in any form (besides `type`).
const FORM_KEYS: [&str; 4] = ["command", "args", "url", "headers"];

/// How a hook handler reaches coord.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerForm {
    /// A command line run through the shell.
    Shell,
    /// A program and its arguments, run without a shell.
    Exec,
    /// An HTTP POST to coord's per-host watcher.
    Http,
}

impl fmt::Display for HandlerForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Shell => "shell",
            Self::Exec => "exec",
            Self::Http => "http",
        })
    }
}

/// A handler found in a settings file that is coord's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recognised {
    /// Its form.
    pub form: HandlerForm,
    /// The event it reports (named by its command, its `args` or its URL).
    pub event: String,
    /// The coord program it runs, unquoted (shell, exec).
    pub program: Option<String>,
    /// The URL it posts to (http).
    pub url: Option<String>,
    /// What it runs, for a person: the shell command, the exec argv joined by spaces, or
    /// `POST <url>`. Never a token.
    pub command: String,
}

/// The handler `fields` as coord's, or `None` when it is not one of coord's in any form.
pub(crate) fn recognise(fields: &Map<String, Value>) -> Option<Recognised> {
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    if text("type") == Some("http") {
        let url = text("url")?;
        return Some(Recognised {
            form: HandlerForm::Http,
            event: url_event(url)?,
            program: None,
            url: Some(url.to_owned()),
            command: post(url),
        });
    }
    let command = text("command")?;
    let Some(args) = fields.get("args") else {
        let parsed = parse_hook_command(command)?;
        return Some(Recognised {
            form: HandlerForm::Shell,
            event: parsed.event,
            program: Some(parsed.program),
            url: None,
            command: command.to_owned(),
        });
    };
    let [hook, event] = args.as_array()?.as_slice() else {
        return None;
    };
    let event = event.as_str().filter(|e| is_event_name(e))?;
    (*hook == "hook" && is_coord_program(command)).then(|| Recognised {
        form: HandlerForm::Exec,
        event: event.to_owned(),
        program: Some(command.to_owned()),
        url: None,
        command: exec_line(command, event),
    })
}

/// The event an HTTP hook's URL posts for: its path (any scheme's host and port, query and
/// fragment aside) must be exactly `/coord/hook/<Event>`.
fn url_event(url: &str) -> Option<String> {
    let rest = ["http://", "https://"].iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
    })?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#'])?);
    if authority.is_empty() {
        return None;
    }
    let path = tail.split(['?', '#']).next()?;
    let event = path.strip_prefix(URL_PATH)?;
    is_event_name(event).then(|| event.to_owned())
}

fn post(url: &str) -> String {
    format!("POST {url}")
}

fn exec_line(program: &str, event: &str) -> String {
    format!("{program} hook {event}")
}

/// A handler coord wants in a file, as it writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The shell form, running `command`.
    Shell {
        /// `<coord> hook <Event>`, the path quoted when it needs it.
        command: String,
    },
    /// The exec form, running `program hook <event>`.
    Exec {
        /// The coord binary.
        program: String,
        /// The event.
        event: String,
    },
    /// The http form, posting to `url` with `token` in its header.
    Http {
        /// `<base>/coord/hook/<Event>`.
        url: String,
        /// The watcher's token.
        token: String,
    },
}

impl Target {
    /// The handler of `event` that reaches coord (the binary `coord`) by `delivery`.
    pub fn new(delivery: &Delivery, coord: &str, event: &str) -> Self {
        match delivery {
            Delivery::Shell => Self::Shell {
                command: hook_command(coord, event),
            },
            Delivery::Exec => Self::Exec {
                program: coord.to_owned(),
                event: event.to_owned(),
            },
            Delivery::Http { base, token } => Self::Http {
                url: format!("{base}{URL_PATH}{event}"),
                token: token.clone(),
            },
        }
    }

    /// Its form.
    pub fn form(&self) -> HandlerForm {
        match self {
            Self::Shell { .. } => HandlerForm::Shell,
            Self::Exec { .. } => HandlerForm::Exec,
            Self::Http { .. } => HandlerForm::Http,
        }
    }

    /// What it runs, for a person, as [`Recognised::command`] spells it.
    pub fn command(&self) -> String {
        match self {
            Self::Shell { command } => command.clone(),
            Self::Exec { program, event } => exec_line(program, event),
            Self::Http { url, .. } => post(url),
        }
    }

    fn type_value(&self) -> &'static str {
        match self {
            Self::Shell { .. } | Self::Exec { .. } => "command",
            Self::Http { .. } => "http",
        }
    }

    /// The handler object coord writes, with `timeout` seconds.
    pub fn object(&self, timeout: u64) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("type".into(), self.type_value().into());
        for (key, value) in self.form_values(None) {
            // `timeout` follows what the handler runs and comes before its headers.
            if key == "headers" {
                object.insert("timeout".into(), timeout.into());
            }
            object.insert(key.into(), value);
        }
        object.entry("timeout").or_insert_with(|| timeout.into());
        object
    }

    /// The keys of this form with their values, in the order they are written; `headers`
    /// (the handler's own) keeps the headers the user added beside coord's token.
    fn form_values(&self, headers: Option<&Value>) -> Vec<(&'static str, Value)> {
        match self {
            Self::Shell { command } => vec![("command", command.as_str().into())],
            Self::Exec { program, event } => vec![
                ("command", program.as_str().into()),
                ("args", Value::from(vec!["hook", event.as_str()])),
            ],
            Self::Http { url, token } => {
                let mut headers = match headers {
                    Some(Value::Object(headers)) => headers.clone(),
                    _ => Map::new(),
                };
                headers.insert(TOKEN_HEADER.into(), token.as_str().into());
                vec![("url", url.as_str().into()), ("headers", headers.into())]
            }
        }
    }

    /// Whether `fields` is this handler already: coord's, in this form, running the same thing
    /// (for http, with the same token). Its other keys are the user's and do not count.
    pub fn is_in(&self, fields: &Map<String, Value>) -> bool {
        let Some(found) = recognise(fields) else {
            return false;
        };
        let text = |key: &str| fields.get(key).and_then(Value::as_str);
        match self {
            Self::Shell { command } => {
                found.form == HandlerForm::Shell && text("command") == Some(command)
            }
            Self::Exec { program, event } => {
                found.form == HandlerForm::Exec
                    && text("command") == Some(program)
                    && found.event == *event
            }
            Self::Http { url, token } => {
                let sent = fields
                    .get("headers")
                    .and_then(|h| h.get(TOKEN_HEADER))
                    .and_then(Value::as_str);
                found.form == HandlerForm::Http && text("url") == Some(url) && sent == Some(token)
            }
        }
    }

    /// Makes the coord handler `fields` this one in place: sets `type` and this form's keys
    /// where the old form's were, removes the old form's other keys, keeps every other key.
    pub fn apply(&self, fields: &mut Map<String, Value>) {
        match fields.get_mut("type") {
            Some(kind) => *kind = self.type_value().into(),
            None => {
                fields.shift_insert(0, "type".into(), self.type_value().into());
            }
        }
        let values = self.form_values(fields.get("headers"));
        let mut at = fields
            .keys()
            .position(|key| FORM_KEYS.contains(&key.as_str()))
            .unwrap_or(fields.len());
        for key in FORM_KEYS {
            if !values.iter().any(|(own, _)| *own == key) {
                fields.shift_remove(key);
            }
        }
        for (key, value) in values {
            if let Some(index) = fields.keys().position(|k| k == key) {
                fields.insert(key.into(), value);
                at = index + 1;
            } else {
                fields.shift_insert(at, key.into(), value);
                at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const COORD: &str = "/opt/coord/bin/coord";

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn http() -> Delivery {
        Delivery::Http {
            base: "http://127.0.0.1:7078".into(),
            token: "s3cret".into(),
        }
    }

    fn deliveries() -> [Delivery; 3] {
        [Delivery::Shell, Delivery::Exec, http()]
    }

    #[test]
    fn each_form_is_written_as_the_agent_expects() {
        let target = |d: &Delivery| Value::Object(Target::new(d, COORD, "Stop").object(5));
        assert_eq!(
            target(&Delivery::Shell),
            json!({"type": "command", "command": "/opt/coord/bin/coord hook Stop", "timeout": 5})
        );
        assert_eq!(
            target(&Delivery::Exec),
            json!({"type": "command", "command": COORD, "args": ["hook", "Stop"], "timeout": 5})
        );
        let written = target(&http());
        assert_eq!(
            written,
            json!({"type": "http", "url": "http://127.0.0.1:7078/coord/hook/Stop", "timeout": 5,
                   "headers": {"X-Coord-Hook-Token": "s3cret"}})
        );
        let keys: Vec<&String> = written.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["type", "url", "timeout", "headers"]);
    }

    #[test]
    fn what_is_written_is_recognised_in_every_form() {
        for coord in [COORD, "/home/a b/it's/coord"] {
            for delivery in deliveries() {
                let target = Target::new(&delivery, coord, "PreToolUse");
                let object = target.object(5);
                let found = recognise(&object).unwrap_or_else(|| panic!("{object:?}"));
                assert_eq!(found.form, target.form());
                assert_eq!(found.event, "PreToolUse");
                assert_eq!(found.command, target.command());
                assert!(target.is_in(&object), "{object:?}");
                if let Delivery::Http { .. } = delivery {
                    assert_eq!(found.program, None);
                    assert_eq!(
                        found.url.as_deref(),
                        Some("http://127.0.0.1:7078/coord/hook/PreToolUse")
                    );
                    assert_eq!(
                        found.command,
                        "POST http://127.0.0.1:7078/coord/hook/PreToolUse"
                    );
                } else {
                    assert_eq!(found.program.as_deref(), Some(coord));
                    assert_eq!(found.url, None);
                }
            }
        }
    }

    #[test]
    fn other_spellings_of_each_form_are_recognised() {
        for (handler, form, event) in [
            (
                json!({"type": "command", "command": "coord", "args": ["hook", "Stop"]}),
                HandlerForm::Exec,
                "Stop",
            ),
            (
                json!({"command": "/usr/bin/coord", "args": ["hook", "codex-notify"], "async": true}),
                HandlerForm::Exec,
                "codex-notify",
            ),
            (
                json!({"type": "http", "url": "https://host.example:9/coord/hook/SessionEnd?x=1"}),
                HandlerForm::Http,
                "SessionEnd",
            ),
            (
                json!({"type": "http", "url": "HTTP://[::1]:7078/coord/hook/Stop#f"}),
                HandlerForm::Http,
                "Stop",
            ),
        ] {
            let found = recognise(&map(handler.clone())).unwrap_or_else(|| panic!("{handler}"));
            assert_eq!(
                (found.form, found.event.as_str()),
                (form, event),
                "{handler}"
            );
        }
    }

    #[test]
    fn look_alikes_are_not_coords() {
        for handler in [
            json!({"type": "command", "command": "coord", "args": ["hook"]}),
            json!({"type": "command", "command": "coord", "args": ["hook", "Stop", "x"]}),
            json!({"type": "command", "command": "coord", "args": ["heartbeat", "Stop"]}),
            json!({"type": "command", "command": "coord", "args": ["hook", "$EVENT"]}),
            json!({"type": "command", "command": "coord", "args": "hook Stop"}),
            json!({"type": "command", "command": "coord hook Stop", "args": []}),
            json!({"type": "command", "command": "/usr/bin/coordinator", "args": ["hook", "Stop"]}),
            json!({"type": "command", "command": "/usr/bin/coordinator hook Stop"}),
            json!({"type": "http", "url": "http://127.0.0.1:7078/coord/hooks/Stop"}),
            json!({"type": "http", "url": "http://127.0.0.1:7078/x/coord/hook/Stop"}),
            json!({"type": "http", "url": "http://127.0.0.1:7078/coordinator/hook/Stop"}),
            json!({"type": "http", "url": "http://127.0.0.1:7078/coord/hook/Stop/"}),
            json!({"type": "http", "url": "http://127.0.0.1:7078/coord/hook/"}),
            json!({"type": "http", "url": "http:///coord/hook/Stop"}),
            json!({"type": "http", "url": "ftp://h/coord/hook/Stop"}),
            json!({"type": "http", "url": "/coord/hook/Stop"}),
            json!({"type": "http", "command": "coord hook Stop"}),
            json!({"type": "command", "url": "http://127.0.0.1:7078/coord/hook/Stop"}),
        ] {
            assert_eq!(recognise(&map(handler.clone())), None, "{handler}");
        }
    }

    #[test]
    fn conversion_keeps_the_users_keys_and_their_places() {
        let original = json!({"type": "command", "command": "/old/coord hook Stop",
                              "timeout": 9, "async": true, "statusMessage": "coord"});
        let mut handler = map(original.clone());
        let exec = Target::new(&Delivery::Exec, COORD, "Stop");
        exec.apply(&mut handler);
        assert_eq!(
            Value::Object(handler.clone()),
            json!({"type": "command", "command": COORD, "args": ["hook", "Stop"],
                   "timeout": 9, "async": true, "statusMessage": "coord"})
        );
        assert!(exec.is_in(&handler));

        let http = Target::new(&http(), COORD, "Stop");
        assert!(!http.is_in(&handler));
        http.apply(&mut handler);
        let keys: Vec<&String> = handler.keys().collect();
        assert_eq!(
            keys,
            [
                "type",
                "url",
                "headers",
                "timeout",
                "async",
                "statusMessage"
            ]
        );
        assert_eq!(handler["type"], "http");
        assert!(http.is_in(&handler));

        let shell = Target::new(&Delivery::Shell, "/old/coord", "Stop");
        shell.apply(&mut handler);
        assert_eq!(Value::Object(handler), original);
    }

    #[test]
    fn a_new_token_or_base_is_not_the_handler_any_more_and_other_headers_stay() {
        let mut handler = map(
            json!({"type": "http", "url": "http://127.0.0.1:7078/coord/hook/Stop",
            "headers": {"X-Mine": "1", "X-Coord-Hook-Token": "old"}}),
        );
        let target = Target::new(&http(), COORD, "Stop");
        assert!(!target.is_in(&handler));
        target.apply(&mut handler);
        assert_eq!(
            handler["headers"],
            json!({"X-Mine": "1", "X-Coord-Hook-Token": "s3cret"})
        );
        assert!(target.is_in(&handler));
        let moved = Target::new(
            &Delivery::Http {
                base: "http://coord-host:80".into(),
                token: "s3cret".into(),
            },
            COORD,
            "Stop",
        );
        assert!(!moved.is_in(&handler));
    }

    #[test]
    fn a_handler_without_type_gets_one_in_front() {
        let mut handler = map(json!({"command": "coord hook Stop", "timeout": 5}));
        Target::new(&Delivery::Exec, COORD, "Stop").apply(&mut handler);
        assert_eq!(
            Value::Object(handler),
            json!({"type": "command", "command": COORD, "args": ["hook", "Stop"], "timeout": 5})
        );
    }
}

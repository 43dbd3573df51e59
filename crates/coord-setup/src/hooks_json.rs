//! coord's entries in a `{"hooks": {"<Event>": [matcher groups]}}` tree, the shape Claude Code's
//! `settings.json` and Codex's `hooks.json` share.
//!
//! coord adds one matcher group of its own per event, appended after the user's, with no matcher
//! and one handler; it never inserts into a user's group. Its handlers are found again by what
//! they run, in any form (see [`crate::handler`]), wherever they are: install points them at this
//! coord in the wanted form where they stand, and removal takes out exactly them and whatever
//! container coord's removal left empty, and nothing else.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::SetupError;
use crate::handler::{HandlerForm, Recognised, Target, recognise};
use crate::json_file::type_name;
use crate::report::Change;
use crate::status::{EventStatus, HandlerStatus, TrustStatus};

/// A handler coord wants in the file.
#[derive(Clone, Debug)]
pub(crate) struct Wanted {
    /// The event, as the agent names it (`PreToolUse`).
    pub event: &'static str,
    /// The handler, in the form wanted.
    pub target: Target,
    /// Seconds the agent waits for it.
    pub timeout: u64,
}

impl Wanted {
    /// The matcher group coord appends for this handler.
    fn group(&self) -> Value {
        json!({"hooks": [self.target.object(self.timeout)]})
    }
}

/// One of coord's handlers found in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Found {
    /// The event key the handler is listed under.
    pub event: String,
    /// What it runs, and the event it reports.
    pub coord: Recognised,
    /// Index of its matcher group in the event's array.
    pub group: usize,
    /// Index of the handler in the group's `hooks`.
    pub handler: usize,
    /// The group's matcher, when it has a string one.
    pub matcher: Option<String>,
    /// The handler object as it stands.
    pub fields: Map<String, Value>,
}

/// The `hooks` object of `root`, `None` when absent; an error when it is not an object.
fn hooks<'a>(
    root: &'a Map<String, Value>,
    path: &Path,
) -> Result<Option<&'a Map<String, Value>>, SetupError> {
    match root.get("hooks") {
        None => Ok(None),
        Some(Value::Object(hooks)) => Ok(Some(hooks)),
        Some(other) => Err(not_an_object(path, other)),
    }
}

fn not_an_object(path: &Path, found: &Value) -> SetupError {
    SetupError::Shape {
        path: path.to_owned(),
        key: "hooks".to_owned(),
        expected: "an object",
        found: type_name(found),
    }
}

/// Every coord handler in the file, in file order.
pub(crate) fn find(root: &Map<String, Value>, path: &Path) -> Result<Vec<Found>, SetupError> {
    let Some(hooks) = hooks(root, path)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (event, groups) in hooks {
        let Some(groups) = groups.as_array() else {
            continue;
        };
        for (group_index, group) in groups.iter().enumerate() {
            let Some(handlers) = group.get("hooks").and_then(Value::as_array) else {
                continue;
            };
            let matcher = group.get("matcher").and_then(Value::as_str);
            for (handler_index, handler) in handlers.iter().enumerate() {
                let Some(fields) = handler.as_object() else {
                    continue;
                };
                let Some(coord) = recognise(fields) else {
                    continue;
                };
                found.push(Found {
                    event: event.clone(),
                    coord,
                    group: group_index,
                    handler: handler_index,
                    matcher: matcher.map(str::to_owned),
                    fields: fields.clone(),
                });
            }
        }
    }
    Ok(found)
}

/// Makes every wanted handler present: an existing coord handler of the event that calls another
/// coord, or reaches coord in another form, is made the wanted one in place (same group, same
/// position, the user's other keys kept); an event without one gets coord's group appended.
pub(crate) fn install(
    root: &mut Map<String, Value>,
    path: &Path,
    wanted: &[Wanted],
) -> Result<Vec<Change>, SetupError> {
    let hooks = match root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(hooks) => hooks,
        other => return Err(not_an_object(path, other)),
    };
    let mut changes = Vec::new();
    for want in wanted {
        let groups = match hooks
            .entry(want.event)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(groups) => groups,
            other => {
                return Err(SetupError::Shape {
                    path: path.to_owned(),
                    key: format!("hooks.{}", want.event),
                    expected: "an array",
                    found: type_name(other),
                });
            }
        };
        let mut present = false;
        for handler in groups
            .iter_mut()
            .filter_map(|group| group.get_mut("hooks")?.as_array_mut())
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            let Some(found) = recognise(handler).filter(|c| c.event == want.event) else {
                continue;
            };
            present = true;
            if !want.target.is_in(handler) {
                want.target.apply(handler);
                changes.push(Change::HookRetargeted {
                    event: want.event.to_owned(),
                    from: found.command,
                    from_form: found.form,
                    to: want.target.command(),
                    form: want.target.form(),
                });
            }
        }
        if !present {
            groups.push(want.group());
            changes.push(Change::HookAdded {
                event: want.event.to_owned(),
                command: want.target.command(),
                form: want.target.form(),
            });
        }
    }
    Ok(changes)
}

/// coord's handlers of each of `events` (those listed under the event and reporting it), as
/// status shows them; `trust` tells how Codex trusts one (`None` for an agent without trust).
/// A shell or exec handler calls this coord when it runs `coord`; an http handler always does,
/// since the watcher on this host receives it.
pub(crate) fn event_statuses(
    found: &[Found],
    events: &[&str],
    coord: &str,
    trust: impl Fn(&Found) -> Option<TrustStatus>,
) -> Vec<EventStatus> {
    events
        .iter()
        .map(|&event| EventStatus {
            event: event.to_owned(),
            handlers: found
                .iter()
                .filter(|f| f.event == event && f.coord.event == event)
                .map(|f| HandlerStatus {
                    form: f.coord.form,
                    command: f.coord.command.clone(),
                    program: f.coord.program.as_ref().map(PathBuf::from),
                    url: f.coord.url.clone(),
                    calls_this_coord: match f.coord.form {
                        HandlerForm::Shell | HandlerForm::Exec => {
                            f.coord.program.as_deref() == Some(coord)
                        }
                        HandlerForm::Http => true,
                    },
                    group: f.group,
                    handler: f.handler,
                    trust: trust(f),
                })
                .collect(),
        })
        .collect()
}

/// Removes every coord handler, then each group, event array and `hooks` object that this
/// removal left empty (one that was empty before stays).
pub(crate) fn uninstall(
    root: &mut Map<String, Value>,
    path: &Path,
) -> Result<Vec<Change>, SetupError> {
    let hooks = match root.get_mut("hooks") {
        None => return Ok(Vec::new()),
        Some(Value::Object(hooks)) => hooks,
        Some(other) => return Err(not_an_object(path, other)),
    };
    let mut changes = Vec::new();
    let mut emptied_events = Vec::new();
    for (event, groups) in hooks.iter_mut() {
        let Some(groups) = groups.as_array_mut() else {
            continue;
        };
        let before = changes.len();
        groups.retain_mut(|group| {
            let Some(handlers) = group.get_mut("hooks").and_then(Value::as_array_mut) else {
                return true;
            };
            let removed_here = changes.len();
            handlers.retain(|handler| match handler.as_object().and_then(recognise) {
                Some(found) => {
                    changes.push(Change::HookRemoved {
                        event: event.clone(),
                        command: found.command,
                        form: found.form,
                    });
                    false
                }
                None => true,
            });
            !(handlers.is_empty() && changes.len() > removed_here)
        });
        if groups.is_empty() && changes.len() > before {
            emptied_events.push(event.clone());
        }
    }
    for event in &emptied_events {
        hooks.shift_remove(event);
    }
    if hooks.is_empty() && !changes.is_empty() {
        root.shift_remove("hooks");
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delivery;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn wanted(event: &'static str) -> Wanted {
        Wanted {
            event,
            target: Target::new(&Delivery::Shell, "/bin/coord", event),
            timeout: 5,
        }
    }

    #[test]
    fn appends_a_group_of_its_own_after_the_users() {
        let mut root = map(
            json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}}),
        );
        let changes = install(&mut root, Path::new("f"), &[wanted("Stop")]).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            Value::Object(root),
            json!({"hooks": {"Stop": [
                {"hooks": [{"type": "command", "command": "say done"}]},
                {"hooks": [{"type": "command", "command": "/bin/coord hook Stop", "timeout": 5}]}
            ]}})
        );
    }

    #[test]
    fn points_an_old_coord_at_this_one_in_place() {
        let mut root = map(json!({"hooks": {"Stop": [{"hooks": [
            {"type": "command", "command": "/old/coord hook Stop", "timeout": 9}
        ]}]}}));
        let changes = install(&mut root, Path::new("f"), &[wanted("Stop")]).unwrap();
        assert!(
            matches!(&changes[..], [Change::HookRetargeted { from, .. }] if from == "/old/coord hook Stop")
        );
        assert_eq!(
            root["hooks"]["Stop"],
            json!([{"hooks": [{"type": "command", "command": "/bin/coord hook Stop", "timeout": 9}]}])
        );
    }

    #[test]
    fn removal_keeps_user_handlers_sharing_a_group() {
        let mut root = map(json!({"hooks": {"Stop": [{"matcher": "", "hooks": [
            {"type": "command", "command": "say done"},
            {"type": "command", "command": "coord hook Stop"}
        ]}], "Other": "not an array"}}));
        let changes = uninstall(&mut root, Path::new("f")).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            Value::Object(root),
            json!({"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "say done"}]}], "Other": "not an array"}})
        );
    }

    #[test]
    fn removal_leaves_containers_that_were_already_empty() {
        let mut root = map(json!({"hooks": {"Stop": [], "Start": [{"hooks": []}]}}));
        assert!(uninstall(&mut root, Path::new("f")).unwrap().is_empty());
        assert_eq!(
            Value::Object(root),
            json!({"hooks": {"Stop": [], "Start": [{"hooks": []}]}})
        );
    }

    #[test]
    fn a_hooks_value_that_is_not_an_object_is_refused() {
        let mut root = map(json!({"hooks": []}));
        let err = install(&mut root, Path::new("f"), &[wanted("Stop")]).unwrap_err();
        assert!(
            matches!(err, SetupError::Shape { ref key, .. } if key == "hooks"),
            "{err}"
        );
        let mut root = map(json!({"hooks": {"Stop": {}}}));
        let err = install(&mut root, Path::new("f"), &[wanted("Stop")]).unwrap_err();
        assert!(
            matches!(err, SetupError::Shape { ref key, .. } if key == "hooks.Stop"),
            "{err}"
        );
        assert!(uninstall(&mut map(json!({"hooks": 1})), Path::new("f")).is_err());
        assert!(find(&map(json!({"hooks": "x"})), Path::new("f")).is_err());
    }

    fn wanted_as(delivery: &Delivery, event: &'static str) -> Wanted {
        Wanted {
            event,
            target: Target::new(delivery, "/bin/coord", event),
            timeout: 5,
        }
    }

    fn http(token: &str) -> Delivery {
        Delivery::Http {
            base: "http://127.0.0.1:7078".into(),
            token: token.into(),
        }
    }

    #[test]
    fn each_form_installs_once_and_is_found_and_removed_again() {
        for delivery in [Delivery::Shell, Delivery::Exec, http("t")] {
            let mut root = map(
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}}),
            );
            let wanted = [wanted_as(&delivery, "Stop")];
            let added = install(&mut root, Path::new("f"), &wanted).unwrap();
            assert!(
                matches!(&added[..], [Change::HookAdded { form, .. }] if *form == delivery.form()),
                "{added:?}"
            );
            assert!(
                install(&mut root, Path::new("f"), &wanted)
                    .unwrap()
                    .is_empty()
            );

            let found = find(&root, Path::new("f")).unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!((found[0].group, found[0].handler), (1, 0));
            assert_eq!(found[0].coord.form, delivery.form());

            let removed = uninstall(&mut root, Path::new("f")).unwrap();
            assert_eq!(removed.len(), 1, "{removed:?}");
            assert_eq!(
                Value::Object(root),
                json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}})
            );
        }
    }

    #[test]
    fn another_form_or_token_converts_the_handler_where_it_stands() {
        let mut root = map(json!({"hooks": {"Stop": [{"matcher": "", "hooks": [
            {"type": "command", "command": "say done"},
            {"type": "command", "command": "/old/coord hook Stop", "timeout": 9, "async": true}
        ]}]}}));
        let changes = install(&mut root, Path::new("f"), &[wanted_as(&http("a"), "Stop")]).unwrap();
        assert_eq!(
            changes,
            [Change::HookRetargeted {
                event: "Stop".into(),
                from: "/old/coord hook Stop".into(),
                from_form: HandlerForm::Shell,
                to: "POST http://127.0.0.1:7078/coord/hook/Stop".into(),
                form: HandlerForm::Http,
            }]
        );
        assert_eq!(
            root["hooks"]["Stop"],
            json!([{"matcher": "", "hooks": [
                {"type": "command", "command": "say done"},
                {"type": "http", "url": "http://127.0.0.1:7078/coord/hook/Stop",
                 "headers": {"X-Coord-Hook-Token": "a"}, "timeout": 9, "async": true}
            ]}])
        );
        let changes = install(&mut root, Path::new("f"), &[wanted_as(&http("b"), "Stop")]).unwrap();
        assert!(
            matches!(&changes[..], [Change::HookRetargeted { from, to, .. }] if from == to),
            "{changes:?}"
        );
        assert_eq!(
            root["hooks"]["Stop"][0]["hooks"][1]["headers"]["X-Coord-Hook-Token"],
            "b"
        );
    }

    #[test]
    fn removal_takes_every_form_and_leaves_look_alikes() {
        let look_alikes = json!([
            {"type": "command", "command": "coord", "args": ["hook"]},
            {"type": "http", "url": "http://h:1/coord/hooks/Stop"},
            {"type": "http", "url": "http://h:1/x/coord/hook/Stop"}
        ]);
        let mut root = map(json!({"hooks": {"Stop": [
            {"hooks": look_alikes.clone()},
            {"hooks": [{"type": "command", "command": "/a/coord hook Stop"}]},
            {"hooks": [{"type": "command", "command": "/b/coord", "args": ["hook", "Stop"]}]},
            {"hooks": [{"type": "http", "url": "http://h:1/coord/hook/Stop"}]}
        ]}}));
        let forms: Vec<HandlerForm> = uninstall(&mut root, Path::new("f"))
            .unwrap()
            .into_iter()
            .map(|c| match c {
                Change::HookRemoved { form, .. } => form,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            forms,
            [HandlerForm::Shell, HandlerForm::Exec, HandlerForm::Http]
        );
        assert_eq!(
            Value::Object(root),
            json!({"hooks": {"Stop": [{"hooks": look_alikes}]}})
        );
    }

    #[test]
    fn status_describes_each_form() {
        let root = map(json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "/bin/coord hook Stop"}]},
            {"hooks": [{"type": "command", "command": "/other/coord", "args": ["hook", "Stop"]}]},
            {"hooks": [{"type": "http", "url": "http://coord-host:7078/coord/hook/Stop",
                        "headers": {"X-Coord-Hook-Token": "t"}}]}
        ]}}));
        let found = find(&root, Path::new("f")).unwrap();
        let statuses = event_statuses(&found, &["Stop"], "/bin/coord", |_| None);
        let described: Vec<_> = statuses[0]
            .handlers
            .iter()
            .map(|h| {
                (
                    h.form,
                    h.command.as_str(),
                    h.program.as_ref().map(|p| p.to_str().unwrap()),
                    h.url.as_deref(),
                    h.calls_this_coord,
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                (
                    HandlerForm::Shell,
                    "/bin/coord hook Stop",
                    Some("/bin/coord"),
                    None,
                    true
                ),
                (
                    HandlerForm::Exec,
                    "/other/coord hook Stop",
                    Some("/other/coord"),
                    None,
                    false
                ),
                (
                    HandlerForm::Http,
                    "POST http://coord-host:7078/coord/hook/Stop",
                    None,
                    Some("http://coord-host:7078/coord/hook/Stop"),
                    true
                ),
            ]
        );
    }
}

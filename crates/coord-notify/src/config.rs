//! The config file, `$XDG_CONFIG_HOME/coord/config.toml` (else `~/.config/coord/config.toml`):
//! how long a change must hold before it is sent (`notify_after`), and the `[[notify]]` rules,
//! each with the changes it wants (`states`), optional filters (`labels`, `host`) and exactly
//! one channel (`desktop`, `webhook`, `exec`).
//!
//! A missing file means no rules. Anything else wrong (an unknown key, an unknown state, no
//! channel or two) is an error that names the file, the rule and the problem.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coord_core::Session;
use serde::Deserialize;

use crate::channels::Channel;
use crate::event::Trigger;

/// How long a change must hold when the file does not say.
pub const DEFAULT_NOTIFY_AFTER: Duration = Duration::from_secs(5);

/// Every trigger a rule may name, in the order the errors list them.
const TRIGGERS: [Trigger; 5] = [
    Trigger::Blocked,
    Trigger::Stale,
    Trigger::Limited,
    Trigger::Dead,
    Trigger::TurnDone,
];

/// What the config file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a change of state must hold before it is sent.
    pub notify_after: Duration,
    /// The rules, in the file's order.
    pub rules: Vec<Rule>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            notify_after: DEFAULT_NOTIFY_AFTER,
            rules: Vec::new(),
        }
    }
}

/// One `[[notify]]` rule: which changes of which sessions go to which channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The changes it sends.
    pub states: Vec<Trigger>,
    /// Labels a session must hold (each key with this value).
    pub labels: BTreeMap<String, String>,
    /// The host a session must run on.
    pub host: Option<String>,
    /// Where it sends.
    pub channel: Channel,
}

impl Rule {
    /// Whether this rule sends `trigger` for `session`.
    #[must_use]
    pub fn matches(&self, trigger: Trigger, session: &Session) -> bool {
        self.states.contains(&trigger)
            && self.host.as_ref().is_none_or(|h| *h == session.host)
            && self
                .labels
                .iter()
                .all(|(k, v)| session.labels.get(k) == Some(v))
    }
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` says where the file is.
    #[error("cannot find the config file: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
    /// The file exists but cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not valid as a whole (its TOML, a top-level key).
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// One rule is not valid.
    #[error("{}: [[notify]] rule {rule}: {message}", path.display())]
    Rule {
        /// The file.
        path: PathBuf,
        /// The rule, counted from 1 in the file's order.
        rule: usize,
        /// What is wrong.
        message: String,
    },
}

/// Where the config file is: `$XDG_CONFIG_HOME/coord/config.toml`, else
/// `$HOME/.config/coord/config.toml`, reading the environment through `env`.
pub fn path(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, ConfigError> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    let base = match non_empty("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME").ok_or(ConfigError::NoHome)?).join(".config"),
    };
    Ok(base.join("coord").join("config.toml"))
}

impl Config {
    /// Reads the file at `path`; a missing file is a config without rules.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Reads `text`, the contents of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file_error = |message: String| ConfigError::File {
            path: path.to_owned(),
            message,
        };
        let file: RawFile = toml::from_str(text).map_err(|e| file_error(e.to_string()))?;
        let notify_after = match &file.notify_after {
            None => DEFAULT_NOTIFY_AFTER,
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| file_error(format!("notify_after `{text}`: {e}")))?,
        };
        let rules = file
            .notify
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                rule(value).map_err(|message| ConfigError::Rule {
                    path: path.to_owned(),
                    rule: i + 1,
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            notify_after,
            rules,
        })
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    notify_after: Option<String>,
    #[serde(default)]
    notify: Vec<toml::Value>,
}

/// One rule as written (read on its own, so that an error names its rule).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    states: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    host: Option<String>,
    #[serde(default)]
    desktop: bool,
    webhook: Option<String>,
    webhook_header: Option<String>,
    exec: Option<String>,
}

/// Reads and checks one rule.
fn rule(value: toml::Value) -> Result<Rule, String> {
    let raw: RawRule = value
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    let names = || {
        TRIGGERS
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if raw.states.is_empty() {
        return Err(format!("`states` is empty: name any of {}", names()));
    }
    let states = raw
        .states
        .iter()
        .map(|s| {
            TRIGGERS
                .into_iter()
                .find(|t| t.as_str() == s)
                .ok_or_else(|| format!("unknown state `{s}` (expected any of: {})", names()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let channel = channel(raw.desktop, raw.webhook, raw.webhook_header, raw.exec)?;
    Ok(Rule {
        states,
        labels: raw.labels,
        host: raw.host,
        channel,
    })
}

/// The one channel a rule names.
fn channel(
    desktop: bool,
    webhook: Option<String>,
    header: Option<String>,
    exec: Option<String>,
) -> Result<Channel, String> {
    let named: Vec<&str> = [
        desktop.then_some("desktop"),
        webhook.as_ref().map(|_| "webhook"),
        exec.as_ref().map(|_| "exec"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if named.len() > 1 {
        return Err(format!(
            "{} channels ({}): a rule has exactly one (write one rule per channel)",
            named.len(),
            named.join(" and ")
        ));
    }
    if header.is_some() && webhook.is_none() {
        return Err("webhook_header without a webhook".to_owned());
    }
    if desktop {
        return Ok(Channel::Desktop);
    }
    if let Some(url) = webhook {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("webhook `{url}`: not an http:// or https:// URL"));
        }
        let header = header
            .map(|h| match h.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_owned(), value.trim().to_owned()))
                }
                _ => Err(format!("webhook_header `{h}`: expected `Name: value`")),
            })
            .transpose()?;
        return Ok(Channel::Webhook { url, header });
    }
    match exec {
        Some(command) if command.trim().is_empty() => Err("exec is empty".to_owned()),
        Some(command) => Ok(Channel::Exec { command }),
        None => Err(
            "no channel: set one of desktop = true, webhook = \"https://…\" or exec = \"command\""
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/c/config.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_file_is_read() {
        let config = parse(
            r#"
            notify_after = "300ms"

            [[notify]]
            states = ["blocked", "turn-done"]
            labels = { team = "infra" }
            host = "laptop"
            desktop = true

            [[notify]]
            states = ["dead"]
            webhook = "https://hooks.example.com/x"
            webhook_header = "Authorization: Bearer xyz"

            [[notify]]
            states = ["stale", "limited"]
            exec = "cat > /tmp/event.json"
            "#,
        )
        .unwrap();
        assert_eq!(config.notify_after, Duration::from_millis(300));
        assert_eq!(config.rules.len(), 3);
        let first = &config.rules[0];
        assert_eq!(first.states, [Trigger::Blocked, Trigger::TurnDone]);
        assert_eq!(first.labels["team"], "infra");
        assert_eq!(first.host.as_deref(), Some("laptop"));
        assert_eq!(first.channel, Channel::Desktop);
        assert_eq!(
            config.rules[1].channel,
            Channel::Webhook {
                url: "https://hooks.example.com/x".to_owned(),
                header: Some(("Authorization".to_owned(), "Bearer xyz".to_owned())),
            }
        );
        assert_eq!(
            config.rules[2].channel,
            Channel::Exec {
                command: "cat > /tmp/event.json".to_owned()
            }
        );
    }

    #[test]
    fn an_empty_or_missing_file_has_no_rules_and_the_default_delay() {
        assert_eq!(parse("").unwrap(), Config::default());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::load(&dir.path().join("config.toml")).unwrap(),
            Config::default()
        );
        assert_eq!(Config::default().notify_after, Duration::from_secs(5));
    }

    #[test]
    fn each_mistake_names_the_file_the_rule_and_the_problem() {
        let ok = "[[notify]]\nstates = [\"blocked\"]\ndesktop = true\n";
        let cases = [
            (
                "[[notify]]\nstates = [\"blokked\"]\ndesktop = true",
                "rule 2: unknown state `blokked` (expected any of: blocked, stale, limited, dead, turn-done)",
            ),
            (
                "[[notify]]\nstates = [\"dead\"]\ndesktop = true\nexec = \"x\"",
                "rule 2: 2 channels (desktop and exec): a rule has exactly one",
            ),
            ("[[notify]]\nstates = [\"dead\"]", "rule 2: no channel"),
            (
                "[[notify]]\nstates = [\"dead\"]\ndesktop = false",
                "rule 2: no channel",
            ),
            (
                "[[notify]]\nstates = [\"dead\"]\ndesktp = true",
                "rule 2: unknown field `desktp`",
            ),
            (
                "[[notify]]\nstates = []\nexec = \"x\"",
                "rule 2: `states` is empty",
            ),
            (
                "[[notify]]\nstates = [\"dead\"]\nwebhook = \"ftp://x\"",
                "rule 2: webhook `ftp://x`: not an http:// or https:// URL",
            ),
            (
                "[[notify]]\nstates = [\"dead\"]\nwebhook = \"http://x\"\nwebhook_header = \"nocolon\"",
                "rule 2: webhook_header `nocolon`: expected `Name: value`",
            ),
            (
                "[[notify]]\nstates = [\"dead\"]\nexec = \"x\"\nwebhook_header = \"A: b\"",
                "rule 2: webhook_header without a webhook",
            ),
        ];
        for (second, expected) in cases {
            let err = parse(&format!("{ok}{second}")).unwrap_err();
            assert!(
                err.starts_with("/c/config.toml: [[notify]] rule") && err.contains(expected),
                "{second:?}: {err}"
            );
        }
        let err = parse("notify_afterr = \"5s\"").unwrap_err();
        assert!(
            err.starts_with("/c/config.toml: ") && err.contains("unknown field `notify_afterr`"),
            "{err}"
        );
        let err = parse("notify_after = \"soon\"").unwrap_err();
        assert!(err.contains("notify_after `soon`"), "{err}");
    }

    #[test]
    fn the_path_follows_xdg_then_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            path(env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/x/coord/config.toml")
        );
        assert_eq!(
            path(env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.config/coord/config.toml")
        );
        assert!(matches!(path(env(&[])), Err(ConfigError::NoHome)));
    }

    #[test]
    fn a_rule_matches_its_states_host_and_labels() {
        let rule = parse(
            "[[notify]]\nstates = [\"blocked\"]\nhost = \"h\"\nlabels = { team = \"a\" }\ndesktop = true",
        )
        .unwrap()
        .rules
        .remove(0);
        let mut s = crate::testing::session("s");
        s.labels = BTreeMap::from([
            ("team".to_owned(), "a".to_owned()),
            ("other".to_owned(), "x".to_owned()),
        ]);
        assert!(rule.matches(Trigger::Blocked, &s));
        assert!(!rule.matches(Trigger::Dead, &s));
        s.labels.insert("team".to_owned(), "b".to_owned());
        assert!(!rule.matches(Trigger::Blocked, &s));
        s.labels.insert("team".to_owned(), "a".to_owned());
        s.host = "other".to_owned();
        assert!(!rule.matches(Trigger::Blocked, &s));
    }
}

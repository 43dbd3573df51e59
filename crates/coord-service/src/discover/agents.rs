//! Which processes are agents: exact rules over a process's argument vector, with no I/O.
//!
//! A process is an agent when the program it was started as is one: the file name of
//! `argv[0]` is exactly the agent's executable (`codex`, `pi`, `opencode`), or `argv[0]` is a
//! runtime (`node`, `bun`, `deno`; `python` for aider) and the script it runs has exactly the
//! file name of the agent's entry script (`…/bin/codex`, `…/bin/codex.js`, `…/bin/gemini`,
//! `-m aider`). Never a substring: a `codex-helper`, a `grep codex`, a hook's `sh -c "codex …"`
//! and coord itself are not agents.
//!
//! `argv[0]` rather than the executable file, on purpose: Codex runs its own binary again as
//! the sandbox of a tool call under another `argv[0]` (`codex-linux-sandbox`), and that process
//! is a tool of a session, not a session.

use coord_core::Runtime;

/// An agent coord finds by its process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// Codex CLI (native binary or its node wrapper).
    Codex,
    /// The pi coding agent.
    Pi,
    /// opencode.
    Opencode,
    /// Gemini CLI.
    Gemini,
    /// aider.
    Aider,
}

impl Agent {
    /// The agent's name, as the `agent` label shows it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::Pi => "pi",
            Agent::Opencode => "opencode",
            Agent::Gemini => "gemini",
            Agent::Aider => "aider",
        }
    }

    /// The runtime its sessions are recorded with.
    #[must_use]
    pub const fn runtime(self) -> Runtime {
        match self {
            Agent::Codex => Runtime::Codex,
            Agent::Pi => Runtime::Pi,
            Agent::Opencode | Agent::Gemini | Agent::Aider => Runtime::Other,
        }
    }

    /// The agent whose native executable has this file name.
    fn by_executable(name: &[u8]) -> Option<Agent> {
        match name {
            b"codex" => Some(Agent::Codex),
            b"pi" => Some(Agent::Pi),
            b"opencode" => Some(Agent::Opencode),
            _ => None,
        }
    }

    /// The agent whose JavaScript entry script has this file name.
    fn by_js_script(name: &[u8]) -> Option<Agent> {
        match name {
            b"codex" | b"codex.js" => Some(Agent::Codex),
            b"pi" => Some(Agent::Pi),
            b"opencode" => Some(Agent::Opencode),
            b"gemini" => Some(Agent::Gemini),
            _ => None,
        }
    }

    /// The agent a Python interpreter runs.
    fn by_python(script: PyScript<'_>) -> Option<Agent> {
        match script {
            PyScript::Path(path) if file_name(path) == b"aider" => Some(Agent::Aider),
            PyScript::Module(b"aider" | b"aider.main") => Some(Agent::Aider),
            _ => None,
        }
    }
}

/// What an agent's process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It runs a session itself: a CLI, a TUI, `codex exec`.
    Agent,
    /// It serves sessions for clients: Codex's `app-server` (the daemon the TUI's turns run in,
    /// or an editor's) or `mcp-server`. Its sessions are the rollouts it holds; without one it
    /// is no session.
    Server,
}

/// An agent process as its arguments tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recognised {
    /// Which agent.
    pub agent: Agent,
    /// What the process does.
    pub role: Role,
}

/// Reads a process's argument vector; `None` when it is not an agent's session or server.
#[must_use]
pub fn recognise(argv: &[&[u8]]) -> Option<Recognised> {
    let (first, rest) = argv.split_first()?;
    let program = file_name(first);
    let (agent, rest_args) = if let Some(agent) = Agent::by_executable(program) {
        (agent, rest)
    } else if is_js_runtime(program) {
        let (script, at) = js_script(program, rest)?;
        (Agent::by_js_script(file_name(script))?, &rest[at + 1..])
    } else if is_python(program) {
        let (script, at) = py_script(rest)?;
        (Agent::by_python(script)?, &rest[at + 1..])
    } else {
        return None;
    };
    if rest_args
        .iter()
        .any(|a| *a == b"--help" || *a == b"--version")
    {
        return None;
    }
    let role = match agent {
        Agent::Codex => codex_role(rest_args)?,
        _ => Role::Agent,
    };
    Some(Recognised { agent, role })
}

/// The role of a Codex process from its subcommand; `None` for the commands that run no
/// session (`login`, `mcp`, `completion`…).
fn codex_role(args: &[&[u8]]) -> Option<Role> {
    // Codex's options that take a separate value.
    const VALUED: [&[u8]; 20] = [
        b"-c",
        b"--config",
        b"-m",
        b"--model",
        b"-p",
        b"--profile",
        b"-C",
        b"--cd",
        b"-s",
        b"--sandbox",
        b"-a",
        b"--ask-for-approval",
        b"-i",
        b"--image",
        b"--enable",
        b"--disable",
        b"--add-dir",
        b"--local-provider",
        b"--remote",
        b"--output-last-message",
    ];
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if VALUED.contains(arg) {
            args.next();
            continue;
        }
        if arg.starts_with(b"-") {
            continue;
        }
        return match *arg {
            b"app-server" | b"mcp-server" => Some(Role::Server),
            b"login" | b"logout" | b"completion" | b"help" | b"mcp" | b"features" | b"debug"
            | b"sandbox" | b"apply" | b"a" => None,
            // `exec`, `resume`, `fork`, or the TUI's first prompt.
            _ => Some(Role::Agent),
        };
    }
    Some(Role::Agent)
}

/// The last component of a path.
fn file_name(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

fn is_js_runtime(program: &[u8]) -> bool {
    matches!(program, b"node" | b"nodejs" | b"bun" | b"deno")
}

/// `python`, `python3`, `python3.12`.
fn is_python(program: &[u8]) -> bool {
    program
        .strip_prefix(b"python")
        .is_some_and(|v| v.iter().all(|b| b.is_ascii_digit() || *b == b'.'))
}

/// The script a JavaScript runtime runs and its index in `args`; `None` for code given inline
/// or on stdin.
fn js_script<'a>(runtime: &[u8], args: &[&'a [u8]]) -> Option<(&'a [u8], usize)> {
    const VALUED: [&[u8]; 7] = [
        b"-r",
        b"--require",
        b"--import",
        b"--loader",
        b"--experimental-loader",
        b"-C",
        b"--conditions",
    ];
    let subcommands = matches!(runtime, b"bun" | b"deno");
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        match arg {
            b"-e" | b"--eval" | b"-p" | b"--print" | b"-" => return None,
            b"run" if subcommands => {}
            _ if VALUED.contains(&arg) => i += 1,
            _ if arg.starts_with(b"-") => {}
            _ => return Some((arg, i)),
        }
        i += 1;
    }
    None
}

/// What a Python interpreter runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PyScript<'a> {
    /// A script file.
    Path(&'a [u8]),
    /// A module (`-m`).
    Module(&'a [u8]),
}

/// The script or module a Python interpreter runs and its index in `args`; `None` for code
/// given inline or on stdin.
fn py_script<'a>(args: &[&'a [u8]]) -> Option<(PyScript<'a>, usize)> {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        match arg {
            b"-c" | b"-" => return None,
            b"-m" => return args.get(i + 1).map(|m| (PyScript::Module(m), i + 1)),
            b"-W" | b"-X" => i += 1,
            _ if arg.starts_with(b"-") => {}
            _ => return Some((PyScript::Path(arg), i)),
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognised(cmdline: &str) -> Option<(Agent, Role)> {
        let argv: Vec<&[u8]> = cmdline.split(' ').map(str::as_bytes).collect();
        recognise(&argv).map(|r| (r.agent, r.role))
    }

    #[test]
    fn the_recorded_codex_processes_are_recognised() {
        // The command lines recorded with Codex 0.169.0 (fixtures/codex).
        let daemon = "/home/dev/.codex/packages/app-server-daemon/releases/\
                      0.169.0-x86_64-unknown-linux-musl/bin/codex app-server --listen unix:// \
                      --analytics-default-enabled --managed-daemon";
        assert_eq!(recognised(daemon), Some((Agent::Codex, Role::Server)));
        for agent in [
            "/usr/local/bin/codex --no-daemon",
            "/usr/local/bin/codex",
            "/usr/local/bin/codex exec --dangerously-bypass-approvals-and-sandbox Run the marker command",
            "/usr/local/bin/codex exec --dangerously-bypass-approvals-and-sandbox resume --last Run",
            "codex -c model=o3 -m gpt-5 resume",
            "/usr/bin/node /usr/lib/node_modules/@openai/codex/bin/codex.js exec hi",
            "node /usr/local/bin/codex",
            "/home/u/.bun/bin/bun run /home/u/.bun/install/global/node_modules/@openai/codex/bin/codex.js",
            "/usr/lib/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex",
        ] {
            assert_eq!(
                recognised(agent),
                Some((Agent::Codex, Role::Agent)),
                "{agent}"
            );
        }
    }

    #[test]
    fn the_other_agents_are_recognised_by_their_executable_or_entry_script() {
        for (cmdline, agent) in [
            ("/usr/local/bin/pi", Agent::Pi),
            ("node /usr/local/bin/pi --continue", Agent::Pi),
            ("/home/u/.opencode/bin/opencode", Agent::Opencode),
            (
                "node /usr/lib/node_modules/opencode-ai/bin/opencode run x",
                Agent::Opencode,
            ),
            ("node /usr/local/bin/gemini", Agent::Gemini),
            // Gemini CLI restarts itself with a larger heap: same entry script.
            (
                "/usr/bin/node --max-old-space-size=8192 /usr/local/bin/gemini",
                Agent::Gemini,
            ),
            (
                "/usr/bin/python3 /home/u/.local/bin/aider --model x",
                Agent::Aider,
            ),
            ("python3.12 -u -m aider", Agent::Aider),
            ("/usr/bin/python -m aider.main", Agent::Aider),
        ] {
            assert_eq!(recognised(cmdline), Some((agent, Role::Agent)), "{cmdline}");
        }
    }

    #[test]
    fn near_misses_are_not_agents() {
        for cmdline in [
            "codex-helper",
            "/usr/bin/codex-linux-sandbox --sandbox-policy x",
            "codex-linux-sandbox",
            "grep codex",
            "sh -c codex exec hi",
            "/bin/bash -lc /usr/local/bin/coord hook PostToolUse",
            "coord ps",
            "/usr/local/bin/coord-sidecar codex",
            "node /srv/app/codex-helper.js",
            "node /srv/app/server.js codex",
            "node -e require('codex')",
            "node --require /opt/codex.js /srv/app/server.js",
            "python3 -c import aider",
            "python3 /srv/aider-tools/run.py",
            "pip install aider",
            "vim codex",
            "pipe",
            "codex login",
            "codex mcp list",
            "codex --version",
            "node /usr/local/bin/gemini --help",
            "",
        ] {
            assert_eq!(recognised(cmdline), None, "{cmdline}");
        }
    }
}

//! Enter on a session: the person goes to its agent's tmux pane, the way `coord attach` goes
//! ([`coord_service::attach`]). A client of the pane's server switches to it, and the view goes
//! on in its own pane; elsewhere on this host the view gives its terminal to a new tmux client
//! of the pane until the person detaches, then comes back.

use std::os::unix::ffi::OsStrExt as _;
use std::process::Stdio;

use coord_core::Session;
use coord_service::attach::{Way, way};
use coord_service::discover::tmux;

use crate::TopError;
use crate::screen::Screen;

/// Takes the person from the view on `screen` to `session`'s pane (this host is `here`).
/// Returns the screen, taken over again, and what to tell the person.
pub fn go(session: &Session, here: &str, screen: Screen) -> Result<(Screen, String), TopError> {
    let id = &session.id;
    let in_tmux = std::env::var_os("TMUX").and_then(|v| tmux::socket_in(v.as_bytes()));
    let way = match way(session, here, in_tmux.as_deref()) {
        Ok(way) => way,
        Err(no_pane) => return Ok((screen, no_pane.to_string())),
    };
    let said = match way {
        Way::Elsewhere { host, line } => format!("{id} runs on {host}; attach there with: {line}"),
        Way::Switch(target) => match target.check(id) {
            Err(unreachable) => unreachable.to_string(),
            Ok(()) => match target.switch().stdin(Stdio::null()).output() {
                Ok(out) if out.status.success() => format!(
                    "this tmux client went to {id} (pane {}); tmux's prefix L comes back",
                    target.pane
                ),
                Ok(out) => format!(
                    "tmux could not switch to {id}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => format!("cannot run tmux (is it installed?): {e}"),
            },
        },
        Way::Attach(target) => {
            if let Err(unreachable) = target.check(id) {
                return Ok((screen, unreachable.to_string()));
            }
            screen.leave()?;
            let status = target.attach().status();
            let screen = Screen::enter()?;
            let said = match status {
                Ok(s) if s.success() => format!("back from {id} (pane {})", target.pane),
                Ok(s) => format!("tmux could not attach to {id}: {s}"),
                Err(e) => format!("cannot run tmux (is it installed?): {e}"),
            };
            return Ok((screen, said));
        }
    };
    Ok((screen, said))
}

//! `coord top`: a live terminal view of a fleet. The sessions with their states (coloured as
//! `coord ps` colours them) and reasons, the explanation of the selected row, the task queue,
//! the hosts (as `coord hosts` lists them) and the event log, read again every second and at
//! once on `r`; sortable by any column, filtered by state; Enter takes the person to the
//! selected session's agent ([`attach`]); `q`, Esc or Ctrl-C leave it and restore the terminal,
//! as does a panic or SIGTERM.
//!
//! It is a library of its own, used only by the `coord-top` binary, so that `coord`, which
//! every agent hook starts, links no terminal UI. Like every adapter it reads through
//! `coord_service::Service` and judges nothing itself: [`snapshot`] reads, [`app`] holds the
//! view's state and the keys, [`view`] draws, [`screen`] owns the terminal.

pub mod app;
mod attach;
pub mod palette;
pub mod screen;
pub mod snapshot;
pub mod view;

#[cfg(test)]
mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coord_service::Service;
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::app::{App, Outcome};
use crate::screen::Screen;
use crate::snapshot::{Feed, Snapshot};

/// What can end the view with an error: the terminal, never the store (a store that fails is
/// reported on screen and read again).
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    /// Standard output is not a terminal.
    #[error("coord top needs a terminal (coord ps --watch redraws plain text)")]
    NotATerminal,
    /// Reading keys from or drawing on the terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// The handlers of SIGTERM, SIGHUP and SIGINT could not be set.
    #[error("cannot handle signals: {0}")]
    Signals(std::io::Error),
}

/// How the view runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// How often the store is read again.
    pub interval: Duration,
    /// Whether states are drawn in colour.
    pub color: bool,
}

/// Runs the view on this terminal until a quit key or a terminating signal.
pub fn run(service: &Service, options: &Options) -> Result<(), TopError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(TopError::Signals)?;
    }
    let mut screen = Screen::enter()?;
    let mut feed = Feed::new(service);
    let mut snapshot = Snapshot::empty();
    let mut app = App::new(options.color);
    let mut due = Instant::now();
    'view: while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= due {
            feed.refresh(&mut snapshot);
            due = Instant::now() + options.interval;
        }
        screen
            .terminal()
            .draw(|frame| view::draw(frame, &app, &snapshot))?;
        let wait = due.saturating_duration_since(Instant::now());
        if let Input::Gone = terminal_input(wait) {
            break;
        }
        // Every event the terminal library holds: it reads all the bytes there are, so keys
        // typed together (or held down) wait in it, not on the terminal. Its reader (poll(2) on
        // /dev/tty, see Cargo.toml) looks at the terminal only for a wait longer than zero.
        while event::poll(HELD)? {
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    match app.on_key(key, &snapshot) {
                        Outcome::Quit => break 'view,
                        Outcome::Reload => due = Instant::now(),
                        Outcome::Redraw => {}
                        Outcome::Attach(id) => {
                            let entry = snapshot.fleet.entries.iter().find(|e| e.session.id == id);
                            if let Some(entry) = entry {
                                let (back, said) =
                                    attach::go(&entry.session, &service.host().name, screen)?;
                                screen = back;
                                app.notice = Some(said);
                                due = Instant::now();
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    screen.leave()?;
    Ok(())
}

/// How long the terminal library is given to hand over an event it holds.
const HELD: Duration = Duration::from_millis(1);

/// What the terminal has for the view.
enum Input {
    /// Nothing within the wait, or a signal came (the caller looks at its flag; a resize
    /// waits in the terminal library).
    None,
    /// Bytes to read.
    Ready,
    /// The terminal hung up (its window or tmux server went away): nobody is looking.
    Gone,
}

/// Waits up to `wait` for the terminal's input. The wait is this process's own `poll` on
/// stdin, not the TUI library's: that one reads a hung-up terminal's end of file in a loop
/// forever, so a view whose terminal went away would spin instead of exiting.
fn terminal_input(wait: Duration) -> Input {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: wait.subsec_nanos().into(),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => Input::None,
        Ok(_) => {
            let events = fds[0].revents();
            if events.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                Input::Gone
            } else {
                Input::Ready
            }
        }
        Err(_) => Input::Gone,
    }
}

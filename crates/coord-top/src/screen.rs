//! The terminal while the view runs: raw mode, the alternate screen, a hidden cursor; and the
//! way back, whichever way the view ends (a quit key, an error, a panic). The shell gets its
//! terminal as it left it.

use std::io::{IsTerminal, Stdout, Write};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use crate::TopError;

/// The terminal, taken over; given back when dropped.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    active: bool,
}

impl Screen {
    /// Takes the terminal over, and makes a panic give it back before its message is printed
    /// (on the alternate screen the message would be lost).
    pub fn enter() -> Result<Self, TopError> {
        if !std::io::stdout().is_terminal() {
            return Err(TopError::NotATerminal);
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
        enable_raw_mode()?;
        let mut screen = Self {
            terminal: Terminal::new(CrosstermBackend::new(std::io::stdout()))?,
            active: true,
        };
        execute!(screen.terminal.backend_mut(), EnterAlternateScreen, Hide)?;
        screen.terminal.clear()?;
        Ok(screen)
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }

    /// Gives the terminal back, reporting a failure (dropping gives it back silently).
    pub fn leave(mut self) -> Result<(), TopError> {
        self.active = false;
        restore()?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.active {
            let _ = restore();
        }
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off.
fn restore() -> std::io::Result<()> {
    let mut out = std::io::stdout();
    execute!(out, LeaveAlternateScreen, Show)?;
    out.flush()?;
    disable_raw_mode()
}

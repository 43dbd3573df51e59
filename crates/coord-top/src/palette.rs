//! How the view looks: the colour of each state (the colours `coord ps` prints, from
//! `crates/coord/src/render/mod.rs`, as terminal styles), of each host state (as `coord hosts`
//! shades it) and relative times.

use coord_core::{HostState, State};
use ratatui::style::{Color, Modifier, Style};

/// The style of a state's name: the colour `coord ps` gives it, or none without colour.
#[must_use]
pub fn state(state: State, color: bool) -> Style {
    if !color {
        return Style::new();
    }
    let s = Style::new();
    match state {
        State::Active => s.fg(Color::Green),
        State::InTool => s.fg(Color::Cyan),
        State::Blocked => s.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        State::Limited => s.fg(Color::Magenta),
        State::Background => s.fg(Color::Cyan).add_modifier(Modifier::DIM),
        State::Idle => s.fg(Color::Blue),
        State::Stale => s.fg(Color::Yellow),
        State::Unknown => s.fg(Color::DarkGray),
        State::Dead => s.fg(Color::Red).add_modifier(Modifier::BOLD),
        State::Ended => s.add_modifier(Modifier::DIM),
    }
}

/// The style of a host state's name: the colour of what it means for the host's silent
/// sessions, as `coord hosts` shades it (heard: active; silent, asleep: unknown; down, lost:
/// dead).
#[must_use]
pub fn host(host: HostState, color: bool) -> Style {
    let shade = match host {
        HostState::Heard => State::Active,
        HostState::Silent | HostState::Asleep => State::Unknown,
        HostState::Down | HostState::Lost => State::Dead,
    };
    state(shade, color)
}

/// Column titles and the keys line.
#[must_use]
pub fn heading(color: bool) -> Style {
    if color {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

/// The border of the pane the keys act on.
#[must_use]
pub fn focused(color: bool) -> Style {
    if color {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

/// The selected row: a dark grey band that keeps each cell's colour; reversed without colour.
#[must_use]
pub fn selected(color: bool) -> Style {
    if color {
        Style::new()
            .bg(Color::Indexed(237))
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// An error the view reports (the store unreachable, say).
#[must_use]
pub fn error(color: bool) -> Style {
    if color {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

pub use coord_core::time::ago;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_the_colours_of_coord_ps_and_lose_them_without_colour() {
        assert_eq!(state(State::Dead, true).fg, Some(Color::Red));
        assert!(
            state(State::Dead, true)
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert_eq!(state(State::Stale, true).fg, Some(Color::Yellow));
        assert_eq!(state(State::Unknown, true).fg, Some(Color::DarkGray));
        for s in State::ALL {
            assert_eq!(state(s, false), Style::new(), "{s}");
        }
    }

    #[test]
    fn host_states_take_the_colour_of_what_they_mean_for_sessions() {
        assert_eq!(host(HostState::Heard, true).fg, Some(Color::Green));
        assert_eq!(host(HostState::Asleep, true).fg, Some(Color::DarkGray));
        assert_eq!(host(HostState::Silent, true).fg, Some(Color::DarkGray));
        assert_eq!(host(HostState::Lost, true), state(State::Dead, true));
        assert_eq!(host(HostState::Down, true), state(State::Dead, true));
        assert_eq!(host(HostState::Lost, false), Style::new());
    }
}

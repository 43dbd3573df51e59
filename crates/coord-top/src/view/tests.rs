//! Frames drawn on a test backend from fixture snapshots.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

use super::*;
use crate::fixture;

fn frame(app: &App, snapshot: &Snapshot) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(140, 36)).unwrap();
    terminal.draw(|f| draw(f, app, snapshot)).unwrap();
    terminal.backend().buffer().clone()
}

fn lines(buffer: &Buffer) -> Vec<String> {
    let width = buffer.area.width as usize;
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(ratatui::buffer::Cell::symbol).collect())
        .collect()
}

fn line_with<'a>(lines: &'a [String], text: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line holds {text:?}:\n{}", lines.join("\n")))
}

/// Where `word` starts on the first line holding `anchor`: its column and row.
fn cell_of(lines: &[String], anchor: &str, word: &str) -> (u16, u16) {
    let (y, row) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains(anchor))
        .unwrap_or_else(|| panic!("no line holds {anchor:?}"));
    let x = row.chars().count() - row[row.find(word).unwrap()..].chars().count();
    (x as u16, y as u16)
}

fn press(app: &mut App, snapshot: &Snapshot, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), snapshot);
}

#[test]
fn the_fleet_shows_what_coord_ps_shows_with_the_state_in_its_colour() {
    let s = fixture::snapshot();
    let buffer = frame(&App::new(true), &s);
    let lines = lines(&buffer);
    let builder = line_with(&lines, "builder");
    for text in [
        "shell",
        "task of builder",
        "vm:11",
        "in-tool",
        "1s ago",
        "t-1,leader",
        "running cargo for 1s",
    ] {
        assert!(builder.contains(text), "{text:?} missing from {builder:?}");
    }
    assert!(line_with(&lines, "crasher").contains("dead"));
    assert!(
        !lines.iter().any(|l| l.contains("task of finisher")),
        "an ended session is hidden"
    );
    assert!(lines[0].contains("3 of 4 sessions"), "{}", lines[0]);

    let (y, row) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("crasher") && l.contains("dead"))
        .unwrap();
    let x = row.chars().collect::<Vec<_>>();
    let col = (0..x.len())
        .find(|&i| x[i..].iter().take(4).collect::<String>() == "dead")
        .unwrap();
    let cell = &buffer[(col as u16, y as u16)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::BOLD));
}

#[test]
fn the_tasks_and_the_events_are_beside_the_fleet() {
    let s = fixture::snapshot();
    let lines = lines(&frame(&App::new(true), &s));
    let t1 = line_with(&lines, "title of t-1");
    assert!(t1.contains("claimed") && t1.contains("builder") && t1.contains('7'));
    assert!(line_with(&lines, "title of t-2").contains("pending"));
    let ended = line_with(&lines, "finisher  ended");
    assert!(ended.contains("7s ago"), "{ended}");
    let first = lines.iter().position(|l| l.contains("finisher  ended"));
    let last = lines
        .iter()
        .position(|l| l.contains("registered shell at vm:11"));
    assert!(first < last, "the latest event comes first");
}

#[test]
fn the_selected_session_is_explained_by_its_rule() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    let before = lines(&frame(&app, &s));
    assert!(line_with(&before, "select a row").contains("why"));
    press(&mut app, &s, KeyCode::Down);
    press(&mut app, &s, KeyCode::Down);
    let after = lines(&frame(&app, &s));
    line_with(&after, "crasher is dead: process gone, seen 3s ago");
    line_with(&after, "rule  dead: its process is known to have exited");
}

#[test]
fn the_sort_column_and_the_filter_are_shown() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    press(&mut app, &s, KeyCode::Char('5'));
    press(&mut app, &s, KeyCode::Char('5'));
    press(&mut app, &s, KeyCode::Char('f'));
    let lines = lines(&frame(&app, &s));
    line_with(&lines, "Fleet · sort state ▼ · filter all");
    line_with(&lines, "STATE▼");
    let order: Vec<usize> = ["finisher  ", "crasher  ", "reviewer  ", "builder  "]
        .iter()
        .map(|id| lines.iter().position(|l| l.contains(id)).unwrap())
        .collect();
    assert!(order.is_sorted(), "ended, dead, idle, in-tool: {order:?}");
}

#[test]
fn the_hosts_show_their_state_in_its_colour_their_last_signal_and_sessions() {
    let s = fixture::snapshot();
    let buffer = frame(&App::new(true), &s);
    let lines = lines(&buffer);
    line_with(&lines, "Hosts (2)");
    let header = line_with(&lines, "LAST HEARD");
    assert!(header.contains("SESSIONS"), "{header}");
    let vm = line_with(&lines, "heard 1s ago");
    for text in ["vm", "heard", "1s ago", "  3  "] {
        assert!(vm.contains(text), "{text:?} missing from {vm:?}");
    }
    let far = line_with(&lines, "silent 2h1m while 1 host heard");
    for text in ["far", "lost", "2h1m ago", "  0  "] {
        assert!(far.contains(text), "{text:?} missing from {far:?}");
    }

    // The state in its colour, in one column: lost as dead, heard as active.
    let (x, y) = cell_of(&lines, "silent 2h1m", "lost");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    let (_, y) = cell_of(&lines, "heard 1s ago", "vm");
    assert_eq!(buffer[(x, y)].symbol(), "h");
    assert_eq!(buffer[(x, y)].fg, Color::Green);
}

#[test]
fn the_selected_host_is_explained_with_its_evidence() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    press(&mut app, &s, KeyCode::Tab);
    press(&mut app, &s, KeyCode::Tab);
    press(&mut app, &s, KeyCode::Down);
    let far = lines(&frame(&app, &s));
    line_with(&far, "far is lost: silent 2h1m while 1 host heard");
    line_with(
        &far,
        "last heard 2h1m ago · heard without a gap since 2h30m ago",
    );
    line_with(&far, "lost since 1m ago · noted lost 1m ago");
    line_with(&far, "sessions none · witnesses vm");
    press(&mut app, &s, KeyCode::Down);
    let vm = lines(&frame(&app, &s));
    line_with(&vm, "vm is heard: heard 1s ago");
    line_with(&vm, "sessions builder, crasher, reviewer · witnesses none");
}

#[test]
fn a_failed_reading_is_reported_in_place_of_the_keys() {
    let mut s = fixture::snapshot();
    let app = App::new(true);
    assert!(lines(&frame(&app, &s)).last().unwrap().contains("q quit"));
    s.error = Some("store unavailable".into());
    let buffer = frame(&app, &s);
    let last = lines(&buffer).last().unwrap().clone();
    assert!(
        last.contains("cannot read the store: store unavailable"),
        "{last}"
    );
    assert!(
        lines(&buffer).iter().any(|l| l.contains("crasher")),
        "the last reading stays"
    );
}

#[test]
fn without_colour_no_cell_has_one() {
    let s = fixture::snapshot();
    let buffer = frame(&App::new(false), &s);
    assert!(buffer.content.iter().all(|c| c.fg == Color::Reset));
}

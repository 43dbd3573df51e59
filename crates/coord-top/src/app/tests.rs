//! Every key, on a fixture snapshot.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::fixture;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ids(app: &App, snapshot: &Snapshot) -> Vec<String> {
    app.sessions(snapshot)
        .iter()
        .map(|e| e.session.id.clone())
        .collect()
}

#[test]
fn q_esc_and_ctrl_c_quit_and_r_reloads() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    assert_eq!(app.on_key(key(KeyCode::Char('q')), &s), Outcome::Quit);
    assert_eq!(app.on_key(key(KeyCode::Esc), &s), Outcome::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c, &s), Outcome::Quit);
    assert_eq!(app.on_key(key(KeyCode::Char('c')), &s), Outcome::Redraw);
    assert_eq!(app.on_key(key(KeyCode::Char('r')), &s), Outcome::Reload);
}

#[test]
fn the_fleet_opens_sorted_by_id_without_the_ended() {
    let s = fixture::snapshot();
    let app = App::new(true);
    assert_eq!(ids(&app, &s), ["builder", "crasher", "reviewer"]);
}

#[test]
fn s_cycles_the_sort_column_and_choosing_it_again_reverses() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    app.on_key(key(KeyCode::Char('s')), &s);
    assert_eq!(app.sort, Column::Runtime);
    app.on_key(key(KeyCode::Char('S')), &s);
    assert_eq!(app.sort, Column::Id);
    app.on_key(key(KeyCode::Char('5')), &s);
    assert_eq!(app.sort, Column::State);
    assert_eq!(ids(&app, &s), ["builder", "reviewer", "crasher"]);
    app.on_key(key(KeyCode::Char('5')), &s);
    assert!(app.reversed);
    assert_eq!(ids(&app, &s), ["crasher", "reviewer", "builder"]);
    app.on_key(key(KeyCode::Char('6')), &s);
    assert!(!app.reversed, "a new column sorts forward");
    assert_eq!(ids(&app, &s), ["builder", "crasher", "reviewer"]);
    app.on_key(key(KeyCode::Char('9')), &s);
    assert_eq!(
        app.sort,
        Column::LastSeen,
        "a digit past the columns does nothing"
    );
}

#[test]
fn f_cycles_through_all_and_the_states_present() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    let mut seen = Vec::new();
    for _ in 0..6 {
        app.on_key(key(KeyCode::Char('f')), &s);
        seen.push((app.filter, ids(&app, &s)));
    }
    assert_eq!(seen[0].0, Filter::All);
    assert_eq!(seen[0].1, ["builder", "crasher", "finisher", "reviewer"]);
    assert_eq!(seen[1].0, Filter::Only(State::InTool));
    assert_eq!(seen[1].1, ["builder"]);
    assert_eq!(seen[2].0, Filter::Only(State::Idle));
    assert_eq!(seen[3].0, Filter::Only(State::Dead));
    assert_eq!(seen[3].1, ["crasher"]);
    assert_eq!(seen[4].0, Filter::Only(State::Ended));
    assert_eq!(seen[5].0, Filter::NotEnded, "the cycle closes");
}

#[test]
fn arrows_select_within_the_focused_pane_and_tab_moves_the_focus() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    let rows = app.sessions(&s);
    assert_eq!(app.session_at(&rows), None);
    app.on_key(key(KeyCode::Down), &s);
    assert_eq!(app.session_at(&app.sessions(&s)), Some(0));
    app.on_key(key(KeyCode::Down), &s);
    app.on_key(key(KeyCode::Down), &s);
    app.on_key(key(KeyCode::Down), &s);
    assert_eq!(
        app.session_at(&app.sessions(&s)),
        Some(2),
        "stops at the end"
    );
    app.on_key(key(KeyCode::Home), &s);
    assert_eq!(app.session_at(&app.sessions(&s)), Some(0));

    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.pane, Pane::Tasks);
    app.on_key(key(KeyCode::End), &s);
    assert_eq!(app.task_at(&app.tasks(&s)), Some(1));
    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.pane, Pane::Hosts);
    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.pane, Pane::Events);
    app.on_key(key(KeyCode::Down), &s);
    let events = app.events(&s);
    assert_eq!(
        events[app.event_at(&events).unwrap()].seq,
        3,
        "latest first"
    );
    app.on_key(key(KeyCode::BackTab), &s);
    assert_eq!(app.pane, Pane::Hosts);
    app.on_key(key(KeyCode::BackTab), &s);
    assert_eq!(app.pane, Pane::Tasks);
    app.on_key(key(KeyCode::Tab), &s);
    app.on_key(key(KeyCode::Tab), &s);
    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.pane, Pane::Fleet);
    assert_eq!(
        app.session_at(&app.sessions(&s)),
        Some(0),
        "each pane keeps its selection"
    );
}

#[test]
fn the_selection_follows_its_session_when_the_order_changes() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    app.on_key(key(KeyCode::Down), &s);
    app.on_key(key(KeyCode::Down), &s);
    let rows = app.sessions(&s);
    assert_eq!(rows[app.session_at(&rows).unwrap()].session.id, "crasher");
    app.on_key(key(KeyCode::Char('5')), &s);
    let rows = app.sessions(&s);
    assert_eq!(app.session_at(&rows), Some(2));
    assert_eq!(rows[2].session.id, "crasher");
}

#[test]
fn the_hosts_are_listed_by_name_and_selected_in_their_pane() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    let names =
        |app: &App| -> Vec<String> { app.hosts(&s).iter().map(|h| h.name.clone()).collect() };
    assert_eq!(names(&app), ["far", "vm"]);
    app.on_key(key(KeyCode::Down), &s);
    assert_eq!(
        app.host_at(&app.hosts(&s)),
        None,
        "the fleet pane had the keys"
    );
    app.on_key(key(KeyCode::Tab), &s);
    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.pane, Pane::Hosts);
    app.on_key(key(KeyCode::End), &s);
    let hosts = app.hosts(&s);
    assert_eq!(hosts[app.host_at(&hosts).unwrap()].name, "vm");
    app.on_key(key(KeyCode::Up), &s);
    app.on_key(key(KeyCode::Up), &s);
    let hosts = app.hosts(&s);
    assert_eq!(
        hosts[app.host_at(&hosts).unwrap()].name,
        "far",
        "stops at the top"
    );
    assert_eq!(
        app.session_at(&app.sessions(&s)),
        Some(0),
        "the fleet keeps its own selection"
    );
}

#[test]
fn enter_on_a_selected_session_attaches_and_elsewhere_does_nothing() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    assert_eq!(app.on_key(key(KeyCode::Enter), &s), Outcome::Redraw);
    app.on_key(key(KeyCode::Down), &s);
    assert_eq!(
        app.on_key(key(KeyCode::Enter), &s),
        Outcome::Attach("builder".into())
    );
    app.on_key(key(KeyCode::Tab), &s);
    assert_eq!(app.on_key(key(KeyCode::Enter), &s), Outcome::Redraw);
}

#[test]
fn a_notice_lasts_until_the_next_key() {
    let s = fixture::snapshot();
    let mut app = App::new(true);
    app.notice = Some("builder runs in no tmux pane".into());
    app.on_key(key(KeyCode::Down), &s);
    assert_eq!(app.notice, None);
}

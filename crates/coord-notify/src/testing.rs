//! What the unit tests share: a session record to judge.

use std::collections::BTreeMap;

use coord_core::{Phase, PolicyOverrides, ProcessFact, Runtime, Session, Timestamp};

/// A working session `id` on host `h`, registered at 0.
pub fn session(id: &str) -> Session {
    Session {
        id: id.to_owned(),
        parent: None,
        incarnation: 1,
        revision: 1,
        host: "h".to_owned(),
        pid: Some(10),
        pid_start: Some(99),
        boot_id: None,
        runtime: Runtime::Claude,
        task: String::new(),
        cwd: None,
        labels: BTreeMap::new(),
        registered_at: Timestamp::from_millis(0),
        last_seen: Timestamp::from_millis(0),
        last_activity: None,
        last_progress: None,
        phase: Phase::Working,
        phase_at: Timestamp::from_millis(0),
        process: ProcessFact::Unknown,
        log_path: None,
        log_mtime: None,
        beats: 0,
        progress: None,
        signals: BTreeMap::new(),
        policy: PolicyOverrides::default(),
    }
}

//! The Lua scripts the fleet backend runs, and the constants they share with the Rust side.
//!
//! Each script is built once per store, as first run: the constants (the store's host gap
//! among them), `common.lua`, then the script's own file. The `redis` crate runs it by SHA
//! (`EVALSHA`) and loads it again when the server answers `NOSCRIPT`.

use std::cell::OnceCell;
use std::time::Duration;

use ::redis::Script;

use super::keys::{NOTICE_PREFIX, PAUSE_PREFIX, SINCE_PREFIX};

/// The scripts coord runs, each one file after `common.lua`.
#[derive(Clone, Copy)]
pub(super) enum Lua {
    Register,
    Heartbeat,
    Unregister,
    RecordExit,
    Evict,
    PutTask,
    NoteHost,
    ClaimTask,
    IndexTasks,
    RetireTasks,
    NextToken,
    Now,
}

/// The file of each [`Lua`], in its order.
const LUA_FILES: [&str; 12] = [
    include_str!("register.lua"),
    include_str!("heartbeat.lua"),
    include_str!("unregister.lua"),
    include_str!("record_exit.lua"),
    include_str!("evict.lua"),
    include_str!("put_task.lua"),
    include_str!("note_host.lua"),
    include_str!("claim_task.lua"),
    include_str!("index_tasks.lua"),
    include_str!("retire_tasks.lua"),
    include_str!("next_token.lua"),
    include_str!("now.lua"),
];

/// How far past the greater of its counter and the clock a namespace's token counter moves on
/// a master it has not seen (see `take_token` in `common.lua`): more tokens than a master hands
/// out in the moments its replica has not yet received them (a minute of claims at 16,000 a
/// second), and little enough that the clock overtakes the counter again about a minute later.
const TOKEN_GAP: u64 = 1 << 20;

/// How many tokens a millisecond of the server's clock is worth on a master not seen before:
/// the counter moves no lower than the clock's milliseconds times this, past every token an
/// earlier master handed out, as long as masters hand out fewer than this many a millisecond
/// on average. Small enough that tokens stay exact in the scripts' JSON (14 digits) until 2168.
const TOKENS_PER_MS: u64 = 16;

/// The scripts of one store.
pub(super) struct Scripts {
    pub(super) host_gap: Duration,
    built: [OnceCell<Script>; LUA_FILES.len()],
}

impl Scripts {
    pub(super) fn new(host_gap: Duration) -> Self {
        Self {
            host_gap,
            built: Default::default(),
        }
    }

    pub(super) fn get(&self, lua: Lua) -> &Script {
        self.built[lua as usize].get_or_init(|| {
            Script::new(&format!(
                "local HOST_GAP_MS = {}\nlocal SINCE_PREFIX = '{}'\nlocal PAUSE_PREFIX = '{}'\n\
                 local NOTICE_PREFIX = '{}'\nlocal TOKEN_GAP = {TOKEN_GAP}\n\
                 local TOKENS_PER_MS = {TOKENS_PER_MS}\n{}{}",
                self.host_gap.as_millis(),
                SINCE_PREFIX.replace('\0', "\\0"),
                PAUSE_PREFIX.replace('\0', "\\0"),
                NOTICE_PREFIX.replace('\0', "\\0"),
                include_str!("common.lua"),
                LUA_FILES[lua as usize]
            ))
        })
    }
}

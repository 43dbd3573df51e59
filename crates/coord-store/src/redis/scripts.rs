//! The Lua functions the fleet backend runs, and the constants they share with the Rust side.
//!
//! They are one library of Redis functions (Redis 7 or later), built once per store: the
//! constants (the store's host gap among them), `common.lua`, then each script's file as the
//! body of one function. The library's name and its functions' carry a hash of its text, so
//! that coord builds of another text on the same server keep their own.
//!
//! Functions rather than scripts sent by SHA (`EVALSHA`) for two reasons. What the library
//! shares (`common.lua`) runs once, when the server loads it, not at every call: a tenth of
//! what a renewal costs the server. And a replica refuses every call outright (`READONLY`),
//! with no check of the calls' own: a master that a failover demoted, resyncing with its data
//! flushed or old, never answers "not registered" from what it lost.
//!
//! The server keeps the library as data (replicated, persisted, on every master of a cluster
//! once loaded through the cluster client). A call it answers "not found" for (a server
//! restarted without persistence, flushed, a node new to a cluster) loads it and goes again.

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::time::Duration;

use ::redis::{Cmd, ConnectionLike, FromRedisValue, RedisError, RedisResult, ToRedisArgs};

use super::keys::{NOTICE_PREFIX, PAUSE_PREFIX, SINCE_PREFIX};

/// The functions coord calls, each one file after `common.lua`.
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

/// The name (after the library's) and the file of each [`Lua`], in its order.
const LUA_FILES: [(&str, &str); 12] = [
    ("register", include_str!("register.lua")),
    ("heartbeat", include_str!("heartbeat.lua")),
    ("unregister", include_str!("unregister.lua")),
    ("record_exit", include_str!("record_exit.lua")),
    ("evict", include_str!("evict.lua")),
    ("put_task", include_str!("put_task.lua")),
    ("note_host", include_str!("note_host.lua")),
    ("claim_task", include_str!("claim_task.lua")),
    ("index_tasks", include_str!("index_tasks.lua")),
    ("retire_tasks", include_str!("retire_tasks.lua")),
    ("next_token", include_str!("next_token.lua")),
    ("now", include_str!("now.lua")),
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

/// The library of one store.
pub(super) struct Scripts {
    pub(super) host_gap: Duration,
    event_keep: u64,
    built: OnceCell<Library>,
}

/// The library's text and the prefix of its functions' names.
struct Library {
    text: String,
    prefix: String,
}

impl Scripts {
    pub(super) fn new(host_gap: Duration, event_keep: u64) -> Self {
        Self {
            host_gap,
            event_keep,
            built: OnceCell::new(),
        }
    }

    /// A call of `lua`, to be given its keys and arguments.
    pub(super) fn call(&self, lua: Lua) -> Call<'_> {
        Call {
            scripts: self,
            lua,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }

    fn library(&self) -> &Library {
        self.built.get_or_init(|| {
            let mut body = format!(
                "local HOST_GAP_MS = {}\nlocal SINCE_PREFIX = '{}'\nlocal PAUSE_PREFIX = '{}'\n\
                 local NOTICE_PREFIX = '{}'\nlocal TOKEN_GAP = {TOKEN_GAP}\n\
                 local TOKENS_PER_MS = {TOKENS_PER_MS}\n\
                 -- How many events a namespace keeps, about: the stream is trimmed by whole nodes.\n\
                 local EVENT_KEEP = {}\n{}",
                self.host_gap.as_millis(),
                SINCE_PREFIX.replace('\0', "\\0"),
                PAUSE_PREFIX.replace('\0', "\\0"),
                NOTICE_PREFIX.replace('\0', "\\0"),
                self.event_keep,
                include_str!("common.lua"),
            );
            let prefix = format!("coord_{:016x}", fnv1a(&body, &LUA_FILES));
            for (name, file) in LUA_FILES {
                // Writing to a String cannot fail.
                let _ = write!(
                    body,
                    "\nredis.register_function('{prefix}_{name}', function(KEYS, ARGV)\n\
                     bind(KEYS)\n{file}\nend)\n"
                );
            }
            Library {
                text: format!("#!lua name={prefix}\n{body}"),
                prefix,
            }
        })
    }

    /// Loads the library on the server behind `con` (on every master, through a cluster's).
    fn load(&self, con: &mut dyn ConnectionLike) -> RedisResult<()> {
        let _: ::redis::Value = ::redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(&self.library().text)
            .query(con)?;
        Ok(())
    }
}

/// One call of a function: its keys and arguments.
pub(super) struct Call<'s> {
    scripts: &'s Scripts,
    lua: Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    /// Adds a key.
    pub(super) fn key<T: ToRedisArgs>(&mut self, key: T) -> &mut Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    /// Adds an argument.
    pub(super) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// The call as a command: `FCALL NAME NUMKEYS KEY… ARG…`.
    pub(super) fn cmd(&self) -> Cmd {
        let library = self.scripts.library();
        let mut cmd = ::redis::cmd("FCALL");
        cmd.arg(format!(
            "{}_{}",
            library.prefix, LUA_FILES[self.lua as usize].0
        ))
        .arg(self.keys.len())
        .arg(&self.keys)
        .arg(&self.args);
        cmd
    }

    /// Makes the call; when the server does not have the library, loads it and calls again.
    pub(super) fn invoke<T: FromRedisValue>(&self, con: &mut dyn ConnectionLike) -> RedisResult<T> {
        match self.cmd().query(con) {
            Err(e) if not_loaded(&e) => {
                self.scripts.load(con)?;
                self.cmd().query(con)
            }
            answer => answer,
        }
    }
}

/// Whether the server refused a call for want of the library.
pub(super) fn not_loaded(e: &RedisError) -> bool {
    e.detail()
        .is_some_and(|detail| detail.starts_with("Function not found"))
}

/// A hash of the library's text, stable across builds and platforms (FNV-1a, 64 bits).
fn fnv1a(head: &str, files: &[(&str, &str)]) -> u64 {
    let bytes = head
        .bytes()
        .chain(files.iter().flat_map(|(n, f)| n.bytes().chain(f.bytes())));
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

//! Errors of the storage layer, typed so the service and the CLI can tell a busy store from a
//! broken one, and an unreachable server from a failing one.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `COORD_URL` could not be understood.
    #[error("invalid store URL `{url}`: {why}")]
    Url {
        /// The URL as given (with any password masked).
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No default location: neither `XDG_STATE_HOME` nor `HOME` is set.
    #[error("cannot find a place for the store: set COORD_URL, XDG_STATE_HOME or HOME")]
    NoHome,
    /// The store's file or directory could not be created or opened.
    #[error("cannot prepare {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another writer held the store longer than the busy timeout.
    #[error("the store is busy (locked by another writer past the timeout)")]
    Busy,
    /// The store was written by a newer coord.
    #[error(
        "the store has schema version {found}; this coord knows up to {supported}: upgrade coord"
    )]
    SchemaTooNew {
        /// The version in the store.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A change of a group ([`crate::Store::grouped`]) failed after writing: the group was
    /// rolled back whole.
    #[error("a change of the group failed ({0}); none of the group landed")]
    GroupFailed(String),
    /// A stored value could not be read back.
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    /// An error from SQLite.
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// The Redis server could not be reached or refused the connection (address, login,
    /// database number, TLS).
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The server's URL, password masked.
        url: String,
        /// The underlying error.
        source: redis::RedisError,
    },
    /// The Redis server did not answer within the configured timeout.
    #[error("no answer from {url} within {}ms", after.as_millis())]
    Timeout {
        /// The server's URL, password masked.
        url: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// A `coord serve` could not be reached, or the connection broke.
    #[error("cannot reach {url}: {why}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// What failed.
        why: String,
    },
    /// A `coord serve` answered a store operation with an error.
    #[error("{url} refused: {message} (code {code})")]
    Server {
        /// The server's URL.
        url: String,
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },
    /// The Redis server answered a request with an error, or the connection broke.
    #[error("redis at {url}: {source}")]
    Redis {
        /// The server's URL, password masked.
        url: String,
        /// The underlying error.
        source: redis::RedisError,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

//! The JSON shapes of `--json` output. They live in [`coord_service::json`], so that the CLI
//! and the server (`coord serve`) print the same documents; commands reach them through here.

pub use coord_service::json::{document, entry, event, host};

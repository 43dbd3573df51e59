//! Instance ids: ClaudeBench takes any id that is not empty (`" "` included), coord's session
//! ids have no white space or control characters. An id coord could not store is stored as
//! [`PREFIX`] followed by the id with `%`, white space and control characters percent-encoded
//! (their UTF-8 bytes), and so is an id that itself starts with the prefix; every other id is
//! stored as it is. The mapping is reversible and collision-free: stored ids that start with
//! the prefix are exactly the encoded ones. `system.*` methods take the original id and give
//! it back wherever they show one ([`shown`]); coord's own commands show the stored form.

use std::borrow::Cow;
use std::fmt::Write;

/// The start of an encoded id.
pub const PREFIX: &str = "%cb:";

/// The id coord stores for the instance ClaudeBench calls `id`.
#[must_use]
pub fn stored(id: &str) -> Cow<'_, str> {
    if !id.starts_with(PREFIX) && !id.chars().any(refused) {
        return Cow::Borrowed(id);
    }
    let mut out = String::from(PREFIX);
    for c in id.chars() {
        if escaped(c) {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The id ClaudeBench knows for a stored session id (the same id unless it was encoded).
#[must_use]
pub fn shown(stored: &str) -> Cow<'_, str> {
    stored
        .strip_prefix(PREFIX)
        .and_then(decode)
        .map_or(Cow::Borrowed(stored), Cow::Owned)
}

/// Whether coord refuses `c` in a session id.
fn refused(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Whether `c` is written `%XX` in an encoded id.
fn escaped(c: char) -> bool {
    c == '%' || refused(c)
}

/// The text that `%XX` escapes stand for; `None` if it is not an encoding.
fn decode(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_coord_takes_are_stored_as_they_are() {
        for id in ["worker-1", "a%b", "é", "coord-serve@h"] {
            assert_eq!(stored(id), id);
            assert_eq!(shown(id), id);
        }
    }

    #[test]
    fn other_ids_are_encoded_and_come_back() {
        assert_eq!(stored(" "), "%cb:%20");
        assert_eq!(stored("a b\tc%"), "%cb:a%20b%09c%25");
        assert_eq!(stored("%cb:x"), "%cb:%25cb:x");
        assert_eq!(stored("\u{3000}"), "%cb:%E3%80%80");
        for id in [" ", "a b", "%cb:x", "%cb:%20", "\n", "\u{3000}x", "% "] {
            let s = stored(id);
            assert!(s.starts_with(PREFIX), "{id:?} → {s}");
            assert!(
                !s.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{s}"
            );
            assert_eq!(shown(&s), id);
        }
    }

    #[test]
    fn no_two_ids_are_stored_alike() {
        let ids = [" ", "%20", "%cb:%20", "%cb:", "", "x", "%cb:x", "x ", "%2"];
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            assert!(seen.insert(stored(id).into_owned()), "{id:?}");
        }
    }

    #[test]
    fn a_stored_id_that_is_no_encoding_is_shown_as_it_is() {
        for s in ["%cb:%2", "%cb:%zz", "%cb:%FF"] {
            assert_eq!(shown(s), s);
        }
    }
}

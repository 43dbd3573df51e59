//! What the end of an agent's transcript says that no hook does.
//!
//! Claude Code writes an API error (a server error, a rate or usage limit) into its transcript
//! as an assistant entry marked `isApiErrorMessage`. In print mode (`-p`) no hook reports it
//! (neither `Stop` nor `StopFailure` fires), so the transcript is the only place a session can be
//! seen `limited`. The rule: the last conversation entry (user or assistant; bookkeeping
//! entries such as `cost-state` or `file-history-snapshot` are skipped) decides. An API error
//! there means limited, since it was written; anything after it (the person tried again) means
//! the transcript says nothing, and the hooks' reports stand.

use serde::Deserialize;
use serde_json::Value;

use crate::time::Timestamp;

/// One transcript entry, as far as this rule reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "type")]
    kind: Option<String>,
    timestamp: Option<String>,
    #[serde(default)]
    is_api_error_message: bool,
    api_error_status: Option<u16>,
    error: Option<String>,
    message: Option<Value>,
}

/// An API error the transcript ends with: why, and when it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The reason to show (`API error 429: …`).
    pub why: String,
    /// When it was written.
    pub at: Timestamp,
}

/// Reads the end of a transcript (`tail`: its last bytes; a first partial line is skipped) and
/// returns the API error it ends with, if it does.
#[must_use]
pub fn ends_in_api_error(tail: &str) -> Option<ApiError> {
    let lines = tail.lines().rev();
    for line in lines {
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            continue;
        };
        match entry.kind.as_deref() {
            Some("assistant") if entry.is_api_error_message => return api_error(&entry),
            Some("assistant" | "user") => return None,
            _ => {}
        }
    }
    None
}

fn api_error(entry: &Entry) -> Option<ApiError> {
    let at = parse_rfc3339_ms(entry.timestamp.as_deref()?)?;
    let text = entry
        .message
        .as_ref()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .and_then(|parts| parts.iter().find_map(|p| p.get("text")?.as_str()))
        .and_then(|t| t.lines().next())
        .map(|t| t.trim_start_matches("API Error:").trim());
    let mut why = match entry.api_error_status {
        Some(status) => format!("API error {status}"),
        None => "API error".to_owned(),
    };
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        why.push_str(": ");
        why.extend(text.chars().take(80));
    } else if let Some(error) = &entry.error {
        why.push_str(" (");
        why.push_str(error);
        why.push(')');
    }
    Some(ApiError {
        why,
        at: Timestamp::from_millis(at),
    })
}

/// Milliseconds since the epoch of a UTC RFC 3339 time as Claude Code writes it
/// (`2026-11-25T09:10:55.662Z`); `None` for anything else.
fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, clock) = text.split_once('T')?;
    let mut date = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut hms = hms.split(':').map(str::parse::<i64>);
    let (hour, minute, second) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), 1970-01-01 being day 0.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERROR: &str = r#"{"type":"assistant","timestamp":"2026-11-25T09:10:55.662Z","isApiErrorMessage":true,"apiErrorStatus":429,"error":"rate_limit","message":{"content":[{"type":"text","text":"API Error: Claude usage limit reached. Your limit resets at 5pm.\nmore"}]}}"#;

    #[test]
    fn an_api_error_at_the_end_is_read_with_its_time_past_bookkeeping_entries() {
        let tail = format!(
            "{{\"type\":\"user\",\"timestamp\":\"2026-11-25T09:10:55.523Z\"}}\n{ERROR}\n\
             {{\"type\":\"cost-state\"}}\n{{\"type\":\"file-history-snapshot\"}}\n"
        );
        let e = ends_in_api_error(&tail).unwrap();
        assert_eq!(
            e.why,
            "API error 429: Claude usage limit reached. Your limit resets at 5pm."
        );
        assert_eq!(e.at, Timestamp::from_millis(1_795_597_855_662));
    }

    #[test]
    fn a_prompt_after_the_error_means_the_transcript_says_nothing() {
        let tail =
            format!("{ERROR}\n{{\"type\":\"user\",\"timestamp\":\"2026-11-25T09:11:00.000Z\"}}\n");
        assert_eq!(ends_in_api_error(&tail), None);
        let ok = r#"{"type":"assistant","timestamp":"2026-11-25T09:10:55.662Z","message":{}}"#;
        assert_eq!(ends_in_api_error(ok), None);
        assert_eq!(ends_in_api_error("half a line\"}\n"), None);
        assert_eq!(ends_in_api_error(""), None);
    }

    #[test]
    fn times_are_read_as_utc_milliseconds() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2000-03-01T00:00:01.5Z"),
            Some(951_868_801_500)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-11-25 09:10:55Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-11-25T09:10:55.662+01:00"), None);
    }
}

//! Aligned text columns, `docker ps` style: a header, two spaces between columns, the last
//! column unpadded. Widths count characters, not bytes, and ignore colour codes.

/// A table being built.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

/// One cell: the text to measure and, optionally, how to print it (with colour).
pub struct Cell {
    text: String,
    painted: Option<String>,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self {
            text,
            painted: None,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl Cell {
    /// A cell measured by `text` but printed as `painted`.
    pub fn painted(text: String, painted: String) -> Self {
        Self {
            text,
            painted: Some(painted),
        }
    }
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: Vec<&'static str>) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.header.len());
        self.rows.push(row);
    }

    /// The table as text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.text.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: Vec<(&str, &str)>| {
            let mut text = String::new();
            for (i, (measure, print)) in cells.into_iter().enumerate() {
                text.push_str(print);
                if i + 1 < n {
                    let pad = widths[i] - measure.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(self.header.iter().map(|h| (*h, *h)).collect());
        for row in &self.rows {
            line(
                row.iter()
                    .map(|c| (c.text.as_str(), c.painted.as_deref().unwrap_or(&c.text)))
                    .collect(),
            );
        }
        out
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_whatever_the_colour_and_the_last_is_not_padded() {
        let mut t = Table::new(vec!["ID", "STATE", "REASON"]);
        t.push(vec![
            "a".into(),
            Cell::painted("dead".into(), "\x1b[31mdead\x1b[0m".into()),
            "gone".into(),
        ]);
        t.push(vec![
            "longer-id".into(),
            "active".into(),
            "hook 2s ago".into(),
        ]);
        let text = t.render();
        assert_eq!(
            text,
            "ID         STATE   REASON\n\
             a          \x1b[31mdead\x1b[0m    gone\n\
             longer-id  active  hook 2s ago\n"
        );
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 5), "short");
    }
}

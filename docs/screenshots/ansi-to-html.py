#!/usr/bin/env python3
"""ansi-to-html.py: a terminal screen captured with its colours (`tmux capture-pane -e -p`)
as a standalone HTML page, one <span> per run of equal style, for a headless browser to
photograph. Reads the capture on stdin, writes HTML on stdout.

Understands the SGR sequences tmux writes: reset, bold, dim, reverse, their undoing, the 8 and
16 colours and the 256 colours (38;5;N, 48;5;N).

Usage: ansi-to-html.py COLUMNS ROWS < capture > page.html
"""
import html
import re
import sys

BACKGROUND = "#1c1f24"
FOREGROUND = "#d5d9e0"
# The 16 terminal colours (0-7 normal, 8-15 bright), a dark theme.
PALETTE = [
    "#2b2f36", "#e5636b", "#8fc774", "#e6c26a", "#5fa8f0", "#c883de", "#4fbfcc", "#d5d9e0",
    "#7c828d", "#ff7b83", "#a9e08c", "#ffd97f", "#7dbcff", "#dc9bf0", "#6fd6e2", "#ffffff",
]


def colour(n):
    """One of the 256 colours: the palette, the 6x6x6 cube, the grey ramp."""
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        level = lambda v: 0 if v == 0 else 55 + 40 * v
        return "#%02x%02x%02x" % (level(n // 36), level(n // 6 % 6), level(n % 6))
    grey = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (grey, grey, grey)


SGR = re.compile(r"\x1b\[([0-9;]*)m")


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = c - 30
            elif 90 <= c <= 97:
                self.fg = c - 90 + 8
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = c - 40
            elif 100 <= c <= 107:
                self.bg = c - 100 + 8
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                colour = codes[i + 2]
                if c == 38:
                    self.fg = colour
                else:
                    self.bg = colour
                i += 2
            i += 1

    def css(self):
        fg = colour(self.fg) if self.fg is not None else FOREGROUND
        bg = colour(self.bg) if self.bg is not None else None
        if self.reverse:
            fg, bg = (bg or BACKGROUND), fg
        rules = [f"color:{fg}"]
        if bg:
            rules.append(f"background:{bg}")
        if self.bold:
            rules.append("font-weight:bold")
        if self.dim:
            rules.append("opacity:.6")
        return ";".join(rules)


def convert(capture):
    style = Style()
    lines = []
    for raw in capture.rstrip("\n").split("\n"):
        out = []
        pos = 0
        for m in SGR.finditer(raw):
            text = raw[pos : m.start()]
            if text:
                out.append(f'<span style="{style.css()}">{html.escape(text)}</span>')
            style.apply(m.group(1))
            pos = m.end()
        text = raw[pos:]
        if text:
            out.append(f'<span style="{style.css()}">{html.escape(text)}</span>')
        lines.append("".join(out))
    return "\n".join(lines)


def main():
    columns, rows = int(sys.argv[1]), int(sys.argv[2])
    body = convert(sys.stdin.read())
    print(f"""<!doctype html>
<meta charset="utf-8">
<style>
html, body {{ margin: 0; background: {BACKGROUND}; }}
pre {{
  margin: 0; padding: 14px 18px; color: {FOREGROUND};
  font: 14px/16px "DejaVu Sans Mono", monospace;
  width: {columns}ch; height: {rows * 16}px; overflow: hidden;
}}
</style>
<pre>{body}</pre>""")


if __name__ == "__main__":
    main()

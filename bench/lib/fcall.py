"""Reads `redis-cli MONITOR` output on stdin and prints, each ended by a NUL, the arguments of the
first FCALL in it with WORD among them (the function, the key count, the keys and the
arguments), exactly as the client sent them: what a bench replays with redis-benchmark to
cost coord's own function.

Usage: python3 fcall.py WORD < monitor.txt"""
import re
import sys

ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", '"': '"', "\\": "\\"}


def unquote(token):
    out, i = [], 0
    while i < len(token):
        c = token[i]
        if c == "\\" and i + 1 < len(token):
            n = token[i + 1]
            if n == "x":
                out.append(chr(int(token[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append(ESCAPES.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


for line in sys.stdin:
    tokens = [unquote(t) for t in re.findall(r'"((?:[^"\\]|\\.)*)"', line)]
    if tokens and tokens[0].upper() == "FCALL" and sys.argv[1] in tokens:
        sys.stdout.write("".join(t + "\0" for t in tokens[1:]))
        sys.exit(0)
sys.exit("no FCALL was seen")

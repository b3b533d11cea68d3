"""Every log line of the module has a message ID of its own (issue 10): each LogID case of
Sources/WSGICore/Support/Log.swift is used by exactly one call site (in the Apache module, its
WSGICore or the daemon runtime), and numbers are unique.
A source check, not a server test: it runs against the tree, whichever module is tested."""
import collections
import glob
import os
import re

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCES = [os.path.join(REPO, "Sources", d) for d in ("ModWSGI", "WSGICore", "WSGIDaemon")]


def _cases():
    text = open(os.path.join(REPO, "Sources", "WSGICore", "Support", "Log.swift")).read()
    body = text[text.index("enum LogID"):]
    body = body[:body.index("\n}\n")]
    return dict((name, int(num)) for name, num in re.findall(r"case (\w+) = (\d+)", body))


def _call_sites():
    """(id, file:line) of every logging call that names a level and an ID, and of every line
    made with an ID's tag for the C shim to write (the drain's signal handlers)."""
    sites = []
    for path in [p for d in SOURCES for p in glob.glob(os.path.join(d, "**", "*.swift"), recursive=True)]:
        text = open(path).read()
        for m in re.finditer(r"\(\s*APLOG_[A-Z]+\s*,\s*\.(\w+)\s*,|LogID\.(\w+)\.tag", text):
            line = text[:m.start()].count("\n") + 1
            sites.append((m.group(1) or m.group(2), "%s:%d" % (os.path.relpath(path, REPO), line)))
    return sites


def test_every_log_id_is_used_by_exactly_one_call_site():
    cases = _cases()
    assert len(set(cases.values())) == len(cases), "two LogID cases share a number"
    uses = collections.defaultdict(list)
    for name, where in _call_sites():
        assert name in cases, "%s logs with an unknown ID .%s" % (where, name)
        uses[name].append(where)
    shared = {name: where for name, where in uses.items() if len(where) > 1}
    assert not shared, "log call sites sharing a message ID: %r" % shared
    unused = sorted(set(cases) - set(uses))
    assert not unused, "LogID cases no call site uses: %r" % unused

"""WSGIDocumentRootWalk Once (in mod_wsgi-express's configuration): for a URL that is not a file,
Apache's directory walk lstat()s every directory from / down to the document root on every
request; with Once each Apache child does it the first time only. Counted with strace on
Apache's children: the test fails if the walk goes back to checking them on every request, and
if a symbolic link on the way (which Apache's options must judge) is no longer left to Apache."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from expresslib import REPO, configtest_refuses, fetch, wait_for, write

sys.path.insert(0, os.path.join(REPO, "tests", "module"))
from apache_harness import strace_while  # noqa: E402  (the module suite's harness: one strace helper)

pytestmark = pytest.mark.skipif(not shutil.which("strace"), reason="needs strace (scripts/install-deps installs it)")

REQUESTS = 20


def apache_children(sr):
    pid = sr.pid()
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [p for p in out if open("/proc/%s/comm" % p).read().strip() == "apache2"]


def ancestor_lstats(sr, docroot):
    """(lstat()s of the document root and the directories above it made by Apache's children
    while REQUESTS requests for a URL that is not a file are served, how many directories
    that is, how many children were traced)."""
    children = apache_children(sr)

    def requests():
        for i in range(REQUESTS):
            status, body, _ = fetch(sr.url + "/not-a-file/%d" % i)
            assert status == 200 and body == b"Hello World!\n", (status, body)

    trace = strace_while(children, ["-e", "trace=newfstatat,lstat"], os.path.join(sr.root, "strace.out"), requests)
    ancestors = set()
    path = docroot.rstrip("/")
    while path:
        ancestors.add(path)
        path = path.rsplit("/", 1)[0]
    calls = 0
    for line in trace.splitlines():
        m = re.search(r'newfstatat\(AT_FDCWD, "([^"]+)", .*AT_SYMLINK_NOFOLLOW', line)
        if m and m.group(1) in ancestors:
            calls += 1
    return calls, len(ancestors), len(children)


def serve(sr):
    sr.apachectl("start")
    wait_for(sr.url + "/")
    # Every child has served a URL that is not a file (the first one checks).
    for _ in range(3 * REQUESTS):
        fetch(sr.url + "/warm")


def test_the_directories_down_to_the_document_root_are_checked_once(setup_server, hello):
    sr = setup_server([hello])
    assert "WSGIDocumentRootWalk Once\n" in open(os.path.join(sr.root, "httpd.conf")).read()
    serve(sr)
    calls, depth, children = ancestor_lstats(sr, os.path.join(sr.root, "htdocs"))
    # At most one check per child: the warm-up may not have reached every child.
    assert depth >= 3 and calls <= depth * children < REQUESTS * depth, (calls, depth, children)


def test_every_request_is_apaches_own_walk(setup_server, hello, workdir):
    inc = write(os.path.join(workdir, "walk.conf"), b"WSGIDocumentRootWalk EveryRequest\n")
    sr = setup_server([hello, "--include-file", inc])
    serve(sr)
    calls, depth, _ = ancestor_lstats(sr, os.path.join(sr.root, "htdocs"))
    assert calls >= REQUESTS * depth, (calls, depth)


def test_a_symbolic_link_above_the_document_root_is_left_to_apache(setup_server, hello, workdir):
    # Without FollowSymLinks Apache refuses a path through a symbolic link (403); the walk's
    # shortcut must not answer for it.
    real = os.path.join(workdir, "real")
    os.makedirs(os.path.join(real, "htdocs"))
    os.chmod(real, 0o755)
    os.chmod(os.path.join(real, "htdocs"), 0o755)
    os.symlink(real, os.path.join(workdir, "link"))
    inc = write(os.path.join(workdir, "nolinks.conf"),
                b"<Directory />\n    Options -FollowSymLinks\n</Directory>\n")
    sr = setup_server([hello, "--document-root", os.path.join(workdir, "link", "htdocs"), "--include-file", inc])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    for _ in range(3):
        status, _, _ = fetch(sr.url + "/not-a-file")
        assert status == 403, status
    assert "Symbolic link not allowed" in sr.error_log()


def test_directive_refuses_a_bad_value(setup_server, hello, workdir):
    configtest_refuses(setup_server, hello, workdir, "WSGIDocumentRootWalk Sometimes",
                       "WSGIDocumentRootWalk: must be Once or EveryRequest, not 'Sometimes'")

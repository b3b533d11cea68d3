#!/usr/bin/env python3
"""The module under AddressSanitizer (with LeakSanitizer) or ThreadSanitizer, against a real
Apache: the module and daemon suites, then the hostile-client (wire fuzzing) and hostile-app
runs of tests/reliability/reliability.py.

    python3 tests/sanitize/sanitize.py address --build .build-asan/release [--quick]
    python3 tests/sanitize/sanitize.py thread  --build .build-tsan/release [--quick]
    make sanitize [QUICK=1]      builds both (.build-asan, .build-tsan) and runs both

The build is `swift build -c release --scratch-path .build-asan -Xswiftc -sanitize=address
-Xcc -fsanitize=address` (thread: the same with =thread): the Swift code and the C shim are
instrumented. Apache, APR and CPython are not: the sanitizer's runtime is preloaded into Apache
(LD_PRELOAD, through the harness's environment and through the server root's envvars script for
mod_wsgi-express), and every report goes to a file of its own (log_path). ThreadSanitizer's
runtime from the Swift toolchain needs libdispatch loaded beside it.

Every report is then read: an AddressSanitizer error or a ThreadSanitizer warning fails the run;
a leak fails it when it is ours (see tests/sanitize/suppressions.txt for how a leak is told
apart). Exit 0 only when the suites passed and no report is ours.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SUPPRESSIONS = os.path.join(HERE, "suppressions.txt")
PYTHON = "/usr/bin/python3"
OURS = "libmod_wsgi.so"
# The daemon runtime a daemon process loads into the application's Python executable (issue 29):
# the executable inherits Apache's environment, the sanitizer's preload with it.
OURS_DAEMON = "libmod_wsgi-daemon.so"
# Frames of the allocators themselves, skipped before a leak's allocating frames are read.
ALLOCATOR = re.compile(r"\b(malloc|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|strdup|"
                       r"strndup|operator new|swift_slowAlloc|swift_allocObject|PyMem_\w+|PyObject_Malloc|"
                       r"PyObject_Calloc|PyObject_Realloc|_PyObject_GC_\w+|_PyMem_\w+)\b|asan_malloc|/compiler-rt/")
ALLOCATING_FRAMES = 6

# Tests that measure memory, address space or system calls of the processes: a sanitizer's
# runtime changes all three (shadow memory, its own allocator and mappings), so they cannot
# hold under it. Each with the reason.
INCOMPATIBLE = {
    "tests/module/test_load.py::test_child_memory_bounded_under_requests":
        "measures RSS growth; the sanitizer's allocator keeps freed memory in quarantine",
    "tests/daemon/test_daemon_memory_headroom.py::test_only_request_threads_take_default_stacks":
        "measures thread stack mappings; the sanitizer maps its own per-thread memory",
    "tests/daemon/test_daemon_memory_limit.py":
        "memory-limit caps the address space (RLIMIT_AS/DATA); the sanitizer's shadow memory needs terabytes "
        "of it and every allocation fails",
    "tests/daemon/test_daemon_options.py::test_rlimits_applied":
        "sets memory rlimits the sanitizer's runtime cannot start under",
    "tests/daemon/test_request_body_sizes.py::test_large_body_does_not_map_memory_per_socket_read":
        "counts mmap/munmap calls; the sanitizer's allocator makes its own",
    "tests/daemon/test_app_misuse.py::test_threads_the_app_starts_leave_nothing_behind":
        "measures RSS growth; the sanitizer's allocator keeps freed memory in quarantine (LeakSanitizer checks "
        "the same leak here)",
    "tests/daemon/test_daemon_malloc_arenas.py":
        "counts glibc malloc arenas; the sanitizer replaces malloc",
}
# ThreadSanitizer's runtime starts a thread of its own in every process.
INCOMPATIBLE_THREAD = {
    "tests/module/test_python.py::test_python_initialised_in_child_not_parent":
        "counts the Apache parent's threads; ThreadSanitizer adds its own background thread",
    "tests/daemon/test_daemon_parent.py::test_parent_single_threaded_without_python":
        "checks that the Apache parent has one thread; ThreadSanitizer adds its own background thread",
}
QUICK_TESTS = ["tests/module/test_environ.py", "tests/module/test_responses.py", "tests/module/test_safety.py",
               "tests/module/test_errors.py", "tests/daemon/test_daemon_basic.py", "tests/daemon/test_daemon_wire.py",
               "tests/daemon/test_app_misuse.py", "tests/daemon/test_metrics_endpoint.py"]
FULL_TESTS = ["tests/module", "tests/daemon"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def runtime(kind):
    """The sanitizer's shared runtime that ships with the Swift toolchain (or Debian's clang)."""
    name = "libclang_rt.%s-x86_64.so" % {"address": "asan", "thread": "tsan"}[kind]
    swift = shutil.which("swift")
    roots = []
    if swift:
        roots.append(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(swift))), "lib", "clang"))
    roots += ["/usr/lib/llvm-*/lib/clang"]
    for root in roots:
        found = sorted(glob.glob(os.path.join(root, "*", "lib", "linux", name)))
        if found:
            return found[-1], os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(found[-1]))))
    sys.exit("sanitize: %s not found (it ships with the Swift toolchain; or apt-get install libclang-rt-dev)" % name)


def suppressions():
    """[(kind, pattern, reason)] from suppressions.txt; a line without a reason is refused."""
    out = []
    with open(SUPPRESSIONS) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rule, _, reason = line.partition("#")
            kind, _, pattern = rule.strip().partition(":")
            if not reason.strip() or not pattern or kind not in ("leak", "race", "thread"):
                sys.exit("sanitize: %s line %d: want 'leak:|race:|thread:PATTERN  # reason'"
                         % (SUPPRESSIONS, n))
            out.append((kind, pattern.strip(), reason.strip()))
    return out


def environment(kind, build, reports):
    """The variables Apache gets (preload, options), and the envvars script with the same."""
    rt, _ = runtime(kind)
    preload = [rt]
    if kind == "thread":
        # The toolchain's TSan runtime intercepts libdispatch and refers to its symbols.
        d = os.path.dirname(rt)
        while d != "/" and not os.path.exists(os.path.join(d, "swift", "linux", "libdispatch.so")):
            d = os.path.dirname(d)
        if d != "/":
            preload.append(os.path.join(d, "swift", "linux", "libdispatch.so"))
    env = {"MOD_WSGI_SANITIZER_PRELOAD": ":".join(preload)}
    if kind == "address":
        env["ASAN_OPTIONS"] = ":".join([
            "log_path=%s/asan" % reports, "exitcode=0", "detect_leaks=1", "fast_unwind_on_malloc=0",
            "malloc_context_size=12", "detect_stack_use_after_return=0", "allocator_may_return_null=1",
            # Every frame names its module, also where debug symbols give a source line (the
            # suppressions name libraries: with python3.11-dbg installed CPython's frames
            # showed only their source files, and every CPython leak counted as ours).
            'stack_trace_format="    #%n %p %F %L (%m+%o)"'])
        # Python objects in malloc'd memory that LeakSanitizer scans (pymalloc's arenas are
        # mmap'd: everything only they point to would look leaked).
        env["PYTHONMALLOC"] = "malloc"
    else:
        supp = os.path.join(build, "tsan-suppressions.txt")
        with open(supp, "w") as f:
            f.write("".join("%s:%s\n" % (k, p) for k, p, _ in suppressions() if k in ("race", "thread")))
        os.chmod(supp, 0o644)
        env["TSAN_OPTIONS"] = ":".join([
            "log_path=%s/tsan" % reports, "exitcode=0", "die_after_fork=0", "suppressions=%s" % supp,
            "report_signal_unsafe=0", "history_size=4"])
    envvars = os.path.join(build, "sanitizer-envvars-%s" % kind)
    with open(envvars, "w") as f:
        f.write("# Written by tests/sanitize/sanitize.py: Apache runs the %s-sanitized module.\n" % kind)
        f.write("export LD_PRELOAD='%s'\n" % env["MOD_WSGI_SANITIZER_PRELOAD"])
        for k in ("ASAN_OPTIONS", "TSAN_OPTIONS", "PYTHONMALLOC"):
            if k in env:
                f.write("export %s='%s'\n" % (k, env[k]))
    os.chmod(envvars, 0o644)
    env["MOD_WSGI_SANITIZER_ENVVARS"] = envvars
    return env


# ------------------------------------------------------------------------------------ reports

FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ in (.*?)(?: \(BuildId: [0-9a-f]+\))?$|^\s*#(\d+) 0x[0-9a-f]+ +\((.*)\)")


def frames(block):
    out = []
    for line in block.splitlines():
        m = FRAME.match(line)
        if m:
            out.append((m.group(2) or m.group(4) or "").strip())
    return out


def leak_records(text):
    """[(direct?, bytes, frames)] of a LeakSanitizer report."""
    out = []
    for m in re.finditer(r"^(Direct|Indirect) leak of (\d+) byte\(s\).*?(?=^\S|\Z)", text, re.S | re.M):
        out.append((m.group(1) == "Direct", int(m.group(2)), frames(m.group(0))))
    return out


def is_library(pattern):
    return pattern.endswith(".so") or pattern.startswith("/")


def classify_leak(stack, leak_rules):
    """'ours', the suppression pattern that covers it, or 'unknown'. Only the allocating frames
    count (the first frames past the allocator): a function named in the suppressions there;
    else our module there makes it ours; else a library named in the suppressions there."""
    allocating = [f for f in stack if not ALLOCATOR.search(f)][:ALLOCATING_FRAMES]
    # What Python code allocates (the application's objects, CPython's) is not ours: the frames
    # below the interpreter's loop are only who called that code.
    for i, f in enumerate(allocating):
        if "_PyEval_EvalFrameDefault" in f:
            allocating = allocating[:i + 1]
            break
    for pattern in leak_rules:
        if not is_library(pattern) and any(pattern in f for f in allocating):
            return pattern
    if any(OURS in f or OURS_DAEMON in f or "/Sources/" in f for f in allocating):
        return "ours"
    for pattern in leak_rules:
        if is_library(pattern) and any(pattern in f for f in allocating):
            return pattern
    return "unknown"


def read_reports(reports):
    """(ours: [str], known: {pattern: n}) over every report file the run left."""
    leak_rules = [p for k, p, _ in suppressions() if k == "leak"]
    ours, known = [], {}
    for path in sorted(glob.glob(os.path.join(reports, "*"))):
        with open(path, errors="replace") as f:
            text = f.read()
        pid = path.rsplit(".", 1)[-1]
        for m in re.finditer(r"^(==\d+==ERROR: AddressSanitizer: .*|WARNING: ThreadSanitizer: .*)$", text, re.M):
            summary = re.search(r"^SUMMARY: .*$", text[m.end():], re.M)
            ours.append("pid %s: %s\n    %s" % (pid, m.group(1).split("==")[-1],
                                              summary.group(0) if summary else ""))
        if "LeakSanitizer: detected memory leaks" in text:
            for direct, size, stack in leak_records(text):
                if not direct:
                    continue  # reachable only from another leaked block: that one decides
                if not stack:
                    # The process was killed (shutdown-timeout's SIGKILL) while writing it.
                    known["(truncated report)"] = known.get("(truncated report)", 0) + 1
                    continue
                verdict = classify_leak(stack, leak_rules)
                if verdict in ("ours", "unknown"):
                    allocating = [f for f in stack if not ALLOCATOR.search(f)][:6]
                    ours.append("pid %s: leak of %d bytes (%s), allocated from:\n      %s"
                                % (pid, size, verdict, "\n      ".join(allocating)))
                else:
                    known[verdict] = known.get(verdict, 0) + 1
    return ours, known


# ------------------------------------------------------------------------------------ run

def run(cmd, env, what, timeout):
    log("sanitize: %s: %s" % (what, " ".join(cmd)))
    t0 = time.time()
    r = subprocess.run(cmd, cwd=REPO, env=env, timeout=timeout)
    log("sanitize: %s: exit %d after %.0f s" % (what, r.returncode, time.time() - t0))
    return r.returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sanitizer", choices=["address", "thread"])
    ap.add_argument("--build", required=True, help="the sanitized build's products (.build-asan/release)")
    ap.add_argument("--quick", action="store_true", help="a few files of each suite; the hostile runs whole")
    ap.add_argument("--pytest-args", default="", help="more pytest arguments (e.g. -x)")
    args = ap.parse_args(argv)
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, OURS)):
        sys.exit("sanitize: %s not built (make sanitize builds it)" % os.path.join(build, OURS))
    reports = os.path.join(build, "sanitizer-reports-%s" % args.sanitizer)
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    os.chmod(reports, 0o1777)  # Apache's children and daemons (www-data) write there too
    extra = environment(args.sanitizer, build, reports)
    env = dict(os.environ, MOD_WSGI_BUILD=build, **extra)
    t0 = time.time()
    tests = QUICK_TESTS if args.quick else FULL_TESTS
    deselect = []
    incompatible = dict(INCOMPATIBLE, **(INCOMPATIBLE_THREAD if args.sanitizer == "thread" else {}))
    for t in incompatible:
        deselect += ["--deselect", t]
    failures = []
    if run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + args.pytest_args.split() + tests + deselect,
           env, "module and daemon suites", 3600):
        failures.append("the module and daemon suites failed")
    if run([PYTHON, os.path.join(REPO, "tests", "reliability", "reliability.py"), "--quick", "--reference", "no",
            "--scenarios", "hostile,hostile-apps"], env, "hostile clients and hostile apps", 1800):
        failures.append("the hostile-client or hostile-app run missed a target")
    ours, known = read_reports(reports)
    print("\n### %s sanitizer (%s): %.0f s" % ({"address": "Address", "thread": "Thread"}[args.sanitizer],
                                                "quick" if args.quick else "full", time.time() - t0))
    print("tests deselected as incompatible with this sanitizer (memory, syscall or thread counts): %d"
          % len(incompatible))
    print("known reports (not ours, tests/sanitize/suppressions.txt): %s"
          % (", ".join("%s %d" % kv for kv in sorted(known.items())) or "none"))
    if ours:
        print("reports that are ours (or of no known source): %d; files in %s" % (len(ours), reports))
        seen = set()
        for r in ours:
            key = re.sub(r"pid \d+: |0x[0-9a-f]+|\d+ bytes", "", r)
            if key not in seen:
                seen.add(key)
                print("  " + r)
        failures.append("%d sanitizer reports" % len(ours))
    else:
        print("reports that are ours: 0")
    print("\n%s" % ("Clean." if not failures else "Failed: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""A machine with Apache and Python but no toolchain, made of this one: a private mount
namespace (`unshare -m`) per command in which the Swift toolchain, the C compilers, linkers and
assemblers, apxs and the *-config scripts, the headers (/usr/include), GCC's and apxs's build
directories, and /root (pyenv, SwiftPM's caches) cannot be seen: each tool is covered by an
empty file that is not executable (bind mount), each directory by an empty tmpfs.

Each command run through `Toolchainless.argv` gets its own namespace with the same view; a
server started that way keeps it (its processes are in it), and its requests come from
outside as from any client. Nothing is left behind: the mounts die with the namespace.

`Toolchainless.premise()` checks, inside, that the view is what it claims: nothing of the
toolchain runs or is found. The tests assert it before they rely on it.
"""
import glob
import json
import os
import shlex
import shutil
import subprocess
import tempfile

BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
# Compilers, linkers, assemblers, Swift, and the scripts that give build flags.
TOOL_PATTERNS = ["swift*", "cc", "c++", "c89*", "c99*", "gcc*", "g++*", "cpp", "cpp-*", "clang*", "lld*", "ld",
                 "ld.bfd", "ld.gold", "as", "apxs*", "apr-*config", "apu-*config", "python*-config", "*-linux-gnu-*"]
HIDDEN_DIRS = ["/usr/include", "/usr/local/include", "/usr/lib/gcc", "/usr/libexec/gcc", "/usr/share/apache2/build",
               "/root"]
# The tools a compiled build would need: none may be found, let alone run.
PREMISE_TOOLS = ["swift", "swiftc", "cc", "gcc", "g++", "clang", "ld", "as", "apxs", "apxs2", "apr-1-config",
                 "python3-config"]
PREMISE_PATH = "/opt/swift/usr/bin:" + ":".join(BIN_DIRS)

PREMISE = r"""
import glob, json, os, shutil, subprocess, sys
tools, path = json.loads(sys.argv[1]), sys.argv[2]
found = {t: shutil.which(t, path=path) for t in tools}
ran = {}
for t in tools:
    for d in path.split(":"):
        try:
            subprocess.run([os.path.join(d, t), "--version"], capture_output=True, timeout=10)
            ran[t] = os.path.join(d, t)
        except OSError:
            pass
print(json.dumps({"found": {t: p for t, p in found.items() if p}, "ran": ran,
                  "headers": [h for h in ("/usr/include/stdio.h", "/usr/include/apache2/httpd.h")
                              + tuple(glob.glob("/usr/include/python3*/Python.h")) if os.path.exists(h)],
                  "toolchains": [d for d in sys.argv[3:] if os.path.isdir(d) and os.listdir(d)]}))
"""


def available():
    """None when mount namespaces can be made here, else why not."""
    if not shutil.which("unshare"):
        return "no unshare command (util-linux)"
    if os.geteuid() != 0:
        return "not root: a mount namespace needs CAP_SYS_ADMIN"
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        return "unshare -m is refused here: %s" % r.stderr.strip()
    return None


def toolchain_roots():
    """The installation directories of the Swift toolchains this machine has (/opt/swift)."""
    roots = set()
    for d in [os.path.dirname(p) for p in [shutil.which("swift"), shutil.which("swiftc")] if p] + ["/opt/swift/usr/bin"]:
        real = os.path.realpath(d)
        if os.path.basename(real) == "bin" and os.path.basename(os.path.dirname(real)) == "usr":
            root = os.path.dirname(os.path.dirname(real))
            if os.path.isdir(root) and root != "/":
                roots.add(root)
    return sorted(roots)


class Toolchainless:
    """The command prefix that runs a command in that view. `expose`: directories under a
    hidden one to show again, at their own path (a Python installed under /root, say), made
    readable to all as if installed under /opt; `hide_files`: files to make missing (a library)."""

    def __init__(self, expose=(), hide_files=()):
        self.dir = tempfile.mkdtemp(prefix="mwe-notoolchain-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.empty = os.path.join(self.dir, "empty")
        open(self.empty, "w").close()
        os.chmod(self.empty, 0o644)
        self.hidden_dirs = toolchain_roots() + [d for d in HIDDEN_DIRS if os.path.isdir(d)]
        tools = set()
        bins = {os.path.realpath(d) for d in BIN_DIRS}
        for d in BIN_DIRS:
            for pattern in TOOL_PATTERNS:
                for p in glob.glob(os.path.join(d, pattern)):
                    real = os.path.realpath(p)
                    # Only programs in the bin directories (never a library a link points to).
                    if os.path.isfile(real) and os.path.dirname(real) in bins:
                        tools.add(real)
        self.hidden_files = sorted(tools)
        # A file to hide as missing is covered by /dev/null: it is no longer a regular file.
        self.missing_files = [os.path.realpath(f) for f in hide_files]
        self.expose = [os.path.realpath(e) for e in expose]
        lines = ["set -e"]
        for i, e in enumerate(self.expose):
            stage = os.path.join(self.dir, "stage%d" % i)
            os.mkdir(stage)
            lines.append("mount --bind %s %s" % (shlex.quote(e), shlex.quote(stage)))
        for d in self.hidden_dirs:
            lines.append("mount -t tmpfs -o mode=0755,size=64m tmpfs %s" % shlex.quote(d))
        for f in self.hidden_files:
            lines.append("mount --bind %s %s" % (shlex.quote(self.empty), shlex.quote(f)))
        for f in self.missing_files:
            lines.append("mount --bind /dev/null %s" % shlex.quote(f))
        for i, e in enumerate(self.expose):
            lines.append("mkdir -p %s" % shlex.quote(e))
            lines.append("mount --bind %s %s" % (shlex.quote(os.path.join(self.dir, "stage%d" % i)), shlex.quote(e)))
        lines.append('exec "$@"')
        self.script = os.path.join(self.dir, "enter.sh")
        with open(self.script, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self, argv):
        return ["unshare", "-m", "--propagation", "private", "/bin/sh", self.script] + list(argv)

    def premise(self):
        """What of the toolchain the view still shows: {"found", "ran", "headers", "toolchains"}
        (all empty when the view is right)."""
        r = subprocess.run(self.argv(["/usr/bin/python3", "-c", PREMISE, json.dumps(PREMISE_TOOLS), PREMISE_PATH]
                                     + toolchain_roots()), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

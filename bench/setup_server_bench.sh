#!/bin/bash
# Median wall time of `mod_wsgi-express setup-server` (ours) against Python's mod_wsgi-express.
#
#   bench/setup_server_bench.sh [RUNS]
#
# Ours:      $MOD_WSGI_BUILD/mod_wsgi-express (default .build/release), built with
#            `swift build -c release`.
# Reference: $REF_EXPRESS (default /tmp/ref/bin/mod_wsgi-express), made with
#            /usr/bin/python3 -m venv /tmp/ref && /tmp/ref/bin/pip install mod_wsgi==4.9.4
#            (skipped with a note when missing).
# Needs hyperfine (apt-get install hyperfine). The budget is 20 ms for ours.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
BUILD=${MOD_WSGI_BUILD:-.build/release}
OURS=$(cd "$BUILD" && pwd)/mod_wsgi-express
REF=${REF_EXPRESS:-/tmp/ref/bin/mod_wsgi-express}
command -v hyperfine >/dev/null || { echo "hyperfine not found: apt-get install hyperfine" >&2; exit 1; }
[ -x "$OURS" ] || { echo "$OURS not built: run swift build -c release" >&2; exit 1; }

work=$(mktemp -d /tmp/setup-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cat > "$work/hello.py" <<'PY'
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello World!\n']
PY

cmds=("$OURS setup-server $work/hello.py --server-root $work/ours --port 8000")
names=("mod_wsgi-express (Swift)")
if [ -x "$REF" ]; then
    cmds+=("$REF setup-server $work/hello.py --server-root $work/ref --port 8000")
    names+=("mod_wsgi-express 4.9.4 (Python)")
else
    echo "note: reference $REF not installed; timing ours only" >&2
fi

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 10 --runs "$RUNS" --style none --export-json "$work/result.json" "${args[@]}" >/dev/null

python3 - "$work/result.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    times = sorted(r["times"])
    median = times[len(times) // 2] * 1000
    print("%-34s median %6.1f ms   min %6.1f ms   (%d runs)" % (r["command"], median, times[0] * 1000, len(times)))
if len(results) == 2:
    a, b = (sorted(r["times"])[len(r["times"]) // 2] for r in results)
    print("ours is %.1fx faster; budget 20 ms: %s" % (b / a, "met" if a * 1000 < 20 else "NOT met"))
else:
    a = sorted(results[0]["times"])[len(results[0]["times"]) // 2]
    print("budget 20 ms: %s" % ("met" if a * 1000 < 20 else "NOT met"))
PY

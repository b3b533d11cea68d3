#!/usr/bin/env python3
"""Benchmarks: this project's mod_wsgi-express side by side with its peers.

    python3 bench/run.py            full run (3 rounds, every workload; ~10-20 minutes)
    python3 bench/run.py --quick    1 round, short runs, hello + Django (< 2 minutes)
    python3 bench/run.py --help     every option

Peers, on the same Apache, the same Python and the same processes x threads:
the real mod_wsgi-express (pip-installed into a venv this script creates), gunicorn
(sync and gthread) and Apache serving a static file (the ceiling).  Whatever our
implementation cannot do yet is detected by trying (with a bounded timeout), reported
as "not available yet: ..." and skipped; the peers are measured regardless.

Standard library only.  Everything it creates lives under --work-dir
(/var/tmp/mod_wsgi-bench by default, mode 0755 so that Apache's unprivileged user can
read the venv and the applications); the venv is created on first use and reused.
Results: a Markdown report on stdout and JSON in bench/results/<date>.json.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsgibench.cli import main  # noqa: E402

if __name__ == "__main__":
    main()

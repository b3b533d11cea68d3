"""Paths, constants and logging shared by every part of the harness."""

import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # bench/
REPO = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_WORK = "/var/tmp/mod_wsgi-bench"
VENV_PACKAGES = ["mod_wsgi", "gunicorn", "django", "uwsgi", "granian"]
HELLO = b"Hello, World!\n"          # 14 bytes
BIG_SIZE = 100 * 1024
POST_SIZE = 1024 * 1024
SYSTEM_APACHE_THREADS = 16          # the hand-written system-Apache configuration: 2 x 16
DEBIAN_MOD_WSGI = "/usr/lib/apache2/modules/mod_wsgi.so"   # libapache2-mod-wsgi-py3
STATIC_THREADS = 32                  # static Apache: 2 processes x 32 threads
SOAK_FLAT_PCT = 5                    # "RSS flat over 100 000 requests": at most this growth

IS_ROOT = os.geteuid() == 0
RUN_USER = "www-data"


def log(*a):
    print(*a, file=sys.stderr, flush=True)

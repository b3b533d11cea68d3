"""The short reliability run (CI): graceful restarts and kill -9 under load, hostile clients,
load at 64 connections; fails when one of our enforced targets is missed."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_reliability_quick():
    r = subprocess.run([sys.executable, os.path.join(HERE, "reliability.py"), "--quick"],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "Every enforced target met." in r.stdout

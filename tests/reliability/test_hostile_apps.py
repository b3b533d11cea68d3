"""Hostile apps, fuzzed (issue 9): every case of hostile_apps.py in embedded and daemon mode
gets an answer, the server serves after each, and no process crashes."""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reliability  # noqa: E402


def test_hostile_apps_never_crash_a_process(capsys):
    work = tempfile.mkdtemp(prefix="mwe-hostile-apps-", dir="/tmp")
    os.chmod(work, 0o755)
    try:
        report = reliability.Report()
        reliability.scenario_hostile_apps(work, ["ours"], report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(capsys.readouterr().out)
    assert not report.missed, capsys.readouterr().out

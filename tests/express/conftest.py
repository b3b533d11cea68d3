# Fixtures live in expresslib (a module name no other test directory uses).
from expresslib import express, port, workdir, hello, setup_server, pytest_report_header  # noqa: F401

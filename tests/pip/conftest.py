# Fixtures live in piplib (a module name no other test directory uses).
from piplib import built, django_venv, pip_area, servers, venv, wheel, workdir  # noqa: F401

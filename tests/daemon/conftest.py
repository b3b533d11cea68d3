# The harness lives in daemon_harness (a module name no other test directory uses).
from daemon_harness import (module_file, apache_factory, pytest_configure,  # noqa: F401
                            pytest_report_header, pytest_collection_modifyitems)

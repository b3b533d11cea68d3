# The harness lives in hooks_harness (a module name no other test directory uses).
from hooks_harness import (module_file, hooks_factory, pytest_configure,  # noqa: F401
                           pytest_report_header, pytest_collection_modifyitems)

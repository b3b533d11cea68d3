# The harness lives in apache_harness (a module name no other test directory uses, so
# tests/module and tests/daemon can run in one pytest session under any pytest version).
from apache_harness import (module_file, apache_factory, pytest_configure,  # noqa: F401
                            pytest_report_header, pytest_collection_modifyitems)

# Loaded by WSGIImportScript when the child starts: leaves a marker file and a flag in sys.
import os
import sys

sys._mwt_preloaded = os.getpid()
_markers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "markers")
with open(os.path.join(_markers, "preload-%d" % os.getpid()), "w") as f:
    f.write("preloaded")

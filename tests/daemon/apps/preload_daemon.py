# WSGIImportScript for a daemon group: records that it ran, in which process.
import os
import sys

sys._mwt_preloaded = os.getpid()
_markers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "markers")
with open(os.path.join(_markers, "daemon-preload-%d" % os.getpid()), "w") as f:
    f.write("preloaded")

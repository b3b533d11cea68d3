# A pure-Python package named mod_wsgi (like the one mod_wsgi-express / the Django app ship).
PURE_PYTHON_MARK = "pure python mod_wsgi package"

VALUE = "imported from WSGIPythonPath"

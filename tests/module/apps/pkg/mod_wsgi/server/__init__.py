SERVER_MARK = "mod_wsgi.server imported"

raise ImportError("this application cannot start")

# The welcome page mod_wsgi-express serves when no WSGI script is given.

CONTENT = b'''<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>mod_wsgi-express is running</title>
</head>
<body style="font-family: Arial, Helvetica, sans-serif; margin: 100px auto; max-width: 640px;">
<h1>It works: mod_wsgi-express is running.</h1>
<p>This is the default page, served by a WSGI application inside Apache.</p>
<p>Serve your own application with:</p>
<pre>mod_wsgi-express start-server wsgi.py</pre>
<p>See <code>mod_wsgi-express start-server --help</code> for every option, and
<a href="https://modwsgi.readthedocs.io/">the mod_wsgi documentation</a>.</p>
</body>
</html>
'''


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(CONTENT)))])
    return [CONTENT]

# WSGI handler written by mod_wsgi-express 4.9.4 (Swift).
#
# mod_wsgi loads this file once per process (WSGIImportScript) and calls handle_request()
# for every request that is not a static file (WSGIHandlerScript wsgi-handler). It loads
# the application named on the command line and serves it at the mount point.
# Self-contained: it needs no 'mod_wsgi' Python package.

import os
import sys
import types

working_directory = '/tmp/mwe-golden/app'
entry_point = '/tmp/mwe-golden/app/hello.py'
application_type = 'script'
callable_object = 'app'
mount_point = '/app'
debug_mode = False
enable_debugger = False
reloading = True

os.environ['MOD_WSGI_EXPRESS'] = 'true'
os.environ['MOD_WSGI_SERVER_NAME'] = 'www.example.com'
os.environ['MOD_WSGI_SERVER_ALIASES'] = 'example.org'
os.environ.setdefault('PYTHON_EGG_CACHE', '/tmp/mwe-golden/root/python-eggs')

if debug_mode:
    os.environ['MOD_WSGI_DEBUG_MODE'] = 'true'
if enable_debugger:
    os.environ['MOD_WSGI_DEBUGGER_ENABLED'] = 'true'

# The application runs with the working directory as its current directory and first on
# the module search path, as it does in a daemon process (home=).
if working_directory not in sys.path:
    sys.path.insert(0, working_directory)
try:
    os.chdir(working_directory)
except OSError:
    pass


def _load():
    if application_type == 'module':
        __import__(entry_point)
        module = sys.modules[entry_point]
        target = getattr(module, '__file__', None)
        if target and target.endswith(('.pyc', '.pyo')):
            target = target[:-1]
        return getattr(module, callable_object), target
    if application_type == 'static':
        def not_found(environ, start_response):
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'Not Found\n']
        return not_found, None
    module = types.ModuleType('__wsgi__')
    module.__file__ = entry_point
    with open(entry_point, 'rb') as fp:
        code = compile(fp.read(), entry_point, 'exec', dont_inherit=True)
    sys.modules['__wsgi__'] = module
    exec(code, module.__dict__)
    return getattr(module, callable_object), entry_point


class _PostMortemDebugger(object):
    """Enters pdb on an exception escaping the application (--enable-debugger)."""

    def __init__(self, application):
        self.application = application

    def _debug(self):
        import pdb
        import traceback
        traceback.print_exception(*sys.exc_info())
        pdb.post_mortem(sys.exc_info()[2])

    def __call__(self, environ, start_response):
        try:
            result = self.application(environ, start_response)
        except Exception:
            self._debug()
            raise
        try:
            for item in result:
                yield item
        except Exception:
            self._debug()
            raise
        finally:
            if hasattr(result, 'close'):
                result.close()


# mod_wsgi reports a failure to load the application against this file (or module), with a
# traceback that starts there: the user's code, not this handler. In debug mode the report is
# also the body of the 500 response.
__mod_wsgi_target__ = entry_point
__mod_wsgi_show_load_errors__ = debug_mode

application, _target = _load()
if enable_debugger:
    application = _PostMortemDebugger(application)

try:
    _mtime = os.path.getmtime(_target) if _target else None
except OSError:
    _mtime = None


def reload_required(resource):
    """Called by mod_wsgi (daemon mode): reload when the entry point changed."""
    if not reloading or debug_mode or not _target:
        return False
    try:
        return os.path.getmtime(_target) != _mtime
    except OSError:
        return True


def handle_request(environ, start_response):
    # The request reaches us through an internal rewrite to the handler: rebuild
    # SCRIPT_NAME/PATH_INFO for the mount point.
    script_name = environ.get('SCRIPT_NAME', '')
    path_info = environ.get('PATH_INFO', '')
    if 'mod_wsgi.mount_point' in environ:
        # SCRIPT_NAME came from a trusted proxy header: keep it, strip our mount point.
        path = environ.get('mod_wsgi.script_name', '') + path_info
        environ['PATH_INFO'] = path
    else:
        path = script_name + path_info
        environ['SCRIPT_NAME'] = ''
        environ['PATH_INFO'] = path
    if mount_point != '/':
        mount = mount_point.rstrip('/')
        if path == mount or path.startswith(mount + '/'):
            if 'mod_wsgi.mount_point' not in environ:
                environ['SCRIPT_NAME'] = mount
            environ['PATH_INFO'] = path[len(mount):]
    return application(environ, start_response)

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
reload_on_changes = False

os.environ['MOD_WSGI_EXPRESS'] = 'true'
os.environ['MOD_WSGI_SERVER_NAME'] = 'www.example.com'
os.environ['MOD_WSGI_SERVER_ALIASES'] = 'example.org'
os.environ.setdefault('PYTHON_EGG_CACHE', '/tmp/mwe-golden/root/python-eggs')

if debug_mode:
    os.environ['MOD_WSGI_DEBUG_MODE'] = 'true'
if enable_debugger:
    os.environ['MOD_WSGI_DEBUGGER_ENABLED'] = 'true'

# The debug-mode tools (--enable-coverage/-profiler/-recorder): debug_tools.py beside this
# file. The tracers run around the application's load and around each request's work.
debugger_startup = False
coverage_directory = None
profiler_directory = None
recorder_directory = None
_tools = None
_brackets = []
if coverage_directory or profiler_directory or recorder_directory:
    _tools = sys.modules.get('mod_wsgi_express_debug_tools')
    if _tools is None:
        import importlib.util
        _spec = importlib.util.spec_from_file_location('mod_wsgi_express_debug_tools', '/tmp/mwe-golden/root/debug_tools.py')
        _tools = importlib.util.module_from_spec(_spec)
        sys.modules['mod_wsgi_express_debug_tools'] = _tools
        _spec.loader.exec_module(_tools)
    if coverage_directory:
        os.environ['MOD_WSGI_COVERAGE_ENABLED'] = 'true'
        _brackets.append(_tools.Coverage(coverage_directory).bracket)
    if profiler_directory:
        os.environ['MOD_WSGI_PROFILER_ENABLED'] = 'true'
        _brackets.append(_tools.Profiler(profiler_directory).bracket)
    if recorder_directory:
        os.environ['MOD_WSGI_RECORDER_ENABLED'] = 'true'

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
    if application_type == 'paste':
        try:
            from paste.deploy import loadapp
        except ImportError as e:
            raise ImportError('--application-type paste needs PasteDeploy in this Python '
                              '(pip install PasteDeploy): %s' % e)
        return loadapp('config:' + entry_point), entry_point
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


_terminal = []


def _debugger():
    """pdb on the terminal start-server runs on: sys.stdout and sys.stderr go to the error
    log, but in debug mode Apache keeps the terminal as its stdin and stdout."""
    import pdb
    if not _terminal:
        try:
            _terminal.append((open(os.dup(0), 'r', closefd=True), open(os.dup(1), 'w', closefd=True)))
        except OSError:
            _terminal.append((sys.stdin, sys.stdout))
    stdin, stdout = _terminal[0]
    return pdb.Pdb(stdin=stdin, stdout=stdout), stdout


class _PostMortemDebugger(object):
    """Enters pdb on an exception escaping the application (--enable-debugger)."""

    def __init__(self, application):
        self.application = application

    def _debug(self):
        import traceback
        debugger, stdout = _debugger()
        traceback.print_exception(*sys.exc_info(), file=stdout)
        stdout.flush()
        debugger.reset()
        debugger.interaction(None, sys.exc_info()[2])

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


# --reload-on-changes: reloader.py (beside this file) watches the modules, the script and
# the paths given to track_changes(), and restarts this daemon process on a change. It is
# started before the application loads, so a module that then fails to import is watched
# too and its fix restarts the process again.
_reloader = None
if reload_on_changes:
    os.environ['MOD_WSGI_RELOADER_ENABLED'] = 'true'
    _reloader = sys.modules.get('mod_wsgi_express_reloader')
    if _reloader is None:
        import importlib.util
        _spec = importlib.util.spec_from_file_location('mod_wsgi_express_reloader', '/tmp/mwe-golden/root/reloader.py')
        _reloader = importlib.util.module_from_spec(_spec)
        sys.modules['mod_wsgi_express_reloader'] = _reloader
        _spec.loader.exec_module(_reloader)
    # track_changes(path) for the application: mod_wsgi.server.track_changes when the
    # mod_wsgi package is installed, else on the module's own mod_wsgi object.
    try:
        import mod_wsgi
        mod_wsgi.track_changes = _reloader.track_changes
    except ImportError:
        pass
    try:
        import mod_wsgi.server
        mod_wsgi.server.track_changes = _reloader.track_changes
    except ImportError:
        pass
    _reloader.start(entry_point if application_type == 'script' else None)

# mod_wsgi reports a failure to load the application against this file (or module), with a
# traceback that starts there: the user's code, not this handler. In debug mode the report is
# also the body of the 500 response (and with --reload-on-changes, while a save is being fixed).
__mod_wsgi_target__ = entry_point
__mod_wsgi_show_load_errors__ = debug_mode or reload_on_changes


def _load_with_tools():
    load = _load
    for bracket in _brackets:
        load = (lambda inner, b: lambda: b.call(inner))(load, bracket)
    return load()


try:
    application, _target = _load_with_tools()
except BaseException as e:
    if _reloader is not None:
        _reloader.watch_failure(e)
        _reloader.scan_modules()
    raise
if _reloader is not None:
    _reloader.scan_modules()
    if _target:
        _reloader.watch(_target)
if recorder_directory:
    application = _tools.Recorder(recorder_directory).wrap(application)
for _bracket in _brackets:
    application = _bracket.wrap(application)
if enable_debugger:
    application = _PostMortemDebugger(application)
if debugger_startup:
    # --debugger-startup: set breakpoints now (b module.function), then 'c' to serve.
    _startup, _out = _debugger()
    print('mod_wsgi-express: the application is loaded; set breakpoints (b module:line), then continue with c.', file=_out)
    _out.flush()
    _startup.set_trace()

    # pdb traces one thread, and requests run in Apache's request thread, not this one:
    # there, trace with the same debugger (its breakpoints) without stopping at the start.
    def _with_breakpoints(application, debugger=_startup):
        def traced(environ, start_response):
            if not debugger.breaks:
                return application(environ, start_response)
            debugger.reset()
            frame = sys._getframe()
            while frame:
                frame.f_trace = debugger.trace_dispatch
                debugger.botframe = frame
                frame = frame.f_back
            debugger.set_continue()
            sys.settrace(debugger.trace_dispatch)
            try:
                return list(application(environ, start_response))
            finally:
                sys.settrace(None)
        return traced
    application = _with_breakpoints(application)

# The module's own stat keeps the GIL: os.stat releases it around a call that takes a
# microsecond, which under load hands the GIL to another thread and back on every request.
from mod_wsgi import _mtime as _getmtime

try:
    _mtime = _getmtime(_target) if _target else None
except OSError:
    _mtime = None


def reload_required(resource):
    """Called by mod_wsgi (daemon mode): reload when the entry point changed."""
    if not reloading or debug_mode or not _target:
        return False
    try:
        return _getmtime(_target) != _mtime
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
    if _reloader is not None:
        _reloader.scan_modules()
    return application(environ, start_response)

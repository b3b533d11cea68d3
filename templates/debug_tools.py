# The debug-mode tools of mod_wsgi-express (Swift), written beside handler.wsgi when one of
# --enable-coverage, --enable-profiler or --enable-recorder is given (each implies
# --debug-mode: one Apache process, one request thread, in the foreground).
#
# Requests run in an Apache thread, not the one that loaded the handler, and Python's
# tracers (coverage, cProfile) are per thread: so each is switched on around the
# application's call, each step of its response's iteration and its close(), in the thread
# doing that work, and around the loading of the application.

import atexit
import os
import sys
import threading
import time
import traceback


def fail(message):
    """A debug tool that cannot run: one line on the terminal (and in the error log), then
    Apache stops: serving without the tool asked for would mislead."""
    line = 'mod_wsgi-express: error: %s\n' % message
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except Exception:
        pass
    try:
        with open('/dev/tty', 'w') as tty:
            tty.write(line)
    except OSError:
        pass
    os._exit(1)


class Bracket(object):
    """Runs start() before and stop() after each piece of an application's work."""

    def __init__(self, start, stop):
        self.start = start
        self.stop = stop

    def call(self, function, *args):
        self.start()
        try:
            return function(*args)
        finally:
            self.stop()

    def wrap(self, application):
        bracket = self

        def bracketed(environ, start_response):
            result = bracket.call(application, environ, start_response)
            return _Iterated(result, bracket)
        return bracketed


class _Iterated(object):
    def __init__(self, result, bracket):
        self.result = result
        self.bracket = bracket
        self.iterator = None

    def __iter__(self):
        self.iterator = self.bracket.call(iter, self.result)
        return self

    def __next__(self):
        return self.bracket.call(next, self.iterator)

    def close(self):
        if hasattr(self.result, 'close'):
            self.bracket.call(self.result.close)


class Coverage(object):
    """--enable-coverage: coverage.py from the handler's load; the HTML report at exit."""

    def __init__(self, directory):
        try:
            import coverage
        except ImportError as e:
            fail('--enable-coverage needs coverage.py, which the application\'s Python (%s) cannot import (%s): '
                 'install it there (pip install coverage) or leave the option out' % (sys.executable or sys.prefix, e))
        self.directory = directory
        self.coverage = coverage.Coverage(data_file=os.path.join(directory, '.coverage'))
        self.lock = threading.Lock()
        self.bracket = Bracket(self.coverage.start, self.coverage.stop)
        atexit.register(self.report)

    def report(self):
        with self.lock:
            try:
                self.coverage.save()
                self.coverage.html_report(directory=self.directory)
            except Exception:
                traceback.print_exc()


class Profiler(object):
    """--enable-profiler: cProfile from the handler's load; <usec>-<pid>.pstats at exit."""

    def __init__(self, directory):
        import cProfile
        self.directory = directory
        self.profiler = cProfile.Profile()
        self.bracket = Bracket(self.profiler.enable, self.profiler.disable)
        atexit.register(self.write)

    def write(self):
        path = os.path.join(self.directory, '%d-%d.pstats' % (int(time.time() * 1000000), os.getpid()))
        try:
            self.profiler.dump_stats(path)
        except Exception:
            traceback.print_exc()


class Recorder(object):
    """--enable-recorder: each request written as files <usec>-<pid>-<n>.<part> in the
    directory: iheaders (the environ), icontent (the request body, which the application
    then reads from the file), oheaders (status and response headers), ocontent (the
    response body), and oaexcept/orexcept/ofexcept (a traceback from the application's call,
    the response's iteration, or its close())."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = 0

    def wrap(self, application):
        recorder = self

        def recorded(environ, start_response):
            with recorder.lock:
                recorder.count += 1
                n = recorder.count
            return _Recording(recorder, n, application, environ, start_response)
        return recorded

    def path(self, key, part):
        return os.path.join(self.directory, '%s.%s' % (key, part))


class _Recording(object):
    def __init__(self, recorder, n, application, environ, start_response):
        self.recorder = recorder
        self.key = '%d-%d-%d' % (int(time.time() * 1000000), os.getpid(), n)
        self.result = None
        self.iterator = None
        self.ocontent = open(self.path('ocontent'), 'wb')
        with open(self.path('iheaders'), 'w') as f:
            for name, value in sorted(environ.items()):
                f.write('%s: %r\n' % (name, value))
        with open(self.path('icontent'), 'wb') as f:
            stream = environ['wsgi.input']
            while True:
                data = stream.read(65536)
                if not data:
                    break
                f.write(data)
        environ['wsgi.input'] = open(self.path('icontent'), 'rb')

        def recording_start_response(status, headers, exc_info=None):
            with open(self.path('oheaders'), 'w') as f:
                f.write('%s\n' % status)
                for name, value in headers:
                    f.write('%s: %s\n' % (name, value))
            write = start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            def recording_write(data):
                self.ocontent.write(data)
                return write(data)
            return recording_write

        try:
            self.result = application(environ, recording_start_response)
        except BaseException:
            self.exception('oaexcept')
            self.ocontent.close()
            raise

    def path(self, part):
        return self.recorder.path(self.key, part)

    def exception(self, part):
        with open(self.path(part), 'w') as f:
            traceback.print_exc(file=f)

    def __iter__(self):
        try:
            self.iterator = iter(self.result)
        except BaseException:
            self.exception('orexcept')
            raise
        return self

    def __next__(self):
        try:
            data = next(self.iterator)
        except StopIteration:
            raise
        except BaseException:
            self.exception('orexcept')
            raise
        self.ocontent.write(data)
        return data

    def close(self):
        try:
            if hasattr(self.result, 'close'):
                self.result.close()
        except BaseException:
            self.exception('ofexcept')
            raise
        finally:
            self.ocontent.close()

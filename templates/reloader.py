# --reload-on-changes, written by mod_wsgi-express (Swift) beside handler.wsgi.
#
# Restarts this daemon process when a file it depends on changes: the source file of every
# loaded module (sys.modules, '.pyc' mapped to its '.py'), the WSGI script, and any path
# registered with track_changes(path). Logs mod_wsgi's lines ('Change detected to "..."',
# 'Triggering process restart.') and sends this process SIGINT, as mod_wsgi does.
#
# Unlike mod_wsgi (a thread stat()ing every file each second), the changes come from
# inotify: one watch per directory, read by a thread blocked in read(). An editor's burst of
# events (write a temporary file, rename it over the original) becomes one restart once the
# directory has been quiet for QUIET seconds. Where inotify is unavailable (or out of
# watches) the files are polled every second instead.
#
# The handler loads this file once per process, as the module 'mod_wsgi_express_reloader';
# start() is idempotent, so a handler that failed to load and is loaded again by the next
# request keeps the same watcher.

import ctypes
import errno
import os
import select
import signal
import struct
import sys
import threading
import time

QUIET = 0.03          # seconds without events that end a burst
BURST_LIMIT = 1.0     # a burst never delays the restart longer than this
POLL_INTERVAL = 1.0   # the fallback

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_CLOEXEC = 0o2000000
WATCH_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
              | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
EVENT = struct.Struct('iIII')

_lock = threading.Lock()
_started = False
_triggered = False
_fd = -1
_libc = None
_dirs = {}          # directory -> watch descriptor
_watched = {}       # watch descriptor -> (directory, set of file names, or None: the whole directory)
_polled = {}        # path -> mtime (the fallback), None when missing
_poller = None
_module_count = -1


def _source(path):
    """The file to watch for a module's __file__."""
    if path.endswith(('.pyc', '.pyo')):
        try:
            from importlib.util import source_from_cache
            return source_from_cache(path)
        except (ValueError, NotImplementedError):
            return path[:-1]
    if path.endswith('.pyd'):
        return path[:-1]
    return path


def _restart(path):
    global _triggered
    with _lock:
        if _triggered:
            return
        _triggered = True
    prefix = 'monitor (pid=%d):' % os.getpid()
    try:
        print('%s Change detected to "%s".' % (prefix, path), file=sys.stderr)
        print('%s Triggering process restart.' % prefix, file=sys.stderr)
        sys.stderr.flush()
    except Exception:
        pass
    os.kill(os.getpid(), signal.SIGINT)


def _init_inotify():
    global _fd, _libc
    try:
        _libc = ctypes.CDLL('libc.so.6', use_errno=True)
        _libc.inotify_init1.argtypes = [ctypes.c_int]
        _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        fd = _libc.inotify_init1(IN_CLOEXEC)
    except (OSError, AttributeError):
        return False
    if fd < 0:
        return False
    _fd = fd
    return True


def _add_watch(directory):
    """The directory's watch descriptor, or None (then the caller polls)."""
    wd = _dirs.get(directory)
    if wd is not None:
        return wd
    if _fd < 0:
        return None
    wd = _libc.inotify_add_watch(_fd, os.fsencode(directory), WATCH_MASK)
    if wd < 0:
        e = ctypes.get_errno()
        if e == errno.ENOSPC:
            print('mod_wsgi-express: out of inotify watches (fs.inotify.max_user_watches); '
                  'polling %s every second instead.' % directory, file=sys.stderr)
        return None
    _dirs[directory] = wd
    return wd


def watch(path, whole_directory=False):
    """Restart when `path` (a file, or with whole_directory any entry of a directory) changes."""
    path = os.path.abspath(path)
    with _lock:
        if whole_directory:
            directory, name = path, None
        else:
            directory, name = os.path.split(path)
        wd = _add_watch(directory) if os.path.isdir(directory) else None
        if wd is None:
            if path not in _polled:
                try:
                    _polled[path] = os.stat(path).st_mtime
                except OSError:
                    _polled[path] = None
                _start_poller()
            return
        d, names = _watched.get(wd, (directory, set()))
        if name is None:
            names = None
        elif names is not None:
            names.add(name)
        _watched[wd] = (d, names)


def track_changes(path):
    """mod_wsgi.server.track_changes(path): also restart when this file (or directory) changes."""
    path = os.fspath(path)
    watch(path, whole_directory=os.path.isdir(path))


def scan_modules():
    """Watches the source files of the modules loaded since the last scan (cheap when none were)."""
    global _module_count
    if len(sys.modules) == _module_count:
        return
    modules = list(sys.modules.values())
    _module_count = len(modules)
    for m in modules:
        f = getattr(m, '__file__', None)
        if not isinstance(f, str) or not f:
            continue
        f = _source(f)
        if os.path.isfile(f):
            watch(f)


def watch_failure(exc):
    """After a failed load: watch the files of the traceback (and of a SyntaxError), so the
    fix of a module that no longer imports restarts the process too."""
    if isinstance(exc, SyntaxError) and exc.filename and os.path.isfile(exc.filename):
        watch(exc.filename)
    tb = exc.__traceback__
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if f and os.path.isfile(f):
            watch(f)
        tb = tb.tb_next


def _reader():
    while True:
        try:
            data = os.read(_fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            return
        changed = _changes(data)
        if not changed:
            continue
        # Let the burst end (an editor's write and rename), then restart once.
        deadline = time.monotonic() + BURST_LIMIT
        while time.monotonic() < deadline:
            r, _, _ = select.select([_fd], [], [], QUIET)
            if not r:
                break
            try:
                _changes(os.read(_fd, 65536))
            except OSError:
                break
        _restart(changed)
        return


def _changes(data):
    """The first watched path the events in `data` concern, or None."""
    found = None
    offset = 0
    while offset + EVENT.size <= len(data):
        wd, mask, _cookie, length = EVENT.unpack_from(data, offset)
        name = data[offset + EVENT.size:offset + EVENT.size + length].rstrip(b'\0')
        offset += EVENT.size + length
        if found is not None:
            continue
        if mask & IN_Q_OVERFLOW:
            found = '(inotify queue overflow)'
            continue
        with _lock:
            entry = _watched.get(wd)
        if entry is None:
            continue
        directory, names = entry
        if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):
            found = directory
            continue
        name = os.fsdecode(name)
        if names is None or name in names:
            found = os.path.join(directory, name) if name else directory
    return found


def _start_poller():
    global _poller
    if _poller is not None:
        return
    _poller = threading.Thread(target=_poll, name='mod_wsgi-express reloader (poll)', daemon=True)
    _poller.start()


def _poll():
    while True:
        time.sleep(POLL_INTERVAL)
        with _lock:
            items = list(_polled.items())
        for path, mtime in items:
            try:
                now = os.stat(path).st_mtime
            except OSError:
                now = None
            if now != mtime:
                _restart(path)
                return


def start(script=None):
    """Starts watching (once per process): the script, and the modules loaded so far."""
    global _started
    with _lock:
        first = not _started
        _started = True
    if first:
        if _init_inotify():
            threading.Thread(target=_reader, name='mod_wsgi-express reloader', daemon=True).start()
    if script and os.path.isfile(script):
        watch(script)
    scan_modules()

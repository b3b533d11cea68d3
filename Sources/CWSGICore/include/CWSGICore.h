/*
 * The C side of WSGICore, the code both shared objects run: the Apache module
 * (libmod_wsgi.so) and the daemon runtime that a daemon process loads into the
 * application's own Python executable (libmod_wsgi-daemon.so, issue 29).
 *
 *  - getters and wrappers for CPython's macros and globals that Swift cannot use
 *  - the daemon processes' async-signal-safe handlers (wsgi_daemon.c)
 *  - epoll and atomics in shapes Swift can import
 *
 * Apache's and APR's headers are included for their types and constants only (request
 * statuses, log levels, the scoreboard's layout): nothing here may call a function of
 * httpd or APR, which the daemon runtime does not link. What calls Apache lives in
 * CModWSGI (the module struct, hooks, brigades, logging through ap_log_error).
 */
#ifndef CWSGICORE_H
#define CWSGICORE_H

/* Python.h must come first: it sets feature macros for the system headers. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include <httpd.h>
#include <http_log.h>
#include <scoreboard.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <locale.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <malloc.h>
#include <sys/mman.h>
#include <syslog.h>

/* getpid() without a system call: the request path asks several times per request (the fork
 * guard, telemetry's server pid). Cached, and set again in the child of every fork()
 * (pthread_atfork: Apache's forks and the application's os.fork() both go through fork()). */
extern pid_t wsgi_cached_pid;
pid_t wsgi_pid_slow(void);
static inline pid_t wsgi_pid(void) {
    pid_t p = __atomic_load_n(&wsgi_cached_pid, __ATOMIC_RELAXED);
    return p ? p : wsgi_pid_slow();
}

/* What apr_time_now() answers (wall-clock microseconds), without APR: the daemon runtime
 * does not link it. */
static inline apr_time_t wsgi_now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (apr_time_t)tv.tv_sec * 1000000 + tv.tv_usec;
}
static inline int wsgi_errno(void) { return errno; }
/* fcntl is variadic: a duplicate of fd that is not inherited by child processes. */
static inline int wsgi_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

/* ---- Python: globals and macros Swift cannot use directly ----------------------- */

/* mod_wsgi 6.1's WSGIFreeThreading and WSGIPerInterpreterGIL depend on how Python was built. */
static inline int wsgi_python_free_threading_build(void) {
#ifdef Py_GIL_DISABLED
    return 1;
#else
    return 0;
#endif
}
static inline int wsgi_python_per_interpreter_gil_build(void) { return PY_VERSION_HEX >= 0x030c0000; }
/* PyConfig.enable_gil exists only in free-threaded builds (0: the GIL stays disabled). */
static inline void wsgi_config_disable_gil(PyConfig *config) {
#ifdef Py_GIL_DISABLED
    config->enable_gil = 0;
#else
    (void)config;
#endif
}
/* A sub-interpreter: with its own GIL (3.12+ isolated config) or sharing the main one. NULL on
 * failure, with the previous thread state restored. */
static inline PyThreadState *wsgi_new_interpreter(int own_gil) {
#if PY_VERSION_HEX >= 0x030c0000
    PyThreadState *tstate = NULL;
    PyStatus status;
    if (own_gil) {
        PyInterpreterConfig config = _PyInterpreterConfig_INIT;
        status = Py_NewInterpreterFromConfig(&tstate, &config);
    } else {
        PyInterpreterConfig config = _PyInterpreterConfig_LEGACY_INIT;
        status = Py_NewInterpreterFromConfig(&tstate, &config);
    }
    return PyStatus_Exception(status) ? NULL : tstate;
#else
    (void)own_gil;
    return Py_NewInterpreter();
#endif
}

/* A dict with room for n items (an environ: no resizing while it is filled). */
static inline PyObject *wsgi_dict_presized(Py_ssize_t n) { return _PyDict_NewPresized(n); }
static inline PyObject *wsgi_py_none(void) { return Py_None; }
static inline PyObject *wsgi_py_true(void) { return Py_True; }
static inline PyObject *wsgi_py_false(void) { return Py_False; }
static inline void wsgi_incref(PyObject *o) { Py_INCREF(o); }
static inline void wsgi_decref(PyObject *o) { Py_DECREF(o); }
static inline void wsgi_xdecref(PyObject *o) { Py_XDECREF(o); }
static inline PyObject *wsgi_new_ref(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *wsgi_exc_type_error(void) { return PyExc_TypeError; }
static inline PyObject *wsgi_exc_value_error(void) { return PyExc_ValueError; }
static inline PyObject *wsgi_exc_runtime_error(void) { return PyExc_RuntimeError; }
static inline PyObject *wsgi_exc_os_error(void) { return PyExc_OSError; }
static inline PyObject *wsgi_exc_io_error(void) { return PyExc_IOError; }
static inline PyObject *wsgi_exc_base_exception(void) { return PyExc_BaseException; }
static inline PyObject *wsgi_exc_system_exit(void) { return PyExc_SystemExit; }
static inline PyObject *wsgi_exc_attribute_error(void) { return PyExc_AttributeError; }
static inline PyObject *wsgi_exc_syntax_error(void) { return PyExc_SyntaxError; }
static inline PyObject *wsgi_exc_deprecation_warning(void) { return PyExc_DeprecationWarning; }
/* The name of an exception class (its tp_name), as mod_wsgi 6.x names it in its log lines. */
static inline const char *wsgi_class_name(PyObject *t) {
    return PyType_Check(t) ? ((PyTypeObject *)t)->tp_name : "Exception";
}
static inline int wsgi_bytes_check(PyObject *o) { return PyBytes_Check(o); }
static inline int wsgi_unicode_check(PyObject *o) { return PyUnicode_Check(o); }
static inline int wsgi_tuple_check(PyObject *o) { return PyTuple_Check(o); }
static inline int wsgi_dict_check(PyObject *o) { return PyDict_Check(o); }
static inline int wsgi_list_check(PyObject *o) { return PyList_Check(o); }
static inline int wsgi_long_check(PyObject *o) { return PyLong_Check(o); }
static inline int wsgi_exception_class_check(PyObject *o) { return PyExceptionClass_Check(o); }
static inline int wsgi_traceback_check(PyObject *o) { return PyTraceBack_Check(o); }
static inline int wsgi_exact_list_or_tuple(PyObject *o) { return PyList_CheckExact(o) || PyTuple_CheckExact(o); }
static inline Py_ssize_t wsgi_bytes_size(PyObject *o) { return PyBytes_GET_SIZE(o); }
static inline char *wsgi_bytes_data(PyObject *o) { return PyBytes_AS_STRING(o); }
static inline PyObject *wsgi_type_of(PyObject *o) { return (PyObject *)Py_TYPE(o); }
static inline const char *wsgi_type_name(PyObject *o) { return Py_TYPE(o)->tp_name; }
static inline PyObject *wsgi_tuple_get(PyObject *t, Py_ssize_t i) { return PyTuple_GET_ITEM(t, i); }
static inline Py_ssize_t wsgi_tuple_size(PyObject *t) { return PyTuple_GET_SIZE(t); }
static inline PyObject *wsgi_list_get(PyObject *t, Py_ssize_t i) { return PyList_GET_ITEM(t, i); }
static inline Py_ssize_t wsgi_list_size(PyObject *t) { return PyList_GET_SIZE(t); }
static inline void wsgi_object_free(PyObject *o) {
    PyTypeObject *t = Py_TYPE(o);
    t->tp_free(o);
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) Py_DECREF(t);
}

/* What differs between the Python versions the module builds for (3.9-3.13): frames are a
 * struct before 3.11 and opaque after (the same functions, as PyObject * here); 3.9 has no
 * PyErr_SetInterruptEx (SIGINT simulated: ServiceScripts.swift gives it SIGTERM's handler);
 * 3.9's Py_TPFLAGS_DEFAULT is a macro Swift cannot import. */
static inline unsigned long wsgi_tpflags_default(void) { return Py_TPFLAGS_DEFAULT; }
static inline void wsgi_interrupt_main_term(void) {
#if PY_VERSION_HEX >= 0x030A0000
    PyErr_SetInterruptEx(SIGTERM);
#else
    PyErr_SetInterrupt();
#endif
}
static inline PyObject *wsgi_thread_frame(PyThreadState *t) { return (PyObject *)PyThreadState_GetFrame(t); }
static inline PyObject *wsgi_frame_back(PyObject *f) { return (PyObject *)PyFrame_GetBack((PyFrameObject *)f); }
static inline PyObject *wsgi_frame_code(PyObject *f) { return (PyObject *)PyFrame_GetCode((PyFrameObject *)f); }
static inline int wsgi_frame_line(PyObject *f) { return PyFrame_GetLineNumber((PyFrameObject *)f); }

/* The daemon runtime's extension module (WSGIDaemon): PyModuleDef_HEAD_INIT and
 * PyModule_Create are macros. One module per process, so one definition. */
static inline PyObject *wsgi_extension_module(const char *name, PyMethodDef *methods) {
    static PyModuleDef def;
    PyModuleDef d = { PyModuleDef_HEAD_INIT, name, NULL, -1, methods, NULL, NULL, NULL, NULL };
    def = d;
    return PyModule_Create(&def);
}

/* A Python object that carries a retained Swift object (Unmanaged). */
typedef struct {
    PyObject_HEAD
    void *swift;
} WSGIObject;

/* ---- daemon mode (wsgi_daemon.c): macros and async-signal-safe handlers ---------- */

/* Daemon signals: the handlers only set flags and write one byte to wake_fd.
 * flags: bit 0 SIGTERM/SIGINT (shutdown), bit 1 SIGUSR1/SIGHUP (graceful restart), bit 2 SIGXCPU,
 * bit 3 SIGUSR2 (eviction: graceful restart with eviction-timeout). */
void wsgi_daemon_install_signals(int wake_fd, int python_term);
int wsgi_daemon_take_signals(void);
/* Sticky: SIGTERM/SIGINT has been received at some point. */
int wsgi_daemon_term_received(void);
void wsgi_daemon_default_signals(void);
/* The Apache parent wakes from its maintenance sleep when a child exits (1), or not (0:
 * the default, restored in Apache's children). */
void wsgi_parent_wake_on_child_exit(int on);

/* fcntl and prctl are variadic. */
static inline int wsgi_set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}
/* open is variadic. */
static inline int wsgi_open_rdonly(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }
/* syslog is variadic. */
static inline void wsgi_syslog(int priority, const char *line) { syslog(priority, "%s", line); }
static inline int wsgi_set_cloexec(int fd, int on) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC));
}
static inline int wsgi_prctl_set_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
static inline int wsgi_prctl_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }
/* WIFEXITED & co. are macros. */
static inline int wsgi_wifexited(int s) { return WIFEXITED(s); }
static inline int wsgi_wexitstatus(int s) { return WEXITSTATUS(s); }
static inline int wsgi_wifsignaled(int s) { return WIFSIGNALED(s); }
static inline int wsgi_wtermsig(int s) { return WTERMSIG(s); }
/* sockaddr arguments are transparent unions under _GNU_SOURCE. */
static inline int wsgi_connect_un(int fd, const struct sockaddr_un *a) {
    return connect(fd, (const struct sockaddr *)a, sizeof(*a));
}
static inline int wsgi_bind_un(int fd, const struct sockaddr_un *a) {
    return bind(fd, (const struct sockaddr *)a, sizeof(*a));
}
static inline int wsgi_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

/* struct epoll_event is packed on x86-64, a layout Swift does not import: the daemon's
 * poller of idle connections (DaemonPoller.swift) goes through these. */
static inline int wsgi_epoll_add(int ep, int fd, uint64_t token, int oneshot, int exclusive) {
    struct epoll_event ev;
    ev.events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0) | (exclusive ? EPOLLEXCLUSIVE : 0);
    ev.data.u64 = token;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}
/* Arms a EPOLLONESHOT descriptor again (with a new token). */
static inline int wsgi_epoll_rearm(int ep, int fd, uint64_t token) {
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = token;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}
static inline int wsgi_epoll_remove(int ep, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev);
}
/* Waits for one ready descriptor: 1 and its token, 0 on timeout, -1 (errno) on error. */
static inline int wsgi_epoll_wait_one(int ep, int timeout_ms, uint64_t *token) {
    struct epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, timeout_ms);
    if (n == 1) *token = ev.data.u64;
    return n;
}
/* ---- the metrics board (Swift: Metrics/): counters in memory every process shares ---- */

/* Relaxed atomics on 64-bit words of the shared segment, which other processes write.
 * Swift's Atomic<T> is a value whose storage must be declared as such; these words are
 * an mmap'd segment laid out by offsets, so the C11 builtins do it (inlined into Swift). */
static inline void wsgi_atomic_add(int64_t *p, int64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline int64_t wsgi_atomic_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void wsgi_atomic_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline int wsgi_atomic_cas(int64_t *p, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}
#endif /* CWSGICORE_H */

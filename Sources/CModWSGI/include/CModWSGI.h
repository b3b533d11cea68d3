/*
 * The C shim of mod_wsgi in Swift: only what Swift cannot express.
 *
 *  - the `module` struct, the command table and hook registration (wsgi_module.c)
 *  - wrappers for variadic functions (ap_log_error, fcntl, prctl & co.) and macros
 *  - getters for C globals that Swift 6 refuses (Py_None, exception types, ap_unixd_config)
 *  - the daemon processes' async-signal-safe handlers (wsgi_daemon.c)
 *
 * Everything else lives in Swift (Sources/ModWSGI). The directive table names each
 * directive and its scope; Swift parses the arguments (see Config/Directives.swift).
 */
#ifndef CMODWSGI_H
#define CMODWSGI_H

/* Python.h must come first: it sets feature macros for the system headers. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_connection.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <util_script.h>
#include <util_filter.h>
#include <scoreboard.h>
#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_thread_proc.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_optional.h>
#include <apr_md5.h>
#include <apr_date.h>
#include <mod_auth.h>
#include <mod_ssl.h>
#include <mod_log_config.h>
#include <unixd.h>
#include <ap_listen.h>

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

/* ---- the module ---------------------------------------------------------------- */

extern module AP_MODULE_DECLARE_DATA wsgi_module;

/* Directive identifiers: the command table (C) and the parser (Swift) share them. */
typedef enum {
    WSGI_CMD_SCRIPT_ALIAS = 1,
    WSGI_CMD_SCRIPT_ALIAS_MATCH,
    WSGI_CMD_HANDLER_SCRIPT,
    WSGI_CMD_APPLICATION_GROUP,
    WSGI_CMD_CALLABLE_OBJECT,
    WSGI_CMD_IMPORT_SCRIPT,
    WSGI_CMD_PYTHON_HOME,
    WSGI_CMD_PYTHON_PATH,
    WSGI_CMD_PYTHON_OPTIMIZE,
    WSGI_CMD_PYTHON_HASH_SEED,
    WSGI_CMD_DONT_WRITE_BYTECODE,
    WSGI_CMD_PYTHON_WARNINGS,
    WSGI_CMD_RESTRICT_EMBEDDED,
    WSGI_CMD_RESTRICT_STDOUT,
    WSGI_CMD_RESTRICT_STDIN,
    WSGI_CMD_PASS_AUTHORIZATION,
    WSGI_CMD_CHUNKED_REQUEST,
    WSGI_CMD_ENABLE_SENDFILE,
    WSGI_CMD_MAP_HEAD_TO_GET,
    WSGI_CMD_SCRIPT_RELOADING,
    WSGI_CMD_DESTROY_INTERPRETER,
    WSGI_CMD_DAEMON_PROCESS,
    WSGI_CMD_PROCESS_GROUP,
    WSGI_CMD_RESTRICT_PROCESS,
    WSGI_CMD_SOCKET_PREFIX,
    WSGI_CMD_SOCKET_ROTATION,
    WSGI_CMD_LAZY_INITIALIZATION,
    WSGI_CMD_PYTHON_EGGS,
    WSGI_CMD_ERROR_OVERRIDE,
    WSGI_CMD_TRUSTED_PROXY_HEADERS,
    WSGI_CMD_TRUSTED_PROXIES,
    WSGI_CMD_RESTRICT_SIGNAL,
    WSGI_CMD_VERBOSE_DEBUGGING,
    WSGI_CMD_ACCEPT_MUTEX,
    WSGI_CMD_ACCESS_SCRIPT,
    WSGI_CMD_AUTH_USER_SCRIPT,
    WSGI_CMD_AUTH_GROUP_SCRIPT,
    WSGI_CMD_USER_AUTHORITATIVE,
    WSGI_CMD_GROUP_AUTHORITATIVE,
    WSGI_CMD_DISPATCH_SCRIPT,
    WSGI_CMD_PASS_APACHE_REQUEST,
    WSGI_CMD_IGNORE_ACTIVITY,
    WSGI_CMD_CASE_SENSITIVITY,
    WSGI_CMD_SERVER_METRICS,
    WSGI_CMD_NEW_RELIC_CONFIG_FILE,
    WSGI_CMD_NEW_RELIC_ENVIRONMENT,
    WSGI_CMD_METRICS_URL,
    WSGI_CMD_METRICS_ALLOW,
    /* mod_wsgi 6.1: interpreter options and telemetry (Config/InterpreterOptions.swift,
       Config/TelemetryConfig.swift). */
    WSGI_CMD_SWITCH_INTERVAL,
    WSGI_CMD_PER_INTERPRETER_GIL,
    WSGI_CMD_FREE_THREADING,
    WSGI_CMD_SLOW_REQUESTS,
    WSGI_CMD_TELEMETRY_SERVICE,
    WSGI_CMD_TELEMETRY_OPTIONS,
    WSGI_CMD_DRAIN_ON_TERM,
    WSGI_CMD_DRAIN_DELAY,
    WSGI_CMD_HEALTH_URL,
    WSGI_CMD_HEALTH_ALLOW,
    WSGI_CMD_SCRIPT_ALIAS_END_
} wsgi_cmd_id;

/* Implemented in Swift (@_cdecl). */
extern const char *wsgi_swift_directive(cmd_parms *cmd, void *mconfig, int id, int argc, char *const argv[]);
/* <WSGIInterpreterOptions ...>: opens a block the contained directives fill; NULL or an error. */
extern const char *wsgi_swift_interpreter_options_begin(cmd_parms *cmd, const char *args);
extern void wsgi_swift_interpreter_options_end(void);
extern void *wsgi_swift_create_server_config(apr_pool_t *p, server_rec *s);
extern void *wsgi_swift_merge_server_config(apr_pool_t *p, void *base, void *add);
extern void *wsgi_swift_create_dir_config(apr_pool_t *p, char *dir);
extern void *wsgi_swift_merge_dir_config(apr_pool_t *p, void *base, void *add);
extern int wsgi_swift_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
extern int wsgi_swift_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
extern int wsgi_swift_pre_mpm(apr_pool_t *p);
extern void wsgi_swift_child_init(apr_pool_t *p, server_rec *s);
extern int wsgi_swift_translate_name(request_rec *r);
extern int wsgi_swift_handler(request_rec *r);
extern int wsgi_swift_access_checker(request_rec *r);
/* Return an authn_status / authz_status (mod_auth.h). */
extern int wsgi_swift_check_password(request_rec *r, const char *user, const char *password);
extern int wsgi_swift_get_realm_hash(request_rec *r, const char *user, const char *realm, char **rethash);
extern int wsgi_swift_check_authorization(request_rec *r, const char *require_args);

/* mod_ssl's ssl_is_https / ssl_var_lookup: 0 / NULL without mod_ssl. */
int wsgi_ssl_is_https(request_rec *r);
const char *wsgi_ssl_var_lookup(request_rec *r, const char *name);

/* ---- logging: ap_log_* are variadic ------------------------------------------- */

void wsgi_log_error(int level, apr_status_t status, const server_rec *s, const char *message);
void wsgi_log_rerror(int level, apr_status_t status, const request_rec *r, const char *message);

/* ---- Apache: macros, and brigades (APR_BRIGADE_* are macros) ---------------------- */

static inline void *wsgi_server_config(const server_rec *s) {
    return ap_get_module_config(s->module_config, &wsgi_module);
}
static inline void *wsgi_request_config(const request_rec *r) {
    return ap_get_module_config(r->per_dir_config, &wsgi_module);
}
static inline const char *wsgi_check_global(cmd_parms *cmd) {
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}
/* The main server or a <VirtualHost>, not <Directory>/<Location>/<Files>. */
static inline const char *wsgi_check_server_context(cmd_parms *cmd) {
    return ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
}
/* The request's core settings the CGI variables depend on (ap_get_core_module_config is a
   macro): CGIPassAuth On, QualifyRedirectURL On, CGIVar REQUEST_URI current-uri. */
static inline int wsgi_core_cgi_pass_auth(request_rec *r) {
    core_dir_config *conf = (core_dir_config *)ap_get_core_module_config(r->per_dir_config);
    return conf->cgi_pass_auth == AP_CGI_PASS_AUTH_ON;
}
static inline int wsgi_core_qualify_redirect_url(request_rec *r) {
    core_dir_config *conf = (core_dir_config *)ap_get_core_module_config(r->per_dir_config);
    return conf->qualify_redirect_url == AP_CORE_CONFIG_ON;
}
static inline int wsgi_core_request_uri_is_current(request_rec *r) {
    core_dir_config *conf = (core_dir_config *)ap_get_core_module_config(r->per_dir_config);
    const char *rule = conf->cgi_var_rules
        ? (const char *)apr_hash_get(conf->cgi_var_rules, "REQUEST_URI", APR_HASH_KEY_STRING) : NULL;
    return rule && !strcmp(rule, "current-uri");
}
static inline int wsgi_table_count(const apr_table_t *t) {
    return apr_table_elts(t)->nelts;
}
static inline const apr_table_entry_t *wsgi_table_entries(const apr_table_t *t) {
    return (const apr_table_entry_t *)apr_table_elts(t)->elts;
}
/* Write a block of bytes and optionally a flush to the output filters. */
apr_status_t wsgi_pass_bytes(request_rec *r, apr_bucket_brigade *bb, const char *data, apr_size_t len, int flush);
/* As wsgi_pass_bytes, for malloc'd memory that Apache then owns: a heap bucket freed with free()
   when Apache is done with it (no copy, even when a filter sets the bucket aside). */
apr_status_t wsgi_pass_owned(request_rec *r, apr_bucket_brigade *bb, char *data, apr_size_t len, int flush);
/* FlushMaxThreshold: bytes the core output filter holds before it writes blocking. */
apr_size_t wsgi_flush_max_threshold(request_rec *r);
/* Mark the response as broken (an error bucket, as mod_proxy does for a failed
 * backend): the chunk filter then never writes the final chunk and the connection
 * closes, so the client sees an incomplete response. */
apr_status_t wsgi_pass_broken(request_rec *r, apr_bucket_brigade *bb);
/* Send an open file (WSGIEnableSendfile / wsgi.file_wrapper). */
apr_status_t wsgi_pass_file(request_rec *r, apr_bucket_brigade *bb, apr_file_t *f, apr_off_t off, apr_size_t len, int flush);
/* Read up to len bytes of the request body; returns bytes read, 0 at end, -1 on error. */
long wsgi_read_body(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, apr_status_t *rv);
long wsgi_read_body_ready(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, apr_status_t *rv);
/* ap_scoreboard_image is a mutable C global, which Swift 6 refuses to read directly. */
static inline scoreboard *wsgi_scoreboard(void) { return ap_scoreboard_image; }
/* apr_time_now() itself works from Swift; kept while other branches still call this. */
static inline apr_time_t wsgi_now(void) { return apr_time_now(); }
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

/* A Python object that carries a retained Swift object (Unmanaged). */
typedef struct {
    PyObject_HEAD
    void *swift;
} WSGIObject;

/* ---- daemon mode (wsgi_daemon.c): globals, macros and async-signal-safe handlers ---- */

/* Apache's User/Group (ap_unixd_config is a mutable C global). */
uid_t wsgi_apache_uid(void);
gid_t wsgi_apache_gid(void);
const char *wsgi_apache_user_name(void);

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
/* The scoreboard slot of the child serving r: ap_sb_handle_t is opaque, and is
 * { int child_num; int thread_num; } in every Apache 2.4 release. -1 when unknown. */
static inline int wsgi_child_number(const request_rec *r) {
    const int *sbh = r->connection ? (const int *)r->connection->sbh : NULL;
    return sbh ? sbh[0] : -1;
}
/* WSGIMetricsURL: the handler hook answers requests for exactly this path (NULL: none).
 * Set in post_config, from the generation's configuration pool. */
void wsgi_set_metrics_url(const char *url);
extern int wsgi_swift_metrics_handler(request_rec *r);

/* ---- drain and health (Swift: Lifecycle/; C: wsgi_lifecycle.c) ---------------------- */

/* post_config (parent): the shared `draining` word (NULL: neither drain nor health), whether
 * SIGTERM drains (WSGIDrainOnTerm), WSGIDrainDelay, when to kill children still busy after
 * the graceful stop began (0: never), and the lines the handlers write. */
void wsgi_lifecycle_configure(int64_t *draining, int on_term, int delay, int cut_after, const char *term_line,
                              const char *again_line, const char *kill_line);
void wsgi_lifecycle_block_term(void);
void wsgi_lifecycle_arm(void);
void wsgi_lifecycle_child(void);
/* 0 serving, 1 drain delay, 2 Apache's graceful stop, 3 immediate stop (a second SIGTERM). */
int wsgi_lifecycle_phase(void);
int64_t wsgi_lifecycle_started_us(void);
int wsgi_lifecycle_post_read_request(request_rec *r);
/* WSGIHealthURL, as WSGIMetricsURL. */
void wsgi_set_health_url(const char *url);
extern int wsgi_swift_health_handler(request_rec *r);
/* The `%^JS` access log item (mod_log_config): the request as one JSON object. */
extern const char *wsgi_swift_json_log_item(request_rec *r, char *a);
/* Apache's GracefulShutdownTimeout (seconds; 0: none). */
static inline int wsgi_graceful_shutdown_timeout(void) { return ap_graceful_shutdown_timeout; }

#endif /* CMODWSGI_H */

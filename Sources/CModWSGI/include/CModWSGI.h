/*
 * The C shim of mod_wsgi in Swift: only what Swift cannot express, for the Apache module.
 *
 *  - the `module` struct, the command table and hook registration (wsgi_module.c)
 *  - wrappers for variadic Apache functions (ap_log_error & co.) and macros
 *  - getters for Apache's C globals that Swift 6 refuses (ap_unixd_config, the scoreboard)
 *
 * What the daemon runtime shares (CPython's macros, the daemons' signal handlers, epoll,
 * atomics) is in CWSGICore, included here. Everything else lives in Swift
 * (Sources/ModWSGI, Sources/WSGICore). The directive table names each directive and its
 * scope; Swift parses the arguments (see Config/Directives.swift).
 */
#ifndef CMODWSGI_H
#define CMODWSGI_H

#include <CWSGICore.h>

#include <http_config.h>
#include <http_core.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_connection.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <util_script.h>
#include <util_filter.h>
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
    WSGI_CMD_NEXT_REQUEST_WAIT,
    WSGI_CMD_DOCUMENT_ROOT_WALK,
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
/* apr_pstrcat is variadic: two strings joined in the pool. */
static inline char *wsgi_pstrcat2(apr_pool_t *p, const char *a, const char *b) {
    return apr_pstrcat(p, a, b, NULL);
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

/* ---- daemon mode: Apache's globals ---------------------------------------------- */

/* Apache's User/Group (ap_unixd_config is a mutable C global). */
uid_t wsgi_apache_uid(void);
gid_t wsgi_apache_gid(void);
const char *wsgi_apache_user_name(void);

/* A daemon process that runs the application's Python executable (Daemon/DaemonLaunch.swift):
 * where this module was loaded from (the daemon runtime lies beside it), the module's log level
 * on a server, Apache's argv[0] (its syslog ident), the main ErrorLogFormat as written
 * (NULL: none), and the Python the module was built for. */
const char *wsgi_module_path(void);
int wsgi_module_loglevel(const server_rec *s);
const char *wsgi_server_argv0(void);
const char *wsgi_error_log_format(apr_pool_t *p);
const char *wsgi_python_exec_prefix(void);

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
/* ---- WSGINextRequestWait (wsgi_next_request.c) ----------------------------------- */

/* child_init: milliseconds a worker waits for the next request on a keep-alive connection
 * after a WSGI response (0: never; never either without an async MPM). */
void wsgi_next_request_configure(int wait_ms);
void wsgi_next_request_arm(request_rec *r);
void wsgi_next_request_register(void);

/* ---- WSGIDocumentRootWalk (wsgi_docroot_walk.c) ------------------------------------ */

/* child_init: 1 to check the directories down to each DocumentRoot once per child. */
void wsgi_docroot_walk_configure(int once);
void wsgi_docroot_walk_register(void);

/* Apache's GracefulShutdownTimeout (seconds; 0: none). */
static inline int wsgi_graceful_shutdown_timeout(void) { return ap_graceful_shutdown_timeout; }

#endif /* CMODWSGI_H */

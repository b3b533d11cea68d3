/*
 * The Apache `module` struct of mod_wsgi in Swift: command table, hooks, and the few
 * wrappers for variadic Apache functions. All the logic is in Swift.
 */
#include "CModWSGI.h"

APLOG_USE_MODULE(wsgi);

static const char *wsgi_cmd(cmd_parms *cmd, void *mconfig, int argc, char *const argv[]) {
    return wsgi_swift_directive(cmd, mconfig, (int)(intptr_t)cmd->info, argc, argv);
}

#define SERVER_CMD(name, id, help) \
    AP_INIT_TAKE_ARGV(name, wsgi_cmd, (void *)(intptr_t)(id), RSRC_CONF, help)
#define DIR_CMD(name, id, help) \
    AP_INIT_TAKE_ARGV(name, wsgi_cmd, (void *)(intptr_t)(id), ACCESS_CONF | RSRC_CONF | OR_FILEINFO, help)
/* Server, virtual host and <Directory>/<Location>, not .htaccess. */
#define SECTION_CMD(name, id, help) \
    AP_INIT_TAKE_ARGV(name, wsgi_cmd, (void *)(intptr_t)(id), ACCESS_CONF | RSRC_CONF, help)
/* Authentication settings: also in .htaccess with AllowOverride AuthConfig. */
#define AUTH_CMD(name, id, help) \
    AP_INIT_TAKE_ARGV(name, wsgi_cmd, (void *)(intptr_t)(id), OR_AUTHCFG, help)

/* <WSGIInterpreterOptions process-group=NAME application-group=NAME>: Swift opens the block,
 * Apache runs the contained directives (which fill it), Swift closes it. */
static const char *wsgi_interpreter_options(cmd_parms *cmd, void *mconfig, const char *arg) {
    const char *err = wsgi_swift_interpreter_options_begin(cmd, arg);
    (void)mconfig;
    if (err) return err;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    wsgi_swift_interpreter_options_end();
    return err;
}

static const command_rec wsgi_commands[] = {
    SERVER_CMD("WSGIScriptAlias", WSGI_CMD_SCRIPT_ALIAS, "URL prefix, path of the WSGI script file, and options."),
    SERVER_CMD("WSGIScriptAliasMatch", WSGI_CMD_SCRIPT_ALIAS_MATCH, "URL regex, path of the WSGI script ($1 substitution), and options."),
    AP_INIT_TAKE_ARGV("WSGIHandlerScript", wsgi_cmd, (void *)(intptr_t)WSGI_CMD_HANDLER_SCRIPT, ACCESS_CONF | RSRC_CONF,
                      "Handler name, path of the WSGI script, and options."),
    DIR_CMD("WSGIApplicationGroup", WSGI_CMD_APPLICATION_GROUP, "Application group (interpreter) name: %{GLOBAL}, %{RESOURCE}, %{SERVER}, %{ENV:name} or a name."),
    DIR_CMD("WSGICallableObject", WSGI_CMD_CALLABLE_OBJECT, "Name of the WSGI application object in the script."),
    SERVER_CMD("WSGIImportScript", WSGI_CMD_IMPORT_SCRIPT, "Script to preload, with process-group= and application-group=."),
    SERVER_CMD("WSGIPythonHome", WSGI_CMD_PYTHON_HOME, "Python home (sys.prefix) directory."),
    SERVER_CMD("WSGIPythonPath", WSGI_CMD_PYTHON_PATH, "Directories added to sys.path, separated by ':'."),
    SERVER_CMD("WSGIPythonOptimize", WSGI_CMD_PYTHON_OPTIMIZE, "Python optimisation level: 0, 1 or 2."),
    SERVER_CMD("WSGIPythonHashSeed", WSGI_CMD_PYTHON_HASH_SEED, "Python hash seed: random, or 0 to 4294967295."),
    SERVER_CMD("WSGIDontWriteBytecode", WSGI_CMD_DONT_WRITE_BYTECODE, "On: do not write .pyc files."),
    SERVER_CMD("WSGIPythonWarnings", WSGI_CMD_PYTHON_WARNINGS, "A Python warnings filter (as for python -W)."),
    SERVER_CMD("WSGIRestrictEmbedded", WSGI_CMD_RESTRICT_EMBEDDED, "On: refuse to run applications in embedded mode."),
    SERVER_CMD("WSGIRestrictStdout", WSGI_CMD_RESTRICT_STDOUT, "On: writing to sys.stdout raises an error."),
    SERVER_CMD("WSGIRestrictStdin", WSGI_CMD_RESTRICT_STDIN, "On: reading sys.stdin raises an error."),
    DIR_CMD("WSGIPassAuthorization", WSGI_CMD_PASS_AUTHORIZATION, "On: pass the Authorization header to the application."),
    DIR_CMD("WSGIChunkedRequest", WSGI_CMD_CHUNKED_REQUEST, "On: accept chunked request bodies."),
    DIR_CMD("WSGIEnableSendfile", WSGI_CMD_ENABLE_SENDFILE, "On: send wsgi.file_wrapper files with sendfile."),
    DIR_CMD("WSGIMapHEADToGET", WSGI_CMD_MAP_HEAD_TO_GET, "On, Off or Auto: run HEAD requests as GET."),
    DIR_CMD("WSGIScriptReloading", WSGI_CMD_SCRIPT_RELOADING, "On: reload a WSGI script changed on disk."),
    SERVER_CMD("WSGIDestroyInterpreter", WSGI_CMD_DESTROY_INTERPRETER, "On: destroy interpreters at process exit."),
    SERVER_CMD("WSGIDaemonProcess", WSGI_CMD_DAEMON_PROCESS, "Name of a daemon process group, and its options."),
    DIR_CMD("WSGIProcessGroup", WSGI_CMD_PROCESS_GROUP, "Daemon process group the requests are sent to."),
    DIR_CMD("WSGIRestrictProcess", WSGI_CMD_RESTRICT_PROCESS, "Process groups this location may use."),
    SERVER_CMD("WSGISocketPrefix", WSGI_CMD_SOCKET_PREFIX, "Path prefix of the daemon sockets."),
    SERVER_CMD("WSGISocketRotation", WSGI_CMD_SOCKET_ROTATION, "On: a new socket path at each restart."),
    SERVER_CMD("WSGILazyInitialization", WSGI_CMD_LAZY_INITIALIZATION, "On: initialise Python in the child processes (always)."),
    SERVER_CMD("WSGIPythonEggs", WSGI_CMD_PYTHON_EGGS, "Directory for the Python egg cache."),
    DIR_CMD("WSGIErrorOverride", WSGI_CMD_ERROR_OVERRIDE, "On: Apache's error documents replace the application's."),
    DIR_CMD("WSGITrustedProxyHeaders", WSGI_CMD_TRUSTED_PROXY_HEADERS, "Headers set by trusted front-end proxies."),
    DIR_CMD("WSGITrustedProxies", WSGI_CMD_TRUSTED_PROXIES, "Addresses of trusted front-end proxies."),
    SERVER_CMD("WSGIRestrictSignal", WSGI_CMD_RESTRICT_SIGNAL, "On: applications may not install signal handlers."),
    SERVER_CMD("WSGIVerboseDebugging", WSGI_CMD_VERBOSE_DEBUGGING, "On: log more detail."),
    SERVER_CMD("WSGIAcceptMutex", WSGI_CMD_ACCEPT_MUTEX, "Accept mutex of the daemon processes (Apache's Mutex)."),
    AUTH_CMD("WSGIAccessScript", WSGI_CMD_ACCESS_SCRIPT, "Host access script (allow_access), and application-group=."),
    AUTH_CMD("WSGIAuthUserScript", WSGI_CMD_AUTH_USER_SCRIPT, "User authentication script of the 'wsgi' provider, and application-group=."),
    AUTH_CMD("WSGIAuthGroupScript", WSGI_CMD_AUTH_GROUP_SCRIPT, "Group script of 'Require wsgi-group', and application-group=."),
    AUTH_CMD("WSGIUserAuthoritative", WSGI_CMD_USER_AUTHORITATIVE, "On or Off (Apache 2.2 only; see AuthBasicAuthoritative)."),
    AUTH_CMD("WSGIGroupAuthoritative", WSGI_CMD_GROUP_AUTHORITATIVE, "On or Off (Apache 2.2 only; see <RequireAny>)."),
    SECTION_CMD("WSGIDispatchScript", WSGI_CMD_DISPATCH_SCRIPT, "Dispatch script choosing process group, application group and callable, and application-group=."),
    SECTION_CMD("WSGIPassApacheRequest", WSGI_CMD_PASS_APACHE_REQUEST, "On: put the request_rec in environ as apache.request_rec."),
    DIR_CMD("WSGIIgnoreActivity", WSGI_CMD_IGNORE_ACTIVITY, "On: requests here do not reset the daemon's inactivity-timeout."),
    SERVER_CMD("WSGICaseSensitivity", WSGI_CMD_CASE_SENSITIVITY, "Off: script paths differing only in case are one script."),
    SERVER_CMD("WSGIServerMetrics", WSGI_CMD_SERVER_METRICS, "On: allow mod_wsgi.server_metrics()."),
    SERVER_CMD("WSGINewRelicConfigFile", WSGI_CMD_NEW_RELIC_CONFIG_FILE, "Accepted for old configurations; does nothing."),
    SERVER_CMD("WSGINewRelicEnvironment", WSGI_CMD_NEW_RELIC_ENVIRONMENT, "Accepted for old configurations; does nothing."),
    SERVER_CMD("WSGIMetricsURL", WSGI_CMD_METRICS_URL, "URL path of the Prometheus metrics of every process of the server."),
    SERVER_CMD("WSGIMetricsAllow", WSGI_CMD_METRICS_ALLOW, "Client addresses or networks (address/bits) allowed to read WSGIMetricsURL; default localhost."),
    /* mod_wsgi 6.1 */
    SERVER_CMD("WSGISwitchInterval", WSGI_CMD_SWITCH_INTERVAL, "Python GIL switch interval in seconds (sys.setswitchinterval)."),
    SERVER_CMD("WSGIPerInterpreterGIL", WSGI_CMD_PER_INTERPRETER_GIL, "On: sub-interpreters get their own GIL (Python 3.12+)."),
    SERVER_CMD("WSGIFreeThreading", WSGI_CMD_FREE_THREADING, "On: run Python without the GIL (free-threaded build of Python 3.13+)."),
    AP_INIT_RAW_ARGS("<WSGIInterpreterOptions", wsgi_interpreter_options, NULL, RSRC_CONF,
                     "Options for the interpreters of a process-group= and/or application-group=."),
    SERVER_CMD("WSGISlowRequests", WSGI_CMD_SLOW_REQUESTS, "Report requests running longer than this many seconds to the telemetry service."),
    SERVER_CMD("WSGITelemetryService", WSGI_CMD_TELEMETRY_SERVICE, "Send telemetry to unix:/path [interval=N]."),
    AP_INIT_TAKE_ARGV("WSGITelemetryOptions", wsgi_cmd, (void *)(intptr_t)WSGI_CMD_TELEMETRY_OPTIONS, RSRC_CONF,
                      "[+|-]CaptureUserAgent... | None | All."),
    SERVER_CMD("WSGIDrainOnTerm", WSGI_CMD_DRAIN_ON_TERM, "On: SIGTERM stops Apache gracefully (drains), bounded by GracefulShutdownTimeout."),
    SERVER_CMD("WSGIDrainDelay", WSGI_CMD_DRAIN_DELAY, "Seconds after SIGTERM during which the health URL answers 503 before Apache stops accepting."),
    SERVER_CMD("WSGIHealthURL", WSGI_CMD_HEALTH_URL, "URL path answering 200 while every daemon process group accepts, 503 once a drain starts."),
    SERVER_CMD("WSGIHealthAllow", WSGI_CMD_HEALTH_ALLOW, "Client addresses or networks (address/bits) allowed to ask WSGIHealthURL; default localhost."),
    SERVER_CMD("WSGINextRequestWait", WSGI_CMD_NEXT_REQUEST_WAIT, "Milliseconds an Apache worker waits for the next request on a keep-alive connection after a WSGI response (0: off)."),
    SERVER_CMD("WSGIDocumentRootWalk", WSGI_CMD_DOCUMENT_ROOT_WALK, "Once: each child checks the directories down to the DocumentRoot once; EveryRequest (the default): Apache's directory walk checks them on every request."),
    { NULL }
};

/* ---- hooks --------------------------------------------------------------------- */

static void wsgi_register_log_items(apr_pool_t *p);
static int wsgi_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp) {
    wsgi_register_log_items(pconf);
    return wsgi_swift_pre_config(pconf, plog, ptemp);
}
/* Daemon processes start here when post_config ran before the scoreboard existed (first
   start, hard restart): they then share it (mod_wsgi.server_metrics()), as in mod_wsgi. */
static int wsgi_pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type) {
    (void)sb_type;
    return wsgi_swift_pre_mpm(p);
}
static int wsgi_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s) {
    return wsgi_swift_post_config(pconf, plog, ptemp, s);
}
static void wsgi_child_init(apr_pool_t *p, server_rec *s) { wsgi_swift_child_init(p, s); }
static int wsgi_translate_name(request_rec *r) { return wsgi_swift_translate_name(r); }
static int wsgi_handler(request_rec *r) {
    int rc = wsgi_swift_handler(r);
    if (rc != DECLINED) wsgi_next_request_arm(r);
    return rc;
}

/* WSGIMetricsURL: first of all handlers, whatever else mapped the path (the application's
 * mount, a static file); one pointer test on every other request. */
static const char *wsgi_metrics_url = NULL;
void wsgi_set_metrics_url(const char *url) { wsgi_metrics_url = url; }
static int wsgi_metrics_handler(request_rec *r) {
    if (!wsgi_metrics_url || !r->uri || strcmp(r->uri, wsgi_metrics_url) != 0) return DECLINED;
    return wsgi_swift_metrics_handler(r);
}

/* WSGIHealthURL, the same way; and the hooks of the drain (wsgi_lifecycle.c). */
static const char *wsgi_health_url = NULL;
void wsgi_set_health_url(const char *url) { wsgi_health_url = url; }
static int wsgi_health_handler(request_rec *r) {
    if (!wsgi_health_url || !r->uri || strcmp(r->uri, wsgi_health_url) != 0) return DECLINED;
    return wsgi_swift_health_handler(r);
}
static void wsgi_lifecycle_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                                        mpm_child_status status) {
    (void)s; (void)pid; (void)gen; (void)slot; (void)status;
    wsgi_lifecycle_arm();
}
static int wsgi_lifecycle_monitor(apr_pool_t *p, server_rec *s) {
    (void)p; (void)s;
    wsgi_lifecycle_arm();
    return DECLINED;
}

/* mod_log_config's `%^JS`: registered in pre_config, after mod_log_config's own (which makes
 * its table of items anew each generation). Without mod_log_config, nothing to do. */
static void wsgi_register_log_items(apr_pool_t *p) {
    APR_OPTIONAL_FN_TYPE(ap_register_log_handler) *reg = APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);
    if (reg) reg(p, "^JS", wsgi_swift_json_log_item, 0);
}

/* The access, authentication and authorisation hooks (Hooks/ in Swift). Apache wants
 * provider structs of function pointers with its enum return types. */
static int wsgi_access_checker(request_rec *r) { return wsgi_swift_access_checker(r); }
static authn_status wsgi_check_password(request_rec *r, const char *user, const char *password) {
    return (authn_status)wsgi_swift_check_password(r, user, password);
}
static authn_status wsgi_get_realm_hash(request_rec *r, const char *user, const char *realm, char **rethash) {
    return (authn_status)wsgi_swift_get_realm_hash(r, user, realm, rethash);
}
static const authn_provider wsgi_authn_provider = { wsgi_check_password, wsgi_get_realm_hash };
static authz_status wsgi_check_authorization(request_rec *r, const char *require_args, const void *parsed) {
    (void)parsed;
    return (authz_status)wsgi_swift_check_authorization(r, require_args);
}
static const authz_provider wsgi_authz_provider = { wsgi_check_authorization, NULL };

/* mod_ssl's optional functions, when mod_ssl is loaded (APR_RETRIEVE_OPTIONAL_FN is a macro). */
static APR_OPTIONAL_FN_TYPE(ssl_is_https) *wsgi_ssl_is_https_fn = NULL;
static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *wsgi_ssl_var_lookup_fn = NULL;
static void wsgi_retrieve_optional_fns(void) {
    /* The last hook before the MPM runs (and installs its signal handlers), every generation:
     * hold SIGTERM until the drain's handlers are back over Apache's (wsgi_lifecycle.c). */
    wsgi_lifecycle_block_term();
    wsgi_ssl_is_https_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    wsgi_ssl_var_lookup_fn = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}
int wsgi_ssl_is_https(request_rec *r) {
    return wsgi_ssl_is_https_fn ? wsgi_ssl_is_https_fn(r->connection) : 0;
}
const char *wsgi_ssl_var_lookup(request_rec *r, const char *name) {
    if (!wsgi_ssl_var_lookup_fn) return NULL;
    return wsgi_ssl_var_lookup_fn(r->pool, r->server, r->connection, r, apr_pstrdup(r->pool, name));
}

static void wsgi_register_hooks(apr_pool_t *p) {
    static const char *const before_alias[] = { "mod_alias.c", NULL };
    /* As mod_wsgi: host access after mod_ssl, before mod_authz_host. */
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };
    static const char *const before_authz_host[] = { "mod_authz_host.c", NULL };
    ap_hook_pre_config(wsgi_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(wsgi_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(wsgi_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_mpm(wsgi_pre_mpm, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_translate_name(wsgi_translate_name, NULL, before_alias, APR_HOOK_MIDDLE);
    ap_hook_handler(wsgi_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(wsgi_metrics_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(wsgi_health_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_child_status(wsgi_lifecycle_child_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(wsgi_lifecycle_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(wsgi_lifecycle_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_access_checker(wsgi_access_checker, after_ssl, before_authz_host, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(wsgi_retrieve_optional_fns, NULL, NULL, APR_HOOK_MIDDLE);
    wsgi_next_request_register();
    wsgi_docroot_walk_register();
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "wsgi", AUTHN_PROVIDER_VERSION,
                              &wsgi_authn_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "wsgi-group", AUTHZ_PROVIDER_VERSION,
                              &wsgi_authz_provider, AP_AUTH_INTERNAL_PER_CONF);
}

module AP_MODULE_DECLARE_DATA wsgi_module = {
    STANDARD20_MODULE_STUFF,
    wsgi_swift_create_dir_config,
    wsgi_swift_merge_dir_config,
    wsgi_swift_create_server_config,
    wsgi_swift_merge_server_config,
    wsgi_commands,
    wsgi_register_hooks
};

/* ---- Apache's User/Group (ap_unixd_config is a mutable C global) ------------------- */

uid_t wsgi_apache_uid(void) { return ap_unixd_config.user_id; }
gid_t wsgi_apache_gid(void) { return ap_unixd_config.group_id; }
const char *wsgi_apache_user_name(void) { return ap_unixd_config.user_name; }

/* ---- for a daemon process that runs the application's Python executable ------------- */

#include <dlfcn.h>
#include <util_cfgtree.h>

const char *wsgi_module_path(void) {
    Dl_info info;
    if (dladdr((void *)&wsgi_module, &info) == 0 || !info.dli_fname) return NULL;
    return info.dli_fname;
}

int wsgi_module_loglevel(const server_rec *s) {
    return ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);
}

const char *wsgi_server_argv0(void) { return ap_server_argv0; }

/* python3-config --exec-prefix of the Python the module was built for (Package.swift). */
#ifndef WSGI_PYTHON_EXEC_PREFIX
#define WSGI_PYTHON_EXEC_PREFIX "/usr"
#endif
const char *wsgi_python_exec_prefix(void) { return WSGI_PYTHON_EXEC_PREFIX; }

const char *wsgi_error_log_format(apr_pool_t *p) {
    const char *found = NULL;
    for (ap_directive_t *d = ap_conftree; d; d = d->next) {
        if (strcasecmp(d->directive, "ErrorLogFormat") != 0 || !d->args) continue;
        const char *args = d->args;
        char *first = ap_getword_conf(p, &args);
        /* "ErrorLogFormat connection|request FORMAT" are other formats: the main one has one word. */
        if (first && *first && !*ap_getword_conf(p, &args)) found = first;
    }
    return found;
}

/* ---- variadic wrappers ----------------------------------------------------------- */

void wsgi_log_error(int level, apr_status_t status, const server_rec *s, const char *message) {
    ap_log_error(APLOG_MARK, level, status, s, "%s", message);
}
void wsgi_log_rerror(int level, apr_status_t status, const request_rec *r, const char *message) {
    ap_log_rerror(APLOG_MARK, level, status, r, "%s", message);
}

/* ---- bucket brigade helpers (APR_BRIGADE_* are macros) --------------------------- */

/* Passes a data bucket (none: NULL), and a flush when asked, down the output filters. */
static apr_status_t wsgi_pass_bucket(request_rec *r, apr_bucket_brigade *bb, apr_bucket *b, int flush) {
    if (b) APR_BRIGADE_INSERT_TAIL(bb, b);
    if (flush) APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(r->connection->bucket_alloc));
    apr_status_t rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    if (rv == APR_SUCCESS && r->connection->aborted) rv = APR_ECONNABORTED;
    return rv;
}

apr_status_t wsgi_pass_bytes(request_rec *r, apr_bucket_brigade *bb, const char *data, apr_size_t len, int flush) {
    apr_bucket *b = len ? apr_bucket_transient_create(data, len, r->connection->bucket_alloc) : NULL;
    return wsgi_pass_bucket(r, bb, b, flush);
}

apr_status_t wsgi_pass_owned(request_rec *r, apr_bucket_brigade *bb, char *data, apr_size_t len, int flush) {
    return wsgi_pass_bucket(r, bb, apr_bucket_heap_create(data, len, free, r->connection->bucket_alloc), flush);
}

apr_size_t wsgi_flush_max_threshold(request_rec *r) {
    core_server_config *conf = ap_get_core_module_config(r->connection->base_server->module_config);
    return conf ? conf->flush_max_threshold : 0;
}

apr_status_t wsgi_pass_broken(request_rec *r, apr_bucket_brigade *bb) {
    apr_bucket *b = ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, b);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    r->connection->keepalive = AP_CONN_CLOSE;
    apr_status_t rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}

apr_status_t wsgi_pass_file(request_rec *r, apr_bucket_brigade *bb, apr_file_t *f, apr_off_t off, apr_size_t len, int flush) {
    return wsgi_pass_bucket(r, bb, apr_bucket_file_create(f, off, len, r->pool, r->connection->bucket_alloc), flush);
}

/* How much of the body one ap_get_brigade() asks for. The core input filter reads the
 * socket into 8000-byte heap buckets (APR_BUCKET_BUFF_SIZE, an 8 KB allocator node each)
 * and, asked for N bytes, reads until it holds N: asked for a whole 1 MB body, it holds
 * 130 nodes at once, and when they are freed the connection's allocator keeps only
 * MaxMemFree of them (64 KB, 8 nodes, in mod_wsgi-express's configuration): it unmaps the
 * rest and the next request maps them again, an mmap, a munmap (with its TLB shootdown in a
 * threaded child) and two page faults per 8 KB: two thirds of the CPU of a 1 MB POST.
 * Asking for 4 buckets at a time, drained and freed before the next, reuses the same 4-5
 * nodes. */
#define WSGI_READ_STEP (4 * APR_BUCKET_BUFF_SIZE)

/* Moves the data of bb (emptied) to buf: bytes copied, or -1 (*status set). *eos is set when
 * the brigade held the end of the body. */
static long wsgi_drain_brigade(apr_bucket_brigade *bb, char *buf, apr_size_t len, int *eos, apr_status_t *status) {
    apr_size_t total = 0;
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_EOS(b)) { *eos = 1; apr_bucket_delete(b); continue; }
        if (APR_BUCKET_IS_METADATA(b)) { apr_bucket_delete(b); continue; }
        const char *data;
        apr_size_t n;
        apr_status_t rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) { apr_brigade_cleanup(bb); *status = rv; return -1; }
        if (total + n > len) n = len - total; /* filters honour readbytes; be safe */
        memcpy(buf + total, data, n);
        total += n;
        apr_bucket_delete(b);
    }
    return (long)total;
}

/* Up to len bytes of the body, asked for WSGI_READ_STEP at a time (see above); stops at the
 * body's end (*eos), and in non-blocking mode when nothing more is ready. */
static long wsgi_read_body_steps(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len,
                                 apr_read_type_e mode, int *eos, apr_status_t *status) {
    apr_size_t total = 0;
    *status = APR_SUCCESS;
    while (total < len && !*eos) {
        apr_size_t want = len - total < WSGI_READ_STEP ? len - total : WSGI_READ_STEP;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, mode, want);
        if (mode == APR_NONBLOCK_READ && APR_STATUS_IS_EAGAIN(rv)) { apr_brigade_cleanup(bb); break; }
        if (rv != APR_SUCCESS) { apr_brigade_cleanup(bb); *status = rv; return -1; }
        long n = wsgi_drain_brigade(bb, buf + total, len - total, eos, status);
        if (n < 0) return -1;
        if (n == 0) break; /* the end of the body, or nothing ready */
        total += (apr_size_t)n;
    }
    return (long)total;
}

long wsgi_read_body(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, apr_status_t *status) {
    int eos = 0;
    return wsgi_read_body_steps(r, bb, buf, len, APR_BLOCK_READ, &eos, status);
}

/* Daemon mode: more of the request body, only what the client has already sent (a
 * non-blocking read): > 0 bytes read, 0 at the body's end, -2 when nothing is ready now,
 * -1 on an error (*status says which). Asks for one bucket's worth per ap_get_brigade(), as
 * wsgi_read_body does. */
long wsgi_read_body_ready(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, apr_status_t *status) {
    int eos = 0;
    long n = wsgi_read_body_steps(r, bb, buf, len, APR_NONBLOCK_READ, &eos, status);
    if (n != 0) return n;
    return eos ? 0 : -2;
}

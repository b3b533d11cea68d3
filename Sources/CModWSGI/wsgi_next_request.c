/*
 * WSGINextRequestWait: after a WSGI response on a keep-alive connection, the Apache worker
 * thread that served it waits a little (milliseconds) for the client's next request before
 * it gives the connection back to the event MPM's listener thread.
 *
 * Why: with the event MPM every request on a kept-alive connection is a hand-off. The worker
 * puts the connection in the listener's pollset (epoll_ctl), the listener wakes when the
 * next request arrives, takes it out again and wakes an idle worker (a futex): two thread
 * wake-ups and two epoll_ctl calls per request. A client that sends its next request at once
 * (a load balancer's pooled connection, a browser loading a page's resources) finds the
 * worker still there instead: the event MPM reads a request that is already waiting on the
 * same thread (its own pipelining path), and nothing is handed off.
 *
 * How: a connection input filter. Apache looks for a pipelined request once the response is
 * done (ap_check_pipeline: a speculative, non-blocking read). When our handler served the
 * request just before (wsgi_next_request_arm), and that read finds nothing, the filter first
 * writes what the response left pending, without blocking, as the event MPM's write
 * completion would next; then, if all is written and the connection stays open, it polls the
 * socket for up to the wait and reads again. Never when output is still pending, a drain or
 * stop is under way (keep-alive off, or Apache stopping), or more than half of the child's
 * threads are already waiting: a waiting thread serves no one else.
 */
#include "CModWSGI.h"

#include <poll.h>

typedef struct {
    int armed;
} wsgi_nr_conn;

static int wsgi_nr_wait_ms = 0;
static int wsgi_nr_max_waiting = 0;
static int wsgi_nr_waiting = 0;
static ap_filter_rec_t *wsgi_nr_filter_handle = NULL;

void wsgi_next_request_configure(int wait_ms) {
    wsgi_nr_wait_ms = wait_ms;
    int threads = 0, async = 0;
    if (ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async) wsgi_nr_wait_ms = 0;
    /* At most half of the child's threads wait (none with a single thread). */
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) threads = 0;
    wsgi_nr_max_waiting = threads / 2;
}

static apr_status_t wsgi_nr_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                   apr_read_type_e block, apr_off_t bytes) {
    wsgi_nr_conn *ctx = f->ctx;
    if (!ctx->armed || mode != AP_MODE_SPECULATIVE || block != APR_NONBLOCK_READ)
        return ap_get_brigade(f->next, bb, mode, block, bytes);
    ctx->armed = 0;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, bytes);
    if (!((rv == APR_SUCCESS && APR_BRIGADE_EMPTY(bb)) || APR_STATUS_IS_EAGAIN(rv))) return rv;

    conn_rec *c = f->c;
    int state = AP_MPMQ_RUNNING;
    if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted) return rv;
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING) return rv;

    /* What the response left pending, written now without blocking (the event MPM's write
       completion does the same next, with a NULL brigade to the core output filter). */
    ap_filter_t *core = c->output_filters;
    while (core->next) core = core->next;
    if (core->frec->filter_func.out_func(core, NULL) != APR_SUCCESS || c->data_in_output_filters || c->aborted)
        return rv;

    if (__atomic_add_fetch(&wsgi_nr_waiting, 1, __ATOMIC_RELAXED) > wsgi_nr_max_waiting) {
        __atomic_sub_fetch(&wsgi_nr_waiting, 1, __ATOMIC_RELAXED);
        return rv;
    }
    apr_os_sock_t fd = -1;
    apr_socket_t *sock = ap_get_conn_socket(c);
    int ready = 0;
    if (sock && apr_os_sock_get(&fd, sock) == APR_SUCCESS && fd >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        /* EINTR (a signal) ends the wait: the listener takes over as without it. */
        ready = poll(&p, 1, wsgi_nr_wait_ms) > 0 && (p.revents & POLLIN);
    }
    __atomic_sub_fetch(&wsgi_nr_waiting, 1, __ATOMIC_RELAXED);
    if (!ready) return rv;
    apr_brigade_cleanup(bb);
    return ap_get_brigade(f->next, bb, mode, block, bytes);
}

/* Every HTTP/1 connection of a child that waits gets the filter (a pointer test per read). */
int wsgi_next_request_pre_connection(conn_rec *c, void *csd) {
    (void)csd;
    if (wsgi_nr_wait_ms <= 0 || c->master) return DECLINED;
    wsgi_nr_conn *ctx = apr_pcalloc(c->pool, sizeof(*ctx));
    ap_set_module_config(c->conn_config, &wsgi_module, ctx);
    ap_add_input_filter_handle(wsgi_nr_filter_handle, ctx, NULL, c);
    return DECLINED;
}

/* After our handler served a request: the next speculative read may wait. */
void wsgi_next_request_arm(request_rec *r) {
    if (wsgi_nr_wait_ms <= 0 || r->main) return;
    wsgi_nr_conn *ctx = ap_get_module_config(r->connection->conn_config, &wsgi_module);
    if (ctx) ctx->armed = 1;
}

void wsgi_next_request_register(void) {
    /* Above mod_reqtimeout (CONNECTION + 8) and mod_ssl (CONNECTION + 5). */
    wsgi_nr_filter_handle =
        ap_register_input_filter("WSGI_NEXT_REQUEST", wsgi_nr_filter, NULL, AP_FTYPE_CONNECTION + 9);
    ap_hook_pre_connection(wsgi_next_request_pre_connection, NULL, NULL, APR_HOOK_LAST);
}

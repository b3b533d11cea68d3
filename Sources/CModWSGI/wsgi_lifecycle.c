/*
 * Drain and health (Swift: Sources/ModWSGI/Lifecycle): what Swift cannot do safely. The
 * Apache parent's async-signal-safe handlers that turn SIGTERM into a graceful stop
 * (WSGIDrainOnTerm On), and the hooks that keep them installed over Apache's own.
 *
 * Apache's parent installs its handlers (SIGTERM: stop now; SIGWINCH: graceful stop) in the
 * MPM's run hook, on every generation, after every hook a module gets before it. So:
 *  - the `optional_fn_retrieve` hook, the last before the MPM runs, blocks SIGTERM (a module
 *    cannot hook `mpm` itself: Apache counts its hooks to find the MPM);
 *  - the parent's first `child_status` (the MPM forks a child, or reaps one) and every
 *    `monitor` hook put our handlers back over Apache's and unblock SIGTERM. A SIGTERM that
 *    arrived meanwhile was pending, not lost: it reaches our handler then.
 * Apache's children unblock SIGTERM in child_init (Swift); the daemon processes reset every
 * signal after their fork.
 *
 * SIGTERM: the shared `draining` word is set (the health URL answers 503, responses close
 * their connections), then after WSGIDrainDelay seconds (SIGALRM) Apache's own SIGWINCH
 * handler runs: Apache's graceful stop, bounded by GracefulShutdownTimeout. A second SIGTERM
 * is Apache's immediate stop. Apache cuts what is still running GracefulShutdownTimeout
 * seconds into its graceful stop, but a child busy in Python (embedded mode) only dies at
 * its SIGKILL 9 seconds later: two seconds past the timeout, SIGALRM kills such children
 * itself. A line is written to the error log (fd 2 in Apache's parent)
 * with write(2): the only logging a signal handler may do.
 */
#include "CModWSGI.h"

#include <time.h>

static int64_t *volatile wsgi_lc_draining = NULL;
static pid_t wsgi_lc_parent = 0;
static int wsgi_lc_on_term = 0;
static unsigned wsgi_lc_delay = 0;
static unsigned wsgi_lc_cut_after = 0;
static struct sigaction wsgi_lc_apache_term, wsgi_lc_apache_winch;
static int wsgi_lc_have_term = 0, wsgi_lc_have_winch = 0;
/* 0 serving, 1 the delay (health 503, still serving), 2 Apache's graceful stop, 3 stopping now. */
static volatile sig_atomic_t wsgi_lc_phase = 0;
static volatile int64_t wsgi_lc_started_us = 0;
static char wsgi_lc_term_line[768], wsgi_lc_again_line[512], wsgi_lc_kill_line[512];
static size_t wsgi_lc_term_len = 0, wsgi_lc_again_len = 0, wsgi_lc_kill_len = 0;
static long wsgi_lc_gmtoff = 0;

/* ---- async-signal-safe formatting ------------------------------------------------- */

static size_t wsgi_lc_put(char *buf, size_t at, size_t cap, const char *s) {
    while (*s && at + 1 < cap) buf[at++] = *s++;
    return at;
}

static size_t wsgi_lc_num(char *buf, size_t at, size_t cap, long v, int width) {
    char tmp[24];
    int n = 0;
    if (v < 0) v = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0 && n < 23);
    while (n < width && n < 23) tmp[n++] = '0';
    while (n > 0 && at + 1 < cap) buf[at++] = tmp[--n];
    return at;
}

/* "[Sun Nov 29 10:00:00.123456 2026] [wsgi:notice] [pid N] ", Apache's default error log
 * prefix, in local time (the UTC offset taken when the handlers were installed). The date
 * from the day number is Howard Hinnant's civil_from_days: arithmetic only. */
static size_t wsgi_lc_prefix(char *buf, size_t cap) {
    static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long t = (long long)ts.tv_sec + wsgi_lc_gmtoff;
    long long z = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    long secs = (long)(t - z * 86400);
    int weekday = (int)(((z % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = (long)(z - era * 146097);
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y += 1;
    size_t at = 0;
    at = wsgi_lc_put(buf, at, cap, "[");
    at = wsgi_lc_put(buf, at, cap, days[weekday]);
    at = wsgi_lc_put(buf, at, cap, " ");
    at = wsgi_lc_put(buf, at, cap, months[m - 1]);
    at = wsgi_lc_put(buf, at, cap, " ");
    at = wsgi_lc_num(buf, at, cap, d, 2);
    at = wsgi_lc_put(buf, at, cap, " ");
    at = wsgi_lc_num(buf, at, cap, secs / 3600, 2);
    at = wsgi_lc_put(buf, at, cap, ":");
    at = wsgi_lc_num(buf, at, cap, secs / 60 % 60, 2);
    at = wsgi_lc_put(buf, at, cap, ":");
    at = wsgi_lc_num(buf, at, cap, secs % 60, 2);
    at = wsgi_lc_put(buf, at, cap, ".");
    at = wsgi_lc_num(buf, at, cap, ts.tv_nsec / 1000, 6);
    at = wsgi_lc_put(buf, at, cap, " ");
    at = wsgi_lc_num(buf, at, cap, (long)y, 4);
    at = wsgi_lc_put(buf, at, cap, "] [wsgi:notice] [pid ");
    at = wsgi_lc_num(buf, at, cap, (long)getpid(), 1);
    at = wsgi_lc_put(buf, at, cap, "] ");
    return at;
}

static void wsgi_lc_log(const char *line, size_t len) {
    char buf[1024];
    size_t at = wsgi_lc_prefix(buf, sizeof(buf));
    for (size_t i = 0; i < len && at + 2 < sizeof(buf); i++) buf[at++] = line[i];
    buf[at++] = '\n';
    ssize_t n = write(STDERR_FILENO, buf, at);
    (void)n;
}

static int64_t wsgi_lc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the handlers (Apache's parent) ------------------------------------------------ */

static void wsgi_lc_call(struct sigaction *saved, int have, int sig) {
    if (!have) return;
    if (saved->sa_flags & SA_SIGINFO) {
        if (saved->sa_sigaction) saved->sa_sigaction(sig, NULL, NULL);
    } else if (saved->sa_handler != SIG_IGN && saved->sa_handler != SIG_DFL) {
        saved->sa_handler(sig);
    }
}

static void wsgi_lc_mark_draining(void) {
    int64_t *flag = wsgi_lc_draining;
    if (flag) __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
    if (wsgi_lc_started_us == 0) wsgi_lc_started_us = wsgi_lc_now_us();
}

/* Apache's graceful stop (its SIGWINCH handler), after marking the drain. */
static void wsgi_lc_graceful_stop(void) {
    wsgi_lc_mark_draining();
    wsgi_lc_phase = 2;
    if (wsgi_lc_on_term && wsgi_lc_cut_after > 0) alarm(wsgi_lc_cut_after);
    wsgi_lc_call(&wsgi_lc_apache_winch, wsgi_lc_have_winch, SIGWINCH);
}

/* Past the drain's timeout: Apache's children still alive (busy in Python) are killed. The
 * scoreboard is shared memory; its pids are our children (or zombies not reaped yet). */
static void wsgi_lc_kill_stragglers(void) {
    scoreboard *sb = ap_scoreboard_image;
    if (!sb || !sb->global) return;
    int killed = 0;
    for (int i = 0; i < sb->global->server_limit; i++) {
        pid_t pid = sb->parent[i].pid;
        if (pid > 0 && kill(pid, SIGKILL) == 0) killed++;
    }
    if (killed) wsgi_lc_log(wsgi_lc_kill_line, wsgi_lc_kill_len);
}

static void wsgi_lc_term(int sig) {
    int saved = errno;
    if (getpid() != wsgi_lc_parent) {
        wsgi_lc_call(&wsgi_lc_apache_term, wsgi_lc_have_term, sig);
    } else if (wsgi_lc_phase == 0) {
        wsgi_lc_mark_draining();
        wsgi_lc_log(wsgi_lc_term_line, wsgi_lc_term_len);
        if (wsgi_lc_delay > 0) {
            wsgi_lc_phase = 1;
            alarm(wsgi_lc_delay);
        } else {
            wsgi_lc_graceful_stop();
        }
    } else if (wsgi_lc_phase != 3) {
        /* A second SIGTERM: Apache's immediate stop. */
        wsgi_lc_phase = 3;
        alarm(0);
        wsgi_lc_log(wsgi_lc_again_line, wsgi_lc_again_len);
        wsgi_lc_call(&wsgi_lc_apache_term, wsgi_lc_have_term, sig);
    }
    errno = saved;
}

static void wsgi_lc_alarm(int sig) {
    (void)sig;
    int saved = errno;
    if (getpid() == wsgi_lc_parent) {
        if (wsgi_lc_phase == 1) wsgi_lc_graceful_stop();
        else if (wsgi_lc_phase == 2) wsgi_lc_kill_stragglers();
    }
    errno = saved;
}

/* SIGWINCH (apachectl graceful-stop): the health URL answers 503 from now on as well. */
static void wsgi_lc_winch(int sig) {
    int saved = errno;
    if (getpid() == wsgi_lc_parent && wsgi_lc_phase < 2) {
        alarm(0);
        wsgi_lc_graceful_stop();
    } else {
        wsgi_lc_call(&wsgi_lc_apache_winch, wsgi_lc_have_winch, sig);
    }
    errno = saved;
}

/* ---- what Swift calls ------------------------------------------------------------- */

void wsgi_lifecycle_configure(int64_t *draining, int on_term, int delay, int cut_after, const char *term_line,
                              const char *again_line, const char *kill_line) {
    struct tm tm;
    time_t now = time(NULL);
    wsgi_lc_parent = getpid();
    wsgi_lc_on_term = on_term;
    wsgi_lc_delay = delay > 0 ? (unsigned)delay : 0;
    wsgi_lc_cut_after = cut_after > 0 ? (unsigned)cut_after : 0;
    wsgi_lc_gmtoff = localtime_r(&now, &tm) ? tm.tm_gmtoff : 0;
    wsgi_lc_term_len = 0;
    if (term_line) wsgi_lc_term_len = wsgi_lc_put(wsgi_lc_term_line, 0, sizeof(wsgi_lc_term_line), term_line);
    wsgi_lc_again_len = 0;
    if (again_line) wsgi_lc_again_len = wsgi_lc_put(wsgi_lc_again_line, 0, sizeof(wsgi_lc_again_line), again_line);
    wsgi_lc_kill_len = 0;
    if (kill_line) wsgi_lc_kill_len = wsgi_lc_put(wsgi_lc_kill_line, 0, sizeof(wsgi_lc_kill_line), kill_line);
    wsgi_lc_draining = draining;
}

int wsgi_lifecycle_phase(void) { return wsgi_lc_phase; }
int64_t wsgi_lifecycle_started_us(void) { return wsgi_lc_started_us; }

/* Before the MPM installs its handlers (optional_fn_retrieve): hold SIGTERM until ours are back. */
void wsgi_lifecycle_block_term(void) {
    if (!wsgi_lc_draining || !wsgi_lc_on_term || getpid() != wsgi_lc_parent) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static void wsgi_lc_install(int sig, void (*handler)(int), struct sigaction *saved, int *have) {
    struct sigaction cur, sa;
    sigaction(sig, NULL, &cur);
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == handler) return;
    if (saved) { *saved = cur; *have = 1; }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGWINCH);
    sigaddset(&sa.sa_mask, SIGALRM);
    sa.sa_flags = 0; /* as Apache's: the parent's sleep wakes with EINTR */
    sigaction(sig, &sa, NULL);
}

/* The parent (child_status, monitor): our handlers over Apache's, then SIGTERM unblocked. */
void wsgi_lifecycle_arm(void) {
    if (!wsgi_lc_draining || getpid() != wsgi_lc_parent) return;
    wsgi_lc_install(SIGWINCH, wsgi_lc_winch, &wsgi_lc_apache_winch, &wsgi_lc_have_winch);
    if (!wsgi_lc_on_term) return;
    wsgi_lc_install(SIGALRM, wsgi_lc_alarm, NULL, NULL);
    wsgi_lc_install(SIGTERM, wsgi_lc_term, &wsgi_lc_apache_term, &wsgi_lc_have_term);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* child_init: an Apache child forked while SIGTERM was held gets it back; SIGALRM is not ours. */
void wsgi_lifecycle_child(void) {
    if (!wsgi_lc_draining) return;
    struct sigaction cur;
    sigaction(SIGALRM, NULL, &cur);
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == wsgi_lc_alarm) signal(SIGALRM, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* post_read_request: while draining, every response closes its connection (Connection:
 * close), so clients and load balancers move to another server at a request boundary. */
int wsgi_lifecycle_post_read_request(request_rec *r) {
    int64_t *flag = wsgi_lc_draining;
    if (flag && __atomic_load_n(flag, __ATOMIC_ACQUIRE)) r->connection->keepalive = AP_CONN_CLOSE;
    return DECLINED;
}

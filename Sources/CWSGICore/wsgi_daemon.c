/*
 * Daemon mode: what Swift cannot do safely, the daemon process's signal handlers (they
 * must be async-signal-safe: set a flag, write a byte). Part of WSGICore: the same
 * handlers run in a daemon forked from Apache and in one that runs the application's own
 * Python executable. All the logic is in Swift (Sources/WSGICore/Daemon).
 */
#include "CWSGICore.h"

#include <stdatomic.h>

/* Set by the handlers, taken by the supervisor: an atomic exchange, so that a signal
 * arriving between reading and clearing the flags is never lost. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal handlers need lock-free atomics");
static atomic_int wsgi_signal_flags = 0;
static volatile sig_atomic_t wsgi_term_received = 0;
static int wsgi_wake_fd = -1;
static int wsgi_python_term = 0;

static void wsgi_daemon_signal(int sig) {
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT) {
        atomic_fetch_or(&wsgi_signal_flags, 1);
        wsgi_term_received = 1;
        /* threads=0 (a managed task): SIGTERM becomes SystemExit in the main thread. */
        if (wsgi_python_term) wsgi_interrupt_main_term();
    } else if (sig == SIGUSR1 || sig == SIGHUP) {
        atomic_fetch_or(&wsgi_signal_flags, 2);
    } else if (sig == SIGXCPU) {
        atomic_fetch_or(&wsgi_signal_flags, 4);
    } else if (sig == SIGUSR2) {
        atomic_fetch_or(&wsgi_signal_flags, 8);
    }
    if (wsgi_wake_fd >= 0) {
        char c = 's';
        ssize_t n = write(wsgi_wake_fd, &c, 1);
        (void)n;
    }
    errno = saved;
}

void wsgi_daemon_install_signals(int wake_fd, int python_term) {
    struct sigaction sa;
    wsgi_wake_fd = wake_fd;
    wsgi_python_term = python_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wsgi_daemon_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a sleeping main thread wakes with EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGXCPU, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int wsgi_daemon_term_received(void) { return wsgi_term_received; }

int wsgi_daemon_take_signals(void) { return atomic_exchange(&wsgi_signal_flags, 0); }

/* The Apache parent: between checks for exited children the MPM sleeps up to a second
 * (ap_wait_or_timeout), and a daemon process that exits is replaced only after that. A
 * SIGCHLD handler (doing nothing) ends the sleep early, so the replacement starts at once:
 * what --reload-on-changes needs to restart within a few hundred milliseconds. SA_RESTART
 * keeps the parent's other system calls as they were; select() (the sleep) still wakes. */
static void wsgi_parent_sigchld(int sig) { (void)sig; }

void wsgi_parent_wake_on_child_exit(int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on ? wsgi_parent_sigchld : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = on ? (SA_RESTART | SA_NOCLDSTOP) : 0;
    sigaction(SIGCHLD, &sa, NULL);
}

/* Right after fork: forget the Apache parent's handlers and unblock everything. */
void wsgi_daemon_default_signals(void) {
    sigset_t all;
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, SIGXCPU, SIGWINCH, SIGQUIT };
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) signal(sigs[i], SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

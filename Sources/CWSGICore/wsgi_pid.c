/* The cached process id (wsgi_pid() in CWSGICore.h). */
#include "CWSGICore.h"

pid_t wsgi_cached_pid;

static pthread_once_t wsgi_pid_once = PTHREAD_ONCE_INIT;

static void wsgi_pid_after_fork(void) { __atomic_store_n(&wsgi_cached_pid, getpid(), __ATOMIC_RELAXED); }

static void wsgi_pid_register(void) { pthread_atfork(NULL, NULL, wsgi_pid_after_fork); }

pid_t wsgi_pid_slow(void) {
    pthread_once(&wsgi_pid_once, wsgi_pid_register);
    pid_t p = getpid();
    __atomic_store_n(&wsgi_cached_pid, p, __ATOMIC_RELAXED);
    return p;
}

/*
 * WSGIDocumentRootWalk Once: each Apache child checks the directories from / down to a
 * virtual host's DocumentRoot once, instead of on every request for a URL that is not a file.
 *
 * Why: mod_wsgi-express sends every URL that is not a file in the document root to the
 * application. For such a URL Apache's directory walk (ap_directory_walk) cannot use its
 * shortcut for existing files, so it lstat()s every directory from / down to the missing
 * name, on every request: /, /tmp, /tmp/mod_wsgi-localhost:8000:0, .../htdocs, then the name.
 * The answers for the directories down to the document root do not change while Apache
 * runs (setup-server refuses a server root whose parent another user can write).
 *
 * How: Apache's dirwalk_stat hook, which the directory walk calls for each of those lstat()s.
 * The first time a child's walk asks about a directory at or above a DocumentRoot, the
 * child lstat()s each of them once, as the walk would (the same user, the same calls);
 * when every one is a real directory (no symbolic link, so the walk's symlink options have
 * nothing to decide) the results are kept for the child's life and given to the walk from
 * then on. Anything else (a symbolic link on the way, an error, another path, a stat
 * without APR_FINFO_LINK) is left to Apache. A graceful restart starts new children, which
 * check again.
 */
#include "CModWSGI.h"

#include <pthread.h>
#include <string.h>

#define WSGI_DW_ROOTS 8
#define WSGI_DW_DEPTH 32

typedef struct {
    char *root;                       /* the DocumentRoot, without a trailing slash */
    size_t length;
    int count;                        /* directories from the first under / to the root */
    size_t lengths[WSGI_DW_DEPTH];    /* each one's length in root */
    apr_finfo_t info[WSGI_DW_DEPTH];  /* each one's lstat() */
    int usable;                       /* every one a real directory */
} wsgi_dw_root;

static int wsgi_dw_enabled = 0;
static wsgi_dw_root wsgi_dw_roots[WSGI_DW_ROOTS];
static int wsgi_dw_count = 0; /* published with a release store once an entry is complete */
static pthread_mutex_t wsgi_dw_lock = PTHREAD_MUTEX_INITIALIZER;

void wsgi_docroot_walk_configure(int once) { wsgi_dw_enabled = once; }

/* The first time a child meets this DocumentRoot: lstat() each directory down to it. */
static void wsgi_dw_check(wsgi_dw_root *e, const char *root, size_t length, apr_pool_t *pool) {
    e->root = malloc(length + 1);
    e->length = length;
    e->count = 0;
    e->usable = 0;
    if (e->root == NULL) return;
    memcpy(e->root, root, length);
    e->root[length] = '\0';
    e->usable = length > 1 && root[0] == '/';
    for (size_t at = 1; at <= length && e->usable; at++) {
        if (at < length && e->root[at] != '/') continue;
        if (e->count == WSGI_DW_DEPTH) { e->usable = 0; break; }
        char saved = e->root[at];
        e->root[at] = '\0';
        apr_finfo_t *fi = &e->info[e->count];
        apr_status_t rv = apr_stat(fi, e->root, APR_FINFO_MIN | APR_FINFO_LINK, pool);
        e->root[at] = saved;
        if ((rv != APR_SUCCESS && rv != APR_INCOMPLETE) || !(fi->valid & APR_FINFO_TYPE)
            || fi->filetype != APR_DIR) {
            e->usable = 0;
            break;
        }
        /* What would point into the pool is set again at each answer. */
        fi->pool = NULL;
        fi->fname = NULL;
        fi->name = NULL;
        fi->valid &= ~APR_FINFO_NAME;
        e->lengths[e->count++] = at;
    }
}

/* The entry of this DocumentRoot among the first n, or NULL. */
static const wsgi_dw_root *wsgi_dw_find(const char *root, size_t length, int n) {
    for (int i = 0; i < n; i++) {
        if (wsgi_dw_roots[i].length == length && memcmp(wsgi_dw_roots[i].root, root, length) == 0)
            return &wsgi_dw_roots[i];
    }
    return NULL;
}

static const wsgi_dw_root *wsgi_dw_lookup(const char *root, size_t length, apr_pool_t *pool) {
    const wsgi_dw_root *found = wsgi_dw_find(root, length, __atomic_load_n(&wsgi_dw_count, __ATOMIC_ACQUIRE));
    if (found) return found;
    pthread_mutex_lock(&wsgi_dw_lock);
    int n = wsgi_dw_count;
    found = wsgi_dw_find(root, length, n);
    if (!found && n < WSGI_DW_ROOTS) {
        wsgi_dw_check(&wsgi_dw_roots[n], root, length, pool);
        if (wsgi_dw_roots[n].root) {
            found = &wsgi_dw_roots[n];
            __atomic_store_n(&wsgi_dw_count, n + 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&wsgi_dw_lock);
    return found;
}

static apr_status_t wsgi_dirwalk_stat(apr_finfo_t *finfo, request_rec *r, apr_int32_t wanted) {
    if (!wsgi_dw_enabled || !(wanted & APR_FINFO_LINK) || !r->filename) return AP_DECLINED;
    const char *root = ap_document_root(r);
    if (!root || root[0] != '/') return AP_DECLINED;
    size_t length = strlen(root);
    while (length > 1 && root[length - 1] == '/') length--;
    /* Only a directory at or above the DocumentRoot: r->filename is a prefix of it that
       ends where one of its names ends. */
    size_t n = strlen(r->filename);
    if (n == 0 || n > length || memcmp(root, r->filename, n) != 0 || (n < length && root[n] != '/'))
        return AP_DECLINED;
    const wsgi_dw_root *e = wsgi_dw_lookup(root, length, r->pool);
    if (!e || !e->usable) return AP_DECLINED;
    for (int i = 0; i < e->count; i++) {
        if (e->lengths[i] != n) continue;
        *finfo = e->info[i];
        finfo->pool = r->pool;
        finfo->fname = r->filename;
        return APR_SUCCESS;
    }
    return AP_DECLINED;
}

void wsgi_docroot_walk_register(void) {
    ap_hook_dirwalk_stat(wsgi_dirwalk_stat, NULL, NULL, APR_HOOK_MIDDLE);
}

/* Where the SPICE model libraries (rram.lib, pcm.lib, ecram.lib, selector.lib) are.
 *
 * $XBAR_MODELS_DIR when set; otherwise found relative to the file of the object that holds
 * this code, so that an installed tree and a build tree work wherever they are put, with no
 * absolute path compiled in (docs/architecture.md, "Library and installed files"):
 *   - libxbar.so: <prefix>/lib/libxbar.so.N           -> <prefix>/share/xbar/models
 *   - libxbar.a linked into a program (the xbar binary): <prefix>/bin/xbar
 *                                                      -> <prefix>/share/xbar/models
 *   - the build tree: build/xbar, build/test_*, build/libxbar.so
 *                                                      -> build/share/xbar/models
 *     (CMake links that to the source models/).
 * XB_MODELS_FROM_BINDIR and XB_MODELS_FROM_LIBDIR are the relative paths from the install
 * bin/ and lib/ directories to share/xbar/models ("../share/xbar/models", or
 * "../../share/xbar/models" under a multiarch lib/<triplet>/), XB_MODELS_BUILD_TREE the
 * relative path from the top of the build tree (CMakeLists.txt sets all three). */
#define _GNU_SOURCE /* dladdr1, RTLD_DL_LINKMAP */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xbar/netlist.h"

#ifndef XB_MODELS_FROM_BINDIR
#define XB_MODELS_FROM_BINDIR "../share/xbar/models"
#endif
#ifndef XB_MODELS_FROM_LIBDIR
#define XB_MODELS_FROM_LIBDIR "../share/xbar/models"
#endif
#ifndef XB_MODELS_BUILD_TREE
#define XB_MODELS_BUILD_TREE "share/xbar/models"
#endif

/* The library file every nonlinear deck includes: a directory without it is not the models. */
#define XB_MODELS_MARKER "rram.lib"

/* The result of the search is a property of where the code lives, fixed for the life of the
 * process: computed once (thread-safe) and kept, so xb_netlist_models_dir can hand out a
 * pointer that stays valid, as it always has. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_found;                  /* 1: g_dir holds the models */
static char g_dir[PATH_MAX];         /* the directory found, or the first place looked at */
static char g_msg[XB_ERROR_MSG_MAX]; /* when not found: every place looked at */

/* Anchor whose address locates the object (program or shared library) holding this code. */
static const char k_anchor = 0;

/* Real path of the object holding this code: the shared library's file when it is one,
 * else the running program (the link map of the main program has an empty name). */
static int object_path(char *buf)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (dladdr1(&k_anchor, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name && lm->l_name[0])
        return realpath(lm->l_name, buf) ? 0 : -1;
    return realpath("/proc/self/exe", buf) ? 0 : -1;
}

static int holds_models(const char *dir)
{
    char f[PATH_MAX];
    if ((size_t)snprintf(f, sizeof f, "%s/%s", dir, XB_MODELS_MARKER) >= sizeof f) return 0;
    return access(f, R_OK) == 0;
}

/* Append s to g_msg, cut at its size (the places looked at come first). */
static void msg_append(const char *s)
{
    size_t used = strlen(g_msg), n = strlen(s);
    if (used + 1 >= sizeof g_msg) return;
    if (n > sizeof g_msg - 1 - used) n = sizeof g_msg - 1 - used;
    memcpy(g_msg + used, s, n);
    g_msg[used + n] = '\0';
}

static void search(void)
{
    char obj[PATH_MAX];
    if (object_path(obj)) {
        snprintf(g_dir, sizeof g_dir, "%s", XB_MODELS_BUILD_TREE);
        msg_append("SPICE model libraries not found: XBAR_MODELS_DIR is not set and the file of the "
                   "program or libxbar is unknown (dladdr, /proc/self/exe); set XBAR_MODELS_DIR to "
                   "the models directory");
        return;
    }
    char *slash = strrchr(obj, '/');
    if (slash) *slash = '\0';
    const char *rel[] = {XB_MODELS_FROM_BINDIR, XB_MODELS_FROM_LIBDIR, XB_MODELS_BUILD_TREE};
    msg_append("SPICE model libraries not found: XBAR_MODELS_DIR is not set and there is no "
               XB_MODELS_MARKER " in");
    for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
        if (k == 1 && strcmp(rel[1], rel[0]) == 0) continue;
        char cand[PATH_MAX];
        if ((size_t)snprintf(cand, sizeof cand, "%s/%s", obj, rel[k]) >= sizeof cand) continue;
        if (holds_models(cand)) {
            /* the real path: in the build tree that is the source models/ itself */
            if (!realpath(cand, g_dir)) memcpy(g_dir, cand, sizeof g_dir);
            g_found = 1;
            return;
        }
        if (k == 0) memcpy(g_dir, cand, sizeof g_dir);
        msg_append(k ? ", " : " ");
        msg_append(cand);
    }
    msg_append(" (looked relative to ");
    msg_append(obj);
    msg_append("); set XBAR_MODELS_DIR to the models directory");
}

int xb_netlist_models_dir_find(const char **dir, xb_error *err)
{
    if (!dir) return xb_errorf(err, XB_EINPUT, "xb_netlist_models_dir_find: dir is NULL");
    const char *e = getenv("XBAR_MODELS_DIR");
    if (e && *e) {
        struct stat st;
        if (stat(e, &st) != 0 || !S_ISDIR(st.st_mode))
            return xb_errorf(err, XB_ERUNTIME, "XBAR_MODELS_DIR=%s: not a directory", e);
        *dir = e;
        return XB_OK;
    }
    pthread_once(&g_once, search);
    if (!g_found) return xb_errorf(err, XB_ERUNTIME, "%s", g_msg);
    *dir = g_dir;
    return XB_OK;
}

const char *xb_netlist_models_dir(void)
{
    const char *e = getenv("XBAR_MODELS_DIR");
    if (e && *e) return e;
    pthread_once(&g_once, search);
    return g_dir;
}

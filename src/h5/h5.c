/* HDF5 helpers: the error-printing window, files, groups and links, tree walks.
 * Datasets: h5_dataset.c; attributes: h5_attr.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "h5/h5_internal.h"

/* ------------------------------------------------------------------ error printing */
void xb_h5i_quiet_begin(xb_h5_quiet *q)
{
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0) {
        q->func = NULL;
        q->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void xb_h5i_quiet_end(const xb_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

void xb_h5_errors_off(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void xb_h5_library_version(char *buf, size_t n)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    if (buf && n) snprintf(buf, n, "%u.%u.%u", maj, min, rel);
}

const char *xb_h5i_where(hid_t loc, const char *name, char *buf, size_t n)
{
    char f[512] = "?", o[512] = "";
    if (H5Fget_name(loc, f, sizeof f) < 0) snprintf(f, sizeof f, "?");
    if (H5Iget_name(loc, o, sizeof o) < 0) o[0] = '\0';
    if (!name || strcmp(name, ".") == 0) snprintf(buf, n, "%s:%s", f, o[0] ? o : "/");
    else snprintf(buf, n, "%s:%s%s%s", f, o, (o[0] && strcmp(o, "/") != 0) ? "/" : "", name);
    return buf;
}

hid_t xb_h5i_lcpl(void)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0) H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

/* ------------------------------------------------------------------ files */
static int is_hdf5(const char *path)
{
    if (access(path, F_OK) != 0) return 0;
    return H5Fis_hdf5(path) > 0;
}

int xb_h5_is_hdf5(const char *path)
{
    if (!path) return 0;
    XB_H5_QUIET_RETURN(is_hdf5(path));
}

int xb_h5_create(const char *path, int overwrite, hid_t *out, xb_error *err)
{
    if (!path || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_create: no path");
    if (!overwrite && access(path, F_OK) == 0)
        return xb_errorf(err, XB_EINPUT, "%s: exists (not overwritten)", path);
    xb_h5_quiet q;
    xb_h5i_quiet_begin(&q);
    hid_t f = H5Fcreate(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    xb_h5i_quiet_end(&q);
    if (f < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create HDF5 file", path);
    *out = f;
    return XB_OK;
}

/* Why H5Fopen failed on an existing HDF5 file: libhdf5 (1.10+) holds flock(2) on every file
 * it opens (shared to read, exclusive to write), and refuses a file another process holds in
 * a conflicting mode.  Probe that lock ourselves: held = 1 (a runtime condition: wait or close
 * the other program), else 0 (the file itself is bad). */
static int held_by_another(const char *path, int writable)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = flock(fd, (writable ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* drops the probe's lock if it got one */
    return held;
}

static int open_file(const char *path, int writable, hid_t *out, xb_error *err)
{
    if (access(path, F_OK) != 0) return xb_errorf(err, XB_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) {
        if (held_by_another(path, 0))
            return xb_errorf(err, XB_ERUNTIME, "%s: open in another process (HDF5 file lock held; retry when it is closed)",
                             path);
        return xb_errorf(err, XB_EINPUT, "%s: not an HDF5 file", path);
    }
    hid_t f = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        if (held_by_another(path, writable))
            return xb_errorf(err, XB_ERUNTIME, "%s: cannot open%s: open in another process (HDF5 file lock held; "
                             "retry when it is closed)", path, writable ? " for writing" : "");
        return xb_errorf(err, XB_EINPUT, "%s: cannot open HDF5 file%s (damaged)", path, writable ? " for writing" : "");
    }
    *out = f;
    return XB_OK;
}

int xb_h5_open(const char *path, int writable, hid_t *out, xb_error *err)
{
    if (!path || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_open: no path");
    XB_H5_QUIET_RETURN(open_file(path, writable, out, err));
}

static int flush_file(hid_t file, xb_error *err)
{
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
        char wbuf[XB_H5_WHERE_MAX];
        return xb_errorf(err, XB_ERUNTIME, "%s: flush failed", WHERE(file, NULL));
    }
    return XB_OK;
}

int xb_h5_flush(hid_t file, xb_error *err) { XB_H5_QUIET_RETURN(flush_file(file, err)); }

/* A file of xb_h5_create_atomic: HDF5's in-memory ("core") driver without a backing store. */
static int is_atomic(hid_t file)
{
    hid_t fapl = H5Fget_access_plist(file);
    if (fapl < 0) return 0;
    size_t inc = 0;
    hbool_t backing = 1;
    int mem = H5Pget_driver(fapl) == H5FD_CORE && H5Pget_fapl_core(fapl, &inc, &backing) >= 0 && !backing;
    H5Pclose(fapl);
    return mem;
}

/* Write the image of an in-memory file to its name (xb_afile: temporary + rename). */
static int commit_file(hid_t file, xb_error *err)
{
    char name[4096];
    ssize_t nl = H5Fget_name(file, name, sizeof name);
    if (nl <= 0 || (size_t)nl >= sizeof name) {
        H5Fclose(file);
        return xb_errorf(err, XB_ERUNTIME, "closing HDF5 file failed: no name");
    }
    void *img = NULL;
    ssize_t n = H5Fflush(file, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(file, NULL, 0);
    if (n > 0 && (img = malloc((size_t)n)) && H5Fget_file_image(file, img, (size_t)n) != n) n = -1;
    int closed = H5Fclose(file) >= 0;
    int rc;
    if (n <= 0 || !closed) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot finish the HDF5 file", name);
    else if (!img) rc = xb_errorf(err, XB_ERUNTIME, "%s: out of memory", name);
    else rc = xb_afile_write(name, img, (size_t)n, err);
    free(img);
    return rc;
}

static int close_file(hid_t file, xb_error *err)
{
    if (is_atomic(file)) return commit_file(file, err);
    if (H5Fclose(file) < 0) return xb_errorf(err, XB_ERUNTIME, "closing HDF5 file failed");
    return XB_OK;
}

int xb_h5_close(hid_t file, xb_error *err)
{
    if (file < 0) return XB_OK;
    XB_H5_QUIET_RETURN(close_file(file, err));
}

/* Built in memory: HDF5 itself never writes to the disk, so a full disk cannot fail inside
 * libhdf5 (1.10.8 crashed in H5Fclose at exit after such failures: fit, train) and only
 * xb_afile, which checks every write, touches the file system. */
static int create_atomic(const char *path, int overwrite, hid_t *out, xb_error *err)
{
    if (!overwrite && access(path, F_OK) == 0)
        return xb_errorf(err, XB_EINPUT, "%s: exists (not overwritten)", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot create HDF5 file", path);
    }
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create HDF5 file", path);
    *out = f;
    return XB_OK;
}

int xb_h5_create_atomic(const char *path, int overwrite, hid_t *out, xb_error *err)
{
    if (!path || !*path || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_create_atomic: no path");
    XB_H5_QUIET_RETURN(create_atomic(path, overwrite, out, err));
}

void xb_h5_discard(hid_t file)
{
    if (file < 0) return;
    /* in memory: closing drops it, nothing was written; a file on disk is closed as it is */
    xb_h5_quiet q;
    xb_h5i_quiet_begin(&q);
    H5Fclose(file);
    xb_h5i_quiet_end(&q);
}

/* ------------------------------------------------------------------ groups and links */
static int exists(hid_t loc, const char *path)
{
    if (!path || !*path) return 0;
    if (strcmp(path, ".") == 0 || strcmp(path, "/") == 0) return 1;
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return 0;
    memcpy(p, path, n + 1);
    int ok = 1;
    /* H5Lexists needs every intermediate link to exist: check prefix by prefix. */
    for (size_t i = (p[0] == '/') ? 1 : 0; i <= n && ok; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (H5Lexists(loc, p, H5P_DEFAULT) <= 0) ok = 0;
            p[i] = c;
        }
    }
    free(p);
    return ok;
}

int xb_h5_exists(hid_t loc, const char *path) { XB_H5_QUIET_RETURN(exists(loc, path)); }

static int group_create(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hid_t lcpl = xb_h5i_lcpl();
    hid_t g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create group", WHERE(loc, path));
    *out = g;
    return XB_OK;
}

int xb_h5_group_create(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    if (!path || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_group_create: no path");
    XB_H5_QUIET_RETURN(group_create(loc, path, out, err));
}

static int group_open(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    if (!exists(loc, path)) return xb_errorf(err, XB_EINPUT, "%s: no such group", WHERE(loc, path));
    hid_t g = H5Gopen2(loc, path, H5P_DEFAULT);
    if (g < 0) return xb_errorf(err, XB_EINPUT, "%s: not a group", WHERE(loc, path));
    *out = g;
    return XB_OK;
}

int xb_h5_group_open(hid_t loc, const char *path, hid_t *out, xb_error *err)
{
    if (!path || !out) return xb_errorf(err, XB_EINPUT, "xb_h5_group_open: no path");
    XB_H5_QUIET_RETURN(group_open(loc, path, out, err));
}

static int group_close(hid_t g) { return H5Gclose(g) < 0 ? XB_ERUNTIME : XB_OK; }

void xb_h5_group_close(hid_t g)
{
    if (g < 0) return;
    xb_h5_quiet q;
    xb_h5i_quiet_begin(&q);
    group_close(g);
    xb_h5i_quiet_end(&q);
}

static int delete_link(hid_t loc, const char *path, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    if (!exists(loc, path)) return XB_OK;
    if (H5Ldelete(loc, path, H5P_DEFAULT) < 0)
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot delete", WHERE(loc, path));
    return XB_OK;
}

int xb_h5_delete(hid_t loc, const char *path, xb_error *err)
{
    if (!path) return xb_errorf(err, XB_EINPUT, "xb_h5_delete: no path");
    XB_H5_QUIET_RETURN(delete_link(loc, path, err));
}

static int copy_object(hid_t src, const char *src_path, hid_t dst, const char *dst_path, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX], to[XB_H5_WHERE_MAX];
    hid_t lcpl = xb_h5i_lcpl();
    herr_t st = H5Ocopy(src, src_path, dst, dst_path, H5P_DEFAULT, lcpl);
    H5Pclose(lcpl);
    if (st < 0) {
        xb_h5i_where(dst, dst_path, to, sizeof to);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot copy to %s", WHERE(src, src_path), to);
    }
    return XB_OK;
}

int xb_h5_copy(hid_t src, const char *src_path, hid_t dst, const char *dst_path, xb_error *err)
{
    if (!src_path || !dst_path) return xb_errorf(err, XB_EINPUT, "xb_h5_copy: no path");
    XB_H5_QUIET_RETURN(copy_object(src, src_path, dst, dst_path, err));
}

static int move_link(hid_t loc, const char *from, const char *to, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hid_t lcpl = xb_h5i_lcpl();
    herr_t st = H5Lmove(loc, from, loc, to, lcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (st < 0)
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot rename to %s", WHERE(loc, from), to);
    return XB_OK;
}

int xb_h5_move(hid_t loc, const char *from, const char *to, xb_error *err)
{
    if (!from || !to) return xb_errorf(err, XB_EINPUT, "xb_h5_move: no path");
    XB_H5_QUIET_RETURN(move_link(loc, from, to, err));
}

typedef struct {
    char **names;
    size_t n, cap;
    int oom;
} name_list;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **nn = realloc(l->names, cap * sizeof *nn);
        if (!nn) { l->oom = 1; return -1; }
        l->names = nn;
        l->cap = cap;
    }
    l->names[l->n] = strdup(name);
    if (!l->names[l->n]) { l->oom = 1; return -1; }
    l->n++;
    return 0;
}

static int list_group(hid_t loc, const char *path, char ***names, size_t *n, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    hid_t g;
    int rc = group_open(loc, path, &g, err);
    if (rc) return rc;
    name_list l = {0};
    herr_t st = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &l);
    H5Gclose(g);
    if (st < 0 || l.oom) {
        xb_h5_free_names(l.names, l.n);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot list group", WHERE(loc, path));
    }
    *names = l.names;
    *n = l.n;
    return XB_OK;
}

int xb_h5_list(hid_t loc, const char *path, char ***names, size_t *n, xb_error *err)
{
    if (!path || !names || !n) return xb_errorf(err, XB_EINPUT, "xb_h5_list: no path");
    XB_H5_QUIET_RETURN(list_group(loc, path, names, n, err));
}

void xb_h5_free_names(char **names, size_t n)
{
    if (!names) return;
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* ------------------------------------------------------------------ tree walk */
typedef struct {
    xb_h5_visit_fn fn;
    void *user;
    int stopped;
} visit_ctx;

static herr_t visit_cb(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    visit_ctx *v = data;
    int r = 0;
    if (info->type == H5O_TYPE_GROUP) {
        r = v->fn(v->user, name, 1, NULL);
    } else if (info->type == H5O_TYPE_DATASET) {
        xb_h5_info di;
        if (xb_h5_dataset_info(loc, name, &di, NULL) != XB_OK) memset(&di, 0, sizeof di);
        r = v->fn(v->user, name, 0, &di);
    }
    if (r) v->stopped = 1;
    return r ? 1 : 0;
}

static int visit(hid_t loc, xb_h5_visit_fn fn, void *user, xb_error *err)
{
    char wbuf[XB_H5_WHERE_MAX];
    visit_ctx v = {fn, user, 0};
    if (H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v, H5O_INFO_BASIC) < 0 && !v.stopped)
        return xb_errorf(err, XB_EINPUT, "%s: cannot walk the tree", WHERE(loc, NULL));
    return XB_OK;
}

int xb_h5_visit(hid_t loc, xb_h5_visit_fn fn, void *user, xb_error *err)
{
    if (!fn) return xb_errorf(err, XB_EINPUT, "xb_h5_visit: no callback");
    XB_H5_QUIET_RETURN(visit(loc, fn, user, err));
}

/* A fixed set of worker threads for short parallel loops (include/xbar/common.h): the
 * threads wait on a condition variable between loops, so a loop costs a wake-up, not a
 * pthread_create + join (55 us each on the 2-core machine; the analog trainer runs ~17 000
 * loops per epoch). */
#include <pthread.h>
#include <stdlib.h>

#include "xbar/common.h"

#define XB_WORKERS_MAX 64

struct xb_workers {
    size_t n;                 /* workers, the caller included */
    pthread_t th[XB_WORKERS_MAX];
    size_t n_started;         /* threads running (n - 1 unless creation failed) */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;        /* loop number: a change starts the threads */
    size_t pending;           /* threads still in the current loop */
    int quit;
    void (*fn)(void *arg, size_t tid, size_t n);
    void *arg;
};

typedef struct {
    xb_workers *w;
    size_t tid;
} worker_arg;


static void *worker_main(void *p)
{
    xb_workers *w = ((worker_arg *)p)->w;
    const size_t tid = ((worker_arg *)p)->tid;
    free(p);
    unsigned long seen = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->gen == seen && !w->quit) pthread_cond_wait(&w->go, &w->mu);
        if (w->quit) break;
        seen = w->gen;
        void (*fn)(void *, size_t, size_t) = w->fn;
        void *arg = w->arg;
        const size_t n = w->n;
        pthread_mutex_unlock(&w->mu);
        fn(arg, tid, n);
        pthread_mutex_lock(&w->mu);
        if (--w->pending == 0) pthread_cond_signal(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

xb_workers *xb_workers_new(size_t n)
{
    xb_workers *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->n = n < 1 ? 1 : n > XB_WORKERS_MAX ? XB_WORKERS_MAX : n;
    if (pthread_mutex_init(&w->mu, NULL)) {
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->go, NULL) || pthread_cond_init(&w->done, NULL)) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    for (size_t t = 1; t < w->n; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->w = w;
        a->tid = t;
        if (pthread_create(&w->th[w->n_started], NULL, worker_main, a)) {
            free(a);
            break;
        }
        w->n_started++;
    }
    w->n = w->n_started + 1; /* threads that could not start: fewer workers, same results */
    return w;
}

void xb_workers_free(xb_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    for (size_t t = 0; t < w->n_started; t++) pthread_join(w->th[t], NULL);
    pthread_cond_destroy(&w->go);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

size_t xb_workers_count(const xb_workers *w) { return w ? w->n : 1; }

void xb_workers_run(xb_workers *w, void (*fn)(void *arg, size_t tid, size_t n), void *arg)
{
    if (!w || w->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->pending = w->n_started;
    w->gen++;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    fn(arg, 0, w->n);
    pthread_mutex_lock(&w->mu);
    while (w->pending) pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

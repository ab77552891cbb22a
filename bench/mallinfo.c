/*
 * mallinfo.c: ovsa-bench-mallinfo.so, an LD_PRELOAD probe for the soak
 * (bench/lib/soak.sh).  In every process forked from the one it is
 * preloaded into (the nginx workers), a thread appends glibc's
 * mallinfo2() every OVSA_MALLINFO_SECS seconds (default 2) to
 * OVSA_MALLINFO_DIR/<pid>, one line per sample:
 *
 *     <unix time> <arena bytes> <in use bytes> <free bytes> <mmapped bytes>
 *
 * What a worker's malloc holds tells a leak (bytes in use grow with the
 * checks) from its resident set settling (pages of a heap that no
 * longer grows, touched for the first time), which RssAnon alone
 * cannot.
 *
 * The environment is read in the constructor: nginx's master later
 * writes its process title over its environment block.  The file is
 * opened in the child right after fork, before the worker drops to its
 * "user", and kept open.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char  *mi_dir;
static int    mi_secs = 2;
static FILE  *mi_out;

static void *
mi_loop(void *arg)
{
    struct mallinfo2  m;

    (void) arg;
    for ( ;; ) {
        m = mallinfo2();
        fprintf(mi_out, "%lld %zu %zu %zu %zu\n", (long long) time(NULL),
                m.arena, m.uordblks, m.fordblks, m.hblkhd);
        fflush(mi_out);
        sleep((unsigned) mi_secs);
    }
    return NULL;
}

static void
mi_child(void)
{
    char            path[4096];
    int             fd;
    pthread_t       t;
    pthread_attr_t  attr;

    if (mi_dir == NULL
        || (size_t) snprintf(path, sizeof(path), "%s/%ld", mi_dir,
                             (long) getpid()) >= sizeof(path))
    {
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd == -1) {
        return;
    }
    mi_out = fdopen(fd, "a");
    if (mi_out == NULL) {
        close(fd);
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, mi_loop, NULL) != 0) {
        fclose(mi_out);
        mi_out = NULL;
    }
    pthread_attr_destroy(&attr);
}

__attribute__((constructor)) static void
mi_init(void)
{
    const char  *d, *s;

    d = getenv("OVSA_MALLINFO_DIR");
    s = getenv("OVSA_MALLINFO_SECS");
    if (d == NULL || *d == '\0') {
        return;
    }
    mi_dir = strdup(d);
    if (s != NULL && atoi(s) > 0) {
        mi_secs = atoi(s);
    }
    pthread_atfork(NULL, NULL, mi_child);
}

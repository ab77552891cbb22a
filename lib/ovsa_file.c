/*
 * ovsa_file.c: whole-file reads and crash-safe writes.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ovsa_file.h"


int
ovsa_file_read(const char *path, size_t max, char **out, size_t *len,
    ovsa_err_t *err)
{
    int          fd, ret;
    char        *buf;
    size_t       n;
    ssize_t      r;
    struct stat  st;

    ret = OVSA_ERR;
    buf = NULL;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return ovsa_err_set(err, OVSA_E_IO, "read %s: %s", path,
                            strerror(errno));
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        ovsa_err_set(err, OVSA_E_IO, "read %s: not a regular file", path);
        goto end;
    }

    if ((size_t) st.st_size > max) {
        ovsa_err_set(err, OVSA_E_IO, "read %s: larger than %zu bytes",
                     path, max);
        goto end;
    }

    buf = malloc(max + 1);
    if (buf == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "read %s: out of memory", path);
        goto end;
    }

    n = 0;
    for ( ;; ) {
        r = read(fd, buf + n, max + 1 - n);
        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r == -1) {
            ovsa_err_set(err, OVSA_E_IO, "read %s: %s", path,
                         strerror(errno));
            goto end;
        }
        if (r == 0) {
            break;
        }
        n += r;
        if (n > max) {
            ovsa_err_set(err, OVSA_E_IO, "read %s: larger than %zu bytes",
                         path, max);
            goto end;
        }
    }

    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len != NULL) {
        *len = n;
    }
    ret = OVSA_OK;

end:

    free(buf);
    close(fd);
    return ret;
}


static void
ovsa_file_sync_dir(const char *dir)
{
    int  fd;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd != -1) {
        (void) fsync(fd);
        close(fd);
    }
}


int
ovsa_file_write(const char *path, const void *data, size_t len,
    mode_t mode, int flags, ovsa_err_t *err)
{
    int          fd, ret;
    char        *slash;
    size_t       off;
    ssize_t      w;
    struct stat  st;
    char         tmp[PATH_MAX], dir[PATH_MAX];

    ret = OVSA_ERR;
    fd = -1;
    tmp[0] = '\0';

    if (snprintf(dir, sizeof(dir), "%s", path) >= (int) sizeof(dir)) {
        return ovsa_err_set(err, OVSA_E_IO, "write %s: path too long", path);
    }

    slash = strrchr(dir, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }

    if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir,
                 slash ? strrchr(path, '/') + 1 : path)
        >= (int) sizeof(tmp))
    {
        return ovsa_err_set(err, OVSA_E_IO, "write %s: path too long", path);
    }

    if ((flags & OVSA_FILE_NOCLOBBER) && access(path, F_OK) == 0) {
        return ovsa_err_set(err, OVSA_E_IO, "write %s: exists, not "
                            "overwritten", path);
    }

    fd = mkstemp(tmp);
    if (fd == -1) {
        ovsa_err_set(err, OVSA_E_IO, "write %s: temporary file: %s", path,
                     strerror(errno));
        tmp[0] = '\0';
        goto end;
    }

    if ((flags & OVSA_FILE_KEEPMODE) && stat(path, &st) == 0
        && S_ISREG(st.st_mode))
    {
        mode = st.st_mode & 07777;

        if ((st.st_uid != geteuid() || st.st_gid != getegid())
            && fchown(fd, st.st_uid, st.st_gid) == -1
            && fchown(fd, (uid_t) -1, st.st_gid) == -1)
        {
            mode &= ~(mode_t) 070;
        }
    }

    if (fchmod(fd, mode) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "write %s: chmod: %s", path,
                     strerror(errno));
        goto end;
    }

    for (off = 0; off < len; off += w) {
        w = write(fd, (const char *) data + off, len - off);
        if (w == -1 && errno == EINTR) {
            w = 0;
            continue;
        }
        if (w == -1) {
            ovsa_err_set(err, OVSA_E_IO, "write %s: %s", path,
                         strerror(errno));
            goto end;
        }
    }

    if (fsync(fd) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "write %s: fsync: %s", path,
                     strerror(errno));
        goto end;
    }

    if (close(fd) == -1) {
        fd = -1;
        ovsa_err_set(err, OVSA_E_IO, "write %s: close: %s", path,
                     strerror(errno));
        goto end;
    }
    fd = -1;

    if (flags & OVSA_FILE_NOCLOBBER) {
        /* link() fails with EEXIST instead of replacing */
        if (link(tmp, path) == -1) {
            ovsa_err_set(err, OVSA_E_IO, "write %s: %s%s", path,
                         strerror(errno),
                         errno == EEXIST ? ", not overwritten" : "");
            goto end;
        }
        unlink(tmp);

    } else if (rename(tmp, path) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "write %s: rename: %s", path,
                     strerror(errno));
        goto end;
    }

    tmp[0] = '\0';
    ovsa_file_sync_dir(dir);
    ret = OVSA_OK;

end:

    if (fd != -1) {
        close(fd);
    }
    if (tmp[0] != '\0') {
        unlink(tmp);
    }
    return ret;
}

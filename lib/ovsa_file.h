/*
 * ovsa_file.h: whole-file reads and crash-safe writes (temporary file in
 * the same directory, fsync, rename, fsync of the directory).
 */

#ifndef OVSA_FILE_H
#define OVSA_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "ovsa_err.h"

#define OVSA_FILE_NOCLOBBER  0x01   /* fail with EEXIST if path exists */
#define OVSA_FILE_KEEPMODE   0x02   /* an existing path keeps its mode */

/*
 * Reads the whole file at path, at most max bytes.  Returns OVSA_OK, a
 * NUL-terminated malloc'ed buffer in *out (caller frees) and its length in
 * *len (may be NULL); or OVSA_ERR with OVSA_E_IO (unreadable or larger
 * than max).
 */
int ovsa_file_read(const char *path, size_t max, char **out, size_t *len,
    ovsa_err_t *err);

/*
 * Writes len bytes of data to path with exactly the given mode (umask is
 * not applied) through a temporary file in the same directory: the old
 * file, if any, stays intact on any failure.  With OVSA_FILE_NOCLOBBER the
 * write fails (OVSA_E_IO, "exists") when path already exists, atomically.
 * With OVSA_FILE_KEEPMODE a file that replaces an existing one gets that
 * file's mode (mode applies only to a new file) and, where the caller may
 * set them, its owner and group; when the group cannot be kept, the group
 * bits are cleared, so the file is never opened to another group.
 * Returns OVSA_OK or OVSA_ERR with OVSA_E_IO.
 */
int ovsa_file_write(const char *path, const void *data, size_t len,
    mode_t mode, int flags, ovsa_err_t *err);

#endif /* OVSA_FILE_H */

/*
 * eio_shim: an LD_PRELOAD library that makes reads of one file fail with EIO,
 * the way a failing disk sector does. Test-only; the extension is unchanged.
 *
 *   WECARE_EIO_FILE=<base name>   the file whose reads fail (matched on the
 *                                 descriptor's /proc/self/fd path)
 *   WECARE_EIO_AFTER=<bytes>      let this many bytes of that file be read
 *                                 first (default 0): set it to what a
 *                                 verification reads and the copy fails
 *   WECARE_EIO_COUNT=<path>       at exit, write the bytes read from that file
 *                                 (how a test measures what verification reads)
 *
 * It interposes read, pread, pread64 and their _FORTIFY_SOURCE variants; both
 * the extension (checksums) and SQLite's unix VFS (pages) read through them.
 * No device-mapper "error" target exists on this machine, so this is the
 * nearest thing to a real I/O error: the same errno at the same call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static atomic_llong served;

static int targeted(int fd) {
    const char* want = getenv("WECARE_EIO_FILE");
    if (!want || !*want) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    const char* base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(base, want) == 0;
}

/* 1 = fail this read now. */
static int should_fail(int fd, size_t count) {
    if (!targeted(fd)) return 0;
    const char* after = getenv("WECARE_EIO_AFTER");
    long long budget = after ? atoll(after) : 0;
    long long before = atomic_fetch_add(&served, (long long)count);
    if (before + (long long)count <= budget) return 0;
    FILE* log = getenv("WECARE_EIO_LOG") ? fopen(getenv("WECARE_EIO_LOG"), "a") : NULL;
    if (log) {
        fprintf(log, "EIO fd=%d count=%zu served=%lld\n", fd, count, before);
        fclose(log);
    }
    return 1;
}

typedef ssize_t (*read_fn)(int, void*, size_t);
typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);
__attribute__((destructor)) static void report_count(void) {
    const char* path = getenv("WECARE_EIO_COUNT");
    if (!path || !*path) return;
    FILE* out = fopen(path, "w");
    if (!out) return;
    fprintf(out, "%lld\n", (long long)atomic_load(&served));
    fclose(out);
}

#define REAL(name, type) static type real_##name; if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t read(int fd, void* buf, size_t count) {
    REAL(read, read_fn);
    if (should_fail(fd, count)) { errno = EIO; return -1; }
    return real_read(fd, buf, count);
}

ssize_t pread(int fd, void* buf, size_t count, off_t offset) {
    REAL(pread, pread_fn);
    if (should_fail(fd, count)) { errno = EIO; return -1; }
    return real_pread(fd, buf, count, offset);
}

ssize_t pread64(int fd, void* buf, size_t count, off_t offset) {
    REAL(pread64, pread_fn);
    if (should_fail(fd, count)) { errno = EIO; return -1; }
    return real_pread64(fd, buf, count, offset);
}

ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
    (void)buflen;
    return read(fd, buf, count);
}

ssize_t __pread_chk(int fd, void* buf, size_t count, off_t offset, size_t buflen) {
    (void)buflen;
    return pread(fd, buf, count, offset);
}

ssize_t __pread64_chk(int fd, void* buf, size_t count, off_t offset, size_t buflen) {
    (void)buflen;
    return pread64(fd, buf, count, offset);
}

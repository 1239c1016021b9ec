/*
 * swap_shim: an LD_PRELOAD library that swaps a file or a directory at the
 * worst moment: right after the process opens (or, with a count, reads) a
 * file whose name matches a pattern. That lands the swap between the
 * extension's check of a file (open, fstat) and its use of it, every time,
 * instead of by luck in a race. Test-only; the extension is unchanged.
 *
 *   WECARE_SWAP_WATCH=<pattern>   fnmatch pattern on the base name of what is
 *                                 opened or read ("wecare_backup_*.db",
 *                                 ".wecare_safety_*")
 *   WECARE_SWAP_ON=open|read|stat trigger after the open returns (default),
 *                                 before the Nth read of a matching file, or
 *                                 before the Nth stat/lstat/fstatat of a
 *                                 matching path
 *   WECARE_SWAP_AFTER=<N>         with read: the read that triggers (1 = the
 *                                 first); with open: the open that triggers
 *   WECARE_SWAP_ACTION=rename     rename(A, B): A replaces B
 *                     =symlink    unlink(B), symlink(A, B): B becomes a link to A
 *                     =dir        rename(B, C), symlink(A, B): the directory
 *                                 B moves to C and a link to A takes its place
 *                     =sleep      sleep A milliseconds: holds the process at
 *                                 that moment (another process acts meanwhile)
 *   WECARE_SWAP_A, _B, _C         the paths
 *   WECARE_SWAP_LOG=<path>        appends one line per swap done (so a test
 *                                 knows the swap happened: never vacuous),
 *                                 and, after a rename or symlink swap, one
 *                                 line "reopened <path>" for every later open
 *                                 of a file named like B (what was swapped:
 *                                 opening it again by name reaches the file
 *                                 put in its place)
 *
 * The swap is done once per process. It interposes open, open64, openat,
 * openat64, read, pread, pread64, stat, lstat, fstatat and the
 * _FORTIFY_SOURCE variants of the reads: SQLite's unix VFS and the extension
 * both go through them (glibc 2.33 and later export the stat functions).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static atomic_int done;
static atomic_long seen;

static const char* env(const char* name) {
    const char* v = getenv(name);
    return v && *v ? v : NULL;
}

static int matches_name(const char* path) {
    const char* want = env("WECARE_SWAP_WATCH");
    if (!want || !path) return 0;
    const char* base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return fnmatch(want, base, 0) == 0;
}

static int matches_fd(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return matches_name(path);
}

static void swap_now(const char* why) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&done, &expected, 1)) return;
    const char* action = env("WECARE_SWAP_ACTION");
    const char* a = env("WECARE_SWAP_A");
    const char* b = env("WECARE_SWAP_B");
    const char* c = env("WECARE_SWAP_C");
    int rc = -1;
    int saved = errno;
    const char* log_path = env("WECARE_SWAP_LOG");
    if (action && a && strcmp(action, "sleep") == 0) {
        if (log_path) { /* says when the pause starts, so another process can act inside it */
            FILE* out = fopen(log_path, "a");
            if (out) {
                fprintf(out, "sleeping %s\n", why);
                fclose(out);
            }
        }
        usleep((useconds_t)atol(a) * 1000);
        rc = 0;
    } else if (action && a && b) {
        if (strcmp(action, "rename") == 0) {
            rc = rename(a, b);
        } else if (strcmp(action, "symlink") == 0) {
            unlink(b);
            rc = symlink(a, b);
        } else if (strcmp(action, "dir") == 0 && c) {
            rc = rename(b, c);
            if (rc == 0) rc = symlink(a, b);
        }
    }
    if (log_path) {
        FILE* out = fopen(log_path, "a");
        if (out) {
            fprintf(out, "%s %s rc=%d\n", action ? action : "-", why, rc);
            fclose(out);
        }
    }
    errno = saved;
}

static long threshold(void) {
    const char* after = env("WECARE_SWAP_AFTER");
    long n = after ? atol(after) : 1;
    return n < 1 ? 1 : n;
}

static int on_read(void) {
    const char* on = env("WECARE_SWAP_ON");
    return on && strcmp(on, "read") == 0;
}

static int on_stat(void) {
    const char* on = env("WECARE_SWAP_ON");
    return on && strcmp(on, "stat") == 0;
}

static const char* base_name(const char* path) {
    const char* slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* After a rename or symlink swap: any open of a file with B's name. */
static void note_reopen(const char* path) {
    const char* action = env("WECARE_SWAP_ACTION");
    const char* b = env("WECARE_SWAP_B");
    const char* log_path = env("WECARE_SWAP_LOG");
    if (!path || !action || !b || !log_path) return;
    if (strcmp(action, "rename") != 0 && strcmp(action, "symlink") != 0) return;
    if (strcmp(base_name(path), base_name(b)) != 0) return;
    FILE* out = fopen(log_path, "a");
    if (out) {
        fprintf(out, "reopened %s\n", path);
        fclose(out);
    }
}

static void after_open(const char* path, int fd) {
    if (atomic_load(&done)) {
        note_reopen(path);
        return;
    }
    if (fd < 0 || on_read() || on_stat() || !matches_name(path)) return;
    if (atomic_fetch_add(&seen, 1) + 1 >= threshold()) swap_now(path);
}

static void before_read(int fd) {
    if (atomic_load(&done) || !on_read() || !matches_fd(fd)) return;
    if (atomic_fetch_add(&seen, 1) + 1 >= threshold()) swap_now("read");
}

static void before_stat(const char* path) {
    if (atomic_load(&done) || !on_stat() || !matches_name(path)) return;
    if (atomic_fetch_add(&seen, 1) + 1 >= threshold()) swap_now("stat");
}

#define REAL(name, type)                                                                           \
    static type real_##name;                                                                       \
    if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef ssize_t (*read_fn)(int, void*, size_t);
typedef ssize_t (*pread_fn)(int, void*, size_t, off_t);
typedef int (*stat_fn)(const char*, struct stat*);
typedef int (*fstatat_fn)(int, const char*, struct stat*, int);

static mode_t mode_of(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char* path, int flags, ...) {
    REAL(open, open_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    int fd = real_open(path, flags, mode);
    after_open(path, fd);
    return fd;
}

int open64(const char* path, int flags, ...) {
    REAL(open64, open_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    int fd = real_open64(path, flags, mode);
    after_open(path, fd);
    return fd;
}

int openat(int dirfd, const char* path, int flags, ...) {
    REAL(openat, openat_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    int fd = real_openat(dirfd, path, flags, mode);
    after_open(path, fd);
    return fd;
}

int openat64(int dirfd, const char* path, int flags, ...) {
    REAL(openat64, openat_fn);
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_of(flags, ap);
    va_end(ap);
    int fd = real_openat64(dirfd, path, flags, mode);
    after_open(path, fd);
    return fd;
}

ssize_t read(int fd, void* buf, size_t count) {
    REAL(read, read_fn);
    before_read(fd);
    return real_read(fd, buf, count);
}

ssize_t pread(int fd, void* buf, size_t count, off_t offset) {
    REAL(pread, pread_fn);
    before_read(fd);
    return real_pread(fd, buf, count, offset);
}

ssize_t pread64(int fd, void* buf, size_t count, off_t offset) {
    REAL(pread64, pread_fn);
    before_read(fd);
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

int stat(const char* path, struct stat* st) {
    REAL(stat, stat_fn);
    before_stat(path);
    return real_stat(path, st);
}

int lstat(const char* path, struct stat* st) {
    REAL(lstat, stat_fn);
    before_stat(path);
    return real_lstat(path, st);
}

int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    REAL(fstatat, fstatat_fn);
    before_stat(path);
    return real_fstatat(dirfd, path, st, flags);
}

/*
** writer.c - a steady OLTP-like writer for the wecare_backup benchmarks.
**
** Usage:
**   writer DB [--seconds N] [--interval-ms N] [--synchronous normal|full]
**          [--autocheckpoint N]
**
** It opens DB in WAL mode (busy timeout 10 s, so it waits rather than fails),
** creates the table bench_writer if needed, then commits one small row every
** interval (default 5 ms) until N seconds have passed (0 = no limit) or it
** receives SIGTERM or SIGINT. At the end it prints one JSON object on stdout:
**
**   {"commits":N,"errors":N,"late_ticks":N,"seconds":S,
**    "p50_ms":X,"p99_ms":X,"max_ms":X,"synchronous":"normal"|"full"}
**
** How it works:
** - Ticks are scheduled on an absolute CLOCK_MONOTONIC timeline, so a slow
**   commit does not shift the later ones. Ticks missed while a commit was
**   blocked are skipped, not replayed in a burst (counted as late_ticks).
** - Latency is the wall time of one autocommit INSERT: lock, write the WAL
**   frame, commit (and fsync when synchronous=full), including the time spent
**   waiting in the busy handler.
** - SIGUSR1 clears the collected latencies, so a driver can start the writer,
**   let it settle, and measure exactly the window it cares about.
** - --autocheckpoint N sets sqlite3_wal_autocheckpoint (0 = off), as an
**   application does on its own connections while continuous capture (the
**   checkpointer) runs on SQLite before 3.51.3; default: SQLite's 1000 pages.
** - "ready" is written to stderr after the first commit: the driver waits for
**   it before starting the operation under test.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t reset_requested = 0;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void on_reset(int sig) {
  (void)sig;
  reset_requested = 1;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Growable array of latencies in milliseconds. */
typedef struct Samples {
  double *v;
  size_t n;
  size_t cap;
} Samples;

static int samples_push(Samples *s, double x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4096;
    double *v = realloc(s->v, cap * sizeof(double));
    if (!v) return -1;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = x;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double percentile(const Samples *s, double p) {
  if (s->n == 0) return 0.0;
  size_t rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > s->n) rank = s->n;
  return s->v[rank - 1];
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s DB [--seconds N] [--interval-ms N] "
          "[--synchronous normal|full] [--autocheckpoint N]\n",
          argv0);
  exit(2);
}

static int exec_or_report(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "writer: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  double seconds = 0.0;
  double interval_ms = 5.0;
  const char *synchronous = "normal";
  int autocheckpoint = -1; /* -1: SQLite's default (1000 pages) */

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc) {
      interval_ms = atof(argv[++i]);
    } else if (strcmp(argv[i], "--synchronous") == 0 && i + 1 < argc) {
      synchronous = argv[++i];
    } else if (strcmp(argv[i], "--autocheckpoint") == 0 && i + 1 < argc) {
      autocheckpoint = atoi(argv[++i]);
    } else if (argv[i][0] == '-' || path) {
      usage(argv[0]);
    } else {
      path = argv[i];
    }
  }
  if (!path || interval_ms <= 0 ||
      (strcmp(synchronous, "normal") != 0 && strcmp(synchronous, "full") != 0))
    usage(argv[0]);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop; /* no SA_RESTART: wake up the sleep at once */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_reset;
  sigaction(SIGUSR1, &sa, NULL);

  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "writer: cannot open \"%s\": %s\n", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 1;
  }
  sqlite3_busy_timeout(db, 10000);
  if (autocheckpoint >= 0) sqlite3_wal_autocheckpoint(db, autocheckpoint);
  char pragma[64];
  snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", synchronous);
  if (exec_or_report(db, "PRAGMA journal_mode=WAL") ||
      exec_or_report(db, pragma) ||
      exec_or_report(db,
                     "CREATE TABLE IF NOT EXISTS bench_writer("
                     "id INTEGER PRIMARY KEY, at REAL NOT NULL, note TEXT)")) {
    sqlite3_close(db);
    return 1;
  }

  sqlite3_stmt *insert = NULL;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO bench_writer(at, note) "
                         "VALUES (?1, 'pulse=72 bp=120/80 spo2=98 ' || ?2)",
                         -1, &insert, NULL) != SQLITE_OK) {
    fprintf(stderr, "writer: prepare: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }

  Samples lat = {0};
  long errors = 0, late_ticks = 0, commits = 0;
  const double interval = interval_ms / 1000.0;
  double start = now_seconds();
  double window_start = start;
  double next_tick = start;
  int announced = 0;

  while (!stop_requested) {
    if (reset_requested) {
      reset_requested = 0;
      lat.n = 0;
      errors = late_ticks = commits = 0;
      window_start = now_seconds();
    }
    double t0 = now_seconds();
    sqlite3_bind_double(insert, 1, t0);
    sqlite3_bind_int64(insert, 2, commits);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    double t1 = now_seconds();
    if (rc == SQLITE_DONE) {
      commits++;
      if (samples_push(&lat, (t1 - t0) * 1000.0)) {
        fprintf(stderr, "writer: out of memory\n");
        break;
      }
      if (!announced) {
        fputs("ready\n", stderr);
        fflush(stderr);
        announced = 1;
      }
    } else {
      errors++;
      fprintf(stderr, "writer: insert failed: %s\n", sqlite3_errmsg(db));
    }
    if (seconds > 0 && t1 - start >= seconds) break;

    next_tick += interval;
    if (next_tick < t1) { /* skip the ticks we slept through */
      long missed = (long)((t1 - next_tick) / interval) + 1;
      late_ticks += missed;
      next_tick += (double)missed * interval;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)next_tick;
    ts.tv_nsec = (long)((next_tick - (double)ts.tv_sec) * 1e9);
    while (!stop_requested && !reset_requested &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
  }
  double elapsed = now_seconds() - window_start;

  sqlite3_finalize(insert);
  sqlite3_close(db);

  qsort(lat.v, lat.n, sizeof(double), cmp_double);
  printf("{\"commits\":%ld,\"errors\":%ld,\"late_ticks\":%ld,\"seconds\":%.3f,"
         "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
         "\"synchronous\":\"%s\"}\n",
         commits, errors, late_ticks, elapsed, percentile(&lat, 50.0),
         percentile(&lat, 99.0), lat.n ? lat.v[lat.n - 1] : 0.0, synchronous);
  free(lat.v);
  return errors ? 3 : 0;
}

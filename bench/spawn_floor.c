// SPDX-License-Identifier: MIT
// The C floor of bench_subprocess spawn: N runs of /bin/true with posix_spawn, PARALLEL at a time,
// reaped with waitpid. No event loop, no pipes: the least a program can do.
// Prints `wall_s=... cpu_s=...` (this process's user+system time).
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char** environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fputs("usage: spawn_floor N PARALLEL\n", stderr);
        return 2;
    }
    int n = atoi(argv[1]), par = atoi(argv[2]), started = 0, running = 0;
    char* args[] = {"/bin/true", NULL};
    double t0 = now(), c0 = cpu();
    while (started < n || running > 0) {
        while (running < par && started < n) {
            pid_t pid;
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) return 1;
            ++started;
            ++running;
        }
        if (waitpid(-1, NULL, 0) > 0) --running;
    }
    printf("wall_s=%.4f cpu_s=%.4f\n", now() - t0, cpu() - c0);
    return 0;
}

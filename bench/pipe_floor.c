// SPDX-License-Identifier: MIT
// The peers of `bench_subprocess pipe`, timed exactly as it times bulb: from just before the
// spawn of `cat FILE` to its reap, wall clock and this process's CPU.
//
//     pipe_floor null FILE                    # cat FILE > /dev/null: the peer
//     pipe_floor pipe FILE [PIPE_SIZE [READ]] # cat FILE into a pipe drained with read(READ bytes)
//                                             # into one buffer: the floor of any pipe reader
//     pipe_floor splice FILE [PIPE_SIZE]      # the same pipe drained by splice() to /dev/null
//
// PIPE_SIZE 0 keeps the kernel's 64 KiB (default 1 MiB, as SubprocessOptions::pipe_size); READ
// defaults to 256 KiB (bulb's read size). Prints `wall_s=... cpu_s=... child_cpu_s=... bytes=...`
// (child_cpu_s: cat's user+system time).
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_of(int who) {
    struct rusage ru;
    getrusage(who, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static pid_t spawn_cat(const char* file, int out_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    char* args[] = {"cat", (char*)file, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "cat", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "pipe_floor: cannot run cat: %s\n", strerror(rc));
        exit(1);
    }
    return pid;
}

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) {
        fputs("usage: pipe_floor null|pipe|splice FILE [PIPE_SIZE [READ]]\n", stderr);
        return 2;
    }
    const char* mode = argv[1];
    const char* file = argv[2];
    long pipe_size = argc > 3 ? atol(argv[3]) : 1024 * 1024;
    size_t read_size = argc > 4 ? (size_t)atol(argv[4]) : 256 * 1024;
    unsigned long long total = 0;
    double t0 = now(), c0 = cpu_of(RUSAGE_SELF);
    pid_t pid;
    if (strcmp(mode, "null") == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        pid = spawn_cat(file, null);
        close(null);
    } else {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) return 1;
        if (pipe_size > 0) fcntl(p[0], F_SETPIPE_SZ, (int)pipe_size);
        pid = spawn_cat(file, p[1]);
        close(p[1]);
        if (strcmp(mode, "splice") == 0) {
            int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
            ssize_t n;
            while ((n = splice(p[0], NULL, null, NULL, 1 << 20, SPLICE_F_MOVE)) > 0) total += (size_t)n;
            close(null);
        } else {
            char* buf = malloc(read_size);
            ssize_t n;
            while ((n = read(p[0], buf, read_size)) > 0) total += (size_t)n;
            free(buf);
        }
        close(p[0]);
    }
    int status;
    waitpid(pid, &status, 0);
    double wall = now() - t0;
    printf("wall_s=%.4f cpu_s=%.4f child_cpu_s=%.4f bytes=%llu\n", wall, cpu_of(RUSAGE_SELF) - c0,
           cpu_of(RUSAGE_CHILDREN), total);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

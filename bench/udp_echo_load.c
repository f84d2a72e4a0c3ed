// SPDX-License-Identifier: MIT
// udp_echo_load: request/response load on a UDP echo server over loopback. CLIENTS connected
// UDP sockets in one epoll thread; each sends a SIZE-byte datagram and sends the next as soon as
// its echo came back (one outstanding per client). A reply missing for 200 ms is counted lost
// and the client sends again. Runs WARMUP then DURATION seconds; prints
// "requests N lost L seconds S" for the measured part.
//
//     udp_echo_load --port N [--host H] [--clients C] [--size B] [--duration S] [--warmup S]
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 0, clients = 1, size = 64;
    double duration = 2, warmup = 0.5;
    for (int i = 1; i < argc; ++i) {
        if (i + 1 >= argc) goto usage;
        if (!strcmp(argv[i], "--host")) host = argv[++i];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--clients")) clients = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--duration")) duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atof(argv[++i]);
        else goto usage;
    }
    if (port <= 0 || clients <= 0 || size < 0 || size > 65507) goto usage;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    int ep = epoll_create1(0);
    int* fds = calloc((size_t)clients, sizeof(int));
    double* sent_at = calloc((size_t)clients, sizeof(double));
    char* msg = malloc((size_t)size + 1);
    memset(msg, 'x', (size_t)size);
    static char buf[65536];
    for (int i = 0; i < clients; ++i) {
        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (connect(fds[i], (struct sockaddr*)&a, sizeof a) != 0) return perror("connect"), 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
        send(fds[i], msg, (size_t)size, 0);
        sent_at[i] = now();
    }
    double start = now(), measure_from = start + warmup, end = measure_from + duration;
    unsigned long long requests = 0, lost = 0;
    double last_check = start;
    for (;;) {
        double t = now();
        if (t >= end) break;
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 50);
        t = now();
        for (int k = 0; k < n; ++k) {
            int i = (int)evs[k].data.u32;
            while (recv(fds[i], buf, sizeof buf, 0) >= 0) {
                if (t >= measure_from) ++requests;
                send(fds[i], msg, (size_t)size, 0);
                sent_at[i] = t;
            }
        }
        if (t - last_check > 0.1) {
            last_check = t;
            for (int i = 0; i < clients; ++i)
                if (t - sent_at[i] > 0.2) {
                    if (t >= measure_from) ++lost;
                    send(fds[i], msg, (size_t)size, 0);
                    sent_at[i] = t;
                }
        }
    }
    printf("requests %llu lost %llu seconds %.3f\n", requests, lost, duration);
    return 0;
usage:
    fprintf(stderr, "usage: udp_echo_load --port N [--host H] [--clients C] [--size B] [--duration S] [--warmup S]\n");
    return 2;
}

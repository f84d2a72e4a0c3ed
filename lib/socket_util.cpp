// SPDX-License-Identifier: MIT
/// @file
/// Socket helpers.
#include "socket_util.hpp"

#include <bulb/error.hpp>
#include <bulb/options.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bulb::detail {

int open_stream_socket(int family) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(last_error(), "socket()");
    return fd;
}

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw Error(last_error(), "fcntl(O_NONBLOCK)");
}

void set_nodelay(int fd) noexcept {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix sockets
}

namespace {

/// Whole seconds, rounded up (the kernel's keepalive unit).
long long ceil_seconds(Duration d) { return std::chrono::ceil<std::chrono::seconds>(d).count(); }

void check_range(const char* who, const char* what, long long value, long long max) {
    if (value < 0 || value > max)
        throw std::invalid_argument(std::string(who) + ": keep_alive." + what + " out of range (0.." +
                                    std::to_string(max) + ", 0 for the system default): " + std::to_string(value));
}

}  // namespace

void check_keep_alive(const KeepAlive& k, const char* who) {
    check_range(who, "idle (seconds)", ceil_seconds(k.idle), 32767);  // the kernel's MAX_TCP_KEEPIDLE
    check_range(who, "interval (seconds)", ceil_seconds(k.interval), 32767);
    check_range(who, "count", k.count, 127);
    check_range(who, "user_timeout (ms)", std::chrono::ceil<std::chrono::milliseconds>(k.user_timeout).count(), INT32_MAX);
}

void set_keep_alive(int fd, const KeepAlive& k) {
    int domain = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) throw Error(last_error(), "getsockopt(SO_DOMAIN)");
    if (domain != AF_INET && domain != AF_INET6) return;  // TCP only
    auto set = [fd](int level, int name, long long value, const char* what) {
        int v = static_cast<int>(value);
        if (setsockopt(fd, level, name, &v, sizeof v) != 0)
            throw Error(last_error(), std::string("keep_alive: setsockopt(") + what + ", " + std::to_string(v) + ")");
    };
    set(SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    if (k.idle > Duration::zero()) set(IPPROTO_TCP, TCP_KEEPIDLE, ceil_seconds(k.idle), "TCP_KEEPIDLE");
    if (k.interval > Duration::zero()) set(IPPROTO_TCP, TCP_KEEPINTVL, ceil_seconds(k.interval), "TCP_KEEPINTVL");
    if (k.count > 0) set(IPPROTO_TCP, TCP_KEEPCNT, k.count, "TCP_KEEPCNT");
    if (k.user_timeout > Duration::zero())
        set(IPPROTO_TCP, TCP_USER_TIMEOUT, std::chrono::ceil<std::chrono::milliseconds>(k.user_timeout).count(),
            "TCP_USER_TIMEOUT");
}

SocketAddress local_address(int fd) {
    SocketAddress a;
    socklen_t len = a.capacity();
    if (getsockname(fd, a.data(), &len) != 0) return {};
    a.set_size(len);
    return a;
}

SocketAddress peer_address(int fd) {
    SocketAddress a;
    socklen_t len = a.capacity();
    if (getpeername(fd, a.data(), &len) != 0) return {};
    a.set_size(len);
    return a;
}

void close_with_reset(int fd) noexcept {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
}

}  // namespace bulb::detail

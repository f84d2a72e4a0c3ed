// SPDX-License-Identifier: MIT
/// @file
/// Socket helpers.
#include "socket_util.hpp"

#include <bulb/error.hpp>

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

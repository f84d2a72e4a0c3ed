// SPDX-License-Identifier: MIT
/// @file
/// Helpers of the LoopGroup tests: waiting on a condition with a bound, and loopback clients.
#pragma once

#include <bulb/bulb.hpp>
#include <bulb/loop_group.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

namespace group_test {

/// Polls `done()` every millisecond for up to `limit`; returns whether it held.
template <class Pred>
bool wait_for(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace group_test

#include <cerrno>
#include <string>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace group_test {

/// A blocking loopback client with a 5 s receive timeout; -1 when connect fails (errno set).
inline int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/// Sends `msg` and reads back as many bytes (less on EOF or timeout).
inline std::string round_trip(int fd, const std::string& msg) {
    if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) return {};
    std::string got;
    char buf[4096];
    while (got.size() < msg.size()) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

/// Reads until EOF, an error or the timeout: true on a clean EOF or a reset (the peer closed).
inline bool sees_close(int fd) {
    char buf[256];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
}

}  // namespace group_test

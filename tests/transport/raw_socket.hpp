// SPDX-License-Identifier: MIT
/// @file
/// Raw POSIX sockets for the transport tests: a peer independent of bulb (blocking, usually on a
/// std::jthread with receive/send timeouts so a hang fails instead of blocking), byte patterns to
/// check streams, and a "black hole" listener whose full backlog leaves connects pending.
#pragma once

#include <bulb/address.hpp>
#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bulb_transport_test {

/// An owned descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// Receive and send timeouts on a blocking socket (a stuck peer thread fails, never hangs).
inline void set_io_timeouts(int fd, std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// The local address of a socket.
inline bulb::SocketAddress sockname(int fd) {
    bulb::SocketAddress a;
    socklen_t len = a.capacity();
    ::getsockname(fd, a.data(), &len);
    a.set_size(len);
    return a;
}

/// A blocking listening socket on `host`:`port` (port 0: any).
inline Fd raw_listen(const std::string& host, std::uint16_t port = 0, int backlog = 16) {
    auto addr = bulb::SocketAddress::from_ip(host, port);
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr.family() == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    REQUIRE_MESSAGE(::bind(fd.get(), addr.data(), addr.size()) == 0, "bind ", addr.to_string(), ": ", std::strerror(errno));
    REQUIRE(::listen(fd.get(), backlog) == 0);
    return fd;
}

/// A blocking client connected to `addr` (with 10 s I/O timeouts).
inline Fd raw_connect(const bulb::SocketAddress& addr) {
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    REQUIRE_MESSAGE(::connect(fd.get(), addr.data(), addr.size()) == 0, "connect ", addr.to_string(), ": ",
                    std::strerror(errno));
    set_io_timeouts(fd.get(), std::chrono::seconds(10));
    return fd;
}

/// accept() with a timeout; an invalid Fd when nothing arrived in time.
inline Fd raw_accept(int listen_fd, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return Fd();
    Fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (fd) set_io_timeouts(fd.get(), std::chrono::seconds(10));
    return fd;
}

/// Closes so the peer sees a reset (SO_LINGER 0).
inline void close_with_rst(Fd& fd) {
    linger lg{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fd.reset();
}

/// The byte at absolute position `i` of the test stream (not periodic over small spans).
inline char pattern_byte(std::size_t i) {
    return static_cast<char>((i + (i >> 8) * 3 + (i >> 16) * 7 + (i >> 24) * 13) & 0xff);
}
/// `n` bytes of the test stream starting at `offset`.
inline std::string pattern(std::size_t n, std::size_t offset = 0) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = pattern_byte(offset + i);
    return s;
}
/// Where `data` (stream position `offset` onwards) first differs from the pattern, or npos.
inline std::size_t pattern_mismatch(const char* data, std::size_t n, std::size_t offset = 0) {
    for (std::size_t i = 0; i < n; ++i)
        if (data[i] != pattern_byte(offset + i)) return offset + i;
    return std::string::npos;
}

/// Sends everything (blocking); false on error.
inline bool send_all(int fd, const void* data, std::size_t n) {
    auto* p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}
inline bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

/// What a reading peer saw until the stream ended.
struct ReadResult {
    std::size_t bytes = 0;
    bool eof = false;        // recv returned 0
    int error = 0;           // errno of the failing recv (EAGAIN: timed out)
    std::string data;        // when kept
    std::size_t mismatch = std::string::npos;  // first byte differing from pattern(), when checked
};

struct ReadOptions {
    bool keep = false;           // keep the bytes in ReadResult::data
    bool check_pattern = false;  // compare with pattern() as the bytes arrive
    std::size_t chunk = 256 * 1024;
    std::chrono::microseconds pause{0};  // sleep between reads (a slow reader)
    std::size_t stop_after = SIZE_MAX;   // stop reading (without EOF) once this many bytes came
};

/// Reads (blocking, with the socket's timeouts) until EOF, an error, or `stop_after` bytes.
inline ReadResult read_to_end(int fd, const ReadOptions& o = {}) {
    ReadResult r;
    std::vector<char> buf(o.chunk);
    while (r.bytes < o.stop_after) {
        ssize_t n = ::recv(fd, buf.data(), std::min(buf.size(), o.stop_after - r.bytes), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            r.eof = true;
            break;
        }
        if (n < 0) {
            r.error = errno;
            break;
        }
        if (o.check_pattern && r.mismatch == std::string::npos)
            r.mismatch = pattern_mismatch(buf.data(), static_cast<std::size_t>(n), r.bytes);
        if (o.keep) r.data.append(buf.data(), static_cast<std::size_t>(n));
        r.bytes += static_cast<std::size_t>(n);
        if (o.pause.count() > 0) std::this_thread::sleep_for(o.pause);
    }
    return r;
}

/// A listener whose accept queue is full and never drained: a further connect to it stays
/// pending (its SYNs are dropped), like a host that black-holes packets.
struct BlackHole {
    Fd listener;
    std::vector<Fd> fillers;
    bulb::SocketAddress addr;

    explicit BlackHole(const std::string& host, std::uint16_t port = 0) {
        listener = raw_listen(host, port, 0);
        addr = sockname(listener.get());
        // Connect until one stays pending: then the queue is full.
        for (int i = 0; i < 16; ++i) {
            Fd c(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            REQUIRE(c);
            int rc = ::connect(c.get(), addr.data(), addr.size());
            bool pending = rc != 0 && errno == EINPROGRESS;
            if (pending) {
                pollfd p{c.get(), POLLOUT, 0};
                pending = ::poll(&p, 1, 100) == 0;
            }
            fillers.push_back(std::move(c));
            if (pending) return;
        }
        FAIL("could not fill the backlog of a listener on " << addr.to_string());
    }
};

/// True when this host can use IPv6 loopback (::1).
inline bool ipv6_loopback_available() {
    Fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    auto a = bulb::SocketAddress::from_ip("::1", 0);
    return ::bind(fd.get(), a.data(), a.size()) == 0;
}

/// Skips the rest of a test case visibly when IPv6 loopback is missing.
#define BULB_REQUIRE_IPV6()                                                              \
    do {                                                                                 \
        if (!::bulb_transport_test::ipv6_loopback_available()) {                         \
            MESSAGE("SKIPPED: IPv6 loopback (::1) is not available on this host");       \
            return;                                                                      \
        }                                                                                \
    } while (0)

}  // namespace bulb_transport_test

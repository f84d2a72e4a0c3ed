// SPDX-License-Identifier: MIT
/// @file
/// echo_stress: holds N connections to an echo server open at once and checks every echo.
///
///     echo_stress --port PORT [--host 127.0.0.1] [--conns 10000] [--window 100] [--deadline 60]
///
/// Deliberately independent of bulb (raw epoll, non-blocking sockets), so it tests the server and
/// not the library against itself. Three phases, each over every connection:
///  1. open: at most --window connections are connecting or awaiting their first echo at a time
///     (so the server's listen backlog never overflows); each sends a unique line and must get
///     exactly that line back before it counts as open. All N stay open.
///  2. echo: every connection sends a second, longer unique message at once (N echoes in flight
///     together), and each must come back whole and unchanged.
///  3. close: every connection half-closes; the server must answer each with EOF (a clean close,
///     not a reset).
/// Raises its own RLIMIT_NOFILE soft limit to the hard limit. Exit 0 on success, 1 on any wrong
/// echo, error or missed deadline (the message says which connection and why), 2 on bad usage.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

enum class State { idle, connecting, first_echo, open, second_echo, echoed, closing, closed };

struct Conn {
    int fd = -1;
    State state = State::idle;
    std::string expect;    // the message in flight
    std::size_t sent = 0;  // bytes of `expect` sent
    std::string got;       // bytes received for it
};

[[noreturn]] void fail(const char* fmt, auto... args) {
    std::fprintf(stderr, "echo_stress: ");
    std::fprintf(stderr, fmt, args...);
    std::fputc('\n', stderr);
    std::exit(1);
}

[[noreturn]] void usage() {
    std::fputs("usage: echo_stress --port PORT [--host 127.0.0.1] [--conns N] [--window W] [--deadline SECONDS]\n",
               stderr);
    std::exit(2);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class Stress {
public:
    Stress(sockaddr_in addr, int conns, int window, double deadline)
        : addr_(addr), conns_(conns), window_(window), deadline_(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                                      std::chrono::duration<double>(deadline))) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) fail("epoll_create1: %s", std::strerror(errno));
        c_.resize(static_cast<std::size_t>(conns));
        std::mt19937_64 rng(std::random_device{}());
        token_.resize(static_cast<std::size_t>(conns));
        for (auto& t : token_) t = rng();
    }

    void run() {
        auto t0 = Clock::now();
        // 1. open, at most window_ at a time.
        int next = 0, pending = 0;
        while (opened_ < conns_) {
            while (pending < window_ && next < conns_) {
                start_connect(next++);
                ++pending;
            }
            int before = opened_;
            poll_once();
            pending -= opened_ - before;
        }
        double t_open = seconds_since(t0);

        // 2. a second message on every connection, all in flight together.
        auto t1 = Clock::now();
        for (int i = 0; i < conns_; ++i) {
            Conn& c = c_[static_cast<std::size_t>(i)];
            c.state = State::second_echo;
            c.expect = message(i, 2);
            c.sent = 0;
            c.got.clear();
            send_some(i);
        }
        while (echoed_ < conns_) poll_once();
        double t_echo = seconds_since(t1);

        // 3. half-close every connection; the server must close each one cleanly.
        auto t2 = Clock::now();
        for (int i = 0; i < conns_; ++i) {
            Conn& c = c_[static_cast<std::size_t>(i)];
            c.state = State::closing;
            if (::shutdown(c.fd, SHUT_WR) != 0) fail("connection %d: shutdown: %s", i, std::strerror(errno));
            watch(i, EPOLLIN);
        }
        while (closed_ < conns_) poll_once();
        double t_close = seconds_since(t2);

        std::printf("echo_stress: %d connections open at once, each echoed 2 unique messages, each closed "
                    "cleanly by the server\n",
                    conns_);
        std::printf("echo_stress: open+first echo %.2f s (window %d), %d concurrent echoes %.2f s, closes %.2f s, "
                    "total %.2f s\n",
                    t_open, window_, conns_, t_echo, t_close, seconds_since(t0));
    }

private:
    // Unique per connection and phase: index, phase and a random token; phase 2 is longer.
    std::string message(int i, int phase) {
        char line[96];
        std::snprintf(line, sizeof line, "conn %05d msg %d token %016llx\n", i, phase,
                      static_cast<unsigned long long>(token_[static_cast<std::size_t>(i)] + static_cast<unsigned>(phase)));
        std::string m = line;
        if (phase == 2)
            for (int k = 0; k < 7; ++k) m += line;  // ~350 bytes
        return m;
    }

    void watch(int i, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (epoll_ctl(ep_, EPOLL_CTL_MOD, c_[static_cast<std::size_t>(i)].fd, &ev) != 0)
            fail("connection %d: epoll_ctl: %s", i, std::strerror(errno));
    }

    void start_connect(int i) {
        Conn& c = c_[static_cast<std::size_t>(i)];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) fail("connection %d: socket: %s", i, std::strerror(errno));
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0 && errno != EINPROGRESS)
            fail("connection %d: connect: %s", i, std::strerror(errno));
        c.state = State::connecting;
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) fail("connection %d: epoll_ctl: %s", i, std::strerror(errno));
    }

    void send_some(int i) {
        Conn& c = c_[static_cast<std::size_t>(i)];
        while (c.sent < c.expect.size()) {
            ssize_t n = ::send(c.fd, c.expect.data() + c.sent, c.expect.size() - c.sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) break;
            if (n < 0) fail("connection %d: send: %s", i, std::strerror(errno));
            c.sent += static_cast<std::size_t>(n);
        }
        watch(i, c.sent < c.expect.size() ? EPOLLIN | EPOLLOUT : EPOLLIN);
    }

    void poll_once() {
        int timeout_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count());
        if (timeout_ms <= 0) report_deadline();
        epoll_event evs[256];
        int n = epoll_wait(ep_, evs, 256, timeout_ms);
        if (n < 0 && errno != EINTR) fail("epoll_wait: %s", std::strerror(errno));
        for (int k = 0; k < n; ++k) on_event(static_cast<int>(evs[k].data.u32), evs[k].events);
    }

    void on_event(int i, std::uint32_t events) {
        Conn& c = c_[static_cast<std::size_t>(i)];
        if (c.state == State::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) fail("connection %d: connect: %s", i, std::strerror(err));
            c.state = State::first_echo;
            c.expect = message(i, 1);
            c.sent = 0;
            send_some(i);
            return;
        }
        if ((events & EPOLLOUT) && c.sent < c.expect.size()) send_some(i);
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) receive(i);
    }

    void receive(int i) {
        Conn& c = c_[static_cast<std::size_t>(i)];
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EAGAIN) return;
            if (n < 0) fail("connection %d: recv (%s): %s", i, state_name(c.state), std::strerror(errno));
            if (n == 0) {
                if (c.state != State::closing)
                    fail("connection %d: the server closed it early (%s, %zu of %zu bytes back)", i, state_name(c.state),
                         c.got.size(), c.expect.size());
                ::close(c.fd);
                c.fd = -1;
                c.state = State::closed;
                ++closed_;
                return;
            }
            if (c.state == State::closing) fail("connection %d: %zd unexpected bytes after the last echo", i, n);
            c.got.append(buf, static_cast<std::size_t>(n));
            if (c.got.size() > c.expect.size() || c.expect.compare(0, c.got.size(), c.got) != 0)
                fail("connection %d: wrong echo (%s): expected %.60s... got %.60s...", i, state_name(c.state),
                     c.expect.c_str(), c.got.c_str());
            if (c.got.size() == c.expect.size()) {
                if (c.state == State::first_echo) {
                    c.state = State::open;
                    ++opened_;
                } else if (c.state == State::second_echo) {
                    c.state = State::echoed;
                    ++echoed_;
                }
            }
        }
    }

    static const char* state_name(State s) {
        switch (s) {
            case State::idle: return "idle";
            case State::connecting: return "connecting";
            case State::first_echo: return "first echo";
            case State::open: return "open";
            case State::second_echo: return "second echo";
            case State::echoed: return "echoed";
            case State::closing: return "closing";
            case State::closed: return "closed";
        }
        return "?";
    }

    [[noreturn]] void report_deadline() {
        fail("deadline reached: %d of %d opened, %d of %d echoed, %d of %d closed", opened_, conns_, echoed_, conns_,
             closed_, conns_);
    }

    sockaddr_in addr_;
    int conns_, window_;
    Clock::time_point deadline_;
    int ep_ = -1;
    std::vector<Conn> c_;
    std::vector<std::uint64_t> token_;
    int opened_ = 0, echoed_ = 0, closed_ = 0;
};

long number(const char* s, long lo, long hi) {
    char* end;
    long v = std::strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) usage();
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    long port = -1, conns = 10000, window = 100;
    double deadline = 60;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (i + 1 >= argc) usage();
        const char* v = argv[++i];
        if (a == "--port") port = number(v, 1, 65535);
        else if (a == "--host") host = v;
        else if (a == "--conns") conns = number(v, 1, 1'000'000);
        else if (a == "--window") window = number(v, 1, 100'000);
        else if (a == "--deadline") deadline = static_cast<double>(number(v, 1, 3600));
        else usage();
    }
    if (port < 0) usage();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage();

    rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("setrlimit: %s", std::strerror(errno));
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < static_cast<rlim_t>(conns) + 16)
        fail("the descriptor limit (%llu) is too small for %ld connections", static_cast<unsigned long long>(rl.rlim_cur),
             conns);

    Stress(addr, static_cast<int>(conns), static_cast<int>(window), deadline).run();
}

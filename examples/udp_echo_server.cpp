// SPDX-License-Identifier: MIT
/// @file
/// A UDP (or Unix datagram) echo server on the callback API: every datagram goes back to its
/// sender, whole.
///
///     udp_echo_server [--host HOST] [--port PORT] [--unix PATH] [--coro]
///
/// --coro serves with the coroutine DatagramSocket (co_await recv_from / send_to) instead of a
/// DatagramProtocol.
///
/// Binds 127.0.0.1:9999 by default (--port 0: any free port) or a Unix datagram socket, prints
/// "listening on ADDRESS", and on Ctrl-C or SIGTERM sends what it still queues (for up to 5 s),
/// prints "received N sent M errors E" and exits 0. Datagrams the kernel dropped because the
/// receive queue was full are not seen here: its own counter has them (/proc/net/udp "drops").

#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <sys/socket.h>

/// What the server counted; kept by main (the protocol dies with its endpoint).
struct Stats {
    std::uint64_t received = 0, sent = 0, errors = 0;
};

/// Echoes each datagram; counts what it saw. While the send queue is above its high-water mark
/// the echoes still queue (bounded by what the kernel lets arrive), as asyncio's echo does.
class UdpEcho : public bulb::DatagramProtocol {
public:
    UdpEcho(Stats& stats, bulb::Future<void> lost) : st_(stats), lost_(std::move(lost)) {}

    void connection_made(bulb::DatagramTransport& t) override { transport_ = &t; }
    void datagram_received(bulb::ByteView data, const bulb::SocketAddress& from) override {
        ++st_.received;
        if (from.family() == AF_UNIX && from.host().empty()) {
            ++st_.errors;  // an unnamed Unix sender cannot be answered
            return;
        }
        transport_->sendto(data, from);
        ++st_.sent;
    }
    void connection_lost(std::error_code) override { lost_.set_result(); }
    void error_received(std::error_code ec, const bulb::SocketAddress& addr) override {
        ++st_.errors;
        std::fprintf(stderr, "udp_echo_server: %s: %s\n", addr.to_string().c_str(), ec.message().c_str());
    }

private:
    Stats& st_;
    bulb::Future<void> lost_;
    bulb::DatagramTransport* transport_ = nullptr;
};

struct Settings {
    std::string host = "127.0.0.1", unix_path;
    std::uint16_t port = 9999;
    bool coro = false;
};

// The same with the coroutine DatagramSocket: one task receives and answers in turn.
static bulb::Task<void> echo_task(bulb::DatagramSocket sock, Stats& st) {
    for (;;) {
        bulb::Datagram d;
        try {
            d = co_await sock.recv_from();
        } catch (const bulb::Error& e) {
            if (e.code() == bulb::errc::transport_closed) co_return;
            ++st.errors;
            std::fprintf(stderr, "udp_echo_server: %s\n", e.what());
            continue;
        }
        ++st.received;
        if (d.addr.family() == AF_UNIX && d.addr.host().empty()) {
            ++st.errors;  // an unnamed Unix sender cannot be answered
            continue;
        }
        if (sock.is_closing()) continue;  // shutting down: what is still queued is not answered
        bulb::ByteView bytes = bulb::as_bytes(d.data);
        co_await sock.send_to(bytes, d.addr);
        ++st.sent;
    }
}

static void serve_coro(const Settings& s, const bulb::DatagramEndpointOptions& options) {
    bulb::EventLoop loop;
    Stats stats;
    bulb::DatagramSocketOptions queue{.max_queued = 4096};
    auto sock = loop.run_until_complete(bulb::create_task(loop, bulb::open_datagram_endpoint(options, queue)));
    int rcvbuf = 4 << 20;
    setsockopt(sock.transport()->get_fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    auto task = bulb::create_task(loop, echo_task(sock, stats));
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    std::printf("listening on %s\n", sock.get_sockname().to_string().c_str());
    std::fflush(stdout);
    loop.run_forever();
    sock.close();  // the task drains what is queued, then sees the socket closed
    loop.run_until_complete(task);
    std::printf("received %llu sent %llu errors %llu dropped %zu\n", static_cast<unsigned long long>(stats.received),
                static_cast<unsigned long long>(stats.sent), static_cast<unsigned long long>(stats.errors),
                sock.dropped());
    std::fflush(stdout);
    loop.close();
    (void)s;
}

[[noreturn]] static void usage(const char* bad = nullptr) {
    if (bad) std::fprintf(stderr, "udp_echo_server: unknown or incomplete option '%s'\n", bad);
    std::fprintf(stderr, "usage: udp_echo_server [--host HOST] [--port PORT] [--unix PATH] [--coro]\n");
    std::exit(2);
}

static void serve(const Settings& s) {
    bulb::DatagramEndpointOptions options;
    if (s.unix_path.empty())
        options.local_addr = bulb::HostPort{s.host, s.port};
    else
        options.local_path = s.unix_path;
    if (s.coro) return serve_coro(s, options);
    bulb::EventLoop loop;
    Stats stats;
    bulb::Future<void> lost(loop);
    auto endpoint = loop.run_until_complete(
        loop.create_datagram_endpoint([&] { return std::make_unique<UdpEcho>(stats, lost); }, options));
    // A large receive queue: bursts are absorbed rather than dropped.
    int rcvbuf = 4 << 20;
    setsockopt(endpoint.transport->get_fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    std::printf("listening on %s\n", endpoint.transport->get_sockname().to_string().c_str());
    std::fflush(stdout);
    loop.run_forever();

    endpoint.transport->close();  // sends what is queued, then connection_lost
    auto give_up = loop.call_later(std::chrono::seconds(5), [&] { endpoint.transport->abort(); });
    loop.run_until_complete(lost);
    give_up.cancel();
    std::printf("received %llu sent %llu errors %llu\n", static_cast<unsigned long long>(stats.received),
                static_cast<unsigned long long>(stats.sent), static_cast<unsigned long long>(stats.errors));
    std::fflush(stdout);
    loop.close();
}

int main(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--coro") {
            s.coro = true;
            continue;
        }
        if (i + 1 >= argc) usage(argv[i]);
        if (arg == "--host") {
            s.host = argv[++i];
        } else if (arg == "--unix") {
            s.unix_path = argv[++i];
        } else if (arg == "--port") {
            char* end;
            long p = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p < 0 || p > 65535) usage(argv[i - 1]);
            s.port = static_cast<std::uint16_t>(p);
        } else {
            usage(argv[i]);
        }
    }
    try {
        serve(s);
    } catch (const std::exception& e) {  // the address is in use, does not resolve, ...
        std::fprintf(stderr, "udp_echo_server: %s\n", e.what());
        return 1;
    }
}

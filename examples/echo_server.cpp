// SPDX-License-Identifier: MIT
/// @file
/// An echo server: every byte a client sends comes back. Two styles side by side: the callback
/// API (a Protocol, the default) and coroutine streams (--streams); either one over TLS.
///
///     echo_server [--host HOST] [--port PORT] [--unix PATH] [--streams] [--idle-timeout SECONDS]
///                 [--tls-cert FILE --tls-key FILE]
///
/// --idle-timeout closes a connection that has neither sent nor been sent anything for that
/// long (default 0: never); with unsent echoes queued (the client stopped reading) it is reset.
///
/// Listens on 127.0.0.1:8888 by default (--port 0: any free port) or on a Unix socket, prints
/// one "listening on ADDRESS" line per socket, and on Ctrl-C or SIGTERM closes the server and
/// its connections (each one sends what it still buffers) and exits 0.

#include "tls_flags.hpp"

#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <bulb/coro/group_streams.hpp>
#include <bulb/group_server.hpp>
#include <bulb/loop_group.hpp>

#include <atomic>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <sys/resource.h>

/// --idle-timeout in effect (zero: none).
static bulb::Duration idle_timeout{};

/// Ends an idle connection: gracefully, unless echoes are stuck in its buffer.
static void end_idle(bulb::Transport& t) {
    if (t.get_write_buffer_size() > 0)
        t.abort();
    else
        t.close();
}

class Echo : public bulb::Protocol {
    bulb::Transport* transport_ = nullptr;
    std::optional<bulb::IdleTimer> idle_;  // with --idle-timeout

public:
    void connection_made(bulb::Transport& t) override {
        transport_ = &t;
        if (idle_timeout > bulb::Duration::zero()) {
            idle_.emplace(t.get_loop(), idle_timeout, [this](bulb::Idle) {
                idle_->stop();
                end_idle(*transport_);
            });
            idle_->start();
        }
    }
    void data_received(bulb::ByteView data) override {
        if (idle_) idle_->on_read();  // an echo is a write too: "all" idleness covers both
        transport_->write(data);
    }
    void connection_lost(std::error_code) override {
        if (idle_) idle_->stop();
    }
    // Backpressure: a client that sends but does not read stops being read from.
    void pause_writing() override { transport_->pause_reading(); }
    void resume_writing() override { transport_->resume_reading(); }
    // eof_received() returns false by default: the transport closes once the echoes are sent.
};

// The same with streams: read what is there, write it back, wait while the client lags.
static bulb::Task<> echo_stream(bulb::StreamReader reader, bulb::StreamWriter writer) {
    bulb::IdleTimer idle(bulb::get_running_loop(), idle_timeout, [&writer, &idle](bulb::Idle) {
        idle.stop();
        end_idle(writer.transport());  // the pending read or drain then ends
    });
    idle.start();  // not with a zero --idle-timeout
    try {
        for (;;) {
            std::string data = co_await reader.read(64 * 1024);
            if (data.empty()) break;  // EOF
            idle.on_read();
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const bulb::Error&) {  // reset by the client: nothing left to send
    }
    writer.close();
}

struct Settings {
    std::string host = "127.0.0.1", unix_path;
    std::uint16_t port = 8888;
    bool streams = false;
    std::size_t workers = 0;  // --workers N: N loops (threads) sharing the port; 0: one loop
    TlsFlags tls;
};

// Each connection is a descriptor: allow as many as the hard limit does.
static void raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

[[noreturn]] static void usage(const char* bad = nullptr) {
    if (bad) std::fprintf(stderr, "%s: %s: unknown option, or a missing or bad value\n", "echo_server", bad);
    std::fprintf(stderr, "usage: echo_server [--host HOST] [--port PORT] [--unix PATH] [--streams] [--idle-timeout SECONDS] [--workers N] %s\n",
                 TlsFlags::server_usage);
    std::exit(2);
}

static bulb::Server listen(bulb::EventLoop& loop, const Settings& s) {
    if (s.streams) {
        bulb::StreamOptions options;
        options.server.tls = s.tls.server_context();
        auto start = [&]() -> bulb::Task<bulb::Server> {
            if (s.unix_path.empty()) co_return co_await bulb::start_server(echo_stream, s.host, s.port, options);
            co_return co_await bulb::start_unix_server(echo_stream, s.unix_path, options);
        };
        return loop.run_until_complete(bulb::create_task(loop, start()));
    }
    bulb::ServerOptions options;
    options.tls = s.tls.server_context();
    auto factory = [] { return std::make_unique<Echo>(); };
    return loop.run_until_complete(s.unix_path.empty() ? loop.create_server(factory, s.host, s.port, options)
                                                        : loop.create_unix_server(factory, s.unix_path, options));
}

// The API-SKETCH server, plus a listening line and a graceful shutdown.
static void serve(const Settings& s) {
    bulb::EventLoop loop;
    bulb::Server server = listen(loop, s);
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    const char* kind = s.tls.cert.empty() ? "" : " (TLS)";
    for (auto& address : server.sockets()) std::printf("listening on %s%s\n", address.to_string().c_str(), kind);
    std::fflush(stdout);  // after the handlers: whoever reads this line may signal at once
    loop.run_forever();

    // Shutting down: a second signal kills at once; clients that do not read are cut after 5 s.
    loop.remove_signal_handler(SIGINT);
    loop.remove_signal_handler(SIGTERM);
    server.close();
    server.close_clients();
    loop.call_later(std::chrono::seconds(5), [&] { server.abort_clients(); });
    loop.run_until_complete(server.wait_closed());
    loop.close();
}

// --workers N: a loop per thread, each with its own SO_REUSEPORT listener (a connection stays
// on the loop that accepted it). A signal, handled once on loop 0, closes the server and its
// connections on every loop; clients that do not read are cut after 5 s.
static void serve_workers(const Settings& s) {
    bulb::LoopGroup group({.loops = s.workers});
    std::optional<bulb::GroupServer> server;
    std::atomic<bool> ready{false};
    auto shut_down = [&] {
        if (!ready.load()) return;
        server->close();
        server->close_clients();
        group.loop(0).call_later(std::chrono::seconds(5), [&] { server->abort_clients(); });
    };
    group.add_signal_handler(SIGINT, shut_down);
    group.add_signal_handler(SIGTERM, shut_down);
    group.start();
    if (s.streams) {
        bulb::StreamOptions options;
        options.server.tls = s.tls.server_context();
        server.emplace(bulb::start_server(group, echo_stream, s.host, s.port, options));
    } else {
        bulb::GroupServerOptions options;
        options.server.tls = s.tls.server_context();
        server.emplace(bulb::create_server(group, [] { return std::make_unique<Echo>(); }, s.host, s.port, options));
    }
    ready = true;
    const char* kind = s.tls.cert.empty() ? "" : " (TLS)";
    for (auto& address : server->sockets())
        std::printf("listening on %s%s\n", address.to_string().c_str(), kind);
    std::fflush(stdout);
    server->wait_closed();  // until a signal closed it and its connections are gone
    group.close();
}

int main(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--streams") {
            s.streams = true;
            continue;
        }
        if (s.tls.take(argc, argv, i)) continue;
        if (i + 1 >= argc) usage(argv[i]);
        if (arg == "--host") {
            s.host = argv[++i];
        } else if (arg == "--unix") {
            s.unix_path = argv[++i];
            if (s.unix_path.empty()) {  // not "no --unix": say so rather than listen elsewhere
                std::fputs("echo_server: --unix needs a path\n", stderr);
                usage();
            }
        } else if (arg == "--port") {
            char* end;
            long p = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p < 0 || p > 65535) usage(argv[i - 1]);
            s.port = static_cast<std::uint16_t>(p);
        } else if (arg == "--workers") {
            char* end;
            long n = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || n < 1 || n > 1024) usage(argv[i - 1]);
            s.workers = static_cast<std::size_t>(n);
        } else if (arg == "--idle-timeout") {
            char* end;
            double t = std::strtod(argv[++i], &end);
            if (*argv[i] == '\0' || *end != '\0' || !(t >= 0) || t > 1e6) usage();
            idle_timeout = std::chrono::duration_cast<bulb::Duration>(std::chrono::duration<double>(t));
        } else {
            usage(argv[i]);
        }
    }
    if (!s.tls.server_valid() || s.tls.client_tls || !s.tls.name.empty()) usage();
    if (s.workers > 0 && !s.unix_path.empty()) {
        std::fputs("echo_server: --workers serves TCP only (SO_REUSEPORT), not --unix\n", stderr);
        usage();
    }
    raise_fd_limit();
    try {
        if (s.workers > 0)
            serve_workers(s);
        else
            serve(s);
    } catch (const std::exception& e) {  // the address is in use, a certificate file is bad, ...
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}

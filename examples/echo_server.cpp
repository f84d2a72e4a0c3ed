// SPDX-License-Identifier: MIT
/// @file
/// An echo server with the callback API: every byte a client sends comes back.
///
///     echo_server [--host HOST] [--port PORT] [--unix PATH]
///
/// Listens on 127.0.0.1:8888 by default (--port 0: any free port) or on a Unix socket, prints
/// one "listening on ADDRESS" line per socket, and on Ctrl-C or SIGTERM closes the server and
/// its connections (each one sends what it still buffers) and exits 0.

#include <bulb/bulb.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <sys/resource.h>

class Echo : public bulb::Protocol {
    bulb::Transport* transport_ = nullptr;

public:
    void connection_made(bulb::Transport& t) override { transport_ = &t; }
    void data_received(bulb::ByteView data) override { transport_->write(data); }
    // Backpressure: a client that sends but does not read stops being read from.
    void pause_writing() override { transport_->pause_reading(); }
    void resume_writing() override { transport_->resume_reading(); }
    // eof_received() returns false by default: the transport closes once the echoes are sent.
};

// Each connection is a descriptor: allow as many as the hard limit does.
static void raise_fd_limit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

[[noreturn]] static void usage() {
    std::fputs("usage: echo_server [--host HOST] [--port PORT] [--unix PATH]\n", stderr);
    std::exit(2);
}

// The API-SKETCH server, plus a listening line and a graceful shutdown.
static void serve(const std::string& host, std::uint16_t port, const std::string& unix_path) {
    bulb::EventLoop loop;
    auto factory = [] { return std::make_unique<Echo>(); };
    bulb::Server server = loop.run_until_complete(unix_path.empty() ? loop.create_server(factory, host, port)
                                                                     : loop.create_unix_server(factory, unix_path));
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    for (auto& address : server.sockets()) std::printf("listening on %s\n", address.to_string().c_str());
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

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", unix_path;
    std::uint16_t port = 8888;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) usage();
        if (arg == "--host") {
            host = argv[++i];
        } else if (arg == "--unix") {
            unix_path = argv[++i];
        } else if (arg == "--port") {
            char* end;
            long p = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p < 0 || p > 65535) usage();
            port = static_cast<std::uint16_t>(p);
        } else {
            usage();
        }
    }
    raise_fd_limit();
    try {
        serve(host, port, unix_path);
    } catch (const std::exception& e) {  // e.g. the address is in use
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}

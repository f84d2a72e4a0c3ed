// SPDX-License-Identifier: MIT
/// @file
/// An echo client with the callback API: sends lines, prints what comes back.
///
///     echo_client [--host HOST] [--port PORT] [--unix PATH] [--message TEXT]...
///                 [--tls | --tls-ca FILE] [--tls-name NAME]
///
/// Connects to 127.0.0.1:8888 by default (or a Unix socket), sends each --message TEXT as a line,
/// or else everything on stdin as it arrives, and prints the echoes. Once the input is sent it
/// half-closes the connection (write_eof); the server closes after its last echo, and the client
/// exits 0 if every byte came back (1 otherwise or on a connection error, 2 on bad options).
/// TLS (--tls: the system's trusted CAs; --tls-ca: this CA file) has no half-close: the client
/// closes (sending close_notify) once every byte has come back.

#include "tls_flags.hpp"

#include <bulb/bulb.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

/// What main keeps: the connection, the byte counts and the stdin pump.
struct Session {
    explicit Session(bulb::EventLoop& l) : loop(l) {}
    bulb::EventLoop& loop;
    bulb::Future<void> closed{loop};  // resolved by connection_lost
    bulb::TransportPtr transport;
    std::size_t sent = 0, received = 0;
    bool stdin_done = false, stdin_is_file = false, paused = false, cut_short = false;

    // stdin is read without blocking the loop: one read() per readiness of fd 0 for pipes, sockets
    // and terminals. epoll cannot watch files (or /dev/null), but those never make read() wait,
    // so they are read from call_soon callbacks instead. Either way reading stops while the
    // transport's buffer is above its high-water mark (pause_writing): no unbounded buffering.
    void watch_stdin() {
        struct stat st {};
        fstat(0, &st);
        stdin_is_file = !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !isatty(0);
        if (stdin_is_file)
            loop.call_soon([this] { read_stdin(); });
        else
            loop.add_reader(0, [this] { read_stdin(); });
    }
    void read_stdin() {
        if (stdin_done || paused) return;
        char buf[64 * 1024];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            transport->write(std::string_view(buf, static_cast<std::size_t>(n)));  // may pause()
            if (stdin_is_file && !paused) loop.call_soon([this] { read_stdin(); });
            return;
        }
        if (n < 0 && errno == EINTR) return;
        if (n < 0) std::perror("echo_client: reading stdin");
        stop_stdin();
        input_done();
    }
    // All sent: the server closes after the last echo. Without half-close (TLS), close once
    // every byte has come back.
    void input_done() {
        if (transport->can_write_eof())
            transport->write_eof();
        else if (received >= sent)
            transport->close();
    }
    void stop_stdin() {
        stdin_done = true;
        if (!stdin_is_file) loop.remove_reader(0);
    }
    void pause() {
        paused = true;
        if (!stdin_done && !stdin_is_file) loop.remove_reader(0);
    }
    void resume() {
        paused = false;
        if (stdin_done) return;
        watch_stdin();
    }
};

class EchoClient : public bulb::Protocol {
    Session& session_;

public:
    explicit EchoClient(Session& session) : session_(session) {}
    void data_received(bulb::ByteView data) override {
        session_.received += data.size();
        std::fwrite(data.data(), 1, data.size(), stdout);
        std::fflush(stdout);
        if (session_.stdin_done && !session_.transport->can_write_eof() && session_.received >= session_.sent)
            session_.transport->close();
    }
    void pause_writing() override { session_.pause(); }
    void resume_writing() override { session_.resume(); }
    void connection_lost(std::error_code ec) override {
        if (!session_.stdin_done) {  // the server closed first
            session_.cut_short = true;
            session_.stop_stdin();
        }
        if (ec)
            session_.closed.set_error(ec, "connection lost");
        else
            session_.closed.set_result();
    }
};

[[noreturn]] static void usage(const char* bad = nullptr) {
    if (bad) std::fprintf(stderr, "%s: %s: unknown option, or a missing or bad value\n", "echo_client", bad);
    std::fprintf(stderr, "usage: echo_client [--host HOST] [--port PORT] [--unix PATH] [--message TEXT]... %s\n",
                 TlsFlags::client_usage);
    std::exit(2);
}

static int run(const std::string& host, std::uint16_t port, const std::string& unix_path,
               const std::vector<std::string>& messages, const TlsFlags& tls) {
    bulb::EventLoop loop;
    Session session{loop};
    auto factory = [&] { return std::make_unique<EchoClient>(session); };
    bulb::ConnectOptions options;
    options.tls = tls.client_context();
    options.server_hostname = tls.name;
    auto connection = loop.run_until_complete(unix_path.empty() ? loop.create_connection(factory, host, port, options)
                                                                 : loop.create_unix_connection(factory, unix_path, options));
    session.transport = connection.transport;
    if (messages.empty()) {
        session.watch_stdin();
    } else {
        for (auto& m : messages) {
            session.transport->writelines({bulb::as_bytes(m), bulb::as_bytes("\n")});
            session.sent += m.size() + 1;
        }
        session.stdin_done = true;
        session.input_done();
    }
    int status = 0;
    try {
        loop.run_until_complete(session.closed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        status = 1;
    }
    if (status == 0 && session.cut_short) {
        std::fputs("echo_client: the server closed the connection before the end of the input\n", stderr);
        status = 1;
    } else if (status == 0 && session.received != session.sent) {
        std::fprintf(stderr, "echo_client: sent %zu bytes, %zu came back\n", session.sent, session.received);
        status = 1;
    }
    loop.close();
    return status;
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", unix_path;
    std::uint16_t port = 8888;
    std::vector<std::string> messages;
    TlsFlags tls;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (tls.take(argc, argv, i)) continue;
        if (i + 1 >= argc) usage(argv[i]);
        if (arg == "--host") {
            host = argv[++i];
        } else if (arg == "--unix") {
            unix_path = argv[++i];
            if (unix_path.empty()) {  // not "no --unix": say so rather than listen elsewhere
                std::fputs("echo_client: --unix needs a path\n", stderr);
                usage();
            }
        } else if (arg == "--message") {
            messages.emplace_back(argv[++i]);
        } else if (arg == "--port") {
            char* end;
            long p = std::strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p <= 0 || p > 65535) usage(argv[i - 1]);
            port = static_cast<std::uint16_t>(p);
        } else {
            usage(argv[i]);
        }
    }
    if (!tls.cert.empty() || !tls.key.empty() || (!tls.name.empty() && !tls.client_tls)) usage();
    try {
        return run(host, port, unix_path, messages, tls);
    } catch (const std::exception& e) {  // e.g. connection refused
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}

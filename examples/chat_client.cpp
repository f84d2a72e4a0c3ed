// SPDX-License-Identifier: MIT
/// @file
/// An interactive chat client: lines typed go to the server, lines from the server are printed.
/// Reading stdin never blocks the loop. Control characters from the server are shown escaped
/// (\xHH). Exits on EOF (Ctrl-D), when the server closes, or after /quit.
///
///     chat_client [--host HOST] [--port PORT] [--tls | --tls-ca FILE] [--tls-name NAME]
///
/// --tls speaks TLS and verifies the server against the system trust store, --tls-ca FILE
/// against the CAs in FILE; --tls-name is the name to verify (default: HOST).
///
/// At the end of the input, a TCP connection is half-closed: the server sees the client leave
/// and its last lines still arrive. TLS cannot half-close, so the client sends /quit instead
/// (unless its last line was /quit, or it sent no line at all: then it just closes),
/// prints what the server sends until it closes, and closes itself if the server has not
/// within a few seconds.

#include "escape_controls.hpp"
#include "tls_flags.hpp"

#include <bulb/coro.hpp>
#include <bulb/coro/stdio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <unistd.h>

/// How long a TLS client waits, after its input ended, for the server to close.
constexpr auto quit_grace = std::chrono::seconds(5);

/// Enough of what was sent to know how the input ended.
class SentInput {
public:
    void add(std::string_view data) {
        for (char c : data) {
            if (c == '\n') {
                any_ = true;
                last_ = std::move(line_);
                line_.clear();
            } else if (line_.size() < 16) {
                line_ += c;
            }
        }
    }
    /// True if the input ended inside a line (no final "\n").
    bool mid_line() const { return !line_.empty(); }
    /// True if the last line was the /quit command.
    bool ended_with_quit() const {
        return !mid_line() && (last_ == "/quit" || last_ == "/quit\r" || last_.starts_with("/quit "));
    }
    /// True once a whole line was sent. Before that no nickname was given, and the server would
    /// take /quit for one.
    bool any_line() const { return any_; }
    /// Set when the input ended (EOF): the user is leaving, so the server may close.
    bool input_ended = false;

private:
    std::string line_;  // the line being sent (its first bytes)
    std::string last_;  // the last complete line (its first bytes)
    bool any_ = false;
};

static bulb::Task<> send(bulb::StreamWriter& writer, SentInput& sent, std::string_view data) {
    sent.add(data);
    writer.write(data);
    co_await writer.drain();
}

/// The input ended: TCP half-closes (write_eof), so the server sees the client leave while its
/// remaining lines (e.g. "*** bye") still arrive. TLS cannot: the client quits by itself, then
/// waits a bounded time for the server to close before closing.
static bulb::Task<> end_input(bulb::StreamWriter writer, SentInput& sent) {
    sent.input_ended = true;  // from here on, the server closing is the expected end
    if (writer.can_write_eof()) {
        writer.write_eof();
        co_return;
    }
    if (!sent.any_line() && !sent.mid_line()) {  // nothing said: nothing more to hear
        writer.close();
        co_return;
    }
    if (!sent.ended_with_quit()) {
        writer.write(sent.mid_line() ? "\n/quit\n" : "/quit\n");
        co_await writer.drain();
    }
    co_await bulb::sleep(quit_grace);
    writer.close();
}

/// Copies stdin to the server, then ends the input (end_input). bulb::connect_stdin reads a
/// duplicate (a terminal is reopened), so fd 0 is never left non-blocking for the shell.
static bulb::Task<> pump_stdin(bulb::StreamWriter writer, SentInput& sent) {
    bulb::StreamReader in = co_await bulb::connect_stdin();
    for (;;) {
        std::string chunk = co_await in.read(4096);
        if (chunk.empty()) break;
        co_await send(writer, sent, chunk);
    }
    co_await end_input(writer, sent);
}

/// The same for a stdin that is a regular file (epoll cannot watch files; reading them never blocks).
static bulb::Task<> pump_file(bulb::StreamWriter writer, SentInput& sent) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) co_await send(writer, sent, std::string_view(buf, static_cast<std::size_t>(n)));
    co_await end_input(writer, sent);
}

/// Returns false when the server closed the connection while the user was still talking.
static bulb::Task<bool> chat(std::string host, std::uint16_t port, std::optional<bulb::TlsContext> tls, std::string tls_name) {
    bulb::StreamOptions options;  // named before the co_await (see streams.hpp)
    options.connect.tls = std::move(tls);
    options.connect.server_hostname = std::move(tls_name);
    options.connect.tls_shutdown_timeout = quit_grace;
    auto [reader, writer] = co_await bulb::open_connection(host, port, options);
    bool is_file = lseek(0, 0, SEEK_CUR) >= 0;
    SentInput sent;  // outlives the input task: awaited below
    auto input = bulb::create_task(is_file ? pump_file(writer, sent) : pump_stdin(writer, sent));
    bool server_left_first = false;
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) {  // the server closed the connection: expected only after our /quit or EOF
            server_left_first = !input.done() && !sent.input_ended && !sent.ended_with_quit();
            break;
        }
        // Shown escaped (escape_controls): a server cannot drive this terminal either.
        bool newline = line.back() == '\n';
        if (newline) line.pop_back();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        line = escape_controls(line) + (newline ? "\n" : "");
        std::fputs(line.c_str(), stdout);
        std::fflush(stdout);
    }
    input.cancel();
    try {
        co_await input;
    } catch (const bulb::CancelledError&) {
    } catch (const bulb::Error&) {  // its last write failed: the connection is over anyway
    }
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const bulb::Error&) {
    }
    co_return !server_left_first;
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = 8888;
    TlsFlags tls;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        char* end = nullptr;
        if (arg == "--host" && i + 1 < argc) {
            host = argv[++i];
        } else if (arg == "--port" && i + 1 < argc && (port = std::strtol(argv[++i], &end, 10), *end == '\0') &&
                   port > 0 && port < 65536) {
        } else if (arg != "--tls-cert" && arg != "--tls-key" && tls.take(argc, argv, i)) {
        } else {
            std::fprintf(stderr, "chat_client: %s: unknown option, or a missing or bad value\n", argv[i]);
            std::fprintf(stderr, "usage: chat_client [--host HOST] [--port PORT] %s\n", TlsFlags::client_usage);
            return 2;
        }
    }
    if (!tls.name.empty() && !tls.client_tls) {
        std::fprintf(stderr, "usage: chat_client [--host HOST] [--port PORT] %s\n", TlsFlags::client_usage);
        return 2;
    }
    try {
        if (!bulb::run(chat(host, static_cast<std::uint16_t>(port), tls.client_context(), tls.name))) {
            std::fprintf(stderr, "chat_client: the server closed the connection\n");
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_client: %s\n", e.what());
        return 1;
    }
}

// SPDX-License-Identifier: MIT
/// @file
/// An interactive chat client: lines typed go to the server, lines from the server are printed.
/// Reading stdin never blocks the loop. Exits on EOF (Ctrl-D), when the server closes, or after /quit.
///
///     chat_client [--host HOST] [--port PORT]

#include <bulb/coro.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

/// Copies stdin to the server; at EOF half-closes (write_eof) so the server sees the client leave.
static bulb::Task<> pump_stdin(bulb::StreamWriter writer) {
    auto& loop = bulb::get_running_loop();
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    for (;;) {
        bulb::Future<void> readable(loop);
        loop.add_reader(0, [readable]() mutable { if (!readable.done()) readable.set_result(); });
        try {
            co_await readable;
        } catch (...) {
            loop.remove_reader(0);
            throw;
        }
        loop.remove_reader(0);
        char buf[4096];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0) break;
        writer.write(std::string_view(buf, static_cast<std::size_t>(n)));
        co_await writer.drain();
    }
    writer.write_eof();  // half-close: the server's remaining lines (e.g. "*** bye") still arrive
}

/// The same for a stdin that is a regular file (epoll cannot watch files; reading them never blocks).
static bulb::Task<> pump_file(bulb::StreamWriter writer) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) {
        writer.write(std::string_view(buf, static_cast<std::size_t>(n)));
        co_await writer.drain();
    }
    writer.write_eof();  // half-close: the server's remaining lines (e.g. "*** bye") still arrive
}

static bulb::Task<> chat(std::string host, std::uint16_t port) {
    auto [reader, writer] = co_await bulb::open_connection(host, port);
    bool is_file = lseek(0, 0, SEEK_CUR) >= 0;
    auto input = bulb::create_task(is_file ? pump_file(writer) : pump_stdin(writer));
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;  // the server closed the connection
        std::fputs(line.c_str(), stdout);
        std::fflush(stdout);
    }
    input.cancel();
}

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = 8888;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        char* end = nullptr;
        if (arg == "--host" && i + 1 < argc) {
            host = argv[++i];
        } else if (arg == "--port" && i + 1 < argc && (port = std::strtol(argv[++i], &end, 10), *end == '\0') &&
                   port > 0 && port < 65536) {
        } else {
            std::fputs("usage: chat_client [--host HOST] [--port PORT]\n", stderr);
            return 2;
        }
    }
    try {
        bulb::run(chat(host, static_cast<std::uint16_t>(port)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_client: %s\n", e.what());
        return 1;
    }
}

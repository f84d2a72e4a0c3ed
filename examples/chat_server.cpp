// SPDX-License-Identifier: MIT
/// @file
/// The chat server written with streams: per client, one task reads lines and one task writes
/// its bounded outgoing queue. See chat_room.hpp for the protocol.
///
///     chat_server [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES] [--motd TEXT]
///                 [--tls-cert FILE --tls-key FILE]
///
/// With --tls-cert/--tls-key every client speaks TLS (chat_client --tls-ca CA.pem, or
/// openssl s_client -quiet); a bad certificate or key file exits 1.

#include "chat_options.hpp"
#include "chat_room.hpp"

#include <bulb/coro.hpp>

#include <chrono>
#include <csignal>

/// A client as the room sees it: lines go to a bounded queue that a writer task drains.
class StreamMember : public ChatRoom::Member {
public:
    StreamMember(bulb::StreamWriter writer, std::size_t max_backlog) : writer_(std::move(writer)), queue_(max_backlog) {}

    bool send(std::string_view line) override {
        try {
            queue_.put_nowait(std::string(line) + "\n");
            return true;
        } catch (const bulb::QueueFull&) {
            return false;
        } catch (const bulb::QueueShutDown&) {
            return true;  // leaving anyway
        }
    }
    void disconnect() override {
        queue_.shutdown(/*immediate=*/true);
        writer_.transport().abort();
    }

    /// Writes queued lines, waiting for the client to read them (drain), until shut down.
    bulb::Task<> write_loop() {
        try {
            for (;;) {
                writer_.write(co_await queue_.get());
                co_await writer_.drain();
            }
        } catch (const bulb::QueueShutDown&) {
        } catch (const bulb::Error&) {  // the connection is gone (reset, broken pipe)
        }
    }
    void finish() { queue_.shutdown(); }

private:
    bulb::StreamWriter writer_;
    bulb::Queue<std::string> queue_;
};

static ChatOptions options;
static ChatRoom* room;

static bulb::Task<> serve_client(bulb::StreamReader reader, bulb::StreamWriter writer) {
    StreamMember me(writer, options.max_backlog);
    auto writing = bulb::create_task(me.write_loop());
    room->join(me);
    try {
        bool skipping = false;  // inside an over-long line: dropped up to its "\n"
        std::size_t drop = 0;   // bytes of it to drop now
        for (;;) {
            std::string line;
            try {
                line = co_await reader.readuntil("\n");
            } catch (const bulb::IncompleteReadError& e) {  // EOF; a last line may lack its "\n"
                if (e.partial.empty() || skipping) break;
                line = e.partial + "\n";
            } catch (const bulb::LimitOverrunError& e) {
                // Over the limit (the data stays buffered): drop what was scanned and keep
                // dropping until the line's "\n", however long it is; one error per line.
                if (!skipping) me.send(ChatRoom::too_long(options.max_line));
                skipping = true;
                drop = e.consumed;
            }
            if (drop != 0) {
                co_await reader.readexactly(std::exchange(drop, 0));
                continue;
            }
            if (skipping) {  // the end of the over-long line
                skipping = false;
                continue;
            }
            line.pop_back();  // the "\n"
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!room->on_line(me, line)) break;  // /quit
        }
    } catch (const bulb::Error&) {  // connection reset
    }
    room->leave(me);
    me.finish();                   // the writer sends what is queued, then stops
    co_await bulb::shield(writing);
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const bulb::Error&) {  // it ended with an error: closed all the same
    }
}

static bulb::Task<> main_task() {
    bulb::StreamOptions so;
    so.limit = options.max_line;  // readuntil's limit counts the line, not its "\n"
    so.server.tls = options.tls;
    auto server = co_await bulb::start_server(serve_client, options.host, options.port, so);
    for (auto& a : server.sockets())
        std::printf("chat server listening on %s%s\n", a.to_string().c_str(), options.tls ? " (TLS)" : "");
    std::fflush(stdout);
    auto& loop = bulb::get_running_loop();
    bulb::Future<void> stop(loop);
    auto quit = [stop]() mutable { if (!stop.done()) stop.set_result(); };
    loop.add_signal_handler(SIGINT, quit);
    loop.add_signal_handler(SIGTERM, quit);
    co_await stop;
    server.close();
    server.close_clients();  // TLS clients get close_notify; those that never answer are cut
    auto cut = loop.call_later(std::chrono::seconds(5), [&server] { server.abort_clients(); });
    co_await server.wait_closed();
    cut.cancel();
}

int main(int argc, char** argv) {
    options = ChatOptions::parse(argc, argv, "chat_server");
    // The room outlives the loop: client tasks still running when main_task ends are cancelled
    // by bulb::run, and they leave the room on their way out.
    ChatRoom chat(options.motd);
    room = &chat;
    try {
        bulb::run(main_task());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server: %s\n", e.what());
        return 1;
    }
}

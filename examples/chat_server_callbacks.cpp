// SPDX-License-Identifier: MIT
/// @file
/// The chat server written with the callback API: a line-framing Protocol per client.
/// Same behaviour and options as chat_server (the streams version); see chat_room.hpp.
///
///     chat_server_callbacks [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES]
///                           [--max-behind SECONDS] [--idle-timeout SECONDS] [--motd TEXT]
///                           [--tls-cert FILE --tls-key FILE]

#include "chat_options.hpp"
#include "chat_room.hpp"

#include <bulb/bulb.hpp>
#include <bulb/protocols/line.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>

class ChatClient : public bulb::protocols::LineProtocol, public ChatRoom::Member {
public:
    ChatClient(ChatRoom& room, const ChatOptions& options)
        : LineProtocol(options.max_line), room_(room), options_(options) {}
    ~ChatClient() override { idle_.reset(); }

    void connection_made(bulb::Transport& t) override {
        LineProtocol::connection_made(t);
        t.set_write_buffer_limits(std::min(t.get_write_buffer_limits().high, options_.full_at()));
        // --idle-timeout: a client that sends nothing for that long is told so and closed.
        idle_.emplace(t.get_loop(), bulb::IdleLimits{.read = options_.idle_timeout}, [this](bulb::Idle) {
            idle_->stop();
            send(ChatRoom::idle(std::chrono::duration<double>(options_.idle_timeout).count()));
            room_.leave(*this, "idle");
            transport()->close();
        });
        idle_->start();
        room_.join(*this);
    }
    void line_received(std::string_view line) override {
        idle_->on_read();
        if (!room_.on_line(*this, line)) {  // /quit
            room_.leave(*this);
            transport()->close();
        }
    }
    void line_too_long(std::size_t) override {
        idle_->on_read();
        send(ChatRoom::too_long(max_line_length()));
    }
    void connection_lost(std::error_code) override {
        behind_.cancel();
        if (idle_) idle_->stop();
        room_.leave(*this);
    }
    // Behind (write buffer above high water) for --max-behind without catching up: cut, logged.
    void pause_writing() override {
        behind_ = transport()->get_loop().call_later(options_.max_behind, [this] {
            room_.leave(*this, "too slow");
            cut("it did not catch up");
        });
    }
    void resume_writing() override { behind_.cancel(); }

    // The outgoing queue is the transport's write buffer, bounded here.
    bool send(std::string_view line) override {
        if (transport()->is_closing()) return true;
        if (transport()->get_write_buffer_size() > options_.max_queue_bytes()) return false;
        send_line(line);
        return true;
    }
    void disconnect() override { cut("its queue is over the limit"); }

private:
    /// Aborts the connection, logging why (the room has already said "too slow").
    void cut(const char* why) {
        behind_.cancel();
        auto peer = transport()->get_extra_info("peername");
        std::fprintf(stderr, "chat_server_callbacks: cut %s (%s): %s; %zu bytes queued, --max-behind %.1f s\n",
                     nick.empty() ? "(no nickname)" : nick.c_str(), peer ? peer->c_str() : "?", why,
                     transport()->get_write_buffer_size(), std::chrono::duration<double>(options_.max_behind).count());
        transport()->abort();
    }

    ChatRoom& room_;
    const ChatOptions& options_;
    bulb::TimerHandle behind_;
    std::optional<bulb::IdleTimer> idle_;  // made in connection_made (it needs the loop)
};

int main(int argc, char** argv) {
    ChatOptions options = ChatOptions::parse(argc, argv, "chat_server_callbacks");
    ChatRoom room(options.motd);  // outlives the loop, whose teardown drops the clients
    bulb::EventLoop loop;
    try {
        bulb::ServerOptions so;
        so.tls = options.tls;
        auto server = loop.run_until_complete(loop.create_server(
            [&] { return std::make_unique<ChatClient>(room, options); }, options.host, options.port, so));
        loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
        loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
        for (auto& a : server.sockets())
            std::printf("chat server listening on %s%s\n", a.to_string().c_str(), options.tls ? " (TLS)" : "");
        std::fflush(stdout);
        loop.run_forever();
        server.close();
        server.close_clients();  // TLS clients get close_notify; those that never answer are cut
        loop.call_later(std::chrono::seconds(5), [&server] { server.abort_clients(); });
        loop.run_until_complete(server.wait_closed());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server_callbacks: %s\n", e.what());
        return 1;
    }
    loop.close();
}

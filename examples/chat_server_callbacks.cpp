// SPDX-License-Identifier: MIT
/// @file
/// The chat server written with the callback API: a line-framing Protocol per client.
/// Same behaviour and options as chat_server (the streams version); see chat_room.hpp.
///
///     chat_server_callbacks [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES]
///                           [--max-behind SECONDS] [--idle-timeout SECONDS] [--motd TEXT]
///                           [--tls-cert FILE --tls-key FILE] [--workers N]
///
/// --workers N: N loops as one room (chat_workers.hpp). A line that needs loop 0 (a nickname
/// to claim, /list) pauses the client's reading until the answer is back, so each client's
/// lines are still handled in the order sent.

#include "chat_options.hpp"
#include "chat_room.hpp"
#include "chat_workers.hpp"

#include <bulb/bulb.hpp>
#include <bulb/group_server.hpp>
#include <bulb/protocols/line.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

class ChatClient : public bulb::protocols::LineProtocol, public ChatRoom::Member {
public:
    /// `workers`: the rooms of all loops with --workers (`room` is this loop's), else null.
    ChatClient(ChatRoom& room, const ChatOptions& options, ChatWorkers* workers = nullptr)
        : LineProtocol(options.max_line), room_(room), options_(options), workers_(workers) {}
    ~ChatClient() override {
        *alive_ = false;  // an answer from loop 0 still on its way finds the client gone
        idle_.reset();
    }

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
        handle(line);
    }
    void line_too_long(std::size_t) override {
        idle_->on_read();
        send(ChatRoom::too_long(max_line_length()));
    }
    void connection_lost(std::error_code) override {
        behind_.cancel();
        if (idle_) idle_->stop();
        room_.leave(*this);
        if (workers_ && !nick.empty()) workers_->release(nick);
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
    /// One line of this client, in order: to the room, after loop 0's answer if it needs one.
    void handle(std::string_view line) {
        if (workers_) {
            if (auto want = room_.nick_wanted(*this, line)) {
                wait_for(workers_->claim(*want), [this, want = *want, text = std::string(line)](bool ok) {
                    if (!ok) return room_.nick_taken(*this);
                    std::string old = nick;
                    say(text);
                    if (!old.empty() && nick != old) workers_->release(old);
                }, [w = workers_, want = *want] { w->release(want); });
                return;
            }
            if (ChatRoom::is_list(line)) {
                wait_for(workers_->names(), [this](const std::vector<std::string>& names) { ChatRoom::list(*this, names); });
                return;
            }
        }
        say(line);
    }
    void say(std::string_view line) {
        if (!room_.on_line(*this, line)) {  // /quit
            room_.leave(*this);
            transport()->close();
        }
    }
    /// Stops reading until `answer` is done, then runs `then(result)` and goes on with the
    /// lines received meanwhile (FramedProtocol keeps them while paused: pause_reading takes
    /// effect between lines). `orphan` runs instead if the client is gone or closing by then.
    template <class T, class Then>
    void wait_for(bulb::Future<T> answer, Then then, std::function<void()> orphan = {}) {
        pause_reading();
        answer.add_done_callback([this, alive = alive_, then = std::move(then), orphan = std::move(orphan)](
                                     bulb::Future<T>& f) mutable {
            if (f.cancelled() || f.exception()) return;  // loop 0 closed: shutting down
            if (!*alive || transport()->is_closing()) {  // gone, or going: a claim is undone
                if (orphan) orphan();
                return;
            }
            then(f.result());
            if (!transport()->is_closing()) resume_reading();  // the lines held meanwhile, then the socket
        });
    }

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
    ChatWorkers* workers_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bulb::TimerHandle behind_;
    std::optional<bulb::IdleTimer> idle_;  // made in connection_made (it needs the loop)
};

/// --workers N: a loop per thread with its own SO_REUSEPORT listener and room. A signal, handled
/// once on loop 0, closes the server and its clients on every loop (cut after 5 s).
static int serve_workers(const ChatOptions& options) {
    bulb::LoopGroup group({.loops = options.workers});
    ChatWorkers rooms(group, options.motd);
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
    try {
        bulb::GroupServerOptions so;
        so.server.tls = options.tls;
        server.emplace(bulb::create_server(
            group, [&] { return std::make_unique<ChatClient>(rooms.local(), options, &rooms); }, options.host,
            options.port, so));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server_callbacks: %s\n", e.what());
        group.close();
        return 1;
    }
    ready = true;
    for (auto& a : server->sockets())
        std::printf("chat server listening on %s%s (%zu loops)\n", a.to_string().c_str(), options.tls ? " (TLS)" : "",
                    group.size());
    std::fflush(stdout);
    server->wait_closed();  // until a signal closed it and its clients are gone
    group.close();
    return 0;
}

int main(int argc, char** argv) {
    ChatOptions options = ChatOptions::parse(argc, argv, "chat_server_callbacks", true);
    if (options.workers > 0) return serve_workers(options);
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

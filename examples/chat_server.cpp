// SPDX-License-Identifier: MIT
/// @file
/// The chat server written with streams: per client, one task reads lines and a watchdog task
/// cuts the client if it stops reading. See chat_room.hpp for the protocol.
///
///     chat_server [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES]
///                 [--max-behind SECONDS] [--idle-timeout SECONDS] [--motd TEXT]
///                 [--tls-cert FILE --tls-key FILE] [--workers N]
///
/// A client that sends no line for --idle-timeout seconds (default 300; 0: never) is told so
/// and disconnected; one that does not read what the room sends for --max-behind seconds
/// (default 10) is cut.
///
/// With --tls-cert/--tls-key every client speaks TLS (chat_client --tls-ca CA.pem, or
/// openssl s_client -quiet); a bad certificate or key file exits 1.
///
/// With --workers N it serves on N loops (threads, a SO_REUSEPORT listener each) as one room:
/// see chat_workers.hpp. Each client is told its loop first ("*** loop 1 of 2"). Backpressure
/// stays within a loop: a sender waits for full members of its own loop; a member that cannot
/// take the lines of other loops is cut by --max-backlog / --max-behind as usual.

#include "chat_options.hpp"
#include "chat_room.hpp"
#include "chat_workers.hpp"
#include "memory_return.hpp"

#include <bulb/coro.hpp>
#include <bulb/coro/group_streams.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <vector>

static ChatOptions options;
// Per loop (thread_local: with --workers every loop thread has its own).
static thread_local ChatRoom* room;
static thread_local MemoryReturn* memory;  // RSS back near the baseline after bursts (one loop only)
static ChatWorkers* workers;  // --workers: the rooms of all loops
static thread_local std::size_t live_clients;  // serve_client tasks running on this loop
static thread_local std::vector<bulb::Future<void>> all_gone;  // set when live_clients is 0 again
/// The longest piece the reader buffers of a line (StreamOptions::limit); see serve_client.
constexpr std::size_t reader_chunk = 64 * 1024;

/// A client as the room sees it. Lines go straight to the transport's write buffer (sent at
/// once while the client keeps up), bounded in bytes (--max-backlog lines of --max-line bytes).
/// A member whose buffer is too full to take more stops the senders instead (they stop reading
/// their clients: backpressure); only a member that stays behind for --max-behind seconds is
/// cut, and the reason is logged.
class StreamMember : public ChatRoom::Member {
public:
    explicit StreamMember(bulb::StreamWriter writer) : writer_(std::move(writer)) {
        all().push_back(this);
        // "Behind" starts no later than "full", so a full member always has its watchdog running.
        auto& t = writer_.transport();
        t.set_write_buffer_limits(std::min(t.get_write_buffer_limits().high, options.full_at()));
    }
    ~StreamMember() override {
        std::erase(all(), this);
        pulse();  // senders waiting for this member re-check
    }

    bool send(std::string_view line) override {
        if (writer_.is_closing()) return true;  // leaving anyway
        if (buffered() + line.size() + 1 > options.max_queue_bytes()) return false;
        writer_.writelines({line, "\n"});
        if (behind()) behind_.set();  // the watchdog starts timing
        return true;
    }
    void disconnect() override { cut("its queue is over the limit"); }

    /// True while this member cannot take another broadcast round (its buffer is nearly full).
    bool full() const { return !writer_.is_closing() && buffered() > options.full_at(); }

    /// True if any member (this one included) is full: its senders wait (progress()).
    static bool anyone_full() {
        return std::any_of(all().begin(), all().end(), [](StreamMember* m) { return m->full(); });
    }
    /// Set and cleared each time a member catches up or leaves: what waiting senders await.
    static bulb::Event& progress() {
        static thread_local bulb::Event event;
        return event;
    }

    /// While the client is behind (its buffer above the transport's high-water mark), waits
    /// for it to catch up (drain) for at most --max-behind seconds, then cuts it, logged.
    bulb::Task<> watchdog() {
        try {
            while (!finished_) {
                co_await behind_.wait();
                behind_.clear();
                if (finished_ && !behind()) break;
                if (!behind()) continue;
                try {
                    co_await bulb::wait_for(writer_.drain(), options.max_behind);
                } catch (const bulb::TimeoutError&) {
                    room->leave(*this, "too slow");
                    cut("it did not catch up");
                    break;
                }
                pulse();
            }
        } catch (const bulb::Error&) {  // the connection is gone (reset, broken pipe)
        }
        pulse();
    }
    /// Stops the watchdog once what is queued has gone out (or it timed out).
    void finish() {
        finished_ = true;
        behind_.set();
    }

private:
    static std::vector<StreamMember*>& all() {  // this loop's
        static thread_local std::vector<StreamMember*> members;
        return members;
    }
    static void pulse() {
        progress().set();
        progress().clear();  // tasks woken by set() still return from wait()
    }
    std::size_t buffered() const { return writer_.transport().get_write_buffer_size(); }
    bool behind() const { return buffered() > writer_.transport().get_write_buffer_limits().high; }

    /// Aborts the connection, logging why (the room has already said "too slow").
    void cut(const char* why) {
        auto peer = writer_.get_extra_info("peername");
        std::fprintf(stderr, "chat_server: cut %s (%s): %s; %zu bytes queued, --max-behind %.1f s\n",
                     nick.empty() ? "(no nickname)" : nick.c_str(), peer ? peer->c_str() : "?", why, buffered(),
                     std::chrono::duration<double>(options.max_behind).count());
        writer_.transport().abort();
    }

    bulb::StreamWriter writer_;
    bulb::Event behind_;
    bool finished_ = false;
};

static bulb::Task<> serve_client(bulb::StreamReader reader, bulb::StreamWriter writer) {
    if (workers) room = &workers->local();
    ++live_clients;
    StreamMember me(writer);
    auto watching = bulb::create_task(me.watchdog());
    // --idle-timeout: a client that sends no line for that long is told so and closed (the
    // pending read then sees EOF).
    bulb::IdleTimer idle(bulb::get_running_loop(), bulb::IdleLimits{.read = options.idle_timeout},
                         [&](bulb::Idle) {
                             idle.stop();
                             me.send(ChatRoom::idle(std::chrono::duration<double>(options.idle_timeout).count()));
                             room->leave(me, "idle");
                             writer.close();
                         });
    idle.start();
    room->join(me);
    try {
        // The reader's limit is at most reader_chunk: a longer line arrives in pieces, gathered
        // in `line` (reserved once at --max-line, so memory holds it once, never doubled by
        // growth), and an over-long one is dropped piece by piece up to its "\n". Peak memory
        // for a newline-less flood is thus about --max-line, as in the callback server.
        std::string line;
        bool skipping = false;  // inside an over-long line
        std::size_t piece_size = 0;
        for (;;) {
            std::string piece;
            bool complete = true;  // `piece` ends with the line's "\n"
            try {
                piece = co_await reader.readuntil("\n");
            } catch (const bulb::IncompleteReadError& e) {  // EOF; a last line may lack its "\n"
                if (skipping || (e.partial.empty() && line.empty())) break;
                piece = e.partial + "\n";
            } catch (const bulb::LimitOverrunError& e) {  // a piece of a long line (it stays buffered)
                complete = false;
                piece_size = e.consumed;
            }
            if (!complete) piece = co_await reader.readexactly(std::exchange(piece_size, 0));
            idle.on_read();
            if (skipping) {
                if (complete) {  // the end of the over-long line
                    skipping = false;
                    if (memory) memory->settle();
                }
                continue;
            }
            if (line.size() + piece.size() > options.max_line + (complete ? 1 : 0)) {
                me.send(ChatRoom::too_long(options.max_line));  // one error per line
                line = std::string();
                skipping = !complete;
                if (memory) memory->settle();
                continue;
            }
            if (line.empty() && complete) {
                line = std::move(piece);
            } else {
                if (line.empty()) line.reserve(options.max_line + 1);
                line += piece;
                if (!complete) continue;
            }
            line.pop_back();  // the "\n"
            if (!line.empty() && line.back() == '\r') line.pop_back();
            // Backpressure: no new line while a member cannot take it; the member's watchdog
            // cuts it if it stays so for --max-behind.
            while (StreamMember::anyone_full()) co_await StreamMember::progress().wait();
            std::string released;  // --workers: the nickname `line` gives up
            if (workers) {  // nicknames are claimed on loop 0, /list asks it for all of them
                if (auto want = room->nick_wanted(me, line)) {
                    if (!co_await workers->claim(*want)) {
                        room->nick_taken(me);
                        line = std::string();
                        continue;
                    }
                    released = me.nick;
                } else if (ChatRoom::is_list(line)) {
                    ChatRoom::list(me, co_await workers->names());
                    line = std::string();
                    continue;
                }
            }
            bool more = room->on_line(me, line);
            if (!released.empty()) workers->release(std::move(released));
            line = std::string();  // a reserved long-line buffer is not kept
            if (!more) break;  // /quit
        }
    } catch (const bulb::Error&) {  // connection reset
    }
    idle.stop();
    room->leave(me);
    if (workers && !me.nick.empty()) workers->release(me.nick);
    me.finish();  // the watchdog waits (bounded) for what is queued to go out, then stops
    co_await bulb::shield(watching);
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const bulb::Error&) {  // it ended with an error: closed all the same
    }
    if (memory) memory->settle();  // null once main_task has ended
    if (--live_clients == 0)
        for (auto& f : std::exchange(all_gone, {})) f.set_result();
}

static bulb::Task<> main_task() {
    bulb::StreamOptions so;
    so.limit = std::min(options.max_line, reader_chunk);  // readuntil's limit counts the line, not its "\n"
    so.server.tls = options.tls;
    auto server = co_await bulb::start_server(serve_client, options.host, options.port, so);
    auto& loop = bulb::get_running_loop();
    MemoryReturn returner(loop);
    memory = &returner;
    struct Forget {
        ~Forget() { memory = nullptr; }
    } forget;  // client tasks cancelled after main_task may still finish
    bulb::Future<void> stop(loop);
    auto quit = [stop]() mutable { if (!stop.done()) stop.set_result(); };
    loop.add_signal_handler(SIGINT, quit);
    loop.add_signal_handler(SIGTERM, quit);
    for (auto& a : server.sockets())  // after the handlers: whoever reads this may signal at once
        std::printf("chat server listening on %s%s\n", a.to_string().c_str(), options.tls ? " (TLS)" : "");
    std::fflush(stdout);
    co_await stop;
    server.close();
    server.close_clients();  // TLS clients get close_notify; those that never answer are cut
    auto cut = loop.call_later(std::chrono::seconds(5), [&server] { server.abort_clients(); });
    co_await server.wait_closed();
    cut.cancel();
}

/// --workers N: a loop per thread, each with its own SO_REUSEPORT listener and room (a client
/// stays on the loop that accepted it). A signal, handled once on loop 0, closes the server and
/// its clients on every loop; clients that do not read are cut after 5 s.
static int serve_workers() {
    bulb::LoopGroup group({.loops = options.workers});
    ChatWorkers rooms(group, options.motd);
    workers = &rooms;
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
        bulb::StreamOptions so;
        so.limit = std::min(options.max_line, reader_chunk);
        so.server.tls = options.tls;
        server.emplace(bulb::start_server(group, serve_client, options.host, options.port, so));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_server: %s\n", e.what());
        group.close();
        return 1;
    }
    ready = true;
    for (auto& a : server->sockets())
        std::printf("chat server listening on %s%s (%zu loops)\n", a.to_string().c_str(), options.tls ? " (TLS)" : "",
                    group.size());
    std::fflush(stdout);
    server->wait_closed();  // until a signal closed it and its clients are gone
    for (std::size_t i = 0; i < group.size(); ++i)  // client tasks finishing their last steps
        group.run_on(i, [&group, i] {
            bulb::Future<void> done(group.loop(i));
            if (live_clients == 0) done.set_result();
            else all_gone.push_back(done);
            return done;
        });
    group.close();
    workers = nullptr;
    return 0;
}

int main(int argc, char** argv) {
    options = ChatOptions::parse(argc, argv, "chat_server", true);
    if (options.workers > 0) return serve_workers();
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

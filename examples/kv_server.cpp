// SPDX-License-Identifier: MIT
/// @file
/// A Redis-compatible key-value server: RESP2/RESP3 over FramedProtocol<RespCodec>, driven by
/// the real redis-cli and redis-benchmark (tests/protocols/check_kv_server.py).
///
///     kv_server [--host HOST] [--port PORT] [--unix PATH] [--max-clients N]
///               [--max-memory BYTES] [--max-output-buffer BYTES] [--streams] [--workers N]
///
/// Commands: PING ECHO HELLO GET SET(EX PX NX XX KEEPTTL) DEL EXISTS INCR INCRBY DECR DECRBY MGET
/// MSET EXPIRE PEXPIRE TTL PTTL PERSIST DBSIZE FLUSHALL QUIT COMMAND CONFIG(GET) CLIENT(SETNAME
/// GETNAME ID), with redis-server's replies and error texts. A client whose unsent replies pass
/// --max-output-buffer (one that pipelines without reading) is disconnected and the reason
/// logged, as redis-server's client-output-buffer-limit does. With --streams each client is a
/// coroutine over FramedReader / FramedWriter instead (same commands: kv_session.hpp); there a
/// client that does not read simply waits in drain(), so its replies never pass the high-water mark.
/// With --workers N it serves on N loops (threads, a SO_REUSEPORT listener each) and splits the
/// keys over them (kv_shards.hpp); each client's replies still come in the order of its commands.

#include "kv_session.hpp"
#include "kv_shards.hpp"

#include <bulb/bulb.hpp>
#include <bulb/coro.hpp>
#include <bulb/coro/group_streams.hpp>
#include <bulb/group_server.hpp>
#include <bulb/loop_group.hpp>
#include <bulb/protocols/coro/framed_stream.hpp>
#include <bulb/protocols/framed_protocol.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <variant>

using bulb::protocols::FramedProtocol;
using bulb::protocols::FramedReader;
using bulb::protocols::RespCodec;
using namespace kv;

namespace {

RespCodec request_codec() { return RespCodec(RespCodec::Options{.requests = true}); }

/// The callback style: one FramedProtocol per client.
class KvClient : public FramedProtocol<RespCodec> {
public:
    /// `shards`: with --workers, the key space of all loops (`server` is this loop's share).
    explicit KvClient(KvState& server, KvShards* shards = nullptr)
        : FramedProtocol<RespCodec>(request_codec()), server_(server), session_(server), shards_(shards) {
        set_gather_writes(true);  // one write per batch of pipelined commands
    }
    ~KvClient() override { *self_ = nullptr; }  // replies still on their way find no client

    void connection_made(bulb::Transport& t) override {
        FramedProtocol::connection_made(t);
        counted_ = true;
        if (++server_.clients > server_.options.max_clients) {
            t.write("-ERR max number of clients reached\r\n");
            t.close();
        }
    }
    void connection_lost(std::error_code) override {
        if (counted_) --server_.clients;
        counted_ = false;
    }

    void frame_received(RespValue command) override {
        if (shards_) return frame_received_sharded(command);
        std::string& out = session_.out();
        session_.run(command.elements);
        send_encoded(out);
        out.clear();
        if (out.capacity() > 64 * 1024) std::string().swap(out);
        if (session_.quit()) return close();
        check_output_limit();
    }

    void frame_error(const FrameError& error) override {
        send_encoded(KvSession::error_reply(error));
        close();
    }

private:
    /// --workers: a command may run on another loop, so its reply may come later; replies wait
    /// in `replies_` until every earlier one is ready, and go out in command order.
    struct Pending {
        std::string text;
        bool ready = false;
    };
    void frame_received_sharded(const RespValue& command) {
        if (quitting_) return;  // after QUIT: nothing more is read or answered
        Reply reply = shards_->run(session_, command.elements);
        if (session_.quit()) quitting_ = true;
        if (auto* text = std::get_if<std::string>(&reply); text && replies_.empty()) {
            send_encoded(*text);  // nothing earlier pending: the common, local case
            if (quitting_) return close();
            return check_output_limit();
        }
        auto slot = std::make_shared<Pending>();
        replies_.push_back(slot);
        if (auto* text = std::get_if<std::string>(&reply)) {
            slot->text = std::move(*text);
            slot->ready = true;
            return send_ready();
        }
        std::get<bulb::Future<std::string>>(reply).add_done_callback([self = self_, slot](bulb::Future<std::string>& f) {
            try {
                slot->text = std::move(f.result());
            } catch (...) {  // the owning loop closed: the server is shutting down
                slot->text = "-ERR server shutting down\r\n";
            }
            slot->ready = true;
            if (*self) (*self)->send_ready();
        });
    }
    void send_ready() {
        while (!replies_.empty() && replies_.front()->ready) {
            send_encoded(replies_.front()->text);
            replies_.pop_front();
        }
        if (quitting_ && replies_.empty()) return close();
        check_output_limit();
    }

    void check_output_limit() {
        bulb::Transport* t = transport();
        if (!t || t->is_closing()) return;
        std::size_t pending = t->get_write_buffer_size() + gathered_size();
        if (pending <= server_.options.max_output_buffer) return;
        std::fprintf(stderr,
                     "kv_server: disconnecting client id=%llu addr=%s: %zu bytes of replies not read "
                     "(over --max-output-buffer %zu)\n",
                     static_cast<unsigned long long>(session_.id()), t->get_peername().to_string().c_str(), pending,
                     server_.options.max_output_buffer);
        t->abort();
    }

    KvState& server_;
    KvSession session_;
    bool counted_ = false;
    KvShards* shards_;
    std::deque<std::shared_ptr<Pending>> replies_;
    std::shared_ptr<KvClient*> self_ = std::make_shared<KvClient*>(this);
    bool quitting_ = false;
};

/// The coroutine style (--streams): one task per client.
bulb::Task<> serve_client(KvState& server, bulb::StreamReader reader, bulb::StreamWriter writer,
                          KvShards* shards = nullptr) {
    struct Count {
        KvState& s;
        ~Count() { --s.clients; }
    } count{server};
    if (++server.clients > server.options.max_clients) {
        writer.write("-ERR max number of clients reached\r\n");
        writer.close();
        co_return;
    }
    FramedReader<RespCodec> requests(reader, request_codec());
    KvSession session(server);
    std::string error;
    try {
        while (std::optional<RespValue> command = co_await requests.read()) {
            if (shards) {  // --workers: the command may run on another loop; wait for its reply
                Reply reply = shards->run(session, command->elements);
                if (auto* later = std::get_if<bulb::Future<std::string>>(&reply))
                    session.out() = co_await *later;
                else
                    session.out() = std::move(std::get<std::string>(reply));
            } else {
                session.run(command->elements);
            }
            writer.write(std::string_view(session.out()));
            session.out().clear();
            if (session.quit()) break;
            // Backpressure: wait while the client does not read (drain() returns at once below
            // the high-water mark), and after each pipelined batch.
            bulb::Transport& t = writer.transport();
            if (requests.buffered() == 0 || t.get_write_buffer_size() > t.get_write_buffer_limits().high)
                co_await writer.drain();
        }
    } catch (const FrameError& e) {
        error = KvSession::error_reply(e);
    } catch (const bulb::Error&) {
        // The client reset the connection (or it was lost): nothing to answer, nothing to log,
        // as the callback style and redis-server at its default verbosity.
    }
    if (!error.empty()) writer.write(std::string_view(error));
    writer.close();
}

[[noreturn]] void usage(const char* problem) {
    if (problem) std::fprintf(stderr, "kv_server: %s\n", problem);
    std::fprintf(stderr,
                 "usage: kv_server [--host HOST] [--port PORT] [--unix PATH] [--max-clients N]\n"
                 "                 [--max-memory BYTES] [--max-output-buffer BYTES] [--streams] [--workers N]\n");
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    auto number = [](const std::string& opt, const char* s, unsigned long long max) {
        char* end;
        errno = 0;
        unsigned long long v = std::strtoull(s, &end, 10);
        if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
            usage(("invalid value '" + std::string(s) + "' for " + opt).c_str());
        return v;
    };
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") usage(nullptr);
        if (arg == "--streams") {
            o.streams = true;
            continue;
        }
        if (arg != "--host" && arg != "--port" && arg != "--unix" && arg != "--max-clients" && arg != "--max-memory" &&
            arg != "--max-output-buffer" && arg != "--workers")
            usage(("unknown option '" + arg + "'").c_str());
        if (i + 1 >= argc) usage(("option " + arg + " needs a value").c_str());
        const char* value = argv[++i];
        if (arg == "--host") o.host = value;
        else if (arg == "--port") o.port = static_cast<std::uint16_t>(number(arg, value, 65535));
        else if (arg == "--unix") o.unix_path = value;
        else if (arg == "--max-clients") o.max_clients = number(arg, value, 1u << 30);
        else if (arg == "--max-memory") o.max_memory = number(arg, value, ~0ull >> 1);
        else if (arg == "--workers") {
            o.workers = number(arg, value, 1024);
            if (o.workers == 0) usage("--workers needs at least 1");
        }
        else o.max_output_buffer = number(arg, value, ~0ull >> 1);
    }
    if (o.workers > 0 && !o.unix_path.empty()) usage("--workers serves TCP only (SO_REUSEPORT), not --unix");
    return o;
}

/// --workers N: a loop per thread with a SO_REUSEPORT listener each, the keys split over the
/// loops. A signal (handled once, on loop 0) closes the server and drops its clients, as the
/// one-loop server does.
int serve_workers(const Options& options) {
    bulb::LoopGroup group({.loops = options.workers});
    KvShards shards(group, options);
    std::optional<bulb::GroupServer> server;
    std::atomic<bool> ready{false};
    auto shut_down = [&] {
        if (!ready.load()) return;
        server->close();
        server->abort_clients();
    };
    group.add_signal_handler(SIGINT, shut_down);
    group.add_signal_handler(SIGTERM, shut_down);
    group.start();
    try {
        if (options.streams) {
            bulb::SharedClientConnected handler = [&shards](bulb::StreamReader r, bulb::StreamWriter w) {
                return serve_client(shards.local(), std::move(r), std::move(w), &shards);
            };
            server.emplace(bulb::start_server(group, std::move(handler), options.host, options.port));
        } else {
            server.emplace(bulb::create_server(
                group, [&shards] { return std::make_unique<KvClient>(shards.local(), &shards); }, options.host,
                options.port));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kv_server: %s\n", e.what());
        group.close();
        return 1;
    }
    ready = true;
    for (auto& a : server->sockets()) std::printf("listening on %s\n", a.to_string().c_str());
    std::fflush(stdout);
    server->wait_closed();  // until a signal closed it and its clients are gone
    group.close();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    if (options.workers > 0) return serve_workers(options);
    bulb::EventLoop loop;
    try {
        KvState state{KvStore(loop), options};
        std::optional<bulb::Server> listening;
        if (options.streams) {
            bulb::ClientConnected handler = [&state](bulb::StreamReader r, bulb::StreamWriter w) {
                return serve_client(state, std::move(r), std::move(w));
            };
            if (options.unix_path.empty()) {
                listening = loop.run_until_complete(
                    bulb::create_task(loop, bulb::start_server(std::move(handler), options.host, options.port)));
            } else {
                listening = loop.run_until_complete(
                    bulb::create_task(loop, bulb::start_unix_server(std::move(handler), options.unix_path)));
            }
        } else {
            auto factory = [&state] { return std::make_unique<KvClient>(state); };
            listening = options.unix_path.empty()
                            ? loop.run_until_complete(loop.create_server(factory, options.host, options.port))
                            : loop.run_until_complete(loop.create_unix_server(factory, options.unix_path));
        }
        bulb::Server& server = *listening;
        loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
        loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
        if (options.unix_path.empty()) {
            for (auto& a : server.sockets()) std::printf("listening on %s\n", a.to_string().c_str());
        } else {
            std::printf("listening on %s\n", options.unix_path.c_str());
        }
        std::fflush(stdout);
        loop.run_forever();
        server.close();
        server.abort_clients();
        loop.run_until_complete(server.wait_closed());
        if (options.streams) bulb::cancel_all_tasks(loop);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kv_server: %s\n", e.what());
        return 1;
    }
    loop.close();
}

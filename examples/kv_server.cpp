// SPDX-License-Identifier: MIT
/// @file
/// A Redis-compatible key-value server: RESP2/RESP3 over FramedProtocol<RespCodec>, driven by
/// the real redis-cli and redis-benchmark (tests/protocols/check_kv_server.py).
///
///     kv_server [--host HOST] [--port PORT] [--unix PATH] [--max-clients N]
///               [--max-memory BYTES] [--max-output-buffer BYTES]
///
/// Commands: PING ECHO HELLO GET SET(EX PX NX XX KEEPTTL) DEL EXISTS INCR INCRBY DECR DECRBY MGET
/// MSET EXPIRE PEXPIRE TTL PTTL PERSIST DBSIZE FLUSHALL QUIT COMMAND CONFIG(GET) CLIENT(SETNAME
/// GETNAME ID), with redis-server's replies and error texts. A client whose unsent replies pass
/// --max-output-buffer (one that pipelines without reading) is disconnected and the reason
/// logged, as redis-server's client-output-buffer-limit does.

#include "kv_store.hpp"

#include <bulb/bulb.hpp>
#include <bulb/protocols/framed_protocol.hpp>
#include <bulb/protocols/resp_codec.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

using bulb::protocols::FramedProtocol;
using bulb::protocols::FrameError;
using bulb::protocols::RespCodec;
using bulb::protocols::RespValue;
namespace resp = bulb::protocols::resp;
using namespace std::chrono_literals;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string unix_path;
    std::size_t max_clients = 10000;
    std::size_t max_memory = 0;  // 0: no limit
    std::size_t max_output_buffer = 32 * 1024 * 1024;
};

struct Server {
    KvStore store;
    Options options;
    std::size_t clients = 0;
    std::uint64_t next_id = 1;
};

// redis's string2ll: optional '-', digits, no '+', no leading zero, fits in int64.
std::optional<std::int64_t> to_int(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::size_t d = s[0] == '-' ? 1 : 0;
    if (d == s.size() || (s[d] == '0' && s.size() > d + 1) || s == "-0") return std::nullopt;
    std::int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class KvClient : public FramedProtocol<RespCodec> {
public:
    explicit KvClient(Server& server)
        : FramedProtocol<RespCodec>(RespCodec(RespCodec::Options{.requests = true})), server_(server) {
        set_gather_writes(true);  // one write per batch of pipelined commands
    }

    void connection_made(bulb::Transport& t) override {
        FramedProtocol::connection_made(t);
        id_ = server_.next_id++;
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
        if (command.elements.empty()) return;
        out_.clear();
        run(command.elements);
        send_encoded(out_);
        if (out_.capacity() > 64 * 1024) std::string().swap(out_);
        check_output_limit();
    }

    void frame_error(const FrameError& error) override {
        std::string reply = "-ERR ";
        reply += error.what();
        for (char& c : reply)
            if (c == '\r' || c == '\n') c = ' ';
        reply += "\r\n";
        send_encoded(reply);
        close();
    }

private:
    using Args = std::vector<RespValue>;

    void check_output_limit() {
        bulb::Transport* t = transport();
        if (!t || t->is_closing()) return;
        std::size_t pending = t->get_write_buffer_size() + gathered_size();
        if (pending <= server_.options.max_output_buffer) return;
        std::fprintf(stderr,
                     "kv_server: disconnecting client id=%llu addr=%s: %zu bytes of replies not read "
                     "(over --max-output-buffer %zu)\n",
                     static_cast<unsigned long long>(id_), t->get_peername().to_string().c_str(), pending,
                     server_.options.max_output_buffer);
        t->abort();
    }

    void error(std::string_view message) { resp::append_error(out_, message); }
    void ok() { out_.append("+OK\r\n"); }
    void null() { resp::append_null(out_, codec().version()); }
    void arity(std::string_view name) { error("ERR wrong number of arguments for '" + lower(name) + "' command"); }
    void not_integer() { error("ERR value is not an integer or out of range"); }
    bool over_memory() {
        if (server_.options.max_memory == 0 || server_.store.used_memory() <= server_.options.max_memory) return false;
        error("OOM command not allowed when used memory > 'maxmemory'.");
        return true;
    }

    void unknown(const Args& a) {
        std::string args;
        for (std::size_t i = 1; i < a.size() && args.size() < 128; ++i)
            args += "'" + a[i].text.substr(0, 128 - args.size()) + "' ";
        std::string msg = "ERR unknown command '" + a[0].text.substr(0, 128) + "', with args beginning with: " + args;
        for (char& c : msg)
            if (c == '\r' || c == '\n') c = ' ';
        error(msg);
    }

    void run(const Args& a) {
        const std::string& name = a[0].text;
        const std::size_t n = a.size();
        // Each command: its arity as redis's command table gives it (negative: at least).
        auto is = [&](std::string_view cmd, int arity) {
            if (!iequals(name, cmd)) return false;
            bool good = arity >= 0 ? n == static_cast<std::size_t>(arity) : n >= static_cast<std::size_t>(-arity);
            if (!good) arity_error_ = true;
            return true;
        };
        arity_error_ = false;
        auto dispatch = [&]() -> bool {
            if (is("get", 2)) return arity_error_ || (get(a), true);
            if (is("set", -3)) return arity_error_ || (set(a), true);
            if (is("incr", 2)) return arity_error_ || (incr(a[1].text, 1), true);
            if (is("decr", 2)) return arity_error_ || (incr(a[1].text, -1), true);
            if (is("incrby", 3)) return arity_error_ || (incrby(a, false), true);
            if (is("decrby", 3)) return arity_error_ || (incrby(a, true), true);
            if (is("mget", -2)) return arity_error_ || (mget(a), true);
            if (is("mset", -3)) return arity_error_ || (mset(a), true);
            if (is("del", -2)) return arity_error_ || (del(a), true);
            if (is("exists", -2)) return arity_error_ || (exists(a), true);
            if (is("expire", 3)) return arity_error_ || (expire(a, 1000, "expire"), true);
            if (is("pexpire", 3)) return arity_error_ || (expire(a, 1, "pexpire"), true);
            if (is("ttl", 2)) return arity_error_ || (ttl(a[1].text, 1000), true);
            if (is("pttl", 2)) return arity_error_ || (ttl(a[1].text, 1), true);
            if (is("persist", 2)) return arity_error_ || (resp::append_integer(out_, server_.store.persist(a[1].text)), true);
            if (is("ping", -1)) return (n > 2 ? arity_error_ = true : (ping(a), true)), true;
            if (is("echo", 2)) return arity_error_ || (resp::append_bulk(out_, a[1].text), true);
            if (is("dbsize", 1)) return arity_error_ || (resp::append_integer(out_, static_cast<std::int64_t>(server_.store.size())), true);
            if (is("flushall", -1)) return arity_error_ || (server_.store.clear(), ok(), true);
            if (is("hello", -1)) return hello(a), true;
            if (is("quit", -1)) return ok(), quit_ = true, true;
            if (is("command", -1)) return command(a), true;
            if (is("config", -2)) return arity_error_ || (config(a), true);
            if (is("client", -2)) return arity_error_ || (client(a), true);
            return false;
        };
        if (!dispatch()) return unknown(a);
        if (arity_error_) {
            out_.clear();
            arity(name);
        }
        if (quit_) {
            send_encoded(out_);
            out_.clear();
            close();
        }
    }

    void get(const Args& a) {
        KvStore::Entry* e = server_.store.find(a[1].text);
        if (e) {
            resp::append_bulk(out_, e->value);
        } else {
            null();
        }
    }

    void set(const Args& a) {
        bool nx = false, xx = false, keepttl = false;
        std::optional<bulb::TimePoint> expires;
        for (std::size_t i = 3; i < a.size(); ++i) {
            const std::string& opt = a[i].text;
            bool last = i + 1 == a.size();
            if (iequals(opt, "nx") && !xx) {
                nx = true;
            } else if (iequals(opt, "xx") && !nx) {
                xx = true;
            } else if (iequals(opt, "keepttl") && !expires) {
                keepttl = true;
            } else if ((iequals(opt, "ex") || iequals(opt, "px")) && !expires && !keepttl && !last) {
                auto v = to_int(a[++i].text);
                if (!v) return not_integer();
                std::int64_t unit = iequals(opt, "ex") ? 1000 : 1;
                if (*v <= 0 || *v > std::numeric_limits<std::int64_t>::max() / unit / 1'000'000)
                    return error("ERR invalid expire time in 'set' command");
                expires = server_.store.loop().time() + std::chrono::milliseconds(*v * unit);
            } else {
                return error("ERR syntax error");
            }
        }
        KvStore::Entry* e = server_.store.find(a[1].text);
        if ((nx && e) || (xx && !e)) return null();
        if (over_memory()) return;
        if (keepttl && e) {
            server_.store.replace_value(*e, a[2].text);
        } else {
            server_.store.set(a[1].text, a[2].text, expires);
        }
        ok();
    }

    void incr(const std::string& key, std::int64_t by) {
        KvStore::Entry* e = server_.store.find(key);
        std::int64_t v = 0;
        if (e) {
            auto cur = to_int(e->value);
            if (!cur) return not_integer();
            v = *cur;
        }
        if ((by > 0 && v > std::numeric_limits<std::int64_t>::max() - by) ||
            (by < 0 && v < std::numeric_limits<std::int64_t>::min() - by))
            return error("ERR increment or decrement would overflow");
        v += by;
        if (e) {
            server_.store.replace_value(*e, std::to_string(v));  // INCR keeps the deadline
        } else {
            if (over_memory()) return;
            server_.store.set(key, std::to_string(v), std::nullopt);
        }
        resp::append_integer(out_, v);
    }

    void incrby(const Args& a, bool negate) {
        auto by = to_int(a[2].text);
        if (!by) return not_integer();
        if (negate) {
            if (*by == std::numeric_limits<std::int64_t>::min())
                return error("ERR decrement would overflow");
            *by = -*by;
        }
        incr(a[1].text, *by);
    }

    void mget(const Args& a) {
        resp::append_array_header(out_, a.size() - 1);
        for (std::size_t i = 1; i < a.size(); ++i) {
            KvStore::Entry* e = server_.store.find(a[i].text);
            if (e) {
                resp::append_bulk(out_, e->value);
            } else {
                null();
            }
        }
    }

    void mset(const Args& a) {
        if (a.size() % 2 == 0) return arity(a[0].text);
        if (over_memory()) return;
        for (std::size_t i = 1; i + 1 < a.size(); i += 2) server_.store.set(a[i].text, a[i + 1].text, std::nullopt);
        ok();
    }

    void del(const Args& a) {
        std::int64_t n = 0;
        for (std::size_t i = 1; i < a.size(); ++i) n += server_.store.erase(a[i].text);
        resp::append_integer(out_, n);
    }

    void exists(const Args& a) {
        std::int64_t n = 0;
        for (std::size_t i = 1; i < a.size(); ++i) n += server_.store.find(a[i].text) != nullptr;
        resp::append_integer(out_, n);
    }

    void expire(const Args& a, std::int64_t unit_ms, const char* name) {
        auto v = to_int(a[2].text);
        if (!v) return not_integer();
        constexpr std::int64_t max_ms = std::numeric_limits<std::int64_t>::max() / 1'000'000 / 2;
        if (*v > max_ms / unit_ms || *v < -max_ms / unit_ms)
            return error(std::string("ERR invalid expire time in '") + name + "' command");
        auto when = server_.store.loop().time() + std::chrono::milliseconds(*v * unit_ms);
        resp::append_integer(out_, server_.store.expire_at(a[1].text, when));
    }

    void ttl(const std::string& key, std::int64_t unit_ms) {
        KvStore::Entry* e = server_.store.find(key);
        if (!e) return resp::append_integer(out_, -2);
        if (e->expires == bulb::TimePoint{}) return resp::append_integer(out_, -1);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(e->expires - server_.store.loop().time()).count();
        resp::append_integer(out_, (left + unit_ms / 2) / unit_ms);  // rounded as redis does
    }

    void ping(const Args& a) {
        if (a.size() == 2) {
            resp::append_bulk(out_, a[1].text);
        } else {
            out_.append("+PONG\r\n");
        }
    }

    void hello(const Args& a) {
        int version = codec().version();
        std::size_t i = 1;
        if (a.size() >= 2) {
            auto v = to_int(a[1].text);
            if (!v) return error("ERR Protocol version is not an integer or out of range");
            if (*v != 2 && *v != 3) return error("NOPROTO unsupported protocol version");
            version = static_cast<int>(*v);
            i = 2;
        }
        for (; i < a.size(); ++i) {
            bool more = i + 1 < a.size();
            if (iequals(a[i].text, "setname") && more) {
                name_ = a[++i].text;
            } else if (iequals(a[i].text, "auth") && i + 2 < a.size()) {
                i += 2;  // no users here: every client is the default user
            } else {
                return error("ERR Syntax error in HELLO option '" + a[i].text + "'");
            }
        }
        codec().set_version(version);
        resp::append_map_header(out_, 7, version);
        resp::append_bulk(out_, "server");
        resp::append_bulk(out_, "bulb-kv");
        resp::append_bulk(out_, "version");
        resp::append_bulk(out_, "7.0.0");
        resp::append_bulk(out_, "proto");
        resp::append_integer(out_, version);
        resp::append_bulk(out_, "id");
        resp::append_integer(out_, static_cast<std::int64_t>(id_));
        resp::append_bulk(out_, "mode");
        resp::append_bulk(out_, "standalone");
        resp::append_bulk(out_, "role");
        resp::append_bulk(out_, "master");
        resp::append_bulk(out_, "modules");
        resp::append_array_header(out_, 0);
    }

    void command(const Args& a) {
        if (a.size() >= 2 && iequals(a[1].text, "count")) return resp::append_integer(out_, 24);
        if (a.size() >= 2 && iequals(a[1].text, "docs")) return resp::append_map_header(out_, 0, codec().version());
        resp::append_array_header(out_, 0);  // no command table: clients fall back to defaults
    }

    void config(const Args& a) {
        if (!iequals(a[1].text, "get")) {
            return error("ERR unknown subcommand '" + a[1].text + "'. Try CONFIG HELP.");
        }
        if (a.size() < 3) return error("ERR wrong number of arguments for 'config|get' command");
        std::vector<std::pair<std::string, std::string>> found;
        const std::pair<const char*, std::string> known[] = {
            {"save", ""},
            {"appendonly", "no"},
            {"maxmemory", std::to_string(server_.options.max_memory)},
            {"maxclients", std::to_string(server_.options.max_clients)},
            {"databases", "1"},
        };
        for (std::size_t i = 2; i < a.size(); ++i)
            for (const auto& [k, v] : known)
                if (iequals(a[i].text, k) || a[i].text == "*") found.emplace_back(k, v);
        resp::append_map_header(out_, found.size(), codec().version());
        for (const auto& [k, v] : found) {
            resp::append_bulk(out_, k);
            resp::append_bulk(out_, v);
        }
    }

    void client(const Args& a) {
        const std::string& sub = a[1].text;
        if (iequals(sub, "setname") && a.size() == 3) {
            for (char c : a[2].text)
                if (c < '!' || c > '~')
                    return error("ERR Client names cannot contain spaces, newlines or special characters.");
            name_ = a[2].text;
            return ok();
        }
        if (iequals(sub, "getname") && a.size() == 2) {
            if (name_.empty()) return null();
            return resp::append_bulk(out_, name_);
        }
        if (iequals(sub, "id") && a.size() == 2) return resp::append_integer(out_, static_cast<std::int64_t>(id_));
        if (iequals(sub, "setname") || iequals(sub, "getname") || iequals(sub, "id"))
            return error("ERR wrong number of arguments for 'client|" + lower(sub) + "' command");
        error("ERR unknown subcommand '" + sub + "'. Try CLIENT HELP.");
    }

    Server& server_;
    std::string out_;
    std::string name_;
    std::uint64_t id_ = 0;
    bool counted_ = false;
    bool arity_error_ = false;
    bool quit_ = false;
};

[[noreturn]] void usage(const char* problem) {
    if (problem) std::fprintf(stderr, "kv_server: %s\n", problem);
    std::fprintf(stderr,
                 "usage: kv_server [--host HOST] [--port PORT] [--unix PATH] [--max-clients N]\n"
                 "                 [--max-memory BYTES] [--max-output-buffer BYTES]\n");
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
        if (arg != "--host" && arg != "--port" && arg != "--unix" && arg != "--max-clients" && arg != "--max-memory" &&
            arg != "--max-output-buffer")
            usage(("unknown option '" + arg + "'").c_str());
        if (i + 1 >= argc) usage(("option " + arg + " needs a value").c_str());
        const char* value = argv[++i];
        if (arg == "--host") o.host = value;
        else if (arg == "--port") o.port = static_cast<std::uint16_t>(number(arg, value, 65535));
        else if (arg == "--unix") o.unix_path = value;
        else if (arg == "--max-clients") o.max_clients = number(arg, value, 1u << 30);
        else if (arg == "--max-memory") o.max_memory = number(arg, value, ~0ull >> 1);
        else o.max_output_buffer = number(arg, value, ~0ull >> 1);
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    bulb::EventLoop loop;
    try {
        Server state{KvStore(loop), options};
        auto factory = [&state] { return std::make_unique<KvClient>(state); };
        bulb::Server server = options.unix_path.empty()
                                  ? loop.run_until_complete(loop.create_server(factory, options.host, options.port))
                                  : loop.run_until_complete(loop.create_unix_server(factory, options.unix_path));
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
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kv_server: %s\n", e.what());
        return 1;
    }
    loop.close();
}

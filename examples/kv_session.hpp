// SPDX-License-Identifier: MIT
/// @file
/// KvSession: one kv_server client's commands, written once for both of kv_server's styles
/// (FramedProtocol callbacks and, with --streams, FramedReader/FramedWriter coroutines).
/// Replies are RESP bytes appended to out(), with redis-server's texts. Loop thread only.
#pragma once

#include "kv_store.hpp"

#include <bulb/protocols/frame_error.hpp>
#include <bulb/protocols/resp_codec.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

using bulb::protocols::FrameError;
using bulb::protocols::RespValue;
namespace resp = bulb::protocols::resp;

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string unix_path;
    std::size_t max_clients = 10000;
    std::size_t max_memory = 0;  // 0: no limit
    std::size_t max_output_buffer = 32 * 1024 * 1024;
    bool streams = false;  // coroutines (FramedReader/FramedWriter) instead of FramedProtocol
    std::size_t workers = 0;  // --workers N: N loops, the keys split over them (kv_shards.hpp)
};

struct KvState {
    KvStore store;
    Options options;
    std::size_t clients = 0;
    std::uint64_t next_id = 1;
};

// redis's string2ll: optional '-', digits, no '+', no leading zero, fits in int64.
inline std::optional<std::int64_t> to_int(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::size_t d = s[0] == '-' ? 1 : 0;
    if (d == s.size() || (s[d] == '0' && s.size() > d + 1) || s == "-0") return std::nullopt;
    std::int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// A client's state (protocol version, name, id) and its command interpreter.
class KvSession {
public:
    using Args = std::vector<RespValue>;

    explicit KvSession(KvState& server) : server_(server), id_(server.next_id++) {}

    /// Runs one command (`a` is not empty); its reply is appended to out().
    void run(const Args& a) { run_command(a); }
    /// The replies not sent yet: send them, then clear it.
    std::string& out() noexcept { return out_; }
    /// True after QUIT: send out(), then close the connection.
    bool quit() const noexcept { return quit_; }
    std::uint64_t id() const noexcept { return id_; }
    /// The RESP version the client speaks (2, or 3 after HELLO 3): how nulls and maps are encoded.
    int version() const noexcept { return version_; }
    /// Encodes replies for RESP `version` (kv_shards.hpp runs other loops' commands this way).
    void set_version(int version) noexcept { version_ = version; }

    /// What redis-server sends before it closes a connection that sent a malformed request.
    static std::string error_reply(const FrameError& error) {
        std::string reply = "-ERR ";
        reply += error.what();
        for (char& c : reply)
            if (c == '\r' || c == '\n') c = ' ';
        reply += "\r\n";
        return reply;
    }

private:
    void error(std::string_view message) { resp::append_error(out_, message); }
    void ok() { out_.append("+OK\r\n"); }
    void null() { resp::append_null(out_, version_); }
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

    void run_command(const Args& a) {
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
        int version = version_;
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
        version_ = version;
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
        if (a.size() >= 2 && iequals(a[1].text, "docs")) return resp::append_map_header(out_, 0, version_);
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
        resp::append_map_header(out_, found.size(), version_);
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

    KvState& server_;
    std::string out_;
    std::string name_;
    std::uint64_t id_;
    int version_ = 2;
    bool arity_error_ = false;
    bool quit_ = false;
};

}  // namespace kv

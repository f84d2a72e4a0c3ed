// SPDX-License-Identifier: MIT
/// @file
/// KvShards: kv_server --workers N, the key space split over the loops of a LoopGroup.
///
/// Loop i owns the keys whose hash % N is i, in its own KvState: every store stays loop-thread-
/// only (shared-nothing, no lock). A command on keys of the client's own loop runs right there;
/// one on another loop's keys goes there with call_on and its reply comes back as a future.
/// Commands over keys of several loops (MGET, MSET, DEL, EXISTS) run key by key on the owners
/// and their replies are combined; DBSIZE and FLUSHALL run on every loop. An MSET spanning loops
/// is therefore not atomic. Connection commands (PING, HELLO, CLIENT, ...) run on the client's
/// loop. --max-clients and --max-memory apply to each loop. Loop threads only.
#pragma once

#include "kv_session.hpp"

#include <bulb/future.hpp>
#include <bulb/loop_group.hpp>

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace kv {

/// A reply ready now (the command ran on this loop), or one coming from another loop.
using Reply = std::variant<std::string, bulb::Future<std::string>>;

class KvShards {
public:
    /// One shard per loop of `group` (made before group.start()).
    KvShards(bulb::LoopGroup& group, const Options& options) : group_(group) {
        for (std::size_t i = 0; i < group.size(); ++i)
            shards_.push_back(std::make_unique<Shard>(group.loop(i), options, i));
    }

    /// The calling loop's state: its store and its client count.
    KvState& local() { return shards_.at(group_.current_index())->state; }

    /// Runs `a` (not empty) for `session`, a client of the calling loop.
    Reply run(KvSession& session, const KvSession::Args& a) {
        const std::size_t self = group_.current_index();
        const std::string& name = a[0].text;
        const std::size_t n = a.size();
        auto here = [&]() -> Reply {
            session.run(a);
            std::string reply = std::move(session.out());
            session.out().clear();
            return reply;
        };
        // One key at a[1]: the whole command goes to its owner.
        static const char* const keyed[] = {"get", "set", "incr", "decr", "incrby", "decrby",
                                            "expire", "pexpire", "ttl", "pttl", "persist"};
        for (const char* k : keyed)
            if (iequals(name, k)) {
                if (n < 2) return here();  // the arity error
                const std::size_t owner = owner_of(a[1].text);
                return owner == self ? here() : remote(owner, a, session.version());
            }
        std::vector<Part> parts;
        Combine combine;
        if (iequals(name, "mget") && n >= 2) {
            for (std::size_t i = 1; i < n; ++i) parts.push_back({owner_of(a[i].text), {named(a[0], "GET"), a[i]}});
            combine = [](std::vector<std::string>& r) {
                std::string out = "*" + std::to_string(r.size()) + "\r\n";
                for (auto& s : r) out += s;
                return out;
            };
        } else if ((iequals(name, "del") || iequals(name, "exists")) && n >= 2) {
            for (std::size_t i = 1; i < n; ++i) parts.push_back({owner_of(a[i].text), {a[0], a[i]}});
            combine = sum;
        } else if (iequals(name, "mset") && n >= 3 && n % 2 == 1) {
            for (std::size_t i = 1; i + 1 < n; i += 2) parts.push_back({owner_of(a[i].text), {a[0], a[i], a[i + 1]}});
            combine = all_ok;
        } else if ((iequals(name, "dbsize") && n == 1) || iequals(name, "flushall")) {
            for (std::size_t i = 0; i < shards_.size(); ++i) parts.push_back({i, a});
            combine = iequals(name, "dbsize") ? Combine(sum) : Combine(all_ok);
        } else {
            return here();  // a connection command, or an arity error the session reports
        }
        return gather(std::move(parts), std::move(combine), session.version());
    }

private:
    /// A loop's keys and the session that runs other loops' commands on them.
    struct Shard {
        Shard(bulb::EventLoop& loop, const Options& options, std::size_t index)
            : state{KvStore(loop), options}, runner(state) {
            state.next_id = (static_cast<std::uint64_t>(index) << 40) + 1;  // CLIENT ID unique across loops
        }
        KvState state;
        KvSession runner;
        /// Runs `a` on this shard's store for a client speaking RESP `version`; its reply.
        std::string execute(const KvSession::Args& a, int version) {
            runner.set_version(version);
            runner.run(a);
            std::string reply = std::move(runner.out());
            runner.out().clear();
            return reply;
        }
    };
    struct Part {
        std::size_t owner;
        KvSession::Args args;
    };
    using Combine = std::function<std::string(std::vector<std::string>&)>;

    std::size_t owner_of(const std::string& key) const { return std::hash<std::string>{}(key) % shards_.size(); }

    static RespValue named(const RespValue& like, const char* name) {
        RespValue v = like;
        v.text = name;
        return v;
    }
    /// The first error among integer replies, else their sum.
    static std::string sum(std::vector<std::string>& r) {
        long long total = 0;
        for (auto& s : r) {
            if (s.empty() || s[0] != ':') return s;
            total += std::stoll(s.substr(1));
        }
        return ":" + std::to_string(total) + "\r\n";
    }
    /// The first error, else +OK.
    static std::string all_ok(std::vector<std::string>& r) {
        for (auto& s : r)
            if (s.empty() || s[0] != '+') return s;
        return "+OK\r\n";
    }

    bulb::Future<std::string> remote(std::size_t owner, KvSession::Args a, int version) {
        return group_.call_on(owner, [this, owner, a = std::move(a), version] { return shards_[owner]->execute(a, version); });
    }

    /// Runs every part on its owner (this loop's at once, so a later command of the same client
    /// cannot overtake them) and combines the replies in order.
    Reply gather(std::vector<Part> parts, Combine combine, int version) {
        const std::size_t self = group_.current_index();
        struct Pending {
            std::vector<std::string> replies;
            std::size_t left = 0;
            Combine combine;
            bulb::Future<std::string> result;
        };
        auto p = std::make_shared<Pending>(Pending{std::vector<std::string>(parts.size()), 0, std::move(combine),
                                                   bulb::Future<std::string>(group_.loop(self))});
        std::vector<std::pair<std::size_t, bulb::Future<std::string>>> waiting;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (parts[i].owner == self)
                p->replies[i] = shards_[self]->execute(parts[i].args, version);
            else
                waiting.emplace_back(i, remote(parts[i].owner, std::move(parts[i].args), version));
        }
        if (waiting.empty()) return p->combine(p->replies);
        p->left = waiting.size();
        for (auto& [i, f] : waiting)
            f.add_done_callback([p, i = i](bulb::Future<std::string>& f) {
                try {
                    p->replies[i] = std::move(f.result());
                } catch (const std::exception& e) {  // the loop closed (shutting down)
                    p->replies[i] = std::string("-ERR ") + e.what() + "\r\n";
                }
                if (--p->left == 0) p->result.set_result(p->combine(p->replies));
            });
        return p->result;
    }

    bulb::LoopGroup& group_;
    std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace kv

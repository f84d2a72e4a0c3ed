// SPDX-License-Identifier: MIT
/// @file
/// GroupServer: a server per loop of a LoopGroup (SO_REUSEPORT listeners, or one listener on
/// loop 0 handing accepted sockets out), closed, waited for and counted together.
#include <bulb/group_server.hpp>

#include "server_impl.hpp"

#include <atomic>
#include <stdexcept>

#include <sys/socket.h>
#include <unistd.h>

namespace bulb {

/// Shared by the handles. `servers[i]` is touched only on loop i's thread (or by the making
/// thread while the group does not run); `impls` and `addresses` are fixed once start() returns.
struct GroupServer::State {
    LoopGroup* group;
    GroupBalance balance;
    std::vector<std::vector<Server>> servers;
    std::vector<detail::ServerImpl*> impls;  // each loop's serving impl (kept alive by `servers`)
    std::vector<SocketAddress> addresses;
    std::atomic<std::size_t> next{0};  // round_robin's turn (loop 0 only)

    State(LoopGroup& g, GroupBalance b) : group(&g), balance(b), servers(g.size()), impls(g.size(), nullptr) {}
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        // Server handles are loop-thread-only counts: give each loop's back on its thread.
        for (std::size_t i = 0; i < servers.size(); ++i) {
            if (servers[i].empty()) continue;
            if (group->is_running() && group->current_index() != i) {
                try {
                    group->post(i, [doomed = std::move(servers[i])] {});
                    continue;
                } catch (...) {  // the loop is closed: nothing else runs it
                }
            }
            servers[i].clear();
        }
    }

    /// Runs fn(servers[i]) on every loop: inline for the calling loop or a group that does not
    /// run, by message otherwise.
    template <class F>
    void each_loop(std::shared_ptr<State> self, F fn) {
        for (std::size_t i = 0; i < servers.size(); ++i) {
            if (!group->is_running() || group->current_index() == i) {
                fn(servers[i]);
                continue;
            }
            try {
                group->post(i, [self, i, fn] { fn(self->servers[i]); });
            } catch (...) {  // closed loop: its servers were closed with it
            }
        }
    }
};

namespace {

/// A future of `loop` done once every server in `servers` is closed with no connection left.
Future<void> all_closed(EventLoop& loop, std::vector<Server>& servers) {
    Future<void> done(loop);
    auto left = std::make_shared<std::size_t>(servers.size());
    if (servers.empty()) done.set_result();
    for (auto& s : servers)
        s.wait_closed().add_done_callback([done, left]() mutable {
            if (--*left == 0 && !done.done()) done.set_result();
        });
    return done;
}

/// A stream socket that is never bound nor listening: the one-listener modes' per-loop servers
/// hold it so that they exist as ordinary Servers (counts, close_clients, wait_closed).
int placeholder_socket() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(std::error_code(errno, std::system_category()), "GroupServer: placeholder socket");
    return fd;
}

}  // namespace

GroupServer GroupServer::start(LoopGroup& group, GroupServerStarter starter, std::optional<std::string> host,
                               std::uint16_t port, const GroupServerOptions& options) {
    if (group.current_index() != LoopGroup::npos)
        throw InvalidStateError("GroupServer::start: called from a loop of the group (it waits for every loop)");
    auto state = std::make_shared<State>(group, options.balance);
    const bool one_listener = options.balance != GroupBalance::reuse_port;

    // Starts loop i's server and keeps it there; returns its listening addresses (plain data).
    auto start_on = [&](std::size_t i, std::optional<std::string> h, std::uint16_t p, const ServerOptions& so) {
        return group.run_on(i, [&, i, h, p]() {
            EventLoop& loop = group.loop(i);
            Future<std::vector<SocketAddress>> addrs(loop);
            starter(i, loop, h, p, so).add_done_callback([state, i, addrs](Future<Server>& f) mutable {
                try {
                    Server s = f.result();
                    state->servers[i].push_back(s);
                    state->impls[i] = &s.impl();
                    addrs.set_result(s.sockets());
                } catch (...) {
                    addrs.set_exception(std::current_exception());
                }
            });
            return addrs;
        });
    };

    try {
        ServerOptions first = options.server;
        if (one_listener)
            first.start_serving = false;  // serving starts once the hand-off is in place
        else
            first.reuse_port = true;
        state->addresses = start_on(0, host, port, first);
        if (state->addresses.empty()) throw std::runtime_error("GroupServer::start: loop 0 listens on no address");
        if (!one_listener) {
            for (std::size_t i = 1; i < group.size(); ++i)
                for (const SocketAddress& a : state->addresses) start_on(i, a.host(), a.port(), first);
        } else {
            // Loops 1..N-1 (and loop 0 for what it keeps) serve sockets accepted by loop 0.
            std::vector<detail::ServerImpl*> serving(group.size());
            for (std::size_t i = 1; i < group.size(); ++i) {
                ServerOptions so = options.server;
                so.start_serving = false;
                so.sock = placeholder_socket();
                start_on(i, std::nullopt, 0, so);
            }
            group.run_on(0, [&] {
                detail::ServerImpl& listener = *state->impls[0];
                std::weak_ptr<State> weak = state;  // weak: the state holds the listener
                listener.set_handoff([weak](int fd) {
                    auto strong = weak.lock();
                    if (!strong) {  // every handle is gone: the listener serves no one
                        ::close(fd);
                        return;
                    }
                    State& st = *strong;
                    std::size_t target = 0;
                    const std::size_t n = st.impls.size();
                    if (st.balance == GroupBalance::round_robin) {
                        target = st.next.load(std::memory_order_relaxed) % n;
                        st.next.store(target + 1, std::memory_order_relaxed);
                    } else {
                        std::size_t best = static_cast<std::size_t>(-1);
                        for (std::size_t i = 0; i < n; ++i)
                            if (std::size_t c = st.impls[i]->live_count(); c < best) best = c, target = i;
                    }
                    if (target == 0) {
                        st.impls[0]->adopt(fd);
                        return;
                    }
                    try {
                        st.group->post(target, [weak, target, fd] {
                            if (auto s = weak.lock())
                                s->impls[target]->adopt(fd);
                            else
                                ::close(fd);
                        });
                    } catch (...) {
                        ::close(fd);
                    }
                });
                if (options.server.start_serving) listener.start_serving();
            });
        }
    } catch (...) {
        GroupServer(state).close();
        throw;
    }
    return GroupServer(std::move(state));
}

void GroupServer::close() {
    s_->each_loop(s_, [](std::vector<Server>& v) {
        for (auto& s : v) s.close();
    });
}

void GroupServer::close_clients() {
    s_->each_loop(s_, [](std::vector<Server>& v) {
        for (auto& s : v) s.close_clients();
    });
}

void GroupServer::abort_clients() {
    s_->each_loop(s_, [](std::vector<Server>& v) {
        for (auto& s : v) s.abort_clients();
    });
}

void GroupServer::wait_closed() {
    for (std::size_t i = 0; i < s_->servers.size(); ++i)
        s_->group->run_on(i, [s = s_, i] { return all_closed(s->group->loop(i), s->servers[i]); });
}

std::vector<std::size_t> GroupServer::connection_counts() {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < s_->servers.size(); ++i)
        out.push_back(s_->group->run_on(i, [s = s_, i] {
            std::size_t n = 0;
            for (auto& srv : s->servers[i]) n += srv.connection_count();
            return n;
        }));
    return out;
}

std::size_t GroupServer::connection_count() {
    std::size_t n = 0;
    for (std::size_t c : connection_counts()) n += c;
    return n;
}

std::vector<std::uint64_t> GroupServer::accepted_per_loop() const {
    std::vector<std::uint64_t> out;
    for (auto* impl : s_->impls) out.push_back(impl ? impl->accepted_count() : 0);
    return out;
}

const std::vector<SocketAddress>& GroupServer::sockets() const noexcept { return s_->addresses; }

LoopGroup& GroupServer::group() const noexcept { return *s_->group; }

GroupServer create_server(LoopGroup& group, std::function<std::unique_ptr<Protocol>()> factory,
                          std::optional<std::string> host, std::uint16_t port, const GroupServerOptions& options) {
    if (!factory) throw std::invalid_argument("create_server(LoopGroup&): empty protocol factory");
    GroupServerStarter starter = [factory](std::size_t, EventLoop& loop, std::optional<std::string> h,
                                           std::uint16_t p, const ServerOptions& so) {
        return loop.create_server([f = factory] { return f(); }, std::move(h), p, so);  // a copy per loop
    };
    return GroupServer::start(group, std::move(starter), std::move(host), port, options);
}

GroupServer create_server(LoopGroup& group, std::function<std::unique_ptr<Protocol>()> factory,
                          std::optional<std::string> host, std::uint16_t port) {
    return create_server(group, std::move(factory), std::move(host), port, GroupServerOptions{});
}

}  // namespace bulb

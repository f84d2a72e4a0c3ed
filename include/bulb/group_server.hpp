// SPDX-License-Identifier: MIT
/// @file
/// GroupServer: one server serving on every loop of a LoopGroup (a connection lives on one loop
/// for its whole life), and create_server for a group.
#pragma once

#include <bulb/loop_group.hpp>
#include <bulb/options.hpp>
#include <bulb/protocol.hpp>
#include <bulb/server.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bulb {

/// How a group server spreads connections over its loops.
enum class GroupBalance {
    /// One SO_REUSEPORT listening socket per loop: the kernel spreads connections (by a hash of
    /// the addresses), and accepting costs no cross-loop message. The default.
    reuse_port,
    /// One listening socket on loop 0, whose accepted sockets go to each loop in turn.
    round_robin,
    /// One listening socket on loop 0, whose accepted sockets go to the loop with the fewest live
    /// connections (a relaxed, possibly stale count: a hint, not a guarantee).
    least_loaded,
};

/// Options of a group server (an aggregate: designated initializers).
struct GroupServerOptions {
    /// Options of each loop's server (reuse_port is set by the reuse_port mode itself).
    ServerOptions server{};
    /// How connections are spread over the loops (default: a SO_REUSEPORT listener per loop).
    GroupBalance balance = GroupBalance::reuse_port;
};

/// Makes loop `index`'s server (on that loop's thread): listening on `host`:`port` with
/// `options`, the way the caller serves (create_server with a protocol factory, start_server
/// with a coroutine, ...).
using GroupServerStarter = std::function<Future<Server>(std::size_t index, EventLoop& loop,
                                                        std::optional<std::string> host, std::uint16_t port,
                                                        const ServerOptions& options)>;

/// A server on every loop of a group: a shared handle (copies share one), usable from any thread.
///
/// close(), close_clients() and abort_clients() are sent to every loop and return at once; the
/// blocking queries (wait_closed, connection_count) are for threads outside the group (from a
/// loop they throw InvalidStateError). The handle must not outlive its LoopGroup.
class BULB_API GroupServer {
public:
    /// Starts a server on every loop with `starter` and waits until all listen. reuse_port:
    /// loop 0 binds first (port 0 picks the port), the others bind the same addresses. The
    /// one-listener modes call `starter` once per loop: loop 0's server listens, the others get
    /// a placeholder socket that never listens, and loop 0 hands them accepted sockets. Throws
    /// what a loop's server failed with (the others are closed first). Outside the group only.
    static GroupServer start(LoopGroup& group, GroupServerStarter starter, std::optional<std::string> host,
                             std::uint16_t port, const GroupServerOptions& options);

    /// Stops listening on every loop; connections stay (asyncio's rule). Thread-safe.
    void close();
    /// close()s every live connection on every loop. Thread-safe.
    void close_clients();
    /// abort()s every live connection on every loop. Thread-safe.
    void abort_clients();
    /// Blocks until every loop's server is closed and its connections are gone. Outside the
    /// group only.
    void wait_closed();
    /// Live connections on each loop (blocking; outside the group only).
    std::vector<std::size_t> connection_counts();
    /// Their sum.
    std::size_t connection_count();
    /// Connections each loop has accepted so far (a relaxed count). Thread-safe.
    std::vector<std::uint64_t> accepted_per_loop() const;
    /// The listening addresses (loop 0's; every loop listens on the same ones). Thread-safe.
    const std::vector<SocketAddress>& sockets() const noexcept;
    /// The group.
    LoopGroup& group() const noexcept;

    struct State;
    /// Internal: made by create_server().
    explicit GroupServer(std::shared_ptr<State> state) noexcept : s_(std::move(state)) {}

private:
    std::shared_ptr<State> s_;
};

/// Serves `host`:`port` on every loop of `group`: each loop makes its protocols with its own
/// copy of `factory` (so a factory's state is per loop and needs no lock). See GroupServer::start.
BULB_API GroupServer create_server(LoopGroup& group, std::function<std::unique_ptr<Protocol>()> factory,
                                   std::optional<std::string> host, std::uint16_t port,
                                   const GroupServerOptions& options);
/// create_server() with default options (one SO_REUSEPORT listener per loop).
BULB_API GroupServer create_server(LoopGroup& group, std::function<std::unique_ptr<Protocol>()> factory,
                                   std::optional<std::string> host, std::uint16_t port);

}  // namespace bulb

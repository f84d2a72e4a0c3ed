// SPDX-License-Identifier: MIT
/// @file
/// Server: listening sockets that turn accepted connections into transports (asyncio.Server).
#pragma once

#include <bulb/address.hpp>
#include <bulb/config.hpp>
#include <bulb/future.hpp>
#include <bulb/ref.hpp>

#include <vector>

namespace bulb {

namespace detail {
class ServerImpl;
}

/// A listening server, returned by create_server / create_unix_server.
///
/// A counted handle (copies share one server); loop thread only. The server owns its listening
/// sockets and counts its live connections. close() stops accepting and leaves existing
/// connections open (asyncio's rule); close_clients() / abort_clients() end them.
class BULB_API Server {
public:
    /// Internal: made by create_server and friends.
    explicit Server(RefPtr<detail::ServerImpl> impl) noexcept;
    ~Server();
    /// Copies share one server.
    Server(const Server&) noexcept;
    /// Copies share one server.
    Server& operator=(const Server&) noexcept;

    /// Stops listening and closes the listening sockets; existing connections stay. Idempotent.
    void close();
    /// close()s every live connection (each flushes its buffer first).
    void close_clients();
    /// abort()s every live connection.
    void abort_clients();
    /// Resolves once the server is closed and every connection it accepted is gone.
    BULB_RESULT Future<void> wait_closed();
    /// True while accepting.
    bool is_serving() const noexcept;
    /// Starts accepting (after ServerOptions::start_serving = false). Idempotent.
    void start_serving();
    /// Starts accepting; the future never resolves by itself: cancelling it closes the server,
    /// and close() cancels it (asyncio.Server.serve_forever).
    Future<void> serve_forever();
    /// The addresses of the listening sockets (empty once closed).
    std::vector<SocketAddress> sockets() const;
    /// The listening sockets' descriptors (empty once closed).
    std::vector<int> fds() const;
    /// Live connections accepted by this server.
    std::size_t connection_count() const noexcept;
    /// The loop the server belongs to.
    EventLoop& get_loop() const noexcept;

    /// Internal: the implementation, for the library's own code (LoopGroup's servers).
    detail::ServerImpl& impl() const noexcept { return *impl_; }

private:
    RefPtr<detail::ServerImpl> impl_;
};

}  // namespace bulb

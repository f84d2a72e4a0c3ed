// SPDX-License-Identifier: MIT
/// @file
/// Options for create_connection and create_server (plain aggregates; designated initializers).
///
/// Every member has a default member initializer, so `{.timeout = 5s}` leaves the rest at their
/// defaults without -Wmissing-field-initializers warnings under -Wextra.
#pragma once

#include <bulb/address.hpp>
#include <bulb/time.hpp>
#include <bulb/tls_context_handle.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace bulb {

/// TCP keepalive (SO_KEEPALIVE): the kernel probes an idle connection and, when the peer stops
/// answering, fails it; connection_lost then gets ETIMEDOUT ("Connection timed out"). A zero field
/// keeps the system's value (Linux: 7200 s idle, 75 s interval, 9 probes). Durations are rounded
/// up to whole seconds (user_timeout: milliseconds). Only TCP sockets; ignored for Unix sockets.
struct KeepAlive {
    /// TCP_KEEPIDLE: how long the connection stays idle before the first probe (1..32767 s).
    Duration idle = Duration::zero();
    /// TCP_KEEPINTVL: time between unanswered probes (1..32767 s).
    Duration interval = Duration::zero();
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped (1..127).
    int count = 0;
    /// TCP_USER_TIMEOUT: also drop the connection when sent data (or a probe) stays unacknowledged
    /// this long; bounds a peer that vanishes while we write, which keepalive alone does not.
    Duration user_timeout = Duration::zero();
};

/// create_connection / create_unix_connection options.
struct ConnectOptions {
    /// AF_INET or AF_INET6 to restrict resolution; AF_UNSPEC (0) for both.
    int family = 0;
    /// Bind the socket to this local address first (host, port 0 for any port).
    std::optional<SocketAddress> local_addr{};
    /// Happy Eyeballs (RFC 8305): start the next address after this delay while earlier attempts
    /// go on. Zero or negative: try addresses strictly one after another.
    Duration happy_eyeballs_delay = std::chrono::milliseconds(250);
    /// Gives up with TimeoutError after this long (resolution and connecting); zero: no limit.
    Duration timeout = Duration::zero();
    /// Speak TLS with this (client) context; the future resolves after the handshake.
    std::optional<TlsContext> tls{};
    /// The name sent as SNI and checked against the certificate; defaults to the host.
    std::string server_hostname{};
    /// Bounds on the TLS handshake and on waiting for the peer's close_notify.
    Duration tls_handshake_timeout = std::chrono::seconds(60);
    /// Bound on waiting for the peer's close_notify.
    Duration tls_shutdown_timeout = std::chrono::seconds(30);
    /// TCP keepalive on the connection (none when empty, as asyncio's default).
    std::optional<KeepAlive> keep_alive{};
};

/// create_server / create_unix_server options.
struct ServerOptions {
    /// listen() backlog, also the most connections accepted per readiness event.
    int backlog = 100;
    /// SO_REUSEADDR (on by default, as asyncio on POSIX).
    bool reuse_address = true;
    /// SO_REUSEPORT: several sockets share the port.
    bool reuse_port = false;
    /// Start accepting at once; otherwise call Server::start_serving().
    bool start_serving = true;
    /// Serve on this already-bound listening socket instead of resolving host/port; the server
    /// takes ownership and closes it.
    int sock = -1;
    /// Unix servers: remove the socket file when the server closes (asyncio's cleanup_socket).
    bool cleanup_socket = true;
    /// Speak TLS with this (server) context on every accepted connection.
    std::optional<TlsContext> tls{};
    /// Bounds on the TLS handshake and on waiting for the peer's close_notify.
    Duration tls_handshake_timeout = std::chrono::seconds(60);
    /// Bound on waiting for the peer's close_notify.
    Duration tls_shutdown_timeout = std::chrono::seconds(30);
    /// TCP keepalive on every accepted connection (asyncio's create_server keep_alive, 3.13).
    std::optional<KeepAlive> keep_alive{};
};

/// EventLoop::start_tls options: asyncio's keyword arguments of loop.start_tls(), named as
/// ConnectOptions names them (tls_ for asyncio's ssl_). A struct rather than defaulted arguments:
/// a defaulted std::string would be a temporary inside a caller's co_await.
struct StartTlsOptions {
    /// Act as the TLS server (the context must be a server context).
    bool server_side = false;
    /// Client: the name sent as SNI and checked against the certificate.
    std::string server_hostname{};
    /// Bytes the old protocol read past the upgrade point; they go to the TLS engine first.
    std::string already_read{};
    /// Bound on the handshake (asyncio's ssl_handshake_timeout); zero or less: no bound (asyncio
    /// raises ValueError for those; bulb keeps ConnectOptions' meaning).
    Duration tls_handshake_timeout = std::chrono::seconds(60);
    /// Bound on waiting for the peer's close_notify after close() (ssl_shutdown_timeout).
    Duration tls_shutdown_timeout = std::chrono::seconds(30);
};

}  // namespace bulb

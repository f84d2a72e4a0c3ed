// SPDX-License-Identifier: MIT
/// @file
/// Small socket helpers shared by transports, servers and connectors.
#pragma once

#include <bulb/address.hpp>

#include <string>
#include <system_error>

namespace bulb::detail {

/// The current errno as an error_code.
inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }

/// A non-blocking, close-on-exec stream socket; throws std::system_error.
int open_stream_socket(int family);
/// Makes `fd` non-blocking; throws std::system_error.
void set_nonblocking(int fd);
/// Turns on TCP_NODELAY for TCP sockets (no-op for others).
void set_nodelay(int fd) noexcept;
/// getsockname / getpeername as SocketAddress (AF_UNSPEC on failure).
SocketAddress local_address(int fd);
SocketAddress peer_address(int fd);
/// Closes `fd` so the peer sees a reset (SO_LINGER 0).
void close_with_reset(int fd) noexcept;

}  // namespace bulb::detail

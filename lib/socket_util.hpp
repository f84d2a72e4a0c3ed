// SPDX-License-Identifier: MIT
/// @file
/// Small socket helpers shared by transports, servers and connectors.
#pragma once

#include <bulb/address.hpp>

#include <string>

namespace bulb {
struct KeepAlive;
}
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
/// Throws std::invalid_argument naming `who` when a KeepAlive field is out of the kernel's range.
void check_keep_alive(const KeepAlive& keep_alive, const char* who);
/// Turns on SO_KEEPALIVE with `keep_alive`'s non-zero fields on a TCP socket (no-op for other
/// sockets); throws bulb::Error naming the option that failed.
void set_keep_alive(int fd, const KeepAlive& keep_alive);
/// Closes `fd` so the peer sees a reset (SO_LINGER 0).
void close_with_reset(int fd) noexcept;

}  // namespace bulb::detail

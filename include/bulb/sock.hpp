// SPDX-License-Identifier: MIT
/// @file
/// The loop's socket helpers for users who hold raw descriptors (asyncio's loop.sock_recv,
/// sock_sendall, sock_connect, sock_accept, ...), as futures: awaitable from tasks.
///
/// Each tries the system call at once and, when it would block, watches the descriptor until it
/// completes (add_reader / add_writer on the loop thread). Rules, as asyncio's:
/// - `fd` must be non-blocking (std::invalid_argument otherwise) and stays the caller's.
/// - At most one pending read-side (recv*, accept) and one write-side (send*, connect) helper per
///   descriptor: a second one replaces the first's watch (add_reader's rule).
/// - Failures are bulb::Error with the OS code and a message naming the call, descriptor and
///   address; nothing throws from the loop.
/// - Cancel safety: a cancelled recv, recv_into, recvfrom or accept consumed nothing (the data or
///   connection stays for the next call); a cancelled sendto or connect did not start (or the
///   connect attempt is abandoned, the socket unusable as with asyncio); a cancelled sendall may
///   have sent a prefix (asyncio's rule): close the connection.
/// Loop thread only.
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/future.hpp>
#include <bulb/loop.hpp>

#include <cstddef>
#include <string>
#include <utility>

namespace bulb {

/// Up to `nbytes` bytes from `fd` (empty at EOF).
BULB_API Future<std::string> sock_recv(EventLoop& loop, int fd, std::size_t nbytes);
/// Reads into `buf` (which must stay valid until the future is done) and gives the count (0 at EOF).
BULB_API Future<std::size_t> sock_recv_into(EventLoop& loop, int fd, MutableByteView buf);
/// Sends all of `data` (copied), waiting for the socket as often as needed.
BULB_API Future<void> sock_sendall(EventLoop& loop, int fd, ByteView data);
/// Connects `fd` to `addr` (a numeric address: resolve names with EventLoop::getaddrinfo first).
BULB_API Future<void> sock_connect(EventLoop& loop, int fd, const SocketAddress& addr);
/// Accepts one connection: the new descriptor (non-blocking, close-on-exec; the caller owns it)
/// and the peer's address.
BULB_API Future<std::pair<int, SocketAddress>> sock_accept(EventLoop& loop, int fd);
/// One datagram of up to `bufsize` bytes and its sender.
BULB_API Future<std::pair<std::string, SocketAddress>> sock_recvfrom(EventLoop& loop, int fd, std::size_t bufsize);
/// Sends one datagram (copied) to `addr` and gives the bytes sent.
BULB_API Future<std::size_t> sock_sendto(EventLoop& loop, int fd, ByteView data, const SocketAddress& addr);

}  // namespace bulb

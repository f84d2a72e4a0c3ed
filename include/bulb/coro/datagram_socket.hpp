// SPDX-License-Identifier: MIT
/// @file
/// DatagramSocket: UDP and Unix datagram sockets for coroutines (`co_await recv_from()`,
/// `co_await send_to()`; Tokio's UdpSocket is the model: asyncio has no awaitable datagram API).
///
/// ```
/// bulb::DatagramEndpointOptions where{.local_addr = bulb::HostPort{"127.0.0.1", 0}};
/// bulb::DatagramSocket sock = co_await bulb::open_datagram_endpoint(where);
/// bulb::Datagram d = co_await sock.recv_from();
/// co_await sock.send_to(bulb::as_bytes(d.data), d.addr);
/// ```
#pragma once

#include <bulb/coro/queue.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/datagram.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

namespace bulb {

/// One received datagram: its bytes and its sender.
struct Datagram {
    /// The datagram's bytes.
    std::string data;
    /// Its sender.
    SocketAddress addr;
};

/// What happens to a datagram that arrives while the receive queue is full.
enum class DatagramOverflow {
    drop_newest,  ///< the arriving datagram is dropped (what a full kernel buffer does)
    drop_oldest,  ///< the oldest queued datagram is dropped to make room
};

/// Receive-queue settings of open_datagram_endpoint.
struct DatagramSocketOptions {
    /// Datagrams (and reported errors) held for recv_from(); at least 1.
    std::size_t max_queued = 1024;
    /// What a full queue does; every datagram dropped is counted (DatagramSocket::dropped()).
    DatagramOverflow overflow = DatagramOverflow::drop_newest;
};

namespace detail {
struct DatagramSocketState;
}

/// A datagram endpoint for tasks. A handle: copies share one socket; loop thread only. The
/// socket stays open until close() (or until every handle is gone, which closes it too).
class BULB_API DatagramSocket {
public:
    /// Internal: made by open_datagram_endpoint().
    explicit DatagramSocket(std::shared_ptr<detail::DatagramSocketState> state) noexcept;
    ~DatagramSocket();
    /// Copies share one endpoint.
    DatagramSocket(const DatagramSocket&) noexcept;
    /// Copies share one endpoint.
    DatagramSocket& operator=(const DatagramSocket&) noexcept;

    /// The next datagram, waiting while none is queued. Errors the endpoint received
    /// (ECONNREFUSED on a connected socket, EMSGSIZE of an earlier send_to, ...) are thrown here as
    /// bulb::Error naming the address, in arrival order. Throws bulb::Error(errc::transport_closed)
    /// once the socket is closed and its queue is empty.
    /// Cancel safety: a cancelled recv_from takes no datagram (it stays queued for the next call).
    Task<Datagram> recv_from();
    /// Sends `data` (which must stay valid until the co_await completes) to `addr`, or to the
    /// connected peer when `addr` is empty; waits first while the send queue is above its
    /// high-water mark. Throws bulb::Error(errc::transport_closed) on a closed socket,
    /// std::invalid_argument as DatagramTransport::sendto does. Errors the kernel reports later
    /// arrive through recv_from().
    /// Cancel safety: a send_to cancelled while waiting sends nothing; once it sent, it completes.
    Task<void> send_to(ByteView data, SocketAddress addr);
    /// send_to() the connected peer.
    Task<void> send(ByteView data);

    /// Closes the socket (queued sends go out first); pending and later recv_from() calls drain
    /// what is queued, then throw. Idempotent.
    void close();
    /// True once close() was called or the endpoint was lost.
    bool is_closing() const noexcept;
    /// Datagrams dropped because the receive queue was full (the policy's count).
    std::size_t dropped() const noexcept;
    /// Datagrams and errors waiting for recv_from().
    std::size_t queued() const noexcept;
    /// The local and (when connected) peer addresses.
    SocketAddress get_sockname() const;
    /// The connected peer's address (remote_addr), or an empty address.
    SocketAddress get_peername() const;
    /// The underlying transport (null once the endpoint is lost).
    DatagramTransport* transport() const noexcept;

private:
    std::shared_ptr<detail::DatagramSocketState> s_;
};

/// Opens a datagram endpoint (EventLoop::create_datagram_endpoint's options) on the running
/// loop and wraps it for tasks. Throws what create_datagram_endpoint throws or fails with.
/// Cancel safety: cancelled before the endpoint is open, nothing stays open.
BULB_API Task<DatagramSocket> open_datagram_endpoint(DatagramEndpointOptions options, DatagramSocketOptions socket_options);
/// Opens a datagram endpoint (EventLoop::create_datagram_endpoint's options) on the running loop.
BULB_API Task<DatagramSocket> open_datagram_endpoint(DatagramEndpointOptions options);

}  // namespace bulb

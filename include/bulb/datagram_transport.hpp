// SPDX-License-Identifier: MIT
/// @file
/// DatagramTransport: a UDP or Unix datagram endpoint as PEP 3156 defines it.
///
/// Only the loop creates them (EventLoop::create_datagram_endpoint). Reference counted like
/// stream transports: the loop holds a reference from creation until connection_lost() has
/// returned; a DatagramTransportPtr kept after that is safe and inert (is_closing() is true,
/// sends are counted and dropped, get_protocol() is null). Loop thread only.
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/datagram_protocol.hpp>
#include <bulb/ref.hpp>
#include <bulb/transport.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulb {

class EventLoop;

/// The interface of a datagram endpoint. Loop thread only (debug mode checks it: InvalidStateError).
class BULB_API DatagramTransport : public RefCounted {
public:
    // --- sending ---------------------------------------------------------------------------
    /// Sends one datagram to `addr` at once when nothing is queued; when the kernel answers
    /// EAGAIN the whole datagram is copied into the send queue (never split or merged) and may call
    /// pause_writing() before returning. Failures go to error_received() from the loop, never
    /// thrown: EMSGSIZE for a datagram larger than the protocol allows (65,507 bytes over IPv4,
    /// 65,527 over IPv6, checked before queueing) or than the socket takes. On a connected endpoint
    /// `addr` must be empty or the connected peer (else std::invalid_argument). After close() the
    /// datagram is dropped and counted (get_dropped_writes()).
    virtual void sendto(ByteView data, const SocketAddress& addr) = 0;
    /// Sends to the connected peer; std::invalid_argument on an endpoint without remote address.
    void sendto(ByteView data) { sendto(data, SocketAddress()); }
    /// sendto() for text.
    void sendto(std::string_view text, const SocketAddress& addr) { sendto(as_bytes(text), addr); }
    /// Sends text to the connected peer (remote_addr).
    void sendto(std::string_view text) { sendto(as_bytes(text), SocketAddress()); }
    /// Datagrams dropped because the endpoint was closing or closed.
    virtual std::size_t get_dropped_writes() const noexcept = 0;
    /// Inbound datagrams not delivered because they were larger than the receive buffer.
    virtual std::size_t get_truncated_datagrams() const noexcept = 0;

    // --- closing ---------------------------------------------------------------------------
    /// Stops receiving, sends what is queued, then closes; connection_lost() follows from the
    /// loop with an empty error. Idempotent.
    virtual void close() = 0;
    /// Closes now, discarding the queue; connection_lost() follows from the loop with an empty
    /// error. Idempotent.
    virtual void abort() = 0;
    /// True once close() or abort() was called or the endpoint was lost.
    virtual bool is_closing() const noexcept = 0;

    // --- flow control ----------------------------------------------------------------------
    /// Sets the send-queue limits (the rules of Transport::set_write_buffer_limits). May call
    /// pause_writing/resume_writing right away. Throws std::invalid_argument unless high >= low.
    virtual void set_write_buffer_limits(std::optional<std::size_t> high = {},
                                         std::optional<std::size_t> low = {}) = 0;
    /// The current limits (defaults 64 KiB / 16 KiB).
    virtual WriteBufferLimits get_write_buffer_limits() const noexcept = 0;
    /// Bytes queued, not yet sent: each datagram counts its payload plus 8 bytes of header
    /// (asyncio's rule, so empty datagrams count too).
    virtual std::size_t get_write_buffer_size() const noexcept = 0;

    // --- information -----------------------------------------------------------------------
    /// The connected peer (AF_UNSPEC when not connected).
    virtual SocketAddress get_peername() const = 0;
    /// The local address.
    virtual SocketAddress get_sockname() const = 0;
    /// The socket descriptor, or -1 once closed. Do not read or close it yourself.
    virtual int get_fd() const noexcept = 0;
    /// "peername", "sockname", "fd" as text; std::nullopt for unknown names (or no peer).
    std::optional<std::string> get_extra_info(std::string_view name) const;
    /// The loop the endpoint belongs to.
    virtual EventLoop& get_loop() const noexcept = 0;

    // --- protocol --------------------------------------------------------------------------
    /// Hands the endpoint to another protocol and returns the old one (no connection_made).
    /// Throws std::invalid_argument for null.
    virtual std::unique_ptr<DatagramProtocol> set_protocol(std::unique_ptr<DatagramProtocol> protocol) = 0;
    /// The current protocol; null once connection_lost() has returned.
    virtual DatagramProtocol* get_protocol() const noexcept = 0;
};

/// The owning handle users keep to a datagram endpoint.
using DatagramTransportPtr = RefPtr<DatagramTransport>;

/// What create_datagram_endpoint resolves to: the transport and, through it, its protocol.
struct DatagramConnection {
    /// The endpoint's transport; its protocol is reached through it.
    DatagramTransportPtr transport;
    /// The protocol as a P (nullptr once the endpoint is lost, or if it is not a P).
    template <class P = DatagramProtocol>
    P* protocol() const noexcept {
        return transport ? dynamic_cast<P*>(transport->get_protocol()) : nullptr;
    }
};

}  // namespace bulb

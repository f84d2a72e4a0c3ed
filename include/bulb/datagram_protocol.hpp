// SPDX-License-Identifier: MIT
/// @file
/// DatagramProtocol: the callbacks a DatagramTransport delivers (asyncio.DatagramProtocol).
///
/// Call sequence, each on the loop thread:
///
///     connection_made -> (datagram_received | error_received)* -> connection_lost
///
/// plus pause_writing / resume_writing, strictly alternating and starting with pause_writing,
/// any time between connection_made and connection_lost.
/// - connection_made runs first; receiving starts only after it returned.
/// - connection_lost runs exactly once and last, for close, abort, errors and loop teardown.
/// - An exception thrown from any callback goes to the loop's exception handler with the
///   transport named (ExceptionContext::datagram_transport), and the endpoint is aborted
///   (connection_lost gets errc::protocol_callback_failed).
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/function.hpp>

#include <memory>
#include <system_error>

namespace bulb {

class DatagramTransport;

/// Callbacks of a datagram endpoint (UDP over IPv4/IPv6, Unix datagram sockets).
///
/// Made by a DatagramProtocolFactory; owned by its transport and destroyed right after
/// connection_lost() returns. It may keep a plain DatagramTransport* until then.
class BULB_API DatagramProtocol {
public:
    virtual ~DatagramProtocol();

    /// The endpoint is ready; `transport` stays valid until connection_lost() returns.
    virtual void connection_made(DatagramTransport& transport);
    /// One whole datagram arrived from `addr` (an unnamed Unix sender has an empty path).
    /// `data` is valid only for the duration of the call. Datagrams are never merged or split; one
    /// that did not fit the receive buffer is not delivered cut: error_received(errc::datagram_truncated).
    virtual void datagram_received(ByteView data, const SocketAddress& addr);
    /// A send or receive failed without ending the endpoint: EMSGSIZE for an oversized datagram,
    /// ECONNREFUSED for an ICMP port-unreachable on a connected endpoint, EACCES for a broadcast
    /// without allow_broadcast, errc::datagram_truncated. `addr` is the address involved (the
    /// destination of a failed send, the connected peer), AF_UNSPEC when the kernel does not say.
    virtual void error_received(std::error_code ec, const SocketAddress& addr);
    /// The endpoint is closed. `ec` is empty for close() and abort(); otherwise a bulb::errc
    /// (protocol_callback_failed, loop_closed) or the OS error.
    virtual void connection_lost(std::error_code ec);
    /// The send queue went above the high-water mark.
    /// @note The only callback invoked synchronously: from inside DatagramTransport::sendto().
    virtual void pause_writing();
    /// The send queue drained to the low-water mark or below.
    virtual void resume_writing();
};

/// Makes the protocol of a new datagram endpoint (create_datagram_endpoint).
using DatagramProtocolFactory = UniqueFunction<std::unique_ptr<DatagramProtocol>()>;

}  // namespace bulb

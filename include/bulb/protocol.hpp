// SPDX-License-Identifier: MIT
/// @file
/// Protocol and BufferedProtocol: the callbacks a stream Transport delivers (PEP 3156).
///
/// Call sequence, each on the loop thread:
///
///     connection_made -> (data_received | buffer_updated)* -> eof_received? -> connection_lost
///
/// plus pause_writing / resume_writing, strictly alternating and starting with pause_writing,
/// any time between connection_made and connection_lost.
/// - connection_made runs first; reading starts only after it returned.
/// - connection_lost runs exactly once and last, for close, abort, EOF, errors and loop teardown.
/// - An exception thrown from any callback goes to the loop's exception handler with the transport
///   named, and the connection is aborted (errc::protocol_callback_failed).
#pragma once

#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/function.hpp>

#include <cstddef>
#include <memory>
#include <system_error>

namespace bulb {

class Transport;

/// Callbacks shared by every stream protocol.
///
/// Created by a ProtocolFactory (or handed to a transport with set_protocol); owned by its
/// transport and destroyed right after connection_lost() returns. It may keep a plain
/// Transport* from connection_made() until then.
class BULB_API Protocol {
public:
    virtual ~Protocol();

    /// The connection is ready; `transport` stays valid until connection_lost() returns.
    virtual void connection_made(Transport& transport);
    /// Bytes arrived; `data` is valid only for the duration of the call.
    virtual void data_received(ByteView data);
    /// The peer closed its write side (TCP FIN; over TLS its close_notify). Return true to keep
    /// the transport open for writing (then close it yourself); false (the default) closes it.
    virtual bool eof_received();
    /// The connection is gone. `ec` is empty for close(), abort() and a clean EOF; otherwise the
    /// OS error (system_category) or a bulb::errc.
    virtual void connection_lost(std::error_code ec);
    /// The write buffer went above the high-water mark.
    /// @note The only callback invoked synchronously: from inside Transport::write().
    virtual void pause_writing();
    /// The write buffer drained to the low-water mark or below.
    virtual void resume_writing();
};

/// A protocol that receives straight into its own memory (asyncio.BufferedProtocol): the
/// transport calls get_buffer(), reads into it, then buffer_updated() instead of data_received().
class BULB_API BufferedProtocol : public Protocol {
public:
    /// Returns where to read next; at least one byte, ideally `size_hint` bytes.
    virtual MutableByteView get_buffer(std::size_t size_hint) = 0;
    /// `n` bytes were written to the start of the last buffer returned by get_buffer().
    virtual void buffer_updated(std::size_t n) = 0;

private:
    void data_received(ByteView) final {}
};

/// Makes one protocol per connection (create_server, create_connection).
using ProtocolFactory = UniqueFunction<std::unique_ptr<Protocol>()>;

}  // namespace bulb

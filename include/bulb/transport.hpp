// SPDX-License-Identifier: MIT
/// @file
/// Transport: a byte-stream connection as PEP 3156 defines it (TCP, Unix sockets; TLS later).
///
/// Only the loop creates transports (create_connection, create_server, ...). A transport is
/// reference counted; TransportPtr is the owning handle users keep. The loop holds a reference
/// from creation until connection_lost() has returned; a TransportPtr kept after that is safe
/// and inert: is_closing() is true, writes are counted and dropped, get_protocol() is null.
/// Loop thread only.
#pragma once

#include <bulb/address.hpp>
#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/future.hpp>
#include <bulb/protocol.hpp>
#include <bulb/ref.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace bulb {

class EventLoop;

/// Write-buffer limits: pause_writing above `high`, resume_writing at `low` or below.
struct WriteBufferLimits {
    /// Writing pauses above this many buffered bytes.
    std::size_t high = 64 * 1024;
    /// Writing resumes once the buffer is down to this many bytes or fewer.
    std::size_t low = 16 * 1024;
};

/// The interface of every stream transport.
class BULB_API Transport : public RefCounted {
public:
    // --- writing ---------------------------------------------------------------------------
    /// Sends `data`: at once when the buffer is empty (no copy), the rest is buffered and sent
    /// when the socket is writable. May call pause_writing() before returning. After close() or
    /// once the connection is lost the data is dropped and counted (get_dropped_writes()).
    /// Throws InvalidStateError after write_eof().
    virtual void write(ByteView data) = 0;
    /// write() for text.
    void write(std::string_view text) { write(as_bytes(text)); }
    /// Writes several buffers, gathered into one system call where possible.
    virtual void writelines(std::span<const ByteView> buffers) = 0;
    /// The same, from a braced list of buffers.
    void writelines(std::initializer_list<ByteView> buffers) { writelines(std::span(buffers.begin(), buffers.size())); }
    /// Closes the write side after the buffered data has been sent (half-close).
    virtual void write_eof() = 0;
    /// True when write_eof() is supported (TCP and Unix sockets; not TLS).
    virtual bool can_write_eof() const noexcept = 0;
    /// Writes dropped because the transport was closing or lost.
    virtual std::size_t get_dropped_writes() const noexcept = 0;
    /// Sends `count` bytes (std::nullopt: up to end of file) of the regular file `fd` from
    /// `offset`, after what is already buffered (asyncio's loop.sendfile). The future resolves
    /// with the bytes sent (fewer than `count` only when the file ended first); it fails with the
    /// OS error, or errc::transport_closed when the connection was closed, aborted or lost midway.
    /// TCP/Unix transports use sendfile(2); others (TLS) pread + write with flow control, unless
    /// `fallback` is false: then the future fails with errc::sendfile_not_available. Reading is
    /// paused meanwhile, and write() throws InvalidStateError; close() waits for the file.
    /// Unlike asyncio, `fd`'s file position is neither used nor moved (pread semantics: one
    /// descriptor can feed many sends); keep it open until the future is done. Throws
    /// InvalidStateError when closing, after write_eof() or during another sendfile, and
    /// std::invalid_argument (naming the fd) when `fd` is not a regular file. Loop thread only;
    /// cancelling the future does not stop the transfer.
    Future<std::uint64_t> sendfile(int fd, std::uint64_t offset = 0, std::optional<std::uint64_t> count = std::nullopt,
                                   bool fallback = true);

    // --- closing ---------------------------------------------------------------------------
    /// Stops reading, sends what is buffered, then closes; connection_lost() follows from the loop
    /// with an empty error. Idempotent.
    virtual void close() = 0;
    /// Closes now, discarding the buffer (the peer sees a reset); connection_lost() follows from
    /// the loop with an empty error. Idempotent.
    virtual void abort() = 0;
    /// True once close() or abort() was called or the connection was lost.
    virtual bool is_closing() const noexcept = 0;

    // --- reading ---------------------------------------------------------------------------
    /// Stops data_received() until resume_reading() (the kernel window then fills). Idempotent.
    virtual void pause_reading() = 0;
    /// Restarts reading after pause_reading(). Idempotent.
    virtual void resume_reading() = 0;
    /// True while the transport delivers data.
    virtual bool is_reading() const noexcept = 0;

    // --- flow control ----------------------------------------------------------------------
    /// Sets the write-buffer limits (asyncio rules: only `high` given → low = high / 4; only
    /// `low` given → high = 4 * low). Throws std::invalid_argument unless high >= low.
    /// May call pause_writing/resume_writing right away.
    virtual void set_write_buffer_limits(std::optional<std::size_t> high = {},
                                         std::optional<std::size_t> low = {}) = 0;
    /// The current limits.
    virtual WriteBufferLimits get_write_buffer_limits() const noexcept = 0;
    /// Bytes buffered, not yet sent.
    virtual std::size_t get_write_buffer_size() const noexcept = 0;
    /// True between the protocol's pause_writing() and its resume_writing() (the transport's own
    /// record of what it told the protocol; start_tls carries it over to the TLS layer).
    virtual bool is_writing_paused() const noexcept = 0;

    // --- information -----------------------------------------------------------------------
    /// The peer's address (AF_UNSPEC when unknown).
    virtual SocketAddress get_peername() const = 0;
    /// The local address.
    virtual SocketAddress get_sockname() const = 0;
    /// The socket descriptor, or -1 once closed. Do not read or close it yourself.
    virtual int get_fd() const noexcept = 0;
    /// Named extra information as text ("peername", "sockname", "fd"; TLS adds "version",
    /// "cipher", "alpn_protocol", "server_name", "session_reused" ("1" or "0"),
    /// "peercert_subject", "peercert_issuer", "peercert_san"); std::nullopt for unknown names.
    virtual std::optional<std::string> get_extra_info(std::string_view name) const;
    /// The loop the transport belongs to.
    virtual EventLoop& get_loop() const noexcept = 0;
    /// What kind of transport this is, e.g. "StreamTransport", "TlsTransport".
    virtual const char* kind() const noexcept = 0;
    /// A one-line description for logs and exception reports, as asyncio's repr: kind, fd, local
    /// and peer address, closing, e.g. `<StreamTransport fd=7 local=127.0.0.1:5000 peer=127.0.0.1:41234>`.
    std::string describe() const;

    // --- protocol --------------------------------------------------------------------------
    /// Hands the connection to another protocol and returns the old one (STARTTLS, upgrades).
    /// The new protocol's connection_made() is not called; after connection_lost() the protocol
    /// is handed back, not installed. Throws std::invalid_argument for null.
    virtual std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol) = 0;
    /// The current protocol; null once connection_lost() has returned.
    virtual Protocol* get_protocol() const noexcept = 0;

protected:
    /// sendfile() after its checks: the zero-copy path of transports that
    /// have one. The default is the pread + write fallback (or sendfile_not_available).
    virtual Future<std::uint64_t> do_sendfile(int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                                              bool fallback);
    /// The pread + write fallback, for transports whose zero-copy path cannot be used.
    Future<std::uint64_t> sendfile_fallback(int fd, std::uint64_t offset, std::optional<std::uint64_t> count);
};

/// The owning handle users keep to a transport.
using TransportPtr = RefPtr<Transport>;

/// What create_connection resolves to: the transport and, through it, its protocol.
struct Connection {
    /// The transport; its protocol is reached through it.
    TransportPtr transport;
    /// The protocol as a P (nullptr once the connection is lost, or if it is not a P).
    template <class P = Protocol>
    P* protocol() const noexcept {
        return transport ? dynamic_cast<P*>(transport->get_protocol()) : nullptr;
    }
};

}  // namespace bulb

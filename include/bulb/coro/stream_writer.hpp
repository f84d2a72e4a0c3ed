// SPDX-License-Identifier: MIT
/// @file
/// StreamWriter: writing to a connection with coroutine backpressure (asyncio.StreamWriter).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task.hpp>
#include <bulb/ref.hpp>
#include <bulb/tls_context.hpp>
#include <bulb/transport.hpp>

#include <initializer_list>
#include <string_view>

namespace bulb {

namespace detail {
class StreamCore;
class WriterHandle;
}

/// The writing half of a stream connection, made by open_connection() / start_server().
///
/// A counted handle; loop thread only. When the last StreamWriter handle goes away while the
/// connection is open, the connection is closed (its buffered data still goes out).
class BULB_API StreamWriter {
public:
    /// Internal: made by open_connection, start_server and friends.
    explicit StreamWriter(RefPtr<detail::StreamCore> core);
    /// Copies share one stream.
    StreamWriter(const StreamWriter&) noexcept;
    /// Copies share one stream.
    StreamWriter& operator=(const StreamWriter&) noexcept;
    ~StreamWriter();

    /// Queues `data` on the transport (never blocks); follow with drain() to respect flow control.
    void write(std::string_view data);
    /// The same, for bytes.
    void write(ByteView data);
    /// Queues several buffers, gathered into one system call where possible.
    void writelines(std::initializer_list<std::string_view> lines);
    /// Waits until the transport's buffer is at its low-water mark (returns at once when below
    /// high water). Any number of tasks may wait at once. Throws the connection's error (or
    /// bulb::Error with errc::transport_closed) once the connection is lost.
    /// Cancel safety: nothing is lost; the written data stays queued.
    Task<void> drain();
    /// Half-closes (sends FIN after the buffered data).
    void write_eof();
    /// True for TCP and Unix sockets.
    bool can_write_eof() const noexcept;
    /// Closes the connection after sending the buffered data.
    void close();
    /// True once closing.
    bool is_closing() const noexcept;
    /// Waits until the connection is gone; throws its error if it failed.
    /// Cancel safety: cancelling only stops waiting.
    Task<void> wait_closed();
    /// Upgrades the connection to TLS (STARTTLS): bytes the reader had buffered past the upgrade
    /// point go to the TLS engine, then reader and writer carry the TLS stream. A server context
    /// makes this the server side; a client context checks the certificate against
    /// `server_hostname` (required unless the context has verify_hostname = false). Throws the
    /// handshake error (the connection is then aborted). No defaulted argument: see streams.hpp.
    Task<void> start_tls(TlsContext tls, std::string server_hostname);
    /// The same without a host name: server contexts, and client contexts that do not check it.
    Task<void> start_tls(TlsContext tls);
    /// Transport::get_extra_info.
    std::optional<std::string> get_extra_info(std::string_view name) const;
    /// The underlying transport.
    Transport& transport() const noexcept;

private:
    RefPtr<detail::StreamCore> core_;
    RefPtr<detail::WriterHandle> handle_;
};

}  // namespace bulb

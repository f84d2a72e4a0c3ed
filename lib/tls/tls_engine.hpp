// SPDX-License-Identifier: MIT
/// @file
/// TlsEngine: one TLS session driven through memory (ciphertext in, ciphertext out), with no
/// I/O of its own. Implemented in tls_openssl.cpp, the only file that calls OpenSSL.
#pragma once

#include <bulb/bytes.hpp>
#include <bulb/extra_info.hpp>
#include <bulb/tls_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace bulb::detail {

class TlsEngine {
public:
    enum class Status {
        ok,       ///< done (handshake complete, bytes read or written)
        want_io,  ///< needs more ciphertext from the peer
        closed,   ///< the peer sent close_notify
        failed,   ///< see error()
    };

    /// A session on `ctx`; `server_hostname` is sent as SNI and checked against the peer's
    /// certificate (clients). Throws bulb::Error.
    static std::unique_ptr<TlsEngine> create(const TlsContext& ctx, bool server_side, const std::string& server_hostname);
    virtual ~TlsEngine() = default;

    /// Ciphertext received from the peer. The engine may read it in place: call stash() before
    /// those bytes go away.
    virtual void feed(ByteView ciphertext) = 0;
    /// Copies what the engine has not yet read of the last feed() into its own buffer.
    virtual void stash() = 0;
    /// The peer closed the connection (TCP EOF).
    virtual void feed_eof() = 0;
    /// Advances the handshake.
    virtual Status handshake() = 0;
    /// Decrypts into `out`; `n` is set to the bytes produced.
    virtual Status read(MutableByteView out, std::size_t& n) = 0;
    /// Encrypts all of `plain` (the output grows as needed).
    virtual Status write(ByteView plain) = 0;
    /// Queues close_notify.
    virtual void shutdown() = 0;
    /// Ciphertext waiting to be sent; clear_output() after sending it.
    virtual std::string& output() = 0;
    /// Plaintext or ciphertext still buffered inside the engine (not yet read).
    virtual bool has_buffered_input() const = 0;
    /// Why the last call failed (tls_category, or errc::tls_unexpected_eof).
    virtual std::error_code error() const = 0;
    /// More about a failed handshake, for the error message (a host-name mismatch: the name
    /// expected and the names the certificate holds); empty when there is nothing to add.
    virtual std::string error_detail() const { return {}; }
    /// Frees the input and output buffers that are empty, unless they hold between `small` and
    /// `large` bytes.
    virtual void trim(std::size_t small, std::size_t large) = 0;
    /// get_extra_info names: "peercert_subject", "peercert_issuer", "peercert_san", "cipher",
    /// "version", "alpn_protocol", "server_name", "session_reused".
    virtual std::optional<std::string> info(std::string_view name) const = 0;
    /// The typed form of info() (see ExtraInfo): "version", "cipher", "peercert",
    /// "peercert_verified", "alpn_protocol", "server_name", "session_reused".
    virtual std::optional<ExtraInfo> info_value(std::string_view name) const = 0;
    /// Clients: the session cache key ("host:port") of this connection. Resumes a session the
    /// context holds for it, and stores the sessions the server sends. Call before handshake().
    virtual void set_session_key(std::string key) = 0;
};

}  // namespace bulb::detail

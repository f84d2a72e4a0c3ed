// SPDX-License-Identifier: MIT
/// @file
/// The TlsContext handle type alone, for headers that only hold one (options.hpp): the option
/// structs it is made from, and tls_category, are in <bulb/tls_context.hpp>.
#pragma once

#include <bulb/config.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace bulb {

struct TlsClientOptions;
struct TlsServerOptions;
struct TlsCertificate;

/// TLS configuration shared by many connections (an SSL_CTX). A counted handle: copies share
/// one context; thread-safe to share between loops.
class BULB_API TlsContext {
public:
    /// A client context: verifies the peer against the system trust store (or the given CAs)
    /// and checks the host name; TLS 1.2 minimum. Throws bulb::Error (tls_category) for
    /// unreadable files or a key that does not match its certificate.
    static TlsContext client(const TlsClientOptions& options);
    /// client() with default options (the system trust store, host name checked).
    static TlsContext client();
    /// A server context with the certificate chain and key from PEM files. Throws bulb::Error
    /// at once for unreadable files or a key that does not match the certificate.
    static TlsContext server(const std::string& cert_chain_file, const std::string& key_file,
                             const TlsServerOptions& options);
    /// server() with default options.
    static TlsContext server(const std::string& cert_chain_file, const std::string& key_file);
    /// A server context whose certificate and key come from files or from memory (PEM text), the
    /// key possibly encrypted (TlsCertificate::key_password). Throws bulb::Error naming the file or
    /// the PEM option that failed.
    static TlsContext server(const TlsCertificate& identity, const TlsServerOptions& options);

    /// Sessions the client session cache holds now (keys with at least one session); 0 for
    /// servers and for clients without the cache. Thread-safe.
    std::size_t session_cache_count() const noexcept;

    /// True for server contexts.
    bool is_server() const noexcept;
    /// True for a client context that verifies certificates and their host names: each connection
    /// must then name the host it expects (server_hostname).
    bool requires_hostname() const noexcept;
    /// Internal: the implementation (lib/tls/tls_openssl.cpp).
    struct Impl;
    /// Internal: the implementation.
    const std::shared_ptr<Impl>& impl() const noexcept { return impl_; }

private:
    explicit TlsContext(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace bulb

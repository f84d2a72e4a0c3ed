// SPDX-License-Identifier: MIT
/// @file
/// TlsContext: certificates, verification and ALPN settings for TLS connections (OpenSSL 3 inside;
/// no OpenSSL header is exposed). The handle type itself is in <bulb/tls_context_handle.hpp>,
/// which headers that only hold a context (options.hpp) include instead of this one.
#pragma once

#include <bulb/config.hpp>
#include <bulb/tls_context_handle.hpp>

#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace bulb {

/// The category of TLS errors; messages come from OpenSSL (certificate verification failures
/// carry X509 verify messages).
BULB_API const std::error_category& tls_category() noexcept;

/// Client-side settings.
struct TlsClientOptions {
    /// Trust these CAs (PEM file and/or hashed directory) instead of the system trust store.
    std::string ca_file{};
    /// A hashed CA directory (c_rehash).
    std::string ca_dir{};
    /// A client certificate chain and its key, for servers that ask for one.
    std::string cert_file{};
    /// The key of cert_file.
    std::string key_file{};
    /// ALPN protocols to offer, most preferred first (e.g. {"h2", "http/1.1"}).
    std::vector<std::string> alpn{};
    /// Turns off certificate and host-name verification. Only for tests against self-signed
    /// peers: anyone on the path can then read and change the traffic.
    bool dangerously_disable_verification = false;
    /// Check the certificate against the server_hostname each connection gives (on by default).
    /// A verifying context with this on refuses a connection or start_tls without a host name
    /// (asyncio: "You must set server_hostname when using ssl without a host"); turning it off is
    /// the explicit opt-out: any certificate from a trusted CA is then accepted for any name.
    bool verify_hostname = true;
};

/// A certificate chain and its private key (PEM files).
struct TlsCertificate {
    /// The certificate chain, leaf first (PEM).
    std::string cert_chain_file{};
    /// Its private key (PEM).
    std::string key_file{};
};

/// Server-side settings.
struct TlsServerOptions {
    /// Ask clients for a certificate and verify it against these CAs (PEM file).
    std::string client_ca_file{};
    /// With client_ca_file: refuse clients without a certificate (otherwise it is optional).
    bool require_client_certificate = true;
    /// ALPN protocols the server accepts, most preferred first.
    std::vector<std::string> alpn{};
    /// SNI: a certificate per server name; names not listed get the default certificate.
    std::map<std::string, TlsCertificate> sni{};
    /// Stateless session resumption (TLS 1.3 tickets / TLS 1.2 session tickets).
    bool session_tickets = true;
};

}  // namespace bulb

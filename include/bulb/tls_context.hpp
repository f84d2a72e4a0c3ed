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

/// The TLS 1.2 cipher suites contexts use unless their options name others: ECDHE key exchange
/// (forward secrecy) with an AEAD cipher (AES-GCM, ChaCha20-Poly1305) only. OpenSSL's DEFAULT
/// list would also accept static RSA key exchange and CBC with HMAC-SHA1. TLS 1.3 suites are all
/// AEAD and keep OpenSSL's defaults.
inline constexpr const char* default_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

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
    /// TLS 1.2 cipher suites (OpenSSL cipher-list syntax); empty means default_tls12_ciphers.
    /// A list OpenSSL cannot use throws std::invalid_argument naming it.
    std::string ciphers{};
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
    /// TLS 1.2 cipher suites (OpenSSL cipher-list syntax); empty means default_tls12_ciphers.
    /// A list OpenSSL cannot use throws std::invalid_argument naming it.
    std::string ciphers{};
};

}  // namespace bulb

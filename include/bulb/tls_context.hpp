// SPDX-License-Identifier: MIT
/// @file
/// TlsContext: certificates, verification and ALPN settings for TLS connections (OpenSSL 3 inside;
/// no OpenSSL header is exposed). The handle type itself is in <bulb/tls_context_handle.hpp>,
/// which headers that only hold a context (options.hpp) include instead of this one.
#pragma once

#include <bulb/config.hpp>
#include <bulb/tls_context_handle.hpp>
#include <bulb/tls_info.hpp>

#include <cstddef>
#include <functional>

#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace bulb {

/// The category of TLS errors; messages come from OpenSSL (certificate verification failures
/// carry X509 verify messages).
BULB_API const std::error_category& tls_category() noexcept;

/// Gives the passphrase of an encrypted private key (ssl.SSLContext.load_cert_chain's `password`
/// callable). Called once per key while the TlsContext is made, on that thread; an exception it
/// throws leaves the context factory as it is. Without one, an encrypted key is an error (OpenSSL
/// would otherwise prompt on the terminal).
using TlsPasswordCallback = std::function<std::string()>;

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

    // --- added with issue 17 (asyncio/ssl parity) ------------------------------------------
    /// Trusted CAs as PEM text (ssl's `cadata`), in addition to ca_file / ca_dir; with any of the
    /// three the system trust store is not loaded.
    std::string ca_pem{};
    /// The client certificate chain (leaf first) and its key as PEM text, instead of cert_file /
    /// key_file (ssl.SSLContext.load_cert_chain reads files only; bulb also takes memory).
    std::string cert_pem{};
    /// The key of cert_pem (PEM text).
    std::string key_pem{};
    /// The passphrase of an encrypted key_file / key_pem.
    TlsPasswordCallback key_password{};
    /// The lowest and highest protocol versions offered (ssl.SSLContext.minimum_version /
    /// maximum_version). Throws std::invalid_argument when minimum > maximum.
    TlsVersion minimum_version = TlsVersion::tls1_2;
    /// See minimum_version.
    TlsVersion maximum_version = TlsVersion::tls1_3;
    /// TLS 1.2 cipher list in OpenSSL syntax (ssl.SSLContext.set_ciphers); empty means
    /// default_tls12_ciphers. A list OpenSSL cannot use throws std::invalid_argument naming it.
    std::string ciphers{};
    /// TLS 1.3 cipher suites, e.g. "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"; empty keeps
    /// OpenSSL's default.
    std::string ciphersuites{};
    /// Key exchange groups, most preferred first, e.g. "X25519:P-256" (ssl.SSLContext.set_ecdh_curve
    /// takes one; OpenSSL takes a list); empty keeps OpenSSL's default.
    std::string groups{};
    /// Client-side session resumption: the context keeps the sessions (TLS 1.3 tickets, TLS 1.2
    /// tickets or session IDs) its connections receive, keyed by "host:port" (the server_hostname,
    /// or the peer's address without one), and a later connection to the same key resumes one.
    /// Python's ssl passes a session object by hand (wrap_socket(session=)); bulb keeps the cache in
    /// the context, thread-safe, shared by every loop using it. A TLS 1.3 ticket is used once
    /// (RFC 8446 C.4). get_extra_info("session_reused") says whether a connection resumed.
    bool session_cache = true;
    /// The most keys the session cache holds; the least recently stored goes first.
    std::size_t session_cache_size = 256;
};

/// A certificate chain and its private key (PEM files).
struct TlsCertificate {
    /// The certificate chain, leaf first (PEM).
    std::string cert_chain_file{};
    /// Its private key (PEM).
    std::string key_file{};
    /// The chain as PEM text, instead of cert_chain_file (issue 17: certificates from memory).
    std::string cert_chain_pem{};
    /// The key as PEM text, instead of key_file.
    std::string key_pem{};
    /// The passphrase of an encrypted key.
    TlsPasswordCallback key_password{};
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

    // --- added with issue 17 (asyncio/ssl parity) ------------------------------------------
    /// Client CAs as PEM text (with or instead of client_ca_file): asks clients for a
    /// certificate as client_ca_file does. The peer's certificate and whether it verified:
    /// get_extra_info<TlsPeerCertificate>("peercert"), get_extra_info<bool>("peercert_verified").
    std::string client_ca_pem{};
    /// The passphrase of an encrypted key given to server(cert_chain_file, key_file, options).
    TlsPasswordCallback key_password{};
    /// Protocol version bounds (ssl.SSLContext.minimum_version / maximum_version); a client
    /// outside them gets a protocol_version alert.
    TlsVersion minimum_version = TlsVersion::tls1_2;
    /// See minimum_version.
    TlsVersion maximum_version = TlsVersion::tls1_3;
    /// TLS 1.2 cipher list (OpenSSL syntax); empty means default_tls12_ciphers. A list OpenSSL
    /// cannot use throws std::invalid_argument naming it.
    std::string ciphers{};
    /// TLS 1.3 cipher suites; empty keeps OpenSSL's default.
    std::string ciphersuites{};
    /// Key exchange groups, most preferred first (e.g. "X25519:P-256"); empty keeps OpenSSL's default.
    std::string groups{};
};

}  // namespace bulb

// SPDX-License-Identifier: MIT
/// @file
/// The TLS command-line flags the examples share: servers take --tls-cert FILE --tls-key FILE,
/// clients --tls (system trust store) or --tls-ca FILE, and --tls-name NAME for the host name
/// to verify (default: the host connected to).
#pragma once

#include <bulb/tls_context.hpp>

#include <optional>
#include <string>
#include <string_view>

struct TlsFlags {
    std::string cert, key, ca, name;
    bool client_tls = false;  // --tls or --tls-ca given

    /// Takes argv[i] (and its value, argv[i + 1]) when it is a TLS flag: returns true and
    /// advances i past the value. Flags that need a value and lack one leave `i` alone and
    /// return false, so the caller's usage message is printed.
    bool take(int argc, char** argv, int& i) {
        std::string_view arg = argv[i];
        if (arg == "--tls") {
            client_tls = true;
            return true;
        }
        if (i + 1 >= argc) return false;
        std::string* target = arg == "--tls-cert" ? &cert
                              : arg == "--tls-key" ? &key
                              : arg == "--tls-ca"  ? &ca
                              : arg == "--tls-name" ? &name
                                                    : nullptr;
        if (!target) return false;
        *target = argv[++i];
        if (arg == "--tls-ca") client_tls = true;
        return true;
    }

    /// For a server: both or neither of --tls-cert/--tls-key.
    bool server_valid() const { return cert.empty() == key.empty(); }

    /// The server context, or none without --tls-cert. Throws bulb::Error for bad files.
    std::optional<bulb::TlsContext> server_context() const {
        if (cert.empty()) return std::nullopt;
        return bulb::TlsContext::server(cert, key);
    }

    /// The client context, or none without --tls/--tls-ca. Throws bulb::Error for a bad CA file.
    std::optional<bulb::TlsContext> client_context() const {
        if (!client_tls) return std::nullopt;
        bulb::TlsClientOptions options;
        options.ca_file = ca;
        return bulb::TlsContext::client(options);
    }

    static constexpr const char* server_usage = "[--tls-cert FILE --tls-key FILE]";
    static constexpr const char* client_usage = "[--tls | --tls-ca FILE] [--tls-name NAME]";
};

// SPDX-License-Identifier: MIT
/// @file
/// Command-line options shared by both chat servers.
#pragma once

#include "tls_flags.hpp"

#include <bulb/error.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

struct ChatOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::size_t max_line = 1024;       // longer lines get an error line
    std::size_t max_backlog = 1000;    // lines queued for a client before it is cut off
    std::string motd;
    std::optional<bulb::TlsContext> tls;  // --tls-cert/--tls-key: every client speaks TLS

    /// Parses argv; wrong options print usage and exit 2. The TLS certificate and key are
    /// loaded here: an unreadable file or a key not matching its certificate prints the error
    /// and exits 1.
    static ChatOptions parse(int argc, char** argv, const char* program) {
        ChatOptions o;
        const char* bad = nullptr;  // the option that was wrong, named in the message
        auto usage = [&] {
            if (bad) std::fprintf(stderr, "%s: %s: unknown option, or a missing or bad value\n", program, bad);
            std::fprintf(stderr,
                         "usage: %s [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES] [--motd TEXT]\n"
                         "       %*s %s\n",
                         program, static_cast<int>(std::string_view(program).size()), "", TlsFlags::server_usage);
            std::exit(2);
        };
        auto number = [&](const char* s, unsigned long max) {
            char* end;
            unsigned long v = std::strtoul(s, &end, 10);
            if (*s == '\0' || *s == '-' || *end != '\0' || v > max) usage();
            return v;
        };
        TlsFlags flags;
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            bad = argv[i];
            if (i + 1 >= argc) usage();
            const char* value = argv[++i];
            if (arg == "--host") o.host = value;
            else if (arg == "--port") o.port = static_cast<std::uint16_t>(number(value, 65535));
            else if (arg == "--max-line") o.max_line = number(value, 1 << 30);
            else if (arg == "--max-backlog") o.max_backlog = number(value, 1 << 30);
            else if (arg == "--motd") o.motd = value;
            else if (arg == "--tls-cert") flags.cert = value;
            else if (arg == "--tls-key") flags.key = value;
            else usage();
        }
        bad = nullptr;
        if (o.max_line == 0 || o.max_backlog == 0 || !flags.server_valid()) usage();
        for (const std::string& file : {flags.cert, flags.key}) {  // OpenSSL says only "system lib"
            if (file.empty()) continue;
            if (std::FILE* f = std::fopen(file.c_str(), "r")) {
                std::fclose(f);
            } else {
                std::fprintf(stderr, "%s: TLS: cannot read '%s': %s\n", program, file.c_str(), std::strerror(errno));
                std::exit(1);
            }
        }
        try {
            o.tls = flags.server_context();
        } catch (const bulb::Error& e) {
            std::fprintf(stderr, "%s: TLS: %s\n", program, e.what());
            std::exit(1);
        }
        return o;
    }
};

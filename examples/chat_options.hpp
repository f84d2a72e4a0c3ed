// SPDX-License-Identifier: MIT
/// @file
/// Command-line options shared by both chat servers.
#pragma once

#include "tls_flags.hpp"

#include <bulb/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
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
    std::size_t max_backlog = 1000;    // lines (of max_line bytes) queued for a client at most
    std::chrono::milliseconds max_behind{10000};  // a client not catching up for this long is cut
    std::chrono::milliseconds idle_timeout{300000};  // a client silent this long is cut (0: never)
    std::string motd;
    std::size_t workers = 0;  // --workers N (chat_server only): N loops, one room; 0: one loop
    std::optional<bulb::TlsContext> tls;
    /// The bytes queued for a client at most: max_backlog lines of max_line bytes, escaped
    /// (up to 4 bytes per byte) and prefixed by a nickname.
    std::size_t max_queue_bytes() const { return max_backlog * (max_line + 64); }
    /// Queued bytes past which a client is "full": it has no room left for one more round of
    /// the room (a broadcast and a reply), so senders wait for it.
    std::size_t full_at() const {
        std::size_t headroom = 2 * (4 * max_line + 64);
        return std::max(max_queue_bytes() / 2, max_queue_bytes() - std::min(headroom, max_queue_bytes()));
    }  // --tls-cert/--tls-key: every client speaks TLS

    /// Parses argv; wrong options print usage and exit 2. The TLS certificate and key are
    /// loaded here: an unreadable file or a key not matching its certificate prints the error
    /// and exits 1. `workers_ok`: --workers N is accepted (and shown in the usage).
    static ChatOptions parse(int argc, char** argv, const char* program, bool workers_ok = false) {
        ChatOptions o;
        const char* bad = nullptr;  // the option that was wrong, named in the message
        auto usage = [&] {
            if (bad) std::fprintf(stderr, "%s: %s: unknown option, or a missing or bad value\n", program, bad);
            std::fprintf(stderr,
                         "usage: %s [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES] [--motd TEXT]\n"
                         "       %*s [--max-behind SECONDS] [--idle-timeout SECONDS] %s%s\n",
                         program, static_cast<int>(std::string_view(program).size()), "", TlsFlags::server_usage,
                         workers_ok ? " [--workers N]" : "");
            std::exit(2);
        };
        auto number = [&](const char* s, unsigned long max) {
            char* end;
            unsigned long v = std::strtoul(s, &end, 10);
            if (*s == '\0' || *s == '-' || *end != '\0' || v > max) usage();
            return v;
        };
        auto seconds = [&](const char* s, bool zero_ok = false) {  // seconds, fractions allowed
            char* end;
            double v = std::strtod(s, &end);
            if (*s == '\0' || *end != '\0' || !(v > 0 || (zero_ok && v == 0)) || v > 1e6) usage();
            return std::chrono::milliseconds(static_cast<long long>(v * 1000 + 0.5));
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
            else if (arg == "--max-behind") o.max_behind = seconds(value);
            else if (arg == "--idle-timeout") o.idle_timeout = seconds(value, true);
            else if (arg == "--motd") o.motd = value;
            else if (arg == "--workers" && workers_ok) {
                o.workers = number(value, 1024);
                if (o.workers == 0) usage();
            }
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

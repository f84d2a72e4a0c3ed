// SPDX-License-Identifier: MIT
/// @file
/// Command-line options shared by both chat servers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

struct ChatOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::size_t max_line = 1024;       // longer lines get an error line
    std::size_t max_backlog = 1000;    // lines queued for a client before it is cut off
    std::string motd;

    /// Parses argv; wrong options print usage and exit 2.
    static ChatOptions parse(int argc, char** argv, const char* program) {
        ChatOptions o;
        auto usage = [&] {
            std::fprintf(stderr, "usage: %s [--host HOST] [--port PORT] [--max-line BYTES] [--max-backlog LINES] [--motd TEXT]\n",
                         program);
            std::exit(2);
        };
        auto number = [&](const char* s, unsigned long max) {
            char* end;
            unsigned long v = std::strtoul(s, &end, 10);
            if (*s == '\0' || *s == '-' || *end != '\0' || v > max) usage();
            return v;
        };
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            if (i + 1 >= argc) usage();
            const char* value = argv[++i];
            if (arg == "--host") o.host = value;
            else if (arg == "--port") o.port = static_cast<std::uint16_t>(number(value, 65535));
            else if (arg == "--max-line") o.max_line = number(value, 1 << 30);
            else if (arg == "--max-backlog") o.max_backlog = number(value, 1 << 30);
            else if (arg == "--motd") o.motd = value;
            else usage();
        }
        if (o.max_line == 0 || o.max_backlog == 0) usage();
        return o;
    }
};

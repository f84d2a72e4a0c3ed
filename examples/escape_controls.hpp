// SPDX-License-Identifier: MIT
/// @file
/// escape_controls(): makes a line safe to show on someone else's terminal.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

/// Returns `line` with every byte that could drive a terminal written as `\xHH` text: C0
/// controls but tab (CR, ESC, NUL, ...), DEL, the C1 controls (U+0080..U+009F, which some
/// terminals take as ESC sequences: 0x9B is CSI) and bytes that are not well-formed UTF-8.
/// Well-formed UTF-8 text, tab included, is unchanged. Pure function, any thread.
inline std::string escape_controls(std::string_view line) {
    std::string out;
    out.reserve(line.size());
    auto escape = [&out](unsigned char c) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\x%02X", c);
        out += buf;
    };
    const auto* p = reinterpret_cast<const unsigned char*>(line.data());
    std::size_t n = line.size();
    for (std::size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7F) escape(c);
            else out += static_cast<char>(c);
            ++i;
            continue;
        }
        // The length of a well-formed UTF-8 sequence starting here (RFC 3629), or 0.
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        bool ok = len != 0 && i + len <= n && p[i + 1] >= lo && p[i + 1] <= hi;
        for (std::size_t k = 2; ok && k < len; ++k) ok = p[i + k] >= 0x80 && p[i + k] <= 0xBF;
        if (ok && c == 0xC2 && p[i + 1] <= 0x9F) {  // U+0080..U+009F: a C1 control
            escape(c);
            escape(p[i + 1]);
            i += 2;
        } else if (ok) {
            out.append(line.substr(i, len));
            i += len;
        } else {
            escape(c);
            ++i;
        }
    }
    return out;
}

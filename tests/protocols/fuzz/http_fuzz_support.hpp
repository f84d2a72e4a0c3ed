// SPDX-License-Identifier: MIT
/// @file
/// What the HTTP parser fuzz targets check: parsing fails only with ParseError, and the input
/// cut into chunks (sizes drawn from the first byte) gives the same heads, the same body bytes
/// (joined per message), the same ends and the same error status as the input whole; what
/// parsed cleanly re-encodes to bytes that parse the same again.
#pragma once

#include <bulb/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace bulb_fuzz_http {

using bulb::protocols::FrameBuffer;

template <class Event>
struct Run {
    std::vector<std::string> log;
    std::vector<Event> events;
};

inline std::string describe(const bulb::http::Fields& f) {
    std::string s;
    for (std::size_t i = 0; i < f.size(); ++i) s += std::string(f.name(i)) + "=" + std::string(f.value(i)) + ";";
    return s;
}

template <class Parser>
Run<typename Parser::Frame> run(Parser parser, std::string_view in, std::uint8_t seed, bool chunked) {
    using namespace bulb::http;
    Run<typename Parser::Frame> r;
    std::string body, tunnel;
    FrameBuffer buffer;
    std::uint32_t x = seed * 2654435761u + 1;
    const std::size_t max_chunk = std::size_t{1} << (seed % 8);
    auto record = [&](typename Parser::Frame& ev) {
        std::visit(
            [&](auto& e) {
                using T = std::decay_t<decltype(e)>;
                if constexpr (std::is_same_v<T, RequestHead>) {
                    r.log.push_back("head " + std::string(e.method) + " " + std::string(e.target) +
                                    std::to_string(e.version_minor) + std::to_string(e.framing.keep_alive) +
                                    describe(e.fields));
                } else if constexpr (std::is_same_v<T, ResponseHead>) {
                    r.log.push_back("head " + std::to_string(e.status) + std::to_string(e.framing.keep_alive) +
                                    describe(e.fields));
                } else if constexpr (std::is_same_v<T, BodyPart>) {
                    body += e.data;
                } else if constexpr (std::is_same_v<T, MessageEnd>) {
                    r.log.push_back("body " + body);
                    r.log.push_back("end " + describe(e.trailers));
                    body.clear();
                } else {
                    tunnel += e.data;
                }
            },
            ev);
        r.events.push_back(std::move(ev));
    };
    try {
        std::size_t at = 0;
        while (at < in.size()) {
            std::size_t n = in.size() - at;
            if (chunked) {
                x = x * 1103515245u + 12345u;
                n = std::min(n, 1 + (x >> 8) % max_chunk);
            }
            std::string chunk(in.substr(at, n));
            at += n;
            if (buffer.empty() && (x & 1)) {
                buffer.borrow(chunk);
            } else {
                buffer.append(std::string_view(chunk));
            }
            while (auto ev = parser.decode(buffer)) record(*ev);
            if (parser.upgrade_pending()) {
                parser.accept_upgrade();  // the rest is tunnel data
                while (auto ev = parser.decode(buffer)) record(*ev);
            }
            buffer.keep();
        }
        if (parser.upgrade_pending()) parser.accept_upgrade();
        while (auto ev = parser.decode(buffer)) record(*ev);
        while (auto ev = parser.decode_eof(buffer)) record(*ev);
    } catch (const ParseError& e) {
        if (e.status() < 400 || e.status() > 599) std::abort();
        r.log.push_back("error " + std::to_string(e.status()));
    }
    if (!body.empty()) r.log.push_back("body " + body);
    if (!tunnel.empty()) r.log.push_back("tunnel " + tunnel);
    return r;
}

/// Whole vs. chunked must agree; a clean parse re-encodes to the same log.
template <class Parser, class Make>
void check(const std::uint8_t* data, std::size_t size, Make make) {
    if (size == 0) return;
    const std::uint8_t seed = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto whole = run(make(seed), in, seed, false);
    auto chunked = run(make(seed), in, seed, true);
    if (whole.log != chunked.log) std::abort();
    if (whole.log.empty() || whole.log.back().rfind("error", 0) == 0) return;
    Parser encoder = make(seed);
    std::string wire;
    for (auto& ev : whole.events) encoder.encode(ev, wire);
    auto again = run(make(seed), wire, seed, false);
    if (again.log != whole.log) std::abort();
}

}  // namespace bulb_fuzz_http

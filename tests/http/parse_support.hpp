// SPDX-License-Identifier: MIT
/// @file
/// Helpers for the HTTP parser tests: a parse of a byte stream cut into pieces, written down
/// as a list of lines ("HEAD GET / 1.1 ...", "BODY ...", "END ...", "ERROR 400") so that two
/// parses of differently cut input can be compared whole.
#pragma once

#include <bulb/http/parser.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <variant>
#include <string>
#include <string_view>
#include <vector>

namespace bulb_test {

using bulb::protocols::FrameBuffer;

inline std::string describe_fields(const bulb::http::Fields& f) {
    std::string s;
    for (std::size_t i = 0; i < f.size(); ++i) {
        s += " [";
        s += f.name(i);
        s += '=';
        s += f.value(i);
        s += ']';
    }
    return s;
}

/// The parse of `stream` cut at `cuts` (increasing offsets), written down line by line. Body
/// parts are joined per message. `borrow` feeds pieces as FramedProtocol does. An upgrade
/// stops the parse ("UPGRADE"); an error ends it ("ERROR 400").
template <class Parser>
std::vector<std::string> parse_log(Parser parser, std::string_view stream, const std::vector<std::size_t>& cuts,
                                   bool eof = true, bool borrow = true) {
    std::vector<std::string> log;
    std::string body;
    std::string tunnel;
    FrameBuffer buffer;
    auto record_one = [&](auto& e) {
        using namespace bulb::http;
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, RequestHead>) {
            log.push_back("HEAD " + std::string(e.method) + " " + std::string(e.target) + " 1." +
                          std::to_string(e.version_minor) + " ka=" + std::to_string(e.framing.keep_alive) +
                          " up=" + std::to_string(e.framing.upgrade) +
                          " cont=" + std::to_string(e.framing.expect_continue) + describe_fields(e.fields));
        } else if constexpr (std::is_same_v<T, ResponseHead>) {
            log.push_back("HEAD " + std::to_string(e.status) + " " + std::string(e.reason) + " 1." +
                          std::to_string(e.version_minor) + " ka=" + std::to_string(e.framing.keep_alive) +
                          describe_fields(e.fields));
        } else if constexpr (std::is_same_v<T, BodyPart>) {
            body += e.data;
        } else if constexpr (std::is_same_v<T, MessageEnd>) {
            log.push_back("BODY " + body);
            log.push_back("END" + describe_fields(e.trailers));
            body.clear();
        } else {
            tunnel += e.data;  // joined: pieces follow the reads
        }
    };
    auto record = [&](auto& event) { std::visit(record_one, event); };
    try {
        std::size_t at = 0;
        for (std::size_t i = 0; i <= cuts.size(); ++i) {
            std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
            std::string piece(stream.substr(at, end - at));  // dies after the piece, like a read buffer
            at = end;
            if (borrow && buffer.empty()) {
                buffer.borrow(piece);
            } else {
                buffer.append(std::string_view(piece));
            }
            while (auto event = parser.decode(buffer)) record(*event);
            buffer.keep();
            if (parser.upgrade_pending()) {
                log.push_back("UPGRADE");
                return log;
            }
        }
        if (eof) {
            while (auto event = parser.decode_eof(buffer)) record(*event);
        }
        if (!body.empty()) log.push_back("BODY " + body + " (unfinished)");
        if (!tunnel.empty()) log.push_back("TUNNEL " + tunnel);
    } catch (const bulb::http::ParseError& e) {
        log.push_back("ERROR " + std::to_string(e.status()));
    }
    return log;
}

/// The lines of a parse log joined by " | " (readable in a failed CHECK).
inline std::string join(const std::vector<std::string>& log) {
    std::string s;
    for (const auto& line : log) s += (s.empty() ? "" : " | ") + line;
    return s;
}

/// Random increasing cut points of a stream of `size` bytes.
inline std::vector<std::size_t> random_cuts(std::mt19937& rng, std::size_t size, std::size_t count) {
    std::vector<std::size_t> cuts;
    if (size == 0) return cuts;
    std::uniform_int_distribution<std::size_t> pick(0, size);
    for (std::size_t i = 0; i < count; ++i) cuts.push_back(pick(rng));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

/// Checks that every single cut, every byte alone and `random_runs` random cuttings of
/// `stream` parse exactly as the uncut stream does; returns the uncut parse.
template <class Parser>
std::vector<std::string> check_any_split(const Parser& parser, std::string_view stream, int random_runs = 20,
                                         bool eof = true) {
    std::vector<std::string> whole = parse_log(parser, stream, {}, eof);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        auto log = parse_log(parser, stream, {cut}, eof, cut % 2 == 0);
        if (log != whole) {
            INFO("cut at ", cut, " of ", stream.size());
            CHECK(join(log) == join(whole));
            return whole;
        }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    CHECK(join(parse_log(parser, stream, every, eof)) == join(whole));
    std::mt19937 rng(12345);
    for (int run = 0; run < random_runs; ++run) {
        auto cuts = random_cuts(rng, stream.size(), 1 + run % 7);
        auto log = parse_log(parser, stream, cuts, eof, run % 2 == 0);
        if (log != whole) {
            CHECK(join(log) == join(whole));
            break;
        }
    }
    return whole;
}

}  // namespace bulb_test

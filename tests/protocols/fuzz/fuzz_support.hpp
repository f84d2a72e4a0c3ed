// SPDX-License-Identifier: MIT
/// @file
/// What every codec fuzz target checks: decoding never fails other than with FrameError, and
/// the input cut into chunks (sizes drawn from the input's first byte) decodes to the same
/// frames and the same kinds of errors as the input whole.
#pragma once

#include <bulb/protocols/codec.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace bulb_fuzz {

using bulb::protocols::FrameBuffer;
using bulb::protocols::FrameError;

/// One event of a decode run: a frame (as `show` prints it) or an error kind.
template <class C, class Show>
std::vector<std::string> run(C codec, std::string_view in, std::uint8_t seed, bool chunked, Show show) {
    std::vector<std::string> events;
    FrameBuffer buffer;
    std::uint32_t x = seed * 2654435761u + 1;
    const std::size_t max_chunk = std::size_t{1} << (seed % 8);
    std::size_t at = 0;
    bool failed = false;
    auto drain = [&](bool eof) {
        while (!failed) {
            try {
                auto f = codec.decode(buffer);
                if (!f && eof) f = codec.decode_eof(buffer);
                if (!f) return;
                events.push_back("frame " + show(*f));
            } catch (const FrameError& e) {
                events.push_back("error " + std::to_string(static_cast<int>(e.kind())));
                failed = !e.recoverable();
            }
        }
    };
    while (at < in.size() && !failed) {
        std::size_t n = in.size() - at;
        if (chunked) {
            x = x * 1103515245u + 12345u;
            n = std::min(n, 1 + (x >> 8) % max_chunk);
        }
        std::string chunk(in.substr(at, n));  // dies after the chunk, as a read buffer does
        at += n;
        if (buffer.empty() && (x & 1)) {
            buffer.borrow(chunk);
        } else {
            buffer.append(std::string_view(chunk));
        }
        drain(false);
        buffer.keep();
    }
    drain(true);
    return events;
}

/// Runs `make(seed)` whole and chunked on the input after its first byte; aborts on a difference.
template <class Make, class Show>
void check_chunking(const std::uint8_t* data, std::size_t size, Make make, Show show) {
    if (size == 0) return;
    const std::uint8_t seed = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto whole = run(make(seed), in, seed, false, show);
    auto chunked = run(make(seed), in, seed, true, show);
    if (whole != chunked) std::abort();
}

}  // namespace bulb_fuzz

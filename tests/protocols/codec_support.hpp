// SPDX-License-Identifier: MIT
/// @file
/// Helpers for the codec tests: decoding a byte stream cut into chunks, and random cuts.
#pragma once

#include <bulb/protocols/codec.hpp>
#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace bulb_test {

using bulb::protocols::FrameBuffer;

/// Decodes `stream` fed in chunks of the given sizes (the last chunk takes the rest), then
/// runs decode_eof. `borrow` feeds chunks as FramedProtocol does: borrowed when the buffer is
/// empty, the rest kept after each chunk.
template <class C>
std::vector<typename C::Frame> decode_chunks(C codec, std::string_view stream, const std::vector<std::size_t>& sizes,
                                             bool borrow = false) {
    std::vector<typename C::Frame> frames;
    FrameBuffer buffer;
    std::size_t at = 0;
    for (std::size_t i = 0; at < stream.size(); ++i) {
        std::size_t n = i < sizes.size() ? sizes[i] : stream.size() - at;
        if (n > stream.size() - at) n = stream.size() - at;
        std::string chunk(stream.substr(at, n));  // a copy that dies after the chunk, like a read buffer
        at += n;
        if (borrow && buffer.empty()) {
            buffer.borrow(chunk);
        } else {
            buffer.append(std::string_view(chunk));
        }
        while (auto f = codec.decode(buffer)) frames.push_back(std::move(*f));
        buffer.keep();
    }
    while (auto f = codec.decode(buffer)) frames.push_back(std::move(*f));
    while (auto f = codec.decode_eof(buffer)) frames.push_back(std::move(*f));
    CHECK(buffer.empty());
    return frames;
}

/// Decodes `stream` at once.
template <class C>
std::vector<typename C::Frame> decode_all(C codec, std::string_view stream) {
    return decode_chunks(std::move(codec), stream, {stream.size()});
}

/// Random chunk sizes in [1, max_chunk] covering `total` bytes.
inline std::vector<std::size_t> random_cuts(std::mt19937& rng, std::size_t total, std::size_t max_chunk) {
    std::vector<std::size_t> sizes;
    std::uniform_int_distribution<std::size_t> d(1, max_chunk);
    for (std::size_t sum = 0; sum < total;) {
        sizes.push_back(d(rng));
        sum += sizes.back();
    }
    return sizes;
}

/// The property every codec has: any split of a valid stream into chunks gives the frames of the
/// whole stream. Tries byte by byte, then `trials` random splits (small and large chunks),
/// copying and borrowing.
template <class C>
void check_any_split(const C& codec, std::string_view stream, const std::vector<typename C::Frame>& expected,
                     std::mt19937& rng, int trials = 40) {
    CHECK(decode_all(codec, stream) == expected);
    CHECK(decode_chunks(codec, stream, std::vector<std::size_t>(stream.size(), 1)) == expected);
    for (int t = 0; t < trials; ++t) {
        std::size_t max_chunk = t % 2 ? 7 : 4096;
        auto cuts = random_cuts(rng, stream.size(), max_chunk);
        CHECK(decode_chunks(codec, stream, cuts, t % 3 == 0) == expected);
    }
}

/// Random bytes (all 256 values) of a random length in [0, max_length].
inline std::string random_bytes(std::mt19937& rng, std::size_t max_length) {
    std::uniform_int_distribution<std::size_t> len(0, max_length);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(len(rng), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    return s;
}

}  // namespace bulb_test

// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: LineCodec (delimiters of one to three bytes, both overlong modes).
#include "fuzz_support.hpp"

#include <bulb/protocols/line_codec.hpp>

using bulb::protocols::LineCodec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bulb_fuzz::check_chunking(
        data, size,
        [](std::uint8_t seed) {
            static const char* delimiters[] = {"\n", "\r\n", "ab", "\0\0\n"};
            LineCodec::Options o;
            o.delimiter = std::string(delimiters[seed % 4], seed % 4 == 3 ? 3 : std::string_view(delimiters[seed % 4]).size());
            o.strip_cr = seed & 4;
            o.max_length = 1 + (seed >> 3) % 32;
            o.overlong = seed & 128 ? LineCodec::Overlong::error : LineCodec::Overlong::discard;
            return LineCodec(o);
        },
        [](const std::string& line) {
            if (line.size() > 32) std::abort();  // no frame passes max_length (at most 32 here)
            return line;
        });
    return 0;
}

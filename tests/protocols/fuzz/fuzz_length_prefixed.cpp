// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: LengthPrefixedCodec (every width, byte order and header option).
#include "fuzz_support.hpp"

#include <bulb/protocols/length_prefixed_codec.hpp>

using bulb::protocols::LengthPrefixedCodec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bulb_fuzz::check_chunking(
        data, size,
        [](std::uint8_t seed) {
            LengthPrefixedCodec::Options o;
            o.width = 1u << (seed % 4);
            o.endian = seed & 4 ? LengthPrefixedCodec::Endian::little : LengthPrefixedCodec::Endian::big;
            o.length_includes_header = seed & 8;
            o.max_frame = (seed >> 4) * 17u;
            return LengthPrefixedCodec(o);
        },
        [](const std::string& payload) {
            if (payload.size() > 15 * 17) std::abort();  // no frame passes max_frame
            return payload;
        });
    return 0;
}

// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: NetstringCodec; every frame also survives encode -> decode.
#include "fuzz_support.hpp"

#include <bulb/protocols/netstring_codec.hpp>

#include <optional>

using bulb::protocols::NetstringCodec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bulb_fuzz::check_chunking(
        data, size, [](std::uint8_t seed) { return NetstringCodec(NetstringCodec::Options{.max_length = seed * 4u}); },
        [](const std::string& payload) {
            NetstringCodec c(NetstringCodec::Options{.max_length = 1024});
            std::string wire;
            c.encode(payload, wire);
            bulb::protocols::FrameBuffer b;
            b.append(std::string_view(wire));
            std::optional<std::string> back = c.decode(b);
            if (!back || *back != payload || !b.empty()) std::abort();
            return payload;
        });
    return 0;
}

// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: RespCodec, values (RESP2/RESP3) and requests (multibulk and inline); every
/// decoded value also survives encode (RESP3) -> decode unchanged, and encodes as RESP2.
#include "fuzz_support.hpp"

#include <bulb/protocols/resp_codec.hpp>

using bulb::protocols::RespCodec;
using bulb::protocols::RespValue;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bulb_fuzz::check_chunking(
        data, size,
        [](std::uint8_t seed) {
            RespCodec::Options o;
            o.requests = seed & 1;
            o.max_depth = 1 + (seed >> 1) % 8;
            o.max_bulk_length = std::size_t{1} << ((seed >> 4) % 12);
            o.max_aggregate_length = 64;
            o.max_inline_length = 256;
            return RespCodec(o);
        },
        [](const RespValue& v) {
            RespCodec v3(RespCodec::Options{.version = 3, .max_depth = 64});
            std::string wire;
            v3.encode(v, wire);
            bulb::protocols::FrameBuffer b;
            b.append(std::string_view(wire));
            auto back = v3.decode(b);
            if (!back || !(*back == v) || !b.empty()) std::abort();
            std::string resp2;
            RespCodec().encode(v, resp2);
            return wire;
        });
    return 0;
}

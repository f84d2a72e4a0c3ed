// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: http::RequestParser (split invariance, statuses, encode round trip).
#include "http_fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using bulb::http::ParserOptions;
    using bulb::http::RequestParser;
    bulb_fuzz_http::check<RequestParser>(data, size, [](std::uint8_t seed) {
        return RequestParser(ParserOptions{.max_request_line = 64u + seed, .max_header_bytes = 256u + seed * 4u,
                                           .max_header_count = 4u + seed % 16u, .max_body_size = 1024u,
                                           .max_chunk_line = 32u + seed});
    });
    return 0;
}

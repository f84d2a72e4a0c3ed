// SPDX-License-Identifier: MIT
/// @file
/// libFuzzer target: http::ResponseParser (split invariance, statuses, encode round trip); the
/// seed byte also picks the request method each response answers (GET, HEAD or CONNECT).
#include "http_fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using bulb::http::ParserOptions;
    using bulb::http::ResponseParser;
    bulb_fuzz_http::check<ResponseParser>(data, size, [](std::uint8_t seed) {
        ResponseParser p(ParserOptions{.max_request_line = 64u + seed, .max_header_bytes = 256u + seed * 4u,
                                       .max_header_count = 4u + seed % 16u, .max_body_size = 1024u,
                                       .max_chunk_line = 32u + seed});
        static const char* methods[] = {"GET", "HEAD", "CONNECT", "GET"};
        for (int i = 0; i < 4; ++i) p.push_request_method(methods[(seed >> (2 * i)) & 3]);
        return p;
    });
    return 0;
}

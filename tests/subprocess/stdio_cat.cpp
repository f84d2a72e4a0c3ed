// SPDX-License-Identifier: MIT
/// @file
/// A helper of test_process.cpp: copies stdin to stdout through connect_stdin / connect_stdout,
/// upper-casing it; prints the error and exits 1 when they refuse the descriptors. With
/// --first-chunk it stops after one chunk, dropping the stdin reader before EOF (its transport
/// must close then: bulb::run reports a transport the loop had to abort on stderr).
#include <bulb/coro.hpp>
#include <bulb/coro/stdio.hpp>

#include <cctype>
#include <cstdio>
#include <string_view>

static bulb::Task<int> copy(bool first_chunk_only) {
    try {
        bulb::StreamReader in = co_await bulb::connect_stdin();
        bulb::StreamWriter out = co_await bulb::connect_stdout();
        for (;;) {
            std::string chunk = co_await in.read(64 * 1024);
            if (chunk.empty()) break;
            for (char& c : chunk) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            out.write(chunk);
            co_await out.drain();
            if (first_chunk_only) break;
        }
        out.close();
        co_await out.wait_closed();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stdio_cat: %s\n", e.what());
        co_return 1;
    }
    co_return 0;
}

int main(int argc, char** argv) {
    return bulb::run(copy(argc > 1 && std::string_view(argv[1]) == "--first-chunk"));
}

// SPDX-License-Identifier: MIT
/// @file
/// A helper of test_process.cpp: copies stdin to stdout through connect_stdin / connect_stdout,
/// upper-casing it; prints the error and exits 1 when they refuse the descriptors. With
/// --first-chunk it stops after one chunk, dropping the stdin reader before EOF (its transport
/// must close then: bulb::run reports a transport the loop had to abort on stderr). With
/// --cancel-connect it cancels connect_stdin / connect_stdout after 0, 1, 2, ... loop
/// iterations (before, during and after the transport's connection_made) and exits: nothing
/// may be left for the loop to abort.
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

template <class T>
static bulb::Task<> cancel_after(bulb::Task<T> connecting, int iterations) {
    auto t = bulb::create_task(std::move(connecting));
    for (int i = 0; i < iterations; ++i) co_await bulb::sleep(std::chrono::milliseconds(0));
    t.cancel();
    try {
        (void)co_await t;  // done before the cancel: the stream is dropped here
    } catch (const bulb::CancelledError&) {
    }
}

static bulb::Task<int> cancel_connect() {
    for (int k = 0; k < 6; ++k) {
        co_await cancel_after(bulb::connect_stdin(), k);
        co_await cancel_after(bulb::connect_stdout(), k);
    }
    for (int i = 0; i < 3; ++i) co_await bulb::sleep(std::chrono::milliseconds(0));  // the closes run their connection_lost
    co_return 0;
}

int main(int argc, char** argv) {
    std::string_view mode = argc > 1 ? argv[1] : "";
    if (mode == "--cancel-connect") return bulb::run(cancel_connect());
    return bulb::run(copy(mode == "--first-chunk"));
}

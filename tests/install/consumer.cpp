// SPDX-License-Identifier: MIT
// A program outside the tree, built against the *installed* library with
// `c++ -std=c++20 consumer.cpp $(pkg-config --cflags --libs bulb)` and nothing else
// (see check.sh). It uses the callback core only: EventLoop, call_later, Future,
// run_until_complete.
#include <bulb/bulb.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
    bulb::EventLoop loop;
    std::string order;

    bulb::Future<int> sum(loop);
    // Two timers, scheduled out of order: the earlier deadline runs first.
    loop.call_later(std::chrono::milliseconds(20), [&] {
        order += 'b';
        sum.set_result(40 + 2);
    });
    loop.call_later(std::chrono::milliseconds(5), [&] { order += 'a'; });
    loop.call_soon([&] { order += '0'; });

    const int result = loop.run_until_complete(sum);
    loop.close();

    std::printf("bulb %d.%d.%d: order=%s result=%d\n", bulb::version_major, bulb::version_minor,
                bulb::version_patch, order.c_str(), result);
    return result == 42 && order == "0ab" ? 0 : 1;
}

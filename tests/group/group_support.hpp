// SPDX-License-Identifier: MIT
/// @file
/// Helpers of the LoopGroup tests: waiting on a condition with a bound, and loopback clients.
#pragma once

#include <bulb/bulb.hpp>
#include <bulb/loop_group.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

namespace group_test {

/// Polls `done()` every millisecond for up to `limit`; returns whether it held.
template <class Pred>
bool wait_for(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace group_test

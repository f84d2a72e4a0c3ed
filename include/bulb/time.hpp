// SPDX-License-Identifier: MIT
/// @file
/// The loop's clock and its time types.
#pragma once

#include <chrono>

namespace bulb {

/// The loop's clock: monotonic. With a virtual-clock loop, EventLoop::time() advances in jumps.
using Clock = std::chrono::steady_clock;
/// A point on the loop's clock.
using TimePoint = Clock::time_point;
/// A span of time on the loop's clock (nanoseconds).
using Duration = Clock::duration;

}  // namespace bulb

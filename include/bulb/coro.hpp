// SPDX-License-Identifier: MIT
/// @file
/// Umbrella header for the coroutine layer (includes the callback core too).
#pragma once

#include <bulb/bulb.hpp>
#include <bulb/coro/await.hpp>
#include <bulb/coro/run.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/task.hpp>

// SPDX-License-Identifier: MIT
/// @file
/// Umbrella for the synchronization primitives (asyncio's locks module): Lock, Event, Condition,
/// Semaphore, BoundedSemaphore, Barrier, and Held<P> for scoped acquisition.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/barrier.hpp>
#include <bulb/coro/condition.hpp>
#include <bulb/coro/event.hpp>
#include <bulb/coro/held.hpp>
#include <bulb/coro/lock.hpp>
#include <bulb/coro/semaphore.hpp>

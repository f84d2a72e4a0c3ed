// SPDX-License-Identifier: MIT
/// @file
/// Umbrella header for the coroutine layer (includes the callback core too).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13 (see README: compilers)

#include <bulb/bulb.hpp>
#include <bulb/coro/as_completed.hpp>
#include <bulb/coro/completion_of.hpp>
#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/await.hpp>
#include <bulb/coro/awaitable.hpp>
#include <bulb/coro/datagram_socket.hpp>
#include <bulb/coro/gather.hpp>
#include <bulb/coro/gather_outcomes.hpp>
#include <bulb/coro/outcome.hpp>
#include <bulb/coro/loop_runner.hpp>
#include <bulb/coro/process.hpp>
#include <bulb/coro/queue.hpp>
#include <bulb/coro/run.hpp>
#include <bulb/coro/shield.hpp>
#include <bulb/coro/sleep.hpp>
#include <bulb/coro/streams.hpp>
#include <bulb/coro/sync.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/coro/task_factory.hpp>
#include <bulb/coro/task_group.hpp>
#include <bulb/coro/task_ref.hpp>
#include <bulb/coro/threads.hpp>
#include <bulb/coro/timeout.hpp>
#include <bulb/coro/wait.hpp>
#include <bulb/coro/wait_for.hpp>

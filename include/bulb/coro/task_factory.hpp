// SPDX-License-Identifier: MIT
/// @file
/// Per-loop task creation settings: a task factory hook (asyncio's set_task_factory) and eager
/// tasks (asyncio.eager_task_factory, 3.12).
///
/// C++ adaptation: asyncio's factory builds the Task object itself; bulb's tasks are typed
/// (Task<T>), so the hook cannot replace the task: it is called with each new task's TaskRef
/// before the task starts (name it, count it, trace it). Tasks made before a setting changes
/// keep the old one.
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/task_ref.hpp>

namespace bulb {

/// Calls `hook` for every task that create_task() / create_eager_task() make on `loop` from now
/// on (not gather's or TaskGroup's children), inside the creating call, before the task's first
/// step. An exception from the hook goes to the loop's exception handler and the task starts
/// anyway. An empty function removes the hook. Loop thread only.
BULB_API void set_task_factory(EventLoop& loop, UniqueFunction<void(TaskRef)> hook);

/// With `eager`, every create_task() on `loop` starts its task eagerly, as create_eager_task()
/// does (asyncio's loop.set_task_factory(asyncio.eager_task_factory)). Loop thread only.
BULB_API void set_eager_tasks(EventLoop& loop, bool eager);

}  // namespace bulb

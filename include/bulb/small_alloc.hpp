// SPDX-License-Identifier: MIT
/// @file
/// Per-thread pools for the small objects made for each callback and each task (callback nodes,
/// coroutine frames, task runners, future states), so they do not go through malloc one by one.
///
/// Internal to bulb (namespace detail): the coroutine layer and Future<T> use it through their
/// class-specific operator new / operator delete. Any thread may free what another allocated.
#pragma once

#include <bulb/config.hpp>

#include <cstddef>
#include <new>

namespace bulb::detail {

/// Sizes up to this come from the pools (in steps of small_alloc_step bytes); larger ones from
/// ::operator new.
inline constexpr std::size_t small_alloc_max = 512;
inline constexpr std::size_t small_alloc_step = 32;

/// `bytes` (1 to small_alloc_max) from this thread's pool; aligned to small_alloc_step.
BULB_API void* small_alloc(std::size_t bytes);
/// Gives back a block of small_alloc(), on any thread.
BULB_API void small_free(void* p) noexcept;

/// operator new for pooled classes: the pool for small sizes, ::operator new for the rest.
inline void* pooled_new(std::size_t bytes) {
    return bytes <= small_alloc_max ? small_alloc(bytes ? bytes : 1) : ::operator new(bytes);
}
/// The matching operator delete; `bytes` is the size given to pooled_new().
inline void pooled_delete(void* p, std::size_t bytes) noexcept {
    if (bytes <= small_alloc_max)
        small_free(p);
    else
        ::operator delete(p);
}

}  // namespace bulb::detail

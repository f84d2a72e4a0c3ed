// SPDX-License-Identifier: MIT
/// @file
/// Internal to bulb, not an API: the allocation hook of the objects that header templates make
/// per callback and per task (future states, task runners, coroutine frames). They come from the
/// thread's small-object pools (lib/loop/) instead of malloc one by one; any thread may free
/// what another allocated.
#pragma once

#include <bulb/config.hpp>

#include <cstddef>
#include <new>

namespace bulb::detail {

/// Sizes above this go to ::operator new (mirrors the pools' largest class).
inline constexpr std::size_t pool_max_bytes = 512;

/// A block of 1 to pool_max_bytes bytes, 32-byte aligned, from this thread's pools.
BULB_API void* pool_allocate(std::size_t bytes);
/// Gives back a block of pool_allocate(), on any thread.
BULB_API void pool_deallocate(void* p) noexcept;

/// Class-specific operator new / delete of pooled classes: derive from it.
struct Pooled {
    static void* operator new(std::size_t bytes) {
        return bytes <= pool_max_bytes ? pool_allocate(bytes ? bytes : 1) : ::operator new(bytes);
    }
    static void operator delete(void* p, std::size_t bytes) noexcept {
        if (bytes <= pool_max_bytes)
            pool_deallocate(p);
        else
            ::operator delete(p);
    }
};

}  // namespace bulb::detail

// SPDX-License-Identifier: MIT
/// @file
/// The per-thread small-object pools (lib/loop/small_alloc.cpp): blocks of 32 to 512 bytes for
/// the objects made per callback and per task. Headers reach them through the exported hook in
/// <bulb/detail/pool.hpp>; the library calls them directly.
#pragma once

#include <bulb/detail/pool.hpp>

#include <cstddef>

namespace bulb::detail {

/// Sizes up to this come from the pools, in steps of small_alloc_step bytes.
inline constexpr std::size_t small_alloc_max = pool_max_bytes;
inline constexpr std::size_t small_alloc_step = 32;

/// `bytes` (1 to small_alloc_max) from this thread's pool; aligned to small_alloc_step.
void* small_alloc(std::size_t bytes);
/// Gives back a block of small_alloc(), on any thread.
void small_free(void* p) noexcept;

}  // namespace bulb::detail

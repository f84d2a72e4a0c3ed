// SPDX-License-Identifier: MIT
/// @file
/// Sanitizer builds run the production pools (lib/loop/small_alloc.cpp) and poison them: a block
/// given back, and the bytes of a slot past what was asked for, are unaddressable, so ASan
/// catches a use after free or an overrun inside the pools as it does for malloc. The checks
/// exist in ASan builds only (g++ says so with __SANITIZE_ADDRESS__, clang with __has_feature);
/// other builds compile this file to nothing.
#include <bulb/detail/pool.hpp>
#include <doctest/doctest.h>

#if defined(__SANITIZE_ADDRESS__)
#define BULB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BULB_TEST_ASAN 1
#endif
#endif

#if defined(BULB_TEST_ASAN)
#include <sanitizer/asan_interface.h>

#include <vector>

TEST_CASE("ASan builds poison the pools: a freed block, and a block's slot past the bytes asked for") {
    // 40 bytes come from the 64-byte class: bytes 40 to 63 of the slot are poisoned.
    auto* p = static_cast<unsigned char*>(bulb::detail::pool_allocate(40));
    CHECK(__asan_region_is_poisoned(p, 40) == nullptr);
    CHECK(__asan_address_is_poisoned(p + 40));
    CHECK(__asan_address_is_poisoned(p + 63));
    bulb::detail::pool_deallocate(p);
    CHECK(__asan_address_is_poisoned(p));
    CHECK(__asan_address_is_poisoned(p + 39));

    // The slot comes back whole when it is handed out again.
    auto* q = static_cast<unsigned char*>(bulb::detail::pool_allocate(64));
    CHECK(__asan_region_is_poisoned(q, 64) == nullptr);
    bulb::detail::pool_deallocate(q);
}

TEST_CASE("ASan builds: a freed block is poisoned, its neighbours in the slab stay usable") {
    std::vector<unsigned char*> blocks;
    for (int i = 0; i < 8; ++i) blocks.push_back(static_cast<unsigned char*>(bulb::detail::pool_allocate(96)));
    bulb::detail::pool_deallocate(blocks[3]);
    CHECK(__asan_address_is_poisoned(blocks[3]));
    for (int i = 0; i < 8; ++i)
        if (i != 3) CHECK(__asan_region_is_poisoned(blocks[static_cast<std::size_t>(i)], 96) == nullptr);
    for (int i = 0; i < 8; ++i)
        if (i != 3) bulb::detail::pool_deallocate(blocks[static_cast<std::size_t>(i)]);
}
#endif

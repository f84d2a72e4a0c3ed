// SPDX-License-Identifier: MIT
/// @file
/// BULB_ASSERT(cond): checks an invariant of the library itself (not a user error, which throws):
/// a reference count above zero on release, a legal state change, a transport not used after
/// connection_lost. Active in debug and sanitizer builds, where a failure prints the condition
/// and where it is, then aborts; compiled out (the condition is not evaluated) when NDEBUG is
/// defined without a sanitizer, as in release builds. BULB_ENABLE_ASSERTS=0/1 overrides.
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(BULB_ENABLE_ASSERTS)
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BULB_ENABLE_ASSERTS 1
#elif defined(__has_feature)  // clang names its sanitizers only through __has_feature
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BULB_ENABLE_ASSERTS 1
#else
#define BULB_ENABLE_ASSERTS 0
#endif
#else
#define BULB_ENABLE_ASSERTS 0
#endif
#endif

namespace bulb::detail {

/// Reports a failed BULB_ASSERT and aborts.
[[noreturn, gnu::cold, gnu::noinline]] inline void assert_failed(const char* cond, const char* file, int line) noexcept {
    std::fprintf(stderr, "bulb: internal invariant violated: %s (%s:%d)\n", cond, file, line);
    std::abort();
}

}  // namespace bulb::detail

#if BULB_ENABLE_ASSERTS
#define BULB_ASSERT(cond) \
    (__builtin_expect(static_cast<bool>(cond), 1) ? static_cast<void>(0) : ::bulb::detail::assert_failed(#cond, __FILE__, __LINE__))
#else
#define BULB_ASSERT(cond) static_cast<void>(0)
#endif

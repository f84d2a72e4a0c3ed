// SPDX-License-Identifier: MIT
/// @file
/// Build-wide configuration: the export macro and the library version.
#pragma once

// bulb.pc deliberately carries no -std flag (it would override a consumer's -std=c++23).
#if __cplusplus < 202002L
#error "bulb needs C++20 or later: compile with -std=c++20 (or newer)"
#endif

/// Marks a symbol as part of libbulb's public ABI (the library is built with hidden visibility).
#define BULB_API __attribute__((visibility("default")))

/// Marks an awaitable type: calling a coroutine API and dropping the result does nothing, which
/// is almost always a forgotten co_await (`bulb::sleep(1s);`), so the compiler says so.
#define BULB_AWAITABLE [[nodiscard("this is an awaitable: nothing happens until it is co_awaited")]]

/// Marks a function whose Future result is the only way to see whether the operation worked
/// (create_connection, create_server, start_tls, ...). Not on the Future class itself:
/// create_task() and TaskGroup::create_task() futures are fine to drop (the task runs anyway).
#define BULB_RESULT [[nodiscard("the returned Future is the only way to see the result or error: co_await it or keep it")]]

namespace bulb {

/// Library version; the SONAME carries version_major.
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;

}  // namespace bulb

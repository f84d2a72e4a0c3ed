// SPDX-License-Identifier: MIT
/// @file
/// BULB_ASAN: 1 when this file is compiled with AddressSanitizer, else 0.
///
/// Why a macro of our own: g++ defines __SANITIZE_ADDRESS__, clang does not (it answers through
/// __has_feature(address_sanitizer)). Testing only the first left the pools unpoisoned and the
/// chunks outside LeakSanitizer's roots in the clang-16 ASan build, the one scripts/test.sh runs.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define BULB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BULB_ASAN 1
#endif
#endif
#ifndef BULB_ASAN
#define BULB_ASAN 0
#endif

// SPDX-License-Identifier: MIT
/// @file
/// Warns once per translation unit when coroutine code is compiled by a GCC known to miscompile
/// temporaries inside co_await expressions. Included by every coroutine header.
///
/// GCC 12 and older copy some temporaries of a co_await expression bitwise and destroy them twice
/// (heap corruption at run time: "free(): invalid pointer", "double free detected"). The first
/// release without the reports is GCC 13, hence the check. Define BULB_NO_GCC_COROUTINE_WARNING
/// (e.g. -DBULB_NO_GCC_COROUTINE_WARNING) once your coroutine code names such values first.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && !defined(BULB_NO_GCC_COROUTINE_WARNING)
#warning "bulb: GCC < 13 miscompiles temporaries inside co_await expressions -- a braced aggregate ({.tls = ctx}), a capturing lambda, a temporary with a destructor as an argument, or a co_await inside ?: may be destroyed twice at run time. Build coroutine code with clang++ (clang++-16 on Debian 12), or name such values in a variable before the co_await and define BULB_NO_GCC_COROUTINE_WARNING to silence this."
#endif

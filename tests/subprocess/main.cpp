// SPDX-License-Identifier: MIT
/// @file
/// doctest's main for the subprocess tests: the one of every test executable (tests/main.cpp).
#include "../main.cpp"

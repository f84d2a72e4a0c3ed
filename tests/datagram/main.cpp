// SPDX-License-Identifier: MIT
/// @file
/// doctest's main for the datagram tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

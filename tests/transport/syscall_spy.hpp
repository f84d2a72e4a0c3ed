// SPDX-License-Identifier: MIT
/// @file
/// Counts system calls the library makes, by interposing them in the test executable (the
/// library calls them through the PLT; the real call follows via dlsym(RTLD_NEXT)). Lets a test
/// tell "the loop retried accept() twice" from "the loop spun on accept()" on a loaded machine,
/// where CPU time alone is a weak signal.
#pragma once

#include <cstddef>

namespace bulb_transport_test::syscall_spy {

/// accept4() calls so far, and those that failed with EMFILE.
std::size_t accept_calls();
std::size_t accept_emfile_failures();

}  // namespace bulb_transport_test::syscall_spy

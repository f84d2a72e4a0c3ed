// SPDX-License-Identifier: MIT
/// @file
/// A fake resolver for names under ".bulb.test" (RFC 2606 reserves .test): the test executable
/// interposes getaddrinfo/freeaddrinfo (the library calls them through the PLT), answers the
/// names registered here with chosen loopback addresses, in a chosen order, after a chosen delay,
/// and passes every other name to the real resolver. This makes multi-address hosts possible on
/// machines whose /etc/hosts maps "localhost" to one address only.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace bulb_transport_test::fake_dns {

/// Registers `name` (must end in ".bulb.test") to resolve to `hosts` (numeric) in that order.
void set(const std::string& name, std::vector<std::string> hosts,
         std::chrono::milliseconds delay = std::chrono::milliseconds(0));
/// Forgets every registered name and the call log.
void reset();
/// How often a registered name was looked up, and the threads that did it.
std::size_t calls(const std::string& name);
std::vector<std::thread::id> threads(const std::string& name);

/// Registers on construction, forgets everything on destruction.
struct Scope {
    Scope() { reset(); }
    ~Scope() { reset(); }
};

}  // namespace bulb_transport_test::fake_dns

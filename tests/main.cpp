// SPDX-License-Identifier: MIT
/// @file
/// doctest's main for every test executable: runs the tests, and fails the executable when a
/// test case left descriptors open (support/audit_listener.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/audit_listener.hpp"

#include <cstdio>

REGISTER_LISTENER("descriptor_audit", 1, bulb_test::DescriptorAudit);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int rc = context.run();
    if (context.shouldExit()) return rc;
    const auto& leaks = bulb_test::descriptor_leaks();
    if (rc == 0 && !leaks.empty()) {
        std::fprintf(stderr, "%zu test case(s) left descriptors open:\n", leaks.size());
        for (auto& l : leaks) std::fprintf(stderr, "  %s\n", l.c_str());
        return 1;
    }
    return rc;
}

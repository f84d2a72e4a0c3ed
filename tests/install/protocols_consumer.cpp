// SPDX-License-Identifier: MIT
// Built against the installed libbulb-protocols with
// `c++ -std=c++20 protocols_consumer.cpp $(pkg-config --cflags --libs bulb-protocols)` alone
// (see check.sh): bulb-protocols.pc must bring bulb's flags along.
#include <bulb/protocols/line.hpp>

#include <cstdio>
#include <string_view>

namespace {
struct Lines : bulb::protocols::LineProtocol {
    Lines() : LineProtocol(128) {}
    void line_received(std::string_view) override {}
};
}  // namespace

int main() {
    Lines lines;
    std::printf("max_line_length=%zu\n", lines.max_line_length());
    return lines.max_line_length() == 128 ? 0 : 1;
}

// SPDX-License-Identifier: MIT
/// @file
/// PerLoop<T> and PerLoopCounter: one instance per loop, used without locks, aggregated.
#include "group_support.hpp"

#include <bulb/per_loop.hpp>

#include <map>

using namespace group_test;

TEST_CASE("PerLoop: each loop gets its own instance; collect aggregates; counters sum") {
    bulb::LoopGroup group({.loops = 2});
    bulb::PerLoop<std::map<int, int>> cache(group, [](std::size_t) { return std::map<int, int>(); });
    bulb::PerLoopCounter hits(group);
    CHECK_THROWS_AS(cache.local(), bulb::InvalidStateError);
    CHECK_THROWS_AS(hits.add(), bulb::InvalidStateError);
    group.start();
    std::atomic<int> done{0};
    for (std::size_t i = 0; i < 2; ++i)
        group.post(i, [&, i] {
            for (int k = 0; k < 1000; ++k) {
                cache.local()[k % 10] += static_cast<int>(i) + 1;  // no lock: this loop's map only
                hits.add();
            }
            ++done;
        });
    REQUIRE(wait_for([&] { return done.load() == 2; }));
    CHECK(hits.total() == 2000);
    CHECK(hits.at(0) == 1000);
    auto sums = cache.collect([](std::map<int, int>& m) {
        int s = 0;
        for (auto& [k, v] : m) s += v;
        return s;
    });
    CHECK(sums == std::vector<int>{1000, 2000});
    group.close();
}

// SPDX-License-Identifier: MIT
/// @file
/// examples/kv_store.hpp (kv_server's key space): expiry on a virtual-clock loop, active (the
/// loop's timer removes keys nobody reads) and lazy (a read at the deadline finds nothing).
#include "../../examples/kv_store.hpp"
#include "../support/loop_fixture.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

namespace {

void run_to(bulb::EventLoop& loop, bulb::TimePoint when) {
    auto stop = loop.call_at(when, [&loop] { loop.stop(); });
    loop.run_forever();
}

}  // namespace

TEST_CASE("KvStore: keys expire on the virtual clock, actively and lazily") {
    bulb_test::AuditedLoop loop(bulb::LoopOptions{.virtual_clock = true});
    {
        KvStore store(loop);
        const auto t0 = loop.time();
        store.set("a", "1", t0 + 10s);
        store.set("b", "2", t0 + 20s);
        store.set("c", "3", std::nullopt);
        store.set("a", "1", t0 + 30s);  // set again: the 10 s deadline no longer applies
        run_to(loop, t0 + 15s);
        CHECK(store.size() == 3);
        run_to(loop, t0 + 25s);
        CHECK(store.size() == 2);  // b went without being read
        CHECK(store.find("b") == nullptr);
        run_to(loop, t0 + 31s);
        CHECK(store.size() == 1);
        CHECK(store.find("c")->value == "3");

        // Lazy: a read at the deadline, before the store's own timer (FIFO at equal deadlines).
        bool checked = false;
        auto lazy = loop.call_at(t0 + 40s, [&] {
            CHECK(store.size() == 2);
            CHECK(store.find("d") == nullptr);
            CHECK(store.size() == 1);
            checked = true;
        });
        store.set("d", "4", t0 + 40s);
        run_to(loop, t0 + 41s);
        CHECK(checked);

        // EXPIRE in the past removes the key; PERSIST drops a deadline.
        store.set("e", "5", std::nullopt);
        CHECK(store.expire_at("e", loop.time() + 5s));
        CHECK(store.persist("e"));
        CHECK_FALSE(store.persist("e"));
        run_to(loop, loop.time() + 10s);
        CHECK(store.find("e") != nullptr);
        CHECK(store.expire_at("e", loop.time() - 1s));
        CHECK(store.find("e") == nullptr);
        CHECK_FALSE(store.expire_at("missing", loop.time() + 1s));

        // Many keys with one deadline: removed in batches, none left behind.
        for (int i = 0; i < 5000; ++i) store.set("k" + std::to_string(i), "v", loop.time() + 1s);
        CHECK(store.size() == 5001);
        run_to(loop, loop.time() + 2s);
        CHECK(store.size() == 1);
        store.clear();
        CHECK(store.used_memory() == 0);
    }
    loop.close();
}

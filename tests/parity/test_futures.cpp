// SPDX-License-Identifier: MIT
/// @file
/// Future::remove_done_callback (issue 17), after CPython's test_asyncio/test_futures.py
/// BaseFutureDoneCallbackTests.
#include "support/loop_fixture.hpp"

#include <bulb/future.hpp>

#include <vector>

using namespace bulb_test;

namespace {

// A done callback that compares by the value it records (asyncio's _make_callback(bag, thing)).
struct Record {
    std::vector<int>* bag;
    int thing;
    void operator()(bulb::Future<int>&) const { bag->push_back(thing); }
    bool operator==(const Record&) const = default;
};

// A no-argument callback type with ==: stored behind add_done_callback's wrapper.
struct Bump {
    int* counter;
    void operator()() const { ++*counter; }
    bool operator==(const Bump&) const = default;
};

int plain_calls = 0;
void plain_callback(bulb::Future<int>&) { ++plain_calls; }

}  // namespace

TEST_CASE("remove_done_callback removes the first callback (test_callbacks_remove_first_callback)") {
    // test_futures.BaseFutureDoneCallbackTests.test_callbacks_remove_first_callback
    bulb::EventLoop loop;
    std::vector<int> bag;
    bulb::Future<int> f(loop);
    Record cb1{&bag, 42}, cb2{&bag, 17}, cb3{&bag, 100};
    f.add_done_callback(cb1);
    f.add_done_callback(cb2);
    f.add_done_callback(cb3);
    CHECK(f.remove_done_callback(cb1) == 1);
    CHECK(f.remove_done_callback(cb1) == 0);
    CHECK(bag.empty());
    f.set_result(0);
    run_once(loop);
    CHECK(bag == std::vector<int>{17, 100});
}

TEST_CASE("remove_done_callback removes every instance and counts them") {
    // test_callbacks_remove_first_and_second_callback / test_callbacks_remove_third_callback,
    // and the documented return value: "the number of callbacks removed".
    bulb::EventLoop loop;
    std::vector<int> bag;
    bulb::Future<int> f(loop);
    Record cb1{&bag, 42}, cb2{&bag, 17}, cb3{&bag, 100};
    f.add_done_callback(cb1);
    f.add_done_callback(cb2);
    f.add_done_callback(cb1);
    f.add_done_callback(cb3);
    f.add_done_callback(cb1);
    CHECK(f.remove_done_callback(cb1) == 3);
    CHECK(f.remove_done_callback(cb3) == 1);
    CHECK(f.remove_done_callback(Record{&bag, 5}) == 0);  // equal type, unequal value
    f.set_result(0);
    run_once(loop);
    CHECK(bag == std::vector<int>{17});
}

TEST_CASE("remove_done_callback finds function pointers and no-argument callbacks") {
    bulb::EventLoop loop;
    bulb::Future<int> f(loop);
    int bumps = 0, other = 0;
    plain_calls = 0;
    f.add_done_callback(plain_callback);
    f.add_done_callback(&plain_callback);
    f.add_done_callback(Bump{&bumps});
    f.add_done_callback(Bump{&other});
    f.add_done_callback([&] { ++other; });  // a lambda cannot be named again: stays
    CHECK(f.remove_done_callback(plain_callback) == 2);
    CHECK(f.remove_done_callback(Bump{&bumps}) == 1);
    f.set_result(1);
    run_once(loop);
    CHECK(plain_calls == 0);
    CHECK(bumps == 0);
    CHECK(other == 2);
}

TEST_CASE("remove_done_callback after the future is done removes nothing (scheduled already)") {
    // asyncio: __schedule_callbacks empties the list when the future completes.
    bulb::EventLoop loop;
    std::vector<int> bag;
    bulb::Future<int> f(loop);
    Record cb{&bag, 7};
    f.add_done_callback(cb);
    f.set_result(0);
    CHECK(f.remove_done_callback(cb) == 0);
    run_once(loop);
    CHECK(bag == std::vector<int>{7});
}

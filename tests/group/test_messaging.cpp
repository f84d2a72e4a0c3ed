// SPDX-License-Identifier: MIT
/// @file
/// Cross-loop messages: call_on's futures, batching, FIFO per sender, and Channel<T> across loops
/// (10,000 messages, none lost or duplicated). Also in the 'tsan' suite.
#include "group_support.hpp"

#include <bulb/coro.hpp>
#include <bulb/coro/channel.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <optional>
#include <mutex>
#include <numeric>

using namespace group_test;

TEST_CASE("call_on: 10,000 calls from loop 0 to loop 1, every result back on loop 0, batched") {
    bulb::LoopGroup group({.loops = 2});
    constexpr int n = 10000;
    std::vector<int> results(n, -1);  // written on loop 0 only
    std::atomic<int> wrong_thread{0};
    std::atomic<bool> done{false};
    group.start();
    group.post(0, [&] {
        auto left = std::make_shared<int>(n);
        for (int i = 0; i < n; ++i) {
            group.call_on(1, [&, i] {
                if (group.current_index() != 1) ++wrong_thread;
                return i * 2;
            }).add_done_callback([&, i, left](bulb::Future<int>& f) {
                if (group.current_index() != 0) ++wrong_thread;
                results[static_cast<std::size_t>(i)] = f.result();
                if (--*left == 0) done = true;
            });
        }
    });
    REQUIRE(wait_for([&] { return done.load(); }, std::chrono::milliseconds(30000)));
    CHECK(wrong_thread == 0);
    for (int i = 0; i < n; ++i) REQUIRE(results[static_cast<std::size_t>(i)] == i * 2);
    // Sent in one iteration: the requests travel as one batch, the replies in few.
    CHECK(group.messages_batched() == 2 * n);
    CHECK(group.batches_sent() < 100);
    group.close();
}

TEST_CASE("call_on passes exceptions back, and waits for a future the callable returns") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    auto outcome = group.run_on(0, [&] {
        bulb::Future<std::string> out(group.loop(0));
        auto failing = group.call_on(1, []() -> int { throw std::runtime_error("from loop 1"); });
        failing.add_done_callback([&, out](bulb::Future<int>& f) mutable {
            std::string what;
            try {
                f.result();
            } catch (const std::runtime_error& e) {
                what = e.what();
            }
            // A coroutine on loop 1: call_on waits for the task's future.
            group.call_on(1, [&] {
                return bulb::create_task(group.loop(1), []() -> bulb::Task<int> {
                    co_await bulb::sleep(std::chrono::milliseconds(1));
                    co_return 5;
                }());
            }).add_done_callback([out, what](bulb::Future<int>& g) mutable {
                out.set_result(what + " / " + std::to_string(g.result()));
            });
        });
        return out;
    });
    CHECK(outcome == "from loop 1 / 5");
    group.close();
}

TEST_CASE("messages from one loop to another keep their order") {
    bulb::LoopGroup group({.loops = 3});
    constexpr int n = 3000;
    std::vector<std::vector<int>> seen(3);  // seen[s] written on loop 2 only
    std::atomic<int> finished{0};
    group.start();
    for (std::size_t sender = 0; sender < 2; ++sender)
        group.post(sender, [&, sender] {
            // Spread over several iterations, so that several batches go.
            auto send_some = std::make_shared<bulb::UniqueFunction<void(int)>>();
            *send_some = [&, sender, send_some](int from) {
                for (int i = from; i < std::min(n, from + 500); ++i)
                    group.post(2, [&, sender, i] {
                        seen[sender].push_back(i);
                        if (i == n - 1) ++finished;
                    });
                if (from + 500 < n)
                    group.loop(sender).call_soon([send_some, from] { (*send_some)(from + 500); });
                else
                    send_some->reset();  // breaks the self-reference
            };
            (*send_some)(0);
        });
    REQUIRE(wait_for([&] { return finished.load() == 2; }));
    group.run_on(2, [&] {
        for (std::size_t s = 0; s < 2; ++s) {
            std::vector<int> want(n);
            std::iota(want.begin(), want.end(), 0);
            CHECK(seen[s] == want);
        }
    });
    CHECK(group.batches_sent() >= 12);  // 6 rounds per sender, at least one batch each
    group.close();
}

namespace {

bulb::Task<> produce(bulb::Channel<int> ch, int from, int to) {
    for (int i = from; i < to; ++i) co_await ch.send(i);
}

bulb::Task<> consume(bulb::Channel<int> ch, std::vector<int>* out) {
    for (;;) {
        std::optional<int> v = co_await ch.receive();
        if (!v) break;
        out->push_back(*v);
    }
}

}  // namespace

TEST_CASE("Channel: 10,000 items from a task on loop 0 to a task on loop 1, in order") {
    bulb::LoopGroup group({.loops = 2});
    bulb::Channel<int> ch(16);
    std::vector<int> got;
    group.start();
    std::atomic<bool> consumed{false};
    group.post(1, [&] {
        bulb::create_task(group.loop(1), consume(ch, &got)).add_done_callback([&](bulb::Future<void>& f) {
            f.result();
            consumed = true;
        });
    });
    group.run_on(0, [&] { return bulb::create_task(group.loop(0), produce(ch, 0, 10000)); });
    ch.close();
    REQUIRE(wait_for([&] { return consumed.load(); }, std::chrono::milliseconds(30000)));
    group.close();
    std::vector<int> want(10000);
    std::iota(want.begin(), want.end(), 0);
    CHECK(got == want);
    CHECK_THROWS_AS(ch.try_receive().value(), std::bad_optional_access);
}

TEST_CASE("Channel: 2 producers and 2 consumers on different loops, nothing lost or duplicated") {
    bulb::LoopGroup group({.loops = 2});
    bulb::Channel<int> ch(8);
    std::vector<int> got0, got1;
    std::atomic<int> consumers_done{0}, producers_done{0};
    group.start();
    for (std::size_t i = 0; i < 2; ++i)
        group.post(i, [&, i] {
            auto& loop = group.loop(i);
            bulb::create_task(loop, consume(ch, i == 0 ? &got0 : &got1)).add_done_callback([&](bulb::Future<void>& f) {
                f.result();
                ++consumers_done;
            });
            bulb::create_task(loop, produce(ch, static_cast<int>(i) * 5000, static_cast<int>(i + 1) * 5000))
                .add_done_callback([&](bulb::Future<void>& f) {
                    f.result();
                    ++producers_done;
                });
        });
    REQUIRE(wait_for([&] { return producers_done.load() == 2; }, std::chrono::milliseconds(30000)));
    ch.close();
    REQUIRE(wait_for([&] { return consumers_done.load() == 2; }));
    group.close();
    std::vector<int> all = got0;
    all.insert(all.end(), got1.begin(), got1.end());
    std::sort(all.begin(), all.end());
    std::vector<int> want(10000);
    std::iota(want.begin(), want.end(), 0);
    CHECK(all == want);
    // Each producer's items reach each consumer in the order sent.
    for (auto* g : {&got0, &got1}) {
        std::vector<int> low, high;
        for (int v : *g) (v < 5000 ? low : high).push_back(v);
        CHECK(std::is_sorted(low.begin(), low.end()));
        CHECK(std::is_sorted(high.begin(), high.end()));
    }
}

TEST_CASE("Channel: close wakes waiting senders with an error; cancel takes nothing") {
    bulb::EventLoop loop;
    bulb::Channel<int> ch(1);
    CHECK_THROWS_AS(bulb::Channel<int>(0), std::invalid_argument);
    int one = 1;
    CHECK(ch.try_send(one));
    int two = 2;
    CHECK_FALSE(ch.try_send(two));
    auto blocked = bulb::create_task(loop, ch.send(2));
    auto cancelled = bulb::create_task(loop, ch.send(3));
    loop.run_until_complete(bulb::create_task(loop, []() -> bulb::Task<> { co_await bulb::sleep(std::chrono::milliseconds(1)); }()));
    cancelled.cancel();
    CHECK(ch.try_receive() == 1);  // room for one: the first waiting sender gets it
    loop.run_until_complete(blocked);
    CHECK(ch.size() == 1);
    CHECK(cancelled.cancelled());
    ch.close();
    CHECK(loop.run_until_complete(bulb::create_task(loop, ch.receive())) == 2);  // what is left
    CHECK_FALSE(loop.run_until_complete(bulb::create_task(loop, ch.receive())).has_value());
    auto late = bulb::create_task(loop, ch.send(4));
    CHECK_THROWS_AS(loop.run_until_complete(late), bulb::InvalidStateError);
    loop.close();
}

namespace {
/// Makes loop `index` leave run_forever (its thread returns; queued messages stay unrun) and
/// waits until its last iteration has begun: what is posted to it afterwards is never run.
void stop_one_loop(bulb::LoopGroup& group, std::size_t index) {
    std::promise<void> stopping;
    group.post(index, [&] {
        group.loop(index).stop();
        stopping.set_value();
    });
    stopping.get_future().wait();
}

/// The loop_closed error `f` failed with (empty when it holds something else).
template <class T>
std::string loop_closed_message(bulb::Future<T>& f) {
    try {
        f.result();
    } catch (const bulb::Error& e) {
        if (e.code() == bulb::errc::loop_closed) return e.what();
    } catch (...) {
    }
    return {};
}
}  // namespace

TEST_CASE("close(): a call_on from a group loop whose message never ran fails with loop_closed naming the loop") {
    bulb::LoopGroup group({.loops = 2});
    std::optional<bulb::Future<int>> fut;  // loop 0's; read here only once the loops are joined
    std::atomic<bool> ran{false};
    group.start();
    stop_one_loop(group, 1);
    std::promise<void> sent;
    group.post(0, [&] {
        fut = group.call_on(1, [&] {
            ran = true;
            return 7;
        });
        sent.set_value();
    });
    sent.get_future().wait();
    group.close();  // loop 1 drops the message unrun
    REQUIRE(fut);
    CHECK(!ran);
    REQUIRE(fut->done());
    const std::string what = loop_closed_message(*fut);
    CHECK(what.find("call_on: loop 1 closed before the message ran") != std::string::npos);
}

TEST_CASE("close(): a call_on from a loop outside the group resolves there with loop_closed, also after close") {
    bulb::EventLoop home;  // this thread's own loop
    std::optional<bulb::LoopGroup> group(bulb::LoopGroupOptions{.loops = 2});
    std::atomic<bool> ran{false};
    group->start();
    stop_one_loop(*group, 1);
    std::optional<bulb::Future<int>> fut;
    bulb::Future<void> issued(home);
    home.call_soon([&] {
        fut = group->call_on(1, [&] {
            ran = true;
            return 7;
        });
        issued.set_result();
    });
    home.run_until_complete(issued);
    CHECK(!fut->done());
    group->close();  // the message is dropped: its failure goes to `home` thread-safely
    CHECK_THROWS_WITH_AS(home.run_until_complete(*fut), doctest::Contains("loop 1 closed before the message ran"),
                         bulb::Error);
    CHECK(!ran);

    // After close: the message cannot even be queued; the future fails the same way.
    bulb::Future<void> issued2(home);
    home.call_soon([&] {
        fut = group->call_on(0, [&] {
            ran = true;
            return 8;
        });
        issued2.set_result();
    });
    home.run_until_complete(issued2);
    CHECK_THROWS_WITH_AS(home.run_until_complete(*fut), doctest::Contains("loop 0 closed before the message ran"),
                         bulb::Error);
    CHECK(!ran);
    fut.reset();
    group.reset();
    home.close();
}

TEST_CASE("call_on and run_on fail with loop_closed when the future their function returned is dropped unfinished") {
    bulb::LoopGroup group({.loops = 2});
    group.start();
    // A future of loop 1 that nobody keeps: its done callbacks (the way back) go with it.
    auto abandoned = [&] { return bulb::Future<int>(group.loop(1)); };
    CHECK_THROWS_WITH_AS(group.run_on(1, abandoned),
                         doctest::Contains("run_on: the future its function returned on loop 1 was dropped unfinished"),
                         bulb::Error);
    auto what = group.run_on(0, [&] {
        bulb::Future<std::string> out(group.loop(0));
        group.call_on(1, abandoned).add_done_callback([out](bulb::Future<int>& f) mutable {
            out.set_result(loop_closed_message(f));
        });
        return out;
    });
    CHECK(what.find("call_on: the future its function returned on loop 1 was dropped unfinished") != std::string::npos);
    group.close();
}

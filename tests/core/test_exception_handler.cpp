// SPDX-License-Identifier: MIT
/// @file
/// The exception handler: contained callback failures, handler failures, debug-mode reports.
#include "support/loop_fixture.hpp"

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace bulb_test;

TEST_SUITE("exception handler") {

TEST_CASE("a throwing callback reaches the handler with a message and the exception") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    bulb::EventLoop* handler_loop = nullptr;
    loop.call_soon([] { throw std::runtime_error("callback broke"); });
    run_once(loop);
    REQUIRE(handler.size() == 1);
    CHECK_FALSE(handler[0].message.empty());
    REQUIRE(handler[0].exception);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(handler[0].exception), "callback broke", std::runtime_error);
    loop.set_exception_handler([&](bulb::EventLoop& l, const bulb::ExceptionContext&) { handler_loop = &l; });
    loop.call_soon([] { throw 1; });
    run_once(loop);
    CHECK(handler_loop == &loop);
}

TEST_CASE("the loop goes on running the later callbacks after one throws") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    std::vector<int> order;
    loop.call_soon([&] { order.push_back(1); });
    loop.call_soon([&] {
        order.push_back(2);
        throw std::runtime_error("middle");
    });
    loop.call_soon([&] { order.push_back(3); });
    loop.call_later(1ms, [&] {
        order.push_back(4);
        loop.stop();
    });
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(handler.size() == 1);
}

TEST_CASE("a throwing timer callback is contained too") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    bool after = false;
    loop.call_later(1ms, [] { throw std::runtime_error("timer broke"); });
    loop.call_later(2ms, [&] {
        after = true;
        loop.stop();
    });
    loop.run_forever();
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].what == "timer broke");
    CHECK(after);
}

TEST_CASE("a throwing exception handler does not kill the loop") {
    bulb_test::AuditedLoop loop;
    int handler_calls = 0;
    loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext&) {
        ++handler_calls;
        throw std::runtime_error("handler broke too");
    });
    bool after = false;
    loop.call_soon([] { throw std::runtime_error("first"); });
    loop.call_soon([&] { after = true; });
    run_once(loop);
    CHECK(handler_calls == 1);
    CHECK(after);
    loop.set_exception_handler({});  // the default handler is back: no call to ours
    loop.call_soon([] { throw std::runtime_error("printed by the default handler"); });
    run_once(loop);
    CHECK(handler_calls == 1);
}

TEST_CASE("a CancelledError thrown from a callback is contained and reported") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    bool after = false;
    loop.call_soon([] { throw bulb::CancelledError("stop it"); });
    loop.call_soon([&] { after = true; });
    run_once(loop);
    CHECK(after);
    REQUIRE(handler.size() == 1);
    CHECK_THROWS_AS(std::rethrow_exception(handler[0].exception), bulb::CancelledError);
    CHECK(handler[0].what.find("stop it") != std::string::npos);
}

TEST_CASE("a non-exception type thrown from a callback is contained") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    loop.call_soon([] { throw 42; });
    run_once(loop);
    REQUIRE(handler.size() == 1);
    CHECK_THROWS_AS(std::rethrow_exception(handler[0].exception), int);
}

TEST_CASE("a throwing future done callback is reported and the other done callbacks still run") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    bulb::Future<int> f(loop);
    std::vector<int> order;
    f.add_done_callback([&] { order.push_back(1); });
    f.add_done_callback([] { throw std::runtime_error("done callback broke"); });
    f.add_done_callback([&] { order.push_back(3); });
    f.set_result(0);
    run_once(loop);
    CHECK(order == std::vector<int>{1, 3});
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].what == "done callback broke");
}

TEST_CASE("call_exception_handler reports a context given by the user") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    loop.call_exception_handler({"custom report", nullptr});
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message == "custom report");
    CHECK_FALSE(handler[0].exception);
}

TEST_CASE("the handler may replace itself while it runs") {
    bulb_test::AuditedLoop loop;
    std::vector<std::string> log;
    auto token = std::make_shared<int>(0);
    loop.set_exception_handler([&, token](bulb::EventLoop& l, const bulb::ExceptionContext& c) {
        l.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c2) {
            log.push_back("second: " + c2.message);
        });
        log.push_back("first: " + c.message + " " + std::to_string(token.use_count()));
    });
    loop.call_exception_handler({"one", nullptr});
    loop.call_exception_handler({"two", nullptr});
    CHECK(log == std::vector<std::string>{"first: one 2", "second: two"});
    CHECK(token.use_count() == 1);
}

TEST_CASE("debug mode reports a callback slower than the threshold") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    CHECK_FALSE(loop.get_debug());
    loop.set_debug(true);
    CHECK(loop.get_debug());
    loop.set_slow_callback_duration(10ms);
    loop.call_soon([] { std::this_thread::sleep_for(30ms); });
    run_once(loop);
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message.find("took") != std::string::npos);
    CHECK_FALSE(handler[0].exception);
}

TEST_CASE("debug mode stays silent for fast callbacks") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    loop.set_debug(true);
    loop.set_slow_callback_duration(1s);
    for (int i = 0; i < 100; ++i) loop.call_soon([] {});
    run_once(loop);
    CHECK(handler.size() == 0);
}

TEST_CASE("slow callbacks are not reported outside debug mode") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    loop.set_slow_callback_duration(1ms);
    loop.call_soon([] { std::this_thread::sleep_for(10ms); });
    run_once(loop);
    CHECK(handler.size() == 0);
}

TEST_CASE("a slow callback that also throws is reported twice: the exception, then the slowness") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    loop.set_debug(true);
    loop.set_slow_callback_duration(5ms);
    loop.call_soon([] {
        std::this_thread::sleep_for(15ms);
        throw std::runtime_error("slow and broken");
    });
    run_once(loop);
    REQUIRE(handler.size() == 2);
    CHECK(handler[0].what == "slow and broken");
    CHECK(handler[1].message.find("took") != std::string::npos);
}

}  // TEST_SUITE

// SPDX-License-Identifier: MIT
/// @file
/// A Task dropped before it ever ran is reported in debug mode ("coroutine was never awaited"),
/// as asyncio's debug mode reports a coroutine that was never awaited; awaited, scheduled and
/// non-debug Tasks are not.
#include <bulb/coro.hpp>
#include <doctest/doctest.h>

#include "../support/loop_fixture.hpp"

#include <string>

namespace {

bulb::Task<int> answer() { co_return 42; }

/// Runs `body` on a loop in the given debug mode and returns the reports' messages.
template <class F>
std::vector<std::string> reports_of(bool debug, F body) {
    bulb::EventLoop loop;
    loop.set_debug(debug);
    bulb_test::RecordingHandler handler(loop);
    loop.run_until_complete(bulb::create_task(loop, body()));
    std::vector<std::string> messages;
    for (std::size_t i = 0; i < handler.size(); ++i) messages.push_back(handler[i].message);
    return messages;
}

}  // namespace

TEST_CASE("debug mode reports a Task destroyed before it ran") {
    auto messages = reports_of(true, []() -> bulb::Task<void> {
        { bulb::Task<int> forgotten = answer(); }  // made, never awaited nor scheduled
        co_return;
    });
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].find("coroutine was never awaited") != std::string::npos);
}

TEST_CASE("awaited and scheduled Tasks are not reported, nor anything outside debug mode") {
    auto messages = reports_of(true, []() -> bulb::Task<void> {
        int a = co_await answer();
        bulb::Task<int> named = answer();
        int b = co_await std::move(named);
        int c = co_await bulb::create_task(answer());
        CHECK(a + b + c == 126);
    });
    CHECK(messages.empty());
    messages = reports_of(false, []() -> bulb::Task<void> {
        { bulb::Task<int> forgotten = answer(); }
        co_return;
    });
    CHECK(messages.empty());
}

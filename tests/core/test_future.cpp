// SPDX-License-Identifier: MIT
/// @file
/// Future<T>: results, exceptions, cancellation, done callbacks, run_until_complete.
#include "support/loop_fixture.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace bulb_test;

TEST_SUITE("future") {

TEST_CASE("a new future is pending and result() throws InvalidStateError") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    CHECK_FALSE(f.done());
    CHECK_FALSE(f.cancelled());
    CHECK(&f.get_loop() == &loop);
    CHECK_THROWS_AS(f.result(), bulb::InvalidStateError);
    CHECK_THROWS_AS(f.exception(), bulb::InvalidStateError);
}

TEST_CASE("set_result makes the future done with that value") {
    bulb_test::AuditedLoop loop;
    bulb::Future<std::string> f(loop);
    f.set_result("value");
    CHECK(f.done());
    CHECK_FALSE(f.cancelled());
    CHECK(f.result() == "value");
    CHECK(f.exception() == nullptr);
}

TEST_CASE("Future<void> completes with set_result()") {
    bulb_test::AuditedLoop loop;
    bulb::Future<void> f(loop);
    f.set_result();
    CHECK(f.done());
    CHECK_NOTHROW(f.result());
}

TEST_CASE("set_exception makes result() throw it and exception() return it") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    auto e = std::make_exception_ptr(std::logic_error("bad"));
    f.set_exception(e);
    CHECK(f.done());
    CHECK_FALSE(f.cancelled());
    CHECK_THROWS_WITH_AS(f.result(), "bad", std::logic_error);
    CHECK(f.exception() == e);
    CHECK_THROWS_AS(f.set_exception(nullptr), std::invalid_argument);
}

TEST_CASE("set_error stores a bulb::Error carrying the code") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_error(make_error_code(std::errc::connection_refused), "connect");
    try {
        f.result();
        FAIL("result() did not throw");
    } catch (const bulb::Error& e) {
        CHECK(e.code() == std::errc::connection_refused);
        CHECK(std::string(e.what()).find("connect") != std::string::npos);
    }
    bulb::Future<void> g(loop);
    g.set_error(bulb::errc::timed_out);
    CHECK_THROWS_AS(g.result(), bulb::Error);
    try {
        g.result();
    } catch (const bulb::Error& e) {
        CHECK(e.code() == bulb::errc::timed_out);
        CHECK(e.code().category().name() == std::string("bulb"));
    }
}

TEST_CASE("cancel() makes result() and exception() throw CancelledError with the message") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    CHECK(f.cancel("no longer needed"));
    CHECK(f.done());
    CHECK(f.cancelled());
    try {
        f.result();
        FAIL("result() did not throw");
    } catch (const bulb::CancelledError& e) {
        CHECK(std::string(e.what()) == "no longer needed");
        CHECK(e.code() == bulb::errc::cancelled);
    }
    CHECK_THROWS_AS(f.exception(), bulb::CancelledError);
    CHECK_FALSE(f.cancel());  // already done
    bulb::Future<int> g(loop);
    g.cancel();
    try {
        g.result();
    } catch (const bulb::CancelledError& e) {
        CHECK(std::string(e.what()) == "cancelled");
    }
}

TEST_CASE("completing a done future twice throws InvalidStateError and keeps the first outcome") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_result(1);
    CHECK_THROWS_AS(f.set_result(2), bulb::InvalidStateError);
    CHECK_THROWS_AS(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))), bulb::InvalidStateError);
    CHECK_FALSE(f.cancel());
    CHECK(f.result() == 1);
    bulb::Future<void> c(loop);
    c.cancel();
    CHECK_THROWS_AS(c.set_result(), bulb::InvalidStateError);
    CHECK(c.cancelled());
}

TEST_CASE("copies of a future share one state") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> a(loop);
    bulb::Future<int> b = a;
    CHECK(a == b);
    CHECK_FALSE(a == bulb::Future<int>(loop));
    b.set_result(3);
    CHECK(a.done());
    CHECK(a.result() == 3);
}

TEST_CASE("a move-only value works: set_result, result(), run_until_complete") {
    bulb_test::AuditedLoop loop;
    bulb::Future<std::unique_ptr<int>> f(loop);
    loop.call_soon([f]() mutable { f.set_result(std::make_unique<int>(9)); });
    std::unique_ptr<int> p = loop.run_until_complete(f);
    REQUIRE(p);
    CHECK(*p == 9);
    bulb::Future<std::unique_ptr<int>> g(loop);
    g.set_result(std::make_unique<int>(4));
    CHECK(*g.result() == 4);
    std::unique_ptr<int> taken = std::move(g.result());
    CHECK(*taken == 4);
}

TEST_CASE("done callbacks are never called inline, not even before the loop runs") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    int calls = 0;
    f.add_done_callback([&] { ++calls; });
    f.set_result(1);
    CHECK(calls == 0);
    run_once(loop);
    CHECK(calls == 1);
}

TEST_CASE("done callbacks run in the order they were added") {
    bulb_test::AuditedLoop loop;
    bulb::Future<void> f(loop);
    std::vector<int> order;
    for (int i = 0; i < 5; ++i) f.add_done_callback([&order, i] { order.push_back(i); });
    f.set_result();
    run_once(loop);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("a done callback added to a finished future is scheduled soon, not run inline") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_result(5);
    int got = 0;
    f.add_done_callback([&](bulb::Future<int>& done) { got = done.result(); });
    CHECK(got == 0);
    run_once(loop);
    CHECK(got == 5);
}

TEST_CASE("both callback forms work: fn() and fn(Future&) seeing the same future") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    std::vector<std::string> log;
    f.add_done_callback([&] { log.push_back("plain"); });
    f.add_done_callback([&](bulb::Future<int>& same) {
        CHECK(same == f);
        log.push_back("with future " + std::to_string(same.result()));
    });
    f.set_result(8);
    run_once(loop);
    CHECK(log == std::vector<std::string>{"plain", "with future 8"});
}

TEST_CASE("done callbacks run after cancel() and after set_exception") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> a(loop), b(loop);
    bool a_cancelled = false;
    std::string b_error;
    a.add_done_callback([&](bulb::Future<int>& f) { a_cancelled = f.cancelled(); });
    b.add_done_callback([&](bulb::Future<int>& f) { b_error = bulb::describe_exception(f.exception()); });
    a.cancel();
    b.set_exception(std::make_exception_ptr(std::runtime_error("broken")));
    run_once(loop);
    CHECK(a_cancelled);
    CHECK(b_error == "broken");
}

TEST_CASE("a future kept alive only by its own pending done callback is freed") {
    // The fn(Future&) form must not make the future own itself: dropping the last handle of a
    // pending future frees its state and the callback's captures.
    bulb_test::AuditedLoop loop;
    auto token = std::make_shared<int>(0);
    {
        bulb::Future<int> f(loop);
        f.add_done_callback([token](bulb::Future<int>&) {});
    }
    CHECK(token.use_count() == 1);
}

TEST_CASE("a done callback keeps the future alive until it runs") {
    bulb_test::AuditedLoop loop;
    int got = 0;
    {
        bulb::Future<int> f(loop);
        f.add_done_callback([&](bulb::Future<int>& done) { got = done.result(); });
        f.set_result(11);
    }
    run_once(loop);
    CHECK(got == 11);
}

TEST_CASE("run_until_complete returns the value or throws the exception") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> ok(loop);
    loop.call_later(1ms, [ok]() mutable { ok.set_result(21); });
    CHECK(loop.run_until_complete(ok) == 21);
    bulb::Future<int> bad(loop);
    loop.call_soon([bad]() mutable { bad.set_exception(std::make_exception_ptr(std::domain_error("nope"))); });
    CHECK_THROWS_WITH_AS(loop.run_until_complete(bad), "nope", std::domain_error);
    bulb::Future<void> cancelled(loop);
    loop.call_soon([cancelled]() mutable { cancelled.cancel(); });
    CHECK_THROWS_AS(loop.run_until_complete(cancelled), bulb::CancelledError);
}

TEST_CASE("run_until_complete on an already finished future returns at once") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_result(2);
    CHECK(loop.run_until_complete(f) == 2);
}

TEST_CASE("run_until_complete throws InvalidStateError when the loop is stopped first") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    loop.call_soon([&] { loop.stop(); });
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::InvalidStateError);
    CHECK_FALSE(f.done());
}

TEST_CASE("run_until_complete on a closed loop throws without touching the future") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    loop.close();
    CHECK_THROWS_AS(loop.run_until_complete(f), bulb::InvalidStateError);
    CHECK_NOTHROW(f.set_result(1));  // no callback was left behind to schedule on a closed loop
}

TEST_CASE("Future() without a loop argument uses the running loop or throws") {
    CHECK_THROWS_AS(bulb::Future<int>(), bulb::InvalidStateError);
    bulb_test::AuditedLoop loop;
    bool same = false;
    loop.call_soon([&] { same = &bulb::Future<int>().get_loop() == &loop; });
    run_once(loop);
    CHECK(same);
}

TEST_CASE("a future destroyed with an unretrieved exception is reported as never retrieved") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    {
        bulb::Future<int> f(loop);
        f.set_exception(std::make_exception_ptr(std::runtime_error("lost")));
    }
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].message.find("never retrieved") != std::string::npos);
    CHECK(handler[0].what == "lost");
    {
        bulb::Future<int> g(loop);  // retrieved through result(): silent
        g.set_exception(std::make_exception_ptr(std::runtime_error("seen")));
        CHECK_THROWS(g.result());
    }
    {
        bulb::Future<int> h(loop);  // retrieved through exception(): silent
        h.set_exception(std::make_exception_ptr(std::runtime_error("seen")));
        CHECK(h.exception());
    }
    {
        bulb::Future<int> c(loop);  // cancellation is not an unretrieved exception
        c.cancel();
    }
    CHECK(handler.size() == 1);
}

TEST_CASE("an unretrieved future still held by a callback at loop destruction is reported safely") {
    int reports = 0;
    {
        bulb_test::AuditedLoop loop;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& c) {
            if (c.message.find("never retrieved") != std::string::npos) ++reports;
        });
        bulb::Future<int> f(loop);
        f.set_exception(std::make_exception_ptr(std::runtime_error("late")));
        loop.call_soon([f] {});  // the last reference dies while the loop tears down
    }
    CHECK(reports == 1);
}

TEST_CASE("a future outliving its loop is destroyed silently") {
    bulb::Future<int> f = [] {
        bulb_test::AuditedLoop loop;
        bulb::Future<int> inner(loop);
        inner.set_exception(std::make_exception_ptr(std::runtime_error("orphan")));
        return inner;
    }();
    CHECK(f.done());  // destroyed at scope end without a loop to report to
}

TEST_CASE("set_canceller routes cancel() to the producer") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    int asked = 0;
    std::string message;
    f.set_canceller([&](std::string msg) {
        ++asked;
        message = std::move(msg);
        return true;
    });
    CHECK(f.cancel("please stop"));
    CHECK(asked == 1);
    CHECK(message == "please stop");
    CHECK_FALSE(f.done());  // the producer decides how the future ends
    f.set_canceller({});
    CHECK(f.cancel("now"));
    CHECK(f.cancelled());
    CHECK(asked == 1);
}

TEST_CASE("a canceller refusing the request leaves the future pending") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    f.set_canceller([](std::string) { return false; });
    CHECK_FALSE(f.cancel());
    CHECK_FALSE(f.done());
    f.set_result(3);  // finishing drops the canceller
    CHECK_FALSE(f.cancel());
    CHECK(f.result() == 3);
}

TEST_CASE("a done callback may add another done callback to the same finished future") {
    bulb_test::AuditedLoop loop;
    bulb::Future<int> f(loop);
    std::vector<int> order;
    f.add_done_callback([&] {
        order.push_back(1);
        f.add_done_callback([&] { order.push_back(2); });
    });
    f.set_result(0);
    run_once(loop);
    CHECK(order == std::vector<int>{1});
    run_once(loop);
    CHECK(order == std::vector<int>{1, 2});
}

}  // TEST_SUITE

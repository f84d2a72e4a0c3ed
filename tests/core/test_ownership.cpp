// SPDX-License-Identifier: MIT
// The ownership vocabulary (Counted, RefPtr, adopt_ref), BULB_ASSERT, opaque handles and
// per-loop extensions.
#include <bulb/loop.hpp>
#include <bulb/ref.hpp>

#include "support/loop_fixture.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Tracked : bulb::Counted<Tracked> {
    explicit Tracked(int& deaths) : deaths(&deaths) {}
    ~Tracked() { ++*deaths; }
    int* deaths;
};

struct Shape : bulb::RefCounted {
    explicit Shape(std::vector<std::string>& log) : log(&log) {}
    ~Shape() override { log->push_back("shape gone"); }
    std::vector<std::string>* log;
};

}  // namespace

TEST_CASE("RefPtr counts its references and deletes with the last one") {
    int deaths = 0;
    {
        bulb::RefPtr<Tracked> a = bulb::make_ref<Tracked>(deaths);
        CHECK(a->ref_count() == 1);
        {
            bulb::RefPtr<Tracked> b = a;
            CHECK(a->ref_count() == 2);
            bulb::RefPtr<Tracked> c = std::move(b);
            CHECK(!b);
            CHECK(a->ref_count() == 2);
        }
        CHECK(a->ref_count() == 1);
        CHECK(deaths == 0);
    }
    CHECK(deaths == 1);
}

TEST_CASE("adopt_ref takes over a reference without counting it; detach hands it back") {
    int deaths = 0;
    auto* raw = new Tracked(deaths);
    raw->add_ref();  // a reference held by hand, as a suspended task's waker holds one
    {
        bulb::RefPtr<Tracked> p(raw, bulb::adopt_ref);
        CHECK(raw->ref_count() == 1);
        Tracked* back = p.detach();
        CHECK(back == raw);
        CHECK(!p);
    }
    CHECK(deaths == 0);
    CHECK(raw->ref_count() == 1);
    raw->release_ref();
    CHECK(deaths == 1);
}

TEST_CASE("RefCounted destroys through the virtual destructor") {
    std::vector<std::string> log;
    {
        bulb::RefPtr<bulb::RefCounted> base(new Shape(log));
        CHECK(log.empty());
    }
    CHECK(log == std::vector<std::string>{"shape gone"});
}

TEST_CASE("BULB_ASSERT aborts on a release without a reference (debug and sanitizer builds)") {
    if (!BULB_ENABLE_ASSERTS) return;
#if defined(__SANITIZE_THREAD__)
    return;  // a forked child of a threaded TSan process ends through TSan's own exit path
#endif
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // doctest's crash handler would report the child's abort as a crashed test case (and its
        // summary would be counted): the child dies by the default action, silently.
        ::signal(SIGABRT, SIG_DFL);
        ::close(1);
        ::close(2);  // keep the expected report out of the test log
        int deaths = 0;
        auto* t = new Tracked(deaths);  // zero references
        t->release_ref();
        ::_exit(0);  // not reached when the assertion works
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("Handle copies share one callback; cancelling any copy cancels it") {
    bulb_test::AuditedLoop loop;
    int ran = 0;
    bulb::Handle h = loop.call_soon([&] { ++ran; });
    bulb::Handle copy = h;
    CHECK(copy);
    CHECK(!h.cancelled());
    copy.cancel();
    CHECK(h.cancelled());
    bulb::TimerHandle t = loop.call_later(std::chrono::hours(1), [&] { ++ran; });
    CHECK(t.when() > loop.time());
    t.cancel();
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    CHECK(ran == 0);
    CHECK(bulb::TimerHandle().when() == bulb::TimePoint());
    CHECK(!bulb::Handle());
}

namespace {

struct Counter final : bulb::LoopExtension {
    explicit Counter(bulb::EventLoop& loop) : loop(&loop) { ++made; }
    ~Counter() override { closed_at_destruction = loop->is_closed(); ++destroyed; }
    bulb::EventLoop* loop;
    int value = 0;
    static inline int made = 0;
    static inline int destroyed = 0;
    static inline bool closed_at_destruction = false;
};

struct Other final : bulb::LoopExtension {
    explicit Other(bulb::EventLoop&) {}
};

}  // namespace

TEST_CASE("EventLoop::extension<T>: one instance per loop, made on first use, destroyed after close") {
    Counter::made = Counter::destroyed = 0;
    {
        bulb_test::AuditedLoop a, b;
        CHECK(Counter::made == 0);
        a.extension<Counter>().value = 7;
        CHECK(&a.extension<Counter>() == &a.extension<Counter>());
        CHECK(a.extension<Counter>().value == 7);
        CHECK(b.extension<Counter>().value == 0);
        CHECK(Counter::made == 2);
        CHECK(a.find_extension(typeid(Other)) == nullptr);
        a.extension<Other>();
        CHECK(a.find_extension(typeid(Other)) != nullptr);
        CHECK_THROWS_AS(a.add_extension(typeid(Counter), std::make_unique<Other>(a)), std::invalid_argument);
        CHECK(Counter::destroyed == 0);
    }
    CHECK(Counter::destroyed == 2);
    CHECK(Counter::closed_at_destruction);
}

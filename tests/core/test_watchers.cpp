// SPDX-License-Identifier: MIT
/// @file
/// File-descriptor readers/writers and signal handlers.
#include "support/loop_fixture.hpp"

#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <fcntl.h>

using namespace bulb_test;

namespace {

std::string drain(int fd) {
    std::string out;
    char buf[256];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, std::size_t(n));
    }
    return out;
}

void send_str(int fd, const std::string& s) { REQUIRE(::write(fd, s.data(), s.size()) == ssize_t(s.size())); }

}  // namespace

TEST_SUITE("watchers") {

TEST_CASE("a reader is called when data arrives, from the loop") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    std::string got;
    int calls = 0;
    loop.add_reader(sp.fd[0], [&] {
        ++calls;
        got += drain(sp.fd[0]);
        if (got.size() >= 5) loop.stop();
    });
    run_once(loop);
    CHECK(calls == 0);  // nothing to read yet
    send_str(sp.fd[1], "hello");
    CHECK(calls == 0);  // only the loop calls back
    loop.run_forever();
    CHECK(got == "hello");
    CHECK(loop.remove_reader(sp.fd[0]));
}

TEST_CASE("a reader keeps being called (level-triggered) until the data is consumed") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    int calls = 0;
    loop.add_reader(sp.fd[0], [&] { ++calls; });
    send_str(sp.fd[1], "x");
    CHECK(run_until(loop, [&] { return calls >= 3; }));
    drain(sp.fd[0]);
    loop.remove_reader(sp.fd[0]);
}

TEST_CASE("add_reader on a watched descriptor replaces the callback") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    int first = 0, second = 0;
    auto token = std::make_shared<int>(0);
    loop.add_reader(sp.fd[0], [&, token] { ++first; });
    loop.add_reader(sp.fd[0], [&] {
        ++second;
        drain(sp.fd[0]);
    });
    CHECK(token.use_count() == 1);  // the replaced callback is gone
    send_str(sp.fd[1], "x");
    CHECK(run_until(loop, [&] { return second == 1; }));
    CHECK(first == 0);
    CHECK(loop.remove_reader(sp.fd[0]));
}

TEST_CASE("remove_reader returns whether a reader was installed and stops the calls") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    CHECK_FALSE(loop.remove_reader(sp.fd[0]));
    int calls = 0;
    auto token = std::make_shared<int>(0);
    loop.add_reader(sp.fd[0], [&calls, token] { ++calls; });
    CHECK(loop.remove_reader(sp.fd[0]));
    CHECK(token.use_count() == 1);
    CHECK_FALSE(loop.remove_reader(sp.fd[0]));
    send_str(sp.fd[1], "x");
    for (int i = 0; i < 3; ++i) {
        loop.call_later(1ms, [] {});
        run_once(loop);
    }
    CHECK(calls == 0);
}

TEST_CASE("a writer fires when the descriptor is writable") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    int calls = 0;
    loop.add_writer(sp.fd[0], [&] {
        ++calls;
        loop.stop();
    });
    CHECK(calls == 0);
    loop.run_forever();
    CHECK(calls >= 1);
    CHECK(loop.remove_writer(sp.fd[0]));
    CHECK_FALSE(loop.remove_writer(sp.fd[0]));
}

TEST_CASE("a writer on a full socket waits until the peer reads") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    std::string chunk(4096, 'z');
    while (::write(sp.fd[0], chunk.data(), chunk.size()) > 0) {
    }
    bool writable = false;
    loop.add_writer(sp.fd[0], [&] { writable = true; });
    for (int i = 0; i < 3; ++i) {
        loop.call_later(1ms, [] {});
        run_once(loop);
    }
    CHECK_FALSE(writable);
    drain(sp.fd[1]);
    CHECK(run_until(loop, [&] { return writable; }));
    loop.remove_writer(sp.fd[0]);
}

TEST_CASE("a reader and a writer on the same descriptor are independent") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    int reads = 0, writes = 0;
    loop.add_reader(sp.fd[0], [&] {
        ++reads;
        drain(sp.fd[0]);
    });
    loop.add_writer(sp.fd[0], [&] { ++writes; });
    CHECK(run_until(loop, [&] { return writes > 0; }));
    CHECK(loop.remove_writer(sp.fd[0]));
    send_str(sp.fd[1], "ping");
    CHECK(run_until(loop, [&] { return reads > 0; }));
    CHECK(loop.remove_reader(sp.fd[0]));
}

TEST_CASE("a reader may remove itself inside its own callback") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    int calls = 0;
    auto token = std::make_shared<int>(0);
    long inside = 0;
    bool removed = false;
    loop.add_reader(sp.fd[0], [&, token] {
        ++calls;
        removed = loop.remove_reader(sp.fd[0]);
        inside = token.use_count();  // captures live until the callback returns
    });
    send_str(sp.fd[1], "x");  // never drained: a live reader would fire again
    CHECK(run_until(loop, [&] { return calls == 1; }));
    for (int i = 0; i < 3; ++i) {
        loop.call_later(1ms, [] {});
        run_once(loop);
    }
    CHECK(calls == 1);
    CHECK(removed);
    CHECK(inside == 2);
    CHECK(token.use_count() == 1);
}

TEST_CASE("a reader may replace itself inside its own callback") {
    bulb_test::AuditedLoop loop;
    SocketPair sp;
    std::string log;
    auto name = std::make_shared<std::string>("first");
    loop.add_reader(sp.fd[0], [&, name] {
        loop.add_reader(sp.fd[0], [&] {
            log += "second;";
            drain(sp.fd[0]);
        });
        log += *name + ";";  // the running callback's captures must still be valid
    });
    send_str(sp.fd[1], "x");
    CHECK(run_until(loop, [&] { return log.find("second") != std::string::npos; }));
    CHECK(log == "first;second;");
    CHECK(name.use_count() == 1);
    CHECK(loop.remove_reader(sp.fd[0]));
}

TEST_CASE("a reader removed by an earlier callback of the same iteration is not called") {
    bulb_test::AuditedLoop loop;
    SocketPair a, b;
    int a_calls = 0, b_calls = 0;
    // Whichever fires first removes the other: exactly one runs.
    loop.add_reader(a.fd[0], [&] {
        ++a_calls;
        loop.remove_reader(b.fd[0]);
    });
    loop.add_reader(b.fd[0], [&] {
        ++b_calls;
        loop.remove_reader(a.fd[0]);
    });
    send_str(a.fd[1], "x");
    send_str(b.fd[1], "x");
    CHECK(run_until(loop, [&] { return a_calls + b_calls > 0; }));
    CHECK(a_calls + b_calls == 1);
    loop.remove_reader(a.fd[0]);
    loop.remove_reader(b.fd[0]);
}

TEST_CASE("an exception from a reader reaches the handler and the reader stays installed") {
    bulb_test::AuditedLoop loop;
    RecordingHandler handler(loop);
    SocketPair sp;
    int calls = 0;
    loop.add_reader(sp.fd[0], [&] {
        if (++calls == 1) throw std::runtime_error("reader failed");
        drain(sp.fd[0]);
    });
    send_str(sp.fd[1], "x");
    CHECK(run_until(loop, [&] { return calls == 2; }));
    REQUIRE(handler.size() == 1);
    CHECK(handler[0].what == "reader failed");
    loop.remove_reader(sp.fd[0]);
}

TEST_CASE("close() removes the watchers and destroys their callbacks") {
    SocketPair sp;
    auto token = std::make_shared<int>(0);
    bulb_test::AuditedLoop loop;
    loop.add_reader(sp.fd[0], [token] {});
    loop.add_writer(sp.fd[0], [token] {});
    loop.close();
    CHECK(token.use_count() == 1);
    CHECK_FALSE(loop.remove_reader(sp.fd[0]));
    CHECK_THROWS_AS(loop.add_reader(sp.fd[0], [] {}), bulb::InvalidStateError);
}

TEST_CASE("a signal handler runs on the loop thread from the loop, not inside raise()") {
    bulb_test::AuditedLoop loop;
    int calls = 0;
    std::thread::id where;
    loop.add_signal_handler(SIGUSR1, [&] {
        ++calls;
        where = std::this_thread::get_id();
        loop.stop();
    });
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(calls == 0);
    loop.call_later(5s, [&] { loop.stop(); });  // safety net
    loop.run_forever();
    CHECK(calls == 1);
    CHECK(where == std::this_thread::get_id());
    CHECK(loop.remove_signal_handler(SIGUSR1));
}

TEST_CASE("a signal handler is called once per delivery and replaced by add_signal_handler") {
    bulb_test::AuditedLoop loop;
    int first = 0, second = 0;
    loop.add_signal_handler(SIGUSR2, [&] { ++first; });
    ::raise(SIGUSR2);
    CHECK(run_until(loop, [&] { return first == 1; }));
    loop.add_signal_handler(SIGUSR2, [&] { ++second; });
    ::raise(SIGUSR2);
    CHECK(run_until(loop, [&] { return second == 1; }));
    CHECK(first == 1);
    CHECK(loop.remove_signal_handler(SIGUSR2));
}

TEST_CASE("a signal handler may replace itself inside its own callback and the signal stays caught") {
    bulb_test::AuditedLoop loop;
    std::string log;
    auto name = std::make_shared<std::string>("first");
    loop.add_signal_handler(SIGUSR1, [&, name] {
        loop.add_signal_handler(SIGUSR1, [&] { log += "second;"; });
        log += *name + ";";
    });
    ::raise(SIGUSR1);
    CHECK(run_until(loop, [&] { return !log.empty(); }));
    CHECK(name.use_count() == 1);
    ::raise(SIGUSR1);  // would kill the process if the disposition had been reset
    CHECK(run_until(loop, [&] { return log.find("second") != std::string::npos; }));
    CHECK(log == "first;second;");
    CHECK(loop.remove_signal_handler(SIGUSR1));
}

TEST_CASE("remove_signal_handler restores the default disposition and reports what it removed") {
    bulb_test::AuditedLoop loop;
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR1));
    loop.add_signal_handler(SIGUSR1, [] {});
    struct sigaction installed {};
    sigaction(SIGUSR1, nullptr, &installed);
    CHECK((installed.sa_handler != SIG_DFL));
    CHECK(loop.remove_signal_handler(SIGUSR1));
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR1));
    struct sigaction now {};
    sigaction(SIGUSR1, nullptr, &now);
    CHECK((now.sa_handler == SIG_DFL));
}

TEST_CASE("invalid signal numbers throw std::invalid_argument") {
    bulb_test::AuditedLoop loop;
    CHECK_THROWS_AS(loop.add_signal_handler(0, [] {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.add_signal_handler(-3, [] {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.add_signal_handler(NSIG, [] {}), std::invalid_argument);
    CHECK_FALSE(loop.remove_signal_handler(SIGKILL));
}

}  // TEST_SUITE

// SPDX-License-Identifier: MIT
/// @file
/// Process resources: SIGPIPE never kills the process (SIG_DFL restored, writes to dead peers),
/// EMFILE on accept never spins the loop and accepting resumes when descriptors free up, and
/// descriptors return to their count over many connect/close cycles.
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"
#include "syscall_spy.hpp"

#include <csignal>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>

using namespace bulb_transport_test;

namespace {

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/// Lowers the soft RLIMIT_NOFILE for its lifetime and restores it after.
struct NofileLimit {
    rlimit saved{};
    NofileLimit() { REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0); }
    void lower_to(rlim_t soft) {
        rlimit l = saved;
        l.rlim_cur = soft;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &l) == 0);
    }
    void restore() { ::setrlimit(RLIMIT_NOFILE, &saved); }
    ~NofileLimit() { restore(); }
};

/// Runs `body` in a child process with SIGPIPE set back to SIG_DFL; returns the wait status.
template <class Body>
int in_child_with_default_sigpipe(Body body) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 99;
        {
            bulb::EventLoop loop;  // may set SIGPIPE to SIG_IGN; undo it afterwards
            std::signal(SIGPIPE, SIG_DFL);
            code = body(loop);
            loop.close();
        }
        std::_Exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

/// Child body: a transport keeps writing (write, writelines, buffered data) to a peer that has
/// gone; exits 0 if the connection ended with EPIPE/ECONNRESET, 1..n for other outcomes.
int write_to_dead_peer(bulb::EventLoop& loop, bool tcp) {
    int sv[2] = {-1, -1};
    Fd listener;
    int ours = -1, theirs = -1;
    if (tcp) {
        listener = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto a = bulb::SocketAddress::from_ip("127.0.0.1", 0);
        if (::bind(listener.get(), a.data(), a.size()) != 0 || ::listen(listener.get(), 1) != 0) return 10;
        ours = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = sockname(listener.get());
        if (::connect(ours, addr.data(), addr.size()) != 0) return 11;
        theirs = ::accept(listener.get(), nullptr, nullptr);
    } else {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 12;
        ours = sv[0];
        theirs = sv[1];
    }
    auto rec = std::make_shared<Recorder>();
    rec->eof_keep_open = true;  // stay open after the peer's EOF, and keep writing into it
    auto f = loop.connect_accepted_socket([rec] { return std::make_unique<RecordingProtocol>(rec); }, ours);
    ::close(theirs);  // the peer is gone
    const std::string block(64 * 1024, 'x');
    const bulb::ByteView parts[] = {bulb::as_bytes(block), bulb::as_bytes(block)};
    bulb::TimerHandle timer;
    int rounds = 0;
    std::function<void()> pump = [&] {
        if (rec->is_lost() || ++rounds > 2000) {
            loop.stop();
            return;
        }
        if (rec->made) {
            rec->transport->write(block);
            rec->transport->writelines(parts);
        }
        timer = loop.call_later(std::chrono::milliseconds(1), [&] { pump(); });
    };
    pump();
    loop.run_forever();
    if (!rec->is_lost()) return 2;
    if (!rec->violations.empty()) return 3;
    auto ec = rec->lost_ec;
    return ec == std::errc::broken_pipe || ec == std::errc::connection_reset ? 0 : 4;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("writing to a peer that has gone never raises SIGPIPE, even with SIG_DFL restored") {
    for (bool tcp : {true, false}) {
        CAPTURE(tcp);
        int status = in_child_with_default_sigpipe([tcp](bulb::EventLoop& loop) { return write_to_dead_peer(loop, tcp); });
        CHECK_FALSE(WIFSIGNALED(status));
        if (WIFSIGNALED(status)) CHECK_MESSAGE(WTERMSIG(status) != SIGPIPE, "killed by SIGPIPE");
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
}

TEST_CASE_FIXTURE(TransportFixture, "EMFILE on accept does not spin the loop, is reported once, and accepting resumes when descriptors free up") {
    auto set = recorders([](Recorder& r) { r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); }; });
    auto server = serve(set);
    const auto addr = server.sockets()[0];
    // Clients are made first: they need descriptors of their own.
    std::vector<Fd> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)));
    run_for(20ms);  // let the loop settle (executor, buffers) before the limit drops

    NofileLimit limit;
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd)
        if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    limit.lower_to(static_cast<rlim_t>(highest + 1));
    std::vector<Fd> fillers;  // fill the holes below the limit: the next descriptor fails
    for (;;) {
        int fd = ::dup(0);
        if (fd < 0) break;
        fillers.push_back(Fd(fd));
    }
    REQUIRE(errno == EMFILE);

    for (auto& c : clients) REQUIRE(::connect(c.get(), addr.data(), addr.size()) == 0);  // kernel-side
    const double cpu_before = cpu_seconds();
    const std::size_t accepts_before = syscall_spy::accept_calls();
    run_for(1500ms);
    const double cpu_used = cpu_seconds() - cpu_before;
    const std::size_t accepts = syscall_spy::accept_calls() - accepts_before;
    MESSAGE("over 1.5 s with accept failing: ", cpu_used, " s of CPU, ", accepts, " accept() calls");
    CHECK(cpu_used < 0.1);  // a spinning loop burns what it gets, even on a loaded machine
    CHECK(accepts >= 1);    // it did try, and failed
    CHECK(accepts <= 6);    // then waited (asyncio retries once a second), never spun
    CHECK(syscall_spy::accept_emfile_failures() >= 1);
    CHECK(set->size() == 0);
    CHECK(server.is_serving());
    expect_reports(1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].message.find("out of system resource") != std::string::npos);
    CHECK(reports[0].message.find(std::strerror(EMFILE)) != std::string::npos);

    fillers.clear();
    limit.restore();
    REQUIRE(run_until([&] { return set->size() == 3; }, 3000ms));  // the retry accepts them
    for (auto& c : clients) {
        set_io_timeouts(c.get(), 5s);
        REQUIRE(send_all(c.get(), "served"));
    }
    REQUIRE(run_until([&] { return set->all[0]->bytes == 6 && set->all[1]->bytes == 6 && set->all[2]->bytes == 6; }));
    clients.clear();
    REQUIRE(run_until([&] { return set->count_lost() == 3; }));
    CHECK(reports.size() == 1);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "descriptors return to their count after hundreds of connect and close cycles") {
    auto server_side = recorders([](Recorder& r) {
        r.keep_data = false;
        r.on_data = [&r](bulb::ByteView d) { r.transport->write(d); };
    });
    auto server = serve(server_side);
    const int before = count_open_fds();
    for (int i = 0; i < 300; ++i) {
        auto set = recorders([](Recorder& r) { r.keep_data = false; });
        auto conn = connect(set, server);
        conn.transport->write("x");
        REQUIRE(run_until([&] { return set->all[0]->bytes == 1; }));
        if (i % 3 == 0)
            conn.transport->abort();
        else
            conn.transport->close();
        REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    }
    REQUIRE(run_until([&] { return server_side->count_lost() == 300; }));
    CHECK(loop.transport_count() == 0);
    CHECK(count_open_fds() == before);
    server.close();
}

}  // TEST_SUITE

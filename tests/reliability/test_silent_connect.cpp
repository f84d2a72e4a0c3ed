// SPDX-License-Identifier: MIT
/// @file
/// create_connection with a timeout against a silent peer (RELIABILITY.md tests 13 and 14): a
/// forked child enters a network namespace of its own (unshare(CLONE_NEWNET)), makes a veth pair
/// there with the far end left down and a permanent neighbour entry for the peer's address, so
/// every SYN is dropped without an ARP failure, ICMP or RST: the peer is silent. Nothing outside
/// the child's namespace is touched. Skips with a message where namespaces cannot be made.
#include <bulb/bulb.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

// Child exit codes.
constexpr int skip_code = 77, pass_code = 0, fail_code = 1;

/// Runs in the child, in its own namespace: connects to 10.77.9.2:9 with a 500 ms timeout and
/// checks the outcome. Writes what happened to `report` (a pipe) for the parent's log.
int silent_connect(int report) {
    auto say = [report](const std::string& s) { (void)!::write(report, s.data(), s.size()); };
    if (::unshare(CLONE_NEWNET) != 0) {
        say("cannot unshare the network namespace (not root?)");
        return skip_code;
    }
    const char* setup =
        "ip link set lo up && ip link add bulb_v0 type veth peer name bulb_v1 && "
        "ip addr add 10.77.9.1/24 dev bulb_v0 && ip link set bulb_v0 up && "
        "ip neigh add 10.77.9.2 lladdr 02:00:00:00:00:02 dev bulb_v0 nud permanent";
    if (std::system((std::string(setup) + " >/dev/null 2>&1").c_str()) != 0) {
        say("cannot make a veth pair in the new namespace (no 'ip' or no veth support)");
        return skip_code;
    }
    bulb::EventLoop loop;
    bulb::ConnectOptions o;
    o.timeout = 500ms;
    auto t0 = std::chrono::steady_clock::now();
    ::alarm(10);  // the child never outlives a hang by much
    try {
        loop.run_until_complete(
            loop.create_connection([] { return std::make_unique<bulb::Protocol>(); }, "10.77.9.2", 9, o));
        say("connected to a silent peer?");
        return fail_code;
    } catch (const bulb::TimeoutError& e) {
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::string what = e.what();
        say("TimeoutError after " + std::to_string(took) + " s: " + what);
        if (what.find("10.77.9.2") == std::string::npos) return fail_code;  // must name the address
        if (took < 0.45 || took > 1.5) return fail_code;                    // within the bound
        return pass_code;
    } catch (const std::exception& e) {
        say(std::string("not a TimeoutError: ") + e.what());
        return fail_code;
    }
}

}  // namespace

TEST_CASE("silent peer: create_connection with a timeout fails within it, naming the address") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // doctest's handler must not print a summary from here
        ::close(p[0]);
        int rc = silent_connect(p[1]);
        ::_exit(rc);
    }
    ::close(p[1]);
    std::string report;
    char buf[512];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == skip_code) {
        MESSAGE("skipped: " << report);
        return;
    }
    INFO(report);
    CHECK(WEXITSTATUS(status) == pass_code);
    MESSAGE(report);
}

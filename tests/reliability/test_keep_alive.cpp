// SPDX-License-Identifier: MIT
/// @file
/// TCP keepalive (ConnectOptions::keep_alive, ServerOptions::keep_alive; RELIABILITY.md test 14):
/// the options reach the sockets, bad values are refused, and against a silent peer the connection
/// is lost with ETIMEDOUT in bounded time. The silent peer: a forked child enters a network
/// namespace of its own, a grandchild another one, joined by a veth pair with permanent neighbour
/// entries; once both directions are connected the grandchild sets its end down, so nothing comes
/// back (no RST, no FIN, no ICMP). Nothing outside the two namespaces is touched. Skips with a
/// message where namespaces cannot be made (not root, no `ip`).
#include <bulb/bulb.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

/// A protocol that records its connection and how it ended.
struct Outcome {
    bulb::Transport* transport = nullptr;
    bool lost = false;
    std::error_code ec;
    Clock::time_point lost_at;
};

class Recording : public bulb::Protocol {
public:
    explicit Recording(std::shared_ptr<Outcome> o) : o_(std::move(o)) {}
    void connection_made(bulb::Transport& t) override { o_->transport = &t; }
    void connection_lost(std::error_code ec) override {
        o_->lost = true;
        o_->ec = ec;
        o_->lost_at = Clock::now();
        o_->transport = nullptr;
    }

private:
    std::shared_ptr<Outcome> o_;
};

int get_int(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
    return v;
}

/// Runs the loop for `d`.
void spin(bulb::EventLoop& loop, bulb::Duration d) {
    auto stop = loop.call_later(d, [&loop] { loop.stop(); });
    loop.run_forever();
}

const bulb::KeepAlive fast_keep_alive{.idle = 1s, .interval = 1s, .count = 2};

}  // namespace

TEST_SUITE("reliability") {

TEST_CASE("keep_alive: the options reach the client's and the accepted socket; fractions round up") {
    bulb::EventLoop loop;
    auto accepted = std::make_shared<Outcome>();
    bulb::ServerOptions so;
    so.keep_alive = bulb::KeepAlive{.idle = 3s, .interval = 1500ms, .count = 4, .user_timeout = 2500ms};
    auto server = loop.run_until_complete(
        loop.create_server([accepted] { return std::make_unique<Recording>(accepted); }, "127.0.0.1", 0, so));
    auto client = std::make_shared<Outcome>(), plain = std::make_shared<Outcome>();
    bulb::ConnectOptions co;
    co.keep_alive = fast_keep_alive;
    const std::uint16_t port = server.sockets().at(0).port();
    loop.run_until_complete(loop.create_connection([client] { return std::make_unique<Recording>(client); },
                                                   "127.0.0.1", port, co));
    loop.run_until_complete(loop.create_connection([plain] { return std::make_unique<Recording>(plain); },
                                                   "127.0.0.1", port));
    for (int i = 0; i < 100 && !accepted->transport; ++i) spin(loop, 1ms);
    REQUIRE(accepted->transport);
    REQUIRE(client->transport);
    REQUIRE(plain->transport);

    const int c = client->transport->get_fd();
    CHECK(get_int(c, SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(get_int(c, IPPROTO_TCP, TCP_KEEPIDLE) == 1);
    CHECK(get_int(c, IPPROTO_TCP, TCP_KEEPINTVL) == 1);
    CHECK(get_int(c, IPPROTO_TCP, TCP_KEEPCNT) == 2);
    CHECK(get_int(c, IPPROTO_TCP, TCP_USER_TIMEOUT) == 0);  // zero: the system's value stays

    const int a = accepted->transport->get_fd();
    CHECK(get_int(a, SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(get_int(a, IPPROTO_TCP, TCP_KEEPIDLE) == 3);
    CHECK(get_int(a, IPPROTO_TCP, TCP_KEEPINTVL) == 2);  // 1.5 s rounds up
    CHECK(get_int(a, IPPROTO_TCP, TCP_KEEPCNT) == 4);
    CHECK(get_int(a, IPPROTO_TCP, TCP_USER_TIMEOUT) == 2500);

    CHECK(get_int(plain->transport->get_fd(), SOL_SOCKET, SO_KEEPALIVE) == 0);  // off unless asked

    client->transport->close();
    plain->transport->close();
    server.close();
    loop.run_until_complete(server.wait_closed());
    for (int i = 0; i < 100 && !(client->lost && plain->lost && accepted->lost); ++i)
        spin(loop, 1ms);
    CHECK(accepted->lost);
}

TEST_CASE("keep_alive: out-of-range values are refused before anything starts, naming the field") {
    bulb::EventLoop loop;
    auto factory = [] { return std::make_unique<bulb::Protocol>(); };
    bulb::ConnectOptions co;
    co.keep_alive = bulb::KeepAlive{.count = 128};
    CHECK_THROWS_WITH_AS(loop.create_connection(factory, "127.0.0.1", 9, co),
                         doctest::Contains("create_connection: keep_alive.count out of range"), std::invalid_argument);
    co.keep_alive = bulb::KeepAlive{.idle = 40000s};
    CHECK_THROWS_WITH_AS(loop.create_connection(factory, "127.0.0.1", 9, co),
                         doctest::Contains("keep_alive.idle (seconds) out of range"), std::invalid_argument);
    bulb::ServerOptions so;
    so.keep_alive = bulb::KeepAlive{.interval = -1s};
    CHECK_THROWS_WITH_AS(loop.create_server(factory, "127.0.0.1", 0, so),
                         doctest::Contains("create_server: keep_alive.interval (seconds) out of range"),
                         std::invalid_argument);
}

}  // TEST_SUITE

namespace {

constexpr int skip_code = 77, pass_code = 0, fail_code = 1;

bool write_all(int fd, const void* p, std::size_t n) { return ::write(fd, p, n) == static_cast<ssize_t>(n); }
bool read_all(int fd, void* p, std::size_t n) {
    auto* b = static_cast<char*>(p);
    while (n > 0) {
        ssize_t r = ::read(fd, b, n);
        if (r <= 0) return false;
        b += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

sockaddr_in ipv4(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/// The grandchild, in namespace B (10.77.8.2): listens, accepts the parent's three connections,
/// connects once to the parent's server, then on 'd' sets its veth end down and stays silent.
[[noreturn]] void silent_peer(int to_parent, int from_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::alarm(30);
    auto fail = [&](char why) {
        (void)write_all(to_parent, &why, 1);
        ::_exit(1);
    };
    if (::unshare(CLONE_NEWNET) != 0) fail('U');
    (void)write_all(to_parent, "u", 1);
    std::uint16_t server_port = 0;
    if (!read_all(from_parent, &server_port, sizeof server_port)) ::_exit(1);  // the link is here now
    if (run("ip link set lo up && ip addr add 10.77.8.2/24 dev bulb_k1 && ip link set bulb_k1 up && "
            "ip neigh add 10.77.8.1 lladdr 02:00:00:00:77:01 dev bulb_k1 nud permanent") != 0)
        fail('I');
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in any = ipv4("10.77.8.2", 0);
    socklen_t len = sizeof any;
    if (::bind(l, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 || ::listen(l, 8) != 0 ||
        ::getsockname(l, reinterpret_cast<sockaddr*>(&any), &len) != 0)
        fail('L');
    const std::uint16_t port = ntohs(any.sin_port);
    (void)write_all(to_parent, "p", 1);
    (void)write_all(to_parent, &port, sizeof port);
    std::vector<int> keep;
    for (int i = 0; i < 3; ++i) keep.push_back(::accept(l, nullptr, nullptr));
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in server = ipv4("10.77.8.1", server_port);
    if (::connect(c, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) fail('C');
    (void)write_all(to_parent, "r", 1);
    char cmd = 0;
    if (!read_all(from_parent, &cmd, 1)) ::_exit(1);
    if (run("ip link set bulb_k1 down") != 0) fail('D');
    (void)write_all(to_parent, "D", 1);
    for (;;) ::pause();  // silent: the parent kills us
}

/// The child, in namespace A (10.77.8.1). Returns an exit code; says what happened on `report`.
int keep_alive_against_silent_peer(int report) {
    auto say = [report](const std::string& s) { (void)!::write(report, s.data(), s.size()); };
    if (::unshare(CLONE_NEWNET) != 0) {
        say("cannot unshare the network namespace (not root?)");
        return skip_code;
    }
    if (run("ip link set lo up && ip link add bulb_k0 address 02:00:00:00:77:01 type veth peer name bulb_k1 "
            "address 02:00:00:00:77:02 && ip addr add 10.77.8.1/24 dev bulb_k0 && ip link set bulb_k0 up && "
            "ip neigh add 10.77.8.2 lladdr 02:00:00:00:77:02 dev bulb_k0 nud permanent") != 0) {
        say("cannot make a veth pair in the new namespace (no 'ip' or no veth support)");
        return skip_code;
    }
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) return fail_code;
    pid_t peer = ::fork();
    if (peer < 0) return fail_code;
    if (peer == 0) {
        ::close(up[0]);
        ::close(down[1]);
        silent_peer(up[1], down[0]);
    }
    ::close(up[1]);
    ::close(down[0]);
    struct Reaper {  // the peer never outlives this function
        pid_t pid;
        ~Reaper() {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    } reaper{peer};
    char c = 0;
    if (!read_all(up[0], &c, 1) || c != 'u') {
        say(std::string("the peer could not enter its namespace (") + c + ")");
        return c == 'U' ? skip_code : fail_code;
    }
    if (run("ip link set bulb_k1 netns " + std::to_string(peer)) != 0) {
        say("cannot move the veth end into the peer's namespace");
        return skip_code;
    }

    bulb::EventLoop loop;
    auto accepted = std::make_shared<Outcome>();
    bulb::ServerOptions so;
    so.keep_alive = fast_keep_alive;
    auto server = loop.run_until_complete(
        loop.create_server([accepted] { return std::make_unique<Recording>(accepted); }, "10.77.8.1", 0, so));
    std::uint16_t server_port = server.sockets().at(0).port();
    if (!write_all(down[1], &server_port, sizeof server_port)) return fail_code;
    std::uint16_t peer_port = 0;
    if (!read_all(up[0], &c, 1) || c != 'p' || !read_all(up[0], &peer_port, sizeof peer_port)) {
        say(std::string("the peer failed to listen (") + c + ")");
        return fail_code;
    }

    // Three client connections: keepalive, none (the control: it must survive), and
    // user_timeout alone with data in flight once the peer is silent.
    auto kept = std::make_shared<Outcome>(), control = std::make_shared<Outcome>(), writer = std::make_shared<Outcome>();
    auto connect = [&](std::shared_ptr<Outcome> o, std::optional<bulb::KeepAlive> k) {
        bulb::ConnectOptions co;
        co.keep_alive = k;
        co.timeout = 5s;
        loop.run_until_complete(
            loop.create_connection([o] { return std::make_unique<Recording>(o); }, "10.77.8.2", peer_port, co));
    };
    connect(kept, fast_keep_alive);
    connect(control, std::nullopt);
    connect(writer, bulb::KeepAlive{.user_timeout = 1500ms});
    if (!read_all(up[0], &c, 1) || c != 'r') {
        say(std::string("the peer failed to connect back (") + c + ")");
        return fail_code;
    }
    for (int i = 0; i < 2000 && !accepted->transport; ++i) spin(loop, 1ms);
    if (!accepted->transport || !kept->transport || !control->transport || !writer->transport) {
        say("the four connections were not all made");
        return fail_code;
    }

    if (!write_all(down[1], "d", 1) || !read_all(up[0], &c, 1) || c != 'D') {
        say("the peer could not set its link down");
        return fail_code;
    }
    const auto silent_since = Clock::now();
    writer->transport->write(bulb::ByteView(reinterpret_cast<const std::byte*>("x"), 1));
    const auto deadline = silent_since + 15s;
    while (!(kept->lost && accepted->lost && writer->lost) && Clock::now() < deadline)
        spin(loop, 50ms);

    bool ok = true;
    auto check = [&](const char* name, const Outcome& o) {
        if (!o.lost) {
            say(std::string(name) + ": still open 15 s after the peer went silent\n");
            ok = false;
            return;
        }
        const double took = std::chrono::duration<double>(o.lost_at - silent_since).count();
        say(std::string(name) + ": lost after " + std::to_string(took) + " s: " + o.ec.message() + "\n");
        if (o.ec != std::error_code(ETIMEDOUT, std::system_category())) ok = false;
    };
    check("client with keep_alive (1 s idle, 1 s interval, 2 probes)", *kept);
    check("accepted connection of a server with keep_alive", *accepted);
    check("client with keep_alive.user_timeout 1.5 s, 1 byte unacknowledged", *writer);
    if (control->lost) {
        say("the connection without keepalive was lost too: " + control->ec.message() + "\n");
        ok = false;
    } else {
        say("the connection without keepalive is still open (as it should)\n");
        control->transport->abort();
    }
    server.close();
    spin(loop, 10ms);
    return ok ? pass_code : fail_code;
}

}  // namespace

TEST_CASE("keep_alive: a silent peer is reported lost with ETIMEDOUT within the keepalive bound") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // doctest's handler must not print a summary from here
        ::close(p[0]);
        ::alarm(40);  // the child never outlives a hang by much
        int rc = keep_alive_against_silent_peer(p[1]);
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
    if (WEXITSTATUS(status) == pass_code)
        MESSAGE(report);
    else
        FAIL_CHECK("exit status " << WEXITSTATUS(status) << ": " << report);
}

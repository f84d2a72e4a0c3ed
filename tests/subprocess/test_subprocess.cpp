// SPDX-License-Identifier: MIT
/// @file
/// subprocess_exec / subprocess_shell with real programs: callback order, stdio options,
/// exec failures with the child's errno, signals, EPIPE, 200 concurrent children, pass_fds,
/// the SIGCHLD fallback, the loop closing with children running; no zombie, no fd left.
#include "proc_support.hpp"

#include <bulb/subprocess.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

using namespace proc_test;

namespace {

struct ProcLog {
    std::vector<std::string> events;
    std::string out, err;
    bool made = false, exited = false, lost = false;
    std::error_code lost_ec;
    std::error_code pipe_ec[3];
    bulb::SubprocessTransport* transport = nullptr;
};

class RecordingProc : public bulb::SubprocessProtocol {
public:
    explicit RecordingProc(std::shared_ptr<ProcLog> log) : log_(std::move(log)) {}
    void connection_made(bulb::SubprocessTransport& t) override {
        log_->made = true;
        log_->transport = &t;
        log_->events.push_back("made");
    }
    void pipe_data_received(int fd, bulb::ByteView d) override {
        (fd == 1 ? log_->out : log_->err) += bulb::as_string_view(d);
    }
    void pipe_connection_lost(int fd, std::error_code ec) override {
        log_->pipe_ec[fd] = ec;
        log_->events.push_back("pipe" + std::to_string(fd));
    }
    void process_exited() override {
        log_->exited = true;
        log_->events.push_back("exited");
    }
    void connection_lost(std::error_code ec) override {
        log_->lost = true;
        log_->lost_ec = ec;
        log_->events.push_back("lost");
    }

private:
    std::shared_ptr<ProcLog> log_;
};

bulb::SubprocessProtocolFactory recording(const std::shared_ptr<ProcLog>& log) {
    return [log] { return std::make_unique<RecordingProc>(log); };
}

/// Checks, at the end of a test, that no zombie and no extra descriptor is left.
struct Baseline {
    int fds = count_open_fds();
    ~Baseline() {
        CHECK(zombie_children() == 0);
        CHECK(count_open_fds() == fds);
    }
};

bool index_before(const std::vector<std::string>& v, const std::string& a, const std::string& b) {
    auto ia = std::find(v.begin(), v.end(), a), ib = std::find(v.begin(), v.end(), b);
    return ia != v.end() && ib != v.end() && ia < ib;
}

}  // namespace

TEST_CASE("cat echoes stdin; callbacks in asyncio's order") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_exec(recording(log), {"cat"}));
    CHECK(log->made);
    CHECK(c.transport->get_pid() > 0);
    CHECK(!c.transport->get_returncode());
    bulb::Transport* in = c.transport->get_pipe_transport(0);
    REQUIRE(in);
    REQUIRE(c.transport->get_pipe_transport(1));
    REQUIRE(c.transport->get_pipe_transport(2));
    CHECK(c.transport->get_pipe_transport(3) == nullptr);
    in->write(std::string_view("hello\n"));
    in->write_eof();
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->out == "hello\n");
    CHECK(c.transport->get_returncode() == 0);
    CHECK(log->events.front() == "made");
    CHECK(log->events.back() == "lost");
    CHECK(log->events.size() == 6);  // made, pipe0-2 and exited in any order, lost
    CHECK(!log->lost_ec);
    CHECK(c.transport->get_protocol() == nullptr);
    c = {};
    loop.close();
}

TEST_CASE("exit codes, signals and stderr through the shell") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    for (auto [cmd, code] : std::vector<std::pair<std::string, int>>{{"true", 0}, {"false", 1}, {"exit 42", 42}, {"kill -TERM $$", -SIGTERM}}) {
        auto log = std::make_shared<ProcLog>();
        auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), cmd));
        CHECK(run_until(loop, [&] { return log->lost; }));
        CHECK_MESSAGE(c.transport->get_returncode() == code, cmd);
        CHECK(index_before(log->events, "exited", "lost"));
    }
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), "echo out; echo err >&2"));
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->out == "out\n");
    CHECK(log->err == "err\n");
    loop.close();
}

TEST_CASE("stdio options: devnull, inherit-like fd, stderr merged into stdout") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    {
        bulb::SubprocessOptions o;
        o.std_in = bulb::Stdio::devnull();
        o.std_err = bulb::Stdio::merge_into_stdout();
        auto log = std::make_shared<ProcLog>();
        auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), "cat; echo o; echo e >&2", o));
        CHECK(c.transport->get_pipe_transport(0) == nullptr);
        CHECK(c.transport->get_pipe_transport(2) == nullptr);
        CHECK(run_until(loop, [&] { return log->lost; }));
        CHECK(log->out == "o\ne\n");
        CHECK(log->err.empty());
    }
    {
        auto p = bulb::make_pipe();
        bulb::SubprocessOptions o;
        o.std_in = bulb::Stdio::devnull();
        o.std_out = bulb::Stdio::from_fd(p.write_fd);
        o.std_err = bulb::Stdio::devnull();
        auto log = std::make_shared<ProcLog>();
        auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), "echo to-fd; echo hidden >&2", o));
        CHECK(run_until(loop, [&] { return log->lost; }));
        ::close(p.write_fd);  // still the caller's
        char buf[64];
        ssize_t n = ::read(p.read_fd, buf, sizeof buf);
        CHECK(std::string(buf, n > 0 ? std::size_t(n) : 0) == "to-fd\n");
        ::close(p.read_fd);
    }
    loop.close();
}

TEST_CASE("cwd, env, start_new_session and process_group reach the child") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    bulb::SubprocessOptions o;
    o.cwd = "/tmp";
    o.env = std::vector<std::string>{"BULB_X=42", "PATH=/usr/bin:/bin"};
    o.start_new_session = true;
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(
        loop.subprocess_shell(recording(log), "pwd; echo $BULB_X; ps -o sid= -p $$ | tr -d ' '; echo $$", o));
    CHECK(run_until(loop, [&] { return log->lost; }));
    std::string pid = std::to_string(c.transport->get_pid());
    CHECK(log->out == "/tmp\n42\n" + pid + "\n" + pid + "\n");

    bulb::SubprocessOptions g;
    g.process_group = 0;
    auto log2 = std::make_shared<ProcLog>();
    auto c2 = loop.run_until_complete(loop.subprocess_shell(recording(log2), "ps -o pgid= -p $$ | tr -d ' '", g));
    CHECK(run_until(loop, [&] { return log2->lost; }));
    CHECK(log2->out == std::to_string(c2.transport->get_pid()) + "\n");
    loop.close();
}

TEST_CASE("only 0-2 and pass_fds reach the child, at the same numbers") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    int leaky = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
    int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    bulb::SubprocessOptions o;
    o.pass_fds = {passed};
    o.std_in = bulb::Stdio::devnull();
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_exec(recording(log), {"ls", "/proc/self/fd"}, o));
    CHECK(run_until(loop, [&] { return log->lost; }));
    // ls's own directory descriptor shows as well (it is 3, or the one after `passed`).
    std::string expected_passed = std::to_string(passed);
    CHECK(log->out.find("\n" + expected_passed + "\n") != std::string::npos);
    CHECK(log->out.find("\n" + std::to_string(leaky) + "\n") == std::string::npos);
    ::close(leaky);
    ::close(passed);
    loop.close();
}

TEST_CASE("exec failures fail the future with the child's errno, not exit code 127") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    auto expect_errno = [&](bulb::Future<bulb::SubprocessConnection> f, int e, const char* text) {
        try {
            loop.run_until_complete(std::move(f));
            FAIL("no error");
        } catch (const bulb::Error& err) {
            CHECK(err.code() == std::error_code(e, std::system_category()));
            CHECK_MESSAGE(std::string(err.what()).find(text) != std::string::npos, err.what());
        }
    };
    expect_errno(loop.subprocess_exec(recording(log), {"/nonexistent/program"}), ENOENT, "/nonexistent/program");
    expect_errno(loop.subprocess_exec(recording(log), {"bulb-no-such-program-xyz"}), ENOENT, "bulb-no-such-program");
    char path[] = "/tmp/bulb_noexecXXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    ::chmod(path, 0644);
    expect_errno(loop.subprocess_exec(recording(log), {path}), EACCES, path);
    ::unlink(path);
    bulb::SubprocessOptions o;
    o.cwd = "/nonexistent/dir";
    expect_errno(loop.subprocess_exec(recording(log), {"true"}, o), ENOENT, "directory '/nonexistent/dir'");
    CHECK(!log->made);
    CHECK(loop.transport_count() == 0);
    loop.close();
}

TEST_CASE("bad input throws at once") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {}), std::invalid_argument);
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {"echo", std::string("a\0b", 3)}), std::invalid_argument);
    CHECK_THROWS_AS(loop.subprocess_shell(recording(log), std::string("echo \0", 6)), std::invalid_argument);
    bulb::SubprocessOptions o;
    o.env = std::vector<std::string>{"NOEQUALS"};
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {"true"}, o), std::invalid_argument);
    bulb::SubprocessOptions p;
    p.pass_fds = {9999};
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {"true"}, p), std::invalid_argument);
    bulb::SubprocessOptions m;
    m.std_out = bulb::Stdio::merge_into_stdout();
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {"true"}, m), std::invalid_argument);
    bulb::SubprocessOptions f;
    f.std_in = bulb::Stdio::from_fd(9999);
    CHECK_THROWS_AS(loop.subprocess_exec(recording(log), {"true"}, f), std::invalid_argument);
    CHECK(!log->made);
    loop.close();
}

TEST_CASE("terminate and kill a running child; signals after the reap are no-ops; close twice") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_exec(recording(log), {"sleep", "30"}));
    c.transport->terminate();
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(c.transport->get_returncode() == -SIGTERM);
    c.transport->kill();  // reaped: nothing is signalled, nothing thrown
    c.transport->send_signal(SIGUSR1);
    CHECK_THROWS_AS(c.transport->send_signal(0), std::invalid_argument);
    CHECK_THROWS_AS(c.transport->send_signal(1000), std::invalid_argument);
    c.transport->close();
    c.transport->close();

    auto log2 = std::make_shared<ProcLog>();
    auto c2 = loop.run_until_complete(loop.subprocess_exec(recording(log2), {"sleep", "30"}));
    c2.transport->close();  // kills a running child (asyncio)
    c2.transport->close();
    CHECK(c2.transport->is_closing());
    CHECK(run_until(loop, [&] { return log2->lost; }));
    CHECK(c2.transport->get_returncode() == -SIGKILL);
    loop.close();
}

TEST_CASE("a child that exits while stdin is still written: EPIPE on pipe 0, no crash") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    ::signal(SIGPIPE, SIG_DFL);
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_exec(recording(log), {"head", "-c", "10"}));
    std::string chunk(8 << 20, 'x');  // more than the pipe holds (SubprocessOptions::pipe_size, 1 MiB)
    c.transport->get_pipe_transport(0)->write(chunk);
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->out == std::string(10, 'x'));
    CHECK(log->pipe_ec[0] == std::error_code(EPIPE, std::system_category()));
    CHECK(c.transport->get_returncode() == 0);
    loop.close();
}

TEST_CASE("a child that closes stdout early but keeps running: connection_lost waits for the exit") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    bulb::SubprocessOptions o;
    o.std_in = bulb::Stdio::devnull();
    auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), "echo early; exec >&- 2>&-; sleep 0.3", o));
    CHECK(run_until(loop, [&] { return log->events.size() >= 3; }));  // made, pipe1, pipe2
    CHECK(!log->exited);
    CHECK(!log->lost);
    CHECK(log->out == "early\n");
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(index_before(log->events, "pipe1", "exited"));
    CHECK(index_before(log->events, "exited", "lost"));
    loop.close();
}

TEST_CASE("yes | head: the upstream child dies of SIGPIPE (the default is restored in children)") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    auto log = std::make_shared<ProcLog>();
    auto c = loop.run_until_complete(loop.subprocess_shell(recording(log), "yes | head -c 5; echo \" ${PIPESTATUS:-}\""));
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->out.substr(0, 5) == "y\ny\ny");
    CHECK(log->err.empty());  // `yes` was killed silently, no "Broken pipe" message
    loop.close();
}

TEST_CASE("200 concurrent children all reaped") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    std::vector<std::shared_ptr<ProcLog>> logs;
    std::vector<bulb::SubprocessConnection> conns;
    for (int i = 0; i < 200; ++i) {
        auto log = std::make_shared<ProcLog>();
        logs.push_back(log);
        bulb::SubprocessOptions o;
        o.std_in = bulb::Stdio::devnull();
        o.std_err = bulb::Stdio::devnull();
        conns.push_back(loop.run_until_complete(loop.subprocess_exec(recording(log), {"echo", std::to_string(i)}, o)));
    }
    CHECK(run_until(loop, [&] {
        for (auto& l : logs)
            if (!l->lost) return false;
        return true;
    }, 30000ms));
    for (int i = 0; i < 200; ++i) {
        CHECK(logs[i]->out == std::to_string(i) + "\n");
        CHECK(conns[i].transport->get_returncode() == 0);
    }
    conns.clear();
    CHECK(loop.transport_count() == 0);
    loop.close();
}

TEST_CASE("SIGCHLD fallback without pidfds: waitpid(pid) per child, never another's child") {
    Baseline base;
    ::setenv("BULB_SUBPROCESS_NO_PIDFD", "1", 1);
    bulb_test::AuditedLoop loop;
    // A child that is not the loop's: it must stay unreaped (a zombie) until we reap it.
    pid_t foreign = ::fork();
    if (foreign == 0) ::_exit(7);
    std::vector<std::shared_ptr<ProcLog>> logs;
    std::vector<bulb::SubprocessConnection> conns;
    for (int i = 0; i < 20; ++i) {
        auto log = std::make_shared<ProcLog>();
        logs.push_back(log);
        conns.push_back(loop.run_until_complete(loop.subprocess_shell(recording(log), "exit " + std::to_string(i))));
    }
    CHECK(run_until(loop, [&] {
        for (auto& l : logs)
            if (!l->lost) return false;
        return true;
    }));
    for (int i = 0; i < 20; ++i) CHECK(conns[i].transport->get_returncode() == i);
    int status = 0;
    CHECK(::waitpid(foreign, &status, 0) == foreign);
    CHECK(WEXITSTATUS(status) == 7);
    ::unsetenv("BULB_SUBPROCESS_NO_PIDFD");
    conns.clear();
    loop.close();
}

TEST_CASE("the loop closing with children running kills and reaps them, or detaches them") {
    Baseline base;
    auto killed = std::make_shared<ProcLog>();
    auto detached = std::make_shared<ProcLog>();
    pid_t detached_pid = 0;
    int reports = 0;
    {
        bulb_test::AuditedLoop loop;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext&) { ++reports; });
        auto c = loop.run_until_complete(loop.subprocess_exec(recording(killed), {"sleep", "30"}));
        bulb::SubprocessOptions o;
        o.on_loop_close = bulb::OnLoopClose::detach;
        o.std_in = o.std_out = o.std_err = bulb::Stdio::devnull();
        auto d = loop.run_until_complete(loop.subprocess_exec(recording(detached), {"sleep", "0.2"}, o));
        detached_pid = d.transport->get_pid();
        loop.close();
        CHECK(killed->lost);
        CHECK(killed->lost_ec == bulb::errc::loop_closed);
        CHECK(c.transport->get_returncode() == -SIGKILL);
        CHECK(detached->lost);
        CHECK(!detached->exited);
    }
    CHECK(reports == 2);
    CHECK(::kill(detached_pid, 0) == 0);  // still running
    // Reaped by the background thread once it exits: no zombie.
    for (int i = 0; i < 300 && ::kill(detached_pid, 0) == 0; ++i) ::usleep(10000);
    CHECK(::kill(detached_pid, 0) != 0);
}

TEST_CASE("pipes made for a child get SubprocessOptions::pipe_size (capped at pipe-max-size); 0 keeps 64 KiB") {
    Baseline base;
    bulb::EventLoop loop;
    long max_size = 1 << 20;
    if (std::FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "r")) {
        if (std::fscanf(f, "%ld", &max_size) != 1) max_size = 1 << 20;
        std::fclose(f);
    }
    for (std::size_t wanted : {std::size_t(0), std::size_t(256 * 1024), std::size_t(1) << 30}) {
        auto log = std::make_shared<ProcLog>();
        bulb::SubprocessOptions o;
        o.pipe_size = wanted;
        auto c = loop.run_until_complete(loop.subprocess_exec(recording(log), {"cat"}, o));
        long expected = wanted == 0 ? 65536 : std::min<long>(static_cast<long>(wanted), max_size);
        for (int fd : {0, 1, 2}) {
            CAPTURE(fd);
            CHECK(::fcntl(c.transport->get_pipe_transport(fd)->get_fd(), F_GETPIPE_SZ) == expected);
        }
        c.transport->get_pipe_transport(0)->close();
        CHECK(run_until(loop, [&] { return log->lost; }));
    }
    loop.close();
}

// SPDX-License-Identifier: MIT
/// @file
/// The ways a child is started (the clone path, its close-by-descriptor fallback for kernels
/// without close_range, posix_spawn: BULB_SUBPROCESS_SPAWN), each held to the same rules: only
/// 0-2 and pass_fds reach the child, its signal state (empty mask, no caught handler, SIGPIPE
/// default, other ignored signals kept), exec errors with errno through a PATH search, and
/// spawns from several threads at once.
#include "proc_support.hpp"

#include <bulb/subprocess.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <pthread.h>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace proc_test;

namespace {

struct Baseline {
    int fds = count_open_fds();
    ~Baseline() {
        CHECK(zombie_children() == 0);
        CHECK(count_open_fds() == fds);
    }
};

struct Output {
    std::string out;
    bool lost = false;
};

class Collect : public bulb::SubprocessProtocol {
public:
    explicit Collect(std::shared_ptr<Output> o) : o_(std::move(o)) {}
    void pipe_data_received(int fd, bulb::ByteView d) override {
        if (fd == 1) o_->out += bulb::as_string_view(d);
    }
    void connection_lost(std::error_code) override { o_->lost = true; }

private:
    std::shared_ptr<Output> o_;
};

/// Runs argv to its end; returns its stdout (stdin is /dev/null, stderr inherited).
std::string run(bulb::EventLoop& loop, std::vector<std::string> argv, bulb::SubprocessOptions o = {},
                std::optional<int>* returncode = nullptr) {
    auto out = std::make_shared<Output>();
    o.std_in = bulb::Stdio::devnull();
    auto c = loop.run_until_complete(
        loop.subprocess_exec([out] { return std::make_unique<Collect>(out); }, std::move(argv), o));
    CHECK(run_until(loop, [&] { return out->lost; }));
    if (returncode) *returncode = c.transport->get_returncode();
    return out->out;
}

/// Sets an environment variable for a scope, restoring the old value.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

const std::vector<std::string> methods = {"clone", "clone_close_loop", "posix_spawn"};

/// A Sig* line of /proc/PID/status ("SigBlk:\t0000000000010000") as a mask.
unsigned long long status_mask(const std::string& status, const std::string& key) {
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1), nullptr, 16);
    FAIL("no " << key << " line");
    return 0;
}

unsigned long long bit(int sig) { return 1ULL << (sig - 1); }

/// A temporary directory removed (with the files made in it) at the end of the scope.
struct TempDir {
    std::string path;
    std::vector<std::string> files;
    TempDir() {
        char tmpl[] = "/tmp/bulb_spawnXXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        path = tmpl;
    }
    std::string add(const std::string& name, const std::string& content, mode_t mode) {
        std::string p = path + "/" + name;
        std::FILE* f = std::fopen(p.c_str(), "w");
        REQUIRE(f);
        std::fputs(content.c_str(), f);
        std::fclose(f);
        ::chmod(p.c_str(), mode);
        files.push_back(p);
        return p;
    }
    ~TempDir() {
        for (auto& f : files) ::unlink(f.c_str());
        ::rmdir(path.c_str());
    }
};

void expect_errno(bulb::EventLoop& loop, std::vector<std::string> argv, int e, const std::string& text) {
    auto out = std::make_shared<Output>();
    try {
        loop.run_until_complete(loop.subprocess_exec([out] { return std::make_unique<Collect>(out); }, argv));
        FAIL("no error for " << argv[0]);
    } catch (const bulb::Error& err) {
        CHECK_MESSAGE(err.code() == std::error_code(e, std::system_category()), err.what());
        CHECK_MESSAGE(std::string(err.what()).find(text) != std::string::npos, err.what());
    }
}

}  // namespace

TEST_CASE("every spawn method: only 0-2 and pass_fds (with gaps, high numbers) reach the child") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    // Descriptors without O_CLOEXEC below, between and above the passed ones.
    int low_leak = ::open("/dev/null", O_RDONLY);
    int pass_a = ::fcntl(low_leak, F_DUPFD_CLOEXEC, 200);
    int mid_leak = ::fcntl(low_leak, F_DUPFD, 210);
    int pass_b = ::fcntl(low_leak, F_DUPFD_CLOEXEC, 220);
    int high_leak = ::fcntl(low_leak, F_DUPFD, 900);
    REQUIRE(low_leak >= 3);
    REQUIRE(pass_a == 200);
    REQUIRE(mid_leak == 210);
    REQUIRE(pass_b == 220);
    REQUIRE(high_leak == 900);
    for (const auto& m : methods) {
        CAPTURE(m);
        ScopedEnv env("BULB_SUBPROCESS_SPAWN", m);
        bulb::SubprocessOptions o;
        o.pass_fds = {pass_b, pass_a};
        std::istringstream lines(run(loop, {"ls", "/proc/self/fd"}, o));
        std::set<int> seen;
        for (std::string l; std::getline(lines, l);) seen.insert(std::stoi(l));
        // ls's own directory descriptor is the lowest free one: 3.
        CHECK(seen == std::set<int>{0, 1, 2, 3, 200, 220});
    }
    for (int fd : {low_leak, pass_a, mid_leak, pass_b, high_leak}) ::close(fd);
    loop.close();
}

TEST_CASE("every spawn method: empty signal mask, no caught signal, SIGPIPE default, other ignored signals kept") {
    Baseline base;
    // The loop thread's state: SIGUSR1 blocked, SIGUSR2 and SIGPIPE ignored, SIGHUP caught.
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old_mask) == 0);
    struct sigaction ign {}, caught {}, old_usr2 {}, old_pipe {}, old_hup {};
    ign.sa_handler = SIG_IGN;
    caught.sa_handler = [](int) {};
    ::sigaction(SIGUSR2, &ign, &old_usr2);
    ::sigaction(SIGPIPE, &ign, &old_pipe);
    ::sigaction(SIGHUP, &caught, &old_hup);
    {
        bulb_test::AuditedLoop loop;
        for (const auto& m : methods) {
            CAPTURE(m);
            ScopedEnv env("BULB_SUBPROCESS_SPAWN", m);
            std::string status = run(loop, {"cat", "/proc/self/status"});  // cat changes no signal state
            CHECK(status_mask(status, "SigBlk") == 0);
            CHECK(status_mask(status, "SigCgt") == 0);
            const auto ignored = status_mask(status, "SigIgn");
            CHECK((ignored & bit(SIGUSR2)) != 0);
            CHECK((ignored & bit(SIGPIPE)) == 0);
            CHECK((ignored & bit(SIGHUP)) == 0);
        }
        loop.close();
    }
    ::sigaction(SIGUSR2, &old_usr2, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    ::sigaction(SIGHUP, &old_hup, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

TEST_CASE("every spawn method: exec errors through a PATH search (EACCES kept, a later match runs, ENOEXEC final)") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    TempDir denied, good;
    denied.add("bulb-spawn-prog", "#!/bin/sh\necho denied\n", 0644);
    denied.add("bulb-spawn-only-denied", "#!/bin/sh\necho denied\n", 0644);
    good.add("bulb-spawn-prog", "#!/bin/sh\necho good\n", 0755);
    std::string noexec = good.add("bulb-spawn-noexec", std::string("\x7f" "ELFgarbage\n"), 0755);
    for (const auto& m : methods) {
        CAPTURE(m);
        ScopedEnv env("BULB_SUBPROCESS_SPAWN", m);
        ScopedEnv path("PATH", "/nonexistent-bulb-dir:" + denied.path + ":" + good.path + ":/usr/bin:/bin");
        CHECK(run(loop, {"bulb-spawn-prog"}) == "good\n");
        expect_errno(loop, {"bulb-spawn-only-denied"}, EACCES, "bulb-spawn-only-denied");
        expect_errno(loop, {"bulb-spawn-missing"}, ENOENT, "bulb-spawn-missing");
        expect_errno(loop, {noexec}, ENOEXEC, noexec);
        bulb::SubprocessOptions o;
        o.cwd = good.path;  // a relative program name is looked up from the new directory
        std::optional<int> rc;
        CHECK(run(loop, {"./bulb-spawn-prog"}, o, &rc) == "good\n");
        CHECK(rc == 0);
    }
    CHECK(loop.transport_count() == 0);
    loop.close();
}

TEST_CASE("every spawn method: four threads, each with its own loop, spawn at once") {
    Baseline base;
    for (const auto& m : methods) {
        CAPTURE(m);
        ScopedEnv env("BULB_SUBPROCESS_SPAWN", m);
        std::atomic<int> ok{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&ok, t] {
                bulb::EventLoop loop;
                for (int i = 0; i < 25; ++i) {
                    std::optional<int> rc;
                    std::string want = std::to_string(t) + "." + std::to_string(i) + "\n";
                    if (run(loop, {"echo", want.substr(0, want.size() - 1)}, {}, &rc) == want && rc == 0) ++ok;
                }
                loop.close();
            });
        for (auto& th : threads) th.join();
        CHECK(ok == 100);
    }
}

TEST_CASE("an unknown BULB_SUBPROCESS_SPAWN is refused at once, naming the variable") {
    Baseline base;
    bulb_test::AuditedLoop loop;
    ScopedEnv env("BULB_SUBPROCESS_SPAWN", "fork");
    auto out = std::make_shared<Output>();
    try {
        (void)loop.subprocess_exec([out] { return std::make_unique<Collect>(out); }, {"true"});
        FAIL("no error");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("BULB_SUBPROCESS_SPAWN") != std::string::npos);
    }
    loop.close();
}

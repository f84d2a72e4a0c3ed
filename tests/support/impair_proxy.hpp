// SPDX-License-Identifier: MIT
/// @file
/// ImpairProxyProcess: runs tests/support/impair_proxy.py (a TCP relay on 127.0.0.1 that splits,
/// delays, stalls, throttles, and injects FIN or RST at a byte offset) as a child process for
/// C++ tests. The script's path comes from the BULB_IMPAIR_PROXY environment variable (the
/// test's meson entry sets it). The relay is a separate process, so a test's loop never waits
/// on it; the destructor ends it (stdin EOF, then SIGKILL after 5 s) and reaps it.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bulb_test {

class ImpairProxyProcess {
public:
    /// Starts a relay to 127.0.0.1:`target_port` with the script's options, e.g.
    /// {"--down-split", "1", "--up-rst-at", "5000"}; REQUIREs it to come up within 10 s.
    ImpairProxyProcess(std::uint16_t target_port, const std::vector<std::string>& options) {
        const char* script = std::getenv("BULB_IMPAIR_PROXY");
        REQUIRE_MESSAGE(script != nullptr, "BULB_IMPAIR_PROXY (the path of impair_proxy.py) is not set");
        std::vector<std::string> args{"python3", script, "--target", "127.0.0.1:" + std::to_string(target_port)};
        args.insert(args.end(), options.begin(), options.end());
        int in[2], out[2];
        REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(in[0], 0);
            ::dup2(out[1], 1);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        stdin_ = in[1];
        stdout_ = out[0];
        std::string line = read_line(std::chrono::seconds(10));
        auto at = line.rfind(':');
        REQUIRE_MESSAGE((line.rfind("listening on 127.0.0.1:", 0) == 0 && at != std::string::npos),
                        "impair_proxy.py printed '" << line << "'");
        port_ = static_cast<std::uint16_t>(std::stoi(line.substr(at + 1)));
    }
    ImpairProxyProcess(const ImpairProxyProcess&) = delete;
    ImpairProxyProcess& operator=(const ImpairProxyProcess&) = delete;

    ~ImpairProxyProcess() {
        if (stdin_ >= 0) ::close(stdin_);  // the relay stops when its stdin closes
        int status = 0;
        for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (::waitpid(pid_, &status, WNOHANG) == 0) {
            ::kill(pid_, SIGKILL);  // our own child, by its pid
            ::waitpid(pid_, &status, 0);
        }
        if (stdout_ >= 0) ::close(stdout_);
    }

    /// The port the relay listens on (127.0.0.1).
    std::uint16_t port() const noexcept { return port_; }

    /// The next line the relay printed ("conn N up=BYTES down=BYTES end=REASON" once a relayed
    /// connection ends), or "" after `limit`.
    std::string read_line(std::chrono::milliseconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        std::string line;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return "";
            pollfd p{stdout_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char c;
            if (::read(stdout_, &c, 1) != 1) return line;
            if (c == '\n') return line;
            line += c;
        }
    }

private:
    pid_t pid_ = -1;
    int stdin_ = -1, stdout_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace bulb_test

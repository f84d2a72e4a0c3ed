// SPDX-License-Identifier: MIT
/// @file
/// Runs shell commands concurrently and streams their output, each line prefixed.
///
///     run_parallel [--jobs N] [--timeout SECONDS] [--grace SECONDS] COMMAND...
///
/// Each COMMAND runs with /bin/sh -c, at most N at a time (default: all at once), numbered from 1
/// in the order given. Every line a command prints appears as it is printed, as `[i] line` for
/// stdout and `[i] stderr: line` for stderr, and each command ends with `[i] exit CODE` or
/// `[i] killed by SIGNAME`. A command still running (or whose pipes are still open) after
/// --timeout gets SIGTERM with its whole process group (so `sh -c 'sleep 30'` really ends), and
/// SIGKILL after --grace more seconds (default 2). The exit status is the worst one: 0 when all
/// succeeded, else the largest of the exit codes, a death by signal N counting as 128 + N.
/// Bad options: the name and the usage on stderr, exit 2.

#include <bulb/coro.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <signal.h>

namespace {

struct Config {
    std::size_t jobs = 0;  // 0: all at once
    std::optional<double> timeout;
    double grace = 2.0;
    std::vector<std::string> commands;
};

void usage() {
    std::fputs("usage: run_parallel [--jobs N] [--timeout SECONDS] [--grace SECONDS] COMMAND...\n", stderr);
}

bool parse_number(const char* text, double& out) {
    char* end = nullptr;
    out = std::strtod(text, &end);
    return end && *end == '\0' && end != text && out >= 0;
}

/// Parses argv; returns the exit status to leave with on a bad command line.
std::optional<int> parse(int argc, char** argv, Config& cfg) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) cfg.commands.emplace_back(argv[i]);
            break;
        }
        if (a.rfind("--", 0) == 0) {
            double v;
            if ((a == "--jobs" || a == "--timeout" || a == "--grace") && i + 1 < argc && parse_number(argv[i + 1], v)) {
                ++i;
                if (a == "--jobs") {
                    if (v < 1) {
                        std::fprintf(stderr, "run_parallel: --jobs must be at least 1\n");
                        return 2;
                    }
                    cfg.jobs = static_cast<std::size_t>(v);
                } else if (a == "--timeout") {
                    cfg.timeout = v;
                } else {
                    cfg.grace = v;
                }
                continue;
            }
            std::fprintf(stderr, "run_parallel: %s option: %s\n",
                         a == "--jobs" || a == "--timeout" || a == "--grace" ? "bad value for the" : "unknown", a.c_str());
            usage();
            return 2;
        }
        cfg.commands.push_back(std::move(a));
    }
    if (cfg.commands.empty()) {
        std::fputs("run_parallel: no command given\n", stderr);
        usage();
        return 2;
    }
    return std::nullopt;
}

bulb::Duration seconds(double s) {
    return std::chrono::duration_cast<bulb::Duration>(std::chrono::duration<double>(s));
}

void emit(std::size_t index, bool is_err, std::string_view line) {
    std::printf("[%zu] %s%.*s\n", index, is_err ? "stderr: " : "", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);  // stream: a line shows as soon as the child printed it
}

/// Copies one pipe of a command to our stdout line by line, as the lines arrive.
bulb::Task<> relay(bulb::StreamReader reader, std::size_t index, bool is_err) {
    std::string pending;
    for (;;) {
        std::string chunk = co_await reader.read(64 * 1024);
        if (chunk.empty()) break;
        pending += chunk;
        std::size_t start = 0, nl;
        while ((nl = pending.find('\n', start)) != std::string::npos) {
            emit(index, is_err, std::string_view(pending).substr(start, nl - start));
            start = nl + 1;
        }
        pending.erase(0, start);
    }
    if (!pending.empty()) emit(index, is_err, pending);  // a last line without its newline
}

/// Waits for the command's exit and for both pipes to reach EOF (a grandchild may hold them).
bulb::Task<> finished(bulb::Process p, bulb::Future<void> out, bulb::Future<void> err) {
    co_await p.wait();
    co_await out;
    co_await err;
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

/// Runs command `index` (from 1) once a job slot is free; returns its status for the exit code.
bulb::Task<int> run_one(const Config& cfg, bulb::Semaphore& slots, std::size_t index) {
    auto slot = co_await slots.scoped();
    bulb::SubprocessOptions options;
    options.std_in = bulb::Stdio::devnull();
    options.process_group = 0;  // its own group: the timeout signals the shell and its children
    const std::string& cmd = cfg.commands[index - 1];
    bulb::Process p = co_await bulb::create_subprocess_shell(cmd, options);
    bulb::Task<> out_task = relay(*p.std_out, index, false);
    bulb::Task<> err_task = relay(*p.std_err, index, true);
    bulb::Future<void> out = bulb::create_task(std::move(out_task));
    bulb::Future<void> err = bulb::create_task(std::move(err_task));
    bulb::Task<> all_task = finished(p, out, err);
    bulb::Future<void> all = bulb::create_task(std::move(all_task));
    if (cfg.timeout) {
        // shield(): the timeout cancels only this wait, never the relays or the reaping.
        // (co_await is not allowed inside a catch block: the handlers only record the timeout.)
        bool timed_out = false;
        try {
            bulb::Future<void> shielded = bulb::shield(all);
            co_await bulb::wait_for(shielded, seconds(*cfg.timeout));
        } catch (const bulb::TimeoutError&) {
            timed_out = true;
        }
        if (timed_out) {
            ::killpg(p.pid(), SIGTERM);  // the group is led by our unreaped child: not recycled
            bool grace_over = false;
            try {
                bulb::Future<void> shielded = bulb::shield(all);
                co_await bulb::wait_for(shielded, seconds(cfg.grace));
            } catch (const bulb::TimeoutError&) {
                grace_over = true;
            }
            if (grace_over) ::killpg(p.pid(), SIGKILL);
        }
    }
    co_await all;
    int rc = *p.returncode();
    if (rc >= 0) {
        std::printf("[%zu] exit %d\n", index, rc);
    } else {
        std::printf("[%zu] killed by %s\n", index, signal_name(-rc).c_str());
    }
    std::fflush(stdout);
    co_return rc >= 0 ? rc : 128 - rc;
}

bulb::Task<int> run_all(const Config& cfg) {
    bulb::Semaphore slots(cfg.jobs ? cfg.jobs : cfg.commands.size());
    std::vector<bulb::Future<int>> runs;
    for (std::size_t i = 1; i <= cfg.commands.size(); ++i) {
        bulb::Task<int> t = run_one(cfg, slots, i);
        runs.push_back(bulb::create_task(std::move(t)));
    }
    int worst = 0;
    for (auto& r : runs) {
        try {
            int status = co_await r;
            worst = std::max(worst, status);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "run_parallel: %s\n", e.what());
            worst = std::max(worst, 1);
        }
    }
    co_return worst;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    if (auto bad = parse(argc, argv, cfg)) return *bad;
    try {
        return bulb::run(run_all(cfg));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "run_parallel: %s\n", e.what());
        return 1;
    }
}

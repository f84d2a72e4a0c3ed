// SPDX-License-Identifier: MIT
/// @file
/// bench_subprocess: bulb's subprocess costs (bench/run_subprocess.sh runs it beside the peers).
///
///     bench_subprocess spawn N PARALLEL   # N runs of /bin/true, PARALLEL at a time (callback API)
///     bench_subprocess pipe FILE [PIPE_SIZE]  # cat FILE through a Process's stdout (coroutines);
///                                         # PIPE_SIZE: SubprocessOptions::pipe_size (0: 64 KiB)
///
/// Prints one line: `wall_s=... cpu_s=... [child_cpu_s=... bytes=...]`, cpu being this process's
/// user+system time, child_cpu_s cat's (pipe only: spawn's children are the same for every peer).
#include <bulb/coro.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/resource.h>

namespace {

double cpu_seconds(int who = RUSAGE_SELF) {
    rusage ru{};
    getrusage(who, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// Starts the next run from process_exited until `total` were started.
struct SpawnRun {
    bulb::EventLoop& loop;
    int total, started = 0, finished = 0;
    bulb::SubprocessOptions options;

    void start_one() {
        ++started;
        auto f = loop.subprocess_exec([this] { return std::make_unique<Done>(this); }, {"/bin/true"}, options);
        f.add_done_callback([](bulb::Future<bulb::SubprocessConnection>& r) { (void)r.result(); });
    }
    struct Done : bulb::SubprocessProtocol {
        SpawnRun* run;
        explicit Done(SpawnRun* r) : run(r) {}
        void connection_lost(std::error_code) override {
            ++run->finished;
            if (run->started < run->total) run->start_one();
            else if (run->finished == run->total) run->loop.stop();
        }
    };
};

int spawn(int n, int parallel) {
    bulb::EventLoop loop;
    SpawnRun run{loop, n, 0, 0, {}};
    run.options.std_in = run.options.std_out = run.options.std_err = bulb::Stdio::inherit();
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_seconds();
    for (int i = 0; i < parallel && i < n; ++i) run.start_one();
    loop.run_forever();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wall_s=%.4f cpu_s=%.4f\n", wall, cpu_seconds() - c0);
    loop.close();
    return run.finished == n ? 0 : 1;
}

bulb::Task<int> pipe_task(std::string file, std::size_t pipe_size) {
    bulb::SubprocessOptions o;
    o.pipe_size = pipe_size;
    o.std_in = bulb::Stdio::devnull();
    o.std_err = bulb::Stdio::inherit();
    std::vector<std::string> argv = {"cat", file};
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_seconds();
    bulb::Process p = co_await bulb::create_subprocess_exec(argv, o);
    std::size_t total = 0;
    for (;;) {
        std::string chunk = co_await p.std_out->read(256 * 1024);
        if (chunk.empty()) break;
        total += chunk.size();
    }
    int rc = co_await p.wait();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wall_s=%.4f cpu_s=%.4f child_cpu_s=%.4f bytes=%zu\n", wall, cpu_seconds() - c0,
                cpu_seconds(RUSAGE_CHILDREN), total);
    co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "spawn" && argc == 4) return spawn(std::atoi(argv[2]), std::atoi(argv[3]));
    if (mode == "pipe" && (argc == 3 || argc == 4))
        return bulb::run(pipe_task(argv[2], argc == 4 ? std::strtoull(argv[3], nullptr, 10) : bulb::SubprocessOptions{}.pipe_size));
    std::fputs("usage: bench_subprocess spawn N PARALLEL | pipe FILE [PIPE_SIZE]\n", stderr);
    return 2;
}

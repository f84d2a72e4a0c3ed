// SPDX-License-Identifier: MIT
/// @file
/// A shell pipeline whose pipes run through the event loop.
///
///     pipeline CMD1 CMD2 ...
///
/// Each CMD is a shell command line. CMD1 reads our stdin, the last one writes our stdout, and
/// between neighbours the loop copies the upstream's stdout to the downstream's stdin: it reads
/// only while the downstream drains (write, then drain(): flow control across the pipes), so
/// `pipeline 'yes' 'head -c 1000000000' 'wc -c'` prints 1000000000 in bounded memory. As in a
/// shell, when a downstream command exits, the upstream one finds its output closed (SIGPIPE or
/// EPIPE) and the pipeline ends. The exit status is the last command's (128 + N after death by
/// signal N). Bad options: the name and the usage on stderr, exit 2; errors: stderr, exit 1.

#include <bulb/coro.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

void usage() { std::fputs("usage: pipeline CMD1 [CMD2 ...]\n", stderr); }

/// Copies `from` (the upstream's stdout) to `to` (the downstream's stdin) with backpressure.
/// When the downstream stops reading for good (EPIPE), our end of the upstream's stdout is
/// closed, so the upstream's next write fails as it would in a shell pipeline.
bulb::Task<> pump(bulb::StreamReader from, bulb::StreamWriter to, bulb::Process upstream) {
    try {
        for (;;) {
            std::string chunk = co_await from.read(64 * 1024);
            if (chunk.empty()) break;  // EOF: pass it on
            to.write(chunk);
            co_await to.drain();  // waits while the downstream's pipe is full
        }
    } catch (const bulb::Error&) {
        // The downstream's stdin is gone (EPIPE): close the upstream's stdout on our side.
        if (bulb::Transport* t = upstream.transport().get_pipe_transport(1)) t->close();
    }
    to.close();
}

bulb::Task<int> run_pipeline(std::vector<std::string> commands) {
    std::vector<bulb::Process> procs;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        bulb::SubprocessOptions options;
        options.std_in = i == 0 ? bulb::Stdio::inherit() : bulb::Stdio::make_pipe();
        options.std_out = i + 1 == commands.size() ? bulb::Stdio::inherit() : bulb::Stdio::make_pipe();
        options.std_err = bulb::Stdio::inherit();
        bulb::Process p = co_await bulb::create_subprocess_shell(commands[i], options);
        procs.push_back(p);
    }
    std::vector<bulb::Future<void>> pumps;
    for (std::size_t i = 0; i + 1 < procs.size(); ++i) {
        bulb::Task<> t = pump(*procs[i].std_out, *procs[i + 1].std_in, procs[i]);
        pumps.push_back(bulb::create_task(std::move(t)));
    }
    // Our handles on the stdin writers would keep the pipes open: only the pumps hold them now.
    for (auto& p : procs) p.std_in.reset();
    for (auto& f : pumps) co_await f;
    int last = 0;
    for (auto& p : procs) last = co_await p.wait();
    co_return last >= 0 ? last : 128 - last;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> commands;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) commands.emplace_back(argv[i]);
            break;
        }
        if (a.size() > 1 && a[0] == '-') {
            std::fprintf(stderr, "pipeline: unknown option: %s\n", a.c_str());
            usage();
            return 2;
        }
        commands.push_back(std::move(a));
    }
    if (commands.empty()) {
        std::fputs("pipeline: no command given\n", stderr);
        usage();
        return 2;
    }
    try {
        return bulb::run(run_pipeline(std::move(commands)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pipeline: %s\n", e.what());
        return 1;
    }
}

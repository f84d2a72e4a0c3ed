// SPDX-License-Identifier: MIT
/// @file
/// Process: a child process with streams for coroutines (asyncio.create_subprocess_exec /
/// create_subprocess_shell and asyncio.subprocess.Process).
///
/// The timeout pattern (asyncio's):
///
///     bulb::Process p = co_await bulb::create_subprocess_exec({"sleep", "30"});
///     try {
///         co_await bulb::wait_for(p.wait(), std::chrono::seconds(5));
///     } catch (const bulb::TimeoutError&) {
///         p.kill();
///         co_await p.wait();   // reaped: no zombie
///     }
#pragma once

#include <bulb/coro/stream_reader.hpp>
#include <bulb/coro/stream_writer.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/subprocess.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bulb {

namespace detail {
class ProcessState;
}

/// What communicate() returns: everything the child wrote to stdout and stderr (empty for a
/// stream that is not a pipe).
struct ProcessOutput {
    /// Everything the child wrote to stdout.
    std::string out;
    /// Everything the child wrote to stderr.
    std::string err;
};

/// A running or finished child. A counted handle: copies share the child; loop thread only.
/// Dropping every handle does not stop the child (it is still reaped by the loop); closing the
/// loop kills it unless SubprocessOptions::on_loop_close says detach.
class BULB_API Process {
public:
    /// Internal: made by create_subprocess_exec/_shell.
    explicit Process(RefPtr<detail::ProcessState> state);
    /// Copies share the child.
    Process(const Process&) noexcept;
    /// Copies share the child.
    Process& operator=(const Process&) noexcept;
    ~Process();

    /// The child's stdin when it is a pipe (SubprocessOptions::std_in), else empty. Closing it
    /// (close() or the last copy gone) is the child's EOF.
    std::optional<StreamWriter> std_in;
    /// The child's stdout / stderr when they are pipes, else empty.
    std::optional<StreamReader> std_out;
    /// The child's stderr when it is a pipe (SubprocessOptions::std_err), else empty.
    std::optional<StreamReader> std_err;

    /// The child's process id.
    pid_t pid() const noexcept;
    /// The exit status once reaped: the exit code, or -N when killed by signal N.
    std::optional<int> returncode() const noexcept;
    /// Waits until the child exited and was reaped; returns returncode(). Does not wait for the
    /// pipes (a grandchild may hold them). With stdout a pipe, read it, or the child may block
    /// writing: communicate() does both. Cancel safety: cancelling only stops waiting.
    Task<int> wait();
    /// Writes `input` to stdin and closes it, while reading stdout and stderr to EOF at the
    /// same time (no deadlock at any size), then waits for the exit. A child that exits without
    /// reading its input is not an error (EPIPE is ignored, as in asyncio). Cancel safety: the
    /// readers are cancelled, what they read is lost; the child keeps running.
    Task<ProcessOutput> communicate(std::string input);
    /// communicate() with nothing to write: closes stdin and reads stdout and stderr to EOF.
    Task<ProcessOutput> communicate();
    /// Sends `signum` (through the pidfd: never a recycled pid); a no-op once reaped. Throws
    /// std::invalid_argument for an invalid signal.
    void send_signal(int signum);
    /// send_signal(SIGTERM).
    void terminate();
    /// send_signal(SIGKILL).
    void kill();
    /// The callback-level transport (get_pipe_transport, close).
    SubprocessTransport& transport() const noexcept;

private:
    RefPtr<detail::ProcessState> state_;
};

// As in <bulb/coro/streams.hpp>: no defaulted option arguments (GCC 12 miscopies option
// temporaries in co_await expressions); name the options in a variable first.

/// Starts `argv` on the running loop (see EventLoop::subprocess_exec for the errors). Every
/// stdio is a pipe unless `options` says otherwise (asyncio's default is inherit: say
/// Stdio::inherit() for that).
BULB_API Task<Process> create_subprocess_exec(std::vector<std::string> argv);
/// The same, with options (stdio, cwd, environment, ...).
BULB_API Task<Process> create_subprocess_exec(std::vector<std::string> argv, SubprocessOptions options);
/// Starts `cmd` through /bin/sh -c.
BULB_API Task<Process> create_subprocess_shell(std::string cmd);
/// The same, with options.
BULB_API Task<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options);

}  // namespace bulb

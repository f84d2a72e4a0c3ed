// SPDX-License-Identifier: MIT
/// @file
/// Subprocesses with the callback API (asyncio's loop.subprocess_exec / subprocess_shell,
/// SubprocessProtocol, SubprocessTransport).
///
/// Call sequence, each on the loop thread:
///
///     connection_made -> (pipe_data_received | pipe_connection_lost)* and process_exited (any
///     order between them) -> connection_lost
///
/// - connection_made runs before any pipe callback; the future resolves after it returned.
/// - process_exited runs once the child was reaped (get_returncode() is then set).
/// - connection_lost runs exactly once and last: after process_exited and after every pipe was
///   closed (asyncio's order), or when the loop closes.
/// - An exception from a callback goes to the loop's exception handler; the subprocess goes on.
///
/// Children are started with posix_spawn (vfork semantics: no copy of a big parent), every
/// library descriptor is close-on-exec and the child closes every descriptor but 0-2 and
/// pass_fds before exec. Exit is noticed through a pidfd per child; without pidfds (Linux < 5.3,
/// or BULB_SUBPROCESS_NO_PIDFD=1 in the environment, for tests) through SIGCHLD and
/// waitpid(pid) for each child of the loop, never waitpid(-1). No zombie is left: see
/// SubprocessOptions::on_loop_close.
#pragma once

#include <bulb/bytes.hpp>
#include <bulb/config.hpp>
#include <bulb/function.hpp>
#include <bulb/ref.hpp>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <sys/types.h>

namespace bulb {

class EventLoop;
class Transport;
class SubprocessTransport;

/// Where one of the child's standard descriptors goes (asyncio's PIPE, DEVNULL, None, an fd,
/// STDOUT).
struct Stdio {
    /// What kind of place.
    enum class Kind {
        pipe,     ///< a new pipe, read or written through the transport
        devnull,  ///< /dev/null
        inherit,  ///< the parent's own descriptor (asyncio's None)
        fd,       ///< a descriptor of the caller's (not closed, not taken over)
        merged_stdout,  ///< stderr only: the same place as stdout (asyncio's STDOUT)
    };
    /// Where the descriptor goes.
    Kind kind = Kind::pipe;
    int fd = -1;  ///< for Kind::fd

    /// A new pipe (asyncio.subprocess.PIPE).
    static Stdio make_pipe() noexcept { return {Kind::pipe, -1}; }
    /// /dev/null (DEVNULL).
    static Stdio devnull() noexcept { return {Kind::devnull, -1}; }
    /// The parent's own descriptor (None).
    static Stdio inherit() noexcept { return {Kind::inherit, -1}; }
    /// A descriptor of the caller's, which stays the caller's.
    static Stdio from_fd(int fd) noexcept { return {Kind::fd, fd}; }
    /// stderr only: where stdout goes (STDOUT).
    static Stdio merge_into_stdout() noexcept { return {Kind::merged_stdout, -1}; }
};

/// What happens to a child still running when its loop closes.
enum class OnLoopClose {
    kill,    ///< SIGKILL, then reaped before EventLoop::close() returns (the default)
    detach,  ///< left running; a background thread reaps it when it exits (no zombie)
};

/// Options of subprocess_exec / subprocess_shell and create_subprocess_exec / _shell.
struct SubprocessOptions {
    // std_in / std_out / std_err: `stdin` and friends are macros of <cstdio>.
    Stdio std_in = Stdio::make_pipe();   ///< the child's fd 0
    Stdio std_out = Stdio::make_pipe();  ///< the child's fd 1
    Stdio std_err = Stdio::make_pipe();  ///< the child's fd 2 (may be Stdio::merge_into_stdout())
    /// The child's working directory (empty: the parent's).
    std::string cwd;
    /// The child's whole environment as "NAME=value" entries (std::nullopt: the parent's).
    std::optional<std::vector<std::string>> env;
    /// setsid() in the child: a new session and process group, no controlling terminal.
    bool start_new_session = false;
    /// setpgid(0, N) in the child: 0 makes a new group led by the child.
    std::optional<pid_t> process_group;
    /// Descriptors the child keeps at the same numbers (all others but 0-2 are closed).
    std::vector<int> pass_fds;
    /// A child still running when the loop closes is killed (default) or detached.
    OnLoopClose on_loop_close = OnLoopClose::kill;
    /// Kernel buffer of each pipe made for the child (F_SETPIPE_SZ), capped at
    /// /proc/sys/fs/pipe-max-size; 0 keeps the kernel's 64 KiB. A bigger pipe lets a fast writer
    /// run ahead while the loop is busy: fewer wake-ups and context switches per byte.
    std::size_t pipe_size = 1024 * 1024;
};

/// The callbacks of a subprocess (asyncio.SubprocessProtocol). Owned by its transport and
/// destroyed right after connection_lost() returns; may keep a SubprocessTransport* until then.
class BULB_API SubprocessProtocol {
public:
    virtual ~SubprocessProtocol();
    /// The child runs and its pipes are connected.
    virtual void connection_made(SubprocessTransport& transport);
    /// The child wrote to its stdout (fd 1) or stderr (fd 2); `data` is valid during the call.
    virtual void pipe_data_received(int fd, ByteView data);
    /// One pipe (0, 1 or 2) closed: EOF, the child closed it, or an error (e.g. EPIPE on stdin).
    virtual void pipe_connection_lost(int fd, std::error_code ec);
    /// The child was reaped; get_returncode() holds its status.
    virtual void process_exited();
    /// The last callback: the child was reaped and all pipes are closed.
    virtual void connection_lost(std::error_code ec);
    /// The stdin pipe's buffer went above its high-water mark (from inside a write).
    virtual void pause_writing();
    /// The stdin pipe's buffer drained to its low-water mark.
    virtual void resume_writing();
};

/// A running (or finished) child process (asyncio.SubprocessTransport). Only the loop makes
/// them; reference counted, loop thread only. Kept after connection_lost it stays inert.
class BULB_API SubprocessTransport : public RefCounted {
public:
    /// The child's process id (still reported after it exited).
    virtual pid_t get_pid() const noexcept = 0;
    /// The exit status once reaped: the exit code, or -N when killed by signal N (asyncio).
    virtual std::optional<int> get_returncode() const noexcept = 0;
    /// The transport of pipe `fd` (0: a write pipe, 1 and 2: read pipes), null when that
    /// descriptor is not a pipe or the pipe is already closed.
    virtual Transport* get_pipe_transport(int fd) const noexcept = 0;
    /// Sends `signum` through the child's pidfd: never reaches a recycled pid. Throws
    /// bulb::Error (ESRCH, "process already exited") once the child was reaped, and
    /// std::system_error for an invalid signal.
    virtual void send_signal(int signum) = 0;
    /// send_signal(SIGTERM).
    void terminate() { send_signal(SIGTERM); }
    /// send_signal(SIGKILL).
    void kill() { send_signal(SIGKILL); }
    /// Closes the pipes and kills the child if it still runs (asyncio); connection_lost follows
    /// once it is reaped. Idempotent.
    virtual void close() = 0;
    /// True once close() was called or connection_lost ran.
    virtual bool is_closing() const noexcept = 0;
    /// The protocol; null once connection_lost() has returned.
    virtual SubprocessProtocol* get_protocol() const noexcept = 0;
    /// The loop the child belongs to.
    virtual EventLoop& get_loop() const noexcept = 0;

protected:
    ~SubprocessTransport() override = default;
};

/// The owning handle users keep to a subprocess.
using SubprocessTransportPtr = RefPtr<SubprocessTransport>;

/// Makes the protocol of one subprocess.
using SubprocessProtocolFactory = UniqueFunction<std::unique_ptr<SubprocessProtocol>()>;

/// What subprocess_exec resolves to: the transport and, through it, its protocol.
struct SubprocessConnection {
    /// The child's transport; its protocol is reached through it.
    SubprocessTransportPtr transport;
    /// The protocol as a P (nullptr once connection_lost ran, or if it is not a P).
    template <class P = SubprocessProtocol>
    P* protocol() const noexcept {
        return transport ? dynamic_cast<P*>(transport->get_protocol()) : nullptr;
    }
};

}  // namespace bulb

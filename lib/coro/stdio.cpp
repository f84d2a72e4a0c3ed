// SPDX-License-Identifier: MIT
/// @file
/// connect_stdin / connect_stdout: a private descriptor for fd 0 / 1, a pipe transport on it, and
/// the stream machinery of open_connection (StreamCore + StreamProtocol).
#include <bulb/coro/stdio.hpp>

#include "stream_core.hpp"

#include <bulb/coro/streams.hpp>
#include <bulb/loop.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace bulb {

namespace {

/// A descriptor of our own for `fd`: a terminal is opened again (a new open file description, so
/// O_NONBLOCK does not reach the shell sharing the old one); anything else is duplicated.
int private_fd(int fd, int flags, const char* who) {
    if (::isatty(fd)) {
        char name[256];
        if (::ttyname_r(fd, name, sizeof name) == 0) {
            int t = ::open(name, flags | O_CLOEXEC | O_NOCTTY);
            if (t >= 0) return t;
        }
    }
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) throw Error(errno, std::system_category(), std::string(who) + ": dup");
    return d;
}

/// Connects a pipe transport on a private descriptor for `fd` to `core`.
Task<void> connect_fd(RefPtr<detail::StreamCore> core, int fd, bool read_side) {
    EventLoop& loop = get_running_loop();
    const char* who = read_side ? "connect_stdin" : "connect_stdout";
    int own = private_fd(fd, read_side ? O_RDONLY : O_WRONLY, who);
    ProtocolFactory factory = [core] { return std::make_unique<detail::StreamProtocol>(core); };
    std::optional<Future<Connection>> connecting;
    try {
        connecting = read_side ? loop.connect_read_pipe(std::move(factory), own)
                               : loop.connect_write_pipe(std::move(factory), own);
    } catch (...) {
        ::close(own);  // refused (a regular file): still ours
        throw;
    }
    Future<Connection> f = *connecting;
    Connection c = co_await f;
    (void)c;
}

/// Closes the stream's transport when the task making it ends without handing a reader or
/// writer over: cancelled after connection_made but before it resumed (cancelled earlier, the
/// pipe transport closes itself on seeing its waiter cancelled).
struct CloseUnlessHandedOver {
    RefPtr<detail::StreamCore> core;
    bool handed_over = false;
    ~CloseUnlessHandedOver() {
        if (!handed_over && core->attached() && !core->lost() && !core->transport().is_closing())
            core->transport().close();
    }
};

}  // namespace

Task<StreamReader> connect_stdin() {
    RefPtr<detail::StreamCore> core(new detail::StreamCore(get_running_loop(), default_stream_limit));
    CloseUnlessHandedOver guard{core};
    co_await connect_fd(core, 0, true);
    core->close_with_last_reader();  // no writer to close the transport: the reader does
    guard.handed_over = true;
    co_return StreamReader(core);
}

Task<StreamWriter> connect_stdout() {
    RefPtr<detail::StreamCore> core(new detail::StreamCore(get_running_loop(), default_stream_limit));
    CloseUnlessHandedOver guard{core};
    co_await connect_fd(core, 1, false);
    guard.handed_over = true;
    co_return StreamWriter(core);
}

}  // namespace bulb

// SPDX-License-Identifier: MIT
/// @file
/// Pipes as transports (asyncio's connect_read_pipe / connect_write_pipe).
///
/// EventLoop::connect_read_pipe(factory, fd) and connect_write_pipe(factory, fd) (declared in
/// <bulb/loop.hpp>) wrap one end of a pipe, FIFO, socket or character device (a terminal) in a
/// bulb::Transport; a regular file or directory is refused with std::invalid_argument (epoll
/// cannot watch it). The transport owns `fd` once the call returned (it is made non-blocking and
/// closed after connection_lost); when the call throws, `fd` is still the caller's.
///
/// A read pipe: data_received (or a BufferedProtocol's buffer_updated), pause_reading /
/// resume_reading, then on EOF eof_received() and connection_lost with an empty error (a pipe
/// has no write side to keep open, so eof_received's return value is ignored). write() throws
/// InvalidStateError.
/// A write pipe: write / writelines (write(2) and writev(2) at once, the rest buffered), the same
/// high/low water marks and pause_writing / resume_writing as sockets, write_eof() (closes the
/// pipe once the buffer is sent: pipes have no half-close). When the reader goes away the
/// transport ends with connection_lost(EPIPE) if data was lost, an empty error otherwise (idle
/// FIFOs and sockets notice at once, through epoll). SIGPIPE never kills the process: the loop
/// sets it to SIG_IGN while it is SIG_DFL (a handler the program installed is kept and runs).
/// pause_reading / resume_reading are no-ops on write pipes.
/// Callbacks, lifetime and thread rules are those of bulb::Transport (loop thread only).
#pragma once

#include <bulb/config.hpp>

namespace bulb {

/// The two ends of a new pipe.
struct PipeFds {
    /// The read end.
    int read_fd = -1;
    /// The write end.
    int write_fd = -1;
};

/// pipe2(O_CLOEXEC | O_NONBLOCK); throws std::system_error. The caller owns both ends.
BULB_API PipeFds make_pipe();

}  // namespace bulb

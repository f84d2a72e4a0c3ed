// SPDX-License-Identifier: MIT
/// @file
/// The process's own stdin and stdout as streams (asyncio's connect_read_pipe(sys.stdin) recipe),
/// on the pipe transports.
///
/// They work when fd 0 / fd 1 are pipes, FIFOs, sockets or terminals; a regular file (or
/// /dev/null) is refused with std::invalid_argument: epoll cannot watch files, read them with
/// blocking reads. The streams use their own descriptor (a dup, or for a terminal a fresh open of
/// it), so closing a stream never closes fd 0 or 1, and a terminal shared with the shell is never
/// left non-blocking. Loop thread only; call them from a task on the running loop.
#pragma once

#include <bulb/coro/stream_reader.hpp>
#include <bulb/coro/stream_writer.hpp>
#include <bulb/coro/task.hpp>

namespace bulb {

/// A StreamReader on this process's stdin (EOF when the writer closes it, or Ctrl-D). Its
/// pipe transport closes when the last copy of the reader is destroyed.
BULB_API Task<StreamReader> connect_stdin();
/// A StreamWriter on this process's stdout, with drain() flow control. Data written with
/// printf / std::cout is buffered separately: flush it first when mixing.
BULB_API Task<StreamWriter> connect_stdout();

}  // namespace bulb

// SPDX-License-Identifier: MIT
/// @file
/// StreamReader: buffered reading from a connection with coroutines (asyncio.StreamReader).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/async_generator.hpp>
#include <bulb/coro/stream_errors.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/ref.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace bulb {

namespace detail {
class StreamCore;
}

/// The reading half of a stream connection, made by open_connection() / start_server().
///
/// A counted handle (copies share one buffer); loop thread only; one coroutine reads at a time
/// (a second concurrent read throws InvalidStateError). The buffer holds up to about twice the
/// `limit` (default 64 KiB): past that the transport stops reading until the buffer drains.
///
/// Cancel safety (every read): a read cancelled while it waits consumes nothing; the bytes stay
/// buffered for the next read.
class BULB_API StreamReader {
public:
    /// Internal: made by open_connection, start_server and friends.
    explicit StreamReader(RefPtr<detail::StreamCore> core) noexcept;
    /// Copies share one stream.
    StreamReader(const StreamReader&) noexcept;
    /// Copies share one stream.
    StreamReader& operator=(const StreamReader&) noexcept;
    ~StreamReader();

    /// Up to `n` bytes (at least one unless at EOF); n < 0 reads until EOF. Empty at EOF.
    Task<std::string> read(std::ptrdiff_t n = -1);
    /// One line including its "\n" (or the rest before EOF; empty at EOF). A line longer than
    /// the limit throws LimitOverrunError and is discarded from the buffer.
    Task<std::string> readline();
    /// Exactly `n` bytes; IncompleteReadError (with the partial bytes) if EOF comes first.
    Task<std::string> readexactly(std::size_t n);
    /// Data up to and including `separator`. IncompleteReadError at EOF (the partial data is
    /// taken); LimitOverrunError when the limit is passed (the data stays buffered).
    Task<std::string> readuntil(std::string separator = "\n");
    /// Data up to and including the first of several separators to end in the buffer
    /// (asyncio 3.13's tuple of separators): the shortest such chunk; when two end at the same
    /// byte, the shorter separator is the one that matched (for the limit check). Errors and
    /// cancel safety as readuntil(separator); std::invalid_argument for no separator or an
    /// empty one. `co_await reader.readuntil({"\r\n", "\n"})`: the list is copied at the call.
    Task<std::string> readuntil(std::vector<std::string> separators);
    /// readuntil(separators) for a braced list of literals (copied before this returns). g++ 12
    /// rejects a braced list inside a co_await expression: name the task first there.
    Task<std::string> readuntil(std::initializer_list<std::string_view> separators);
    /// Every line until EOF, each including its "\n" (the last may lack it):
    /// `auto lines = reader.lines(); while (auto line = co_await lines.next()) ...`
    /// Errors are those of readline(). Cancel safety: as readline().
    AsyncGenerator<std::string> lines();
    /// True when the buffer is empty and EOF was received.
    bool at_eof() const noexcept;
    /// Bytes buffered and not read yet.
    std::size_t buffered() const noexcept;
    /// The limit given at creation.
    std::size_t limit() const noexcept;

    /// Feeds bytes as if received (for tests and adapters); loop thread only.
    void feed_data(std::string_view data);
    /// Marks EOF as if received.
    void feed_eof();

private:
    RefPtr<detail::StreamCore> core_;
};

}  // namespace bulb

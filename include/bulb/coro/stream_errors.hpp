// SPDX-License-Identifier: MIT
/// @file
/// The exceptions StreamReader throws (asyncio.IncompleteReadError, asyncio.LimitOverrunError).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/error.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace bulb {

/// EOF came before the read could be satisfied. `partial` holds the bytes read (they are no
/// longer in the reader's buffer); `expected` is the size asked for (none for readuntil).
class IncompleteReadError : public Error {
public:
    /// `partial_bytes` read before EOF, of `expected_size` wanted (nullopt: a separator was wanted).
    IncompleteReadError(std::string partial_bytes, std::optional<std::size_t> expected_size)
        : Error(errc::incomplete_read, std::to_string(partial_bytes.size()) + " bytes read on a total of " +
                                           (expected_size ? std::to_string(*expected_size) : "undefined") +
                                           " expected bytes"),
          partial(std::move(partial_bytes)),
          expected(expected_size) {}

    /// The bytes read before EOF.
    std::string partial;
    /// How many bytes were wanted (nullopt for readuntil).
    std::optional<std::size_t> expected;
};

/// The reader's limit was reached while looking for a separator. `consumed` bytes are to be
/// consumed; readuntil() leaves the data in the buffer, readline() discards it as asyncio does.
class LimitOverrunError : public Error {
public:
    /// `message`, and how many buffered bytes the caller may consume (asyncio's `consumed`).
    LimitOverrunError(const std::string& message, std::size_t consumed_bytes)
        : Error(errc::limit_overrun, message), consumed(consumed_bytes) {}

    /// Bytes to consume to get past the overrun.
    std::size_t consumed;
};

}  // namespace bulb

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
    IncompleteReadError(std::string partial_bytes, std::optional<std::size_t> expected_size)
        : Error(errc::incomplete_read, std::to_string(partial_bytes.size()) + " bytes read on a total of " +
                                           (expected_size ? std::to_string(*expected_size) : "undefined") +
                                           " expected bytes"),
          partial(std::move(partial_bytes)),
          expected(expected_size) {}

    std::string partial;
    std::optional<std::size_t> expected;
};

/// The reader's limit was reached while looking for a separator. `consumed` bytes are to be
/// consumed; readuntil() leaves the data in the buffer, readline() discards it as asyncio does.
class LimitOverrunError : public Error {
public:
    LimitOverrunError(const std::string& message, std::size_t consumed_bytes)
        : Error(errc::limit_overrun, message), consumed(consumed_bytes) {}

    std::size_t consumed;
};

}  // namespace bulb

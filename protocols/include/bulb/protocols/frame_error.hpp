// SPDX-License-Identifier: MIT
/// @file
/// FrameError: what a codec throws for bytes it cannot frame.
#pragma once

#include <bulb/config.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// A codec could not frame its input. The message names what failed and, for a limit, the
/// limit's option name and value ("line of 70000 bytes exceeds max_length (65536)").
///
/// recoverable(): the codec has already skipped the bad frame and decoding may go on (the line
/// codec's discard mode); otherwise the stream is unusable and the adapters close it.
class BULB_API FrameError : public std::runtime_error {
public:
    /// What went wrong.
    enum class Kind {
        malformed,       ///< bytes that no valid frame starts with
        limit_exceeded,  ///< a frame larger, longer or deeper than a configured limit
        truncated,       ///< EOF in the middle of a frame
    };
    /// An error of `kind`; `recoverable` when the stream can go on after it (the bad frame skipped).
    FrameError(Kind kind, const std::string& what, bool recoverable = false, std::size_t size = 0)
        : std::runtime_error(what), kind_(kind), recoverable_(recoverable), size_(size) {}

    /// "`what` exceeds `limit_name` (`limit`)"; `size` is the offending size (bytes, elements or
    /// depth) as far as known.
    static FrameError limit(std::string_view what, std::size_t size, std::string_view limit_name,
                            std::size_t limit, bool recoverable = false);
    /// "`what`" as Kind::truncated, with the number of bytes left over.
    static FrameError truncated(std::string_view what, std::size_t bytes_left);

    /// What went wrong.
    Kind kind() const noexcept { return kind_; }
    /// True when decoding may go on after this error.
    bool recoverable() const noexcept { return recoverable_; }
    /// For limit errors: the size that passed the limit (a lower bound when the frame was not
    /// complete yet); otherwise 0.
    std::size_t size() const noexcept { return size_; }

private:
    Kind kind_;
    bool recoverable_;
    std::size_t size_;
};

}  // namespace bulb::protocols

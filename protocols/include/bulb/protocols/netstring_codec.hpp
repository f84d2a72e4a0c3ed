// SPDX-License-Identifier: MIT
/// @file
/// NetstringCodec: D. J. Bernstein's netstrings, "5:hello,".
#pragma once

#include <bulb/config.hpp>
#include <bulb/protocols/codec.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Frames are the payloads of netstrings ("<decimal length>:<bytes>,"). A length with a leading
/// zero, a non-digit, a missing ':' or ',' is malformed; a payload longer than max_length (or a
/// length with more digits than it needs) exceeds the limit. Errors are fatal. A plain value.
class BULB_API NetstringCodec {
public:
    /// A frame is the netstring's payload.
    using Frame = std::string;
    /// The framing's parameters.
    struct Options {
        std::size_t max_length = 1024 * 1024;  ///< payload bytes per netstring
    };

    NetstringCodec() : NetstringCodec(Options{}) {}
    /// A codec with these options.
    explicit NetstringCodec(Options options) : options_(options) {}

    /// The next payload, or std::nullopt when more bytes are needed. Throws FrameError.
    std::optional<std::string> decode(FrameBuffer& buffer);
    /// At EOF: std::nullopt between netstrings, FrameError (truncated) inside one.
    std::optional<std::string> decode_eof(FrameBuffer& buffer);
    /// Throws FrameError (limit_exceeded) for a payload longer than max_length.
    void encode(std::string_view payload, std::string& out) const;

    /// The options in use.
    const Options& options() const noexcept { return options_; }
    /// The most bytes one netstring takes (its length's digits, ':', max_length, ','); the
    /// adapters shape their buffers by it.
    std::size_t buffer_limit() const noexcept {
        return options_.max_length > static_cast<std::size_t>(-1) - 32 ? 0 : options_.max_length + 32;
    }

private:
    Options options_;
};

}  // namespace bulb::protocols

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
    using Frame = std::string;
    struct Options {
        std::size_t max_length = 1024 * 1024;  ///< payload bytes per netstring
    };

    NetstringCodec() : NetstringCodec(Options{}) {}
    explicit NetstringCodec(Options options) : options_(options) {}

    std::optional<std::string> decode(FrameBuffer& buffer);
    std::optional<std::string> decode_eof(FrameBuffer& buffer);
    /// Throws FrameError (limit_exceeded) for a payload longer than max_length.
    void encode(std::string_view payload, std::string& out) const;

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

// SPDX-License-Identifier: MIT
/// @file
/// LengthPrefixedCodec: frames preceded by their length in a fixed-width binary field
/// (Tokio's LengthDelimitedCodec, Netty's LengthFieldBasedFrameDecoder).
#pragma once

#include <bulb/config.hpp>
#include <bulb/protocols/codec.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Frames are payloads after a 1, 2, 4 or 8-byte unsigned length, big or little endian. With
/// length_includes_header the field counts itself too. A payload above max_frame is a fatal
/// FrameError (limit_exceeded) before any of it is buffered for nothing. A plain value.
class BULB_API LengthPrefixedCodec {
public:
    /// A frame is its payload.
    using Frame = std::string;
    /// Byte order of the length field.
    enum class Endian { big, little };
    /// The framing's parameters.
    struct Options {
        unsigned width = 4;  ///< bytes of the length field: 1, 2, 4 or 8
        /// Byte order of the length field.
        Endian endian = Endian::big;
        /// The length counts the length field too.
        bool length_includes_header = false;
        std::size_t max_frame = 8 * 1024 * 1024;  ///< payload bytes per frame
    };

    LengthPrefixedCodec() : LengthPrefixedCodec(Options{}) {}
    /// Throws std::invalid_argument for a width other than 1, 2, 4 or 8.
    explicit LengthPrefixedCodec(Options options);

    /// The next frame, or std::nullopt when more bytes are needed. Throws FrameError.
    std::optional<std::string> decode(FrameBuffer& buffer);
    /// At EOF: std::nullopt between frames, FrameError (truncated) inside one.
    std::optional<std::string> decode_eof(FrameBuffer& buffer);
    /// Throws FrameError (limit_exceeded) for a payload above max_frame or the field's range.
    void encode(std::string_view payload, std::string& out) const;

    /// The options in use.
    const Options& options() const noexcept { return options_; }
    /// The most bytes one frame takes (max_frame and the field); the adapters' buffer shape.
    std::size_t buffer_limit() const noexcept {
        return options_.max_frame > static_cast<std::size_t>(-1) - 8 ? 0 : options_.max_frame + options_.width;
    }

private:
    Options options_;
};

}  // namespace bulb::protocols

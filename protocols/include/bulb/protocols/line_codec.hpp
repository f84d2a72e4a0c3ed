// SPDX-License-Identifier: MIT
/// @file
/// LineCodec: frames are lines ending in a delimiter (Tokio's LinesCodec / AnyDelimiterCodec,
/// Twisted's LineReceiver).
#pragma once

#include <bulb/config.hpp>
#include <bulb/protocols/codec.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Lines without their delimiter. With the default "\n" delimiter and strip_cr, "\r\n" ends a
/// line too. What a line longer than max_length does depends on `overlong`:
/// - Overlong::discard (default): decode() throws a recoverable FrameError once for the line and
///   skips its bytes up to the next delimiter; framing then goes on (Tokio's discard mode).
/// - Overlong::error: decode() throws a fatal FrameError.
/// At EOF an unterminated last line is a frame too. A plain value; no thread affinity.
class BULB_API LineCodec {
public:
    /// A frame is one line, without its delimiter.
    using Frame = std::string;
    /// What an over-long line does: skipped up to its delimiter, or a FrameError.
    enum class Overlong { discard, error };
    /// The framing's parameters.
    struct Options {
        std::string delimiter = "\n";     ///< not empty
        bool strip_cr = true;             ///< drop one CR before the delimiter
        std::size_t max_length = 64 * 1024;  ///< bytes per line, delimiter excluded
        /// What an over-long line does.
        Overlong overlong = Overlong::discard;
        std::string encode_delimiter = "";  ///< what encode() appends; empty: the delimiter
    };

    LineCodec() : LineCodec(Options{}) {}
    /// Throws std::invalid_argument for an empty delimiter.
    explicit LineCodec(Options options);

    /// The next line, or std::nullopt when more bytes are needed. Throws FrameError.
    std::optional<std::string> decode(FrameBuffer& buffer);
    /// At EOF: the unterminated last line, if any.
    std::optional<std::string> decode_eof(FrameBuffer& buffer);
    /// Appends `line` and the delimiter. Throws std::invalid_argument when `line` contains the
    /// delimiter (the peer would see two lines).
    void encode(std::string_view line, std::string& out) const;

    /// The options in use.
    const Options& options() const noexcept { return options_; }
    /// The most bytes decode() needs buffered before it frames or rejects a line (max_length,
    /// a CR, the delimiter, one more byte); the adapters shape their buffers by it.
    std::size_t buffer_limit() const noexcept {
        std::size_t extra = options_.delimiter.size() + 2;
        return options_.max_length > static_cast<std::size_t>(-1) - extra ? 0 : options_.max_length + extra;
    }
    /// True while the rest of an overlong line is being skipped.
    bool discarding() const noexcept { return discarding_; }

private:
    std::string take_line(FrameBuffer& buffer, std::size_t end, std::size_t skip);

    Options options_;
    std::size_t scanned_ = 0;  // bytes at the front already known to hold no delimiter
    bool discarding_ = false;
};

}  // namespace bulb::protocols

// SPDX-License-Identifier: MIT
/// @file
/// LineProtocol: FramedProtocol<LineCodec> with line-shaped callbacks (Twisted's LineReceiver).
#pragma once

#include <bulb/protocols/framed_protocol.hpp>
#include <bulb/protocols/line_codec.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Delivers each complete line (without its "\n" or "\r\n") to line_received().
///
/// A line longer than max_line_length() is reported once through line_too_long() and its bytes
/// are discarded up to the next newline, then framing resumes (LineCodec's discard mode). At EOF
/// an unterminated last line is delivered too. Derive from it; it is owned by its transport.
/// Loop thread only; pause_reading/close rules as FramedProtocol.
class BULB_API LineProtocol : public FramedProtocol<LineCodec> {
public:
    /// `max_line_length` bytes at most per line (default 64 KiB).
    explicit LineProtocol(std::size_t max_line_length = 64 * 1024);

    /// A complete line arrived; `line` is valid during the call.
    virtual void line_received(std::string_view line) = 0;
    /// A line passed the limit (`length` bytes, or at least that many when it has not ended
    /// yet); its bytes are being discarded. The default closes the connection.
    virtual void line_too_long(std::size_t length);
    /// Sends `line` followed by "\n" (one write).
    void send_line(std::string_view line);

    /// The longest line accepted, in bytes.
    std::size_t max_line_length() const noexcept { return max_; }

private:
    void frame_received(std::string line) final;
    void frame_error(const FrameError& error) final;

    std::size_t max_;
};

}  // namespace bulb::protocols

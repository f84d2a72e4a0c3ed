// SPDX-License-Identifier: MIT
/// @file
/// LineProtocol: a Protocol that frames its byte stream into lines, with a length limit
/// (Twisted's LineReceiver, Tokio's LinesCodec with max_length).
#pragma once

#include <bulb/protocol.hpp>
#include <bulb/transport.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Delivers each complete line (without its "\n" or "\r\n") to line_received().
///
/// A line longer than max_line_length() is reported once through line_too_long() and its bytes
/// are discarded up to the next newline, then framing resumes (Tokio's discard mode). At EOF an
/// unterminated last line is delivered too. Derive from it; it is owned by its transport.
class BULB_API LineProtocol : public Protocol {
public:
    /// `max_line_length` bytes at most per line (default 64 KiB).
    explicit LineProtocol(std::size_t max_line_length = 64 * 1024) : max_(max_line_length) {}

    /// A complete line arrived; `line` is valid during the call.
    virtual void line_received(std::string_view line) = 0;
    /// A line passed the limit; its bytes are being discarded. The default closes the connection.
    virtual void line_too_long(std::size_t length);
    /// Sends `line` followed by "\n" (one write).
    void send_line(std::string_view line);

    void connection_made(Transport& transport) override;
    void data_received(ByteView data) final;
    bool eof_received() override;

    /// The transport (valid from connection_made until connection_lost returns).
    Transport* transport() const noexcept { return transport_; }
    std::size_t max_line_length() const noexcept { return max_; }

private:
    void deliver(std::string_view line);

    Transport* transport_ = nullptr;
    std::string partial_;
    std::size_t max_;
    bool discarding_ = false;
};

}  // namespace bulb::protocols

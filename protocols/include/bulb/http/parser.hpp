// SPDX-License-Identifier: MIT
/// @file
/// RequestParser / ResponseParser: strict incremental HTTP/1.1 parsers (RFC 9110, RFC 9112),
/// written as codecs (bulb/protocols/codec.hpp) so FramedProtocol and FramedReader take them.
///
///     FrameBuffer in;  in.append("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
///     RequestParser p;
///     auto ev = p.decode(in);   // RequestHead; then MessageEnd; then nullopt
///
/// Any split of the input gives the same heads, the same body bytes (in other BodyPart pieces),
/// the same ends and the same error. A head is parsed once it is complete; body bytes are
/// handed out as they arrive. Anything that could let two parsers disagree on where a message
/// ends (request smuggling) is an error with status 400, after which the stream is unusable:
/// Content-Length with Transfer-Encoding, several or non-numeric Content-Length, a
/// Transfer-Encoding whose last coding is not chunked, obs-fold, bare CR, bare LF, whitespace
/// before a colon, bad names or values, bad chunk sizes, an HTTP/1.1 request without one Host.
#pragma once

#include <bulb/http/message.hpp>
#include <bulb/protocols/codec.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::http {

/// The parser rejected the input. status() is the response a server sends (400, 413, 414,
/// 431, 417, 501, 505); the message names what failed, and for a limit the option and value.
class BULB_API ParseError : public protocols::FrameError {
public:
    /// An error answered with `status`; `what` names what failed.
    ParseError(int status, const std::string& what, Kind kind = Kind::malformed);
    /// The HTTP status a server answers with.
    int status() const noexcept { return status_; }

private:
    int status_;
};

/// Limits of one parser (each passed one gives the status named).
struct ParserOptions {
    std::size_t max_request_line = 8 * 1024;    ///< request or status line, without CRLF (414)
    std::size_t max_header_bytes = 32 * 1024;   ///< header section after the first line (431)
    std::size_t max_header_count = 100;         ///< field lines in a head or trailer (431)
    std::uint64_t max_body_size = 16ull << 20;  ///< whole body, decoded (413)
    std::size_t max_chunk_line = 4 * 1024;      ///< a chunk-size line with its extensions (400)
};

/// The state machine both parsers share (not used directly).
class BULB_API MessageParser {
public:
    /// Bytes that have been consumed and belong to the message being parsed now (diagnostics).
    bool in_message() const noexcept;
    /// After a message with framing.upgrade (Upgrade, CONNECT) the parser stops before the next
    /// bytes until told what the answer was: accept_upgrade() turns every further byte into
    /// TunnelData (the next protocol's), refuse_upgrade() parses them as the next message.
    void accept_upgrade() noexcept { state_ = State::tunnel; }
    /// See accept_upgrade().
    void refuse_upgrade() noexcept { state_ = keep_alive_ ? State::head : State::closed; }
    /// True while stopped after an Upgrade/CONNECT message (see accept_upgrade()).
    bool upgrade_pending() const noexcept { return state_ == State::upgrade_wait; }
    /// True after accept_upgrade(): every byte is TunnelData.
    bool tunnelling() const noexcept { return state_ == State::tunnel; }
    /// True after a message that ends the connection: further bytes are discarded unparsed.
    bool closed() const noexcept { return state_ == State::closed; }

protected:
    /// Internal: where the parser is in the message.
    enum class State {
        head, body_length, chunk_size, chunk_data, chunk_data_end, trailers, until_close,
        end,           ///< the body is complete: MessageEnd comes next
        upgrade_wait,  ///< after an Upgrade/CONNECT message, until accept/refuse_upgrade()
        tunnel, closed
    };

    /// Internal: the base of RequestParser and ResponseParser.
    explicit MessageParser(ParserOptions options) : options_(options) {}
    /// Finds a complete head at the front of `in`: its size (with the final CRLF CRLF), or 0
    /// when more bytes are needed. Throws for a bare LF or a passed limit.
    std::size_t find_head(std::string_view in, bool trailers);
    /// Parses the field lines of `fields.storage()` from `at` to the final empty line.
    void parse_fields(Fields& fields, std::size_t at, bool trailers) const;
    /// Works out the body framing from the fields (RFC 9112 6.3).
    void start_body(const Framing& framing);
    /// Body and trailer steps: returns a BodyPart or MessageEnd event (or nothing yet).
    template <class Event>
    std::optional<Event> decode_body(protocols::FrameBuffer& in);
    /// Internal: reads a chunk-size line; false when more bytes are needed.
    bool read_chunk_size(protocols::FrameBuffer& in);
    /// Reads the Content-Length / Transfer-Encoding / Connection fields into `framing`.
    void read_framing(const Fields& fields, int version_minor, bool request, Framing& framing) const;
    /// What follows a MessageEnd.
    void finish_message() noexcept;
    template <class Event>
    /// Internal: decode_eof()'s steps shared by both parsers.
    std::optional<Event> decode_eof_common(protocols::FrameBuffer& in);
    /// Internal: appends a body piece or the end in the head's framing (chunked or not).
    void encode_body(bool chunked, const BodyPart* part, const MessageEnd* end, std::string& out) const;

    bool upgrade_ = false;          ///< the current message asks for Upgrade/CONNECT
    bool tunnel_next_ = false;      ///< a 101 / CONNECT 2xx response: a tunnel after its end

    /// Internal: the limits.
    ParserOptions options_;
    /// Internal: the current state.
    State state_ = State::head;
    std::size_t head_scan_ = 0;     ///< bytes of the head already searched for its end
    std::size_t head_line_end_ = 0; ///< end of the first line once found (0: not yet)
    std::size_t line_start_ = 0;    ///< start of the line being searched for its end
    std::uint64_t remaining_ = 0;   ///< bytes left in the body or the current chunk
    /// Internal: body bytes of the current message so far.
    std::uint64_t body_total_ = 0;
    /// Internal: false once a message ended the connection.
    bool keep_alive_ = true;
};

/// Parses requests (the server side). Also an Encoder: encoding the events it produced gives
/// back a message with the same meaning (a proxy's path). Loop-free; not thread-safe.
class BULB_API RequestParser : public MessageParser {
public:
    /// What decode() produces (the Codec concept).
    using Frame = RequestEvent;
    /// A parser with these limits.
    explicit RequestParser(ParserOptions options = {}) : MessageParser(options) {}

    /// The next event, or std::nullopt when more bytes are needed. Throws ParseError.
    std::optional<RequestEvent> decode(protocols::FrameBuffer& in);
    /// At EOF: nullopt between messages, ParseError (truncated) inside one.
    std::optional<RequestEvent> decode_eof(protocols::FrameBuffer& in);
    /// Appends the bytes of `event` (head as received, body in the head's framing).
    void encode(const RequestEvent& event, std::string& out);
    /// False once a message said the connection ends after it (Connection: close, HTTP/1.0).
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    RequestHead parse_head(std::string bytes);
    bool encode_chunked_ = false;
};

/// Parses responses (the client side). Tell it the method of each request sent, in order
/// (HEAD and CONNECT change how a response is framed); with none queued, GET is assumed.
class BULB_API ResponseParser : public MessageParser {
public:
    /// What decode() produces (the Codec concept).
    using Frame = ResponseEvent;
    /// A parser with these limits.
    explicit ResponseParser(ParserOptions options = {}) : MessageParser(options) {}

    /// The method of the next request sent on this connection (pipelined requests queue up).
    void push_request_method(std::string_view method) { methods_.emplace_back(method); }
    /// The next event, or std::nullopt. Interim (1xx) responses come out as heads followed at
    /// once by a MessageEnd; the final response follows. Throws ParseError.
    std::optional<ResponseEvent> decode(protocols::FrameBuffer& in);
    /// At EOF: ends a body read until close; nullopt between messages; ParseError inside one.
    std::optional<ResponseEvent> decode_eof(protocols::FrameBuffer& in);
    /// Appends the bytes of `event`.
    void encode(const ResponseEvent& event, std::string& out);
    /// False once a response said the connection ends after it.
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    ResponseHead parse_head(std::string bytes);
    std::deque<std::string> methods_;
    bool encode_chunked_ = false;
};

static_assert(protocols::Codec<RequestParser>);
static_assert(protocols::Codec<ResponseParser>);

}  // namespace bulb::http

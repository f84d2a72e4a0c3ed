// SPDX-License-Identifier: MIT
/// @file
/// What the HTTP/1.1 parsers produce: message heads, body pieces and message ends (RFC 9112).
#pragma once

#include <bulb/http/fields.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bulb::http {

/// How the body of a message is delimited (RFC 9112 6.3).
enum class BodyFraming {
    none,            ///< no body (no Content-Length/Transfer-Encoding, HEAD answers, 1xx/204/304)
    content_length,  ///< exactly content_length bytes
    chunked,         ///< Transfer-Encoding: chunked
    until_close,     ///< a response whose body ends when the connection does
};

/// The four request-target forms (RFC 9112 3.2).
enum class TargetForm { origin, absolute, authority, asterisk };

/// What the head of a message says about its framing and the connection, worked out once by
/// the parser.
struct Framing {
    /// How the body is delimited.
    BodyFraming body = BodyFraming::none;
    std::uint64_t content_length = 0;  ///< for BodyFraming::content_length
    bool keep_alive = true;            ///< the connection may carry another message afterwards
    bool upgrade = false;              ///< Connection: upgrade with an Upgrade field (or CONNECT)
    bool expect_continue = false;      ///< Expect: 100-continue (requests of HTTP/1.1)
};

/// A parsed request line and its header fields. The string views point into `fields`'s
/// storage and live as long as this object (moves included).
struct BULB_API RequestHead {
    std::string_view method;  ///< a token, case-sensitive ("GET")
    std::string_view target;  ///< as received ("/a?b", "http://h/x", "h:443", "*")
    /// The target's form (RFC 9112 3.2).
    TargetForm form = TargetForm::origin;
    int version_minor = 1;  ///< HTTP/1.0 -> 0, HTTP/1.1 -> 1
    /// The header fields.
    Fields fields;
    /// The body framing and connection facts worked out from the fields.
    Framing framing;

    RequestHead() = default;
    /// Moves keep the views valid (they point into `fields`).
    RequestHead(RequestHead&& other) noexcept { *this = std::move(other); }
    /// Move assignment: as the move constructor.
    RequestHead& operator=(RequestHead&& other) noexcept;
    /// The path of an origin-form target (before '?'); the whole target otherwise.
    std::string_view path() const noexcept;
    /// The query of an origin-form target (after '?', may be empty).
    std::string_view query() const noexcept;
};

/// A parsed status line and its header fields (views as RequestHead).
struct BULB_API ResponseHead {
    /// The status code.
    int status = 0;
    /// The reason phrase as received.
    std::string_view reason;
    /// HTTP/1.0 -> 0, HTTP/1.1 -> 1.
    int version_minor = 1;
    /// The header fields.
    Fields fields;
    /// The body framing and connection facts worked out from the fields.
    Framing framing;

    ResponseHead() = default;
    /// Moves keep the views valid (they point into `fields`).
    ResponseHead(ResponseHead&& other) noexcept { *this = std::move(other); }
    /// Move assignment: as the move constructor.
    ResponseHead& operator=(ResponseHead&& other) noexcept;
};

/// A piece of a message body, in order; pieces follow the chunks the bytes arrived in, so
/// only their concatenation is meaningful.
struct BodyPart {
    /// The bytes of this piece.
    std::string data;
};

/// The message is complete; `trailers` holds the trailer section of a chunked body.
struct MessageEnd {
    /// The trailer fields (empty unless chunked with trailers).
    Fields trailers;
};

/// Bytes after an accepted Upgrade or CONNECT: they belong to the next protocol.
struct TunnelData {
    /// The bytes for the next protocol.
    std::string data;
};

/// One step of a request stream: a head, body parts, then the end (or tunnel data).
using RequestEvent = std::variant<RequestHead, BodyPart, MessageEnd, TunnelData>;
/// One step of a response stream.
using ResponseEvent = std::variant<ResponseHead, BodyPart, MessageEnd, TunnelData>;

/// The standard reason phrase of `status` ("Not Found"), or "Unknown".
BULB_API std::string_view reason_phrase(int status) noexcept;

}  // namespace bulb::http

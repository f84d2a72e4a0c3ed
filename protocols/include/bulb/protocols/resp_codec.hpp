// SPDX-License-Identifier: MIT
/// @file
/// RespCodec: RESP2 / RESP3 framing (Redis), for clients and servers, and the reply writers a
/// server uses to answer without building RespValue trees.
#pragma once

#include <bulb/config.hpp>
#include <bulb/protocols/codec.hpp>
#include <bulb/protocols/resp_value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Decodes RESP2 and RESP3 values and encodes them in the version set (2 or 3).
///
/// With Options::requests (a server reading commands) it accepts what redis-server accepts: a
/// multibulk of bulk strings, or an inline command line (words split as redis-server does, with
/// "double" and 'single' quotes and escapes); empty requests are skipped; every error message is
/// redis-server's ("Protocol error: invalid bulk length"), so a server can reply "-ERR " + what().
/// Without it, any RESP3 value decodes (a client reading replies). Streamed RESP3 strings and
/// aggregates ("$?", "*?") are rejected as malformed. Errors are fatal. A plain value.
class BULB_API RespCodec {
public:
    /// A frame is one RESP value.
    using Frame = RespValue;
    /// Limits and the encoding version.
    struct Options {
        bool requests = false;                          ///< decode commands (server side)
        int version = 2;                                ///< what encode() writes: 2 or 3
        std::size_t max_bulk_length = 512 * 1024 * 1024;  ///< redis's proto-max-bulk-len
        std::size_t max_aggregate_length = 1024 * 1024;   ///< elements of one array/map/set
        std::size_t max_depth = 32;                     ///< nested aggregates
        std::size_t max_inline_length = 64 * 1024;      ///< an inline command or a header line
    };

    RespCodec() : RespCodec(Options{}) {}
    /// A codec with these options.
    explicit RespCodec(Options options) : options_(options) {}

    /// The next value, or std::nullopt when more bytes are needed. Throws FrameError.
    std::optional<RespValue> decode(FrameBuffer& buffer);
    /// At EOF: std::nullopt between values, FrameError (truncated) inside one.
    std::optional<RespValue> decode_eof(FrameBuffer& buffer);
    /// Appends `value` in the current version's encoding.
    void encode(const RespValue& value, std::string& out) const;

    /// Switches the encoding version (HELLO 2 / HELLO 3); throws std::invalid_argument unless 2 or 3.
    void set_version(int version);
    /// The encoding version (2 or 3).
    int version() const noexcept { return options_.version; }
    /// The options in use.
    const Options& options() const noexcept { return options_; }

private:
    Options options_;
    std::size_t need_ = 0;  // decode() waits until the buffer holds this many bytes
};

/// Appends RESP replies to a string (what RespCodec::encode writes, without a RespValue).
namespace resp {
/// "+s\r\n".
BULB_API void append_simple_string(std::string& out, std::string_view s);
BULB_API void append_error(std::string& out, std::string_view message);  ///< "-message\r\n"
/// ":i\r\n".
BULB_API void append_integer(std::string& out, std::int64_t i);
/// A bulk string.
BULB_API void append_bulk(std::string& out, std::string_view s);
/// "$-1" (RESP2) or "_" (RESP3).
BULB_API void append_null(std::string& out, int version);
/// An array of `n` elements; follow with the elements.
BULB_API void append_array_header(std::string& out, std::size_t n);
/// A map of `n` pairs (RESP3), or an array of 2n elements (RESP2); follow with the pairs.
BULB_API void append_map_header(std::string& out, std::size_t n, int version);
/// Splits an inline command as redis-server does (sdssplitargs); std::nullopt for unbalanced quotes.
BULB_API std::optional<std::vector<std::string>> split_inline(std::string_view line);
}  // namespace resp

}  // namespace bulb::protocols

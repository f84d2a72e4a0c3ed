// SPDX-License-Identifier: MIT
/// @file
/// RespValue: one value of the Redis serialization protocol, RESP2 and RESP3.
#pragma once

#include <bulb/config.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bulb::protocols {

/// The RESP types; the comment gives each one's first byte on the wire.
enum class RespType : std::uint8_t {
    simple_string,    ///< '+'
    simple_error,     ///< '-'
    integer,          ///< ':'
    bulk_string,      ///< '$'
    array,            ///< '*'
    null,             ///< '_' (RESP3), "$-1" and "*-1" (RESP2)
    boolean,          ///< '#'
    double_number,    ///< ','
    big_number,       ///< '('
    bulk_error,       ///< '!'
    verbatim_string,  ///< '=' (text holds "fmt:payload", e.g. "txt:hello")
    map,              ///< '%' (elements hold key, value, key, value, ...)
    set,              ///< '~'
    push,             ///< '>'
};

/// The name of a type ("bulk string", ...), for messages.
BULB_API std::string_view resp_type_name(RespType type) noexcept;

/// A RESP value: a tagged record rather than a variant, so a server reads a request as
/// `v.elements[i].text` without visiting. Only the fields of its type are meaningful.
/// A plain value (copyable, comparable).
struct BULB_API RespValue {
    /// The RESP type.
    RespType type = RespType::null;
    std::int64_t integer = 0;          ///< integer; boolean as 0 / 1
    double number = 0;                 ///< double_number
    std::string text;                  ///< every string-like type and big_number's digits
    std::vector<RespValue> elements;   ///< array, set, push; map as key, value pairs
    std::vector<RespValue> attributes; ///< RESP3 attributes ('|') sent before this value, as pairs

    /// A simple string.
    static RespValue simple_string(std::string s) { return {RespType::simple_string, 0, 0, std::move(s), {}, {}}; }
    /// A simple error.
    static RespValue error(std::string s) { return {RespType::simple_error, 0, 0, std::move(s), {}, {}}; }
    /// An integer.
    static RespValue integer_value(std::int64_t i) { return {RespType::integer, i, 0, {}, {}, {}}; }
    /// A bulk string.
    static RespValue bulk(std::string s) { return {RespType::bulk_string, 0, 0, std::move(s), {}, {}}; }
    /// An array of `e`.
    static RespValue array(std::vector<RespValue> e) { return {RespType::array, 0, 0, {}, std::move(e), {}}; }
    /// Null.
    static RespValue null_value() { return {}; }
    /// A RESP3 boolean.
    static RespValue boolean(bool b) { return {RespType::boolean, b ? 1 : 0, 0, {}, {}, {}}; }
    /// A RESP3 double.
    static RespValue double_value(double d) { return {RespType::double_number, 0, d, {}, {}, {}}; }
    /// A command as clients send it: an array of bulk strings.
    static RespValue command(std::initializer_list<std::string_view> args);

    /// Same type and contents.
    bool operator==(const RespValue& o) const noexcept;
};

}  // namespace bulb::protocols

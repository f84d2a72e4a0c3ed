// SPDX-License-Identifier: MIT
/// @file
/// RESP encoding (RespCodec::encode and the resp::append_* writers).
#include <bulb/protocols/resp_codec.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace bulb::protocols {
namespace resp {
namespace {

void append_line(std::string& out, char type, std::string_view s) {
    out.push_back(type);
    out.append(s);
    out.append("\r\n", 2);
}

void append_number_line(std::string& out, char type, std::int64_t n) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.push_back(type);
    out.append(buf, r.ptr);
    out.append("\r\n", 2);
}

void append_blob(std::string& out, char type, std::string_view s) {
    append_number_line(out, type, static_cast<std::int64_t>(s.size()));
    out.append(s);
    out.append("\r\n", 2);
}

void check_line(std::string_view s, const char* what) {
    if (s.find_first_of("\r\n") != std::string_view::npos)
        throw std::invalid_argument(std::string("RESP ") + what + " contains CR or LF");
}

}  // namespace

void append_simple_string(std::string& out, std::string_view s) {
    check_line(s, "simple string");
    append_line(out, '+', s);
}
void append_error(std::string& out, std::string_view message) {
    check_line(message, "simple error");
    append_line(out, '-', message);
}
void append_integer(std::string& out, std::int64_t i) { append_number_line(out, ':', i); }
void append_bulk(std::string& out, std::string_view s) { append_blob(out, '$', s); }
void append_null(std::string& out, int version) { out.append(version >= 3 ? "_\r\n" : "$-1\r\n"); }
void append_array_header(std::string& out, std::size_t n) {
    append_number_line(out, '*', static_cast<std::int64_t>(n));
}
void append_map_header(std::string& out, std::size_t n, int version) {
    if (version >= 3) {
        append_number_line(out, '%', static_cast<std::int64_t>(n));
    } else {
        append_number_line(out, '*', static_cast<std::int64_t>(2 * n));
    }
}

}  // namespace resp

namespace {

std::string double_text(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back the same
    return std::string(buf, r.ptr);
}

void encode_value(const RespValue& v, std::string& out, int version) {
    using namespace resp;
    const bool v3 = version >= 3;
    if (v3 && !v.attributes.empty()) {  // RESP2 has no attributes: they are not sent
        append_number_line(out, '|', static_cast<std::int64_t>(v.attributes.size() / 2));
        for (const RespValue& a : v.attributes) encode_value(a, out, version);
    }
    switch (v.type) {
    case RespType::simple_string: append_simple_string(out, v.text); return;
    case RespType::simple_error: append_error(out, v.text); return;
    case RespType::integer: append_integer(out, v.integer); return;
    case RespType::bulk_string: append_bulk(out, v.text); return;
    case RespType::null: append_null(out, version); return;
    case RespType::boolean:
        if (v3) {
            out.append(v.integer ? "#t\r\n" : "#f\r\n");
        } else {
            append_integer(out, v.integer ? 1 : 0);
        }
        return;
    case RespType::double_number:
        if (v3) {
            append_line(out, ',', double_text(v.number));
        } else {
            append_bulk(out, double_text(v.number));
        }
        return;
    case RespType::big_number:
        if (v3) {
            check_line(v.text, "big number");
            append_line(out, '(', v.text);
        } else {
            append_bulk(out, v.text);
        }
        return;
    case RespType::bulk_error:
        if (v3) {
            append_blob(out, '!', v.text);
        } else {
            std::string line = v.text;
            for (char& c : line)
                if (c == '\r' || c == '\n') c = ' ';
            append_line(out, '-', line);
        }
        return;
    case RespType::verbatim_string:
        if (v.text.size() < 4 || v.text[3] != ':')
            throw std::invalid_argument("RESP verbatim string does not start with a 3-letter format and ':'");
        if (v3) {
            append_blob(out, '=', v.text);
        } else {
            append_bulk(out, std::string_view(v.text).substr(4));
        }
        return;
    case RespType::map:
        if (v.elements.size() % 2 != 0) throw std::invalid_argument("RESP map with an odd number of elements");
        append_map_header(out, v.elements.size() / 2, version);
        break;
    case RespType::array: append_array_header(out, v.elements.size()); break;
    case RespType::set: append_number_line(out, v3 ? '~' : '*', static_cast<std::int64_t>(v.elements.size())); break;
    case RespType::push: append_number_line(out, v3 ? '>' : '*', static_cast<std::int64_t>(v.elements.size())); break;
    }
    for (const RespValue& e : v.elements) encode_value(e, out, version);
}

}  // namespace

void RespCodec::encode(const RespValue& value, std::string& out) const { encode_value(value, out, options_.version); }

void RespCodec::set_version(int version) {
    if (version != 2 && version != 3)
        throw std::invalid_argument("RESP version " + std::to_string(version) + " is not 2 or 3");
    options_.version = version;
}

}  // namespace bulb::protocols

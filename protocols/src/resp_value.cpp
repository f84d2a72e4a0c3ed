// SPDX-License-Identifier: MIT
/// @file
/// RespValue helpers.
#include <bulb/protocols/resp_value.hpp>

#include <cmath>

namespace bulb::protocols {

std::string_view resp_type_name(RespType type) noexcept {
    switch (type) {
    case RespType::simple_string: return "simple string";
    case RespType::simple_error: return "simple error";
    case RespType::integer: return "integer";
    case RespType::bulk_string: return "bulk string";
    case RespType::array: return "array";
    case RespType::null: return "null";
    case RespType::boolean: return "boolean";
    case RespType::double_number: return "double";
    case RespType::big_number: return "big number";
    case RespType::bulk_error: return "bulk error";
    case RespType::verbatim_string: return "verbatim string";
    case RespType::map: return "map";
    case RespType::set: return "set";
    case RespType::push: return "push";
    }
    return "unknown";
}

RespValue RespValue::command(std::initializer_list<std::string_view> args) {
    RespValue v;
    v.type = RespType::array;
    v.elements.reserve(args.size());
    for (std::string_view a : args) v.elements.push_back(bulk(std::string(a)));
    return v;
}

bool RespValue::operator==(const RespValue& o) const noexcept {
    if (type != o.type || attributes != o.attributes) return false;
    switch (type) {
    case RespType::integer:
    case RespType::boolean: return integer == o.integer;
    case RespType::double_number:
        return (std::isnan(number) && std::isnan(o.number)) || number == o.number;
    case RespType::array:
    case RespType::map:
    case RespType::set:
    case RespType::push: return elements == o.elements;
    case RespType::null: return true;
    default: return text == o.text;
    }
}

}  // namespace bulb::protocols

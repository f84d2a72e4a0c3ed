// SPDX-License-Identifier: MIT
/// @file
/// The matching core of the HTTP routers (http::Router, http::CoroRouter): path patterns with
/// captures ("/users/{id}", "/files/{path...}") and a table that tells a match from 404 and 405.
#pragma once

#include <bulb/http/message.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulb::http {

/// The values a route pattern captured, by name. Values are views into the request head (as
/// received: still %-encoded); names are views into the router's patterns. Valid while both
/// live. Cheap to copy; not thread-safe.
class BULB_API RouteParams {
public:
    /// The value captured as `name`, or std::nullopt when the pattern has no such capture.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// The value captured as `name`; throws std::out_of_range naming it when there is none.
    std::string_view at(std::string_view name) const;
    /// Number of captures.
    std::size_t size() const noexcept { return items_.size(); }
    /// The name of capture `i` (in pattern order).
    std::string_view name(std::size_t i) const noexcept { return items_[i].first; }
    /// The value of capture `i`.
    std::string_view value(std::size_t i) const noexcept { return items_[i].second; }

private:
    friend class RoutePattern;
    std::vector<std::pair<std::string_view, std::string_view>> items_;
};

/// A path pattern: segments separated by '/', each literal (compared byte for byte with the
/// request path as received), `{name}` (one non-empty segment) or, last only, `{name...}` (the
/// rest of the path, slashes included, possibly empty). "/users/{id}" matches "/users/42" but
/// not "/users/" or "/users/42/x". Immutable after construction; any thread.
class BULB_API RoutePattern {
public:
    /// Parses `pattern`; throws std::invalid_argument naming it when it does not start with
    /// '/', has a brace outside a whole-segment capture, an empty or repeated name (names are
    /// letters, digits and '_'), or `{name...}` before the last segment.
    explicit RoutePattern(std::string_view pattern);
    /// True when `path` (a path without query) matches; captures are appended to `params` (on
    /// a miss `params` is left as it was).
    bool match(std::string_view path, RouteParams& params) const;
    /// The pattern as given.
    const std::string& text() const noexcept { return text_; }

private:
    enum class Kind { literal, capture, rest };
    struct Segment {
        Kind kind;
        std::string text;  ///< the literal, or the capture's name
    };
    std::string text_;
    std::vector<Segment> segments_;
};

/// What RouteTable::match found for a request.
struct RouteMatch {
    /// The three outcomes: a route, no pattern matching the path (404), or patterns matching
    /// the path but none with the method (405).
    enum class Outcome { matched, not_found, method_not_allowed };
    /// What was found.
    Outcome outcome = Outcome::not_found;
    /// The index add() returned for the matched route.
    std::size_t route = 0;
    /// The matched route's captures.
    RouteParams params;
    /// For method_not_allowed: the methods the path has, as an Allow field value ("GET, HEAD").
    std::string allow;
};

/// Routes (method + pattern) tried in the order added: the first whose pattern matches the
/// request path and whose method equals the request's wins. A GET route also answers HEAD
/// (the server sends only the head) unless a HEAD route for the path comes first. Not
/// thread-safe while routes are added; match() is const.
class BULB_API RouteTable {
public:
    /// Adds a route; returns its index (0, 1, ...). `method` is a token, case-sensitive ("GET").
    /// Throws std::invalid_argument for a bad pattern (see RoutePattern) or an empty method.
    std::size_t add(std::string_view method, std::string_view pattern);
    /// Looks `head` up: its path (origin-form, or the path of an absolute-form target; "*"
    /// and authority-form match nothing) and method.
    RouteMatch match(const RequestHead& head) const;
    /// Looks up `method` and `path` (no query).
    RouteMatch match(std::string_view method, std::string_view path) const;
    /// Number of routes.
    std::size_t size() const noexcept { return routes_.size(); }

private:
    struct Route {
        std::string method;
        RoutePattern pattern;
    };
    std::vector<Route> routes_;
};

/// The path a router matches for `head`: the origin-form path, the path of an absolute-form
/// target ("/" when it has none), or an empty view for the authority and asterisk forms.
BULB_API std::string_view routing_path(const RequestHead& head) noexcept;

}  // namespace bulb::http

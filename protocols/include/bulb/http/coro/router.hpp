// SPDX-License-Identifier: MIT
/// @file
/// http::CoroRouter: the router of the coroutine server (http::serve): method + path pattern
/// with captures, 404 for unknown paths, 405 with Allow for known paths asked otherwise.
///
///     http::CoroRouter router;
///     router.add("GET", "/users/{id}", [](http::Request&, http::RouteParams p) -> Task<http::Response> {
///         co_return http::Response::text(200, std::string(p.at("id")));
///     });
///     http::serve(loop, std::move(router), "127.0.0.1", 0);
#pragma once

#include <bulb/http/coro/server.hpp>
#include <bulb/http/routes.hpp>

#include <string_view>
#include <vector>

namespace bulb::http {

/// A coroutine route's handler. `params` comes by value, so a coroutine keeps it in its frame;
/// its views stay valid while the request and the router live (the whole task).
using CoroRouteHandler = UniqueFunction<Task<Response>(Request&, RouteParams params)>;

/// Routes for http::serve: usable as its CoroHandler (move it in). The same rules as
/// http::Router (order added, GET answers HEAD, fallback or 404, 405 with Allow). Add routes
/// before serving; loop thread only.
class BULB_API CoroRouter {
public:
    /// Adds a route for `method` and `pattern` (see RoutePattern). Throws std::invalid_argument
    /// for a bad pattern, an empty method or an empty handler.
    CoroRouter& add(std::string_view method, std::string_view pattern, CoroRouteHandler handler);
    /// Handles requests whose path no route matches (instead of the 404).
    CoroRouter& fallback(CoroHandler handler);
    /// Dispatches one request (the CoroHandler signature): the route's task, or a ready answer.
    Task<Response> operator()(Request& request);
    /// The routes' table (for inspection).
    const RouteTable& table() const noexcept { return table_; }

private:
    RouteTable table_;
    std::vector<CoroRouteHandler> handlers_;
    CoroHandler fallback_;
};

}  // namespace bulb::http

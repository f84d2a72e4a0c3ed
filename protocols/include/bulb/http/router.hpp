// SPDX-License-Identifier: MIT
/// @file
/// http::Router: dispatches requests of the callback server (http::Server) by method and path
/// pattern, with captures ("/users/{id}"), 404 for unknown paths and 405 with Allow for known
/// paths asked with another method.
///
///     http::Router router;
///     router.add("GET", "/users/{id}", [](http::Exchange& ex, const http::RouteParams& p) {
///         ex.respond(200, std::string(p.at("id")));
///     });
///     http::Server::create(loop, std::move(router), "127.0.0.1", 0);
#pragma once

#include <bulb/http/routes.hpp>
#include <bulb/http/server.hpp>

#include <string_view>
#include <vector>

namespace bulb::http {

/// A route's handler: the exchange and what the pattern captured. `params` lives for the call;
/// copy it (its views stay valid while the exchange and the router live) to answer later.
using RouteHandler = UniqueFunction<void(Exchange&, const RouteParams& params)>;

/// Routes for http::Server: usable as its Handler (move it in). Routes are tried in the order
/// added (see RouteTable); no match for the path calls the fallback (default: 404 "not found"),
/// a path known for other methods gets 405 with an Allow field. Add routes before serving;
/// loop thread only. Exceptions from handlers reach the server (500, see Handler).
class BULB_API Router {
public:
    /// Adds a route for `method` (a GET route also answers HEAD) and `pattern` (see
    /// RoutePattern). Throws std::invalid_argument for a bad pattern or an empty method.
    Router& add(std::string_view method, std::string_view pattern, RouteHandler handler);
    /// Handles requests whose path no route matches (instead of the 404), e.g. StaticFiles.
    Router& fallback(Handler handler);
    /// Dispatches one request (the server's Handler signature).
    void operator()(Exchange& ex);
    /// The routes' table (for inspection).
    const RouteTable& table() const noexcept { return table_; }

private:
    RouteTable table_;
    std::vector<RouteHandler> handlers_;
    Handler fallback_;
};

}  // namespace bulb::http

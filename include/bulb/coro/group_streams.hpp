// SPDX-License-Identifier: MIT
/// @file
/// start_server on every loop of a LoopGroup (asyncio.start_server, one per loop).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/streams.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/group_server.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace bulb {

/// What a group's start_server runs for each connection (copied once per loop).
using SharedClientConnected = std::function<Task<void>(StreamReader, StreamWriter)>;

/// Serves `host`:`port` on every loop of `group` (see GroupServer::start for `options.balance`):
/// each connection runs `client_connected(reader, writer)` as a task on the loop that owns the
/// connection. Blocks until every loop listens; from a thread outside the group only.
inline GroupServer start_server(LoopGroup& group, SharedClientConnected client_connected,
                                std::optional<std::string> host, std::uint16_t port, const StreamOptions& stream_options,
                                GroupBalance balance = GroupBalance::reuse_port) {
    if (!client_connected) throw std::invalid_argument("start_server(LoopGroup&): empty client_connected");
    const std::size_t limit = stream_options.limit;
    GroupServerStarter starter = [client_connected, limit](std::size_t, EventLoop& loop, std::optional<std::string> h,
                                                           std::uint16_t p, const ServerOptions& so) {
        StreamOptions per_loop;
        per_loop.limit = limit;
        per_loop.server = so;
        ClientConnected cb = [f = client_connected](StreamReader r, StreamWriter w) { return f(std::move(r), std::move(w)); };
        return create_task(loop, start_server(std::move(cb), std::move(h), p, std::move(per_loop)));
    };
    GroupServerOptions options;
    options.server = stream_options.server;
    options.balance = balance;
    return GroupServer::start(group, std::move(starter), std::move(host), port, options);
}

/// The same with default stream options.
inline GroupServer start_server(LoopGroup& group, SharedClientConnected client_connected,
                                std::optional<std::string> host, std::uint16_t port) {
    return start_server(group, std::move(client_connected), std::move(host), port, StreamOptions{});
}

}  // namespace bulb

// SPDX-License-Identifier: MIT
/// @file
/// Stream connections and servers for coroutines (asyncio.open_connection, asyncio.start_server).
#pragma once

#include <bulb/coro/compiler_check.hpp>  // warns on GCC < 13

#include <bulb/coro/stream_reader.hpp>
#include <bulb/coro/stream_writer.hpp>
#include <bulb/coro/task.hpp>
#include <bulb/options.hpp>
#include <bulb/server.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bulb {

/// Default StreamReader limit (asyncio's 64 KiB).
inline constexpr std::size_t default_stream_limit = 64 * 1024;

/// Options of open_connection / start_server.
struct StreamOptions {
    /// The reader's limit: the longest line readline() accepts; reading pauses past twice it.
    std::size_t limit = default_stream_limit;
    /// Connection options (open_connection).
    ConnectOptions connect{};
    /// Server options (start_server).
    ServerOptions server{};
};

/// A connected reader/writer pair.
using StreamPair = std::pair<StreamReader, StreamWriter>;

/// What start_server calls for each connection, as a new task.
using ClientConnected = UniqueFunction<Task<void>(StreamReader, StreamWriter)>;

// No option argument has a default: with GCC 12 a braced or defaulted option struct inside a
// co_await expression is copied bitwise and destroyed twice (a compiler bug). Name the options in
// a variable first (`bulb::StreamOptions o{...}; co_await bulb::open_connection(h, p, o);`), or
// use the overloads without options.

/// Connects to host:port and returns the reader and writer (on the running loop).
BULB_API Task<StreamPair> open_connection(std::string host, std::uint16_t port);
/// The same, with options (reader limit, ConnectOptions).
BULB_API Task<StreamPair> open_connection(std::string host, std::uint16_t port, StreamOptions options);
/// Connects with TLS: the certificate is checked against `host`.
BULB_API Task<StreamPair> open_connection(std::string host, std::uint16_t port, TlsContext tls);
/// Connects to a Unix socket.
BULB_API Task<StreamPair> open_unix_connection(std::string path);
/// The same, with options.
BULB_API Task<StreamPair> open_unix_connection(std::string path, StreamOptions options);
/// Serves host:port: each connection runs `client_connected(reader, writer)` as its own task.
/// An exception escaping it goes to the exception handler and the connection is closed.
BULB_API Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host,
                                   std::uint16_t port);
/// The same, with options (reader limit, ServerOptions).
BULB_API Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host,
                                   std::uint16_t port, StreamOptions options);
/// Serves host:port with TLS (a server context).
BULB_API Task<Server> start_server(ClientConnected client_connected, std::optional<std::string> host,
                                   std::uint16_t port, TlsContext tls);
/// Serves port on several hosts at once (one or more sockets per host: EventLoop::create_server).
BULB_API Task<Server> start_server(ClientConnected client_connected, std::vector<std::string> hosts,
                                   std::uint16_t port);
/// The same, with options.
BULB_API Task<Server> start_server(ClientConnected client_connected, std::vector<std::string> hosts,
                                   std::uint16_t port, StreamOptions options);
/// Serves a Unix socket path.
BULB_API Task<Server> start_unix_server(ClientConnected client_connected, std::string path);
/// The same, with options.
BULB_API Task<Server> start_unix_server(ClientConnected client_connected, std::string path, StreamOptions options);

}  // namespace bulb

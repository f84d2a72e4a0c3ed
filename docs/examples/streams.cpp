// Streams: a coroutine echo server (start_server) and a client (open_connection) in one
// program, on 127.0.0.1 and a port the kernel picks.
#include <bulb/coro.hpp>

#include <cstdio>
#include <string>

bulb::Task<> handle_client(bulb::StreamReader reader, bulb::StreamWriter writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;  // EOF
        writer.write(line);
        co_await writer.drain();  // flow control: wait while the client reads slowly
    }
    writer.close();
    co_await writer.wait_closed();
}

bulb::Task<> main_task() {
    bulb::Server server = co_await bulb::start_server(handle_client, "127.0.0.1", 0);
    const std::uint16_t port = server.sockets().at(0).port();
    std::printf("listening on 127.0.0.1:%u\n", port);

    auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", port);
    writer.write("first line\nsecond line\n");
    co_await writer.drain();
    writer.write_eof();  // half-close: the server's readline() sees EOF after our lines
    for (int i = 0; i < 2; ++i) {
        std::string echoed = co_await reader.readline();
        std::printf("echoed: %s", echoed.c_str());
    }
    writer.close();
    co_await writer.wait_closed();

    server.close();
    co_await server.wait_closed();
}

int main() { bulb::run(main_task()); }

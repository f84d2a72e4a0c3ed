// The natural spelling compiles warning-free under -Wall -Wextra: designated initializers that
// leave members out (every option member has a default), and the overloads that make building an
// option struct inside a co_await unnecessary.
#include <bulb/coro.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;

bulb::Task<void> client(bulb::TlsContext tls) {
    bulb::ConnectOptions connect{.timeout = 5s};
    bulb::ServerOptions server{.backlog = 10};
    bulb::StreamOptions stream{.limit = 1024};
    bulb::TlsClientOptions client_options{.ca_file = "ca.pem"};
    bulb::TlsServerOptions server_options{.session_tickets = false};
    bulb::LoopOptions loop_options{.virtual_clock = true};
    (void)connect, (void)server, (void)stream, (void)client_options, (void)server_options, (void)loop_options;

    auto [reader, writer] = co_await bulb::open_connection("localhost", 443, tls);
    co_await writer.start_tls(tls, "localhost");
    co_await writer.start_tls(tls);
    auto on_client = [](bulb::StreamReader, bulb::StreamWriter) -> bulb::Task<void> { co_return; };
    bulb::Server one = co_await bulb::start_server(on_client, "127.0.0.1", 0, tls);
    std::vector<std::string> hosts{"127.0.0.1", "::1"};
    bulb::Server several = co_await bulb::start_server(on_client, hosts, 0);
    (void)one, (void)several;
}

int main() {}

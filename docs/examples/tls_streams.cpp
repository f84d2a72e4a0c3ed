// TLS: a server asking for client certificates (mutual TLS) and a streams client that verifies
// the server against a CA and a host name. The files come from the command line:
//   tls_streams CA SERVER_CERT SERVER_KEY CLIENT_CERT CLIENT_KEY
#include <bulb/coro.hpp>

#include <cstdio>
#include <string>

bulb::Task<> greet(bulb::StreamReader reader, bulb::StreamWriter writer) {
    std::string name = co_await reader.readline();
    writer.write("hello over TLS, " + name);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

bulb::Task<int> main_task(char** argv) {
    // Server: its certificate, and clients must present one signed by our CA.
    bulb::TlsServerOptions server_options;
    server_options.client_ca_file = argv[1];
    server_options.require_client_certificate = true;
    bulb::TlsContext server_tls = bulb::TlsContext::server(argv[2], argv[3], server_options);
    bulb::Server server = co_await bulb::start_server(greet, "127.0.0.1", 0, server_tls);
    const std::uint16_t port = server.sockets().at(0).port();
    std::printf("listening on 127.0.0.1:%u (TLS)\n", port);

    // Client: trust only our CA, check the certificate names "localhost", present our own.
    bulb::TlsClientOptions client_options;
    client_options.ca_file = argv[1];
    client_options.cert_file = argv[4];
    client_options.key_file = argv[5];
    bulb::StreamOptions options;
    options.connect.tls = bulb::TlsContext::client(client_options);
    options.connect.server_hostname = "localhost";  // we dial 127.0.0.1; the certificate says localhost
    auto [reader, writer] = co_await bulb::open_connection("127.0.0.1", port, options);
    std::printf("protocol: %s\n", writer.get_extra_info("version").value_or("?").c_str());

    writer.write("guide\n");
    std::string reply = co_await reader.readline();
    std::printf("%s", reply.c_str());
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
    co_return reply == "hello over TLS, guide\n" ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s CA SERVER_CERT SERVER_KEY CLIENT_CERT CLIENT_KEY\n", argv[0]);
        return 2;
    }
    return bulb::run(main_task(argv));
}

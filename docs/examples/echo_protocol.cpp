// A callback echo server with flow control and a graceful shutdown, and a client protocol that
// talks to it: one process, 127.0.0.1, a port the kernel picks (port 0).
#include <bulb/bulb.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace {

// Server side: echo everything; stop reading while the peer does not read our echoes.
class Echo : public bulb::Protocol {
public:
    void connection_made(bulb::Transport& transport) override {
        transport_ = &transport;
        // Pause our writing above 64 KiB queued, resume below 16 KiB.
        transport.set_write_buffer_limits(64 * 1024, 16 * 1024);
    }
    void data_received(bulb::ByteView data) override { transport_->write(data); }
    void pause_writing() override { transport_->pause_reading(); }   // the peer reads slowly
    void resume_writing() override { transport_->resume_reading(); }
    bool eof_received() override {
        // Half-close: the client is done sending. Returning false closes our side once the
        // echoes are written.
        return false;
    }
    void connection_lost(std::error_code) override { transport_ = nullptr; }

private:
    bulb::Transport* transport_ = nullptr;
};

// Client side: send a message, half-close, collect the echo until the server closes.
class Client : public bulb::Protocol {
public:
    explicit Client(bulb::Future<std::string>& done) : done_(done) {}
    void connection_made(bulb::Transport& transport) override {
        transport.write("hello, bulb\n");
        transport.write_eof();  // nothing more to send
    }
    void data_received(bulb::ByteView data) override {
        received_.append(reinterpret_cast<const char*>(data.data()), data.size());
    }
    void connection_lost(std::error_code ec) override {
        if (ec) done_.set_exception(std::make_exception_ptr(std::system_error(ec)));
        else done_.set_result(received_);
    }

private:
    bulb::Future<std::string>& done_;
    std::string received_;
};

}  // namespace

int main() {
    bulb::EventLoop loop;
    bulb::Server server =
        loop.run_until_complete(loop.create_server([] { return std::make_unique<Echo>(); }, "127.0.0.1", 0));
    const std::uint16_t port = server.sockets().at(0).port();
    std::printf("listening on 127.0.0.1:%u\n", port);

    bulb::Future<std::string> echoed(loop);
    bulb::Connection client = loop.run_until_complete(
        loop.create_connection([&] { return std::make_unique<Client>(echoed); }, "127.0.0.1", port));
    const std::string reply = loop.run_until_complete(echoed);
    std::printf("echoed: %s", reply.c_str());

    // Graceful shutdown: stop accepting, let live connections finish, then close the loop.
    server.close();
    server.close_clients();
    loop.run_until_complete(server.wait_closed());
    loop.close();
    return reply == "hello, bulb\n" ? 0 : 1;
}

// SPDX-License-Identifier: MIT
/// @file
/// DatagramSocket: a DatagramProtocol feeding a bounded Queue, and a flow-control Event.
#include <bulb/coro/await.hpp>
#include <bulb/coro/datagram_socket.hpp>
#include <bulb/coro/event.hpp>

namespace bulb {
namespace detail {

/// Shared by the socket handles and the protocol (which the transport owns).
struct DatagramSocketState {
    struct Item {
        Datagram datagram;
        std::error_code error;  // set: an error_received report instead of a datagram
    };
    explicit DatagramSocketState(const DatagramSocketOptions& o) : options(o), queue(o.max_queued) {}

    DatagramSocketOptions options;
    Queue<Item> queue;
    Event writable;  // set while the transport is not paused
    DatagramTransportPtr transport;
    std::error_code lost_code;
    std::size_t dropped = 0;
    std::size_t handles = 0;
    bool lost = false;

    void push(Item item) {
        if (queue.full()) {
            ++dropped;
            if (options.overflow == DatagramOverflow::drop_newest) return;
            queue.get_nowait();
        }
        queue.put_nowait(std::move(item));
    }
};

namespace {

class SocketProtocol final : public DatagramProtocol {
public:
    explicit SocketProtocol(std::shared_ptr<DatagramSocketState> s) : s_(std::move(s)) {}
    void connection_made(DatagramTransport&) override { s_->writable.set(); }
    void datagram_received(ByteView data, const SocketAddress& addr) override {
        s_->push({Datagram{to_string(data), addr}, {}});
    }
    void error_received(std::error_code ec, const SocketAddress& addr) override { s_->push({Datagram{{}, addr}, ec}); }
    void pause_writing() override { s_->writable.clear(); }
    void resume_writing() override { s_->writable.set(); }
    void connection_lost(std::error_code ec) override {
        s_->lost = true;
        s_->lost_code = ec;
        s_->queue.shutdown();  // getters drain what is queued, then see QueueShutDown
        s_->writable.set();    // senders wake and see the socket closed
        s_->transport = nullptr;
    }

private:
    std::shared_ptr<DatagramSocketState> s_;
};

Error closed_error(const DatagramSocketState& s, const char* what) {
    std::string msg = std::string(what) + ": the datagram socket is closed";
    if (s.lost_code) msg += " (" + s.lost_code.message() + ")";
    return Error(errc::transport_closed, msg);
}

}  // namespace
}  // namespace detail

DatagramSocket::DatagramSocket(std::shared_ptr<detail::DatagramSocketState> state) noexcept : s_(std::move(state)) {
    ++s_->handles;
}
DatagramSocket::DatagramSocket(const DatagramSocket& o) noexcept : s_(o.s_) { ++s_->handles; }
DatagramSocket& DatagramSocket::operator=(const DatagramSocket& o) noexcept {
    DatagramSocket copy(o);
    std::swap(s_, copy.s_);
    return *this;
}
DatagramSocket::~DatagramSocket() {
    if (s_ && --s_->handles == 0) close();
}

Task<Datagram> DatagramSocket::recv_from() {
    auto s = s_;  // the state outlives this call even if the handle goes
    detail::DatagramSocketState::Item item;
    try {
        item = co_await s->queue.get();
    } catch (const QueueShutDown&) {
        throw detail::closed_error(*s, "recv_from");
    }
    if (item.error) {
        std::string where = item.datagram.addr.family() == AF_UNSPEC ? "" : " (" + item.datagram.addr.to_string() + ")";
        throw Error(item.error, "recv_from" + where);
    }
    co_return std::move(item.datagram);
}

Task<void> DatagramSocket::send_to(ByteView data, SocketAddress addr) {
    auto s = s_;
    while (!s->lost && !s->writable.is_set()) co_await s->writable.wait();
    if (s->lost || !s->transport || s->transport->is_closing()) throw detail::closed_error(*s, "send_to");
    s->transport->sendto(data, addr);
}

Task<void> DatagramSocket::send(ByteView data) {
    SocketAddress none;
    return send_to(data, none);
}

void DatagramSocket::close() {
    if (s_->transport) s_->transport->close();
}
bool DatagramSocket::is_closing() const noexcept { return s_->lost || !s_->transport || s_->transport->is_closing(); }
std::size_t DatagramSocket::dropped() const noexcept { return s_->dropped; }
std::size_t DatagramSocket::queued() const noexcept { return s_->queue.qsize(); }
SocketAddress DatagramSocket::get_sockname() const { return s_->transport ? s_->transport->get_sockname() : SocketAddress(); }
SocketAddress DatagramSocket::get_peername() const { return s_->transport ? s_->transport->get_peername() : SocketAddress(); }
DatagramTransport* DatagramSocket::transport() const noexcept { return s_->transport.get(); }

Task<DatagramSocket> open_datagram_endpoint(DatagramEndpointOptions options, DatagramSocketOptions socket_options) {
    if (socket_options.max_queued == 0) throw std::invalid_argument("open_datagram_endpoint: max_queued must be >= 1");
    auto state = std::make_shared<detail::DatagramSocketState>(socket_options);
    EventLoop& loop = get_running_loop();
    auto factory = [state]() -> std::unique_ptr<DatagramProtocol> {
        return std::make_unique<detail::SocketProtocol>(state);
    };
    Future<DatagramConnection> opening = loop.create_datagram_endpoint(std::move(factory), options);
    DatagramConnection conn;
    try {
        conn = co_await opening;
    } catch (const CancelledError&) {
        // Cancelled while opening: an endpoint that opens anyway is closed by its transport
        // (the future was cancelled), so nothing stays open.
        throw;
    }
    state->transport = conn.transport;
    co_return DatagramSocket(state);
}

Task<DatagramSocket> open_datagram_endpoint(DatagramEndpointOptions options) {
    DatagramSocketOptions defaults;
    return open_datagram_endpoint(std::move(options), defaults);
}

}  // namespace bulb

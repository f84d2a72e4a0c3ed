// SPDX-License-Identifier: MIT
/// @file
/// BufferedProtocol receiving into its own buffer, and writelines gathering many buffers (more
/// than one sendmsg's worth, partial sends, behind already-buffered bytes) in order, with
/// pause_writing (asyncio's CVE-2024-12254: writelines never paused).
#include "../support/transport_fixture.hpp"
#include "raw_socket.hpp"

#include <atomic>
#include <random>
#include <thread>

using namespace bulb_transport_test;

namespace {

/// `sizes` consecutive pieces of the pattern stream (views into `storage`).
struct Pieces {
    std::string storage;
    std::vector<bulb::ByteView> views;
    explicit Pieces(const std::vector<std::size_t>& sizes, std::size_t offset = 0) {
        std::size_t total = 0;
        for (auto s : sizes) total += s;
        storage = pattern(total, offset);
        std::size_t at = 0;
        for (auto s : sizes) {
            views.push_back(bulb::as_bytes(std::string_view(storage).substr(at, s)));
            at += s;
        }
    }
    std::size_t total() const { return storage.size(); }
};

/// Reads everything a peer gets until EOF on a thread, checking it against pattern().
struct CheckingPeer {
    ReadResult seen;
    std::atomic<bool> go{false};
    std::jthread thread;
    explicit CheckingPeer(int listen_fd, bool wait_for_go = false)
        : thread([this, listen_fd, wait_for_go] {
              Fd p = raw_accept(listen_fd);
              while (wait_for_go && !go) std::this_thread::sleep_for(1ms);
              seen = read_to_end(p.get(), {.check_pattern = true});
          }) {}
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "a BufferedProtocol server receives 16 MiB into its own small buffer intact") {
    constexpr std::size_t total = 16u << 20;
    auto set = recorders([](Recorder& r) { r.buffer_size = 1000; }, /*buffered=*/true);
    auto server = serve(set);
    Fd c = raw_connect(server.sockets()[0]);
    std::jthread sender([&] {
        const std::string payload = pattern(total);
        send_all(c.get(), payload);
        ::shutdown(c.get(), SHUT_WR);
    });
    REQUIRE(run_until([&] { return set->size() == 1 && set->all[0]->is_lost(); }, 30000ms));
    auto& r = *set->all[0];
    CHECK(r.bytes == total);
    CHECK(pattern_mismatch(r.data.data(), r.data.size()) == std::string::npos);
    CHECK(r.data_calls >= total / 1000);  // never more than the buffer at a time
    CHECK(r.sequence() == "made,data,eof,lost");
    CHECK(r.destroyed);
    server.close();
}

TEST_CASE_FIXTURE(TransportFixture, "a BufferedProtocol client gets every byte of a large reply and its get_buffer is used") {
    constexpr std::size_t total = 8u << 20;
    Fd listener = raw_listen("127.0.0.1");
    std::jthread peer([&] {
        Fd p = raw_accept(listener.get());
        send_all(p.get(), pattern(total));
    });
    auto set = recorders({}, /*buffered=*/true);
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    CHECK(conn.protocol<RecordingBufferedProtocol>() != nullptr);
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }, 30000ms));
    CHECK(set->all[0]->bytes == total);
    CHECK(set->all[0]->get_buffer_calls >= set->all[0]->data_calls);
    CHECK(pattern_mismatch(set->all[0]->data.data(), total) == std::string::npos);
}

TEST_CASE_FIXTURE(TransportFixture, "set_protocol to a BufferedProtocol switches reading to its buffer") {
    Fd listener = raw_listen("127.0.0.1");
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    Fd p = raw_accept(listener.get());
    REQUIRE(send_all(p.get(), "plain"));
    REQUIRE(run_until([&] { return set->all[0]->bytes == 5; }));
    auto buffered = std::make_shared<Recorder>();
    buffered->buffer_size = 3;
    auto holder = recorders();
    holder->all.push_back(buffered);
    buffered->adopt(*conn.transport);
    auto old = conn.transport->set_protocol(std::make_unique<RecordingBufferedProtocol>(buffered));
    set->all[0]->detach();
    REQUIRE(send_all(p.get(), "buffered!"));
    p.reset();
    REQUIRE(run_until([&] { return buffered->is_lost(); }));
    CHECK(buffered->data == "buffered!");
    CHECK(buffered->data_calls >= 3);  // 3 bytes at a time
    CHECK(set->all[0]->data == "plain");
}

TEST_CASE_FIXTURE(TransportFixture, "writelines sends every buffer in order, empty ones included") {
    Fd listener = raw_listen("127.0.0.1");
    CheckingPeer peer(listener.get());
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    Pieces pieces({5, 0, 1, 300, 0, 0, 7000, 2});
    conn.transport->writelines(pieces.views);
    conn.transport->writelines(std::span<const bulb::ByteView>{});  // nothing at all
    Pieces more({0, 0});
    conn.transport->writelines(more.views);  // only empty buffers
    CHECK(conn.transport->get_write_buffer_size() == 0);
    conn.transport->close();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    peer.thread.join();
    CHECK(peer.seen.eof);
    CHECK(peer.seen.bytes == pieces.total());
    CHECK(peer.seen.mismatch == std::string::npos);
}

TEST_CASE_FIXTURE(TransportFixture, "writelines with hundreds of buffers and partial sends keeps their order and pauses writing") {
    Fd listener = raw_listen("127.0.0.1");
    CheckingPeer peer(listener.get(), /*wait_for_go=*/true);
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    std::mt19937 rng(42);
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 1000; ++i) sizes.push_back(i % 17 == 0 ? 0 : rng() % 30000);
    Pieces pieces(sizes);
    conn.transport->writelines(pieces.views);  // the peer is not reading: the kernel takes part
    CHECK(conn.transport->get_write_buffer_size() > 0);
    CHECK(conn.transport->get_write_buffer_size() < pieces.total());
    CHECK(set->all[0]->pauses == 1);  // above high water: paused, as write() would
    // A second batch lands behind what is buffered.
    std::vector<std::size_t> sizes2(300, 1234);
    Pieces second(sizes2, pieces.total());
    conn.transport->writelines(second.views);
    conn.transport->write(pattern(100, pieces.total() + second.total()));
    conn.transport->close();
    peer.go = true;
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }, 20000ms));
    peer.thread.join();
    CHECK(peer.seen.eof);
    CHECK(peer.seen.bytes == pieces.total() + second.total() + 100);
    CHECK(peer.seen.mismatch == std::string::npos);
    CHECK(set->all[0]->sequence() == "made,pause,resume,lost");
}

TEST_CASE_FIXTURE(TransportFixture, "writelines of many small buffers crossing a sendmsg batch arrives whole") {
    Fd listener = raw_listen("127.0.0.1");
    CheckingPeer peer(listener.get());
    auto set = recorders();
    auto conn = wait(loop.create_connection(recording_factory(set), "127.0.0.1", sockname(listener.get()).port()));
    std::size_t offset = 0;
    for (std::size_t n : {63u, 64u, 65u, 128u, 129u, 1000u}) {
        std::vector<std::size_t> sizes(n, 3);
        Pieces p(sizes, offset);
        conn.transport->writelines(p.views);
        offset += p.total();
    }
    conn.transport->close();
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    peer.thread.join();
    CHECK(peer.seen.bytes == offset);
    CHECK(peer.seen.mismatch == std::string::npos);
}

}  // TEST_SUITE

// SPDX-License-Identifier: MIT
/// @file
/// The in-memory transport pair (tests/support/memory_transport.hpp): delivery from the loop,
/// the callback chart, flow control, EOF, close, abort and callback errors, checked by the same
/// audit as the socket transports; and a protocol unit-tested on it without a socket.
#include "../support/memory_transport.hpp"
#include "../support/transport_fixture.hpp"

#include <stdexcept>

using namespace bulb_transport_test;
using bulb_test::MemoryTransport;

namespace {

struct Pair {
    RecorderSetPtr set;
    bulb::TransportPtr a, b;
    Recorder& ra() const { return *set->all.at(0); }
    Recorder& rb() const { return *set->all.at(1); }
};

Pair make_pair(TransportFixture& fx, std::function<void(Recorder&)> setup = {}) {
    Pair p;
    p.set = fx.recorders(std::move(setup));
    auto factory = recording_factory(p.set);
    auto a = factory();
    auto b = factory();
    std::tie(p.a, p.b) = MemoryTransport::pair(fx.loop, std::move(a), std::move(b));
    return p;
}

/// A line protocol (the kind of codec this transport is for): answers each "\n"-terminated line
/// with its length, and closes on "quit".
class LineLengths : public bulb::Protocol {
public:
    void connection_made(bulb::Transport& t) override { t_ = &t; }
    void data_received(bulb::ByteView d) override {
        buf_.append(reinterpret_cast<const char*>(d.data()), d.size());
        for (auto nl = buf_.find('\n'); nl != std::string::npos; nl = buf_.find('\n')) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            if (line == "quit") {
                t_->close();
                return;
            }
            t_->write(std::to_string(line.size()) + "\n");
        }
    }

private:
    bulb::Transport* t_ = nullptr;
    std::string buf_;
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE_FIXTURE(TransportFixture, "memory transports deliver both ways from the loop, never from inside write()") {
    auto p = make_pair(*this, [](Recorder& r) { r.on_made = [](bulb::Transport& t) { t.write(std::string_view("hi")); }; });
    CHECK(p.set->size() == 2);
    CHECK(p.ra().made == 0);  // connection_made comes from the loop too
    REQUIRE(run_until([&] { return p.ra().data == "hi" && p.rb().data == "hi"; }));
    p.a->write(std::string_view("abc"));
    CHECK(p.rb().data == "hi");  // not yet: delivery is a loop callback
    run_once();
    CHECK(p.rb().data == "hiabc");
    CHECK(p.a->kind() == std::string("MemoryTransport"));
    CHECK(p.a->describe() == "<MemoryTransport closed>");  // no descriptor
    p.a->close();
    REQUIRE(run_until([&] { return p.ra().is_lost() && p.rb().is_lost(); }));
    CHECK(p.ra().sequence() == "made,data,lost");
    CHECK(p.rb().sequence() == "made,data,eof,lost");  // b's eof_received said false: b closed
    CHECK(!p.ra().lost_ec);
    CHECK(!p.rb().lost_ec);
    p = {};
    CHECK(MemoryTransport::live_count() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "memory transports: a peer that stops reading pauses the writer, resuming drains it") {
    auto p = make_pair(*this, [](Recorder& r) { r.keep_data = false; });
    REQUIRE(run_until([&] { return p.ra().made && p.rb().made; }));
    p.a->set_write_buffer_limits(1000, 100);
    p.b->pause_reading();
    const std::string big(3000, 'x');
    p.a->write(big);
    CHECK(p.ra().pauses == 1);  // from inside write(), as over TCP
    CHECK(p.a->is_writing_paused());
    run_for(20ms);
    CHECK(p.rb().bytes == 0);  // nothing taken while the reader is paused
    CHECK(p.a->get_write_buffer_size() == 3000);
    p.b->resume_reading();
    REQUIRE(run_until([&] { return p.rb().bytes == 3000; }));
    CHECK(p.ra().resumes == 1);
    CHECK(!p.a->is_writing_paused());
    CHECK(p.a->get_write_buffer_size() == 0);
    CHECK(p.ra().sequence() == "made,pause,resume");
    p.a->close();
    REQUIRE(run_until([&] { return p.ra().is_lost() && p.rb().is_lost(); }));
    p = {};
    CHECK(MemoryTransport::live_count() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "memory transports: write_eof half-closes; writes after close are dropped and counted") {
    auto p = make_pair(*this, [](Recorder& r) { r.eof_keep_open = true; });
    REQUIRE(run_until([&] { return p.ra().made && p.rb().made; }));
    p.a->write(std::string_view("request"));
    p.a->write_eof();
    CHECK_THROWS_AS(p.a->write(std::string_view("more")), bulb::InvalidStateError);
    REQUIRE(run_until([&] { return p.rb().eofs == 1; }));
    CHECK(p.rb().data == "request");  // the bytes before the EOF
    p.b->write(std::string_view("reply"));  // b kept its side open
    REQUIRE(run_until([&] { return p.ra().data == "reply"; }));
    p.b->close();
    CHECK(p.b->is_closing());
    p.b->write(std::string_view("dropped"));
    CHECK(p.b->get_dropped_writes() == 1);
    REQUIRE(run_until([&] { return p.ra().eofs == 1 && p.rb().is_lost(); }));
    p.a->close();  // a kept open too (eof_keep_open): it closes itself
    REQUIRE(run_until([&] { return p.ra().is_lost(); }));
    CHECK(p.rb().sequence() == "made,data,eof,lost");
    p = {};
    CHECK(MemoryTransport::live_count() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "memory transports: abort discards the buffer and resets the peer") {
    auto p = make_pair(*this);
    REQUIRE(run_until([&] { return p.ra().made && p.rb().made; }));
    p.a->write(std::string_view("never delivered"));
    p.a->abort();
    REQUIRE(run_until([&] { return p.ra().is_lost() && p.rb().is_lost(); }));
    CHECK(!p.ra().lost_ec);
    CHECK(p.rb().lost_ec == std::errc::connection_reset);
    CHECK(p.rb().data.empty());
    p = {};
    CHECK(MemoryTransport::live_count() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "memory transports: a throwing data_received is reported with its transport and resets the peer") {
    auto p = make_pair(*this);
    p.set->all.at(1)->on_data = [](bulb::ByteView) { throw std::runtime_error("bad frame"); };
    p.a->write(std::string_view("x"));
    REQUIRE(run_until([&] { return p.ra().is_lost() && p.rb().is_lost(); }));
    expect_reports(1);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].message == "Exception in protocol.data_received()");
    CHECK(reports[0].what == "bad frame");
    CHECK(reports[0].transport == p.rb().transport);
    CHECK(p.rb().lost_ec == bulb::errc::protocol_callback_failed);
    CHECK(p.ra().lost_ec == std::errc::connection_reset);
    p = {};
    CHECK(MemoryTransport::live_count() == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "a line protocol unit-tested on memory transports, without a socket") {
    auto set = recorders();
    auto client = recording_factory(set)();
    auto [tc, ts] = MemoryTransport::pair(loop, std::move(client), std::make_unique<LineLengths>());
    REQUIRE(run_until([&] { return set->all.at(0)->made == 1; }));
    tc->write(std::string_view("hello\nwor"));
    tc->write(std::string_view("ld!\n\n"));
    REQUIRE(run_until([&] { return set->all[0]->data == "5\n6\n0\n"; }));
    tc->write(std::string_view("quit\n"));
    REQUIRE(run_until([&] { return set->all[0]->is_lost(); }));
    CHECK(set->all[0]->sequence() == "made,data,eof,lost");
    tc = nullptr;
    ts = nullptr;
    CHECK(MemoryTransport::live_count() == 0);
}

}  // TEST_SUITE

// SPDX-License-Identifier: MIT
/// @file
/// Pipe transports: reading, EOF, pause/resume, writing with flow control, EPIPE through
/// connection_lost (never SIGPIPE death), regular files refused, FIFOs, fds released.
#include "proc_support.hpp"

#include <bulb/pipe.hpp>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace proc_test;

TEST_CASE("read pipe delivers data, then eof_received and connection_lost in order") {
    int fds0 = count_open_fds();
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_read_pipe(recording(log), p.read_fd));
    CHECK(log->made);
    CHECK(conn.transport->is_reading());
    CHECK(conn.transport->get_extra_info("pipe") == "read");
    REQUIRE(::write(p.write_fd, "hello ", 6) == 6);
    REQUIRE(::write(p.write_fd, "pipe", 4) == 4);
    CHECK(run_until(loop, [&] { return log->data == "hello pipe"; }));
    ::close(p.write_fd);
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->events == std::vector<std::string>{"made", "eof", "lost"});
    CHECK(!log->lost_ec);
    CHECK_THROWS_AS(conn.transport->write(std::string_view("x")), bulb::InvalidStateError);
    conn = {};
    loop.close();
    CHECK(count_open_fds() == fds0);
}

TEST_CASE("read pipe pause_reading stops delivery until resume_reading") {
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_read_pipe(recording(log), p.read_fd));
    conn.transport->pause_reading();
    CHECK(!conn.transport->is_reading());
    REQUIRE(::write(p.write_fd, "abc", 3) == 3);
    CHECK(!run_until(loop, [&] { return !log->data.empty(); }, 100ms));
    conn.transport->resume_reading();
    CHECK(run_until(loop, [&] { return log->data == "abc"; }));
    conn.transport->close();
    CHECK(run_until(loop, [&] { return log->lost; }));
    ::close(p.write_fd);
    loop.close();
}

/// Pauses its transport from inside every data_received (as a stream reader over its limit does).
class PausingPipe final : public RecordingPipe {
public:
    using RecordingPipe::RecordingPipe;
    int deliveries = 0;
    void data_received(bulb::ByteView d) override {
        RecordingPipe::data_received(d);
        ++deliveries;
        transport_->pause_reading();
    }
    void connection_made(bulb::Transport& t) override {
        RecordingPipe::connection_made(t);
        transport_ = &t;
    }

private:
    bulb::Transport* transport_ = nullptr;
};

TEST_CASE("read pipe paused from data_received (the lazy pause): nothing more until resume, resumed before or after new data") {
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    PausingPipe* proto = nullptr;
    auto conn = loop.run_until_complete(loop.connect_read_pipe(
        [&] {
            auto u = std::make_unique<PausingPipe>(log);
            proto = u.get();
            return u;
        },
        p.read_fd));
    auto& t = *conn.transport;
    REQUIRE(::write(p.write_fd, "one", 3) == 3);
    CHECK(run_until(loop, [&] { return proto->deliveries == 1; }));
    CHECK(!t.is_reading());
    // More data while paused: the pipe is readable, yet nothing is delivered.
    REQUIRE(::write(p.write_fd, "two", 3) == 3);
    CHECK(!run_until(loop, [&] { return proto->deliveries > 1; }, 100ms));
    CHECK(log->data == "one");
    t.resume_reading();
    CHECK(run_until(loop, [&] { return log->data == "onetwo"; }));
    CHECK(proto->deliveries == 2);
    // Paused again by that delivery, resumed at once (before any new data): the next write arrives.
    t.resume_reading();
    CHECK(t.is_reading());
    REQUIRE(::write(p.write_fd, "three", 5) == 5);
    CHECK(run_until(loop, [&] { return log->data == "onetwothree"; }));
    CHECK(proto->deliveries == 3);
    ::close(p.write_fd);
    t.resume_reading();  // EOF reaches a reading transport
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(!log->lost_ec);
    conn = {};
    loop.close();
}

TEST_CASE("write pipe: flow control pauses above the high-water mark and resumes as the reader drains") {
    int fds0 = count_open_fds();
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_write_pipe(recording(log), p.write_fd));
    auto& t = *conn.transport;
    CHECK(t.can_write_eof());
    std::string chunk(256 * 1024, 'x');  // more than the pipe's 64 KiB: the rest is buffered
    t.write(chunk);
    CHECK(log->paused);
    CHECK(t.get_write_buffer_size() > 0);
    // Drain from the other end with plain reads while the loop writes.
    std::size_t got = 0;
    char buf[65536];
    CHECK(run_until(loop, [&] {
        ssize_t n;
        while ((n = ::read(p.read_fd, buf, sizeof buf)) > 0) got += static_cast<std::size_t>(n);
        return got == chunk.size();
    }));
    CHECK(!log->paused);
    CHECK(log->events == std::vector<std::string>{"made", "pause", "resume"});
    t.write_eof();  // a pipe has no half-close: closes it once sent
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(!log->lost_ec);
    CHECK(::read(p.read_fd, buf, sizeof buf) == 0);  // the reader sees EOF
    ::close(p.read_fd);
    conn = {};
    loop.close();
    CHECK(count_open_fds() == fds0);
}

TEST_CASE("write pipe: writelines gathers buffers") {
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_write_pipe(recording(log), p.write_fd));
    conn.transport->writelines({bulb::as_bytes("one "), bulb::as_bytes(""), bulb::as_bytes("two "), bulb::as_bytes("three")});
    char buf[64];
    ssize_t n = ::read(p.read_fd, buf, sizeof buf);
    CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "one two three");
    conn.transport->close();
    CHECK(run_until(loop, [&] { return log->lost; }));
    ::close(p.read_fd);
    loop.close();
}

TEST_CASE("write pipe: the reader closing with data buffered is EPIPE in connection_lost, never SIGPIPE death") {
    bulb_test::AuditedLoop loop;
    // Even with SIGPIPE restored to the default after the loop was made.
    ::signal(SIGPIPE, SIG_DFL);
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_write_pipe(recording(log), p.write_fd));
    std::string chunk(200 * 1024, 'y');
    conn.transport->write(chunk);
    ::close(p.read_fd);
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->lost_ec == std::error_code(EPIPE, std::system_category()));
    CHECK(conn.transport->is_closing());
    conn.transport->write(std::string_view("dropped"));
    CHECK(conn.transport->get_dropped_writes() == 1);
    conn = {};
    loop.close();
}

TEST_CASE("write pipe: a write straight into a closed pipe fails with EPIPE through connection_lost") {
    bulb_test::AuditedLoop loop;
    ::signal(SIGPIPE, SIG_DFL);
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_write_pipe(recording(log), p.write_fd));
    ::close(p.read_fd);
    conn.transport->write(std::string_view("x"));  // before the loop noticed the reader left
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(log->lost_ec == std::error_code(EPIPE, std::system_category()));
    loop.close();
}

TEST_CASE("write pipe: an idle writer learns the reader left (empty error: nothing lost)") {
    bulb_test::AuditedLoop loop;
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    auto conn = loop.run_until_complete(loop.connect_write_pipe(recording(log), p.write_fd));
    ::close(p.read_fd);
    CHECK(run_until(loop, [&] { return log->lost; }));
    CHECK(!log->lost_ec);
    loop.close();
}

TEST_CASE("regular files and directories are refused with a clear error; the fd stays the caller's") {
    bulb_test::AuditedLoop loop;
    char path[] = "/tmp/bulb_pipe_testXXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    auto log = std::make_shared<PipeLog>();
    try {
        loop.connect_read_pipe(recording(log), fd);
        FAIL("no error");
    } catch (const std::invalid_argument& e) {
        std::string what = e.what();
        CHECK(what.find("connect_read_pipe") != std::string::npos);
        CHECK(what.find("regular file") != std::string::npos);
    }
    CHECK_THROWS_AS(loop.connect_write_pipe(recording(log), fd), std::invalid_argument);
    CHECK(::fcntl(fd, F_GETFD) >= 0);  // not closed
    ::close(fd);
    int dir = ::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_THROWS_AS(loop.connect_read_pipe(recording(log), dir), std::invalid_argument);
    ::close(dir);
    CHECK_THROWS_AS(loop.connect_read_pipe(recording(log), 9999), std::system_error);
    CHECK(!log->made);
    loop.close();
}

TEST_CASE("FIFOs and character devices work") {
    bulb_test::AuditedLoop loop;
    char dir[] = "/tmp/bulb_fifoXXXXXX";
    REQUIRE(::mkdtemp(dir));
    std::string path = std::string(dir) + "/f";
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    int rfd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int wfd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(rfd >= 0);
    REQUIRE(wfd >= 0);
    auto rlog = std::make_shared<PipeLog>();
    auto wlog = std::make_shared<PipeLog>();
    auto r = loop.run_until_complete(loop.connect_read_pipe(recording(rlog), rfd));
    auto w = loop.run_until_complete(loop.connect_write_pipe(recording(wlog), wfd));
    w.transport->write(std::string_view("through a fifo"));
    w.transport->close();
    CHECK(run_until(loop, [&] { return rlog->lost && wlog->lost; }));
    CHECK(rlog->data == "through a fifo");
    ::unlink(path.c_str());
    ::rmdir(dir);

    int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    auto nlog = std::make_shared<PipeLog>();
    auto n = loop.run_until_complete(loop.connect_write_pipe(recording(nlog), null_fd));
    n.transport->write(std::string(1 << 20, 'z'));
    CHECK(n.transport->get_write_buffer_size() == 0);
    n.transport->close();
    CHECK(run_until(loop, [&] { return nlog->lost; }));
    loop.close();
}

TEST_CASE("closing the loop with pipes open aborts them and reports them") {
    int fds0 = count_open_fds();
    auto p = bulb::make_pipe();
    auto log = std::make_shared<PipeLog>();
    int reports = 0;
    {
        // A plain loop: it takes over a descriptor made before it, which this test audits itself
        // (fds0, reports) where AuditedLoop's baseline would count it.
        bulb::EventLoop loop;
        loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext&) { ++reports; });
        auto conn = loop.run_until_complete(loop.connect_read_pipe(recording(log), p.read_fd));
        conn = {};
        loop.close();
        CHECK(log->lost);
        CHECK(log->lost_ec == bulb::errc::loop_closed);
        CHECK(loop.transport_count() == 0);
    }
    CHECK(reports == 1);
    ::close(p.write_fd);
    CHECK(count_open_fds() == fds0);
}

// SPDX-License-Identifier: MIT
/// @file
/// Transport::sendfile's checks and its portable path (asyncio's _sendfile_fallback): pread a
/// piece, write it, wait for resume_writing when the buffer is above its high-water mark. The
/// wait needs the flow-control callbacks, so, as asyncio does, a FallbackSender stands in as the
/// transport's protocol for the duration and hands the connection back afterwards.
#include <bulb/error.hpp>
#include <bulb/loop.hpp>
#include <bulb/transport.hpp>

#include "loop/loop_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace bulb {

namespace {

constexpr std::size_t fallback_piece = 64 * 1024;

/// The protocol of a transport while the fallback sends a file. It owns the application's
/// protocol meanwhile: bytes that still arrive and connection_lost are passed on to it, so
/// nothing is lost and connection_lost still runs exactly once.
class FallbackSender final : public Protocol {
public:
    FallbackSender(Transport& transport, int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                   Future<std::uint64_t> result)
        : transport_(transport), fd_(fd), offset_(offset), count_(count), result_(std::move(result)) {}

    /// Takes over `transport` and starts sending from the loop.
    static void start(Transport& transport, std::unique_ptr<FallbackSender> sender) {
        FallbackSender* s = sender.get();
        s->was_reading_ = transport.is_reading();
        s->told_paused_ = transport.is_writing_paused();
        s->paused_ = s->told_paused_;
        transport.pause_reading();
        s->original_ = transport.set_protocol(std::move(sender));
        TransportPtr keep(&transport);
        s->pump_handle_ = transport.get_loop().call_soon([s, keep] {
            s->pump_handle_ = Handle();
            s->pump();
        });
    }

    ~FallbackSender() override { pump_handle_.cancel(); }

    void data_received(ByteView data) override { forward(data); }
    bool eof_received() override { return original_->eof_received(); }
    void pause_writing() override { paused_ = true; }
    void resume_writing() override {
        paused_ = false;
        if (!finished_) pump();
    }
    void connection_lost(std::error_code ec) override {
        if (!finished_) {
            finished_ = true;
            std::error_code why = ec ? ec : make_error_code(errc::transport_closed);
            result_.set_error(why, describe_failure("the connection was lost"));
        }
        original_->connection_lost(ec);  // the application's protocol hears of it as always
    }

private:
    void forward(ByteView data) {
        if (auto* bp = dynamic_cast<BufferedProtocol*>(original_.get())) {
            while (!data.empty()) {
                MutableByteView into = bp->get_buffer(data.size());
                std::size_t n = std::min(into.size(), data.size());
                if (n == 0) throw std::length_error("get_buffer() returned an empty buffer");
                std::memcpy(into.data(), data.data(), n);
                bp->buffer_updated(n);
                data = data.subspan(n);
            }
        } else {
            original_->data_received(data);
        }
    }

    std::string describe_failure(const std::string& what) const {
        return "sendfile of fd " + std::to_string(fd_) + " to " + transport_.describe() + ": " + what + " after " +
               std::to_string(sent_) + " bytes";
    }

    void pump() {
        if (finished_) return;
        try {
            while (!paused_) {
                if (transport_.is_closing()) {
                    fail(make_error_code(errc::transport_closed), "the transport was closed");
                    return;
                }
                std::uint64_t want = count_ ? *count_ - sent_ : fallback_piece;
                if (want == 0) break;
                std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(want, fallback_piece));
                buffer_.resize(fallback_piece);
                ssize_t n = ::pread(fd_, buffer_.data(), piece, static_cast<off_t>(offset_ + sent_));
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) {
                    fail(std::error_code(errno, std::system_category()), "reading the file failed");
                    return;
                }
                if (n == 0) break;  // end of file
                sent_ += static_cast<std::uint64_t>(n);
                transport_.write(ByteView(buffer_.data(), static_cast<std::size_t>(n)));
            }
            if (paused_) return;  // resume_writing() goes on
        } catch (...) {
            finished_ = true;
            Future<std::uint64_t> result = result_;
            restore();
            result.set_exception(std::current_exception());
            return;
        }
        finished_ = true;
        Future<std::uint64_t> result = result_;
        std::uint64_t sent = sent_;
        restore();
        result.set_result(sent);
    }

    void fail(std::error_code ec, const std::string& what) {
        finished_ = true;
        Future<std::uint64_t> result = result_;
        std::string message = describe_failure(what);
        restore();
        result.set_error(ec, message);
    }

    // Gives the connection back to the application's protocol: reading as before, and the
    // flow-control state it was last told brought up to date.
    void restore() {
        Transport& t = transport_;
        bool was_reading = was_reading_;
        bool told_paused = told_paused_;
        std::unique_ptr<Protocol> self = t.set_protocol(std::move(original_));
        // Destroyed from the loop: this may be running inside one of its own callbacks.
        t.get_loop().call_soon([self = std::move(self)]() mutable { self.reset(); });
        if (t.is_closing()) return;
        if (was_reading) t.resume_reading();
        Protocol* app = t.get_protocol();
        bool paused_now = t.is_writing_paused();
        if (told_paused && !paused_now) app->resume_writing();
        if (!told_paused && paused_now) app->pause_writing();
    }

    Transport& transport_;
    int fd_;
    std::uint64_t offset_;
    std::optional<std::uint64_t> count_;
    Future<std::uint64_t> result_;
    std::unique_ptr<Protocol> original_;
    std::vector<std::byte> buffer_;
    Handle pump_handle_;
    std::uint64_t sent_ = 0;
    bool was_reading_ = false;
    bool told_paused_ = false;
    bool paused_ = false;
    bool finished_ = false;
};

}  // namespace

Future<std::uint64_t> Transport::sendfile(int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                                          bool fallback) {
    get_loop().impl().check_thread("sendfile");
    if (is_closing()) throw InvalidStateError("sendfile: the transport is closing: " + describe());
    if (dynamic_cast<FallbackSender*>(get_protocol()))
        throw InvalidStateError("sendfile: another sendfile is in progress on " + describe());
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        throw std::invalid_argument("sendfile: fd " + std::to_string(fd) + " is not an open regular file");
    return do_sendfile(fd, offset, count, fallback);
}

Future<std::uint64_t> Transport::do_sendfile(int fd, std::uint64_t offset, std::optional<std::uint64_t> count,
                                             bool fallback) {
    if (!fallback) {
        Future<std::uint64_t> result(get_loop());
        result.set_error(make_error_code(errc::sendfile_not_available),
                         std::string("sendfile: ") + kind() + " has no zero-copy path and fallback is off");
        return result;
    }
    return sendfile_fallback(fd, offset, count);
}

Future<std::uint64_t> Transport::sendfile_fallback(int fd, std::uint64_t offset, std::optional<std::uint64_t> count) {
    Future<std::uint64_t> result(get_loop());
    FallbackSender::start(*this, std::make_unique<FallbackSender>(*this, fd, offset, count, result));
    return result;
}

Future<std::uint64_t> EventLoop::sendfile(Transport& transport, int fd, std::uint64_t offset,
                                          std::optional<std::uint64_t> count, bool fallback) {
    return transport.sendfile(fd, offset, count, fallback);
}

}  // namespace bulb

// SPDX-License-Identifier: MIT
/// @file
/// StreamCore and StreamProtocol.
#include "stream_core.hpp"

namespace bulb::detail {

void StreamCore::feed_data(std::string_view data) {
    if (data.empty()) return;
    if (head_ > 0 && head_ >= buffer_.size() / 2) {  // drop the consumed prefix before growing
        buffer_.erase(0, head_);
        head_ = 0;
    }
    buffer_.append(data);
    wake_reader();
    maybe_pause_reading();
}

void StreamCore::feed_eof() {
    eof_ = true;
    wake_reader();
}

void StreamCore::connection_lost(std::error_code ec) {
    lost_ = true;
    lost_error_ = ec;
    if (ec)
        error_ = std::make_exception_ptr(Error(ec, "connection lost"));
    eof_ = true;
    wake_reader();
    auto waiters = std::move(drain_waiters_);
    drain_waiters_.clear();
    for (auto& w : waiters) {
        if (w.done()) continue;
        if (ec)
            w.set_error(ec, "connection lost");
        else
            w.set_result();  // drain() re-checks and reports the closed connection itself
    }
    if (closed_ && !closed_->done()) {
        if (ec)
            closed_->set_error(ec, "connection lost");
        else
            closed_->set_result();
    }
}

void StreamCore::resume_writing() {
    writing_paused_ = false;
    auto waiters = std::move(drain_waiters_);
    drain_waiters_.clear();
    for (auto& w : waiters)
        if (!w.done()) w.set_result();
}

void StreamCore::wake_reader() {
    if (read_waiter_ && !read_waiter_->done()) read_waiter_->set_result();
}

void StreamCore::maybe_pause_reading() {
    if (!reading_paused_ && transport_ && buffer().size() > 2 * limit_ && !transport_->is_closing()) {
        reading_paused_ = true;
        transport_->pause_reading();
    }
}

Task<void> StreamCore::wait_for_data(const char* who) {
    if (read_waiter_ && !read_waiter_->done())
        throw InvalidStateError(std::string(who) + "() called while another coroutine is already waiting for data");
    if (reading_paused_ && transport_) {  // never wait with reading paused: that would deadlock
        reading_paused_ = false;
        transport_->resume_reading();
    }
    RefPtr<StreamCore> keep(this);
    read_waiter_.emplace(loop_);
    Future<void> waiter = *read_waiter_;
    co_await waiter;
}

void StreamCore::throw_if_failed() const {
    if (error_) std::rethrow_exception(error_);
}

std::string StreamCore::take(std::size_t n) {
    std::string out;
    if (n >= buffer_.size() - head_ && (head_ == 0 || buffer_.size() - head_ >= big_take)) {
        // All of it: hand the buffer over instead of copying (read() of a whole message, the
        // drop of an over-long line); a big one first loses its consumed prefix in place, so
        // memory never holds the data twice. An idle stream then holds no buffer either.
        if (head_ > 0) buffer_.erase(0, head_);
        head_ = 0;
        out = std::move(buffer_);
        buffer_ = std::string();
    } else {
        out = buffer_.substr(head_, n);
        head_ += out.size();
        if (head_ == buffer_.size()) {
            buffer_.clear();
            head_ = 0;
            // Emptied: a buffer grown past a few reads' worth goes back to the allocator.
            if (buffer_.capacity() > big_take) buffer_ = std::string();
        }
    }
    if (reading_paused_ && buffer().size() <= limit_ && transport_) {
        reading_paused_ = false;
        transport_->resume_reading();
    }
    return out;
}

Future<void> StreamCore::add_drain_waiter() {
    drain_waiters_.emplace_back(loop_);
    return drain_waiters_.back();
}

Future<void> StreamCore::closed() {
    if (!closed_ || closed_->cancelled()) {  // a cancelled wait_closed() must not poison the next
        closed_.emplace(loop_);
        if (lost_) {
            if (lost_error_)
                closed_->set_error(lost_error_, "connection lost");
            else
                closed_->set_result();
        }
    }
    return *closed_;
}

void StreamProtocol::connection_made(Transport& t) {
    core_->attach(t);
    if (on_connected) on_connected(core_);
}

bool StreamProtocol::eof_received() {
    core_->feed_eof();
    return true;  // keep the write side open: the writer decides when to close (asyncio)
}

}  // namespace bulb::detail

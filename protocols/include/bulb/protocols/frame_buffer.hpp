// SPDX-License-Identifier: MIT
/// @file
/// FrameBuffer: the bytes a codec decodes from (received, not yet framed).
#pragma once

#include <bulb/bytes.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace bulb::protocols {

/// Received bytes waiting to become frames; a codec's decode() reads view() and consume()s what
/// it used. It either owns its bytes or, on the adapters' fast path, borrows the span a transport
/// delivered (no copy when whole frames arrive in one read); keep() copies a borrowed rest.
/// Not thread-safe; owned by one adapter (or test) at a time.
class FrameBuffer {
public:
    /// The bytes not consumed yet; valid until the next call that changes the buffer.
    std::string_view view() const noexcept {
        return borrowing_ ? borrowed_ : std::string_view(storage_).substr(start_);
    }
    /// Bytes not consumed yet.
    std::size_t size() const noexcept { return borrowing_ ? borrowed_.size() : storage_.size() - start_; }
    /// True when no byte is left.
    bool empty() const noexcept { return size() == 0; }

    /// Drops the first `n` bytes (n <= size()).
    void consume(std::size_t n) noexcept {
        if (borrowing_) {
            borrowed_.remove_prefix(n);
            if (borrowed_.empty()) borrowing_ = false;
            return;
        }
        start_ += n;
        if (start_ == storage_.size()) release_storage();
    }
    /// Appends a copy of `data`.
    void append(std::string_view data) {
        if (data.empty()) return;
        if (borrowing_) keep();
        if (start_ > 0 && start_ >= storage_.size() / 2) {  // compact: at most one copy per byte on average
            storage_.erase(0, start_);
            start_ = 0;
        }
        storage_.append(data);
    }
    /// The same, for bytes.
    void append(ByteView data) { append(as_string_view(data)); }
    /// Views `data` without copying it (the buffer must be empty); call keep() or clear() before
    /// `data` goes away.
    void borrow(std::string_view data) noexcept {
        borrowed_ = data;
        borrowing_ = !data.empty();
    }
    /// Copies borrowed bytes into the buffer's own storage (a no-op when it owns them).
    void keep() {
        if (!borrowing_) return;
        std::string_view rest = borrowed_;
        borrowing_ = false;
        borrowed_ = {};
        storage_.assign(rest);
        start_ = 0;
    }
    /// Drops everything.
    void clear() noexcept {
        borrowing_ = false;
        borrowed_ = {};
        release_storage();
    }

private:
    void release_storage() noexcept {
        start_ = 0;
        if (storage_.capacity() > 64 * 1024) {
            std::string().swap(storage_);  // an idle connection keeps no large buffer
        } else {
            storage_.clear();
        }
    }

    std::string storage_;
    std::size_t start_ = 0;
    std::string_view borrowed_;
    bool borrowing_ = false;
};

}  // namespace bulb::protocols

// SPDX-License-Identifier: MIT
/// @file
/// FrameBuffer: the bytes a codec decodes from (received, not yet framed).
#pragma once

#include <bulb/bytes.hpp>
#include <bulb/config.hpp>

#include <cstddef>
#include <string_view>

namespace bulb::protocols {

/// Received bytes waiting to become frames; a codec's decode() reads view() and consume()s what
/// it used. It either owns its bytes or, on the adapters' fast path, borrows the span a transport
/// delivered (no copy when whole frames arrive in one read); keep() copies a borrowed rest.
/// Not thread-safe; owned by one adapter (or test) at a time. Movable, not copyable.
///
/// Memory: consume() only moves a start offset (no memmove per frame); the bytes left are moved
/// to the front only when that frees at least as much room as it copies. Growth doubles, but
/// with set_growth_limit(L) (the most a codec can need buffered, e.g. a line's max length) a
/// growth that would pass L/2 goes straight to L: the last copy is of at most L/2 bytes, so a
/// buffer filling up to L peaks near L resident bytes instead of ~2L (old block + doubled copy).
class BULB_API FrameBuffer {
public:
    /// An empty buffer. Movable (the moved-from buffer is left empty), not copyable.
    FrameBuffer() noexcept = default;
    /// Takes `other`'s bytes; `other` is left empty.
    FrameBuffer(FrameBuffer&& other) noexcept;
    /// Takes `other`'s bytes; `other` is left empty.
    FrameBuffer& operator=(FrameBuffer&& other) noexcept;
    FrameBuffer(const FrameBuffer&) = delete;
    FrameBuffer& operator=(const FrameBuffer&) = delete;
    ~FrameBuffer();

    /// The bytes not consumed yet; valid until the next call that changes the buffer.
    std::string_view view() const noexcept {
        return borrowing_ ? borrowed_ : std::string_view(data_ + start_, end_ - start_);
    }
    /// Bytes not consumed yet.
    std::size_t size() const noexcept { return borrowing_ ? borrowed_.size() : end_ - start_; }
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
        if (start_ == end_) release_storage();
    }
    /// Appends a copy of `data`.
    void append(std::string_view data);
    /// The same, for bytes.
    void append(ByteView data) { append(as_string_view(data)); }
    /// Views `data` without copying it (the buffer must be empty); call keep() or clear() before
    /// `data` goes away.
    void borrow(std::string_view data) noexcept {
        borrowed_ = data;
        borrowing_ = !data.empty();
    }
    /// Copies borrowed bytes into the buffer's own storage (a no-op when it owns them).
    void keep();
    /// Drops everything.
    void clear() noexcept {
        borrowing_ = false;
        borrowed_ = {};
        release_storage();
    }

    /// The most bytes the buffer is expected to hold (0: no limit, plain doubling). Growth is
    /// shaped by it (see above); appending past it still works, by doubling.
    void set_growth_limit(std::size_t limit) noexcept { growth_limit_ = limit; }
    /// The limit set_growth_limit() set (0: none).
    std::size_t growth_limit() const noexcept { return growth_limit_; }
    /// Bytes of owned storage (allocated, not necessarily resident).
    std::size_t capacity() const noexcept { return capacity_; }

private:
    void release_storage() noexcept;
    void make_room(std::size_t n);

    char* data_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t start_ = 0;  // data_[start_, end_) are the owned bytes not consumed yet
    std::size_t end_ = 0;
    std::size_t growth_limit_ = 0;
    std::string_view borrowed_;
    bool borrowing_ = false;
};

}  // namespace bulb::protocols

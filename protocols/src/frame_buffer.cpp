// SPDX-License-Identifier: MIT
/// @file
/// FrameBuffer storage: an offset-consumed block that grows toward the codec's limit.
#include <bulb/protocols/frame_buffer.hpp>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace bulb::protocols {
namespace {

constexpr std::size_t min_capacity = 256;
constexpr std::size_t idle_keep = 64 * 1024;  // an emptied block up to this size is reused

}  // namespace

FrameBuffer::FrameBuffer(FrameBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      start_(std::exchange(other.start_, 0)),
      end_(std::exchange(other.end_, 0)),
      growth_limit_(other.growth_limit_),
      borrowed_(std::exchange(other.borrowed_, {})),
      borrowing_(std::exchange(other.borrowing_, false)) {}

FrameBuffer& FrameBuffer::operator=(FrameBuffer&& other) noexcept {
    if (this != &other) {
        std::free(data_);
        data_ = std::exchange(other.data_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
        start_ = std::exchange(other.start_, 0);
        end_ = std::exchange(other.end_, 0);
        growth_limit_ = other.growth_limit_;
        borrowed_ = std::exchange(other.borrowed_, {});
        borrowing_ = std::exchange(other.borrowing_, false);
    }
    return *this;
}

FrameBuffer::~FrameBuffer() { std::free(data_); }

void FrameBuffer::append(std::string_view data) {
    if (data.empty()) return;
    if (borrowing_) keep();
    if (data.size() > capacity_ - end_) make_room(data.size());
    std::memcpy(data_ + end_, data.data(), data.size());
    end_ += data.size();
}

void FrameBuffer::keep() {
    if (!borrowing_) return;
    std::string_view rest = borrowed_;
    borrowing_ = false;
    borrowed_ = {};
    start_ = end_ = 0;
    append(rest);
}

void FrameBuffer::release_storage() noexcept {
    start_ = end_ = 0;
    if (capacity_ > idle_keep) {  // an idle connection keeps no large block
        std::free(data_);
        data_ = nullptr;
        capacity_ = 0;
    }
}

// Room for `n` more bytes after end_. Compacting in place is preferred when it frees at least as
// many bytes as it moves (each byte is then moved at most about once on average), or when the
// block already has the limit's size; otherwise a new block of double the size (shaped by the
// growth limit) receives only the live bytes, and the old one is freed at once.
void FrameBuffer::make_room(std::size_t n) {
    std::size_t live = end_ - start_;
    if (live > static_cast<std::size_t>(-1) - n) throw std::bad_alloc();
    std::size_t need = live + n;
    bool at_limit = growth_limit_ != 0 && capacity_ >= growth_limit_;
    if (need <= capacity_ && (start_ >= live || at_limit)) {
        std::memmove(data_, data_ + start_, live);
        start_ = 0;
        end_ = live;
        return;
    }
    std::size_t grown = capacity_ < min_capacity ? min_capacity : capacity_ * 2;
    if (capacity_ > static_cast<std::size_t>(-1) / 2) grown = static_cast<std::size_t>(-1);
    // Near the limit, go to it in one step: the copy made here is then of at most limit/2 bytes.
    if (growth_limit_ != 0 && grown > growth_limit_ / 2 && grown < growth_limit_) grown = growth_limit_;
    if (grown < need) grown = need;
    char* block = static_cast<char*>(std::malloc(grown));
    if (!block) throw std::bad_alloc();
    if (live) std::memcpy(block, data_ + start_, live);
    std::free(data_);
    data_ = block;
    capacity_ = grown;
    start_ = 0;
    end_ = live;
}

}  // namespace bulb::protocols

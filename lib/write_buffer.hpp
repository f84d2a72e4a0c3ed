// SPDX-License-Identifier: MIT
/// @file
/// WriteBuffer: the contiguous queue of bytes a stream transport has not sent yet.
#pragma once

#include <bulb/bytes.hpp>

#include <cstring>
#include <vector>

namespace bulb::detail {

class WriteBuffer {
public:
    bool empty() const noexcept { return head_ == data_.size(); }
    std::size_t size() const noexcept { return data_.size() - head_; }
    ByteView view() const noexcept { return {data_.data() + head_, size()}; }

    void append(ByteView bytes) {
        if (head_ > 0 && head_ >= data_.size() / 2) compact();
        data_.insert(data_.end(), bytes.begin(), bytes.end());
    }
    void consume(std::size_t n) noexcept {
        head_ += n;
        if (head_ == data_.size()) clear();
    }
    /// Empties the buffer; frees large allocations so idle connections stay small.
    void clear() noexcept {
        data_.clear();
        head_ = 0;
        if (data_.capacity() > 64 * 1024) data_.shrink_to_fit();
    }

private:
    void compact() noexcept {
        std::size_t n = size();
        std::memmove(data_.data(), data_.data() + head_, n);
        data_.resize(n);
        head_ = 0;
    }

    std::vector<std::byte> data_;
    std::size_t head_ = 0;
};

}  // namespace bulb::detail
